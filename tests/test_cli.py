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


def test_prices_folder_without_a_symbol_is_a_data_error(tmp_path: Path, prices_dir: Path):
    folder = tmp_path / "prices"
    folder.mkdir()
    for name in ("7203.T", "7267.T", "TOPIX"):  # Nissan and others are missing
        (folder / f"{name}.csv").write_bytes((prices_dir / f"{name}.csv").read_bytes())
    code, _, err = invoke("run", str(KEI), "--prices", str(folder), "--out", str(tmp_path / "o"))
    line = assert_one_line_error(err)
    assert code == 3, err
    assert "7201.T" in line
    assert not (tmp_path / "o" / "kei_cars").exists()  # nothing half-written


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
