"""Hardening, round two (issue 15): what ``validate`` passes, ``run`` does not fail on.

* ``tests/bad_inputs/preflight/*.yaml`` -- studies that load but that the exchange calendars
  cannot hold (an announcement after the calendars end, an estimation window of the study or
  of a variant starting before they begin). Same headers as the bad-config catalogue
  (``# field:``/``# expect:``); each must fail ``eventstudy validate`` AND ``eventstudy run``
  with exit 2 and one line, before any price is read, leaving no report folder.
* the report folder as a symlink or a file, ``seeds/`` as a symlink out of the project, a
  dossier that is not UTF-8 or is too large: exit 2 from ``validate``, one line naming the
  folder or the field.
* a one-day event window with a one-day CAR window validates AND runs (and ``compare``
  defaults to the study's window instead of one it never wrote).
* CSV outputs neutralise cells a spreadsheet would run (OWASP CSV injection), in every table.
* a dossier with control characters is reported, not a crash.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bad_configs import read_header

from eventstudy import cli
from eventstudy.config import load_yaml
from eventstudy.exceptions import ConfigError
from eventstudy.report.tables import neutralise_formulas

ROOT = Path(__file__).resolve().parents[1]
KEI_TEXT = (ROOT / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
PREFLIGHT = sorted((Path(__file__).resolve().parent / "bad_inputs" / "preflight").glob("*.yaml"))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def project(tmp_path: Path) -> Path:
    """A project folder (pyproject marker, configs/, seeds/ with the real dossiers)."""
    root = tmp_path / "proj"
    (root / "configs").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    return root


def write_config(root: Path, text: str, name: str = "study.yaml") -> Path:
    path = root / "configs" / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the catalogue


def test_preflight_catalogue_is_there():
    assert len(PREFLIGHT) >= 3


@pytest.mark.parametrize("path", PREFLIGHT, ids=[p.stem for p in PREFLIGHT])
def test_validate_refuses_what_the_calendars_cannot_hold(path: Path):
    header = read_header(path)
    code, _, err = invoke("validate", str(path))
    line = one_error_line(err)
    assert code == 2, err
    assert line.startswith(f"error: {path}: {header['field']}: "), line
    assert header["expect"] in line, line


@pytest.mark.parametrize("path", PREFLIGHT, ids=[p.stem for p in PREFLIGHT])
def test_run_refuses_it_too_before_reading_any_price(path: Path, tmp_path: Path):
    empty = tmp_path / "no_prices"  # a price folder with nothing: reading it would fail (3)
    empty.mkdir()
    code, _, err = invoke("run", str(path), "--prices", str(empty), "--out", str(tmp_path / "o"))
    assert code == 2 and read_header(path)["field"] in one_error_line(err), err
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- folders


def test_a_report_folder_that_is_a_symlink_is_named_not_the_study(tmp_path: Path):
    """The message blamed the study name; it names the folder and the fix."""
    root = project(tmp_path)
    path = write_config(root, KEI_TEXT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "reports").mkdir()
    (root / "reports" / "kei_cars").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = invoke("validate", str(path))
    line = one_error_line(err)
    assert code == 2
    assert f"report folder: got '{root / 'reports' / 'kei_cars'}'" in line, line
    assert f"symlink to {elsewhere}" in line and "remove the link" in line, line
    assert "name:" not in line


def test_a_report_folder_that_is_a_file_is_refused_up_front(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kei_cars").write_text("my notes\n")
    code, _, err = invoke("validate", str(ROOT / "configs" / "kei_cars.yaml"))
    assert code == 0, err  # the study's own folder is fine
    code, _, err = invoke(
        "run", str(ROOT / "configs" / "kei_cars.yaml"), "--offline", "--out", str(out)
    )
    assert code == 2 and "a file has that name" in one_error_line(err), err
    assert (out / "kei_cars").read_text() == "my notes\n"


def test_seeds_that_link_out_of_the_project_are_not_read(tmp_path: Path):
    root = tmp_path / "proj"
    (root / "configs").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    outside = tmp_path / "outside_seeds"
    shutil.copytree(ROOT / "seeds", outside)
    (outside / "kei_cafe_2025-12-03.md").write_text("PRIVATE NOTES\n", encoding="utf-8")
    (root / "seeds").symlink_to(outside, target_is_directory=True)
    code, out, err = invoke("validate", str(write_config(root, KEI_TEXT)))
    line = one_error_line(err)
    assert code == 2 and "events[0].dossier" in line and "links out of the project" in line
    assert "PRIVATE" not in out + err


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"# Notes\n\xff\xfe not UTF-8\n", "a UTF-8 text file (byte 8 is not UTF-8"),
        (b"x" * 1_000_001, "a dossier of at most 1000 kB"),
    ],
    ids=["not_utf8", "too_large"],
)
def test_dossiers_the_report_cannot_show_are_refused_by_validate(tmp_path, content, expect):
    root = project(tmp_path)
    (root / "seeds" / "kei_cafe_2025-12-03.md").write_bytes(content)
    code, _, err = invoke("validate", str(write_config(root, KEI_TEXT)))
    line = one_error_line(err)
    assert code == 2 and "events[0].dossier" in line and expect in line, line


# ----------------------------------------------------------------------------- runs


def _one_day(text: str) -> str:
    return text.replace("event_window: [-10, 10]", "event_window: [0, 0]").replace(
        "car_windows: [[0, 0], [0, 1], [-1, 1], [0, 5]]", "car_windows: [[0, 0]]"
    )


def test_a_one_day_event_window_validates_and_runs(tmp_path: Path, prices_dir: Path):
    """``event_window: [0, 0]`` with ``car_windows: [[0, 0]]`` used to fail after computing
    everything, on a window the study never wrote."""
    root = project(tmp_path)
    path = write_config(root, _one_day(KEI_TEXT))
    code, out, err = invoke("validate", str(path))
    assert code == 0 and "ok" in out, err
    out_dir = tmp_path / "out"
    args = ["--prices", str(prices_dir), "--offline", "--out", str(out_dir)]
    code, out, err = invoke("--quiet", "run", str(path), *args)
    assert code == 0, err
    cars = pd.read_csv(out_dir / "kei_cars" / "tables" / "car.csv")
    assert set(cars["window"]) == {"(0,0)"}
    code, out, err = invoke("--quiet", "compare", str(path), *args)
    assert code == 0 and "CAR(0,0)" in out, err
    code, _, err = invoke("--quiet", "compare", str(path), *args, "--window", "0,1")
    assert code == 2 and "kei_cars has (0,0)" in one_error_line(err), err


@pytest.fixture(scope="module")
def injected_report(tmp_path_factory, prices_dir: Path) -> Path:
    """A run whose names carry spreadsheet formulas and whose dossier carries NUL and
    other control characters."""
    tmp = tmp_path_factory.mktemp("inject")
    root = project(tmp)
    dossier = root / "seeds" / "kei_cafe_2025-12-03.md"
    dossier.write_text(dossier.read_text() + "\n\nNUL \x00 SOH \x01 ESC \x1b end\n")
    text = KEI_TEXT.replace(
        "name: Mazda Motor", 'name: \'=HYPERLINK("http://evil.example/m","Mazda")\''
    ).replace("name: Subaru,", "name: '@SUM(1+1)',")
    text = text.replace("name: Suzuki Motor", "name: '-2+3 Suzuki'")
    code, _, err = invoke(
        "run", str(write_config(root, text)), "--prices", str(prices_dir), "--offline",
        "--out", str(tmp / "out"),
    )  # fmt: skip
    assert code == 0, err
    return tmp / "out" / "kei_cars"


def test_no_csv_cell_starts_a_formula(injected_report: Path):
    files = sorted((injected_report / "tables").glob("*.csv"))
    assert len(files) > 8
    seen = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    seen.add(cell)
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        assert re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?%?", cell), (
                            path.name,
                            cell,
                        )
    assert '\'=HYPERLINK("http://evil.example/m","Mazda")' in seen  # shown, inert
    assert "'@SUM(1+1)" in seen and "'-2+3 Suzuki" in seen
    firms = pd.read_csv(injected_report / "tables" / "firms.csv")
    assert (firms["estimate"] < 0).any()  # numbers stay numbers


def test_a_dossier_with_control_characters_is_shown(injected_report: Path):
    html = (injected_report / "index.html").read_text(encoding="utf-8")
    assert "<p>NUL \ufffd SOH \ufffd ESC \ufffd end</p>" in html
    dossiers = re.findall(r'<div class="dossier">(.*?)</div></details>', html, re.S)
    assert len(dossiers) == 2  # (plotly.js itself holds a \x01 in a string literal)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "".join(dossiers))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil.example/m","Mazda")', '\'=HYPERLINK("http://evil.example/m","Mazda")'),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-", "'-"),
        ("-0.24%", "-0.24%"),
        ("+3", "+3"),
        ("-1.5e-3", "-1.5e-3"),
        ("Mazda", "Mazda"),
        ("(0,+1)", "(0,+1)"),
    ],
)  # fmt: skip
def test_neutralise_formulas_prefixes_formulas_only(cell, written):
    frame = pd.DataFrame({"name": [cell], "=cmd|' /C calc'!A0": [-1.25]})
    out = neutralise_formulas(frame)
    assert out["name"].iloc[0] == written
    assert list(out.columns) == ["name", "'=cmd|' /C calc'!A0"]
    assert out.iloc[0, 1] == -1.25 and frame["name"].iloc[0] == cell  # input untouched


# ----------------------------------------------------------------------------- fuzz


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_any_yaml_text_loads_or_gives_one_config_error_line(text):
    try:
        load_yaml(text, file="fuzz.yaml")
    except ConfigError as err:
        assert "\n" not in str(err) and str(err).startswith("fuzz.yaml: ")


_MUTATIONS = [
    ("event_window: [-10, 10]", "event_window: [0, 0]"),
    ("event_window: [-10, 10]", "event_window: [-3, 40]"),
    ("estimation: [-250, -11]", "estimation: [-9000, -11]"),
    ("estimation: [-250, -11]", "estimation: [-99999, -11]"),
    ('"2025-12-05T09:00:00-05:00"', '"2000-01-05T09:00:00-05:00"'),
    ('"2025-12-05T09:00:00-05:00"', '"2030-01-05T09:00:00-05:00"'),
    ('"2025-12-05T09:00:00-05:00"', '"2199-12-31T09:00:00-05:00"'),
    ("estimation: [-260, -11]", "estimation: [-5000, -11]"),
    ("car_windows: [[0, 0], [0, 1], [-1, 1], [0, 5]]", "car_windows: [[0, 0]]"),
    ("id: tinycars_truth_2025-12-05", "id: " + "t" * 100),
    ("id: tinycars_truth_2025-12-05", "id: KEI_CAFE_2025-12-03"),
    ("  plotlyjs: inline", "  plotlyjs: inline\n  car_from: 0"),
]


def test_mutated_studies_validate_or_fail_in_one_line(tmp_path: Path):
    """Random combinations of issue 15's edits of the kei-car study: ``validate`` (the loader,
    the plan and the preflight) either passes or prints one line with exit 2, never more."""
    import random

    root = project(tmp_path)
    outcomes = {0: 0, 2: 0}
    for seed in range(40):
        rng = random.Random(seed)
        text = KEI_TEXT
        for old, new in rng.sample(_MUTATIONS, rng.randint(1, 4)):
            text = text.replace(old, new)
        path = write_config(root, text, f"m{seed}.yaml")
        code, _, err = invoke("validate", str(path))
        assert code in outcomes, err
        if code:
            one_error_line(err)
        outcomes[code] += 1
    assert outcomes[0] and outcomes[2] > 10, outcomes
