"""Run a configured study: config -> prices -> returns -> event timing -> engine.

(Skeleton: the fields of :class:`StudyRun` are the contract the report relies on.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StudyRun:
    """Everything one run of a study produced, as the report consumes it.

    Attributes
    ----------
    config : StudyConfig
        The validated study.
    config_path : Path or None
        Where the study was read from.
    config_hash : str
        SHA-256 of the study file's bytes (first 12 hex digits).
    timing : DataFrame
        ``calendar.event_timing`` output: event_id, announced, exchange, session, rule.
    prices : dict[str, DataFrame]
        symbol -> price frame (``close``, ``adj_close``; ``attrs["provenance"]``).
    returns : dict[str, DataFrame]
        exchange -> returns frame used by the engine (securities + market + factors).
    results : dict[str, EventStudyResults]
        exchange -> engine results for the securities listed on that exchange.
    market : dict[str, str]
        exchange -> symbol used as the market benchmark (after alias resolution).
    dossiers : dict[str, str]
        event_id -> dossier text (Markdown) from ``seeds/``.
    provenance : dict
        package and dependency versions, data source per symbol with fetch time, run time.
    notes : list[str]
        human-readable warnings raised during the run.
    """

    config: Any
    config_path: Path | None
    config_hash: str
    timing: Any
    prices: dict[str, Any]
    returns: dict[str, Any]
    results: dict[str, Any]
    market: dict[str, str]
    dossiers: dict[str, str]
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)
