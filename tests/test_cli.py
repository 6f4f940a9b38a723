"""The command line: exit codes, one-line errors, and the bad-input catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_bad_configs import CASES as CATALOGUE
from test_bad_configs import read_header

from eventstudy import cli
from eventstudy.exceptions import NetworkError, RateLimited

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "configs" / "kei_cars.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.stem)
def test_validate_rejects_every_catalogued_bad_config_with_exit_2(path: Path):
    code, _, err = invoke("validate", str(path))
    header = read_header(path)
    line = assert_one_line_error(err)
    assert code == 2, err
    assert path.name in line and header["expect"] in line


def test_validate_accepts_the_committed_configs():
    for name in ("kei_cars", "tariffs_2025", "demo"):
        code, out, err = invoke("validate", str(ROOT / "configs" / f"{name}.yaml"))
        assert code == 0, err
        assert "ok" in out


def test_missing_config_file_is_a_usage_error():
    code, _, err = invoke("validate", "nope.yaml")
    line = assert_one_line_error(err)
    assert code == 2 and "nope.yaml" in line


def test_missing_prices_folder_names_the_option(tmp_path: Path):
    code, _, err = invoke(
        "run", str(KEI), "--prices", str(tmp_path / "absent"), "--out", str(tmp_path)
    )
    line = assert_one_line_error(err)
    assert code == 2 and "--prices" in line


def test_prices_folder_without_a_symbol_is_a_data_error_with_strict(
    tmp_path: Path, prices_dir: Path
):
    folder = tmp_path / "prices"
    folder.mkdir()
    for name in ("7203.T", "7267.T", "TOPIX"):  # Nissan and others are missing
        (folder / f"{name}.csv").write_bytes((prices_dir / f"{name}.csv").read_bytes())
    out = ["--prices", str(folder), "--out", str(tmp_path / "o")]
    code, _, err = invoke("run", str(KEI), *out, "--strict")
    line = assert_one_line_error(err)
    assert code == 3, err
    assert line.startswith("error: 5 of 7 securities could not be fetched: 7201.T (unknown")
    assert not (tmp_path / "o" / "kei_cars").exists()  # nothing half-written
    # without --strict the study runs on the two that are there, and says which were not
    code, _, err = invoke("run", str(KEI), *out, "--calibrate", "0")
    assert code == 0, err
    assert "warning: 5 of 7 securities could not be fetched and are left out" in err
    assert (tmp_path / "o" / "kei_cars" / "index.html").exists()


@pytest.mark.parametrize(
    ("exc", "code", "fragment"),
    [
        (NetworkError(detail="DNS lookup failed"), 4, "--offline"),
        (RateLimited(symbol="7203.T", attempts=4), 4, "rate limited"),
    ],
)
def test_network_failures_exit_4_with_the_hint(monkeypatch, tmp_path, exc, code, fragment):
    from eventstudy.data import yahoo

    def boom(self, symbol, start=None, end=None):
        raise exc

    monkeypatch.setattr(yahoo.YahooSource, "get", boom)
    rc, _, err = invoke("--quiet", "fetch", str(KEI))
    line = assert_one_line_error(err)
    assert rc == code and fragment in line


def test_offline_with_an_empty_cache_is_a_data_error_not_a_network_call(monkeypatch):
    from eventstudy.data import yahoo

    def never(self, symbol, start=None, end=None):  # pragma: no cover - must not run
        raise AssertionError("network touched in --offline mode")

    monkeypatch.setattr(yahoo.YahooSource, "get", never)
    rc, _, err = invoke("--quiet", "fetch", str(KEI), "--offline")
    line = assert_one_line_error(err)
    assert rc == 3 and "offline" in line.lower()


def test_internal_errors_are_one_line_unless_debug(monkeypatch):
    from eventstudy import runner

    def bug(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(runner, "events_table", bug)
    rc, _, err = invoke("events", str(KEI))
    line = assert_one_line_error(err)
    assert rc == 1 and "ZeroDivisionError" in line and "--debug" in line
    rc, _, err = invoke("--debug", "events", str(KEI))
    assert rc == 1 and "Traceback" in err


def test_events_table_lists_reacting_sessions():
    rc, out, err = invoke("events", str(KEI))
    assert rc == 0, err
    assert "2025-12-04" in out and "2025-12-08" in out and "XTKS" in out


def test_cache_list_and_clear_on_an_empty_cache():
    rc, out, _ = invoke("cache", "list")
    assert rc == 0 and "empty" in out
    rc, out, _ = invoke("cache", "clear")
    assert rc == 0 and "removed 0" in out


def test_quiet_and_debug_are_accepted_after_the_command(monkeypatch):
    from eventstudy import runner

    rc, out, err = invoke("events", str(KEI), "--quiet")
    assert rc == 0 and "2025-12-04" in out, err
    rc, out, err = invoke("validate", str(KEI), "-q")
    assert rc == 0 and "ok" in out, err

    def bug(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(runner, "events_table", bug)
    rc, _, err = invoke("events", str(KEI), "--debug")
    assert rc == 1 and "Traceback" in err
    rc, _, err = invoke("events", str(KEI))
    assert rc == 1 and "Traceback" not in err  # the flag did not stick


EARLY_EVENT = """\
  - id: too_early_2021-09-01
    title: An event before enough price history
    announced: "2021-09-01T09:00:00+09:00"
"""


def test_run_exits_3_when_an_event_has_no_firm_event_left(tmp_path, prices_dir):
    """The kei-car study plus an event whose every firm-event lacks estimation data: the
    report is written with the event marked, the summary says it loudly, the exit is 3."""
    text = KEI.read_text(encoding="utf-8").split("\nvariants:")[0]
    text = "\n".join(x for x in text.splitlines() if "dossier:" not in x)
    text = text.replace("\nestimation:", "\n" + EARLY_EVENT + "\nestimation:", 1)
    study = tmp_path / "study.yaml"
    study.write_text(text, encoding="utf-8")
    rc, out, err = invoke(
        "run", str(study), "--prices", str(prices_dir), "--offline", "--out", str(tmp_path)
    )
    line = assert_one_line_error(err)
    assert rc == 3
    assert "too_early_2021-09-01" in line and "no firm-event left" in line
    assert "the report was written" in line
    assert "!! No firm-event left: nothing measured for event too_early_2021-09-01" in out
    assert "estimation observations" in out  # why, firm by firm
    index = tmp_path / "kei_cars" / "index.html"
    html = index.read_text()
    assert 'data-verdict="too_early_2021-09-01" data-status="no firm-event"' in html
    rc, _, _ = invoke(
        "--quiet", "run", str(KEI), "--prices", str(prices_dir), "--offline", "--out",
        str(tmp_path / "fine"),
    )  # fmt: skip
    assert rc == 0


def test_run_prints_the_verdicts_first(tmp_path, prices_dir):
    rc, out, err = invoke(
        "run", str(KEI), "--prices", str(prices_dir), "--offline", "--out", str(tmp_path),
        "--fragments", "div",
    )  # fmt: skip
    assert rc == 0, err
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("The answer"))
    assert lines[start + 2].strip().startswith("No abnormal reaction detected for event kei_cafe")
    assert "report written:" in lines[-1]
    frag = tmp_path / "kei_cars" / "fragments" / "ar-xtks-kei-cafe-2025-12-03.html"
    assert "plotly.min.js" not in frag.read_text()  # --fragments div: bare divs
