"""eventstudy: how stocks react to news.

Exchange-aware event timing, expected-return models, abnormal returns (AR, CAR, BHAR)
and a full battery of tests that stay valid when several firms share one event date.

Heavy dependencies (pandas, statsmodels, plotly, yfinance) are imported lazily, so
``import eventstudy`` and the CLI start fast; ``es.event_study`` and friends load them
on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The distribution whose metadata holds the version (pyproject.toml is its one source).
_DISTRIBUTION = "oem-eventstudy"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "event_study": "eventstudy.study",
    "EventStudy": "eventstudy.study",
    "EventStudyResults": "eventstudy.results",
    "TestResult": "eventstudy.stats",
    "load_config": "eventstudy.config",
    "StudyConfig": "eventstudy.config",
    "CsvSource": "eventstudy.data",
    "YahooSource": "eventstudy.data",
    "SimulatedSource": "eventstudy.data",
    "reacting_session": "eventstudy.calendar",
    "simulate": "eventstudy.simulate",
    "sensitivity": "eventstudy.sensitivity",
}
_SUBMODULES = {
    "report",
    "data",
    "calendar",
    "config",
    "stats",
    "models",
    "results",
    "exceptions",
    "runner",
    "figures",
    "figures_robustness",
    "pipeline",
    "compare",
    "plan",
    "verdict",
}

__all__ = [*sorted(_LAZY), "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.study import EventStudy, event_study  # noqa: F401


def _version() -> str:
    """The installed distribution's version (``importlib.metadata``), read on first use."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"eventstudy.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'eventstudy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES, "__version__"})
