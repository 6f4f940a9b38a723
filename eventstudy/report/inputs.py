"""The report's one typed input, built from a study run or from one results object.

:class:`ReportInput` holds everything the report shows, with real types: the engine results
per exchange, the events (title, timing confidence, dossier), security names and roles,
timing, prices, provenance, the analyses, the CAR windows, and the answer (verdicts and the
per-firm table). :meth:`ReportInput.from_run` reads a :class:`~eventstudy.runner.StudyRun`
(which computed the answer once); :meth:`ReportInput.from_results` builds the same for an
:class:`~eventstudy.results.EventStudyResults` from a notebook.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from eventstudy.crosssection import CrossSectionResults
from eventstudy.exceptions import EventStudyWarning
from eventstudy.results import EventStudyResults
from eventstudy.runner import Provenance, StudyRun
from eventstudy.verdict import Verdict, default_window, firm_rows, verdicts_from_results
from eventstudy.volume import VolumeResults

__all__ = ["DEFAULT_WINDOWS", "EventInfo", "GroupView", "ReportInput"]

Window = tuple[int, int]

#: CAR windows of a report on a lone results object (kept when inside its window).
DEFAULT_WINDOWS: tuple[Window, ...] = ((0, 0), (0, 1), (-1, 1), (0, 5))


@dataclass(frozen=True)
class GroupView:
    """One engine run: the securities of one exchange (``key`` "" for a lone results)."""

    key: str
    results: EventStudyResults
    market: str | None = None


@dataclass(frozen=True)
class EventInfo:
    """What the report says about an event besides its numbers."""

    id: str
    title: str
    confidence: str = ""
    dossier: str = ""


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows (see the module docstring)."""

    title: str
    groups: tuple[GroupView, ...]
    events: tuple[EventInfo, ...]
    windows: tuple[Window, ...]
    headline_window: Window
    verdicts: tuple[Verdict, ...]
    firms: pd.DataFrame
    car_from: int | None = -1
    labels: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    timing: pd.DataFrame | None = None
    prices: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: Provenance | None = None
    notes: tuple[str, ...] = ()
    analyses: dict[str, pd.DataFrame] = field(default_factory=dict)
    pooled: bool = False
    volume: dict[str, VolumeResults] = field(default_factory=dict)
    cross_sections: tuple[CrossSectionResults, ...] = ()

    @property
    def multi(self) -> bool:
        """Several exchanges (engines): tables carry an ``exchange`` column."""
        return len(self.groups) > 1

    @property
    def from_study(self) -> bool:
        """Built from a study run (its tables carry the exchange of every row)."""
        return any(g.key for g in self.groups)

    def event(self, event_id: str) -> EventInfo:
        for ev in self.events:
            if ev.id == event_id:
                return ev
        return EventInfo(id=event_id, title=event_id)

    @classmethod
    def from_run(
        cls,
        run: StudyRun,
        *,
        title: str | None = None,
        windows: tuple[Window, ...] | None = None,
    ) -> ReportInput:
        """The report of a study run (the plan gives titles, windows, roles, dossiers)."""
        plan = run.plan
        events = tuple(
            EventInfo(
                id=ev.id,
                title=ev.title,
                confidence=ev.timing_confidence,
                dossier=run.dossiers.get(ev.id, ""),
            )
            for ev in plan.events
        )
        return cls(
            title=title or plan.title,
            groups=tuple(GroupView(ex, res, run.market.get(ex)) for ex, res in run.results.items()),
            events=events,
            windows=windows or plan.engine.car_windows,
            headline_window=plan.headline_window,
            verdicts=run.verdicts,
            firms=run.firms,
            car_from=plan.output.car_from,
            labels=dict(plan.labels),
            roles=dict(plan.roles),
            timing=run.timing,
            prices=dict(run.prices),
            provenance=run.provenance,
            notes=tuple(run.notes),
            analyses=dict(run.analyses),
            pooled=bool(plan.pools),
            volume=dict(run.volume),
            cross_sections=run.cross_sections,
        )

    @classmethod
    def from_results(
        cls,
        results: EventStudyResults,
        *,
        title: str | None = None,
        windows: tuple[Window, ...] | None = None,
    ) -> ReportInput:
        """The report of one results object (no prices, timing or dossiers)."""
        lo, hi = results.window
        wins = windows or tuple(w for w in DEFAULT_WINDOWS if lo <= w[0] and w[1] <= hi)
        if not wins:
            wins = ((int(lo), int(hi)),)
        headline = default_window(results.window)
        if headline not in wins:
            headline = wins[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            verdicts = tuple(verdicts_from_results(results, headline))
            firms = firm_rows({w: results.firm_table(w) for w in wins})
        order = list(dict.fromkeys(v.key for v in verdicts if v.kind == "event"))
        return cls(
            title=title or "Event study",
            groups=(GroupView("", results, results.market),),
            events=tuple(EventInfo(id=str(e), title=str(e)) for e in order),
            windows=wins,
            headline_window=headline,
            verdicts=verdicts,
            firms=firms,
        )
