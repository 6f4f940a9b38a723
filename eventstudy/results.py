"""The immutable results of an event study, computed lazily from stacked arrays.

:class:`EventStudyResults` holds the fitted arrays (:class:`EngineData`, one row per
firm-event in event time) and derives every table on first use (``functools.cached_property``):
parameters, abnormal returns, CARs, the clustering diagnostics and the test battery. The
battery itself is :func:`eventstudy.battery.run_battery`, the same code the placebo lab and
the specification curve run. Tables are returned as fresh (copy-on-write) DataFrames, so
editing one never changes the results.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from eventstudy import battery as bt
from eventstudy import stats as st
from eventstudy.calibration import Calibration, binomial_interval, calibrated_p, measured_size
from eventstudy.exceptions import ConfigError, DataError
from eventstudy.models import Design, design
from eventstudy.movers import MAX_SECURITIES_SHOWN, MOVERS_SHOWN, top_and_bottom
from eventstudy.stats import Blocks
from eventstudy.vocabulary import Convention, ModelName, check_tests, check_window

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.crosssection import CrossSectionResults

__all__ = [
    "CROSS_SECTIONAL_TESTS",
    "By",
    "CaarBatch",
    "EngineData",
    "EventStudyResults",
    "ResultsSummary",
    "aar_table",
    "caar_table",
    "gather_rows",
]

#: Tests that need at least two firm-events (a cross-sectional standard deviation).
CROSS_SECTIONAL_TESTS: tuple[str, ...] = ("kolari_pynnonen", "grank", "t_test", "bmp")

#: How the tests group firm-events: ``None`` pools all, ``"event_id"`` one block per event,
#: a mapping ``{event_id: pool label}`` one block per pool (events not named are left out).
By = str | Mapping[str, str] | None


def gather_rows(
    a: np.ndarray, pos: np.ndarray, rel: np.ndarray, col: np.ndarray | None = None
) -> np.ndarray:
    """``a[pos_k + rel_j (, col_k)]`` for every row ``k`` and relative day ``j``; ``NaN``
    outside the sample.

    ``rel`` is a run of consecutive days. The rows are read through a sliding-window view
    of ``a`` (padded with ``NaN`` where a window leaves the sample), so the only index arrays
    are one per row, never one per row and day.
    """
    rel = np.asarray(rel)
    n = len(rel)
    if n == 0:
        return np.empty((len(pos), 0))
    if n > 1 and not bool(np.all(np.diff(rel) == 1)):
        raise ValueError("rel must be consecutive days")
    a = np.asarray(a, dtype=float)
    start = np.asarray(pos) + int(rel[0])
    T = a.shape[0]
    pad_lo = max(0, -int(start.min(initial=0)))
    pad_hi = max(0, int(start.max(initial=0)) + n - T)
    if pad_lo or pad_hi:
        fill = (
            np.nan * np.ones((pad_lo, *a.shape[1:])),
            a,
            np.nan * np.ones((pad_hi, *a.shape[1:])),
        )
        a = np.concatenate(fill, axis=0)
    V = np.lib.stride_tricks.sliding_window_view(a, n, axis=0)
    idx = start + pad_lo
    return V[idx, col] if col is not None else V[idx]


@dataclass(frozen=True, eq=False)
class EngineData:
    """Everything a fit produced, as stacked arrays (``K`` firm-events, sorted by event).

    ``*_est`` arrays have one column per estimation day (``rel_est``), ``*_win`` arrays one
    per window day (``rel_win``). The estimation returns and design are not stored (they are
    the largest arrays): :meth:`y_est` and :meth:`design_est` gather them again from the
    returns when the portfolio, SUR or ``fit_details`` need them.
    """

    model: ModelName
    convention: Convention
    estimation: tuple[int, int]
    window: tuple[int, int]
    market_name: str | None
    factor_names: list[str]
    dimson_lags: int
    param_names: list[str]
    events: pd.DataFrame
    pos: np.ndarray
    sec_code: np.ndarray
    rel_est: np.ndarray
    rel_win: np.ndarray
    dates_win: np.ndarray
    y_win: np.ndarray
    X_win: np.ndarray
    coef: np.ndarray
    xtx_inv: np.ndarray
    ar_est: np.ndarray
    ar_win: np.ndarray
    expected_win: np.ndarray
    sigma: np.ndarray
    n_obs: np.ndarray
    r2: np.ndarray
    k: int
    df_sigma: np.ndarray
    df_patell: np.ndarray
    c_sar: np.ndarray
    mterm_win: np.ndarray
    excluded: pd.DataFrame
    returns: pd.DataFrame
    R: np.ndarray
    market: np.ndarray | None
    factors: np.ndarray | None

    #: The fields with one row per firm-event (a chunked fit concatenates them, a subset
    #: takes their rows). ``events``, ``sec_code`` and ``excluded`` are per firm-event too
    #: but rebuilt by each; ``returns``, ``R``, ``market`` and ``factors`` are the
    #: specification's; the other fields are settings every row shares.
    ROW_FIELDS: ClassVar[tuple[str, ...]] = (
        "pos",
        "dates_win",
        "y_win",
        "X_win",
        "coef",
        "xtx_inv",
        "ar_est",
        "ar_win",
        "expected_win",
        "sigma",
        "n_obs",
        "r2",
        "df_sigma",
        "df_patell",
        "c_sar",
        "mterm_win",
    )

    def y_est(self, rows: np.ndarray) -> np.ndarray:
        """Estimation-window returns of the firm-events ``rows``, (n, L)."""
        return gather_rows(self.R, self.pos[rows], self.rel_est, self.sec_code[rows])

    def design_est(self, rows: np.ndarray) -> Design:
        """The model's design on the estimation window of the firm-events ``rows``."""
        pos, rel = self.pos[rows], self.rel_est
        m = None
        if self.market is not None:
            mk = self.market
            m = np.stack([gather_rows(mk, pos, rel - j) for j in range(self.dimson_lags + 1)], 2)
        f = None
        if self.factors is not None:
            fx = self.factors
            f = np.stack([gather_rows(fx[:, j], pos, rel) for j in range(fx.shape[1])], 2)
        shape_src = m if m is not None else np.empty((len(rows), len(rel), 1))
        return design(self.model, shape_src, f)


@dataclass(frozen=True, eq=False)
class CaarBatch:
    """The nominal CAAR tests of one window, untabulated (:meth:`EventStudyResults.caar_batch`).

    Attributes
    ----------
    labels : list of str or None
        Block labels (event ids, or pool names); ``None`` when every firm-event is pooled.
    tests : dict of str to TestResult
        Each test's batched result (statistics with one value per block), in the table's
        order.
    caar, n : ndarray
        Each block's mean CAR and number of firm-events, ``(B,)``.
    """

    labels: list[str] | None
    tests: dict[str, st.TestResult]
    caar: np.ndarray
    n: np.ndarray


class ResultsSummary:
    """Text and HTML summary of a results object (``str()`` and ``_repr_html_``).

    ``lead`` holds the verdicts (one plain sentence per event), shown first and in bold
    in HTML; ``header`` the setup; ``tables`` titled tables.
    """

    def __init__(
        self,
        header: list[str],
        tables: list[tuple[str, pd.DataFrame]],
        lead: list[str] | None = None,
    ) -> None:
        self.lead = list(lead or [])
        self.header = header
        self.tables = tables

    def as_text(self) -> str:
        """The summary as plain text."""
        out = [*self.lead, *([""] if self.lead else []), *self.header]
        for title, df in self.tables:
            out += ["", title, df.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        return "\n".join(out)

    def as_html(self) -> str:
        """The summary as an HTML fragment."""
        parts = ["<div class='eventstudy-summary'>"]
        parts += [f"<p><strong>{html.escape(h)}</strong></p>" for h in self.lead]
        parts += [f"<p>{html.escape(h)}</p>" for h in self.header]
        for title, df in self.tables:
            parts.append(f"<h4>{html.escape(title)}</h4>")
            parts.append(df.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0))
        parts.append("</div>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an argument (lists of windows become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return ("<mapping>", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    return value


def memoized(method: Any) -> Any:
    """Remember what a table method of an immutable results object (this module's, or
    :class:`~eventstudy.volume.VolumeResults`) returns, per arguments.

    Reports, headlines and analyses ask for the same tables many times; the results compute
    each once. Callers get a shallow copy, so adding a column to it leaves the memo intact.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        memo = self.__dict__.setdefault("_memo", {})  # __dict__, as cached_property does
        key = (
            method.__name__,
            _frozen(args),
            tuple(sorted((k, _frozen(v)) for k, v in kwargs.items())),
        )
        if key not in memo:
            memo[key] = method(self, *args, **kwargs)
        value = memo[key]
        return value.copy(deep=False) if isinstance(value, pd.DataFrame) else value

    return wrapper


class EventStudyResults:
    """Results of :func:`eventstudy.event_study` (immutable; tables computed on first use).

    Attributes
    ----------
    window, estimation : (int, int)
        Computed event window and estimation window (inclusive relative days).
    model : str
        Expected-return model.
    convention : str
        ``"textbook"`` or ``"estudy2"``.
    """

    def __init__(self, data: EngineData, calibration: Calibration | None = None) -> None:
        object.__setattr__(self, "_d", data)
        object.__setattr__(self, "_cal", calibration)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("EventStudyResults is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("EventStudyResults is immutable")

    _d: EngineData
    _cal: Calibration | None

    @property
    def calibration(self) -> Calibration | None:
        """The placebo studies behind the calibrated p-values (``event_study(calibrate=B)``),
        or ``None``."""
        return self._cal

    # ------------------------------------------------------------------ settings

    @property
    def window(self) -> tuple[int, int]:
        return self._d.window

    @property
    def estimation(self) -> tuple[int, int]:
        return self._d.estimation

    @property
    def model(self) -> str:
        return self._d.model

    @property
    def convention(self) -> str:
        return self._d.convention

    @property
    def market(self) -> str | None:
        """Name of the market column (or Series) used."""
        return self._d.market_name

    # ------------------------------------------------------------------ internals

    @cached_property
    def _event_ids(self) -> list[str]:
        return [str(x) for x in pd.unique(self._d.events["event_id"].to_numpy(dtype=object))]

    @cached_property
    def _codes(self) -> np.ndarray:
        # factorize numbers the ids in order of first appearance: the order of _event_ids
        codes, _ = pd.factorize(self._d.events["event_id"])
        return codes.astype(np.intp, copy=False)

    @cached_property
    def _clusters(self) -> Blocks:
        """Firm-events -> events (rows are sorted by event)."""
        return Blocks.from_codes(self._codes)

    @cached_property
    def _cluster_rows(self) -> list[np.ndarray]:
        c = self._clusters
        return [np.arange(s, s + n) for s, n in zip(c.starts, c.sizes, strict=True)]

    @cached_property
    def _first_rows(self) -> np.ndarray:
        return self._clusters.starts

    @cached_property
    def _portfolio(self) -> bt.PortfolioFit:
        """Each event's equal-weighted portfolio, fitted like a firm-event."""
        d = self._d
        c = self._clusters
        first = self._first_rows
        return bt.fit_portfolios(
            d.model,
            d.convention,
            c.mean(d.y_est(np.arange(len(d.sigma)))),
            d.design_est(first),
            c.mean(d.y_win),
            d.X_win[first],
            np.maximum.reduceat(d.sigma, c.starts),
            names=d.param_names,
        )

    @cached_property
    def _sur(self) -> bt.SurFit:
        """Each event's multivariate regression on its common estimation days."""
        d = self._d
        first = self._first_rows
        starts = self._clusters.starts
        # an event's securities share one design when they share day 0
        shared = np.maximum.reduceat(d.pos, starts) == np.minimum.reduceat(d.pos, starts)
        return bt.fit_sur(
            d.model,
            d.k,
            d.y_est,
            d.design_est(first).full(),
            d.y_win,
            d.X_win[first],
            self._clusters,
            own=bt.OwnFit(d.ar_est, d.ar_win, d.xtx_inv, shared),
        )

    @cached_property
    def _rbar(self) -> np.ndarray:
        return bt.cluster_rbar(self._d.ar_est, self._clusters)

    @cached_property
    def _inputs(self) -> dict[Any, bt.BatteryInput]:
        return {}

    @cached_property
    def _row_ranks(self) -> bt.RowRanks:
        """Ranks of every firm-event's ARs, shared by every grouping of the tests."""
        return bt.RowRanks(self._d.ar_est, self._d.ar_win)

    def _battery_input(self, by: By) -> tuple[bt.BatteryInput, list[str] | None, str | None]:
        """The battery's input for a grouping, its block labels and label column."""
        key: Any
        if by is None:
            key, labels, column = None, None, None
        elif isinstance(by, str):
            if by != "event_id":
                raise ConfigError(field="by", value=by, expected="None, 'event_id' or a mapping")
            key, labels, column = "event_id", list(self._event_ids), "event_id"
        elif isinstance(by, Mapping):
            pools = {str(k): str(v) for k, v in by.items()}
            unknown = sorted(set(pools) - set(self._event_ids))
            if unknown:
                raise ConfigError(
                    field="by",
                    value=unknown[:3],
                    expected="event ids of the study (" + ", ".join(self._event_ids[:6]) + ")",
                )
            key = tuple(sorted(pools.items()))
            labels = list(dict.fromkeys(pools[e] for e in self._event_ids if e in pools))
            column = "pool"
        else:
            raise ConfigError(field="by", value=by, expected="None, 'event_id' or a mapping")
        if key not in self._inputs:
            self._inputs[key] = self._make_input(by, labels)
        return self._inputs[key], labels, column

    def _make_input(self, by: By, labels: list[str] | None) -> bt.BatteryInput:
        d = self._d
        cl = self._clusters
        C = len(cl)
        if by is None:
            cluster_group = np.zeros(C, dtype=np.intp)
        elif isinstance(by, str):
            cluster_group = np.arange(C)
        else:
            assert labels is not None and isinstance(by, Mapping)
            code = {lab: i for i, lab in enumerate(labels)}
            pools = {str(k): str(v) for k, v in by.items()}
            cluster_group = np.array([code.get(pools.get(e, ""), -1) for e in self._event_ids])
        keep = np.flatnonzero(cluster_group >= 0)
        order = keep[np.argsort(cluster_group[keep], kind="stable")]  # events by block
        sizes = cl.sizes[order]
        identity = len(order) == C and bool(np.all(order == np.arange(C)))
        rows = (
            np.arange(len(d.sigma))
            if identity
            else np.concatenate(
                [np.arange(cl.starts[c], cl.starts[c] + cl.sizes[c]) for c in order]
            )
        )
        groups = cluster_group[order]
        counts = np.bincount(groups)
        cluster_blocks = Blocks.from_sizes(counts[counts > 0])
        row_group = np.repeat(groups, sizes)

        def take(a: np.ndarray) -> np.ndarray:
            return a if identity else a[rows]

        return bt.BatteryInput(
            convention=d.convention,
            blocks=Blocks.from_codes(row_group),
            clusters=Blocks.from_sizes(sizes),
            cluster_blocks=cluster_blocks,
            ar_est=take(d.ar_est),
            ar_win=take(d.ar_win),
            sigma=take(d.sigma),
            n_obs=take(d.n_obs),
            df_patell=take(d.df_patell),
            c_sar=take(d.c_sar),
            mterm_win=take(d.mterm_win),
            X_win=take(d.X_win),
            xtx_inv=take(d.xtx_inv),
            rbar=self._rbar[order],
            portfolio=self._portfolio if identity else self._portfolio.take(order),
            sur=self._sur if identity else self._sur.take(order),
            row_ranks=self._row_ranks if identity else self._row_ranks.take(rows),
        )

    def _cols(self, window: tuple[int, int] | None) -> tuple[int, int, np.ndarray]:
        w0, w1 = self._d.window
        a, b = (w0, w1) if window is None else check_window(window, (w0, w1), "window")
        return a, b, np.arange(a - w0, b - w0 + 1)

    def battery_labels(self, by: By = "event_id") -> list[str]:
        """The block labels of a grouping, in the order of the battery's batch axis
        (``["all"]`` for the pooled block)."""
        labels = self._battery_input(by)[1]
        return ["all"] if labels is None else list(labels)

    def battery_input(self, by: By = "event_id") -> bt.BatteryInput:
        """The frozen arrays the battery reads for a grouping (one block per event by default).

        For the placebo lab and the specification curve, which run
        :func:`eventstudy.battery.run_battery` on it (shifted, or restricted to some events).
        """
        return self._battery_input(by)[0]

    def battery(
        self,
        window: tuple[int, int] | None = None,
        *,
        cumulative: bool = True,
        by: By = None,
        tests: Sequence[str] | None = None,
    ) -> dict[str, st.TestResult]:
        """Every requested test as :class:`~eventstudy.stats.TestResult` objects with a
        leading batch axis (one value per block of ``by``; and per day when not cumulative).

        The array form behind :meth:`aar_tests`, :meth:`caar_tests`, the placebo lab and the
        specification curve (:func:`eventstudy.battery.run_battery`).
        """
        _, _, cols = self._cols(window)
        if tests is not None:
            tests = check_tests(tests)
        inp, _, _ = self._battery_input(by)
        return bt.run_battery(inp, cols, cumulative, tests)

    # ------------------------------------------------------------------ public tables
    @cached_property
    def _params(self) -> pd.DataFrame:
        d = self._d
        out = d.events[["event_id", "security"]].copy()
        for j, name in enumerate(d.param_names):
            out[name] = d.coef[:, j]
        if "beta" not in out:
            out["beta"] = np.nan
        if d.dimson_lags:
            lag_cols = [f"beta_lag{j}" for j in range(1, d.dimson_lags + 1)]
            out["beta_dimson"] = out["beta"] + out[lag_cols].sum(axis=1)
        out["sigma"] = d.sigma
        out["n_obs"] = d.n_obs.astype(int)
        out["r2"] = d.r2
        return out

    @property
    def params(self) -> pd.DataFrame:
        """event_id, security, alpha, beta (and one column per factor / Dimson lag), sigma,
        n_obs, r2 (sigma with ``L - k`` degrees of freedom; estudy2: ``L - 1``)."""
        return self._params.copy(deep=False)

    @cached_property
    def _abnormal_returns(self) -> pd.DataFrame:
        d = self._d
        K, W = d.ar_win.shape
        return pd.DataFrame(
            {
                "event_id": np.repeat(d.events["event_id"].to_numpy(), W),
                "security": np.repeat(d.events["security"].to_numpy(), W),
                "rel_day": np.tile(d.rel_win, K),
                "date": d.dates_win.ravel(),
                "ar": d.ar_win.ravel(),
            }
        )

    @property
    def abnormal_returns(self) -> pd.DataFrame:
        """Long table: event_id, security, rel_day, date, ar (``NaN`` = no return that day)."""
        return self._abnormal_returns.copy(deep=False)

    @property
    def events(self) -> pd.DataFrame:
        """The firm-events studied: event_id, security, event_date."""
        return self._d.events.copy(deep=False)

    @property
    def excluded(self) -> pd.DataFrame:
        """Firm-events left out: event_id, security, reason."""
        return self._d.excluded.copy(deep=False)

    def select(self, securities: Collection[str]) -> EventStudyResults:
        """The results of the firm-events of ``securities`` alone: what fitting the same
        specification on those firm-events only gives, without fitting again.

        Each firm-event's regression reads its own returns and the market's on its own days,
        so its arrays (parameters, abnormal returns, variances) are the rows of this fit;
        what spans firm-events (each event's portfolio and SUR fit, the clustering, every
        test) is computed again, lazily, on the rows kept. ``excluded`` keeps the exclusions
        of ``securities``, in this fit's order. The result is not calibrated (the placebo
        studies belong to the whole study).

        Parameters
        ----------
        securities : collection of str
            Securities whose firm-events are kept (in every event).

        Returns
        -------
        EventStudyResults

        Raises
        ------
        DataError
            When none of their firm-events was fitted (a fit of them alone raises too).
        """
        d = self._d
        wanted = {str(s) for s in securities}
        keep = d.events["security"].astype(str).isin(list(wanted)).to_numpy()
        if not keep.any():
            raise DataError(
                symbol=", ".join(sorted(wanted)[:3]) or "securities",
                detail="no fitted firm-event of these securities",
                fix="select securities of res.events",
            )
        rows = np.flatnonzero(keep)
        # the exclusions framed as a fit frames them (from records: an empty table too)
        gone = d.excluded
        records = zip(*(gone[c].tolist() for c in gone.columns), strict=True)
        data = replace(
            d,
            events=d.events.take(rows).reset_index(drop=True),
            sec_code=d.sec_code[rows],
            excluded=pd.DataFrame(
                [r for r in records if str(r[1]) in wanted], columns=list(gone.columns)
            ),
            **{f: getattr(d, f)[rows] for f in EngineData.ROW_FIELDS},
        )
        return EventStudyResults(data)

    @memoized
    def car(self, window: tuple[int, int] | None = None) -> pd.DataFrame:
        """CAR and BHAR of each firm-event over ``window`` with the Mikkelson-Partch error.

        Returns
        -------
        DataFrame
            event_id, security, car, bhar, se, statistic, p_value, df, n_days, ci_low,
            ci_high, p_sq, n_sq. ``se`` is ``s sqrt(L2 + s_W'(X'X)^{-1}s_W)``, i.e. for the
            market model ``s sqrt(L2 + L2^2/L + (sum_W (M_t - Mbar))^2 / Sxx)``;
            ``statistic = car / se`` against t with the residual degrees of freedom ``df``
            (:func:`eventstudy.models.residual_df`); ``ci_low``/``ci_high`` the 95% interval
            ``car +- t(0.975, df) se``. ``p_sq`` is the SQ test (Gelbach, Helland & Klick 2013,
            :func:`eventstudy.stats.sq_test`): the CAR ranked among the firm's own ``n_sq``
            estimation-window CARs of the same length, no normality assumed; its smallest
            value is ``2 / (n_sq + 1)``.
        """
        d = self._d
        _, _, cols = self._cols(window)
        car, se, L2 = bt.car_moments(d.ar_win, d.X_win, d.xtx_inv, d.sigma, cols)
        r = d.y_win[:, cols]
        e = d.expected_win[:, cols]
        okr = np.isfinite(r) & np.isfinite(e)
        bhar = np.prod(np.where(okr, 1 + r, 1.0), axis=1) - np.prod(
            np.where(okr, 1 + e, 1.0), axis=1
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = car / se
        crit = _t_crit(d.df_sigma)
        p_sq, n_sq = st.sq_test(car, d.ar_est, len(cols))
        return pd.DataFrame(
            {
                "event_id": d.events["event_id"],
                "security": d.events["security"],
                "car": car,
                "bhar": np.where(okr.any(axis=1), bhar, np.nan),
                "se": se,
                "statistic": stat,
                "p_value": st.p_t(stat, d.df_sigma),
                "df": d.df_sigma.astype(float),
                "n_days": L2.astype(int),
                "ci_low": car - crit * se,
                "ci_high": car + crit * se,
                "p_sq": p_sq,
                "n_sq": n_sq.astype(int),
            }
        )

    def _portfolio_moments(
        self, window: tuple[int, int] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each event portfolio's CAR over ``window``, its standard error, t-ratio and
        observed days (events in :meth:`battery_labels` order)."""
        _, _, cols = self._cols(window)
        p = self._portfolio
        car, se, L2 = bt.car_moments(p.ar_win, p.X_win, p.xtx_inv, p.sigma, cols)
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = np.where(se > 0, car / se, np.nan)
        return car, se, stat, L2

    def portfolio_car_arrays(
        self, window: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``car``, ``se`` and ``statistic`` columns of :meth:`portfolio_car` as arrays,
        one value per event in :meth:`battery_labels` order, without building the table (the
        placebo portfolios of a calibrated study: thousands of events, many windows)."""
        car, se, stat, _ = self._portfolio_moments(window)
        return car, se, stat

    @memoized
    def portfolio_car(self, window: tuple[int, int] | None = None) -> pd.DataFrame:
        """CAR of each event's equal-weighted portfolio over ``window``, with its test.

        Returns
        -------
        DataFrame
            event_id, n (firm-events), car, se, statistic, p_value, df, n_days, ci_low,
            ci_high. The portfolio is fitted like a firm-event on the mean return of the
            event's securities (its own estimation variance carries their cross-correlation),
            so ``statistic = car / se`` against t with ``df`` is the ``portfolio`` test of the
            event (``caar_tests(window, by="event_id")``) and ``car +- t(0.975, df) se`` its
            95% interval. Calibrated (``event_study(calibrate=B)``): also
            ``ci_low_calibrated``/``ci_high_calibrated``, the percentile-t interval from the
            event's placebo portfolios (``car - q_0.975 se .. car - q_0.025 se``, ``q`` the
            quantiles of their t-ratios ``CAR_b / se_b``: the null distribution of the
            studentized CAR in place of Student's t), ``p_calibrated`` (share of placebo
            t-ratios at least as large in absolute value, ``(1 + #)/(1 + B)``) and
            ``n_placebo``.
        """
        p = self._portfolio
        car, se, stat, L2 = self._portfolio_moments(window)
        crit = _t_crit(p.df)
        out = pd.DataFrame(
            {
                "event_id": self._event_ids,
                "n": self._clusters.sizes,
                "car": car,
                "se": se,
                "statistic": stat,
                "p_value": st.p_t(stat, p.df),
                "df": p.df,
                "n_days": L2.astype(int),
                "ci_low": car - crit * se,
                "ci_high": car + crit * se,
            }
        )
        if self._cal is not None:
            a, b, _ = self._cols(window)
            null = self._cal.portfolio_cars((a, b))
            lo, hi, pc, n = [], [], [], []
            for eid, c, t, s_ in zip(self._event_ids, car, stat, se, strict=True):
                t_null = null.get(eid, (np.array([]), np.array([])))[1]
                t_null = t_null[np.isfinite(t_null)]
                n.append(len(t_null))
                if len(t_null) and np.isfinite(t):
                    q_lo, q_hi = np.quantile(t_null, [0.025, 0.975])
                    lo.append(c - q_hi * s_)
                    hi.append(c - q_lo * s_)
                    pc.append((1 + np.sum(np.abs(t_null) >= abs(t))) / (1 + len(t_null)))
                else:
                    lo.append(np.nan)
                    hi.append(np.nan)
                    pc.append(np.nan)
            out["ci_low_calibrated"] = lo
            out["ci_high_calibrated"] = hi
            out["p_calibrated"] = pc
            out["n_placebo"] = n
        return out

    @memoized
    def aar_tests(self, window: tuple[int, int] | None = None, by: By = None) -> pd.DataFrame:
        """Tests of the mean abnormal return, one row per day and test.

        Parameters
        ----------
        window : (int, int), optional
            Days tested (default: the computed window).
        by : None, "event_id" or mapping
            ``None`` pools every firm-event in event time; ``"event_id"`` gives one block per
            event (an ``event_id`` column is added); a mapping ``{event_id: pool}`` one block
            per pool of events (a ``pool`` column is added; events not named are left out).

        Returns
        -------
        DataFrame
            rel_day, test, statistic, p_value, df, df2, null (clustering-robust tests first),
            plus ``aar`` (the mean AR of the day) and ``n`` (firm-events observed that day).
        """
        a, _, cols = self._cols(window)
        inp, labels, column = self._battery_input(by)
        results = bt.run_battery(inp, cols, False)
        aar = inp.blocks.mean(inp.ar_win[:, cols])  # (B, D)
        n_obs = inp.blocks.count(inp.ar_win[:, cols])
        out = aar_table(results, aar, n_obs, a)
        B, D, T = len(inp.blocks), len(cols), len(results)
        if self._cal is not None:
            null = self._cal.null_pvalues((a, a + D - 1), False, by, labels)
            p_obs = out["p_value"].to_numpy().reshape(B, D, T)
            self._add_calibration(out, p_obs, [null.get(n) for n in results], (B, D))
        if column is not None:
            assert labels is not None
            out.insert(0, column, np.repeat(np.array(labels, dtype=object), D * T))
        return out

    def test_results(
        self, window: tuple[int, int] | None = None, by: By = None
    ) -> dict[str, st.TestResult] | dict[str, dict[str, st.TestResult]]:
        """The CAAR tests over ``window`` as :class:`~eventstudy.stats.TestResult` objects.

        Returns ``{test name: TestResult}``; with ``by``, ``{block label: {test name:
        TestResult}}`` (block labels: event ids, or pool names).
        """
        _, _, cols = self._cols(window)
        inp, labels, _ = self._battery_input(by)
        results = bt.run_battery(inp, cols, True)
        blocks = {
            lab: {name: _block(r, i) for name, r in results.items()}
            for i, lab in enumerate(labels if labels is not None else [None])
        }
        return blocks[None] if by is None else blocks  # type: ignore[return-value]

    def aar_test_results(self, window: tuple[int, int] | None = None) -> dict[str, st.TestResult]:
        """The daily tests as :class:`TestResult` objects (arrays with one value per day)."""
        _, _, cols = self._cols(window)
        inp, _, _ = self._battery_input(None)
        return {n: _block(r, 0) for n, r in bt.run_battery(inp, cols, False).items()}

    @memoized
    def caar_tests(
        self,
        window: tuple[int, int] | None = None,
        by: By = None,
        *,
        calibrated: bool = True,
        tests: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Tests of the mean CAR over ``window`` (default: the computed window).

        Parameters
        ----------
        window : (int, int), optional
            Relative days, inclusive; default the computed window.
        by : None, "event_id" or mapping
            Pool every firm-event (None), one block per event, or per pool
            (event id -> pool name).
        calibrated : bool, default True
            On a calibrated results object (``event_study(..., calibrate=B)``), add the
            calibration columns; ``False`` gives the nominal table alone, without running the
            battery on the placebos (for tables that show nominal p-values only).
        tests : sequence of str, optional
            Compute only these tests (names of
            :data:`~eventstudy.vocabulary.TEST_NAMES`; rows in that order); default all.

        Returns
        -------
        DataFrame
            test, statistic, p_value, df, df2, null, plus ``caar`` (mean CAR) and ``n``; with
            ``by="event_id"`` an ``event_id`` column first (``pool`` for a mapping).
            ``sur_wald`` needs fewer securities than estimation days: when it cannot run its
            row is ``NaN`` and the reason is in :attr:`test_notes`. Calibrated results add
            ``p_calibrated``, ``n_placebo``, ``size_5pct``, ``size_ci_low``, ``size_ci_high``.
        """
        chosen = None if tests is None else check_tests(tests)
        nominal, names, B = self._caar_nominal(window, by, chosen)
        out = nominal.copy(deep=False)  # new columns leave the memo intact
        T = len(names)
        if calibrated and self._cal is not None:
            a, b, _ = self._cols(window)
            labels = self._battery_input(by)[1]
            null = self._cal.null_pvalues((a, b), True, by, labels, chosen)
            p_obs = out["p_value"].to_numpy().reshape(B, 1, T)
            self._add_calibration(out, p_obs, [null.get(n) for n in names], (B, 1))
        _, labels, column = self._battery_input(by)
        if column is not None:
            assert labels is not None
            out.insert(0, column, np.repeat(np.array(labels, dtype=object), T))
        return out

    @memoized
    def _caar_nominal(
        self, window: tuple[int, int] | None, by: By, tests: tuple[str, ...] | None = None
    ) -> tuple[pd.DataFrame, list[str], int]:
        """The nominal CAR test table of :meth:`caar_tests` (without the label column), the
        test names in its order and the number of blocks: computed once per window,
        grouping and choice of tests, calibrated or not."""
        batch = self._caar_batch(window, by, tests)
        return (
            caar_table(batch.tests, batch.caar, batch.n),
            list(batch.tests),
            len(batch.caar),
        )

    def caar_batch(
        self,
        window: tuple[int, int] | None = None,
        by: By = None,
        *,
        tests: Sequence[str] | None = None,
    ) -> CaarBatch:
        """What :meth:`caar_tests` tabulates (nominal p-values), as arrays: the batched
        test results, each block's mean CAR and firm-events, and the block labels.

        For callers that read a few numbers of many results objects (the runner's
        robustness tables): no table is built. Parameters as :meth:`caar_tests`.
        """
        return self._caar_batch(window, by, None if tests is None else check_tests(tests))

    def _caar_batch(
        self, window: tuple[int, int] | None, by: By, tests: tuple[str, ...] | None
    ) -> CaarBatch:
        _, _, cols = self._cols(window)
        inp, labels, _ = self._battery_input(by)
        results = bt.run_battery(inp, cols, True, tests)
        car, _, _ = inp.car_moments(cols)
        return CaarBatch(labels, results, inp.blocks.mean(car), inp.blocks.count(car))

    @staticmethod
    def _add_calibration(
        out: pd.DataFrame,
        p_obs: np.ndarray,
        nulls: list[np.ndarray | None],
        shape: tuple[int, int],
    ) -> None:
        """Columns ``p_calibrated``, ``n_placebo``, ``size_5pct`` (measured size at 5% on the
        placebos) and its Clopper-Pearson interval, in the table's row order (block, day,
        test)."""
        B, D = shape
        T = p_obs.shape[2]
        pc = np.full((B, D, T), np.nan)
        n = np.zeros((B, D, T))
        size = np.full((B, D, T), np.nan)
        for j, null in enumerate(nulls):
            if null is None:
                continue
            nb = null.reshape(B, D, -1)
            pc[:, :, j], n[:, :, j] = calibrated_p(p_obs[:, :, j], nb)
            size[:, :, j], _ = measured_size(nb)
        lo, hi = binomial_interval(np.rint(size * n), n)
        out["p_calibrated"] = pc.ravel()
        out["n_placebo"] = n.ravel().astype(int)
        out["size_5pct"] = size.ravel()
        out["size_ci_low"] = np.asarray(lo).ravel()
        out["size_ci_high"] = np.asarray(hi).ravel()

    def portfolio_bootstrap(
        self, window: tuple[int, int] | None = None, n_boot: int = 9999, seed: int | None = 0
    ) -> pd.DataFrame:
        """Bootstrap p-value of each event portfolio's CAR over ``window``.

        The null distribution of the CAR is built by summing ``L2`` abnormal returns drawn
        with replacement from the portfolio's own (centred) estimation-window abnormal
        returns; the two-sided p-value is the share of draws at least as large in absolute
        value. Robust to cross-correlation (it is the portfolio's own series) and to
        non-normal returns; it ignores estimation error in the portfolio's parameters.

        Returns
        -------
        DataFrame
            event_id, car, p_value, n_boot.
        """
        _, _, cols = self._cols(window)
        p = self._portfolio
        car, _, _ = bt.car_moments(p.ar_win, p.X_win, p.xtx_inv, p.sigma, cols)
        rng = np.random.default_rng(seed)
        recs = []
        for e, eid in enumerate(self._event_ids):
            pool = self._portfolio.ar_est[e]
            pool = pool[np.isfinite(pool)]
            pool = pool - pool.mean()
            n_days = int(np.isfinite(self._portfolio.ar_win[e, cols]).sum())
            draws = rng.choice(pool, size=(int(n_boot), n_days), replace=True).sum(axis=1)
            p = (1 + np.sum(np.abs(draws) >= abs(car[e]))) / (n_boot + 1)
            recs.append((eid, float(car[e]), float(p), int(n_boot)))
        return pd.DataFrame(recs, columns=["event_id", "car", "p_value", "n_boot"])

    @cached_property
    def test_notes(self) -> pd.DataFrame:
        """Tests that cannot run (their rows are ``NaN``), per event: event_id, test, reason.

        A test that cannot be computed is ``NaN`` and listed here, never silently ``NaN``.
        Reasons that hold for some windows only name the relative days concerned.

        - ``sur_wald`` / ``sur_wald_mean``: too many securities for the common estimation
          days, a security without a return on some window day (windows including that
          day have no SUR test), or a singular residual covariance (linearly dependent
          residuals, e.g. two securities with identical returns);
        - ``portfolio``: the event's equal-weighted portfolio has no residual variance (its
          members' abnormal returns offset exactly);
        - ``t_test``, ``bmp``, ``kolari_pynnonen``, ``grank``: an event with one firm-event
          has no cross-sectional variance (the pooled rows run when the study has several),
          nor has a window made only of days on which fewer than two firm-events have a
          return;
        - identical CARs (a window made only of days on which every abnormal return is
          equal): ``t_test``; when they are all 0 also ``bmp``, ``kolari_pynnonen``,
          ``grank`` and ``wilcoxon`` (zeros are dropped);
        - ``adjusted_patell``, ``kolari_pynnonen``: ``rbar <= -1/(N - 1)``, where the
          Kolari-Pynnonen factors are undefined (:func:`eventstudy.stats.kp_factor`);
        - ``generalized_sign``: ``p_hat`` is 0 or 1 (no estimation AR, or every one,
          positive).
        """
        d = self._d
        secs = d.events["security"].to_numpy()
        recs: list[tuple[str, str, str]] = []
        by_event, _, _ = self._battery_input("event_id")
        sur = self._sur
        pf = self._portfolio
        if d.convention == "estudy2":
            every = np.arange(d.ar_win.shape[1])
            rank_z = {
                r.name: np.asarray(r.statistic) for r in by_event._rank_tests_estudy2(every, False)
            }
        else:
            rank_z = dict(by_event._rank_z_textbook)
        every = np.arange(d.ar_win.shape[1])
        rank_z["grank"] = np.asarray(by_event._grank_daily(every).statistic)
        s_aar = st.aar_sd(by_event.aar_est)[0]  # S(AAR) of Brown-Warner 1985, per event

        def days(mask: np.ndarray) -> str:
            hit = d.rel_win[mask]
            more = ", ..." if len(hit) > 6 else ""
            return ", ".join(f"{int(x):+d}" for x in hit[:6]) + more

        for c, eid in enumerate(self._event_ids):
            rows = self._cluster_rows[c]
            n = len(rows)
            why: str | None = sur.reason[c]
            if why is None:
                miss = ~np.isfinite(d.y_win[rows])
                if miss.any():
                    who = ", ".join(map(str, secs[rows][miss.any(axis=1)][:4]))
                    why = f"no return for {who} on day(s) {days(miss.any(axis=0))}: windows "
                    why += "including them"
                gap = ~np.isfinite(d.X_win[rows[0]]).all(axis=1)
                if why is None and gap.any():
                    why = f"no market/factor return on day(s) {days(gap)}: windows including them"
            if why is not None:
                recs += [(eid, "sur_wald", why), (eid, "sur_wald_mean", why)]
            else:
                if sur.singular[c]:
                    recs.append(
                        (
                            eid,
                            "sur_wald",
                            "singular residual covariance: the securities' estimation "
                            "residuals are linearly dependent (e.g. identical returns)",
                        )
                    )
                if not float(sur.sum_sigma[c]) > 0:
                    recs.append(
                        (
                            eid,
                            "sur_wald_mean",
                            "the mean residual has no variance (the securities' residuals "
                            "offset exactly)",
                        )
                    )
            if not np.isfinite(pf.sigma[c]):
                recs.append(
                    (
                        eid,
                        "portfolio",
                        "the equal-weighted portfolio has no residual variance (its "
                        "members' abnormal returns offset exactly, or too few estimation days)",
                    )
                )
            ar = d.ar_win[rows]
            ok = np.isfinite(ar)
            n_t = ok.sum(axis=0)
            lost = (n_t > 0) & ~np.isfinite(pf.ar_win[c])
            if lost.any() and np.isfinite(pf.sigma[c]):
                recs.append(
                    (
                        eid,
                        "portfolio",
                        f"no portfolio abnormal return on day(s) {days(lost)} (the "
                        "portfolio uses the market/factor returns of the event's first "
                        "firm-event, which has none there): windows made only of those days",
                    )
                )
            hi = np.where(ok, ar, -np.inf).max(axis=0)
            lo = np.where(ok, ar, np.inf).min(axis=0)
            zero = (n_t >= 1) & (hi == 0) & (lo == 0)
            if zero.any():
                why = (
                    f"every abnormal return is 0 on day(s) {days(zero)}: windows made "
                    "only of those days have CARs of 0 (no variance, no signed ranks)"
                )
                tests = ["wilcoxon"] if n < 2 else ["bmp", "kolari_pynnonen", "grank", "wilcoxon"]
                recs += [(eid, test, why) for test in tests]
            if n < 2:
                for test in CROSS_SECTIONAL_TESTS:
                    recs.append((eid, test, "one firm-event: no cross-sectional variance"))
            else:
                r = float(self._rbar[c])
                if np.isfinite(r) and 1 + (n - 1) * r <= st.KP_MIN_DESIGN_EFFECT:
                    why = (
                        f"mean residual correlation rbar = {r:.4f} <= -1/(N - 1) = "
                        f"{-1 / (n - 1):.4f}: the Kolari-Pynnonen factor is undefined"
                    )
                    recs += [(eid, "adjusted_patell", why), (eid, "kolari_pynnonen", why)]
                few = n_t < 2
                if few.any():
                    why = (
                        f"fewer than two firm-events with a return on day(s) {days(few)}: "
                        "windows made only of those days have at most one CAR (no "
                        "cross-sectional variance)"
                    )
                    recs += [(eid, test, why) for test in CROSS_SECTIONAL_TESTS]
                equal = (n_t >= 2) & (hi == lo)
                if equal.any():
                    why = (
                        f"every abnormal return is equal on day(s) {days(equal)}: windows "
                        "made only of those days have identical CARs (no cross-sectional "
                        "variance)"
                    )
                    recs.append((eid, "t_test", why))
            if not s_aar[c] > bt.PORTFOLIO_MIN_SIGMA * float(np.max(d.sigma[rows])):
                why = (
                    "the mean estimation AR has no variance (the firm-events' residuals "
                    "offset exactly)"
                )
                recs += [(eid, "brown_warner_1985", why), (eid, "lamb", why)]
            for test, z in rank_z.items():
                if test == "grank" and n < 2:
                    continue  # noted above: no cross-sectional variance
                if not np.isfinite(z[c]).any():
                    why = "no variation of the daily mean signs/ranks (they offset exactly)"
                    recs.append((eid, test, why))
            p_hat = float(by_event.p_hat[c])
            if not 0 < p_hat < 1:
                recs.append(
                    (
                        eid,
                        "generalized_sign",
                        f"share of positive estimation ARs p_hat = {p_hat:g}: no binomial variance",
                    )
                )
        return pd.DataFrame(recs, columns=["event_id", "test", "reason"])

    @cached_property
    def _clustering(self) -> pd.DataFrame:
        n = np.array([len(r) for r in self._cluster_rows])
        rbar = self._rbar
        return pd.DataFrame(
            {
                "event_id": self._event_ids,
                "n_securities": n,
                "rbar": rbar,
                "design_effect": 1 + (n - 1) * np.nan_to_num(rbar, nan=0.0),
            }
        )

    @property
    def clustering(self) -> pd.DataFrame:
        """Per event: event_id, n_securities, rbar (mean pairwise correlation of estimation
        residuals on common days), design_effect ``1 + (N - 1) rbar``."""
        return self._clustering.copy(deep=False)

    @memoized
    def residual_correlation(self, event_id: str | None = None) -> pd.DataFrame:
        """Securities x securities correlation of estimation residuals (pairwise-complete).

        ``event_id`` defaults to the event with the most securities.
        """
        c = self._event_code(event_id)
        secs = self._d.events["security"].to_numpy()[self._cluster_rows[c]]
        corr = bt.pairwise_corr(self._d.ar_est[self._cluster_rows[c]])
        return pd.DataFrame(corr, index=list(secs), columns=list(secs))

    def _event_code(self, event_id: str | None) -> int:
        if event_id is None:
            return int(np.argmax([len(r) for r in self._cluster_rows]))
        try:
            return self._event_ids.index(str(event_id))
        except ValueError:
            raise ConfigError(
                field="event_id",
                value=event_id,
                expected="one of " + ", ".join(self._event_ids[:6]),
            ) from None

    @memoized
    def car_paths(self, start: int | None = None) -> pd.DataFrame:
        """Cumulative AR from ``start`` (default: the window start) to each later day of the
        window, per firm-event and per event portfolio.

        Returns
        -------
        DataFrame
            event_id, security (``"portfolio"`` for the equal-weighted portfolio of the
            event), rel_day, date, car, se; ``car`` on day ``d`` is ``car((start, d))``
            and ``se`` its Mikkelson-Partch standard error (the portfolio's from its own
            estimation variance, as ``portfolio_car((start, d))``), running sums
            (:func:`eventstudy.battery.car_path_moments`).
        """
        d = self._d
        w0, w1 = self.window
        a = w0 if start is None else check_window((start, w1), (w0, w1), "(start, window end)")[0]
        c = slice(a - w0, None)
        K, W = d.ar_win[:, c].shape
        rel = d.rel_win[c]
        car, se = bt.car_path_moments(d.ar_win[:, c], d.X_win[:, c], d.xtx_inv, d.sigma)
        firms = pd.DataFrame(
            {
                "event_id": np.repeat(d.events["event_id"].to_numpy(), W),
                "security": np.repeat(d.events["security"].to_numpy(), W),
                "rel_day": np.tile(rel, K),
                "date": d.dates_win[:, c].ravel(),
                "car": car.ravel(),
                "se": se.ravel(),
            }
        )
        p = self._portfolio
        pcar, pse = bt.car_path_moments(p.ar_win[:, c], p.X_win[:, c], p.xtx_inv, p.sigma)
        E = len(self._event_ids)
        first = self._first_rows
        port = pd.DataFrame(
            {
                "event_id": np.repeat(np.array(self._event_ids, dtype=object), W),
                "security": "portfolio",
                "rel_day": np.tile(rel, E),
                "date": d.dates_win[first][:, c].ravel(),
                "car": pcar.ravel(),
                "se": pse.ravel(),
            }
        )
        return pd.concat([firms, port], ignore_index=True)

    def fit_details(
        self,
        event_id: str,
        security: str,
        cov_type: Literal["nonrobust", "HC0", "HC1", "HC3", "HAC"] = "nonrobust",
        maxlags: int | None = None,
    ) -> Any:
        """statsmodels OLS of one firm-event on its estimation window.

        Parameters
        ----------
        event_id, security : str
        cov_type : {"nonrobust", "HC0", "HC1", "HC3", "HAC"}
            ``"HAC"`` is Newey-West with ``maxlags`` (default ``floor(4 (L/100)^(2/9))``).

        Returns
        -------
        statsmodels.regression.linear_model.RegressionResultsWrapper
        """
        import statsmodels.api as sm

        d = self._d
        if d.model == "market_adjusted":
            raise ConfigError(
                field="model", value=d.model, expected="a model with estimated parameters"
            )
        ev = d.events
        hit = np.flatnonzero(
            (ev["event_id"].to_numpy() == str(event_id)) & (ev["security"].to_numpy() == security)
        )
        if len(hit) == 0:
            raise ConfigError(
                field="event_id/security",
                value=f"{event_id}/{security}",
                expected="a fitted firm-event (see res.events and res.excluded)",
            )
        i = int(hit[0])
        y, X = d.y_est(np.array([i]))[0], d.design_est(np.array([i])).full()[0]
        ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
        rows = d.pos[i] + d.rel_est
        dates = d.returns.index[np.clip(rows, 0, len(d.returns.index) - 1)][ok]
        exog = pd.DataFrame(X[ok], index=dates, columns=d.param_names)
        endog = pd.Series(y[ok], index=dates, name=security)
        model = sm.OLS(endog, exog)
        if cov_type == "HAC":
            lags = maxlags if maxlags is not None else int(4 * (ok.sum() / 100) ** (2 / 9))
            return model.fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        return model.fit(cov_type=cov_type)

    # ------------------------------------------------------------------ presentation

    def summary(self, window: tuple[int, int] | None = None) -> ResultsSummary:
        """The answer first: one verdict per event, then the firms, the tests and the setup.

        Parameters
        ----------
        window : (int, int), optional
            The CAR window of the verdicts and tables (default ``(0, +1)`` when inside the
            computed window, else the whole window).

        Returns
        -------
        ResultsSummary
            Its text starts with one sentence per event (the same words as ``eventstudy
            run`` and the report: :class:`eventstudy.verdict.Verdict`); then the firms' AR
            on day 0 and CAR over ``window`` (percent, with s.e., t and p), each event's
            tests of the mean CAR, the clustering and the exclusions. Events are not
            pooled.
        """
        from eventstudy import verdict as vd

        d = self._d
        w: tuple[int, int] = (
            (int(window[0]), int(window[1])) if window is not None else vd.default_window(d.window)
        )
        self._cols(w)  # a window outside the computed one is a ConfigError here
        verdicts = vd.verdicts_from_results(self, w)
        lead = [v.sentence for v in verdicts]
        lead.append(f"Test: {(verdicts[0].test if verdicts else vd.PORTFOLIO_TEST).why}.")
        n_ev = len(self._event_ids)
        header = [
            f"Event study: {d.model} model"
            + (f" on {d.market_name}" if d.market_name else "")
            + f", convention {d.convention}",
            f"Estimation window {d.estimation}, event window {d.window}; "
            f"{len(d.events)} firm-events in {n_ev} event(s); {len(d.excluded)} excluded",
        ]
        clustered = self._clustering[self._clustering["n_securities"] > 1]
        if len(clustered) and self._cal is None:
            header.append(
                "Clustered event dates: tests assuming independence over-reject; read "
                "portfolio, sur_wald, adjusted_patell, kolari_pynnonen and grank first "
                "(event_study(calibrate=1000) measures which tests hold their size here)."
            )
        label = "CAR" + _window_label(w)
        firms = self.firm_table(w)
        shown = pd.DataFrame(
            {
                "event_id": firms["event_id"],
                "security": firms["security"],
                "AR(0)": [
                    _pct(v) + s for v, s in zip(firms["ar0"], firms["stars_ar0"], strict=True)
                ],
                "se AR(0)": firms["se_ar0"].map(_se),
                "t AR(0)": firms["t_ar0"].map(_t),
                "p AR(0)": firms["p_ar0"].map(_num),
                "p SQ AR(0)": firms["p_sq_ar0"].map(_num),
                label: [_pct(v) + s for v, s in zip(firms["car"], firms["stars_car"], strict=True)],
                f"se {label}": firms["se_car"].map(_se),
                f"t {label}": firms["t_car"].map(_t),
                f"p {label}": firms["p_car"].map(_num),
                f"p SQ {label}": firms["p_sq_car"].map(_num),
            }
        )
        firm_title = (
            f"Firms: abnormal return on day 0 and {label} (t with the prediction-error "
            "variance; * p<0.10, ** p<0.05, *** p<0.01)"
        )
        keep, capped = _movers_rows(firms, label)
        if capped:
            shown = shown.iloc[keep]
            firm_title += (
                f"; above {MAX_SECURITIES_SHOWN} firms in an event, its {MOVERS_SHOWN} largest "
                f"and {MOVERS_SHOWN} smallest {label}, largest first (every firm: "
                "res.firm_table())"
            )
        tests = self.caar_tests(w, by="event_id")
        show = ["event_id", "test", "statistic", "p_value", "caar", "n"]
        if self._cal is not None:
            show += ["p_calibrated", "size_5pct"]
        tests = tests.assign(caar=tests["caar"].map(_pct))[show].rename(
            columns={"caar": f"mean {label}", "size_5pct": "size at 5% (placebos)"}
        )
        tables: list[tuple[str, pd.DataFrame]] = [
            (firm_title, shown),
            (f"Tests of the mean {label}, per event (robust tests first)", tests),
            ("Clustering", self._clustering),
        ]
        if len(d.excluded):
            tables.append(("Excluded", d.excluded))
        return ResultsSummary(header, tables, lead=lead)

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        d = self._d
        return (
            f"<EventStudyResults {d.model}/{d.convention}: {len(d.events)} firm-events, "
            f"{len(self._event_ids)} events, window {d.window}>"
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    # ------------------------------------------------------------------ figures (lazy)
    # Each returns a plotly Figure; inside a Jupyter kernel the first call sets a renderer
    # that embeds plotly.js in the notebook (figures.use_notebook_renderer), so figures
    # survive ``jupyter nbconvert --to html``.

    def plot_ar(self, event_id: str | None = None, **kw: Any) -> Any:
        """Bar chart of abnormal returns (see :mod:`eventstudy.figures`)."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_ar(self, event_id=event_id, **kw)

    def plot_car(self, event_id: str | None = None, **kw: Any) -> Any:
        """CAR paths from day -1 with the portfolio's confidence band (firms toggleable)."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_car(self, event_id=event_id, **kw)

    def plot_heatmap(self, window: tuple[int, int] = (0, 1), **kw: Any) -> Any:
        """Heatmap of CARs, securities x events."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_heatmap(self, window=window, **kw)

    def plot_forest(self, window: tuple[int, int] = (0, 1), **kw: Any) -> Any:
        """Forest plot of CARs with confidence intervals."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_forest(self, window=window, **kw)

    def plot_diagnostics(self, **kw: Any) -> Any:
        """Model diagnostics (fit, residuals)."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_diagnostics(self, **kw)

    def plot_residual_correlation(self, event_id: str | None = None, **kw: Any) -> Any:
        """Heatmap of the estimation-residual correlation of an event's securities."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_residual_correlation(self, event_id=event_id, **kw)

    def plot_tests(self, windows: Sequence[tuple[int, int]] | None = None, **kw: Any) -> Any:
        """Test statistics across windows."""
        from eventstudy import figures

        figures.use_notebook_renderer(only_in_kernel=True)
        return figures.plot_tests(self, windows=windows, **kw)

    # ------------------------------------------------------------------ firm by firm

    def firm_table(self, window: tuple[int, int] | None = None) -> pd.DataFrame:
        """Each firm-event's abnormal return on day 0 and its CAR over ``window``.

        Built on :meth:`car`: each value with its standard error from the prediction-error
        variance (Mikkelson-Partch: ``s sqrt(L2 + s_W'(X'X)^{-1}s_W)``; on day 0
        ``s sqrt(1 + x_0'(X'X)^{-1}x_0)``), ``t = value / se`` and its two-sided p-value
        against t with the residual degrees of freedom, and significance stars.

        Parameters
        ----------
        window : (int, int), optional
            Default ``(0, +1)`` when inside the computed window, else the whole window.

        Returns
        -------
        DataFrame
            event_id, security, day0, window (e.g. ``"(0,+1)"``), ar0, se_ar0, t_ar0,
            p_ar0, p_sq_ar0, stars_ar0, car, se_car, t_car, p_car, p_sq_car, ci_low_car,
            ci_high_car, stars_car, n_days, n_sq; the day-0 columns are ``NaN`` when day 0 is
            outside the computed window. ``p_sq_*`` are the SQ test's p-values (Gelbach,
            Helland & Klick 2013: no normality; :meth:`car`), ``n_sq`` the estimation-window
            CARs behind ``p_sq_car``; ``ci_*_car`` the 95% t interval of the CAR.
        """
        return pd.DataFrame(self.firm_columns(window))

    def firm_columns(self, window: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
        """The columns of :meth:`firm_table`, as arrays (one value per firm-event), without
        framing them: for callers that read them for many windows (the run's per-firm table,
        :func:`eventstudy.verdict.firm_rows`)."""
        from eventstudy.verdict import default_window

        d = self._d
        w: tuple[int, int] = (
            (int(window[0]), int(window[1])) if window is not None else default_window(d.window)
        )
        # car() has a row per firm-event of self.events, in its order: the columns are
        # read side by side (a join on event_id and security would pair the same rows)
        ev = d.events
        car = self.car(w)
        K = len(ev)
        if d.window[0] <= 0 <= d.window[1]:
            day0 = self.car((0, 0))
            ar0 = {
                "ar0": day0["car"].to_numpy(),
                "se_ar0": day0["se"].to_numpy(),
                "t_ar0": day0["statistic"].to_numpy(),
                "p_ar0": day0["p_value"].to_numpy(),
                "p_sq_ar0": day0["p_sq"].to_numpy(),
            }
        else:
            ar0 = {k: np.full(K, np.nan) for k in ("ar0", "se_ar0", "t_ar0", "p_ar0", "p_sq_ar0")}
        p_car = car["p_value"].to_numpy()
        return {
            "event_id": ev["event_id"].to_numpy(dtype=object),
            "security": ev["security"].to_numpy(dtype=object),
            "day0": ev["event_date"].to_numpy(),
            "window": np.full(K, _window_label(w), dtype=object),
            **ar0,
            "stars_ar0": _stars(ar0["p_ar0"]),
            "car": car["car"].to_numpy(),
            "se_car": car["se"].to_numpy(),
            "t_car": car["statistic"].to_numpy(),
            "p_car": p_car,
            "p_sq_car": car["p_sq"].to_numpy(),
            "ci_low_car": car["ci_low"].to_numpy(),
            "ci_high_car": car["ci_high"].to_numpy(),
            "stars_car": _stars(p_car),
            "n_days": car["n_days"].to_numpy(),
            "n_sq": car["n_sq"].to_numpy(),
        }

    # ------------------------------------------------------------------ beyond the CAR

    def cross_section(
        self,
        formula: str,
        window: tuple[int, int] = (0, 1),
        data: pd.DataFrame | None = None,
        *,
        weights: Literal["ols", "wls"] = "ols",
        cov: Literal["auto", "hc3", "cluster"] = "auto",
    ) -> CrossSectionResults:
        """Regress the firm-events' CARs over ``window`` on characteristics.

        ``res.cross_section("car ~ us_sales_share + log_mcap", window=(0, 1), data=chars)``:
        statsmodels OLS (or WLS with weights ``1 / se(CAR)^2``), HC3 standard errors, or
        clustered by event date when firm-events share dates (``cov="auto"``). See
        :func:`eventstudy.crosssection.cross_section`; the result has ``summary()``, a tidy
        ``table`` and ``plot()``.
        """
        from eventstudy.crosssection import cross_section

        return cross_section(self, formula, window, data, weights=weights, cov=cov)


def _window_label(window: Sequence[int]) -> str:
    from eventstudy.config import format_window

    return format_window(window)


def _stars(p: np.ndarray) -> np.ndarray:
    """:func:`eventstudy.verdict.stars` of each p-value, as text."""
    from eventstudy.verdict import stars

    return np.array([stars(x) for x in np.asarray(p, dtype=float).tolist()], dtype=object)


def _movers_rows(firms: pd.DataFrame, label: str) -> tuple[np.ndarray, bool]:
    """Positions of the ``firm_table`` rows ``summary()`` prints: every row, or, in an event
    of more than ``MAX_SECURITIES_SHOWN`` firms, its movers by ``car`` (largest first)."""
    event = firms["event_id"].to_numpy()
    keep: list[int] = []
    capped = False
    for eid in dict.fromkeys(event):
        pos = np.flatnonzero(event == eid)
        movers = top_and_bottom(
            pd.Series(firms["car"].to_numpy(dtype=float)[pos], index=pos), measure=label
        )
        capped = capped or movers.capped
        keep += [int(k) for k in movers.keys]
    return np.asarray(keep, dtype=int), capped


def _pct(v: float) -> str:
    return f"{v * 100:+.2f}%" if np.isfinite(v) else "n/a"


def _se(v: float) -> str:
    return f"{v * 100:.2f}%" if np.isfinite(v) else "n/a"


def _t(v: float) -> str:
    return f"{v:.2f}" if np.isfinite(v) else "n/a"


def _num(v: float) -> str:
    return f"{v:.4f}" if np.isfinite(v) else "n/a"


def aar_table(
    results: Mapping[str, st.TestResult], aar: np.ndarray, n: np.ndarray, first_day: int
) -> pd.DataFrame:
    """The daily test table of :meth:`EventStudyResults.aar_tests` from batched results.

    ``results`` have statistics of shape ``(B, D)`` (blocks, days from ``first_day``);
    ``aar`` and ``n`` are the blocks' mean AR and firm-events observed, ``(B, D)``. Rows are
    ordered by block, day, then test.
    """
    B, D = np.shape(aar)
    T = len(results)

    def stack(field: str) -> np.ndarray:
        cols_ = []
        for r in results.values():
            v = getattr(r, field)
            v = (
                np.full((B, D), np.nan)
                if v is None
                else np.broadcast_to(np.asarray(v, dtype=float).reshape(B, -1), (B, D))
            )
            cols_.append(v)
        return np.stack(cols_, axis=2).ravel()

    return pd.DataFrame(
        {
            "rel_day": np.tile(np.repeat(first_day + np.arange(D), T), B),
            "test": np.tile(np.array(list(results), dtype=object), B * D),
            "statistic": stack("statistic"),
            "p_value": stack("p_value"),
            "df": stack("df"),
            "df2": stack("df2"),
            "min_p": stack("min_p"),
            "null": np.tile(np.array([r.null for r in results.values()], dtype=object), B * D),
            "aar": np.repeat(np.ravel(aar), T),
            "n": np.repeat(np.ravel(n).astype(int), T),
        }
    )


def caar_table(
    results: Mapping[str, st.TestResult], caar: np.ndarray, n: np.ndarray
) -> pd.DataFrame:
    """The window test table of :meth:`EventStudyResults.caar_tests` from batched results
    (statistics ``(B,)``), the blocks' mean CAR and firm-events ``(B,)``; rows by block, then
    test."""
    B, T = len(caar), len(results)

    def stack(field: str) -> np.ndarray:
        vals = []
        for r in results.values():
            v = getattr(r, field)
            vals.append(np.full(B, np.nan) if v is None else np.asarray(v, float).reshape(B))
        return np.stack(vals, axis=1).ravel()

    return pd.DataFrame(
        {
            "test": np.tile(np.array(list(results), dtype=object), B),
            "statistic": stack("statistic"),
            "p_value": stack("p_value"),
            "df": stack("df"),
            "df2": stack("df2"),
            "min_p": stack("min_p"),
            "null": np.tile(np.array([r.null for r in results.values()], dtype=object), B),
            "caar": np.repeat(caar, T),
            "n": np.repeat(np.asarray(n).astype(int), T),
        }
    )


def _t_crit(df: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Two-sided critical value of t with ``df`` degrees of freedom (``NaN`` for df <= 0)."""
    from scipy.special import stdtrit

    df = np.asarray(df, dtype=float)
    ok = df > 0
    return np.where(ok, stdtrit(np.where(ok, df, 1.0), 0.5 + level / 2), np.nan)


def _block(r: st.TestResult, i: int) -> st.TestResult:
    """Block ``i`` of a batched :class:`TestResult` (the batch axis dropped)."""

    def f(x: Any) -> Any:
        if x is None:
            return None
        a = np.asarray(x, dtype=float)[i]
        return float(a) if a.ndim == 0 else a

    return st.TestResult(
        r.name, f(r.statistic), f(r.p_value), f(r.df), r.null, f(r.df2), f(r.min_p)
    )
