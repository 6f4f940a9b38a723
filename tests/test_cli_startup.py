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
