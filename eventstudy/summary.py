"""Universe-scale studies in bounded memory: tables from chunks of whole events, pooled
tests from sufficient statistics.

``event_study(..., collect="summary", car_windows=[...])`` never holds the engine arrays of
every firm-event in one place. The events are split into chunks of whole events
(:func:`eventstudy.parallel.split_clusters`, about 20,000 firm-events each by default);
each chunk is fitted by the engine's own code (the same :class:`~eventstudy.results.EngineData`
as one fit of every event would give for its rows) and reduced, on its worker, to

- its **per-firm tables**: ``params`` and ``car(window)`` for every declared window;
- its **per-event tables**: ``clustering``, ``test_notes``, ``portfolio_car(window)``,
  ``aar_tests(by="event_id")`` and ``caar_tests(window, by="event_id")`` (an event is one
  block of the battery, so its tests need only its own rows);
- the **sufficient statistics** of the pooled tests (:class:`eventstudy.battery.BatterySums`):
  per-block counts, sums and moments, one set for the daily tests over the event window and
  one per declared window.

The client concatenates the tables in chunk order, merges the sums
(:meth:`~eventstudy.battery.BatterySums.merge`) and runs the battery's formulas once
(:func:`eventstudy.battery.battery_results`): the pooled tables come out of the same code as
``EventStudyResults.aar_tests()``/``caar_tests()``.

Which pooled tests reduce to sums
---------------------------------
Every test of :data:`eventstudy.vocabulary.TEST_NAMES` is available at scale:

- **sums and moments** (one pass): ``portfolio`` (each event's portfolio AR and variance),
  ``sur_wald``/``sur_wald_mean`` (per-event Wald quantities), ``adjusted_patell``,
  ``kolari_pynnonen`` (plus ``sum_e n_e (n_e - 1) rbar_e``), ``t_test``, ``bmp``
  (count, sum and squared deviations, merged exactly as Chan, Golub & LeVeque 1983),
  ``brown_warner_1980``, ``brown_warner_1985`` and ``lamb`` (sums of the estimation ARs per
  day), ``patell``, ``sign``, ``generalized_sign``; the Corrado sign and rank tests and the
  modified rank test rank each firm-event's ARs within its own row, so their daily sums add;
- **two passes**: ``grank`` ranks each row's estimation SRs together with its event SAR (or
  SCAR) re-standardized by the *pooled* cross-sectional standard deviation, which no chunk
  knows alone. The first pass also returns the moments of the SARs/SCARs; the client merges
  them and sends the pooled scale back; a second pass refits each chunk (the fit is
  deterministic and the cheapest part of the work) and returns grank's rank sums. Leave
  ``grank`` out of ``tests`` to save that pass;
- **every value**: ``wilcoxon`` ranks ``|x|`` across all firm-events of the block, which no
  sum can give. Each chunk returns its firm-events' ARs on every window day and CARs of
  every declared window (8 bytes per firm-event and column); the client ranks them.

What the client holds therefore grows with the firm-events, but by a few hundred bytes each
(the per-firm tables and the Wilcoxon columns), against about 25 KB each for the engine's
arrays, which only ever exist one chunk at a time on a worker.

Numbers: the per-firm tables are those of one fit of every event; the per-event and pooled
statistics equal them up to the order of floating-point additions (sums over chunks instead
of one sum; relative differences of the order of 1e-14, tested against ``backend=None``).

Not available in this mode (use the default ``collect="arrays"`` on a subset, or a study per
event): windows not declared in ``car_windows`` (the sums are per window), daily tests over
a sub-window, groupings other than all events or one block per event (``by`` mappings), the
long tables ``abnormal_returns`` and ``car_paths``, ``residual_correlation``,
``fit_details``, ``battery``/``battery_input``, the figures, and calibrated p-values
(``calibrate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy import battery as bt
from eventstudy.exceptions import ConfigError
from eventstudy.results import EngineData, EventStudyResults, ResultsSummary, aar_table, caar_table
from eventstudy.stats import Moments, TestResult
from eventstudy.vocabulary import (
    TEST_NAMES,
    Convention,
    ModelName,
    Window,
    check_tests,
    check_window,
)

__all__ = [
    "ChunkSummary",
    "GrankScales",
    "SummaryPlan",
    "SummaryResults",
    "grank_pass",
    "grank_scales",
    "summarize",
]


@dataclass(frozen=True)
class SummaryPlan:
    """What every chunk computes.

    Attributes
    ----------
    window : (int, int)
        The event window (its days get the daily tests).
    windows : tuple of (int, int)
        The CAR windows tested, the event window first.
    tests : tuple of str
        Tests, in :data:`TEST_NAMES` order.
    """

    window: Window
    windows: tuple[Window, ...]
    tests: tuple[str, ...]

    @classmethod
    def make(
        cls, window: Window, car_windows: Sequence[Window], tests: Sequence[str] | None
    ) -> SummaryPlan:
        """Validated plan: windows inside the event window, known tests."""
        w0, w1 = window
        windows: list[Window] = [(w0, w1)]
        for w in car_windows:
            a, b = check_window(w, (w0, w1), "car_windows")
            if (a, b) not in windows:
                windows.append((a, b))
        chosen = TEST_NAMES if tests is None else check_tests(tests)
        return cls((w0, w1), tuple(windows), tuple(chosen))

    def cols(self, window: Window) -> np.ndarray:
        """Window columns of ``window``."""
        return np.arange(window[0] - self.window[0], window[1] - self.window[0] + 1)

    @property
    def all_cols(self) -> np.ndarray:
        return self.cols(self.window)

    @property
    def one_pass_tests(self) -> tuple[str, ...]:
        return tuple(t for t in self.tests if t != "grank")


#: The pooled scales grank re-standardizes by: ``"daily"`` -> ``(1, W)``, a window ->
#: ``(1,)`` (see :func:`eventstudy.battery.grank_scale_moments`).
GrankScales = dict[str | Window, np.ndarray]


@dataclass(frozen=True, eq=False)
class ChunkSummary:
    """What one chunk of whole events returns to the client (first pass).

    Attributes
    ----------
    events, params, clustering, test_notes : DataFrame
        The chunk's rows of the tables of the same name.
    car, portfolio_car, caar_by_event : dict
        Window -> the chunk's rows of ``car(window)``, ``portfolio_car(window)`` and
        ``caar_tests(window, by="event_id")``.
    aar_by_event : DataFrame
        ``aar_tests(by="event_id")`` over the event window.
    daily, cumulative : BatterySums
        The pooled tests' sufficient statistics: daily over the event window, and per
        window (every test but ``grank``).
    grank_moments : dict
        ``"daily"`` and each window -> the moments grank's pooled scale needs.
    """

    events: pd.DataFrame
    params: pd.DataFrame
    clustering: pd.DataFrame
    test_notes: pd.DataFrame
    car: dict[Window, pd.DataFrame]
    portfolio_car: dict[Window, pd.DataFrame]
    caar_by_event: dict[Window, pd.DataFrame]
    aar_by_event: pd.DataFrame
    daily: bt.BatterySums
    cumulative: dict[Window, bt.BatterySums]
    grank_moments: dict[str | Window, Moments]


def summarize(data: EngineData, plan: SummaryPlan) -> ChunkSummary:
    """Reduce one chunk's engine arrays to its tables and sufficient statistics."""
    res = EventStudyResults(data)
    inp = res.battery_input(None)
    tests = plan.one_pass_tests
    daily = bt.battery_sums(inp, plan.all_cols, False, tests)
    cumulative = {w: bt.battery_sums(inp, plan.cols(w), True, tests) for w in plan.windows}
    moments: dict[str | Window, Moments] = {}
    if "grank" in plan.tests:
        moments["daily"] = bt.grank_scale_moments(inp, plan.all_cols, False)
        for w in plan.windows:
            moments[w] = bt.grank_scale_moments(inp, plan.cols(w), True)
    names = list(plan.tests)
    return ChunkSummary(
        events=res.events,
        params=res.params,
        clustering=res.clustering,
        test_notes=res.test_notes,
        car={w: res.car(w) for w in plan.windows},
        portfolio_car={w: res.portfolio_car(w) for w in plan.windows},
        caar_by_event={w: _keep(res.caar_tests(w, by="event_id"), names) for w in plan.windows},
        aar_by_event=_keep(res.aar_tests(by="event_id"), names),
        daily=daily,
        cumulative=cumulative,
        grank_moments=moments,
    )


def _keep(table: pd.DataFrame, tests: list[str]) -> pd.DataFrame:
    if len(tests) == len(TEST_NAMES):
        return table
    return table[table["test"].isin(tests)].reset_index(drop=True)


def grank_scales(chunks: Sequence[ChunkSummary]) -> GrankScales:
    """The pooled standard deviations grank re-standardizes by, from every chunk's moments."""
    keys = list(chunks[0].grank_moments)
    return {k: Moments.merge([c.grank_moments[k] for c in chunks]).sd() for k in keys}


def grank_pass(
    data: EngineData, plan: SummaryPlan, scales: GrankScales
) -> dict[str | Window, bt.BatterySums]:
    """Second pass: grank's per-block sums of one chunk with the pooled scales."""
    inp = EventStudyResults(data).battery_input(None)
    out: dict[str | Window, bt.BatterySums] = {
        "daily": bt.battery_sums(inp, plan.all_cols, False, ("grank",), scales["daily"])
    }
    for w in plan.windows:
        out[w] = bt.battery_sums(inp, plan.cols(w), True, ("grank",), scales[w])
    return out


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(list(frames), ignore_index=True) if len(frames) > 1 else frames[0]


def _pooled(
    parts: Sequence[bt.BatterySums], grank: Sequence[bt.BatterySums] | None
) -> tuple[dict[str, TestResult], Moments]:
    merged = bt.BatterySums.merge(parts)
    results = bt.battery_results(merged)
    if grank:
        results.update(bt.battery_results(bt.BatterySums.merge(grank)))
    ordered = {t: results[t] for t in TEST_NAMES if t in results}
    return ordered, merged.moments["raw"]


class SummaryResults:
    """Results of ``event_study(..., collect="summary")`` (immutable; tables built once).

    The per-firm and per-event tables of :class:`~eventstudy.results.EventStudyResults`,
    for the declared windows, and its pooled tests from merged sufficient statistics (see the
    module notes for what is not available at this scale).

    Attributes
    ----------
    window, estimation : (int, int)
    model, convention : str
    market : str or None
    car_windows : list of (int, int)
        The windows tested: the event window, then ``car_windows``.
    tests : list of str
    n_chunks : int
        Chunks the events were split into.
    """

    def __init__(
        self,
        *,
        model: ModelName,
        convention: Convention,
        estimation: tuple[int, int],
        market: str | None,
        plan: SummaryPlan,
        chunks: Sequence[ChunkSummary],
        grank: Sequence[Mapping[str | Window, bt.BatterySums]],
        excluded: pd.DataFrame,
        n_chunks: int,
    ) -> None:
        self._model = model
        self._convention = convention
        self._estimation = estimation
        self._market = market
        self._plan = plan
        self._n_chunks = n_chunks
        self._events = _concat([c.events for c in chunks])
        self._params = _concat([c.params for c in chunks])
        self._clustering = _concat([c.clustering for c in chunks])
        self._notes = _concat([c.test_notes for c in chunks])
        self._excluded = excluded
        self._car = {w: _concat([c.car[w] for c in chunks]) for w in plan.windows}
        self._pcar = {w: _concat([c.portfolio_car[w] for c in chunks]) for w in plan.windows}
        self._caar_ev = {w: _concat([c.caar_by_event[w] for c in chunks]) for w in plan.windows}
        self._aar_ev = _concat([c.aar_by_event for c in chunks])
        g_daily = [g["daily"] for g in grank]
        results, raw = _pooled([c.daily for c in chunks], g_daily)
        self._aar = aar_table(results, raw.mean, raw.n, plan.window[0])
        self._caar: dict[Window, pd.DataFrame] = {}
        for w in plan.windows:
            results, raw = _pooled([c.cumulative[w] for c in chunks], [g[w] for g in grank])
            self._caar[w] = caar_table(results, raw.mean, raw.n)

    def __setattr__(self, name: str, value: object) -> None:
        if name in self.__dict__:
            raise AttributeError("SummaryResults is immutable")
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ settings

    @property
    def window(self) -> Window:
        return self._plan.window

    @property
    def estimation(self) -> tuple[int, int]:
        return self._estimation

    @property
    def model(self) -> str:
        return self._model

    @property
    def convention(self) -> str:
        return self._convention

    @property
    def market(self) -> str | None:
        """Name of the market column (or Series) used."""
        return self._market

    @property
    def car_windows(self) -> list[Window]:
        """The windows whose tables were computed (the event window first)."""
        return list(self._plan.windows)

    @property
    def tests(self) -> list[str]:
        return list(self._plan.tests)

    @property
    def n_chunks(self) -> int:
        return self._n_chunks

    # ------------------------------------------------------------------ tables

    @property
    def events(self) -> pd.DataFrame:
        """The firm-events studied: event_id, security, event_date."""
        return self._events.copy(deep=False)

    @property
    def excluded(self) -> pd.DataFrame:
        """Firm-events left out: event_id, security, reason."""
        return self._excluded.copy(deep=False)

    @property
    def params(self) -> pd.DataFrame:
        """As :attr:`EventStudyResults.params`."""
        return self._params.copy(deep=False)

    @property
    def clustering(self) -> pd.DataFrame:
        """As :attr:`EventStudyResults.clustering` (per event)."""
        return self._clustering.copy(deep=False)

    @property
    def test_notes(self) -> pd.DataFrame:
        """As :attr:`EventStudyResults.test_notes` (per event)."""
        return self._notes.copy(deep=False)

    def _key(self, window: Window | None) -> Window:
        if window is None:
            return self._plan.window
        try:
            a, b = (int(v) for v in window)
        except (TypeError, ValueError):
            raise ConfigError(
                field="window", value=window, expected="a pair of relative days (start, end)"
            ) from None
        if (a, b) not in self._plan.windows:
            raise ConfigError(
                field="window",
                value=window,
                expected="one of the windows computed at scale "
                f"{list(self._plan.windows)} (pass it in event_study(car_windows=...))",
            )
        return a, b

    def car(self, window: Window | None = None) -> pd.DataFrame:
        """As :meth:`EventStudyResults.car`, for a computed window."""
        return self._car[self._key(window)].copy(deep=False)

    def portfolio_car(self, window: Window | None = None) -> pd.DataFrame:
        """As :meth:`EventStudyResults.portfolio_car`, for a computed window."""
        return self._pcar[self._key(window)].copy(deep=False)

    def aar_tests(
        self, window: Window | None = None, by: Literal["event_id"] | None = None
    ) -> pd.DataFrame:
        """As :meth:`EventStudyResults.aar_tests`, over the event window (pooled tests from
        the merged sufficient statistics; ``by="event_id"``: each event's own)."""
        if window is not None and self._key(window) != self._plan.window:
            raise ConfigError(
                field="window",
                value=window,
                expected=f"None or the event window {self._plan.window}: daily tests at scale "
                "are computed over the event window",
            )
        return self._by(by, self._aar, self._aar_ev)

    def caar_tests(
        self, window: Window | None = None, by: Literal["event_id"] | None = None
    ) -> pd.DataFrame:
        """As :meth:`EventStudyResults.caar_tests`, for a computed window."""
        w = self._key(window)
        return self._by(by, self._caar[w], self._caar_ev[w])

    @staticmethod
    def _by(by: object, pooled: pd.DataFrame, per_event: pd.DataFrame) -> pd.DataFrame:
        if by is None:
            return pooled.copy(deep=False)
        if isinstance(by, str) and by == "event_id":
            return per_event.copy(deep=False)
        raise ConfigError(
            field="by",
            value=by if isinstance(by, str) else type(by).__name__,
            expected="None or 'event_id' (pools of events are not computed at scale)",
        )

    # ------------------------------------------------------------------ presentation

    def summary(self) -> ResultsSummary:
        """Summary: setup, clustering diagnostics, CAAR tests, day-0 tests."""
        n_ev = len(self._clustering)
        header = [
            f"Event study (summary at scale): {self._model} model"
            + (f" on {self._market}" if self._market else "")
            + f", convention {self._convention}",
            f"Estimation window {self._estimation}, event window {self.window}; "
            f"{len(self._events)} firm-events in {n_ev} event(s); {len(self._excluded)} "
            f"excluded; {self._n_chunks} chunk(s)",
        ]
        tables: list[tuple[str, pd.DataFrame]] = []
        clustered = self._clustering[self._clustering["n_securities"] > 1]
        if len(clustered):
            header.append(
                "Clustered event dates: tests assuming independence over-reject; read "
                "portfolio, sur_wald, adjusted_patell, kolari_pynnonen and grank first."
            )
        d = self._clustering["design_effect"]
        tables.append(
            (
                "Clustering (over events)",
                pd.DataFrame(
                    {
                        "events": [n_ev],
                        "median n_securities": [float(self._clustering["n_securities"].median())],
                        "median rbar": [float(self._clustering["rbar"].median())],
                        "max design_effect": [float(d.max()) if len(d) else np.nan],
                    }
                ),
            )
        )
        caar = self._caar[self.window][["test", "statistic", "p_value", "caar", "n"]]
        tables.append((f"CAAR tests over {self.window}", caar))
        if self.window[0] <= 0 <= self.window[1]:
            day0 = self._aar[self._aar["rel_day"] == 0][["test", "statistic", "p_value"]]
            tables.append(("AAR tests on day 0", day0.reset_index(drop=True)))
        return ResultsSummary(header, tables)

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        return (
            f"<SummaryResults {self._model}/{self._convention}: {len(self._events)} "
            f"firm-events, {len(self._clustering)} events, window {self.window}, "
            f"{self._n_chunks} chunk(s)>"
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()
