"""Brown–Warner placebo simulation: which test can be trusted on *this* study's data.

The study's own securities and history are re-used: pseudo-event dates are drawn from the
sample (away from the real event windows, with enough history for the estimation window), the
study's structure is kept (the securities that share a real event date share each pseudo date:
one cluster per draw; the same estimation window, event window and model), and every test is run
on every placebo study. The share of placebo studies in which a test rejects at level ``a`` is its
empirical size; a valid test rejects about ``a`` of the time. Adding an abnormal return of
``delta`` to every security's day-0 return gives the power curve.

All placebo studies are computed at once, by the engine itself: draw ``d`` is event
``placebo-d`` (a cluster of the template event's securities on the pseudo date), the draws are
fitted in one :func:`eventstudy.event_study` call and every test is read from the one battery
(:func:`eventstudy.battery.run_battery`) with one block per draw. So the lab measures exactly the
tests a study reports, in every convention and with any engine option (Dimson lags, factors);
there is no second copy of the statistics to keep in step.

Sizes are reported with a binomial interval, Clopper–Pearson (exact, conservative) by default or
Wilson; the verdicts adjust it for the number of windows judged (Bonferroni).

References
----------
Brown, S. J. and Warner, J. B. (1980). Measuring security price performance. *Journal of
Financial Economics* 8(3), 205–258.

Brown, S. J. and Warner, J. B. (1985). Using daily stock returns: the case of event studies.
*Journal of Financial Economics* 14(1), 3–31.

Kolari, J. W. and Pynnönen, S. (2010). Event study testing with cross-sectional correlation of
abnormal returns. *Review of Financial Studies* 23(11), 3996–4025.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.calibration import CIMethod, binomial_interval
from eventstudy.config import format_window
from eventstudy.exceptions import (
    ClusteredEventWarning,
    ConfigError,
    DataError,
    EventStudyWarning,
)
from eventstudy.parallel import Backend, Scheduler, check_compute
from eventstudy.placebo import (
    Window,
    as_columns,
    draw_placebo_events,
    eligible_positions,
)
from eventstudy.vocabulary import TEST_NAMES

__all__ = [
    "VERDICTS",
    "SimulationResults",
    "binomial_interval",
    "draw_placebo_events",
    "eligible_positions",
    "inject_day0",
    "placebo_pvalues",
    "rejection_rates",
    "simple_returns",
    "simulate",
    "simulate_from_run",
    "study_parts",
    "study_settings",
    "synthetic_returns",
    "verdicts",
    "window_label",
]

#: The verdicts :func:`verdicts` can give, from the most to the least serious.
VERDICTS: tuple[str, ...] = (
    "over-rejects on clustered dates",
    "over-rejects",
    "under-rejects",
    "low power",
    "valid",
)


_SEP = "|"  # security|draw column labels of the stacked panel


# ----------------------------------------------------------------------------- helpers


#: Columns of :attr:`SimulationResults.power`.
_POWER_COLUMNS = (
    "test",
    "kind",
    "window",
    "injected",
    "level",
    "n_draws",
    "rejections",
    "rejection_rate",
    "ci_low",
    "ci_high",
)


def window_label(kind: str, window: Window | int) -> str:
    """Label of a tested window: ``"AR(0)"`` for a day, ``"CAR(-1,+1)"`` for a window.

    Parameters
    ----------
    kind : {"aar", "caar"}
        Daily test of the mean AR on one relative day, or test of the mean CAR over a window.
    window : int or (int, int)
        The relative day (``"aar"``) or the inclusive window (``"caar"``).
    """
    if kind == "aar":
        day = window if isinstance(window, int | np.integer) else window[0]
        return f"AR({int(day):+d})" if day else "AR(0)"
    return "CAR" + format_window(window)  # type: ignore[arg-type]


def inject_day0(
    returns: pd.DataFrame,
    placebo: pd.DataFrame,
    delta: float = 0.0,
    *,
    keep: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every placebo firm-event its own return column and add ``delta`` on its day 0.

    Draws share sessions (one draw's day 0 can sit in another draw's estimation or event window),
    so adding ``delta`` to the shared panel would leak into other draws. Here each (security, draw)
    gets a copy of the security's return column, labelled ``"security|event_id"``, and ``delta`` is
    added to that copy on that draw's day 0 only. The market and factor columns (``keep``) are
    shared and left untouched.

    Parameters
    ----------
    returns : DataFrame
        Returns panel.
    placebo : DataFrame
        Output of :func:`draw_placebo_events` (``event_id``, ``security``, ``event_date``).
    delta : float
        Abnormal return added to the day-0 return (in return units: 0.01 is 1%).
    keep : sequence of str
        Shared columns (market, factors) copied as they are.

    Returns
    -------
    (returns, events) : tuple of DataFrame
        The stacked panel and the events re-pointed at the per-draw columns
        (``security`` is the new label; ``security_orig`` keeps the original).

    Notes
    -----
    With a model linear in its regressors whose parameters are estimated on the estimation window
    only (market, constant mean, market adjusted, factor models), the day-0 abnormal return is
    ``AR_0 = R_0 - (alpha_hat + beta_hat' X_0)`` and the estimates do not use ``R_0``; so adding
    ``delta`` to ``R_0`` adds exactly ``delta`` to ``AR_0`` and changes no other AR (the property
    is tested in ``tests/test_simulate.py``).
    """
    secs = placebo["security"].astype(str).to_numpy()
    labels = np.array(
        [f"{a}{_SEP}{b}" for a, b in zip(secs, placebo["event_id"].astype(str), strict=True)],
        dtype=object,
    )
    src = returns.columns.get_indexer(secs)
    if (src < 0).any():
        raise ConfigError(
            field="placebo.security",
            value=sorted(set(secs[src < 0])),
            expected="columns of returns",
        )
    values = returns.to_numpy(dtype=float, copy=False)
    block = values[:, src].copy()
    if delta:
        rows = returns.index.get_indexer(pd.DatetimeIndex(placebo["event_date"]))
        if (rows < 0).any():
            raise DataError(detail="a placebo day 0 is not a session of returns")
        block[rows, np.arange(len(src))] += float(delta)
    kept = list(keep)
    data = np.hstack([values[:, returns.columns.get_indexer(kept)], block]) if kept else block
    panel = pd.DataFrame(data, index=returns.index, columns=[*kept, *labels.tolist()])
    events = pd.DataFrame(
        {
            "security": labels,
            "event_date": pd.DatetimeIndex(placebo["event_date"]),
            "event_id": placebo["event_id"].to_numpy(),
            "security_orig": secs,
        }
    )
    return panel, events


# ----------------------------------------------------------------------------- engine


def _event_study(**kwargs: Any) -> Any:
    """Call the engine with the warnings that placebo clusters raise by design silenced."""
    from eventstudy.study import event_study

    with warnings.catch_warnings():
        # Every placebo draw is a cluster on purpose: the warning would fire once per draw.
        warnings.simplefilter("ignore", ClusteredEventWarning)
        warnings.simplefilter("ignore", EventStudyWarning)
        return event_study(**kwargs)


def placebo_pvalues(
    res: Any,
    *,
    days: Sequence[int],
    car_windows: Sequence[Window],
    deltas: Sequence[float] = (0.0,),
    tests: Sequence[str] | None = None,
    draws: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every draw's statistic and p-value, from the one battery with one block per event.

    Parameters
    ----------
    res : EventStudyResults
        The engine's results on the placebo events (``event_id`` ``placebo-00000``...).
    days, car_windows
        Daily tests recorded on ``days`` (the tested window is ``(min(days), max(days))``, as
        ``aar_tests`` would test it) and CAR tests over each window.
    deltas : sequence of float
        Abnormal returns added to every firm-event's day-0 return (0 for the null):
        :meth:`eventstudy.battery.BatteryInput.shifted`.
    tests : sequence of str, optional
    draws : ndarray of int, optional
        Restrict to these draw numbers (the power runs use the first ``power_draws``).

    Returns
    -------
    DataFrame
        ``draw``, ``injected``, ``kind``, ``window``, ``test``, ``statistic``, ``p_value``,
        sorted by injected, kind, window, test and draw.
    """
    from eventstudy.battery import run_battery

    inp = res.battery_input("event_id")
    labels = [str(e) for e in res.clustering["event_id"]]
    draw_no = np.array([int(e.rsplit("-", 1)[1]) for e in labels])
    if draws is not None:
        sel = np.flatnonzero(np.isin(draw_no, draws))
        inp = inp.take_clusters(sel)
        draw_no = draw_no[sel]
    w0 = int(res.window[0])
    parts: list[tuple[float, str, str, str, np.ndarray, np.ndarray]] = []
    day_cols = np.arange(min(days), max(days) + 1) - w0 if len(days) else np.array([], int)
    for delta in deltas:
        run_inp = inp.shifted(-w0, float(delta)) if delta else inp
        if len(day_cols):
            daily = run_battery(run_inp, day_cols, False, tests)
            for d in days:
                j = int(d) - min(days)
                label = window_label("aar", int(d))
                for name, r in daily.items():
                    parts.append(
                        (float(delta), "aar", label, name, r.statistic[:, j], r.p_value[:, j])
                    )
        for w in car_windows:
            a, b = (int(x) for x in w)
            cum = run_battery(run_inp, np.arange(a, b + 1) - w0, True, tests)
            label = window_label("caar", (a, b))
            for name, r in cum.items():
                parts.append((float(delta), "caar", label, name, r.statistic, r.p_value))
    n = len(draw_no)

    def rep(i: int) -> np.ndarray:
        return np.repeat(np.array([x[i] for x in parts], dtype=object), n)

    out = pd.DataFrame(
        {
            "draw": np.tile(draw_no, len(parts)).astype(int),
            "injected": np.repeat([x[0] for x in parts], n).astype(float),
            "kind": rep(1).astype(str),
            "window": rep(2).astype(str),
            "test": rep(3).astype(str),
            "statistic": np.concatenate([np.asarray(x[4], dtype=float) for x in parts]),
            "p_value": np.concatenate([np.asarray(x[5], dtype=float) for x in parts]),
        }
    )
    return _sorted_pvalues(out)


def _sorted_pvalues(pvalues: pd.DataFrame) -> pd.DataFrame:
    """The lab's row order: injected, kind, window, test, then draw."""
    return pvalues.sort_values(
        ["injected", "kind", "window", "test", "draw"], kind="stable"
    ).reset_index(drop=True)


#: Placebo draws per chunk when :func:`simulate` runs on a backend and ``chunk_draws`` is not
#: given. A constant, so that the chunks (hence every floating-point sum) are the same
#: whatever the number of workers.
CHUNK_DRAWS = 100


@dataclass(frozen=True, eq=False)
class _LabSpec:
    """What every worker of a chunked :func:`simulate` holds (sent once per worker)."""

    returns: pd.DataFrame
    engine: dict[str, Any]
    days: tuple[int, ...]
    car_windows: list[tuple[int, int]]
    tests: Sequence[str] | None
    injected: tuple[float, ...]
    power_draws: int


def _lab_chunk(spec: _LabSpec, placebo: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A worker's task: the engine and the battery on one chunk of placebo draws (null
    p-values, and the power runs of its draws below ``power_draws``)."""
    res = _event_study(
        returns=spec.returns, events=placebo[["security", "event_date", "event_id"]], **spec.engine
    )
    kw: dict[str, Any] = {"days": spec.days, "car_windows": spec.car_windows}
    null = placebo_pvalues(res, tests=spec.tests, **kw)
    power = None
    powered = np.unique(placebo["draw"].to_numpy())
    powered = powered[powered < spec.power_draws]
    if len(spec.injected) and len(powered):
        power = placebo_pvalues(
            res, tests=spec.tests, deltas=list(spec.injected), draws=powered, **kw
        )
    return null, power


def _draw_chunks(placebo: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """Consecutive chunks of ``size`` draws (the rows are sorted by draw)."""
    draw = placebo["draw"].to_numpy()
    edges = np.searchsorted(draw, np.arange(0, int(draw.max()) + size + 1, size))
    return [placebo.iloc[a:b] for a, b in itertools.pairwise(edges) if b > a]


# ----------------------------------------------------------------------------- tables


def rejection_rates(
    pvalues: pd.DataFrame,
    levels: Sequence[float] = (0.01, 0.05, 0.10),
    *,
    by: Sequence[str] = ("test", "kind", "window"),
    confidence: float = 0.95,
    ci_method: CIMethod = "clopper-pearson",
) -> pd.DataFrame:
    """Rejection rate of each test at each level, with its binomial interval.

    A draw rejects at level ``a`` when its p-value is ``<= a``; draws whose p-value is NaN (test
    not computable) are left out of ``n_draws``.

    Parameters
    ----------
    pvalues : DataFrame
        One row per draw and test: the ``by`` columns and ``p_value``
        (:attr:`SimulationResults.pvalues`).
    levels : sequence of float
        Nominal levels.
    by : sequence of str
        Grouping columns.
    confidence, ci_method
        The binomial interval (see :func:`binomial_interval`).

    Returns
    -------
    DataFrame
        ``by`` columns, ``level``, ``n_draws``, ``rejections``, ``rejection_rate``, ``ci_low``,
        ``ci_high``.
    """
    keys = list(by)
    p = pvalues.dropna(subset=["p_value"])
    rows = []
    for level in levels:
        g = (
            p.assign(_rej=(p["p_value"] <= level).astype(int))
            .groupby(keys, sort=False, observed=True)["_rej"]
            .agg(["size", "sum"])
            .reset_index()
        )
        g["level"] = float(level)
        rows.append(g)
    if not rows:
        return pd.DataFrame(columns=[*keys, "level", "n_draws", "rejections", "rejection_rate"])
    out = pd.concat(rows, ignore_index=True).rename(
        columns={"size": "n_draws", "sum": "rejections"}
    )
    out["rejection_rate"] = out["rejections"] / out["n_draws"]
    low, high = binomial_interval(out["rejections"], out["n_draws"], confidence, ci_method)
    out["ci_low"], out["ci_high"] = low, high
    cols = [*keys, "level", "n_draws", "rejections", "rejection_rate", "ci_low", "ci_high"]
    return out[cols]


def verdicts(
    size: pd.DataFrame,
    power: pd.DataFrame | None = None,
    *,
    level: float = 0.05,
    power_at: float = 0.02,
    min_power: float = 0.25,
    relative_power: float = 0.5,
    clustered: bool = True,
    confidence: float = 0.95,
    ci_method: CIMethod = "clopper-pearson",
    tolerance: float = 0.2,
) -> pd.DataFrame:
    """One verdict per test from its empirical size and power.

    Each test is judged on all its tested windows at once, with binomial intervals at
    confidence ``1 - (1 - confidence) / n_windows`` (Bonferroni over the windows, so that a
    valid test is not condemned by one unlucky window out of four) and a materiality margin
    ``tolerance`` (a rate must be beyond ``level * (1 ± tolerance)`` as well). Rules, in order
    (the first that applies wins):

    1. ``"over-rejects on clustered dates"`` (``"over-rejects"`` when no event is a cluster,
       ``clustered=False``): in some tested window the interval lies above ``level`` and the
       rate above ``level * (1 + tolerance)``. The label says that the test over-rejects on
       placebo studies with this study's clusters; it does not by itself prove that the
       clustering is the cause (compare with a run on independent data).
    2. ``"under-rejects"``: in some window the interval lies below ``level`` and the rate below
       ``level * (1 - tolerance)`` (the test is conservative, or too discrete for this number
       of securities: it rarely rejects, under the null and usually under the alternative).
    3. ``"low power"``: the rejection rate at ``level`` when ``power_at`` is injected on day 0
       (primary window: the first daily window, else the first CAR window) is below ``min_power``,
       or below ``relative_power`` times that of the most powerful test not flagged by 1 or 2.
    4. ``"valid"`` otherwise.

    Power is not size-adjusted: a test that over-rejects looks powerful, which is why rule 1
    comes first.

    Parameters
    ----------
    size : DataFrame
        :attr:`SimulationResults.size`.
    power : DataFrame, optional
        :attr:`SimulationResults.power`; without it rule 3 is skipped.
    level : float
        The nominal level judged (one of the simulated levels).
    power_at, min_power, relative_power
        Rule 3.
    clustered : bool
        Whether the study has events shared by several securities (the label of rule 1).
    confidence, ci_method, tolerance
        Intervals and margin of rules 1–2.

    Returns
    -------
    DataFrame
        ``test``, ``verdict``, ``size`` and ``ci_low``/``ci_high`` at ``level`` (the
        Bonferroni-adjusted interval; worst window: the window that decided rules 1–2, else the
        primary one), ``window`` (that window),
        ``power`` (at ``power_at``, primary window; NaN without power), ``reason``.
    """
    over_label = "over-rejects on clustered dates" if clustered else "over-rejects"
    s = size[np.isclose(size["level"], level)].copy()
    if s.empty:
        raise ConfigError(
            field="level", value=level, expected=f"one of {sorted(size['level'].unique())}"
        )
    pw = None
    if power is not None and len(power):
        pw = power[np.isclose(power["level"], level) & np.isclose(power["injected"], power_at)]
        if pw.empty:
            pw = None
    pw_map: dict[tuple[str, str], float] = {}
    if pw is not None:
        pw_map = dict(
            zip(zip(pw["test"], pw["window"], strict=True), pw["rejection_rate"], strict=True)
        )
    rows = []
    for test, g in s.groupby("test", sort=False):
        aar = g[g["kind"] == "aar"]
        primary = aar.iloc[0] if len(aar) else g.iloc[0]
        conf = 1.0 - (1.0 - confidence) / len(g)
        lo, hi = binomial_interval(g["rejections"], g["n_draws"], conf, ci_method)
        g = g.assign(ci_low=lo, ci_high=hi)
        primary = g.loc[primary.name]
        rate = g["rejection_rate"]
        over = g[(g["ci_low"] > level) & (rate > level * (1 + tolerance))]
        under = g[(g["ci_high"] < level) & (rate < level * (1 - tolerance))]
        pwr = float(pw_map.get((test, primary["window"]), np.nan))
        if len(over):
            worst = over.loc[over["rejection_rate"].idxmax()]
            verdict = over_label
            reason = (
                f"rejects {worst['rejection_rate']:.1%} of placebo studies at {level:.0%} in "
                f"{worst['window']} (interval {worst['ci_low']:.1%}–{worst['ci_high']:.1%})"
            )
        elif len(under):
            worst = under.loc[under["rejection_rate"].idxmin()]
            verdict = "under-rejects"
            reason = (
                f"rejects only {worst['rejection_rate']:.1%} at {level:.0%} in {worst['window']} "
                f"(interval {worst['ci_low']:.1%}–{worst['ci_high']:.1%})"
            )
        else:
            worst = primary
            verdict = "valid"
            reason = f"size {worst['rejection_rate']:.1%} at {level:.0%} in {worst['window']}"
        rows.append(
            {
                "test": test,
                "verdict": verdict,
                "size": float(worst["rejection_rate"]),
                "ci_low": float(worst["ci_low"]),
                "ci_high": float(worst["ci_high"]),
                "window": worst["window"],
                "power": pwr,
                "reason": reason,
            }
        )
    out = pd.DataFrame(rows)
    if pw is not None:
        ok = out["verdict"] == "valid"
        best = out.loc[ok, "power"].max() if ok.any() else np.nan
        for i in out.index[ok]:
            p = out.at[i, "power"]
            if np.isnan(p):
                continue
            if p < min_power or (np.isfinite(best) and p < relative_power * best):
                out.at[i, "verdict"] = "low power"
                out.at[i, "reason"] = (
                    f"{out.at[i, 'reason']}; power {p:.0%} with {power_at:.1%} injected on day 0 "
                    f"(best valid test {best:.0%})"
                )
            else:
                out.at[i, "reason"] = (
                    f"{out.at[i, 'reason']}; power {p:.0%} with {power_at:.1%} injected on day 0"
                )
    return out


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SimulationResults:
    """Outcome of :func:`simulate` (immutable; tidy DataFrames).

    Attributes
    ----------
    size : DataFrame
        Empirical size under the null: ``test``, ``kind`` (``"aar"`` daily test, ``"caar"`` CAR
        test), ``window`` (``"AR(0)"``, ``"CAR(-1,+1)"``...), ``level``, ``n_draws``,
        ``rejections``, ``rejection_rate``, ``ci_low``, ``ci_high`` (binomial interval, method and
        coverage in ``settings``).
    power : DataFrame
        Rejection rate with ``injected`` added to every security's day-0 return: ``test``,
        ``kind``, ``window``, ``injected``, ``level``, ``n_draws``, ``rejections``,
        ``rejection_rate``, ``ci_low``, ``ci_high``.
    verdicts : DataFrame
        :func:`verdicts`: ``test``, ``verdict``, ``size``, ``ci_low``, ``ci_high``, ``window``,
        ``power``, ``reason``.
    pvalues : DataFrame
        Every draw's p-value: ``draw``, ``injected``, ``kind``, ``window``, ``test``,
        ``statistic``, ``p_value``.
    draws : DataFrame
        The placebo events (:func:`draw_placebo_events`).
    settings : dict
        The arguments of the run (model, windows, draws, seed, levels, interval method...).
    """

    size: pd.DataFrame
    power: pd.DataFrame
    verdicts: pd.DataFrame
    pvalues: pd.DataFrame
    draws: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def size_table(self, level: float = 0.05) -> pd.DataFrame:
        """Wide size table: one row per test, one column per window, rates at ``level``."""
        s = self.size[np.isclose(self.size["level"], level)]
        wide = s.pivot_table(index="test", columns="window", values="rejection_rate", sort=False)
        return wide

    def summary(self) -> str:
        """Plain-text summary: settings, verdicts and the size table at each level."""
        st = self.settings
        lines = [
            "Placebo simulation (Brown-Warner) on the study's own data",
            f"draws: {st.get('draws')}  seed: {st.get('seed')}  model: {st.get('model')}  "
            f"estimation: {st.get('estimation')}  window: {st.get('window')}  "
            f"cluster sizes: {st.get('cluster_sizes')}",
            f"interval: {st.get('ci_method')} {st.get('confidence', 0.95):.0%}",
            "",
            "Verdicts (size at {:.0%}; power with {:.1%} on day 0)".format(
                st.get("verdict_level", 0.05), st.get("power_at", 0.02)
            ),
        ]
        v = self.verdicts
        if len(v):
            width = max(len(t) for t in v["test"])
            for _, r in v.iterrows():
                pw = "" if np.isnan(r["power"]) else f"  power {r['power']:6.1%}"
                lines.append(
                    f"  {r['test']:<{width}}  {r['verdict']:<31}  size {r['size']:6.1%} "
                    f"[{r['ci_low']:.1%}, {r['ci_high']:.1%}] {r['window']}{pw}"
                )
        for level in st.get("levels", ()):
            lines += ["", f"Rejection rate under the null at {level:.0%}"]
            lines.append(self.size_table(level).to_string(float_format=lambda x: f"{x:.3f}"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"SimulationResults(draws={self.settings.get('draws')}, "
            f"tests={self.size['test'].nunique()}, seed={self.settings.get('seed')})"
        )

    def _repr_html_(self) -> str:
        return f"<pre>{self.summary()}</pre>"

    def plot_size(self, level: float = 0.05, window: str | None = None) -> Any:
        """Size bars with binomial intervals and the nominal line (a ``go.Figure``)."""
        from eventstudy.figures_robustness import size_bars

        return size_bars(self.size, level=level, window=window)

    def plot_power(self, level: float = 0.05, window: str | None = None) -> Any:
        """Power curves per test (a ``go.Figure``)."""
        from eventstudy.figures_robustness import power_curves

        return power_curves(self.power, size=self.size, level=level, window=window)


# ----------------------------------------------------------------------------- front door


def simulate(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    *,
    market: str = "MKT",
    model: str = "market",
    factors: Sequence[str] | None = None,
    estimation: Window = (-260, -11),
    window: Window = (-10, 10),
    days: Sequence[int] = (0,),
    car_windows: Sequence[Window] = ((0, 1), (-1, 1), (0, 5)),
    tests: Sequence[str] | None = None,
    draws: int = 1000,
    injected: Sequence[float] = (0.005, 0.01, 0.02, 0.03),
    levels: Sequence[float] = (0.01, 0.05, 0.10),
    seed: int = 0,
    min_estimation_obs: int = 100,
    convention: str = "textbook",
    exclude_dates: Sequence[Any] = (),
    power_draws: int | None = None,
    confidence: float = 0.95,
    ci_method: CIMethod = "clopper-pearson",
    verdict_level: float = 0.05,
    power_at: float = 0.02,
    min_power: float = 0.25,
    relative_power: float = 0.5,
    engine_kwargs: Mapping[str, Any] | None = None,
    min_dates: int = 30,
    backend: Backend | None = None,
    chunk_draws: int | None = None,
    scheduler: Scheduler | None = None,
    workers: int | None = None,
) -> SimulationResults:
    """Empirical size and power of every test on the study's own securities and history.

    Parameters
    ----------
    returns : DataFrame
        The study's returns panel (sessions x securities, market and factor columns).
    events : DataFrame
        The study's events (``security``, ``event_date``, optional ``event_id``): each event is a
        template whose securities share every pseudo date drawn for it.
    market, model, factors, estimation, window, min_estimation_obs, convention
        As in :func:`eventstudy.event_study`; the placebo studies use the study's settings.
    days : sequence of int, default (0,)
        Relative days whose daily (mean-AR) tests are recorded.
    car_windows : sequence of (int, int)
        Windows whose CAR tests are recorded (inside ``window``).
    tests : sequence of str, optional
        Test names to keep (default: every test the engine reports).
    draws : int, default 1000
        Placebo studies under the null.
    injected : sequence of float
        Abnormal returns added to every security's day-0 return for the power curves
        (0.01 is 1%); empty for no power run.
    levels : sequence of float
        Nominal levels.
    seed : int
        Seed: the same seed (and data) gives the same draws and tables.
    exclude_dates : sequence of dates
        Other dates whose windows the pseudo events must avoid (the study's own event dates are
        always avoided).
    power_draws : int, optional
        Placebo studies per injected size (default ``draws``; the first ``power_draws`` draws).
    confidence, ci_method
        Binomial interval of the rejection rates (see :func:`binomial_interval`).
    verdict_level, power_at, min_power, relative_power
        Verdict rules (see :func:`verdicts`).
    engine_kwargs : mapping, optional
        Extra keyword arguments for the engine (e.g. ``dimson_lags``).
    min_dates : int, default 30
        Fewest sessions that can serve as a pseudo day 0 (see :func:`draw_placebo_events`).
    backend : {None, "processes", "dask"}, optional
        Where the placebo studies run (:mod:`eventstudy.parallel`): ``None`` here, in one
        engine call; otherwise in chunks of ``chunk_draws`` draws on a pool of processes or a
        Dask cluster.
    chunk_draws : int, optional
        Draws per chunk (default :data:`CHUNK_DRAWS` with a backend; with ``backend=None``
        the draws then run chunk after chunk here, bounding memory).
    scheduler, workers
        As in :func:`eventstudy.event_study`.

    Returns
    -------
    SimulationResults

    Notes
    -----
    Brown and Warner (1980, 1985) measure a test's size by applying it to many studies built on
    randomly drawn dates, when no event happened: a valid test at level ``a`` rejects about ``a``
    of them; the number of rejections is Binomial(``draws``, ``a``), hence the interval. Power is
    measured the same way after adding a known abnormal return on day 0.

    Keeping the study's structure matters: when several firms share a date their abnormal
    returns are cross-correlated, and tests that assume independence (``brown_warner_1980``,
    ``patell``, ``bmp``, ``sign``, ``generalized_sign``...) over-reject; ``portfolio``,
    ``sur_wald``, ``adjusted_patell`` and ``kolari_pynnonen`` (Kolari and Pynnönen, 2010) are
    built to stay valid. The simulation tells which it is for *this* panel.

    All draws are fitted in one engine call and tested by the one battery, one block per draw.
    Power: because the models are fitted on the estimation window only, adding ``delta`` to the
    day-0 return adds exactly ``delta`` to the day-0 abnormal return of each security, of the
    portfolio and of every SUR residual, so the fit is reused and the day-0 ARs are shifted
    (:meth:`eventstudy.battery.BatteryInput.shifted`; :func:`inject_day0` is the slow reference
    the tests compare it with). Draws on the same template reuse dates only after its eligible
    dates are exhausted (with a warning); overlapping estimation windows make draws mildly
    dependent, so the binomial interval is a guide rather than exact.

    Chunks: the placebo dates are drawn here, once, from ``seed`` (the only random step);
    each chunk of whole draws is fitted and tested by the same engine and battery on a
    worker (one draw is one block: its tests need only its own rows), and the p-values are
    gathered in draw order. No random stream runs on a worker, so the same seed gives the
    same draws and the same tables whatever the number of workers; with a given
    ``chunk_draws`` the p-values are identical to the last bit, and equal to the one-call
    path up to the order of floating-point additions.

    References: Brown and Warner (1980, 1985); Kolari and Pynnönen (2010).
    """
    factor_cols = list(factors or [])
    as_columns(returns, [market, *factor_cols], "market/factors")
    w0, w1 = (int(x) for x in window)
    if estimation[1] >= w0:
        raise ConfigError(
            field="estimation", value=estimation, expected=f"a window ending before {w0}"
        )
    bad_days = [d for d in days if not w0 <= int(d) <= w1]
    if bad_days:
        raise ConfigError(field="days", value=bad_days, expected=f"days inside window {window}")
    bad_windows = [w for w in car_windows if not w0 <= int(w[0]) <= int(w[1]) <= w1]
    if bad_windows:
        raise ConfigError(
            field="car_windows", value=bad_windows, expected=f"(start, end) inside {window}"
        )
    if len(injected) and not w0 <= 0 <= w1:
        raise ConfigError(field="window", value=window, expected="a window containing day 0")
    if not len(days) and not len(car_windows):
        raise ConfigError(field="days/car_windows", value=(), expected="something to test")
    bad_levels = [x for x in levels if not 0 < float(x) < 1]
    if bad_levels or not any(np.isclose(float(x), verdict_level) for x in levels):
        raise ConfigError(
            field="levels",
            value=list(levels),
            expected=f"levels in (0, 1) including verdict_level={verdict_level}",
        )
    if power_draws is None:
        power_draws = draws
    placebo = draw_placebo_events(
        returns,
        events,
        draws=draws,
        market=market,
        factors=factor_cols,
        estimation=estimation,
        window=window,
        min_estimation_obs=min_estimation_obs,
        exclude_dates=exclude_dates,
        seed=seed,
        min_dates=min_dates,
    )
    base_kwargs: dict[str, Any] = {
        "market": market,
        "model": model,
        "factors": factor_cols or None,
        "estimation": tuple(estimation),
        "window": tuple(window),
        "min_estimation_obs": min_estimation_obs,
        "convention": convention,
        **dict(engine_kwargs or {}),
    }
    if tests is not None:
        unknown = sorted(set(tests) - set(TEST_NAMES))
        if unknown:
            raise ConfigError(field="tests", value=unknown, expected=f"some of {TEST_NAMES}")
    kw: dict[str, Any] = {"days": tuple(days), "car_windows": [tuple(w) for w in car_windows]}
    check_compute(backend, scheduler, workers)
    if backend is None and chunk_draws is None:
        res = _event_study(
            returns=returns, events=placebo[["security", "event_date", "event_id"]], **base_kwargs
        )
        frames = [placebo_pvalues(res, tests=tests, **kw)]
        if len(injected):
            frames.append(
                placebo_pvalues(
                    res,
                    tests=tests,
                    deltas=[float(x) for x in injected],
                    draws=np.arange(min(power_draws, draws)),
                    **kw,
                )
            )
    else:
        frames = _chunked_pvalues(
            returns, placebo, base_kwargs, kw, tests, injected, min(power_draws, draws),
            backend=backend, chunk_draws=chunk_draws, scheduler=scheduler, workers=workers,
        )  # fmt: skip
    pvalues = pd.concat(frames, ignore_index=True)

    null = pvalues[pvalues["injected"] == 0.0]
    size = rejection_rates(null, levels, confidence=confidence, ci_method=ci_method)
    alt = pvalues[pvalues["injected"] != 0.0]
    if len(alt):
        power = rejection_rates(
            alt,
            levels,
            by=("test", "kind", "window", "injected"),
            confidence=confidence,
            ci_method=ci_method,
        )
        power = power[list(_POWER_COLUMNS)]
    else:
        power = pd.DataFrame(columns=list(_POWER_COLUMNS))
    cluster_sizes = (
        placebo.drop_duplicates(["template", "security"]).groupby("template", sort=False).size()
    )
    clustered = bool((cluster_sizes > 1).any())
    verd = verdicts(
        size,
        power,
        level=verdict_level,
        power_at=power_at,
        min_power=min_power,
        relative_power=relative_power,
        clustered=clustered,
        confidence=confidence,
        ci_method=ci_method,
    )
    settings = {
        "draws": int(draws),
        "power_draws": int(min(power_draws, draws)) if len(injected) else 0,
        "seed": seed,
        "model": model,
        "market": market,
        "factors": factor_cols,
        "estimation": tuple(estimation),
        "window": tuple(window),
        "days": tuple(days),
        "car_windows": [tuple(w) for w in car_windows],
        "injected": tuple(float(x) for x in injected),
        "levels": tuple(float(x) for x in levels),
        "convention": convention,
        "ci_method": ci_method,
        "confidence": confidence,
        "verdict_level": verdict_level,
        "power_at": power_at,
        "min_power": min_power,
        "relative_power": relative_power,
        "cluster_sizes": cluster_sizes.to_dict(),
    }
    return SimulationResults(
        size=size,
        power=power.reset_index(drop=True),
        verdicts=verd,
        pvalues=pvalues,
        draws=placebo,
        settings=settings,
    )


def _chunked_pvalues(
    returns: pd.DataFrame,
    placebo: pd.DataFrame,
    engine: dict[str, Any],
    kw: dict[str, Any],
    tests: Sequence[str] | None,
    injected: Sequence[float],
    power_draws: int,
    *,
    backend: Backend | None,
    chunk_draws: int | None,
    scheduler: Scheduler | None,
    workers: int | None,
) -> list[pd.DataFrame]:
    """The null and power p-values of :func:`simulate`, chunk by chunk of draws."""
    from eventstudy.parallel import executor

    size = CHUNK_DRAWS if chunk_draws is None else chunk_draws
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(field="chunk_draws", value=chunk_draws, expected="an integer >= 1")
    keep = [*pd.unique(placebo["security"]), engine["market"], *(engine["factors"] or [])]
    cols = [c for c in dict.fromkeys(keep) if c is not None]
    spec = _LabSpec(
        returns=returns[cols],
        engine=engine,
        days=tuple(kw["days"]),
        car_windows=list(kw["car_windows"]),
        tests=None if tests is None else list(tests),
        injected=tuple(float(x) for x in injected),
        power_draws=int(power_draws),
    )
    with executor(backend, spec, scheduler=scheduler, workers=workers) as ex:
        outs = list(ex.map(_lab_chunk, _draw_chunks(placebo, size)))
    frames = [_sorted_pvalues(pd.concat([o[0] for o in outs], ignore_index=True))]
    power = [o[1] for o in outs if o[1] is not None]
    if power:
        frames.append(_sorted_pvalues(pd.concat(power, ignore_index=True)))
    return frames


def simulate_from_run(
    prepared: Any,
    draws: int = 1000,
    seed: int = 0,
    **kwargs: Any,
) -> dict[str, SimulationResults]:
    """Run :func:`simulate` for every exchange group of a prepared study (the CLI entry point).

    Parameters
    ----------
    prepared : eventstudy.runner.Prepared or mapping
        What ``eventstudy.runner.prepare(config, prices=..., offline=...)`` returns: per
        exchange (``prepared.groups``) the returns, events, market column and factor columns;
        the study settings (``model``, ``estimation``, ``event_window``, ``car_windows``,
        ``min_estimation_obs``, ``convention``, ``tests``) come from ``prepared.config``. Also
        read by duck typing: a mapping ``exchange -> part`` (dicts or objects with those keys,
        optionally a ``config``), or a single part.
    draws, seed
        As in :func:`simulate`.
    **kwargs
        Passed to :func:`simulate` (they override the study's settings).

    Returns
    -------
    dict
        exchange -> :class:`SimulationResults`.
    """
    out: dict[str, SimulationResults] = {}
    for name, part in study_parts(prepared).items():
        settings = study_settings(part)
        settings.update(kwargs)
        out[name] = simulate(part["returns"], part["events"], draws=draws, seed=seed, **settings)
    return out


# ----------------------------------------------------------------------------- prepared runs


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


_PART_KEYS = ("returns", "events", "market", "factors", "alt_markets", "fx", "securities")
_STUDY_KEYS = (
    "model",
    "estimation",
    "window",
    "event_window",
    "car_windows",
    "min_estimation_obs",
    "convention",
    "returns_kind",
    "tests",
)


def _as_part(obj: Any, config: Any) -> dict[str, Any]:
    part = {k: _get(obj, k) for k in (*_PART_KEYS, *_STUDY_KEYS)}
    part["config"] = _get(obj, "config") if _get(obj, "config") is not None else config
    return part


def study_parts(prepared: Any) -> dict[str, dict[str, Any]]:
    """exchange -> part (a dict of the engine inputs and the config), whatever the shape.

    Accepted: ``eventstudy.runner.Prepared`` (``groups``: exchange -> ``ExchangeGroup``, and
    ``config``); a mapping or object with ``groups``/``exchanges``/``parts``; one with
    ``returns``/``events``/``market`` as dicts keyed by exchange; a single part; or a plain
    mapping exchange -> part.
    """
    config = _get(prepared, "config")
    for attr in ("groups", "exchanges", "parts"):
        g = _get(prepared, attr)
        if isinstance(g, Mapping) and g:
            return {str(k): _as_part(v, config) for k, v in g.items()}
    rets = _get(prepared, "returns")
    if isinstance(rets, Mapping):
        # prepared.returns / .events / .market are dicts keyed by exchange
        out = {}
        for ex in rets:
            part = {}
            for key in _PART_KEYS:
                v = _get(prepared, key)
                part[key] = v.get(ex) if isinstance(v, Mapping) and ex in v else v
            out[str(ex)] = _as_part(part, config)
        return out
    if rets is not None:
        return {"": _as_part(prepared, config)}
    if isinstance(prepared, Mapping) and prepared:
        return {str(k): _as_part(v, config) for k, v in prepared.items()}
    raise ConfigError(
        field="prepared",
        value=type(prepared).__name__,
        expected="the runner's prepared study (returns, events, market per exchange)",
    )


def study_settings(part: Mapping[str, Any]) -> dict[str, Any]:
    """Engine settings of a prepared part: its own keys, else its config's (``StudyConfig``)."""
    config = part.get("config")
    study = _get(config, "study", config) if config is not None else None

    def setting(*names: str) -> Any:
        for name in names:
            value = part.get(name)
            if value is None and study is not None:
                value = _get(study, name)
            if value is not None:
                return value
        return None

    settings: dict[str, Any] = {"market": part.get("market")}
    for key, names in {
        "model": ("model",),
        "estimation": ("estimation",),
        "window": ("window", "event_window"),
        "min_estimation_obs": ("min_estimation_obs",),
        "convention": ("convention",),
    }.items():
        value = setting(*names)
        if value is not None:
            settings[key] = (
                tuple(int(v) for v in value) if key in ("estimation", "window") else value
            )
    cars = setting("car_windows")
    if cars:
        settings["car_windows"] = [tuple(int(v) for v in w) for w in cars]
    tests = setting("tests")
    if isinstance(tests, list | tuple) and 0 < len(tests) < len(TEST_NAMES):
        settings["tests"] = [t for t in tests if t in TEST_NAMES]
    factors = list(part.get("factors") or [])
    if settings.get("model") == "factor":
        if factors:
            settings["factors"] = factors
        else:
            settings["model"] = "market"
    return settings


def simple_returns(part: Mapping[str, Any]) -> pd.DataFrame:
    """The part's returns as simple returns (the runner gives log returns for ``returns: log``)."""
    returns = part["returns"]
    config = part.get("config")
    kind = part.get("returns_kind") or (_get(config, "returns") if config is not None else None)
    if isinstance(kind, str) and kind == "log":
        return np.expm1(returns)
    return returns


# ----------------------------------------------------------------------------- synthetic data


def synthetic_returns(
    n_securities: int = 7,
    n_days: int = 1250,
    *,
    common: float = 0.0,
    beta: float | Sequence[float] = 1.0,
    sigma: float = 0.015,
    market_sigma: float = 0.01,
    df: float | None = None,
    start: str = "2021-01-04",
    seed: int = 0,
    market: str = "MKT",
    fx: str | None = None,
) -> pd.DataFrame:
    """A simulated returns panel with a known cross-correlation (for tests and benchmarks).

    ``R_it = 0.0002 + beta_i M_t + sqrt(common) s F_t + sqrt(1 - common) s e_it`` with ``M``,
    ``F``, ``e`` independent (normal, or Student t with ``df`` degrees of freedom scaled to unit
    variance), ``s = sigma``. ``F`` is a common (industry) factor *not* in the market, so the
    market-model residuals have pairwise correlation ``common``.

    Parameters
    ----------
    n_securities, n_days : int
        Panel size (securities ``S0``, ``S1``... on business days from ``start``).
    common : float in [0, 1)
        Residual correlation between securities (0: independent).
    fx : str, optional
        Name of an extra independent factor column (e.g. ``"USDJPY"``) with no effect on returns.

    Returns
    -------
    DataFrame
        Columns ``S0..S{n-1}``, ``market`` (and ``fx``), simple returns.
    """
    if not 0 <= common < 1:
        raise ConfigError(field="common", value=common, expected="a correlation in [0, 1)")
    rng = np.random.default_rng(seed)

    def noise(*shape: int) -> np.ndarray:
        if df is None:
            return rng.standard_normal(shape)
        return rng.standard_t(df, shape) / np.sqrt(df / (df - 2))

    idx = pd.bdate_range(start, periods=n_days, name="date")
    m = market_sigma * noise(n_days)
    f = noise(n_days)
    e = noise(n_days, n_securities)
    b = np.broadcast_to(np.asarray(beta, dtype=float), (n_securities,))
    r = (
        0.0002
        + m[:, None] * b[None, :]
        + sigma * (np.sqrt(common) * f[:, None] + np.sqrt(1 - common) * e)
    )
    out = pd.DataFrame(r, index=idx, columns=[f"S{i}" for i in range(n_securities)])
    out[market] = m
    if fx:
        out[fx] = 0.005 * noise(n_days)
    return out
