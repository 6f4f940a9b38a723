"""``--formats xlsx``: one workbook per report, one sheet per table, read back with openpyxl.

Every sheet is compared cell by cell with the CSV table the report writes beside it; text that
a spreadsheet would take for a formula stays text.
"""

from __future__ import annotations

import math
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy import cli
from eventstudy.exceptions import ConfigError, EventStudyWarning
from eventstudy.report.xlsx import sheet_names, write_workbook

ROOT = Path(__file__).resolve().parents[1]
INJECTIONS = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1:A2)", "=cmd|' /C calc'!A0"]


def _no_formulas(path: Path) -> None:
    """No sheet of the workbook holds a formula element."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in zf.read(name).decode("utf-8"), name


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "title": [*INJECTIONS, "plain", "bell\x07char"],
            "car": [0.0123, -0.5, np.nan, np.inf, 1e-9, 2.0, 0.0],
            "p_value": [0.04, 0.5, 1.0, 0.0, np.nan, 0.2, 0.3],
            "n": np.arange(7, dtype=np.int64),
            "day0": pd.to_datetime(["2025-07-23"] * 7),
            "flag": [True, False] * 3 + [True],
        }
    )
    path = write_workbook(tmp_path / "t.xlsx", {"firms": frame}, title="=title")
    _no_formulas(path)
    ws = openpyxl.load_workbook(path)["firms"]
    for i, text in enumerate(INJECTIONS, start=2):
        cell = ws.cell(i, 1)
        assert cell.value == text and cell.data_type == "s" and cell.quotePrefix
    assert ws.cell(7, 1).value == "plain" and not ws.cell(7, 1).quotePrefix
    assert ws.cell(8, 1).value == "bell\ufffdchar"  # a control character cannot be stored
    assert ws.cell(2, 2).value == pytest.approx(0.0123) and ws.cell(2, 2).number_format == "0.00%"
    assert ws.cell(4, 2).value is None and ws.cell(5, 2).value is None  # NaN, inf: empty
    assert ws.cell(2, 3).number_format == "0.0000"
    assert ws.cell(3, 4).value == 1 and ws.cell(3, 4).number_format == "0"
    assert ws.cell(2, 5).value == pd.Timestamp("2025-07-23").to_pydatetime()
    assert ws.cell(2, 5).number_format == "yyyy-mm-dd"
    assert ws.cell(2, 6).value is True
    assert ws.freeze_panes == "A2" and ws.cell(1, 1).font.bold


def test_sheet_names_are_valid_unique_and_at_most_31_characters() -> None:
    long = "a_table_name_much_longer_than_thirty_one_characters"
    names = sheet_names([long, long + "_2", "a/b:c", "car"])
    assert all(len(n) <= 31 for n in names.values())
    assert len({n.lower() for n in names.values()}) == 4
    assert names["a/b:c"] == "a_b_c" and names["car"] == "car"


def _study(tmp_path: Path) -> Path:
    """The tariff study, its deal event titled like a formula, without dossiers."""
    text = (ROOT / "configs" / "tariffs_2025.yaml").read_text(encoding="utf-8")
    text = "\n".join(ln for ln in text.splitlines() if "dossier:" not in ln)
    text = text.replace(
        "title: US–Japan trade deal, 15% tariff including autos (Truth Social)",
        'title: "=HYPERLINK(\\"http://evil\\",\\"deal\\")"',
    )
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _same(csv_value: object, cell: object, column: str) -> bool:
    if csv_value is None or (isinstance(csv_value, float) and math.isnan(csv_value)):
        return cell is None
    if isinstance(cell, bool) or isinstance(csv_value, bool | np.bool_):
        return bool(cell) == bool(csv_value)
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return float(cell) == pytest.approx(float(str(csv_value)), rel=1e-15, abs=0)
    if hasattr(cell, "strftime"):
        return cell.strftime("%Y-%m-%d") == str(csv_value)[:10]
    if column == "announced":  # the CSV keeps the date, the workbook the instant
        return str(cell)[:10] == str(csv_value)[:10]
    return str(cell) == str(csv_value)


def test_workbook_holds_every_csv_table_cell_for_cell(tmp_path: Path, prices_dir: Path) -> None:
    result = CliRunner().invoke(
        cli.main,
        [
            "run", str(_study(tmp_path)), "--prices", str(prices_dir), "--offline",
            "--out", str(tmp_path / "out"), "--formats", "xlsx", "--quiet",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tables = tmp_path / "out" / "tariffs_2025" / "tables"
    book = tables / "tables.xlsx"
    _no_formulas(book)
    wb = openpyxl.load_workbook(book)
    csvs = sorted(tables.glob("*.csv"))
    assert {p.stem for p in csvs} == set(wb.sheetnames)
    assert {"volume_summary", "volatility", "verdicts", "firms"} <= set(wb.sheetnames)
    for csv in csvs:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        ws = wb[csv.stem]
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0]) == list(frame.columns), csv.stem
        assert len(rows) - 1 == len(frame), csv.stem
        for r, rec in enumerate(frame.itertuples(index=False, name=None), start=1):
            for c, (value, col) in enumerate(zip(rec, frame.columns, strict=True)):
                v = None if value == "" else value
                if v is not None and v[:1] == "'" and v[1:2] in ("=", "+", "-", "@", "\t", "\r"):
                    # the CSV neutralises formula text with a leading ' (OWASP); the workbook
                    # keeps the user's text as a text cell (no formula: _no_formulas above)
                    v = v[1:]
                if v is not None and re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?|-?inf", v):
                    if v.endswith("inf"):
                        assert rows[r][c] is None
                        continue
                if v in ("True", "False") and isinstance(rows[r][c], bool):
                    v = v == "True"
                assert _same(v, rows[r][c], col), (csv.stem, r, col, v, rows[r][c])
    verdicts = wb["verdicts"]
    titles = [
        verdicts.cell(i, 1 + [c.value for c in verdicts[1]].index("title")) for i in range(2, 6)
    ]
    evil = [c for c in titles if str(c.value).startswith("=HYPERLINK")]
    assert len(evil) == 1 and evil[0].data_type == "s" and evil[0].quotePrefix
    assert wb["car"]["E1"].value == "car" and wb["car"]["E2"].number_format == "0.00%"


def test_unknown_format_is_a_usage_error_before_the_run(tmp_path: Path) -> None:
    from eventstudy.report import check_formats

    assert check_formats("csv, xlsx") == ("csv", "xlsx")
    with pytest.raises(ConfigError, match="formats: got 'pdf'"):
        check_formats(["pdf"])
    result = CliRunner().invoke(
        cli.main,
        ["run", str(ROOT / "configs" / "demo.yaml"), "--formats", "pdf", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert not (tmp_path / "demo").exists()


def test_results_object_report_writes_the_workbook(tmp_path: Path) -> None:
    """A notebook's ``es.report.write(res, path, formats=["xlsx"])``."""
    from eventstudy import event_study, report

    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2024-01-01", periods=300)
    m = rng.normal(0, 0.01, len(dates))
    r = pd.DataFrame(
        {"MKT": m, "A": m + rng.normal(0, 0.01, 300), "B": m + rng.normal(0, 0.01, 300)},
        index=dates,
    )
    ev = pd.DataFrame({"security": ["A", "B"], "event_date": dates[280]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(r, ev, market="MKT", window=(-5, 5))
        report.write(res, tmp_path / "rep", plotlyjs="none", formats=["xlsx"])
    wb = openpyxl.load_workbook(tmp_path / "rep" / "tables" / "tables.xlsx")
    car = pd.read_csv(tmp_path / "rep" / "tables" / "car.csv")
    got = [
        row[list(car.columns).index("car")]
        for row in wb["car"].iter_rows(min_row=2, values_only=True)
    ]
    # openpyxl writes the float's text: 16-17 significant digits on recent versions, about
    # 13 on 3.1.0 (the lowest allowed); Excel keeps 15 either way
    np.testing.assert_allclose(got, car["car"].to_numpy(), rtol=1e-12, atol=0)
