"""The report's machine-readable files: ``tables/*.csv``, ``tables/tests.md`` and
``tests.tex`` (one table per event), ``results.json`` and ``verdict.json``."""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.json import ujson_dumps

from eventstudy import figures
from eventstudy.config import format_window
from eventstudy.report.build import Built
from eventstudy.report.common import exchange_name
from eventstudy.report.provenance import ProvenanceView

__all__ = [
    "Column",
    "neutralise_formulas",
    "table_columns",
    "write_csv",
    "write_json",
    "write_tables",
    "write_verdict_json",
]

#: A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?$")


def _inert(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if not _PLAIN_NUMBER.match(value):  # "-0.24%" is a number, "=HYPERLINK(...)" is not
            return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name that a spreadsheet would run as a
    formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) prefixed with ``'`` (the
    OWASP advice for CSV injection); numbers, and text that is a plain number, unchanged."""
    out = frame
    for i, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            col = frame.iloc[:, i]
            new = _neutralise_column(col)
            if new is not col:  # copy the frame only when a cell changes
                if out is frame:
                    out = frame.copy(deep=False)
                out.isetitem(i, new)
    names = [_inert(c) for c in frame.columns]
    if names != list(frame.columns):
        out = out.copy(deep=False) if out is frame else out
        out.columns = names
    return out


def _neutralise_column(s: pd.Series) -> pd.Series:
    """One text column through :func:`_inert`, each distinct value checked once (a column of
    40,000 firm-events holds a few thousand names)."""
    try:
        uniques = pd.unique(s.to_numpy(dtype=object))
    except TypeError:  # unhashable cells: check each
        return s.map(_inert)
    changed = {u: _inert(u) for u in uniques if isinstance(u, str)}
    changed = {u: v for u, v in changed.items() if v != u}
    if not changed:
        return s
    return s.map(lambda v: changed.get(v, v) if isinstance(v, str) else v)


#: The date format of every CSV table.
CSV_DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class Column:
    """One column of a table, read out of pandas once for both its CSV and its JSON.

    ``kind`` says what ``values`` holds: ``"f8"`` float64 as Python floats (NaN kept);
    ``"num"`` another numpy number or boolean dtype, as Python values; ``"text"`` pandas'
    ``str`` dtype as Python strings (None when missing); ``"dates"`` naive datetime64 as
    ``YYYY-MM-DD`` ("" for NaT; ``midnight``: every date at 00:00); ``"tz"`` datetimes with
    a time zone, their local dates the same way; ``"object"`` the cells as they are;
    ``"other"`` (nothing: pandas writes the table). ``values`` is None for dates outside
    1000-9999 (pandas writes the year unpadded: the table goes through pandas).
    """

    name: Any
    series: pd.Series
    kind: str
    values: list[Any] | None
    midnight: bool = False


def table_columns(frame: pd.DataFrame) -> list[Column]:
    """Every column of ``frame`` as a :class:`Column` (duplicate labels kept)."""
    out = []
    for name, col in frame.items():
        dtype = col.dtype
        kind, values, midnight = "other", None, False
        if isinstance(dtype, np.dtype):
            if dtype == np.float64:
                kind, values = "f8", col.to_numpy().tolist()
            elif dtype.kind in "fiub":
                kind, values = "num", col.to_numpy().tolist()
            elif dtype.kind == "M":
                kind = "dates"
                values, midnight = _day_text(col.to_numpy())
            elif dtype.kind == "O":
                kind, values = "object", col.to_numpy().tolist()
        elif isinstance(dtype, pd.DatetimeTZDtype):
            kind = "tz"
            values, _ = _day_text(col.dt.tz_localize(None).to_numpy())
        elif isinstance(dtype, pd.StringDtype):
            text = col.to_numpy(dtype=object)
            missing = pd.isna(text)
            if missing.any():
                text[missing] = None
            kind, values = "text", text.tolist()
        out.append(Column(name, col, kind, values, midnight))
    return out


#: The dates written without pandas (pandas leaves a year below 1000 unpadded).
_FIRST_DAY = np.datetime64("1000-01-01", "D")
_LAST_DAY = np.datetime64("9999-12-31", "D")


def _day_text(values: np.ndarray) -> tuple[list[str] | None, bool]:
    """Naive datetime64 values as ``YYYY-MM-DD`` ("" for NaT; None outside years
    1000-9999), and whether every one is at midnight."""
    days = values.astype("datetime64[D]")
    missing = np.isnat(days)
    present = days[~missing]
    if len(present) and (present.min() < _FIRST_DAY or present.max() > _LAST_DAY):
        return None, False
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[missing] = ""
    return text.tolist(), bool((values[~missing] == present).all())


def write_csv(frame: pd.DataFrame, path: Path, columns: list[Column] | None = None) -> None:
    """One table as CSV for spreadsheets: dates as ``YYYY-MM-DD``, formulas neutralised.

    The bytes are those of ``neutralise_formulas(frame).to_csv(path, index=False,
    date_format="%Y-%m-%d")``; a frame of the usual column types is written without pandas'
    CSV machinery (see :func:`_csv_cells`), any other through it. ``columns``: the frame's
    :func:`table_columns`, when the caller has them.
    """
    cells = _csv_cells(frame, table_columns(frame) if columns is None else columns)
    if cells is None:
        neutralise_formulas(frame).to_csv(path, index=False, date_format=CSV_DATE_FORMAT)
        return
    header, body = cells
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator=os.linesep)
        writer.writerow(header)
        writer.writerows(zip(*body, strict=True))


def _csv_cells(
    frame: pd.DataFrame, columns: list[Column]
) -> tuple[list[str], list[list[Any]]] | None:
    """The header and each column's cells as ``DataFrame.to_csv`` hands them to the
    :mod:`csv` writer (``index=False``, ``na_rep=""``, ``date_format="%Y-%m-%d"``, formulas
    neutralised), or None for a frame this does not cover (then pandas writes it).

    Notes
    -----
    pandas (``pandas.core.indexes.base.get_values_for_csv``), column by column, with ``""``
    for every missing value: a float column is ``values.astype(str)`` (numpy's shortest
    round-trip text: ``0.1``, ``-0.0``, ``1e-05``, ``inf``; for float64 the same text as
    Python's ``repr``, which is used); an integer or boolean column its Python values; a
    datetime column (naive or with a time zone: the local date) its date as
    ``YYYY-MM-DD``; a text column (``str`` or ``object``) its values. Covered: string
    column labels, numpy float, integer, boolean and datetime64 dtypes, pandas' ``str``
    dtype and ``object`` columns holding no ``datetime`` or ``Period``; dates in years
    1000-9999. Everything else (categoricals, nullable
    integers, timedeltas, periods, a MultiIndex, numbers as column labels, no columns)
    goes through pandas. The test suite writes generated frames both ways and compares the
    bytes.
    """
    labels = list(frame.columns)
    if not labels or isinstance(frame.columns, pd.MultiIndex):
        return None
    if not all(isinstance(c, str) for c in labels):
        return None
    cells: list[list[Any]] = []
    for col in columns:
        values = col.values
        if values is None:
            return None
        if col.kind == "f8":
            cells.append([repr(v) if v == v else "" for v in values])
        elif col.kind == "num":
            if col.series.dtype.kind == "f":  # float32, float16: numpy's text of them
                raw = col.series.to_numpy()
                text = raw.astype(str)
                text[np.isnan(raw)] = ""
                cells.append(text.tolist())
            else:
                cells.append(values)
        elif col.kind in ("dates", "tz"):
            cells.append(values)
        elif col.kind == "text":
            cells.append(_inert_cells(["" if v is None else v for v in values]))
        elif col.kind == "object":
            out = _csv_objects(col.series.to_numpy(), values)
            if out is None:
                return None
            cells.append(out)
        else:
            return None
    return [str(_inert(c)) for c in labels], cells


def _csv_objects(raw: np.ndarray, values: list[Any]) -> list[Any] | None:
    """An ``object`` column's cells: missing ``""``, text through :func:`_inert`, anything
    else as it is (the csv writer prints it); None with a ``datetime`` or a ``Period``
    (pandas 3.0 writes those in full, later versions with ``date_format``: left to
    pandas)."""
    missing = pd.isna(raw)
    out = list(values)
    for i, v in enumerate(out):
        if missing[i]:
            out[i] = ""
        elif isinstance(v, _dt.datetime | pd.Period):
            return None
    return _inert_cells(out)


def _inert_cells(cells: list[Any]) -> list[Any]:
    """``cells`` with each text that a spreadsheet would run as a formula through
    :func:`_inert` (each distinct text checked once)."""
    changed: dict[str, str] = {}
    for v in cells:
        if isinstance(v, str) and v.startswith(_FORMULA_START) and v not in changed:
            changed[v] = _inert(v)
    if not any(k != v for k, v in changed.items()):
        return cells
    return [changed.get(v, v) if isinstance(v, str) else v for v in cells]


def write_tables(
    folder: Path, built: Built, columns: Mapping[str, list[Column]] | None = None
) -> None:
    """Every tidy table as CSV, and the per-event test tables in Markdown and LaTeX; with
    ``xlsx`` among the formats, every table in one workbook (``tables.xlsx``).
    ``columns``: each table's :func:`table_columns`, when the caller has them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in built.tables.items():
        write_csv(frame, folder / f"{name}.csv", (columns or {}).get(name))
    if "xlsx" in built.formats:
        from eventstudy.report.xlsx import write_workbook

        write_workbook(folder / "tables.xlsx", built.tables, title=built.input.title)
    tests = built.tables.get("tests", pd.DataFrame())
    blocks = _wide_blocks(tests)  # one pass for both formats
    (folder / "tests.md").write_text(tests_markdown(tests, built, blocks), encoding="utf-8")
    (folder / "tests.tex").write_text(tests_latex(tests, built, blocks), encoding="utf-8")


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp | _dt.datetime | _dt.date):
        ts = pd.Timestamp(v)
        if pd.isna(ts):
            return None
        if ts.tzinfo is None and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NaT or (not isinstance(v, str | bytes | bool | int | float) and pd.isna(v)):
        return None
    if isinstance(v, str | bool | int | float):
        return v
    return str(v)


def _json_table(frame: pd.DataFrame, columns: list[Column] | None = None) -> str:
    """A table as a JSON array of records (dates as ISO strings, NaN as null), fast.

    Notes
    -----
    The text is pandas' ``to_json(orient="records", double_precision=15,
    force_ascii=False)`` of the frame with its dates as text and its ``object`` cells
    through :func:`_jsonable`. A frame of unique string labels and the usual column types
    (see :class:`Column`) goes to pandas' JSON encoder (``ujson_dumps``, the one
    ``to_json`` calls, with the same options) as a list of records of Python values, without
    the frame's encoder path (the test suite compares the text on generated frames); any
    other frame goes through ``to_json``.
    """
    cols = table_columns(frame) if columns is None else columns
    names = list(frame.columns)
    simple = (
        not isinstance(frame.columns, pd.MultiIndex)
        and all(isinstance(c, str) for c in names)
        and len(set(names)) == len(names)
    )
    values = [_json_values(c) for c in cols] if simple else []
    if not simple or any(v is None for v in values):
        return _json_table_pandas(frame)
    records = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    return ujson_dumps(records, ensure_ascii=False, double_precision=15)


def _json_values(col: Column) -> list[Any] | None:
    """One column's cells as :func:`_json_table_pandas` hands them to the JSON encoder, or
    None (then pandas writes the table)."""
    if col.kind in ("f8", "num", "text"):
        return col.values
    if col.kind == "dates":  # as text: the date alone when every one is at midnight
        if col.values is None:
            return None
        return [v or None for v in col.values] if col.midnight else _iso(col.series).tolist()
    if col.kind == "tz":
        return _iso(col.series).tolist()
    if col.kind == "object":
        return col.series.map(_jsonable).tolist()  # as pandas infers the mapped dtype
    return None


def _iso(series: pd.Series) -> pd.Series:
    return series.map(lambda v: v.isoformat() if pd.notna(v) else None)


def _json_table_pandas(frame: pd.DataFrame) -> str:
    """:func:`_json_table` through ``DataFrame.to_json``."""
    out = frame.copy(deep=False)
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            series.dtype
        ):
            naive = series.dt.tz is None
            if naive and (series.dropna() == series.dropna().dt.normalize()).all():
                out[col] = series.dt.strftime("%Y-%m-%d")
            else:
                out[col] = _iso(series)
        elif series.dtype == object:
            out[col] = series.map(_jsonable)
    return out.to_json(orient="records", double_precision=15, force_ascii=False)


def write_json(
    path: Path,
    built: Built,
    prov: ProvenanceView,
    columns: Mapping[str, list[Column]] | None = None,
) -> None:
    """``results.json``: the title, the provenance, the verdicts and every tidy table.
    ``columns``: each table's :func:`table_columns`, when the caller has them."""
    head = {
        "title": built.input.title,
        "provenance": dataclasses.asdict(prov),
        "verdict": [v.as_record() for v in built.input.verdicts],
    }
    parts = [f"{json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in head.items()]
    parts += [
        f"{json.dumps(name)}: {_json_table(frame, (columns or {}).get(name))}"
        for name, frame in built.tables.items()
        if name != "verdicts"
    ]
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")


def write_verdict_json(path: Path, built: Built) -> None:
    """``verdict.json``: the answer of every event (and pool), in the words the terminal and
    the page print, with the test each rests on and why."""
    inp = built.input
    tests = {v.test.test: v.test for v in inp.verdicts if v.kind == "event"}
    doc = {
        "title": inp.title,
        "window": format_window(inp.headline_window),
        "pooled": inp.pooled,
        "tests": [
            {"test": t.test, "words": t.words, "why": t.reason, "level": t.level}
            for t in tests.values()
        ],
        "verdicts": [v.as_record() for v in inp.verdicts],
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- Markdown, LaTeX


_Wide = tuple[list[str], list[str], list[tuple[str, bool, list[str]]]]
#: One event's block of the test tables: heading, event id, and its tests wide (``_wide``).
_WideBlock = tuple[str, str, _Wide]


def _blocks(tests: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One (heading, tests) block per event (and exchange)."""
    if tests.empty:
        return []
    keys = [k for k in ("exchange", "event_id") if k in tests]
    out = []
    for key, part in tests.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        named = dict(zip(keys, key, strict=True))
        head = f"Event {named.get('event_id', '')}"
        if named.get("exchange") and tests["exchange"].nunique() > 1:
            head += f" ({exchange_name(str(named['exchange']))})"
        out.append((head, part))
    return out


def _wide(tests: pd.DataFrame) -> _Wide:
    """One event's tests, wide: windows, mean CAR per window, rows (label, robust, cells)."""
    records = tests.to_dict("records")
    windows = list(dict.fromkeys(r["window"] for r in records))
    first: dict[str, float] = {}
    cell: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        first.setdefault(r["window"], r["caar"])
        cell[(r["test"], r["window"])] = r
    caar = [f"{first[w] * 100:+.2f}%" for w in windows]
    rows = []
    for name in dict.fromkeys(r["test"] for r in records):
        cells = []
        for w in windows:
            r = cell.get((name, w))
            if r is not None:
                cells += [
                    figures._num(r["statistic"], 3) + r["stars"],
                    figures._num(r["p_value"], 4),
                ]
            else:
                cells += ["", ""]
        rows.append((figures.TEST_LABELS.get(name, name), name in figures.ROBUST_TESTS, cells))
    return windows, caar, rows


def _wide_blocks(tests: pd.DataFrame) -> list[_WideBlock]:
    return [(head, str(part["event_id"].iloc[0]), _wide(part)) for head, part in _blocks(tests)]


def tests_markdown(
    tests: pd.DataFrame, built: Built, blocks: list[_WideBlock] | None = None
) -> str:
    """Per event, its tests of the mean CAR as a Markdown table (events are not pooled).
    ``blocks``: ``_wide_blocks(tests)``, when the caller has them."""
    blocks = _wide_blocks(tests) if blocks is None else blocks
    if not blocks:
        return "No tests.\n"
    out: list[str] = []
    for head, eid, (windows, caar, rows) in blocks:
        title = built.input.event(eid).title
        cols = ["Test"] + [x for w in windows for x in (f"CAR{w}", "p")]
        out += [
            f"### {head}: {title}",
            "",
            "| " + " | ".join(cols) + " |",
            "|---|" + "---:|" * (len(cols) - 1),
            "| Mean CAR (CAAR) | " + " | ".join(x for c in caar for x in (c, "")) + " |",
        ]
        for label, robust, cells in rows:
            name = f"**{label}** †" if robust else label
            out.append(f"| {name} | " + " | ".join(c.replace("*", "\\*") for c in cells) + " |")
        out.append("")
    out += [
        "† valid when securities share the event date. Statistic and two-sided p-value; "
        "\\* p<0.10, \\*\\* p<0.05, \\*\\*\\* p<0.01.",
        "",
    ]
    return "\n".join(out)


_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text).replace("ö", r"\"o")


def tests_latex(tests: pd.DataFrame, built: Built, blocks: list[_WideBlock] | None = None) -> str:
    """Per event, its tests of the mean CAR as a booktabs tabular.
    ``blocks``: ``_wide_blocks(tests)``, when the caller has them."""
    blocks = _wide_blocks(tests) if blocks is None else blocks
    if not blocks:
        return "% no tests\n"
    out = ["% Tests of the mean CAR, one tabular per event; needs \\usepackage{booktabs}"]
    for head, _, (windows, caar, rows) in blocks:
        cols = "l" + "rr" * len(windows)
        head1 = " & ".join(
            [""] + [rf"\multicolumn{{2}}{{c}}{{CAR${_latex_escape(w)}$}}" for w in windows]
        )
        rules = " ".join(rf"\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(windows)))
        head2 = " & ".join(["Test"] + ["stat.", "$p$"] * len(windows))
        body = [
            " & ".join(
                ["Mean CAR (CAAR)"]
                + [rf"\multicolumn{{2}}{{c}}{{{_latex_escape(c)}}}" for c in caar]
            )
            + r" \\"
        ]
        for label, robust, cells in rows:
            cell_tex = []
            for c in cells:
                m = re.match(r"^(-?[\d.]+)(\**)$", c)
                cell_tex.append(f"{m.group(1)}$^{{{m.group(2)}}}$" if m and m.group(2) else c)
            name = _latex_escape(label) + (r"$^\dagger$" if robust else "")
            body.append(" & ".join([name, *cell_tex]) + r" \\")
        out += [
            f"% {_latex_escape(head)}",
            r"\begin{tabular}{" + cols + "}",
            r"\toprule",
            head1 + r" \\",
            rules,
            head2 + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\multicolumn{"
            + str(1 + 2 * len(windows))
            + r"}{l}{\footnotesize $^\dagger$ valid when securities share the event date; "
            r"$^{*}$ $p<0.10$, $^{**}$ $p<0.05$, $^{***}$ $p<0.01$ (two-sided).} \\",
            r"\end{tabular}",
            "",
        ]
    return "\n".join(out)
