"""The answer first: one verdict per event (and per configured pool), and the firm table.

A :class:`Verdict` says, for one event, whether its securities reacted abnormally on the
chosen (headline) window: the reacting session, the mean CAR with its 95% confidence
interval, the p-value and one plain sentence. It is built by one function,
:func:`build_verdicts`, from the results' tidy tables, with the test it rests on as an
explicit input (:class:`TestChoice`, which names the test and says why it is valid here).
The terminal, the top of ``index.html``, ``res.summary()`` and ``verdict.json`` print the
same :attr:`Verdict.sentence`.

Events are never pooled unless asked: a study's ``pool:`` (see :mod:`eventstudy.plan`)
gives a pooled verdict, labelled as a pool, beside the verdicts of its events.

This module is pure: it reads tidy DataFrames (``caar_tests(window, by="event_id")``,
``portfolio_car(window)``, ``car_paths()``, ``car(window)``, ``events``, ``excluded``,
``test_notes``) and imports only
the config vocabulary, the plan's pool type and the exceptions; the results object, the
runner and the report call it.

Notes
-----
The default test is the equal-weighted **portfolio** test (Brown and Warner 1980; Jaffe
1974): the event's securities form one portfolio whose abnormal return is regressed on the
same model over the estimation window, so any cross-correlation of the firms that share
the event date is inside the portfolio's own residual variance. Its CAR over a window
``[a, b]`` is ``CAR_p = sum_{t=a}^{b} AR_pt`` with the prediction-error standard error
``se_p = s_p sqrt(L2 + s_W' (X'X)^{-1} s_W)`` (``L2`` days, ``s_W`` the summed regressors of
the window), ``t = CAR_p / se_p`` against Student t with the portfolio regression's residual
degrees of freedom ``df``, and the 95% interval ``CAR_p +/- t_{0.975, df} se_p``. A lone
firm-event is its own portfolio. ``CAR_p`` and ``se_p`` are read from ``portfolio_car(window)``
(without it: ``CAR_p`` from ``car_paths()``, the portfolio path at ``b`` minus the path at
``a - 1``, and ``se_p = |CAR_p / t|`` from the test table).

A pool of ``E`` events (distinct dates) uses the same test across events:
``z = mean_e CAR_pe / (sqrt(sum_e se_pe^2) / E)``, standard normal, interval
``mean_e CAR_pe +/- 1.96 sqrt(sum_e se_pe^2) / E``; it assumes the events' portfolios are
independent, so a pool whose windows overlap is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special as _sp

from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError
from eventstudy.vocabulary import Window

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.plan import PoolPlan
    from eventstudy.results import EventStudyResults

__all__ = [
    "PORTFOLIO_TEST",
    "TestChoice",
    "Verdict",
    "bounds",
    "build_verdicts",
    "choose_test",
    "default_window",
    "firm_rows",
    "interval",
    "portfolio_car",
    "stars",
    "verdicts_from_results",
]


def stars(p: float | None) -> str:
    """``***`` for p < 0.01, ``**`` for p < 0.05, ``*`` for p < 0.10, else ``""``."""
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.01:
        return "***"
    if p < 0.05:
        return "**"
    if p < 0.10:
        return "*"
    return ""


@dataclass(frozen=True)
class TestChoice:
    """Which test a verdict rests on, and why it is valid for this clustering.

    Attributes
    ----------
    test : str
        A test name of the battery (a row of ``caar_tests``).
    words : str
        How sentences name it ("equal-weighted portfolio test").
    reason : str
        Why it is valid on these data (shown wherever the verdict is).
    estimate : {"portfolio", "mean"}
        What the interval is around: the event portfolio's CAR (``car_paths``) or the mean
        of the firm-events' CARs (the ``caar`` column).
    p_column : str
        The column of the test table read as the p-value (``p_value``; a calibrated
        column when one exists).
    interval : bool
        Whether the test's statistic is ``estimate / se`` (then the interval is
        ``estimate +/- q se`` with the test's reference distribution); else no interval.
    level : float
        Confidence level of the interval; the verdict's significance level is
        ``1 - level``.
    interval_columns : (str, str), optional
        Columns of ``portfolio_car(window)`` holding the interval (the calibrated,
        percentile-t interval); default: ``estimate +/- q se`` from the test.
    """

    __test__ = False  # not a pytest class

    test: str
    words: str
    reason: str
    estimate: Literal["portfolio", "mean"] = "portfolio"
    p_column: str = "p_value"
    interval: bool = True
    level: float = 0.95
    interval_columns: tuple[str, str] | None = None

    @property
    def alpha(self) -> float:
        """Significance level of the verdict."""
        return 1.0 - self.level

    @property
    def why(self) -> str:
        """``"<words>: <reason>"``, the line every verdict display carries."""
        return f"{self.words}: {self.reason}"


#: The default: valid under any cross-correlation inside an event.
PORTFOLIO_TEST = TestChoice(
    test="portfolio",
    words="equal-weighted portfolio test",
    reason="valid when the firms share the event date, whatever their cross-correlation: "
    "the portfolio's own estimation-window variance carries it",
)


@dataclass(frozen=True)
class Verdict:
    """The answer for one event (or one configured pool of events).

    Attributes
    ----------
    key : str
        The event id, or the pool's name.
    kind : {"event", "pool"}
    title : str
        The event's title, or the pool's.
    exchange : str
        Exchange code of the engine that measured it ("" for a lone results object).
    events : tuple of str
        The event itself, or the pool's members.
    session : date or None
        The reacting session (day 0) of an event; ``None`` for a pool.
    window : (int, int)
    n : int
        Firm-events measured (securities of the event; summed over a pool).
    estimate, se, ci_low, ci_high : float
        Mean CAR (fraction), its standard error and confidence interval (``NaN`` when the
        test gives none).
    statistic, p_value : float
    df : float
        Degrees of freedom of the reference distribution (``NaN``: standard normal).
    test : TestChoice
    excluded : tuple of str
        ``"<security>: <reason>"`` for the event's excluded firm-events.
    notes : tuple of str
        Why a test could not run, or what a pool assumes.
    """

    key: str
    kind: Literal["event", "pool"]
    title: str
    exchange: str
    events: tuple[str, ...]
    session: date | None
    window: Window
    n: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p_value: float
    test: TestChoice = PORTFOLIO_TEST
    excluded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def measured(self) -> bool:
        """At least one firm-event was measured."""
        return self.n > 0

    @property
    def detected(self) -> bool:
        """An abnormal reaction at the test's level (p below ``1 - level``)."""
        return self.measured and math.isfinite(self.p_value) and self.p_value < self.test.alpha

    @property
    def status(self) -> Literal["reaction", "no reaction", "no firm-event", "untestable"]:
        """What the verdict says, in one word (for styling and JSON)."""
        if not self.measured:
            return "no firm-event"
        if not math.isfinite(self.p_value):
            return "untestable"
        return "reaction" if self.detected else "no reaction"

    @property
    def headline(self) -> str:
        """The verdict in a few words, as prominent for "no" as for "yes"."""
        return {
            "reaction": "Abnormal reaction detected",
            "no reaction": "No abnormal reaction detected",
            "no firm-event": "No firm-event left: nothing measured",
            "untestable": "No answer: the test could not be computed",
        }[self.status]

    @property
    def window_label(self) -> str:
        return f"CAR{format_window(self.window)}"

    @property
    def scope(self) -> str:
        """The event (with its reacting session) or the pool, in words."""
        if self.kind == "pool":
            return f"pool of {len(self.events)} events ({', '.join(self.events)})"
        day = f", reacting session {self.session:%Y-%m-%d}" if self.session else ""
        return f"event {self.key}{day}"

    @property
    def numbers(self) -> str:
        """``mean CAR(0,+1) +1.23% (95% CI -0.50% to +2.96%), p = 0.162``."""
        if not self.measured:
            return ""
        text = f"mean {self.window_label} {_pct(self.estimate)}"
        if math.isfinite(self.ci_low) and math.isfinite(self.ci_high):
            text += f" ({self.test.level:.0%} CI {_pct(self.ci_low)} to {_pct(self.ci_high)})"
        return text + f", p {_p(self.p_value)}"

    @property
    def sentence(self) -> str:
        """The one plain sentence every display of the verdict prints."""
        if not self.measured:
            reasons = "; ".join(self.excluded) or "no firm-event in the results"
            return f"{self.headline} for {self.scope}: every firm-event was excluded ({reasons})."
        pooled = " pooled" if self.kind == "pool" else ""
        firms = f"{self.n} firm-event{'s' if self.n != 1 else ''}{pooled}"
        text = f"{self.headline} for {self.scope}: {self.numbers}; {firms}, {self.test.words}."
        if self.status == "untestable" and self.notes:
            text += " " + " ".join(self.notes)
        return text

    def as_record(self) -> dict[str, Any]:
        """A flat record for ``verdict.json`` and ``tables/verdicts.csv``."""
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "exchange": self.exchange,
            "events": list(self.events),
            "session": self.session.isoformat() if self.session else None,
            "window": format_window(self.window),
            "status": self.status,
            "headline": self.headline,
            "sentence": self.sentence,
            "n": self.n,
            "mean_car": _finite(self.estimate),
            "se": _finite(self.se),
            "ci_level": self.test.level,
            "ci_low": _finite(self.ci_low),
            "ci_high": _finite(self.ci_high),
            "statistic": _finite(self.statistic),
            "df": _finite(self.df),
            "p_value": _finite(self.p_value),
            "test": self.test.test,
            "test_words": self.test.words,
            "why_this_test": self.test.reason,
            "p_column": self.test.p_column,
            "excluded": list(self.excluded),
            "notes": list(self.notes),
        }


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%" if math.isfinite(x) else "n/a"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def default_window(window: Window) -> Window:
    """The headline window inside a computed window: ``(0, +1)`` when it fits, else the
    whole window."""
    lo, hi = window
    return (0, 1) if lo <= 0 and hi >= 1 else (int(lo), int(hi))


# ----------------------------------------------------------------------------- building


class _PortfolioPaths:
    """The ``portfolio`` rows of ``car_paths()``, indexed once: event id -> relative day ->
    row (so a verdict per event reads them without filtering the table again)."""

    def __init__(self, paths: pd.DataFrame) -> None:
        mine = np.flatnonzero(paths["security"].to_numpy(dtype=object) == "portfolio")
        ids = paths["event_id"].astype(str).to_numpy(dtype=object)[mine]
        days = paths["rel_day"].to_numpy()[mine]
        self._rows = mine
        self._car = paths["car"].to_numpy(dtype=float)[mine]
        self._date = paths["date"].array  # its elements as the table gives them (Timestamps)
        self._at: dict[str, dict[Any, int]] = {}
        for k, (eid, day) in enumerate(zip(ids.tolist(), days.tolist(), strict=True)):
            self._at.setdefault(eid, {})[day] = k

    def window(self, event_id: str, window: Window) -> tuple[float, Any, Any]:
        """:func:`portfolio_car` of one event."""
        at = self._at.get(event_id, {})
        a, b = window
        if b not in at:
            return math.nan, None, None
        end = float(self._car[at[b]])
        before = float(self._car[at[a - 1]]) if (a - 1) in at else 0.0
        before = before if math.isfinite(before) else 0.0  # nothing observed before day a
        first = self._date[self._rows[at[a]]] if a in at else None
        return end - before, first, self._date[self._rows[at[b]]]


def portfolio_car(paths: pd.DataFrame, event_id: str, window: Window) -> tuple[float, Any, Any]:
    """The event portfolio's CAR over ``window`` from its cumulative path (``car_paths()``):
    the path at the window's last day minus the path the day before its first; and the
    dates of the window's first and last days."""
    return _PortfolioPaths(paths).window(event_id, window)


def bounds(estimate: float, se: float, df: float, level: float) -> tuple[float, float]:
    """``estimate -/+ q se`` with ``q`` the quantile of Student t with ``df`` degrees of
    freedom (standard normal when ``df`` is NaN) at ``0.5 + level / 2``."""
    if not (math.isfinite(estimate) and math.isfinite(se)):
        return math.nan, math.nan
    q = (
        float(_sp.stdtrit(df, 0.5 + level / 2))
        if math.isfinite(df)
        else float(_sp.ndtri(0.5 + level / 2))
    )
    return estimate - q * se, estimate + q * se


def interval(estimate: float, statistic: float, df: float, level: float) -> tuple[float, ...]:
    """``(se, low, high)`` of a test whose statistic is ``estimate / se``: ``se = |estimate /
    statistic|`` and :func:`bounds`."""
    if not (math.isfinite(estimate) and math.isfinite(statistic)) or statistic == 0:
        return math.nan, math.nan, math.nan
    se = abs(estimate / statistic)
    return (se, *bounds(estimate, se, df, level))


def build_verdicts(
    tests: pd.DataFrame,
    paths: pd.DataFrame,
    events: pd.DataFrame,
    excluded: pd.DataFrame,
    *,
    window: Window,
    choice: TestChoice = PORTFOLIO_TEST,
    exchange: str = "",
    titles: Mapping[str, str] | None = None,
    expected: Sequence[str] = (),
    pools: Sequence[PoolPlan] = (),
    test_notes: pd.DataFrame | None = None,
    pool_tests: pd.DataFrame | None = None,
    portfolio: pd.DataFrame | None = None,
) -> list[Verdict]:
    """One verdict per event (in ``expected`` order, then the rest by date), then one per pool.

    Parameters
    ----------
    tests : DataFrame
        ``caar_tests(window, by="event_id")``: event_id, test, statistic, p_value, df,
        caar, n (and ``choice.p_column``).
    paths : DataFrame
        ``car_paths()`` (the ``portfolio`` rows give the portfolio's CAR).
    events, excluded : DataFrame
        The firm-events studied (event_id, security, event_date) and those left out
        (event_id, security, reason).
    window : (int, int)
        The headline CAR window.
    choice : TestChoice
        The test the verdicts rest on (default: the portfolio test).
    exchange : str
        The engine's exchange, recorded in each verdict.
    titles : mapping, optional
        Event id -> title (default: the id).
    expected : sequence of str
        Events the study expects on this exchange: one left without any firm-event still
        gets a verdict ("No firm-event left") naming why.
    pools : sequence of PoolPlan
        Pools the study asks for (members not in these results are left out of the pool).
    test_notes : DataFrame, optional
        ``test_notes`` (event_id, test, reason): why a test could not run.
    portfolio : DataFrame, optional
        ``portfolio_car(window)`` (event_id, car, se, df...): the portfolio's CAR and
        standard error as the engine computes them; without it the CAR comes from
        ``paths`` and the standard error from ``|CAR / t|``.
    pool_tests : DataFrame, optional
        ``caar_tests(window, by={event_id: pool name})`` of each pool (a ``pool`` column):
        the pooled verdicts read the chosen test there. Without it only the portfolio test
        can be pooled (by its formula across independent events).

    Returns
    -------
    list of Verdict
    """
    titles = dict(titles or {})
    if len(tests) and choice.test not in set(tests["test"]):
        raise ConfigError(
            field="verdict test",
            value=choice.test,
            expected="a test of the battery: " + ", ".join(dict.fromkeys(tests["test"])),
        )
    if len(tests) and choice.p_column not in tests.columns:
        raise ConfigError(
            field="verdict p-value column",
            value=choice.p_column,
            expected="a column of the test table: " + ", ".join(map(str, tests.columns)),
        )
    # every per-event lookup indexed once (filtering the small tables per event costs more
    # than the verdicts themselves)
    first: dict[str, int] = {}  # event id -> its first row of the chosen test
    if len(tests):
        chosen = np.flatnonzero(tests["test"].to_numpy(dtype=object) == choice.test)
        if len(chosen):
            ids = tests["event_id"].astype(str).to_numpy(dtype=object)[chosen].tolist()
            for eid, k in zip(ids, chosen.tolist(), strict=True):
                first.setdefault(eid, k)
    column = {c: tests[c].to_numpy() for c in tests.columns} if first else {}
    day0 = events["event_date"].groupby(events["event_id"].astype(str).to_numpy(), sort=False)
    day0 = day0.min()
    sessions = dict(zip(day0.index.tolist(), day0.tolist(), strict=True))
    order = [*dict.fromkeys(str(e) for e in expected)]
    order += [e for e in day0.sort_values(kind="stable").index.tolist() if e not in order]
    why = _notes_by_event(test_notes, choice.test)
    gone_by_event = _excluded_by_event(excluded)
    path = _PortfolioPaths(paths)
    prows: dict[str, int] = {}  # event id -> its first row of the portfolio table
    pcol: dict[str, np.ndarray] = {}
    if portfolio is not None and not portfolio.empty:
        for k, eid in enumerate(portfolio["event_id"].astype(str).tolist()):
            prows.setdefault(eid, k)
        pcol = {c: portfolio[c].to_numpy() for c in portfolio.columns}
    counts: dict[str, int] | None = None
    out: list[Verdict] = []
    parts: dict[str, tuple[float, float, int, Any, Any]] = {}
    for eid in order:
        gone = gone_by_event.get(eid, ())
        session = pd.Timestamp(sessions[eid]).date() if eid in sessions else None
        if session is None or eid not in first:
            out.append(_empty(eid, titles.get(eid, eid), exchange, window, choice, gone))
            continue
        k = first[eid]
        stat, p = float(column["statistic"][k]), float(column[choice.p_column][k])
        df = float(column["df"][k]) if "df" in column and pd.notna(column["df"][k]) else math.nan
        est, first_day, last_day = path.window(eid, window)
        prow = prows.get(eid)
        if choice.estimate == "portfolio" and prow is not None:
            est = float(pcol["car"][prow])
        elif choice.estimate != "portfolio":
            est = float(column["caar"][k])
        if not choice.interval:
            se, lo, hi = math.nan, math.nan, math.nan
        elif choice.interval_columns is not None and prow is not None:
            se = float(pcol["se"][prow])
            lo, hi = (float(pcol[c][prow]) for c in choice.interval_columns)
        elif choice.test == "portfolio" and prow is not None:
            se = float(pcol["se"][prow])
            lo, hi = bounds(est, se, df, choice.level)
        else:
            se, lo, hi = interval(est, stat, df, choice.level)
        if "n" in column:
            n = int(column["n"][k])
        else:
            if counts is None:
                counts = {}
                for e in events["event_id"].astype(str).tolist():
                    counts[e] = counts.get(e, 0) + 1
            n = counts.get(eid, 0)
        out.append(
            Verdict(
                key=eid,
                kind="event",
                title=titles.get(eid, eid),
                exchange=exchange,
                events=(eid,),
                session=session,
                window=window,
                n=n,
                estimate=est,
                se=se,
                ci_low=lo,
                ci_high=hi,
                statistic=stat,
                df=df,
                p_value=p,
                test=choice,
                excluded=gone,
                notes=tuple(why.get(eid, ())) if not math.isfinite(p) else (),
            )
        )
        parts[eid] = (est, se, n, first_day, last_day)
    for pool in pools:
        out.append(_pool(pool, parts, exchange, window, choice, pool_tests))
    return out


def _notes_by_event(notes: pd.DataFrame | None, test: str) -> dict[str, list[str]]:
    if notes is None or notes.empty or not {"event_id", "test", "reason"} <= set(notes.columns):
        return {}
    mine = np.flatnonzero(notes["test"].to_numpy(dtype=object) == test)
    ids = notes["event_id"].astype(str).to_numpy(dtype=object)[mine].tolist()
    out: dict[str, list[str]] = {}
    for eid, reason in zip(ids, notes["reason"].to_numpy(dtype=object)[mine].tolist(), strict=True):
        out.setdefault(eid, []).append(f"{test}: {reason}.")
    return out


def _excluded_by_event(excluded: pd.DataFrame | None) -> dict[str, tuple[str, ...]]:
    """Each event's excluded firm-events, ``"<securities>: <reason>"`` per reason (in the
    order the reasons first appear)."""
    if excluded is None or excluded.empty:
        return {}
    by_event: dict[str, dict[str, list[str]]] = {}
    for eid, sec, why in zip(
        excluded["event_id"].astype(str).tolist(),
        excluded["security"].astype(str).tolist(),
        excluded["reason"].astype(str).tolist(),
        strict=True,
    ):
        by_event.setdefault(eid, {}).setdefault(why, []).append(sec)
    return {
        eid: tuple(f"{', '.join(secs)}: {why}" for why, secs in by_reason.items())
        for eid, by_reason in by_event.items()
    }


def _empty(
    eid: str, title: str, exchange: str, window: Window, choice: TestChoice, gone: tuple[str, ...]
) -> Verdict:
    nan = math.nan
    return Verdict(
        key=eid,
        kind="event",
        title=title,
        exchange=exchange,
        events=(eid,),
        session=None,
        window=window,
        n=0,
        estimate=nan,
        se=nan,
        ci_low=nan,
        ci_high=nan,
        statistic=nan,
        df=nan,
        p_value=nan,
        test=choice,
        excluded=gone,
    )


def _pool(
    pool: PoolPlan,
    parts: Mapping[str, tuple[float, float, int, Any, Any]],
    exchange: str,
    window: Window,
    choice: TestChoice,
    pool_tests: pd.DataFrame | None,
) -> Verdict:
    """The chosen test across the pool's events (``caar_tests(window, by={event: pool})``);
    without that table, the portfolio test's formula across independent events."""
    members = [e for e in pool.events if e in parts and math.isfinite(parts[e][0])]
    notes = []
    missing = [e for e in pool.events if e not in members]
    if missing:
        notes.append("left out of the pool (nothing measured): " + ", ".join(missing))
    spans = [(e, parts[e][3], parts[e][4]) for e in members if parts[e][3] is not None]
    for i, (a, a0, a1) in enumerate(spans):
        for b, b0, b1 in spans[i + 1 :]:
            if a0 <= b1 and b0 <= a1:
                notes.append(
                    f"the {format_window(window)} windows of {a} and {b} overlap: the pooled "
                    "test assumes independent events"
                )
    E = len(members)
    row = None
    if pool_tests is not None and len(pool_tests):
        hit = pool_tests[
            (pool_tests["pool"].astype(str) == pool.name) & (pool_tests["test"] == choice.test)
        ]
        row = hit.iloc[0] if len(hit) else None
    if choice.estimate == "portfolio":
        est = float(np.mean([parts[e][0] for e in members])) if E else math.nan
    else:
        est = float(row["caar"]) if row is not None else math.nan
    if row is not None:
        stat, p = float(row["statistic"]), float(row[choice.p_column])
        df = float(row["df"]) if "df" in row and pd.notna(row["df"]) else math.nan
    elif choice.test == "portfolio":  # mean CAR_p / (sqrt(sum se_p^2) / E), standard normal
        se = np.array([parts[e][1] for e in members], dtype=float)
        sd = float(np.sqrt(np.sum(se**2)) / E) if E and np.isfinite(se).all() else math.nan
        stat = est / sd if E and math.isfinite(sd) and sd > 0 else math.nan
        p = float(2 * _sp.ndtr(-abs(stat))) if math.isfinite(stat) else math.nan
        df = math.nan
    else:
        raise ConfigError(
            field="pool verdict",
            value=choice.test,
            expected="the pooled test table (caar_tests(window, by={event: pool})) for a "
            "test other than the portfolio test",
        )
    se_p, lo, hi = interval(est, stat, df, choice.level) if choice.interval else (math.nan,) * 3
    pooled = TestChoice(
        test=choice.test,
        words=f"{choice.words} pooled across events",
        reason=choice.reason + "; across events, the mean of the events' portfolio CARs "
        "over the root sum of their variances (independent events)"
        if choice.test == "portfolio"
        else choice.reason + "; across events, the test on the pool's firm-events",
        estimate=choice.estimate,
        p_column=choice.p_column,
        interval=choice.interval,
        level=choice.level,
    )
    return Verdict(
        key=pool.name,
        kind="pool",
        title=pool.title,
        exchange=exchange,
        events=tuple(members),
        session=None,
        window=window,
        n=int(sum(parts[e][2] for e in members)),
        estimate=est,
        se=se_p,
        ci_low=lo,
        ci_high=hi,
        statistic=stat,
        df=df,
        p_value=p,
        test=pooled,
        notes=tuple(notes),
    )


#: Tests of the mean CAR a verdict may rest on, in order of preference: the portfolio test
#: first (its estimate is the event portfolio's CAR, with an interval), then the other tests
#: whose variance carries the cross-correlation, then the rest. ``sur_wald`` (all CARs zero,
#: not their mean) is not a verdict on the mean reaction.
VERDICT_PREFERENCE: tuple[str, ...] = (
    "portfolio",
    "sur_wald_mean",
    "brown_warner_1985",
    "lamb",
    "kolari_pynnonen",
    "adjusted_patell",
    "grank",
    "corrado_rank",
    "modified_rank",
    "corrado_sign",
    "t_test",
    "bmp",
    "patell",
    "brown_warner_1980",
    "generalized_sign",
    "sign",
    "wilcoxon",
)

_WORDS: dict[str, str] = {
    "portfolio": "equal-weighted portfolio test",
    "sur_wald_mean": "SUR Wald test of the mean CAR",
    "brown_warner_1985": "Brown-Warner (1985) test",
    "lamb": "Lamb (1995) test",
    "kolari_pynnonen": "Kolari-Pynnonen adjusted BMP test",
    "adjusted_patell": "Kolari-Pynnonen adjusted Patell test",
    "grank": "generalized rank (GRANK) test",
}

#: Fewest placebo studies behind a measured size for the verdict to rely on it.
MIN_PLACEBOS = 100


def choose_test(
    tests: pd.DataFrame, *, level: float = 0.05, min_placebos: int = MIN_PLACEBOS
) -> TestChoice:
    """The test the verdicts rest on, from each test's size measured on this study's placebos.

    Parameters
    ----------
    tests : DataFrame
        ``caar_tests(window, by="event_id")`` of a calibrated results object (columns
        ``size_5pct``, ``size_ci_low``, ``size_ci_high``, ``n_placebo``, ``p_calibrated``).
    level : float
        The nominal level whose size is judged (the placebos measure 5%).

    Returns
    -------
    TestChoice
        The first test of :data:`VERDICT_PREFERENCE` that is *valid here* on every event:
        ``level`` inside the Clopper-Pearson 95% interval of its measured size, with at least
        ``min_placebos`` placebo studies. When none is, the portfolio test with calibrated
        p-values and the percentile-t interval (the placebos are then the null distribution
        itself). Without the size columns (an uncalibrated study): the portfolio test.

    Notes
    -----
    "Valid here" is a measurement, not a fixed list: a test that assumes independence can
    be valid on independent securities, and a test built for cross-correlation can fail on
    fat-tailed data. The reason of the choice states the measured size and its interval.
    """
    need = {"size_5pct", "size_ci_low", "size_ci_high", "n_placebo"}
    if tests is None or tests.empty or not need <= set(tests.columns):
        return PORTFOLIO_TEST
    ok = tests[tests["n_placebo"] >= min_placebos]
    if ok.empty:
        return PORTFOLIO_TEST
    events = ok["event_id"].nunique() if "event_id" in ok.columns else 1
    summary = []
    for test in VERDICT_PREFERENCE:
        g = ok[ok["test"] == test]
        if len(g) < events:
            continue
        inside = (g["size_ci_low"] <= level) & (level <= g["size_ci_high"])
        lo, hi = float(g["size_5pct"].min()), float(g["size_5pct"].max())
        size = f"{lo:.1%}" if np.isclose(lo, hi) else f"{lo:.1%}-{hi:.1%}"
        summary.append(f"{test} {size}")
        if bool(inside.all()):
            n = int(g["n_placebo"].min())
            return TestChoice(
                test=test,
                words=_WORDS.get(test, f"{test} test"),
                reason=f"valid here: it rejected {size} of {n} placebo studies of this "
                f"study's securities at a nominal {level:.0%} (inside the 95% binomial "
                "interval of its measured size)",
                estimate="portfolio" if test == "portfolio" else "mean",
                interval=test not in ("sur_wald_mean", "grank", "corrado_rank",
                                      "modified_rank", "corrado_sign", "sign",
                                      "generalized_sign", "wilcoxon"),
            )  # fmt: skip
    n = int(ok["n_placebo"].min())
    return TestChoice(
        test="portfolio",
        words="equal-weighted portfolio test, calibrated",
        reason=f"no test kept its nominal {level:.0%} size on this study's {n} placebo "
        f"studies (measured: {'; '.join(summary[:4])}): the p-value is the portfolio's rank "
        "among its placebo portfolios and the interval is percentile-t",
        p_column="p_calibrated",
        interval_columns=("ci_low_calibrated", "ci_high_calibrated"),
    )


def verdicts_from_results(
    results: EventStudyResults,
    window: Window | None = None,
    *,
    choice: TestChoice | None = None,
    exchange: str = "",
    titles: Mapping[str, str] | None = None,
    expected: Sequence[str] = (),
    pools: Sequence[PoolPlan] = (),
) -> list[Verdict]:
    """:func:`build_verdicts` on the tables of one results object (default window:
    :func:`default_window` of its computed window). Unless ``expected`` says otherwise,
    every event of the results is answered, also one whose firm-events were all excluded
    (its verdict names them and why). Without ``choice``, the test is chosen from the
    sizes measured on the study's placebos when it is calibrated (:func:`choose_test`),
    else the portfolio test."""
    w = tuple(window) if window is not None else default_window(results.window)
    tests = results.caar_tests(w, by="event_id")
    if choice is None:
        choice = choose_test(tests)
    events, excluded = results.events, results.excluded
    if not expected:
        day0 = events.groupby("event_id", sort=False)["event_date"].min().sort_values(kind="stable")
        expected = [str(e) for e in day0.index]
        expected += [
            e for e in dict.fromkeys(excluded["event_id"].astype(str)) if e not in expected
        ]
    known = set(events["event_id"].astype(str))
    pooled = []
    for pool in pools:
        members = {e: pool.name for e in pool.events if e in known}
        if members:
            pooled.append(results.caar_tests(w, by=members))
    return build_verdicts(
        tests,
        results.car_paths(),
        events,
        excluded,
        window=w,  # type: ignore[arg-type]
        choice=choice,
        exchange=exchange,
        titles=titles,
        expected=expected,
        pools=pools,
        test_notes=results.test_notes,
        pool_tests=pd.concat(pooled, ignore_index=True) if pooled else None,
        portfolio=results.portfolio_car(w),
    )


# ----------------------------------------------------------------------------- firms


def _measure_columns(
    t: Mapping[str, Any], measure: str, window: tuple[int, int], estimate: str, suffix: str
) -> dict[str, np.ndarray]:
    """One measure's rows of :func:`firm_rows` from a ``firm_table`` (or its columns), as
    arrays: the columns ``estimate``, ``se<suffix>``, ``t<suffix>``, ``p<suffix>``,
    ``p_sq<suffix>`` (``NaN`` when absent) and ``stars<suffix>``."""
    ids = np.asarray(t["event_id"], dtype=object)
    n = len(ids)
    sq = f"p_sq{suffix}"
    return {
        "event_id": ids,
        "security": np.asarray(t["security"], dtype=object),
        "day0": np.asarray(t["day0"]),
        "measure": np.full(n, measure, dtype=object),
        "start": np.full(n, int(window[0]), dtype=np.int64),
        "end": np.full(n, int(window[1]), dtype=np.int64),
        "estimate": np.asarray(t[estimate]),
        "se": np.asarray(t[f"se{suffix}"]),
        "t": np.asarray(t[f"t{suffix}"]),
        "p_value": np.asarray(t[f"p{suffix}"]),
        "p_sq": np.asarray(t[sq]) if sq in t else np.full(n, np.nan),
        "stars": np.asarray(t[f"stars{suffix}"], dtype=object),
    }


#: The columns of :func:`firm_rows`, in order.
FIRM_COLUMNS: tuple[str, ...] = (
    "event_id", "security", "name", "role", "day0", "measure", "start", "end",
    "estimate", "se", "t", "p_value", "p_sq", "stars",
)  # fmt: skip


def firm_rows(
    tables: Mapping[Window, pd.DataFrame] | Mapping[Window, Mapping[str, np.ndarray]],
    *,
    labels: Mapping[str, str] | None = None,
    roles: Mapping[str, str] | None = None,
    role_order: Sequence[str] = ("oem", "peer", "other", "benchmark"),
) -> pd.DataFrame:
    """The per-firm table in long form: day-0 AR once, then each CAR window.

    Parameters
    ----------
    tables : mapping of window to DataFrame
        ``res.firm_table(window)`` for each CAR window (same firm-events in each), or its
        columns as arrays (``res.firm_columns(window)``).
    labels, roles : mapping, optional
        Security -> display name and role (``oem``, ``peer``...).

    Returns
    -------
    DataFrame
        event_id, security, name, role, day0, measure (``AR(0)``, ``CAR(0,+1)``...), start,
        end, estimate, se, t, p_value, p_sq (the SQ test: no normality assumed), stars;
        firms ordered by role then as first listed.
    """
    labels, roles = dict(labels or {}), dict(roles or {})
    blocks = []
    for i, (w, t) in enumerate(tables.items()):
        if i == 0:  # day 0's AR, read from the first table (every table carries it)
            blocks.append(_measure_columns(t, "AR(0)", (0, 0), "ar0", "_ar0"))
        blocks.append(_measure_columns(t, f"CAR{format_window(w)}", w, "car", "_car"))
    if not blocks or not sum(len(b["event_id"]) for b in blocks):
        return pd.DataFrame(columns=list(FIRM_COLUMNS))
    # the measures' rows one after the other, then ordered and framed once
    cols = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    sec = [str(x) for x in cols["security"].tolist()]
    cols["name"] = np.array([labels.get(x, x) for x in sec], dtype=object)
    cols["role"] = np.array([roles.get(x, "") for x in sec], dtype=object)
    rank = {r: i for i, r in enumerate(role_order)}
    listed = {x: i for i, x in enumerate(dict.fromkeys([*labels, *sec]))}
    measure = cols["measure"].tolist()
    event = cols["event_id"].tolist()
    measures = {m: i for i, m in enumerate(dict.fromkeys(measure))}
    events = {e: i for i, e in enumerate(dict.fromkeys(event))}
    n = len(sec)
    keys = [
        np.fromiter(map(events.__getitem__, event), np.int64, n),
        np.fromiter((rank.get(r, len(rank)) for r in cols["role"].tolist()), np.int64, n),
        np.fromiter(map(listed.__getitem__, sec), np.int64, n),
        np.fromiter(map(measures.__getitem__, measure), np.int64, n),
    ]
    order = np.lexsort(keys[::-1])  # by event, role, security, measure; stable
    return pd.DataFrame({name: cols[name][order] for name in FIRM_COLUMNS})
