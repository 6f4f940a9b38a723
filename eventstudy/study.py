"""Front door of the engine: ``event_study(...)`` and ``EventStudy(...).fit()``.

The fit is vectorised: the returns of every firm-event are gathered into stacked arrays in
event time (one row per firm-event, one column per relative day), the expected-return
model is fitted by batched closed-form OLS (:mod:`eventstudy.models`), and the results
object computes tables and tests lazily from those arrays (:mod:`eventstudy.results`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from eventstudy.battery import BatterySums
from eventstudy.calibration import Calibration
from eventstudy.exceptions import (
    ClusteredEventWarning,
    ConfigError,
    DataError,
    EventStudyWarning,
    PlaceboDatesWarning,
    format_warning,
)
from eventstudy.models import (
    MODELS,
    design,
    fit_expected_returns,
    forecast_variance_factor,
    patell_df,
    preset_inputs,
    residual_df,
    zero_gaps,
)
from eventstudy.parallel import Backend, Scheduler, check_compute, executor, split_clusters
from eventstudy.results import EngineData, EventStudyResults, gather_rows
from eventstudy.summary import (
    ChunkSummary,
    GrankScales,
    SummaryPlan,
    SummaryResults,
    grank_pass,
    grank_scales,
    summarize,
)
from eventstudy.vocabulary import (
    CONVENTIONS,
    INDEPENDENCE_TESTS,
    Convention,
    FactorPreset,
    ModelName,
)

__all__ = ["COLLECT", "CONVENTIONS", "Collect", "EventStudy", "FitPart", "event_study"]

#: What the engine brings back: every firm-event's arrays, or tables and sufficient
#: statistics (:mod:`eventstudy.summary`).
Collect = Literal["arrays", "summary"]
COLLECT: tuple[str, ...] = ("arrays", "summary")

Model = ModelName


_CHUNK = 8192

#: Fewest sessions that can serve as an event's placebo day 0 for its p-values to be
#: calibrated (below, the run says so and reports nominal p-values only).
CALIBRATION_MIN_DATES = 20


@dataclass(frozen=True, eq=False)
class FitPart:
    """The fit of a set of whole events (all of them, or one chunk).

    Attributes
    ----------
    data : EngineData or None
        The engine arrays of the firm-events that can be studied (``None``: none can).
    excluded_input : list of (event_id, security, reason)
        Firm-events that cannot be studied as given (security not in the returns, event
        date not a session, window outside the sample).
    excluded_fit : list of (event_id, security, reason)
        Firm-events dropped by the fit (too few estimation returns, no residual variance,
        no return on day 0).
    n_input : int
        Firm-events that reached the fit.
    n_fitted : int
        Firm-events studied (the rows of ``data``).
    """

    data: EngineData | None
    excluded_input: list[tuple[str, str, str]]
    excluded_fit: list[tuple[str, str, str]]
    n_input: int
    n_fitted: int

    def portable(self) -> FitPart:
        """The part without the arrays every chunk shares (the returns panel, the market
        and factors): what a worker sends back."""
        d = self.data
        if d is None:
            return self
        light = replace(d, returns=d.returns.iloc[:0, :0], R=np.empty((0, 0)), market=None,
                        factors=None)  # fmt: skip
        return replace(self, data=light)


def _fit_chunk(spec: EventStudy, events: pd.DataFrame) -> FitPart:
    """A worker's task: fit one chunk of whole events with the shared specification."""
    return spec._fit_part(events).portable()


def _excluded(parts: Sequence[FitPart]) -> pd.DataFrame:
    """The exclusions of consecutive chunks in the order one fit lists them: the input
    checks of every chunk first, then the fit's."""
    rows = [x for p in parts for x in p.excluded_input]
    rows += [x for p in parts for x in p.excluded_fit]
    return pd.DataFrame(rows, columns=["event_id", "security", "reason"])


def _summary_chunk(
    shared: tuple[EventStudy, SummaryPlan], events: pd.DataFrame
) -> tuple[FitPart, ChunkSummary | None]:
    """A worker's first-pass task of a summary run: fit the chunk, return its tables and
    sufficient statistics (never its arrays)."""
    spec, plan = shared
    part = spec._fit_part(events)
    light = replace(part, data=None)
    return light, None if part.data is None else summarize(part.data, plan)


def _grank_chunk(
    shared: tuple[EventStudy, SummaryPlan], task: tuple[pd.DataFrame, GrankScales]
) -> dict[str | tuple[int, int], BatterySums]:
    """A worker's second-pass task of a summary run: refit the chunk, return grank's sums
    with the pooled scales."""
    spec, plan = shared
    events, scales = task
    data = spec._fit_part(events).data
    assert data is not None  # the first pass fitted the same chunk
    return grank_pass(data, plan, scales)


_NOT_A_COLUMN = "security is not a column of returns"


def _check_fitted(parts: Sequence[FitPart]) -> None:
    """Raise the engine's one-line :class:`DataError` when no firm-event can be studied."""
    if any(p.n_fitted for p in parts):
        return
    checked = [x for p in parts for x in p.excluded_input]
    if sum(p.n_input for p in parts) == 0:
        # each reason once, with the securities it concerns (the first three named)
        by_reason: dict[str, list[str]] = {}
        for x in checked:
            secs = by_reason.setdefault(x[2], [])
            if str(x[1]) not in secs:
                secs.append(str(x[1]))
        reasons = [
            f"{why}: {', '.join(secs[:3])}"
            + (f" and {len(secs) - 3} more" if len(secs) > 3 else "")
            for why, secs in list(by_reason.items())[:3]
        ]
        missing = set(by_reason) == {_NOT_A_COLUMN}
        raise DataError(
            symbol="events",
            detail="no firm-event can be studied (" + "; ".join(reasons) + ")",
            fix="name securities that are columns of returns (check each symbol's spelling), "
            "or add their prices"
            if missing
            else "extend the prices to cover the event windows, or check the event dates",
        )
    last = [x for p in parts for x in p.excluded_fit][-1][2]
    raise DataError(
        symbol="events",
        detail="every firm-event was excluded (" + last + ")",
        fix="check for constant prices or a constant market series"
        if "variance" in last
        else "lengthen the returns history or lower min_estimation_obs",
    )


def _rows_where(frame: pd.DataFrame, mask: np.ndarray) -> list[Any]:
    """``frame[mask].itertuples()`` as a list; nothing built when no row is selected (the
    usual case of the exclusion checks, run on every fit)."""
    return list(frame[mask].itertuples()) if mask.any() else []


def _positional(index: pd.Index) -> bool:
    """Whether ``index`` is ``0, 1, ..., n - 1`` (labels are positions)."""
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _returns_matrix(ret: pd.DataFrame, securities: list[str]) -> np.ndarray:
    """The return columns of ``securities`` as one float matrix (sessions x securities)."""
    col_index = {c: i for i, c in enumerate(ret.columns.astype(str))}
    cols = [col_index[s] for s in securities]
    if all(dt == np.float64 for dt in ret.dtypes.tolist()):
        # every column float: the frame's own values, the columns picked by numpy (the
        # layout iloc + to_numpy gives, sessions x securities in Fortran order)
        return np.asfortranarray(ret.to_numpy()[:, cols])
    try:
        return ret.iloc[:, cols].to_numpy(dtype=float)
    except (TypeError, ValueError):
        bad = [s for s in securities if not pd.api.types.is_numeric_dtype(ret[s])]
        raise DataError(
            symbol=", ".join(bad[:3]) or "returns",
            detail="returns are not numeric",
            fix="pass float returns (NaN for no observation)",
        ) from None


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Columns stacked on a third axis (a view, not a copy, for one column)."""
    return parts[0][..., None] if len(parts) == 1 else np.stack(parts, axis=2)


def _row_abs_max(y: np.ndarray) -> np.ndarray:
    """Largest ``|y|`` of each row over its finite entries (0 for none), in chunks."""
    out = np.empty(len(y))
    for lo in range(0, len(y), _CHUNK):
        c = y[lo : lo + _CHUNK]
        m = np.fmax.reduce(np.abs(c), axis=1, initial=0.0)  # fmax skips NaN
        inf = np.isinf(m)
        if inf.any():  # an infinite entry: the largest finite one
            m[inf] = np.where(np.isfinite(c[inf]), np.abs(c[inf]), 0.0).max(axis=1, initial=0.0)
        out[lo : lo + _CHUNK] = m
    return out


def _market_term(
    model: str, m_est: np.ndarray | None, m_win: np.ndarray | None, shape: tuple[int, int]
) -> np.ndarray:
    """``(M_t - Mbar)^2 / Sxx`` on each window day, the market moments over every market
    observation of the estimation window (Lamb's term; estudy2's prediction-error term);
    zero without a regression on the market (constant mean, market adjusted) or a constant
    market."""
    if m_est is None or m_win is None or model in ("constant_mean", "market_adjusted"):
        return np.zeros(shape)
    out = np.empty(shape)
    for lo in range(0, shape[0], _CHUNK):
        me, mw = m_est[lo : lo + _CHUNK, :, 0], m_win[lo : lo + _CHUNK, :, 0]
        ok = np.isfinite(me)
        n_i = np.count_nonzero(ok, axis=1)
        gaps = np.flatnonzero(n_i < me.shape[1])  # only the rows with a missing day masked
        n = np.maximum(n_i, 1)
        mbar = (zero_gaps(me, ok, gaps) if len(gaps) else me).sum(axis=1) / n
        sxx = zero_gaps((me - mbar[:, None]) ** 2, ok, gaps, copy=False).sum(axis=1)
        safe = np.where(sxx > 0, sxx, 1.0)
        out[lo : lo + _CHUNK] = np.where(
            (sxx > 0)[:, None], (mw - mbar[:, None]) ** 2 / safe[:, None], 0.0
        )
    return out


@overload
def event_study(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    market: str | pd.Series | None = "MKT",
    model: Model | FactorPreset = "market",
    factors: Sequence[str] | pd.DataFrame | None = None,
    estimation: tuple[int, int] = (-260, -11),
    window: tuple[int, int] = (-10, 10),
    min_estimation_obs: int = 100,
    convention: Convention = "textbook",
    *,
    dimson_lags: int = 0,
    calibrate: int = 0,
    seed: int | None = 0,
    backend: Backend | None = None,
    chunk_events: int | None = None,
    scheduler: Scheduler | None = None,
    workers: int | None = None,
    collect: Literal["arrays"] = "arrays",
    car_windows: Sequence[tuple[int, int]] = (),
    tests: Sequence[str] | None = None,
    warn: bool = True,
) -> EventStudyResults: ...


@overload
def event_study(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    market: str | pd.Series | None = "MKT",
    model: Model | FactorPreset = "market",
    factors: Sequence[str] | pd.DataFrame | None = None,
    estimation: tuple[int, int] = (-260, -11),
    window: tuple[int, int] = (-10, 10),
    min_estimation_obs: int = 100,
    convention: Convention = "textbook",
    *,
    dimson_lags: int = 0,
    calibrate: int = 0,
    seed: int | None = 0,
    backend: Backend | None = None,
    chunk_events: int | None = None,
    scheduler: Scheduler | None = None,
    workers: int | None = None,
    collect: Literal["summary"],
    car_windows: Sequence[tuple[int, int]] = (),
    tests: Sequence[str] | None = None,
    warn: bool = True,
) -> SummaryResults: ...


def event_study(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    market: str | pd.Series | None = "MKT",
    model: Model | FactorPreset = "market",
    factors: Sequence[str] | pd.DataFrame | None = None,
    estimation: tuple[int, int] = (-260, -11),
    window: tuple[int, int] = (-10, 10),
    min_estimation_obs: int = 100,
    convention: Convention = "textbook",
    *,
    dimson_lags: int = 0,
    calibrate: int = 0,
    seed: int | None = 0,
    backend: Backend | None = None,
    chunk_events: int | None = None,
    scheduler: Scheduler | None = None,
    workers: int | None = None,
    collect: Collect = "arrays",
    car_windows: Sequence[tuple[int, int]] = (),
    tests: Sequence[str] | None = None,
    warn: bool = True,
) -> EventStudyResults | SummaryResults:
    """Run an event study and return its results.

    Parameters
    ----------
    returns : DataFrame
        Sessions (``DatetimeIndex``) by securities, simple returns, ``NaN`` = no
        observation; also holds the market and factor columns.
    events : DataFrame
        Columns ``security``, ``event_date`` (day 0, a date of ``returns.index``) and
        optionally ``event_id`` (default: the event date as ``YYYY-MM-DD``). Securities
        sharing an ``event_id`` form one cluster.
    market : str or Series
        Column of ``returns`` with the market return, or a Series on the same index. The
        factor presets use the library's ``Mkt-RF`` instead (``res.market`` says so).
    model : {"market", "constant_mean", "market_adjusted", "factor", "ff3", "ff5", "carhart"}
        The presets ``ff3`` (Fama-French 3 factors), ``ff5`` (5 factors) and ``carhart``
        (3 factors and momentum) fit the ``factor`` model on excess returns ``R - RF`` with
        ``Mkt-RF`` as the market (:func:`eventstudy.models.preset_inputs`); ``res.model`` is
        then ``"factor"`` and ``res.params`` has one column per factor.
    factors : list of str or DataFrame, optional
        Extra regressors of the ``"factor"`` model (e.g. USD/JPY, a sector index). For a
        preset: the library's factors in decimals (a DataFrame by date, e.g.
        ``FrenchLibrary().load("japan", ["ff3"])``), or columns of ``returns`` holding them
        (default: the columns named ``Mkt-RF``, ``SMB``, ``HML``, ``RMW``, ``CMA``, ``MOM``,
        ``RF``).
    estimation : (int, int)
        Inclusive relative days of the estimation window.
    window : (int, int)
        Inclusive relative days for which abnormal returns are computed.
    min_estimation_obs : int
        Firm-events with fewer estimation observations are excluded (see
        ``results.excluded``).
    convention : {"textbook", "estudy2"}
        ``"estudy2"`` reproduces R estudy2 0.10 (see ``docs/statistics.md``).
    dimson_lags : int, keyword-only
        Lags of the market added to the market/factor model (Dimson 1979).
    calibrate : int, keyword-only
        Placebo dates drawn per event for calibrated p-values (0: none). Every test table
        then gains ``p_calibrated``, ``n_placebo`` and the test's measured size at 5%
        (:mod:`eventstudy.calibration`).
    seed : int, keyword-only
        Seed of the placebo draws (the same seed and data give the same p-values).
    backend : {None, "processes", "dask"}, keyword-only
        Where the fit runs (:mod:`eventstudy.parallel`). ``None``: here, in one pass.
        ``"processes"``: a pool of local processes; ``"dask"``: a Dask cluster. The events
        are split into chunks of whole events, each chunk is fitted by the same code on a
        worker and the client concatenates the arrays: every table is identical to
        ``backend=None``.
    chunk_events : int, keyword-only, optional
        Events per chunk (default: about 20,000 firm-events per chunk).
    scheduler : str or distributed.Client, keyword-only, optional
        ``backend="dask"``: a scheduler address (``"tcp://10.0.0.5:8786"``) or a connected
        client; default a local cluster for the call.
    workers : int, keyword-only, optional
        Processes of the pool, or workers of the local Dask cluster (default: the cores).
    collect : {"arrays", "summary"}, keyword-only
        ``"arrays"`` (default): every firm-event's arrays end up here and every table of
        :class:`EventStudyResults` is available. ``"summary"``: memory bounded by the chunk,
        for hundreds of thousands or millions of firm-events: each chunk returns its
        per-firm and per-event tables and the sufficient statistics of the pooled tests
        (:mod:`eventstudy.summary`); with ``backend=None`` the chunks run one after the
        other in this process.
    car_windows : sequence of (int, int), keyword-only
        ``collect="summary"``: the windows whose CAR tables and tests are computed (the
        event window always is).
    tests : sequence of str, keyword-only, optional
        ``collect="summary"``: the tests computed (default: all).
    warn : bool, keyword-only
        Raise a :class:`~eventstudy.exceptions.ClusteredEventWarning` for each event whose
        securities share day 0 (default). ``False`` skips the check, for a refit whose
        caller has raised these warnings already (the runner's robustness refits).

    Returns
    -------
    EventStudyResults, or SummaryResults with ``collect="summary"``

    Examples
    --------
    >>> res = event_study(returns, events, market="^N225", window=(-5, 5))  # doctest: +SKIP
    >>> res.caar_tests((0, 1))  # doctest: +SKIP
    >>> big = event_study(returns, events, market="SPY", backend="dask",
    ...                   scheduler="tcp://10.0.0.5:8786", collect="summary",
    ...                   car_windows=[(0, 1)])  # doctest: +SKIP
    >>> ff = FrenchLibrary().load("japan", ["ff3"])  # doctest: +SKIP
    >>> res = event_study(returns, events, model="ff3", factors=ff)  # doctest: +SKIP
    """
    if collect not in COLLECT:
        raise ConfigError(field="collect", value=collect, expected="'arrays' or 'summary'")
    engine_model: Model
    if model == "ff3" or model == "ff5" or model == "carhart":  # FACTOR_PRESETS
        returns, market, factors = preset_inputs(model, EventStudy._check_returns(returns), factors)
        engine_model = "factor"
    else:
        engine_model = model
    study = EventStudy(
        returns,
        events,
        market=market,
        model=engine_model,
        factors=factors,
        estimation=estimation,
        window=window,
        min_estimation_obs=min_estimation_obs,
        convention=convention,
        dimson_lags=dimson_lags,
        calibrate=calibrate,
        seed=seed,
    )
    compute: dict[str, Any] = {
        "backend": backend,
        "chunk_events": chunk_events,
        "scheduler": scheduler,
        "workers": workers,
    }
    if collect == "summary":
        return study.fit_summary(car_windows, tests=tests, warn=warn, **compute)
    for name, value in (("car_windows", car_windows), ("tests", tests)):
        if value is not None and len(value):
            raise ConfigError(
                field=name,
                value=value,
                expected='nothing unless collect="summary" (every window and test is '
                "available on the results)",
            )
    return study.fit(warn=warn, **compute)


def _window(name: str, value: Any) -> tuple[int, int]:
    try:
        first, second = value
        a, b = int(first), int(second)
    except (TypeError, ValueError):
        raise ConfigError(
            field=name, value=value, expected="a pair of relative days (start, end)"
        ) from None
    if a > b:
        raise ConfigError(field=name, value=value, expected="start <= end, e.g. (-10, 10)")
    return a, b


class EventStudy:
    """An event study specification; :meth:`fit` runs it.

    Parameters are those of :func:`event_study`. Construction validates the options (raising
    :class:`~eventstudy.exceptions.ConfigError` or :class:`~eventstudy.exceptions.DataError`
    with a one-line message) but does no computation.
    """

    def __init__(
        self,
        returns: pd.DataFrame,
        events: pd.DataFrame,
        market: str | pd.Series | None = "MKT",
        model: Model = "market",
        factors: Sequence[str] | pd.DataFrame | None = None,
        estimation: tuple[int, int] = (-260, -11),
        window: tuple[int, int] = (-10, 10),
        min_estimation_obs: int = 100,
        convention: Convention = "textbook",
        dimson_lags: int = 0,
        calibrate: int = 0,
        seed: int | None = 0,
    ) -> None:
        if model not in MODELS:
            raise ConfigError(field="model", value=model, expected=" | ".join(MODELS))
        if convention not in CONVENTIONS:
            raise ConfigError(
                field="convention", value=convention, expected="'textbook' or 'estudy2'"
            )
        self.estimation = _window("estimation", estimation)
        self.window = _window("window", window)
        if self.estimation[1] >= self.window[0]:
            raise ConfigError(
                field="estimation",
                value=estimation,
                expected=f"a window ending before the event window starts ({self.window[0]})",
            )
        if not isinstance(dimson_lags, int | np.integer) or dimson_lags < 0:
            raise ConfigError(field="dimson_lags", value=dimson_lags, expected="an integer >= 0")
        if dimson_lags and model not in ("market", "factor"):
            raise ConfigError(
                field="dimson_lags", value=dimson_lags, expected="0 unless model is market/factor"
            )
        if (
            not isinstance(calibrate, int | np.integer)
            or isinstance(calibrate, bool)
            or calibrate < 0
        ):
            raise ConfigError(
                field="calibrate", value=calibrate, expected="a number of placebo dates >= 0"
            )
        self.calibrate = int(calibrate)
        self.seed = seed
        self.model: ModelName = model
        self.convention: Convention = convention
        self.dimson_lags = int(dimson_lags)
        n_params = {"constant_mean": 1, "market_adjusted": 1, "market": 2, "factor": 2}[model]
        n_params += self.dimson_lags
        self.returns = self._check_returns(returns)
        self.market_name, self.market = self._check_market(market)
        self.factor_names, self.factors = self._check_factors(factors)
        n_params += len(self.factor_names)
        try:
            self.min_estimation_obs = int(min_estimation_obs)
        except (TypeError, ValueError):
            raise ConfigError(
                field="min_estimation_obs", value=min_estimation_obs, expected="an integer"
            ) from None
        if self.min_estimation_obs < n_params + 3:
            raise ConfigError(
                field="min_estimation_obs",
                value=min_estimation_obs,
                expected=f"at least {n_params + 3} (parameters + 3) for the test variances",
            )
        self.events = self._check_events(events)

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _check_returns(returns: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(returns, pd.DataFrame):
            raise DataError(
                symbol="returns",
                detail=f"expected a DataFrame, got {type(returns).__name__}",
                fix="pass sessions x securities returns",
            )
        if not isinstance(returns.index, pd.DatetimeIndex):
            raise DataError(
                symbol="returns",
                detail=f"index is {type(returns.index).__name__}, not a DatetimeIndex",
                fix="index the returns by session date (pd.to_datetime)",
            )
        if not returns.index.is_unique:
            dup = returns.index[returns.index.duplicated()][0]
            raise DataError(
                symbol="returns", detail=f"duplicate session {dup.date()}", fix="drop duplicates"
            )
        if not returns.index.is_monotonic_increasing:
            returns = returns.sort_index()
        if returns.index.tz is not None:
            returns = returns.tz_localize(None)
        return returns

    def _check_market(self, market: str | pd.Series | None) -> tuple[str | None, np.ndarray | None]:
        if isinstance(market, pd.Series):
            name = str(market.name) if market.name is not None else "market"
            values = market.reindex(self.returns.index).to_numpy(dtype=float)
            return name, values
        if market is None or (self.model == "constant_mean" and market not in self.returns):
            if self.model != "constant_mean":
                raise ConfigError(
                    field="market", value=market, expected="a column of returns or a Series"
                )
            return None, None
        if market not in self.returns.columns:
            cols = ", ".join(map(str, list(self.returns.columns)[:8]))
            raise ConfigError(
                field="market",
                value=market,
                expected=f"a column of returns (have: {cols}) or a Series",
            )
        return str(market), self.returns[market].to_numpy(dtype=float)

    def _check_factors(
        self, factors: Sequence[str] | pd.DataFrame | None
    ) -> tuple[list[str], np.ndarray | None]:
        if self.model != "factor":
            if factors is not None and len(factors) > 0:
                raise ConfigError(
                    field="factors", value=factors, expected="None unless model='factor'"
                )
            return [], None
        if factors is None or len(factors) == 0:
            raise ConfigError(
                field="factors", value=factors, expected="a list of columns or a DataFrame"
            )
        if isinstance(factors, pd.DataFrame):
            frame = factors.reindex(self.returns.index)
            return [str(c) for c in frame.columns], frame.to_numpy(dtype=float)
        if isinstance(factors, str):
            factors = [factors]
        missing = [f for f in factors if f not in self.returns.columns]
        if missing:
            raise ConfigError(
                field="factors", value=missing, expected="columns of returns (or a DataFrame)"
            )
        return [str(f) for f in factors], self.returns[list(factors)].to_numpy(dtype=float)

    @staticmethod
    def _check_events(events: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(events, pd.DataFrame):
            raise ConfigError(field="events", value=type(events).__name__, expected="a DataFrame")
        for col in ("security", "event_date"):
            if col not in events.columns:
                raise ConfigError(
                    field=f"events.{col}",
                    value=list(map(str, events.columns)),
                    expected=f"a column named {col!r}",
                )
        if len(events) == 0:
            raise ConfigError(field="events", value="empty", expected="at least one event")
        try:
            dates = pd.DatetimeIndex(pd.to_datetime(events["event_date"]))
        except (TypeError, ValueError) as err:
            raise ConfigError(
                field="events.event_date",
                value=str(err).splitlines()[0][:80],
                expected="dates such as 2024-03-15",
            ) from None
        if dates.tz is not None:  # keep the local calendar date, not the UTC one
            dates = dates.tz_localize(None)
        day0 = dates.normalize()
        security = events["security"].astype(str).to_numpy()
        event_id: Any
        if "event_id" in events.columns:
            ids = events["event_id"]
            if pd.api.types.infer_dtype(ids, skipna=True) in ("string", "empty"):
                # text ids (the usual case, and every placebo study): no per-row Python;
                # a missing id becomes its event date, as below
                event_id = ids.to_numpy(dtype=object, na_value=None, copy=True)
                missing = ids.isna().to_numpy()
                if missing.any():
                    event_id[missing] = day0[missing].strftime("%Y-%m-%d").to_numpy()
            else:
                event_id = [
                    d.strftime("%Y-%m-%d") if pd.isna(i) else str(i)
                    for i, d in zip(ids, day0, strict=True)
                ]
        else:
            event_id = day0.strftime("%Y-%m-%d")
        # one frame in its final column order (each column set or picked later is a new
        # frame of Arrow strings in pandas 3)
        out = pd.DataFrame({"event_id": event_id, "security": security, "event_date": day0})
        seen: set[tuple[str, str]] = set()
        for pair in zip(out["event_id"].tolist(), security.tolist(), strict=True):
            if pair in seen:  # the first row repeating an earlier pair
                raise ConfigError(
                    field="events",
                    value=f"{pair[0]}/{pair[1]}",
                    expected="each (event_id, security) pair at most once",
                )
            seen.add(pair)
        return out

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        *,
        backend: Backend | None = None,
        chunk_events: int | None = None,
        scheduler: Scheduler | None = None,
        workers: int | None = None,
        warn: bool = True,
    ) -> EventStudyResults:
        """Fit the model for every firm-event and return the (lazy) results.

        Parameters
        ----------
        backend : {None, "processes", "dask"}, keyword-only
            ``None`` fits every firm-event here, in one pass. Otherwise the events are split
            into chunks of whole events (:mod:`eventstudy.parallel`), each chunk is fitted
            by the same code on a worker, and the chunks' arrays are concatenated here: the
            results are identical to ``backend=None``.
        chunk_events, scheduler, workers, warn
            See :func:`event_study`.
        """
        data = self._fit_data(backend, chunk_events, scheduler, workers)
        res = EventStudyResults(data)
        if warn:
            self._warn_clusters(res.clustering)
        if self.calibrate:
            res = EventStudyResults(data, calibration=self._calibration(res))
        return res

    def _fit_data(
        self,
        backend: Backend | None = None,
        chunk_events: int | None = None,
        scheduler: Scheduler | None = None,
        workers: int | None = None,
    ) -> EngineData:
        """The fitted arrays of every firm-event (:meth:`fit` without its warnings and
        calibration)."""
        check_compute(backend, scheduler, workers)
        events = self._sorted_events()
        if backend is None and chunk_events is None:
            part = self._fit_part(events)
            _check_fitted([part])
            assert part.data is not None
            return part.data
        chunks = split_clusters(events, chunk_events)
        spec = self._for_workers()
        with executor(backend, spec, scheduler=scheduler, workers=workers) as ex:
            parts = list(ex.map(_fit_chunk, chunks))
        return self._gather(parts)

    def fit_summary(
        self,
        car_windows: Sequence[tuple[int, int]] = (),
        *,
        tests: Sequence[str] | None = None,
        backend: Backend | None = None,
        chunk_events: int | None = None,
        scheduler: Scheduler | None = None,
        workers: int | None = None,
        warn: bool = True,
    ) -> SummaryResults:
        """Fit chunk by chunk and keep tables and sufficient statistics, never every
        firm-event's arrays at once (:mod:`eventstudy.summary`).

        Parameters
        ----------
        car_windows : sequence of (int, int)
            Windows whose CAR tables and tests are computed (the event window always is).
        tests : sequence of str, optional
            Tests to compute (default: all; without ``grank`` one pass is enough).
        backend, chunk_events, scheduler, workers, warn
            See :func:`event_study`; with ``backend=None`` the chunks run one after the
            other here.
        """
        if self.calibrate:
            raise ConfigError(
                field="calibrate",
                value=self.calibrate,
                expected='0 with collect="summary" (calibration needs every placebo study)',
            )
        plan = SummaryPlan.make(self.window, car_windows, tests)
        chunks = split_clusters(self._sorted_events(), chunk_events)
        shared = (self._for_workers(), plan)
        with executor(backend, shared, scheduler=scheduler, workers=workers) as ex:
            first = list(ex.map(_summary_chunk, chunks))
            parts = [f for f, _ in first]
            _check_fitted(parts)
            kept = [(c, s) for c, (_, s) in zip(chunks, first, strict=True) if s is not None]
            summaries = [s for _, s in kept]
            second: list[dict[str | tuple[int, int], BatterySums]] = []
            if "grank" in plan.tests:
                scales = grank_scales(summaries)
                second = list(ex.map(_grank_chunk, [(c, scales) for c, _ in kept]))
        out = SummaryResults(
            model=self.model,
            convention=self.convention,
            estimation=self.estimation,
            market=self.market_name,
            plan=plan,
            chunks=summaries,
            grank=second,
            excluded=_excluded(parts),
            n_chunks=len(chunks),
        )
        if warn:
            self._warn_clusters(out.clustering)
        return out

    def _sorted_events(self) -> pd.DataFrame:
        """The events in the engine's row order: by event, then security (text order, as
        ``sort_values``; the pairs are distinct, see :meth:`_check_events`)."""
        ev = self.events
        # each column's codes in text order (pandas sorts the distinct strings as Python
        # compares them, as numpy's unique would, after hashing: 4-10x faster on the 14,000
        # rows of a calibration), then one stable sort of the code pairs
        codes = [
            pd.factorize(ev[c].to_numpy(dtype=object), sort=True)[0]
            for c in ("security", "event_id")
        ]
        order = np.lexsort(codes)
        if (order == np.arange(len(order))).all():  # already in order (placebo draws are)
            return ev.reset_index(drop=True)
        return ev.take(order).reset_index(drop=True)

    def _for_workers(self) -> EventStudy:
        """This specification without its events (each chunk brings its own) and with only
        the return columns the events use: what travels once to every worker."""
        spec = copy.copy(self)
        cols = self.returns.columns.astype(str)
        used = cols.isin(pd.unique(self.events["security"]))
        spec.returns = self.returns if used.all() else self.returns.loc[:, used]
        spec.events = self.events.iloc[:0]
        spec.calibrate = 0
        return spec

    def _gather(self, parts: Sequence[FitPart]) -> EngineData:
        """One :class:`EngineData` from the fits of consecutive chunks of whole events.

        The chunks' rows are concatenated in order (the same rows, in the same order, as
        one fit of every event) and the shared arrays are this specification's; the
        exclusions are ordered as one fit lists them (input checks first, then the fit).
        """
        _check_fitted(parts)
        datas = [p.data for p in parts if p.data is not None]
        head = datas[0]
        rows = {f: np.concatenate([getattr(d, f) for d in datas]) for f in EngineData.ROW_FIELDS}
        events = pd.concat([d.events for d in datas], ignore_index=True)
        securities = [str(x) for x in pd.unique(events["security"].to_numpy(dtype=object))]
        return replace(
            head,
            **rows,  # type: ignore[arg-type]  # the row fields are the arrays
            events=events,
            sec_code=pd.Index(securities).get_indexer(events["security"]),
            excluded=_excluded(parts),
            returns=self.returns,
            R=_returns_matrix(self.returns, securities),
            market=self.market,
            factors=self.factors,
        )

    def _fit_part(self, ev: pd.DataFrame) -> FitPart:
        """Fit the firm-events ``ev`` (whole events, in the engine's order).

        Never raises for lack of firm-events: a part may hold none (see
        :func:`_check_fitted`).
        """
        ret = self.returns
        idx = ret.index
        T = len(idx)
        excluded: list[tuple[str, str, str]] = []
        keep = np.ones(len(ev), dtype=bool)

        # each security once (codes in order of first appearance), then per row
        codes, names = pd.factorize(ev["security"])
        columns = set(ret.columns.astype(str).tolist())
        known = np.array([str(s) in columns for s in names.tolist()] + [False], dtype=bool)
        in_returns = known[codes]  # a missing security (code -1) reads the final False
        for r in _rows_where(ev, ~in_returns):
            excluded.append((r.event_id, r.security, _NOT_A_COLUMN))
        keep &= in_returns
        pos = idx.get_indexer(pd.DatetimeIndex(ev["event_date"]))
        absent = keep & (pos < 0)
        first, last = (idx[0].date(), idx[-1].date()) if T else (None, None)
        for r in _rows_where(ev, absent):
            day = r.event_date.date()
            where = (
                f"after the last session {last} of the returns"
                if last is not None and day > last
                else f"before the first session {first} of the returns"
                if first is not None and day < first
                else "not a session"
            )
            excluded.append((r.event_id, r.security, f"event date {day} is {where}"))
        keep &= pos >= 0
        w0, w1 = self.window
        e0, e1 = self.estimation
        past = keep & ((pos + w0 < 0) | (pos + w1 >= T))
        for r, p in zip(_rows_where(ev, past), pos[past], strict=True):
            side = "after the last" if p + w1 >= T else "before the first"
            excluded.append(
                (r.event_id, r.security, f"event window {self.window} runs {side} session")
            )
        keep &= ~past

        if not keep.all() or not _positional(ev.index):  # rows read by position below
            ev = ev[keep].reset_index(drop=True)
            pos = pos[keep]
            codes = codes[keep]
        if len(ev) == 0:
            return FitPart(None, excluded, [], 0, 0)
        n_input = len(ev)
        n_checked = len(excluded)
        # the securities in order of first appearance among these rows, and each row's
        # position in that list
        order = pd.unique(codes)
        securities = [str(names[c]) for c in order.tolist()]
        R = _returns_matrix(ret, securities)
        rank = np.empty(len(names), dtype=np.intp)
        rank[order] = np.arange(len(order))
        sec_code = rank[codes]

        rel_est = np.arange(e0, e1 + 1)
        rel_win = np.arange(w0, w1 + 1)
        rows_win = pos[:, None] + rel_win[None, :]

        y_est = gather_rows(R, pos, rel_est, sec_code)
        y_win = gather_rows(R, pos, rel_win, sec_code)
        m_est = m_win = None
        if self.market is not None:
            mk = self.market
            lags = range(self.dimson_lags + 1)
            m_est = _stack([gather_rows(mk, pos, rel_est - j) for j in lags])
            m_win = _stack([gather_rows(mk, pos, rel_win - j) for j in lags])
        f_est = f_win = None
        if self.factors is not None:
            fx = self.factors
            f_est = _stack([gather_rows(fx[:, j], pos, rel_est) for j in range(fx.shape[1])])
            f_win = _stack([gather_rows(fx[:, j], pos, rel_win) for j in range(fx.shape[1])])
        D_est = design(self.model, m_est if m_est is not None else y_est[..., None], f_est)
        D_win = design(self.model, m_win if m_win is not None else y_win[..., None], f_win)
        names = [
            n if not n.startswith("factor") else self.factor_names[int(n[6:])] for n in D_est.names
        ]
        X_win = D_win.full()
        fit = fit_expected_returns(self.model, y_est, D_est, y_win, X_win, names=names)
        mterm_win = _market_term(self.model, m_est, m_win, y_win.shape)
        del D_est, m_est, f_est

        n_obs = fit.n_obs
        df_sigma = residual_df(n_obs, fit.k, self.convention)
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma = np.sqrt(fit.ssr / df_sigma)
        dropped = np.zeros(len(ev), dtype=bool)
        reasons: list[str | None] = [None] * len(ev)
        for i in np.flatnonzero(n_obs < self.min_estimation_obs):
            reasons[i] = (
                f"{int(n_obs[i])} estimation observations (< min_estimation_obs="
                f"{self.min_estimation_obs})"
            )
        # constant returns leave only rounding noise (~1e-19) in sigma: relative to their size
        size = _row_abs_max(y_est)
        flat = ~(sigma > 1e-10 * size)
        for i in np.flatnonzero(flat & (n_obs >= self.min_estimation_obs)):
            reasons[i] = "zero or undefined residual variance in the estimation window"
        no_win = ~np.isfinite(fit.ar_win).any(axis=1)
        for i in np.flatnonzero(no_win):
            reasons[i] = reasons[i] or "no return inside the event window"
        if w0 <= 0 <= w1:  # day 0 is what the study measures: no day-0 return, no firm-event
            for i in np.flatnonzero(~np.isfinite(fit.ar_win[:, -w0])):
                day0 = pd.Timestamp(idx[pos[i]]).date()
                reasons[i] = reasons[i] or (
                    f"no return on day 0 ({day0}): a price is missing on that session or the "
                    "one before"
                )
        for k, why in enumerate(reasons):
            if why is not None:
                dropped[k] = True
                excluded.append((ev.at[k, "event_id"], ev.at[k, "security"], why))
        good = ~dropped
        if not good.any():
            return FitPart(None, excluded[:n_checked], excluded[n_checked:], n_input, 0)

        sel = np.flatnonzero(good)
        if good.all():
            sel = slice(None)  # type: ignore[assignment]  # no copy of the large arrays
        else:
            ev = ev[good].reset_index(drop=True)
        dates = idx.to_numpy()
        if self.convention == "estudy2" and self.model == "market" and self.dimson_lags == 0:
            # estudy2: Mbar and Sxx over every market day of the estimation window
            c_sar = 1.0 + 1.0 / n_obs[sel][:, None] + mterm_win[sel]
        else:
            c_sar = 1.0 + forecast_variance_factor(X_win[sel], fit.xtx_inv[sel])
        data = EngineData(
            model=self.model,
            convention=self.convention,
            estimation=self.estimation,
            window=self.window,
            market_name=self.market_name,
            factor_names=self.factor_names,
            dimson_lags=self.dimson_lags,
            param_names=list(fit.names),
            events=ev,
            pos=pos[sel],
            sec_code=sec_code[sel],
            rel_est=rel_est,
            rel_win=rel_win,
            dates_win=dates[np.clip(rows_win[sel], 0, T - 1)],
            y_win=y_win[sel],
            X_win=X_win[sel],
            coef=fit.coef[sel],
            xtx_inv=fit.xtx_inv[sel],
            ar_est=fit.ar_est[sel],
            ar_win=fit.ar_win[sel],
            expected_win=fit.expected_win[sel],
            sigma=sigma[sel],
            n_obs=n_obs[sel],
            r2=fit.r2[sel],
            k=fit.k,
            df_sigma=df_sigma[sel],
            df_patell=patell_df(n_obs[sel], fit.k, self.convention),
            c_sar=c_sar,
            mterm_win=mterm_win[sel],
            excluded=pd.DataFrame(excluded, columns=["event_id", "security", "reason"]),
            returns=ret,
            R=R,
            market=self.market,
            factors=self.factors,
        )
        return FitPart(data, excluded[:n_checked], excluded[n_checked:], n_input, len(ev))

    def _calibration(self, res: EventStudyResults) -> Calibration:
        """Fit ``calibrate`` placebo dates of every event in one engine call."""
        from eventstudy.placebo import draw_placebo_events

        events = res.events
        real = [str(e) for e in pd.unique(events["event_id"].to_numpy(dtype=object))]
        # the market and factors as columns of one panel, under names no security can take
        panel = self.returns.copy(deep=False)
        market = None
        if self.market is not None:
            market = "\x00market"
            panel[market] = self.market
        factors = []
        if self.factors is not None:
            for j in range(self.factors.shape[1]):
                factors.append(f"\x00factor{j}")
                panel[factors[-1]] = self.factors[:, j]
        B, E = self.calibrate, len(real)
        notes: list[str] = []
        eligible: dict[str, int] = {}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PlaceboDatesWarning)
                placebo = draw_placebo_events(
                    panel,
                    events[["security", "event_date", "event_id"]],
                    draws=B * E,
                    market=market,
                    factors=factors,
                    estimation=self.estimation,
                    window=self.window,
                    min_estimation_obs=self.min_estimation_obs,
                    seed=0 if self.seed is None else self.seed,
                    min_dates=CALIBRATION_MIN_DATES,
                    dedupe=False,
                )
            notes += [str(w.message) for w in caught if issubclass(w.category, PlaceboDatesWarning)]
        except DataError as err:
            notes.append(f"no calibration: {err.detail}")
            return Calibration(None, {}, real, B, eligible, notes, self.seed)
        for eid, g in placebo.groupby("template", sort=False):
            eligible[str(eid)] = int(g["event_date"].nunique())
        first = placebo.drop_duplicates("event_id")
        template = {
            str(pid): (str(t), int(d) // E)
            for pid, t, d in zip(
                first["event_id"].tolist(),
                first["template"].tolist(),
                first["draw"].tolist(),
                strict=True,
            )
        }
        # every placebo study is a cluster of the event's securities: fitted without the
        # clustering warnings (2,000 placebo events would format 2,000 ignored messages)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            placebo_data = EventStudy(
                panel,
                placebo[["security", "event_date", "event_id"]],
                market=market,
                model=self.model,
                factors=factors or None,
                estimation=self.estimation,
                window=self.window,
                min_estimation_obs=self.min_estimation_obs,
                convention=self.convention,
                dimson_lags=self.dimson_lags,
            )._fit_data()
        placebo_res = EventStudyResults(placebo_data)
        return Calibration(placebo_res, template, real, B, eligible, notes, self.seed)

    @staticmethod
    def _warn_clusters(table: pd.DataFrame) -> None:
        # the columns as arrays, the few clustered rows read by position (no filtered frame)
        n = table["n_securities"].to_numpy()
        clustered = np.flatnonzero(n > 1)
        if not len(clustered):
            return
        ids = table["event_id"].to_numpy(dtype=object)
        rbar = table["rbar"].to_numpy(dtype=float)
        design_effect = table["design_effect"].to_numpy(dtype=float)
        for i in clustered:
            warnings.warn(
                format_warning(
                    ClusteredEventWarning,
                    event_id=ids[i],
                    n=int(n[i]),
                    rbar=float(rbar[i]),
                    design_effect=float(design_effect[i]),
                    tests=", ".join(INDEPENDENCE_TESTS[:5]) + ", ...",
                ),
                stacklevel=4,
            )
