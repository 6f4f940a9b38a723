"""Abnormal trading volume and abnormal volatility around events.

**Abnormal volume** (Campbell & Wasley 1996, after Ajinkya & Jain 1989). Each firm-event's
daily trading activity is put on a log scale,

- ``log_volume``: ``V_it = ln(1 + n_it)`` with ``n_it`` the shares traded, or
- ``log_turnover``: ``V_it = ln(100 n_it / S_i + 0.000255)`` with ``S_i`` the shares
  outstanding (Campbell & Wasley's small constant keeps days without trades finite),

and its abnormal part is the mean-adjusted ``AV_it = V_it - Vbar_i``, ``Vbar_i`` the mean over
the estimation window. With ``S_i`` constant over the window both measures give the same
``AV`` up to the constants, so ``log_volume`` needs no share count. This is the engine's
``constant_mean`` model fitted on ``V`` instead of returns, so every number of the return study
has its volume counterpart with the same formulas (``docs/statistics.md``): the cumulative
abnormal log volume ``CAV_i = sum_W AV_it`` with standard error
``s_i sqrt(L2 + L2^2 / L_i)`` (``s_i`` the estimation-window sd of ``V``, ``L_i - 1`` degrees
of freedom), and per event the whole battery. Campbell & Wasley's parametric test, the mean
abnormal volume over the time-series sd of the estimation-window means, is the ``portfolio``
test here (with the prediction-error term) and ``brown_warner_1985``; their non-parametric
test is ``corrado_rank``. ``CAV`` is a log difference: ``exp(CAV / L2) - 1`` is the abnormal
volume per day in percent of normal.

Caveat: log volume is persistent (positively autocorrelated), so the variance of a
multi-day ``CAV`` is larger than ``L2`` independent days give; read the one-day windows first.

**Abnormal volatility.** The event-window variance of each firm-event's abnormal *returns*
against its estimation variance, as the mean squared standardized abnormal return
``VR_i = (1/L2) sum_W SAR_it^2``, ``SAR_it = AR_it / (s_i sqrt(1 + x_t'(X'X)^{-1} x_t))``.
Under the null of unchanged variance (normal residuals, the prediction error's correlation
across days ignored) ``VR_i ~ F(L2, L_i - k)``; the p-value is two-sided. Per event, the
equal-weighted portfolio's ratio uses the portfolio's own standardized abnormal returns, so the
cross-correlation of firms sharing the date is in its variance (the same reason the portfolio
test of CARs is valid); the mean of the firms' ratios is shown beside it, untested.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special as _sp

from eventstudy.battery import car_moments
from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError, DataError, EventStudyWarning
from eventstudy.results import EventStudyResults, memoized
from eventstudy.study import event_study
from eventstudy.vocabulary import Convention, Window

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

__all__ = [
    "TURNOVER_CONSTANT",
    "VOLUME_TESTS",
    "VolumeMeasure",
    "VolumeResults",
    "abnormal_volatility",
    "abnormal_volume",
    "volatility_by_event",
    "volume_frame",
    "volume_measure",
    "volume_study",
]

VolumeMeasure = Literal["log_volume", "log_turnover"]
#: Added to percent turnover before the log (Campbell & Wasley 1996).
TURNOVER_CONSTANT = 0.000255
#: The volume tests shown in the summaries: the portfolio (time-series) test, Campbell &
#: Wasley's Brown-Warner-1985-type t and their rank test.
VOLUME_TESTS: tuple[str, ...] = ("portfolio", "brown_warner_1985", "corrado_rank")


def volume_frame(prices: Mapping[str, pd.DataFrame], sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Shares traded per session: sessions x the symbols whose prices carry ``volume``.

    A session without a row (or with an empty volume cell) is ``NaN``, never filled; zero
    (no trade) is kept. Symbols without a volume column are left out.
    """
    sess = pd.DatetimeIndex(sessions)
    cols = {}
    for sym, df in prices.items():
        if "volume" not in df.columns:
            continue
        v = df["volume"].astype(float)
        if (v < 0).any():
            bad = v.index[(v < 0).to_numpy()][0]
            raise DataError(
                symbol=sym,
                detail=f"negative volume {v.loc[bad]:g} on {pd.Timestamp(bad).date()}",
                fix="volumes are share counts (0 or more)",
            )
        cols[sym] = v.reindex(sess)
    out = pd.DataFrame(cols, index=sess)
    out.index.name = "date"
    return out


def volume_measure(
    volume: pd.DataFrame,
    measure: VolumeMeasure = "log_volume",
    shares: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """``ln(1 + n)`` (``log_volume``) or ``ln(100 n / S + 0.000255)`` (``log_turnover``).

    Raises
    ------
    ConfigError
        An unknown measure, or ``log_turnover`` without the shares outstanding of a column.
    """
    if measure == "log_volume":
        return np.log1p(volume.astype(float))
    if measure != "log_turnover":
        raise ConfigError(
            field="measure", value=measure, expected=" or ".join(get_args(VolumeMeasure))
        )
    shares = dict(shares or {})
    missing = [str(c) for c in volume.columns if not (shares.get(str(c), 0) > 0)]
    if missing:
        raise ConfigError(
            field="shares_outstanding",
            value=missing,
            expected="a positive number of shares for every security (log_turnover)",
        )
    s = pd.Series({c: float(shares[str(c)]) for c in volume.columns})
    return np.log(100.0 * volume.astype(float).div(s, axis=1) + TURNOVER_CONSTANT)


def abnormal_volume(
    volume: pd.DataFrame,
    events: pd.DataFrame,
    *,
    measure: VolumeMeasure = "log_volume",
    shares: Mapping[str, float] | None = None,
    estimation: Window = (-250, -11),
    window: Window = (-10, 10),
    min_estimation_obs: int = 100,
    convention: Convention = "textbook",
) -> EventStudyResults:
    """The mean-adjusted abnormal log volume of every firm-event, as engine results.

    Parameters
    ----------
    volume : DataFrame
        Sessions x securities, shares traded (:func:`volume_frame`).
    events : DataFrame
        ``security``, ``event_date`` (day 0), optional ``event_id``, as for
        :func:`eventstudy.event_study`.
    measure, shares
        See :func:`volume_measure`.
    estimation, window, min_estimation_obs, convention
        As for :func:`eventstudy.event_study`.

    Returns
    -------
    EventStudyResults
        The ``constant_mean`` model fitted on the log measure: ``abnormal_returns["ar"]`` is
        ``AV``, ``car(w)["car"]`` is ``CAV`` with its standard error, t and p, and
        ``caar_tests(w, by="event_id")`` the battery on the mean ``CAV`` of each event
        (``bhar`` is meaningless here and left to the return study).
    """
    logv = volume_measure(volume, measure, shares)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return event_study(
            logv,
            events,
            market=None,
            model="constant_mean",
            estimation=estimation,
            window=window,
            min_estimation_obs=min_estimation_obs,
            convention=convention,
        )


def _f_two_sided(ratio: np.ndarray, df1: np.ndarray, df2: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a variance ratio: ``min(1, 2 min(F(r), 1 - F(r)))``.

    ``F`` is the F(df1, df2) distribution function through ``scipy.special.fdtr`` and
    ``fdtrc``, the functions ``scipy.stats.f.cdf`` and ``.sf`` call (with ``cdf = 0``,
    ``sf = 1`` at a ratio of 0 or less, as there), without ``scipy.stats``' import cost.
    """
    ok = np.isfinite(ratio) & (df1 > 0) & (df2 > 0)
    out = np.full(np.shape(ratio), np.nan)
    r, a, b = np.asarray(ratio[ok], dtype=float), df1[ok], df2[ok]
    pos = r > 0
    with np.errstate(invalid="ignore"):
        cdf = np.where(pos, _sp.fdtr(a, b, r), 0.0)
        sf = np.where(pos, _sp.fdtrc(a, b, r), 1.0)
    out[ok] = np.minimum(1.0, 2.0 * np.minimum(cdf, sf))
    return out


def _daily(
    res: EventStudyResults, window: Window, portfolio: bool
) -> tuple[pd.DataFrame, np.ndarray]:
    """The one-day standardized abnormal returns of each day of ``window``.

    Returns the table of ``window`` whose rows they belong to (``res.car(window)``: one row
    per firm-event, or ``res.portfolio_car(window)``: one per event; both memoized by the
    results, and giving the keys and the degrees of freedom ``df``) and the SARs (rows x
    days of ``window``).

    Day ``t``'s SAR is the ``statistic`` of the one-day CAR ``car((t, t))`` (or
    ``portfolio_car((t, t))``): ``AR_t / (s sqrt(1 + x_t'(X'X)^{-1}x_t))``. It is computed
    from the arrays, one day at a time by the function those tables call
    (:func:`eventstudy.battery.car_moments`, or
    :meth:`~EventStudyResults.portfolio_car_arrays`), so the values are those of the tables
    to the last bit, without building a table per day. The firm-events' arrays are the
    battery's input for one block per event, whose rows are the results' rows in order.
    """
    a, b = window
    lo, hi = res.window
    if a < lo or b > hi:
        raise ConfigError(
            field="window",
            value=list(window),
            expected=f"a window inside the computed window [{lo}, {hi}]",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        if portfolio:
            table = res.portfolio_car(window)
            days = [res.portfolio_car_arrays((t, t))[2] for t in range(a, b + 1)]
        else:
            table = res.car(window)
            inp = res.battery_input("event_id")
            days = []
            for c in range(a - lo, b - lo + 1):
                car, se, _ = car_moments(
                    inp.ar_win, inp.X_win, inp.xtx_inv, inp.sigma, np.arange(c, c + 1)
                )
                with np.errstate(invalid="ignore", divide="ignore"):
                    days.append(car / se)  # as car(): statistic = car / se
    return table, np.column_stack(days)


def _mean_square(sar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean squared SAR over its observed days (``NaN`` without any) and the
    number of those days."""
    sq = sar**2
    n = np.isfinite(sq).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n > 0, np.nansum(sq, axis=1) / np.maximum(n, 1), np.nan)
    return ratio, n


def abnormal_volatility(res: EventStudyResults, window: Window) -> pd.DataFrame:
    """Each firm-event's event-window variance ratio ``VR_i`` and its F test.

    Returns
    -------
    DataFrame
        event_id, security, window, ratio (``mean_W SAR_it^2``), df1 (days with an abnormal
        return), df2 (the residual degrees of freedom), p_value (two-sided, F(df1, df2)).
    """
    table, sar = _daily(res, window, portfolio=False)
    ratio, n = _mean_square(sar)
    df2 = table["df"].to_numpy(float)
    return pd.DataFrame(  # one frame, not five column insertions
        {
            "event_id": table["event_id"].array,
            "security": table["security"].array,
            "window": format_window(window),
            "ratio": ratio,
            "df1": n,
            "df2": df2,
            "p_value": _f_two_sided(ratio, n.astype(float), df2),
        },
        index=pd.RangeIndex(len(table)),
    )


def volatility_by_event(res: EventStudyResults, window: Window) -> pd.DataFrame:
    """Per event: the equal-weighted portfolio's variance ratio with its F test, and the
    mean (and median) of the firms' ratios.

    Returns
    -------
    DataFrame
        event_id, window, n, mean_ratio, median_ratio, portfolio_ratio, df1, df2, p_value
        (the portfolio's, two-sided F).
    """
    return _volatility_by_event(res, window, abnormal_volatility(res, window))


def _volatility_by_event(
    res: EventStudyResults, window: Window, firms: pd.DataFrame
) -> pd.DataFrame:
    """:func:`volatility_by_event` from the firms' ratios already computed (``firms``, the
    :func:`abnormal_volatility` of ``res`` over ``window``)."""
    table, sar = _daily(res, window, portfolio=True)
    ratio, n = _mean_square(sar)
    df2 = table["df"].to_numpy(float)
    # the firms' ratios per event: count (finite), mean and median as pandas' groupby
    # computes them, grouped by the event's row (a firm of no listed event apart)
    events = {str(e): i for i, e in enumerate(table["event_id"])}
    code = np.fromiter((events.get(str(e), -1) for e in firms["event_id"]), np.intp, len(firms))
    by = pd.Series(firms["ratio"].to_numpy(float)).groupby(code)
    rows = range(len(table))
    return pd.DataFrame(
        {
            "event_id": table["event_id"].array,
            "window": format_window(window),
            "n": by.count().reindex(rows, fill_value=0).to_numpy(int),
            "mean_ratio": by.mean().reindex(rows).to_numpy(float),
            "median_ratio": by.median().reindex(rows).to_numpy(float),
            "portfolio_ratio": ratio,
            "df1": n,
            "df2": df2,
            "p_value": _f_two_sided(ratio, n.astype(float), df2),
        }
    )


@dataclass(frozen=True, eq=False)
class VolumeResults:
    """Abnormal volume and volatility of a study's firm-events (see the module notes).

    Attributes
    ----------
    measure : {"log_volume", "log_turnover"}
    volume : EventStudyResults
        The engine on the log measure (``constant_mean``).
    returns : EventStudyResults
        The return study whose abnormal returns give the volatility ratios.
    windows : tuple of (int, int)
        The windows of the tables.
    raw : DataFrame
        Shares traded per session (the input).
    shares : dict of str to float
        Shares outstanding (``log_turnover``).
    """

    measure: VolumeMeasure
    volume: EventStudyResults
    returns: EventStudyResults
    windows: tuple[Window, ...]
    raw: pd.DataFrame
    shares: dict[str, float]

    @property
    def excluded(self) -> pd.DataFrame:
        """Firm-events without an abnormal volume, and why (event_id, security, reason)."""
        ex = self.volume.excluded
        ex["reason"] = (
            ex["reason"]
            .str.replace(
                "a price is missing on that session or the one before", "no volume that session"
            )
            .str.replace("no return", "no volume")
            .str.replace("estimation observations", "estimation days with a volume")
        )
        return ex

    @cached_property
    def abnormal(self) -> pd.DataFrame:
        """Long table: event_id, security, rel_day, date, volume (shares), log_measure,
        abnormal (``AV``)."""
        ar = self.volume.abnormal_returns
        # each row's session and security in the volume frame (-1: none, no volume)
        at = self.raw.index.get_indexer(pd.DatetimeIndex(ar["date"]))
        col = self.raw.columns.get_indexer(ar["security"].astype(str))
        found = (at >= 0) & (col >= 0)

        def pick(frame: pd.DataFrame) -> np.ndarray:
            values = frame.to_numpy(float)
            return np.where(found, values[np.where(found, at, 0), np.where(found, col, 0)], np.nan)

        measure = volume_measure(self.raw, self.measure, self.shares)
        return pd.DataFrame(  # one frame, not two column insertions
            {
                "event_id": ar["event_id"],
                "security": ar["security"],
                "rel_day": ar["rel_day"],
                "date": ar["date"],
                "volume": pick(self.raw),
                "log_measure": pick(measure),
                "abnormal": ar["ar"],
            },
            index=ar.index,
        )

    @memoized
    def cav(self, window: Window) -> pd.DataFrame:
        """Each firm-event's cumulative abnormal log volume over ``window``: event_id,
        security, window, cav, se, t, p_value, df, n_days, pct_per_day
        (``exp(cav / n_days) - 1``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            c = self.volume.car(window)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.expm1(c["car"] / c["n_days"])
        return pd.DataFrame(  # one frame, not ten column insertions
            {
                "event_id": c["event_id"],
                "security": c["security"],
                "window": format_window(window),
                "cav": c["car"],
                "se": c["se"],
                "t": c["statistic"],
                "p_value": c["p_value"],
                "df": c["df"],
                "n_days": c["n_days"],
                "pct_per_day": pct,
            },
            index=c.index,
        )

    @memoized
    def tests(self, window: Window) -> pd.DataFrame:
        """Every test of each event's mean ``CAV`` (the battery; robust tests first)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            t = self.volume.caar_tests(window, by="event_id")
        t = t.rename(columns={"caar": "mean_cav"})
        t.insert(1, "window", format_window(window))
        return t

    @memoized
    def volatility(self, window: Window) -> pd.DataFrame:
        """Each firm-event's variance ratio (:func:`abnormal_volatility`)."""
        return abnormal_volatility(self.returns, window)

    @memoized
    def volatility_events(self, window: Window) -> pd.DataFrame:
        """Each event's portfolio variance ratio and the firms' mean (:func:`volatility_by_event`)."""
        return _volatility_by_event(self.returns, window, self.volatility(window))

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per event and window: mean CAV (and per day, in % of normal volume), the volume
        tests' p-values (:data:`VOLUME_TESTS`), the portfolio variance ratio with its p-value
        and the firms' mean ratio."""
        rows = []
        for w in self.windows:
            n_days = w[1] - w[0] + 1
            tests = self.tests(w)
            names = tests["test"].to_numpy(dtype=object)
            stat = tests["statistic"].to_numpy(float)
            p = tests["p_value"].to_numpy(float)
            cav = tests["mean_cav"].to_numpy(float)
            n = tests["n"].to_numpy()
            events: dict[str, dict[str, int]] = {}  # event -> test -> row (events in order)
            for i, eid in enumerate(tests["event_id"].to_numpy(dtype=object)):
                events.setdefault(str(eid), {}).setdefault(str(names[i]), i)
            vol = self.volatility_events(w)
            where = {str(e): i for i, e in enumerate(vol["event_id"].to_numpy(dtype=object))}
            v_ratio = vol["portfolio_ratio"].to_numpy(float)
            v_p = vol["p_value"].to_numpy(float)
            v_mean = vol["mean_ratio"].to_numpy(float)
            for eid, at in events.items():
                first = min(at.values())
                mean_cav = float(cav[first])
                row: dict[str, object] = {
                    "event_id": eid,
                    "window": format_window(w),
                    "n": int(n[first]),
                    "mean_cav": mean_cav,
                    "pct_per_day": float(np.expm1(mean_cav / n_days)),
                    "t_portfolio": float(stat[at["portfolio"]]),
                }
                for name in VOLUME_TESTS:
                    row[f"p_{name}"] = float(p[at[name]]) if name in at else np.nan
                j = where.get(eid)
                row["volatility_ratio"] = float(v_ratio[j]) if j is not None else np.nan
                row["p_volatility"] = float(v_p[j]) if j is not None else np.nan
                row["mean_firm_ratio"] = float(v_mean[j]) if j is not None else np.nan
                rows.append(row)
        return pd.DataFrame(rows)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables of the report: ``volume_summary``, ``volume_firms`` (CAV per
        firm-event and window), ``volume_tests``, ``volatility`` (per firm-event),
        ``volume_abnormal`` (daily)."""
        return {
            "volume_summary": self.summary,
            "volume_firms": pd.concat([self.cav(w) for w in self.windows], ignore_index=True),
            "volume_tests": pd.concat([self.tests(w) for w in self.windows], ignore_index=True),
            "volatility": pd.concat([self.volatility(w) for w in self.windows], ignore_index=True),
            "volume_abnormal": self.abnormal,
        }

    def plot(self, event_id: str | None = None) -> go.Figure:
        """Mean abnormal log volume by relative day per event (a plotly Figure)."""
        from eventstudy.figures_quant import plot_abnormal_volume

        return plot_abnormal_volume(self.abnormal, event_id=event_id)


def volume_study(
    prices: Mapping[str, pd.DataFrame],
    returns: EventStudyResults,
    sessions: pd.DatetimeIndex,
    *,
    measure: VolumeMeasure = "log_volume",
    shares: Mapping[str, float] | None = None,
    windows: Sequence[Window] = ((0, 0), (0, 1)),
    min_estimation_obs: int | None = None,
) -> VolumeResults:
    """Abnormal volume and volatility for the firm-events of a return study.

    Parameters
    ----------
    prices : mapping of str to DataFrame
        Prices frames (``volume`` column) of the study's securities.
    returns : EventStudyResults
        The return study: its firm-events, estimation and event windows are reused, and its
        abnormal returns give the volatility ratios.
    sessions : DatetimeIndex
        The exchange's sessions (the return study's index).
    measure, shares
        See :func:`volume_measure`.
    windows : sequence of (int, int)
        Windows of the tables.
    min_estimation_obs : int, optional
        Default: the return study's estimation length less 10% (at least 30).

    Raises
    ------
    DataError
        No security of the study has volumes.
    """
    securities = [str(s) for s in dict.fromkeys(returns.events["security"])]
    raw = volume_frame({s: prices[s] for s in securities if s in prices}, sessions)
    if raw.empty or raw.columns.empty:
        raise DataError(
            symbol=", ".join(securities[:4]),
            detail="the prices carry no Volume column",
            fix="use a source with volumes (Yahoo, or CSV files with a Volume column)",
        )
    events = returns.events[returns.events["security"].isin(raw.columns)]
    est = returns.estimation
    length = est[1] - est[0] + 1
    min_obs = min_estimation_obs if min_estimation_obs is not None else max(30, int(0.9 * length))
    res = abnormal_volume(
        raw,
        events,
        measure=measure,
        shares={k: v for k, v in (shares or {}).items() if k in raw.columns},
        estimation=est,
        window=returns.window,
        min_estimation_obs=min_obs,
        convention="textbook",
    )
    return VolumeResults(
        measure=measure,
        volume=res,
        returns=returns,
        windows=tuple(windows),
        raw=raw,
        shares={k: float(v) for k, v in (shares or {}).items()},
    )
