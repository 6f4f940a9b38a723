"""The CLI starts fast because heavy libraries load only inside commands."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "statsmodels", "plotly", "yfinance", "exchange_calendars", "scipy")


def test_cli_import_loads_no_heavy_library():
    code = f"import sys, eventstudy.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "eventstudy.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("run", "fetch", "events", "validate", "cache"):
        assert command in out


def _gc_state_after(*args: str, enabled: bool) -> tuple[bool, int, bool]:
    """Run a command in this process from a given collector state; what it left behind."""
    import gc

    from click.testing import CliRunner

    from eventstudy import cli

    paused_during_imports: list[bool] = []
    real = cli._importing

    def spy():  # records the collector's state inside the import block
        with real():
            paused_during_imports.append(not gc.isenabled())
            yield

    import contextlib

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        cli._importing = contextlib.contextmanager(spy)
        CliRunner().invoke(cli.main, list(args))
        paused = bool(paused_during_imports) and all(paused_during_imports)
        return gc.isenabled(), gc.get_freeze_count(), paused
    finally:
        cli._importing = real
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


def test_commands_import_with_the_collector_paused_and_restore_it(tmp_path):
    # run and simulate pause the collector while they import, freeze what was loaded, and
    # undo both when the command ends, here on a config error raised right after the imports
    missing = str(tmp_path / "missing.yaml")
    for command in ("run", "simulate"):
        assert _gc_state_after(command, missing, enabled=True) == (True, 0, True)
        # a caller that had switched the collector off gets it back off
        assert _gc_state_after(command, missing, enabled=False) == (False, 0, True)
