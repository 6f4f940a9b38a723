"""Expected-return models, fitted by closed-form OLS across many firm-events at once.

Every function here works on *stacked* arrays: one row per firm-event, one column per
relative day, ``NaN`` where there is no observation. A batch of 10,000 firm-events is one
call, not 10,000 regressions: ``X'X`` and ``X'y`` are batched matrix products over the
masked design, and the normal equations are solved for the whole stack at once.

Shapes (``K`` firm-events, ``L`` estimation days, ``W`` window days, ``p`` parameters):

- ``y``: ``(K, L)`` returns of the security over its estimation window;
- ``X``: ``(K, L, p)`` design (constant first, then the market, its Dimson lags, factors);
- results: ``coef (K, p)``, ``xtx_inv (K, p, p)``, ``resid (K, L)``.

The models (Brown & Warner 1985; MacKinlay 1997; Dimson 1979):

``constant_mean``
    ``R_it = mu_i + e_it``.
``market_adjusted``
    ``R_it = R_mt + e_it`` (no parameter is estimated; ``alpha = 0``, ``beta = 1``).
``market``
    ``R_it = alpha_i + beta_i R_mt + e_it``; with ``dimson_lags = l`` the lagged market returns
    ``R_m,t-1 .. R_m,t-l`` enter too and ``beta`` reports the Dimson sum of the slopes.
``factor``
    ``R_it = alpha_i + beta_i R_mt + sum_j gamma_ij F_jt + e_it`` (e.g. USD/JPY and a sector
    index for Japanese exporters).
``ff3``, ``ff5``, ``carhart`` (:data:`FACTOR_PRESETS`, :func:`preset_inputs`)
    The ``factor`` model on excess returns over the risk-free rate, with the published
    Fama-French factors as regressors: ``R_it - RF_t = alpha_i + beta_i (Mkt-RF)_t + s_i SMB_t
    + h_i HML_t (+ r_i RMW_t + c_i CMA_t | + m_i MOM_t) + e_it`` (Fama & French 1993, 2015;
    Carhart 1997).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.factors import FACTOR_COLUMNS, MKT_RF, MOM, RF, align_factors
from eventstudy.exceptions import ConfigError, DataError
from eventstudy.vocabulary import MODEL_NAMES, Convention, ModelName

__all__ = [
    "FACTOR_PRESETS",
    "MODELS",
    "BatchOLS",
    "Design",
    "FactorPresetSpec",
    "ModelFit",
    "ModelName",
    "batch_ols",
    "build_design",
    "design",
    "fit_expected_returns",
    "fit_market_model",
    "forecast_variance_factor",
    "n_parameters",
    "patell_df",
    "preset_inputs",
    "residual_df",
    "zero_gaps",
]

MODELS: tuple[str, ...] = MODEL_NAMES


def n_parameters(model: ModelName, n_factors: int = 0, dimson_lags: int = 0) -> int:
    """Parameters estimated per firm-event: ``k`` of the residual degrees of freedom.

    ``constant_mean`` 1, ``market_adjusted`` 0 (nothing is estimated), ``market`` 2,
    ``factor`` ``2 + n_factors``; Dimson lags add one slope each.
    """
    base = {"constant_mean": 1, "market_adjusted": 0, "market": 2, "factor": 2 + n_factors}
    return base[model] + (dimson_lags if model in ("market", "factor") else 0)


def residual_df(n_obs: Any, k: int, convention: Convention) -> Any:
    """Residual degrees of freedom of ``s_i``: the one rule for every test and table.

    Notes
    -----
    Textbook: ``L_i - k`` (the OLS ``scale``), with ``k`` at least 1 (the market-adjusted
    abnormal return is demeaned, so its variance has ``L_i - 1``); estudy2: ``L_i - 1``
    (estudy2's ``sd`` of the estimation abnormal returns). ``n_obs`` are the estimation
    observations used, ``k`` from :func:`n_parameters`.
    """
    return np.asarray(n_obs) - (1 if convention == "estudy2" else max(int(k), 1))


def patell_df(n_obs: Any, k: int, convention: Convention) -> Any:
    """Degrees of freedom ``d_i`` of the Patell variance ``d_i / (d_i - 2)`` of a SAR.

    Textbook: :func:`residual_df`; estudy2: ``L_i - 2`` whatever the model (estudy2 0.10).
    """
    if convention == "estudy2":
        return np.asarray(n_obs) - 2
    return residual_df(n_obs, k, convention)


@dataclass(frozen=True)
class BatchOLS:
    """OLS fitted to a stack of regressions (one per row).

    Attributes
    ----------
    coef : ndarray, shape (K, p)
    xtx_inv : ndarray, shape (K, p, p)
        ``(X'X)^{-1}`` of each regression (``NaN`` when singular).
    resid : ndarray, shape (K, L)
        Residuals on the observations used, ``NaN`` elsewhere.
    ssr : ndarray, shape (K,)
    n_obs : ndarray, shape (K,)
        Observations used (rows where ``y`` and every regressor are finite).
    r2 : ndarray, shape (K,)
        Centred R-squared.
    """

    coef: np.ndarray
    xtx_inv: np.ndarray
    resid: np.ndarray
    ssr: np.ndarray
    n_obs: np.ndarray
    r2: np.ndarray


@dataclass(frozen=True, eq=False)
class Design:
    """The regressors of a model on stacked windows; the constant is implied, not stored.

    Attributes
    ----------
    const : bool
        Whether the model has an intercept (the first parameter).
    Z : ndarray, shape (K, L, q), or None
        The other regressors (market, its Dimson lags, factors); ``None`` for the constant
        alone (:meth:`full` then needs ``shape``).
    names : list of str
        Parameter names, constant first.
    shape : (int, int)
        ``(K, L)``.
    """

    const: bool
    Z: np.ndarray | None
    names: list[str]
    shape: tuple[int, int]

    @property
    def p(self) -> int:
        """Number of parameters (columns of :meth:`full`)."""
        return int(self.const) + (0 if self.Z is None else self.Z.shape[2])

    def full(self) -> np.ndarray:
        """The design with its constant column, ``(K, L, p)`` (for short windows)."""
        parts = [np.ones((*self.shape, 1))] if self.const else []
        if self.Z is not None:
            parts.append(self.Z)
        return np.concatenate(parts, axis=2)


def design(
    model: ModelName, market: np.ndarray | None, factors: np.ndarray | None = None
) -> Design:
    """The :class:`Design` of a model on stacked windows (see :func:`build_design`)."""
    if market is not None and market.ndim == 2:
        market = market[..., None]
    if model == "constant_mean":
        if market is None:
            raise ValueError("constant_mean needs an array to take its shape from")
        return Design(True, None, ["alpha"], market.shape[:2])
    if market is None:
        raise ValueError(f"model {model!r} needs the market return")
    if model == "market_adjusted":
        return Design(True, market[..., :1], ["alpha", "beta"], market.shape[:2])
    names = ["alpha", "beta"] + [f"beta_lag{j}" for j in range(1, market.shape[2])]
    Z = market
    if model == "factor":
        if factors is None or factors.shape[2] == 0:
            raise ValueError("model 'factor' needs at least one factor")
        Z = np.concatenate([market, factors], axis=2)
        names += [f"factor{j}" for j in range(factors.shape[2])]
    return Design(True, Z, names, market.shape[:2])


def batch_ols(y: np.ndarray, X: np.ndarray | Design) -> BatchOLS:
    """Fit ``y[k] = X[k] @ b[k] + e[k]`` for every row ``k`` at once, skipping ``NaN`` rows.

    Parameters
    ----------
    y : ndarray, shape (K, L)
    X : ndarray, shape (K, L, p), or Design
        A :class:`Design` keeps its constant implied (no column of ones is stored).

    Returns
    -------
    BatchOLS

    Notes
    -----
    ``b = (X'X)^{-1} X'y`` over the observations where ``y`` and all regressors are finite.
    Regressions with fewer observations than parameters, or a singular ``X'X``, get ``NaN``
    coefficients (the caller excludes them with a reason).
    """
    y = np.asarray(y, dtype=float)
    if isinstance(X, Design):
        if X.const and X.Z is not None and X.Z.shape[2] == 1:
            return _batch_ols_simple(y, X.Z[..., 0])
        if X.const:
            return _batch_ols_const(y, X.Z)
        X = X.full()
    X = np.asarray(X, dtype=float)
    _K, _L, p = X.shape
    if p == 2 and np.all(X[..., 0] == 1.0):
        return _batch_ols_simple(y, X[..., 1])
    valid = np.isfinite(y) & np.isfinite(X).all(axis=2)
    Xv = np.where(valid[..., None], X, 0.0)
    yv = np.where(valid, y, 0.0)
    Xt = Xv.transpose(0, 2, 1)
    xtx = Xt @ Xv
    xty = (Xt @ yv[..., None])[..., 0]
    n = valid.sum(axis=1)
    det = np.linalg.det(xtx)
    scale = np.prod(np.diagonal(xtx, axis1=1, axis2=2), axis=1)
    ok = (n > p) & np.isfinite(det) & (np.abs(det) > 1e-12 * np.where(scale > 0, scale, 1.0))
    safe = np.where(ok[:, None, None], xtx, np.eye(p))
    xtx_inv = np.linalg.inv(safe)
    xtx_inv[~ok] = np.nan
    coef = (xtx_inv @ xty[..., None])[..., 0]
    fitted = (X @ coef[..., None])[..., 0]
    resid = np.where(valid, y - fitted, np.nan)
    ssr = np.nansum(resid**2, axis=1)
    ssr[~ok] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = yv.sum(axis=1) / n
        sst = np.where(valid, (y - ybar[:, None]) ** 2, 0.0).sum(axis=1)
        r2 = 1.0 - ssr / sst
    return BatchOLS(coef=coef, xtx_inv=xtx_inv, resid=resid, ssr=ssr, n_obs=n, r2=r2)


def _batch_ols_const(y: np.ndarray, Z: np.ndarray | None) -> BatchOLS:
    """OLS of ``y = a + Z b`` for every row without storing the column of ones.

    ``X'X = [[n, 1'Z], [Z'1, Z'Z]]`` and ``X'y = [1'y, Z'y]`` over the valid rows; the rest
    as :func:`batch_ols`.
    """
    K = y.shape[0]
    q = 0 if Z is None else Z.shape[2]
    p = q + 1
    valid = np.isfinite(y) if Z is None else np.isfinite(y) & np.isfinite(Z).all(axis=2)
    yv = np.where(valid, y, 0.0)
    n = valid.sum(axis=1)
    xtx = np.empty((K, p, p))
    xty = np.empty((K, p))
    xtx[:, 0, 0] = n
    xty[:, 0] = yv.sum(axis=1)
    if Z is not None:
        Zv = np.where(valid[..., None], Z, 0.0)
        zs = Zv.sum(axis=1)
        xtx[:, 0, 1:] = zs
        xtx[:, 1:, 0] = zs
        xtx[:, 1:, 1:] = np.einsum("klq,klr->kqr", Zv, Zv)
        xty[:, 1:] = np.einsum("klq,kl->kq", Zv, yv)
        del Zv
    det = np.linalg.det(xtx)
    scale = np.prod(np.diagonal(xtx, axis1=1, axis2=2), axis=1)
    ok = (n > p) & np.isfinite(det) & (np.abs(det) > 1e-12 * np.where(scale > 0, scale, 1.0))
    xtx_inv = np.linalg.inv(np.where(ok[:, None, None], xtx, np.eye(p)))
    xtx_inv[~ok] = np.nan
    coef = (xtx_inv @ xty[..., None])[..., 0]
    fitted = coef[:, :1] if Z is None else coef[:, :1] + np.einsum("klq,kq->kl", Z, coef[:, 1:])
    resid = np.where(valid, y - fitted, np.nan)
    ssr = np.nansum(resid**2, axis=1)
    ssr[~ok] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = xty[:, 0] / n
        sst = np.where(valid, (y - ybar[:, None]) ** 2, 0.0).sum(axis=1)
        r2 = 1.0 - ssr / sst
    return BatchOLS(coef=coef, xtx_inv=xtx_inv, resid=resid, ssr=ssr, n_obs=n, r2=r2)


#: Rows fitted per chunk by the simple regression (bounds its temporaries).
OLS_CHUNK_ROWS = 8192


def _batch_ols_simple(y: np.ndarray, x: np.ndarray) -> BatchOLS:
    """Closed form of ``y = a + b x`` for every row (2-D sums, no batched matrices).

    Rows are fitted in chunks of :data:`OLS_CHUNK_ROWS` into the output arrays, so the
    centred copies exist for one chunk at a time (each row's arithmetic is the same).
    """
    K = y.shape[0]
    n = np.empty(K)
    a = np.empty(K)
    b = np.empty(K)
    ssr = np.empty(K)
    r2 = np.empty(K)
    inv = np.empty((K, 2, 2))
    ok = np.empty(K, dtype=bool)
    resid = np.empty(y.shape)
    for lo in range(0, K, OLS_CHUNK_ROWS):
        hi = min(K, lo + OLS_CHUNK_ROWS)
        sl = slice(lo, hi)
        (n[sl], a[sl], b[sl], ssr[sl], r2[sl], inv[sl], ok[sl]) = _ols_simple_chunk(
            y[sl], x[sl], resid[sl]
        )
    return BatchOLS(
        coef=np.stack([a, b], axis=1), xtx_inv=inv, resid=resid, ssr=ssr, n_obs=n.astype(int), r2=r2
    )


def zero_gaps(a: np.ndarray, valid: np.ndarray, gaps: np.ndarray, copy: bool = True) -> np.ndarray:
    """``np.where(valid, a, 0.0)`` with only the rows ``gaps`` masked (the rows with a
    missing value: few, in a long history); a copy of ``a``, or ``a`` itself changed in
    place with ``copy=False``."""
    out = np.array(a, dtype=float) if copy else a
    out[gaps] = np.where(valid[gaps], out[gaps], 0.0)
    return out


def _ols_simple_chunk(y: np.ndarray, x: np.ndarray, resid: np.ndarray) -> tuple[np.ndarray, ...]:
    """One chunk of :func:`_batch_ols_simple`; writes the residuals into ``resid``."""
    valid = np.isfinite(y) & np.isfinite(x)
    n_i = np.count_nonzero(valid, axis=1)
    gaps = np.flatnonzero(n_i < valid.shape[1])  # the rows with a missing day
    complete = not len(gaps)
    n = n_i.astype(float)
    x0 = x if complete else zero_gaps(x, valid, gaps)
    y0 = y if complete else zero_gaps(y, valid, gaps)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = x0.sum(axis=1) / n
        ybar = y0.sum(axis=1) / n
        xc = x0 - xbar[:, None]
        yc = y0 - ybar[:, None]
        if not complete:  # deviations on the valid days, 0 elsewhere
            zero_gaps(xc, valid, gaps, copy=False)
            zero_gaps(yc, valid, gaps, copy=False)
        sxx = np.einsum("kl,kl->k", xc, xc)
        sxy = np.einsum("kl,kl->k", xc, yc)
        syy = np.einsum("kl,kl->k", yc, yc)
        # a constant regressor (e.g. a market stuck at 0.001) leaves only rounding noise in
        # sxx: compare its spread with the regressor's own size, not only with 0
        if not x.size:
            xsize = np.zeros(len(n))
        else:  # max |x| over the valid days (x0 is 0 elsewhere), no |x| copy
            xsize = np.maximum(x0.max(axis=1), -x0.min(axis=1))
        ok = (n > 2) & (sxx > 1e-300 * np.maximum(n, 1)) & (sxx > n * (1e-10 * xsize) ** 2)
        b = np.where(ok, sxy / sxx, np.nan)
        a = ybar - b * xbar
        np.subtract(yc, np.multiply(xc, b[:, None], out=xc), out=resid)  # xc not read again
        if not complete:
            np.copyto(resid, np.nan, where=~valid)
        ssr = np.where(ok, syy - b * sxy, np.nan)
        ssr = np.maximum(ssr, 0.0)
        r2 = 1.0 - ssr / syy
        inv = np.empty((len(n), 2, 2))
        inv[:, 0, 0] = 1.0 / n + xbar**2 / sxx
        inv[:, 0, 1] = inv[:, 1, 0] = -xbar / sxx
        inv[:, 1, 1] = 1.0 / sxx
    inv[~ok] = np.nan
    resid[~ok] = np.nan
    return n, a, b, ssr, r2, inv, ok


def fit_market_model(y: np.ndarray, market: np.ndarray) -> BatchOLS:
    """Market model ``R_it = alpha_i + beta_i R_mt + e_it`` for a stack of securities.

    Parameters
    ----------
    y, market : ndarray, shape (K, L)
        Security and market returns on each firm-event's estimation days.
    """
    y = np.asarray(y, dtype=float)
    m = np.asarray(market, dtype=float)
    X = np.stack([np.ones_like(m), m], axis=2)
    return batch_ols(y, X)


def build_design(
    model: ModelName, market: np.ndarray | None, factors: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Design matrix of a model on stacked windows.

    Parameters
    ----------
    model : {"market", "constant_mean", "market_adjusted", "factor"}
    market : ndarray, shape (K, L, 1 + lags) or (K, L), optional
        Market return on each day, then its Dimson lags.
    factors : ndarray, shape (K, L, f), optional

    Returns
    -------
    X : ndarray, shape (K, L, p)
    names : list of str
        Parameter names (``alpha``, ``beta``, ``beta_lag1`` .., then the factors as
        ``factor0`` ..; the caller renames them).
    """
    d = design(model, market, factors)
    return d.full(), d.names


def forecast_variance_factor(x: np.ndarray, xtx_inv: np.ndarray) -> np.ndarray:
    """``x_t' (X'X)^{-1} x_t`` for every firm-event and day: the estimation-error term.

    For the market model this is ``1/L + (M_t - Mbar)^2 / Sxx``, so ``1 + factor`` is the
    prediction-error correction of the abnormal-return variance (Patell 1976).

    Parameters
    ----------
    x : ndarray, shape (K, W, p)
    xtx_inv : ndarray, shape (K, p, p)
    """
    return np.einsum("kwi,kij,kwj->kw", x, xtx_inv, x)


@dataclass(frozen=True)
class ModelFit:
    """An expected-return model fitted to a stack of firm-events.

    Attributes
    ----------
    names : list of str
        Parameter names, in the column order of ``coef``.
    coef, xtx_inv : ndarray
        ``(K, p)`` and ``(K, p, p)``; for ``market_adjusted`` ``coef = (0, 1)`` and
        ``xtx_inv = 0`` (nothing is estimated, so there is no estimation error).
    ar_est, ar_win : ndarray
        Abnormal returns on the estimation days ``(K, L)`` and window days ``(K, W)``.
    expected_win : ndarray
        Normal (predicted) returns on the window days ``(K, W)``.
    ssr, n_obs, r2 : ndarray, shape (K,)
    k : int
        Parameters estimated per firm-event (0 for market adjusted).
    """

    names: list[str]
    coef: np.ndarray
    xtx_inv: np.ndarray
    ar_est: np.ndarray
    ar_win: np.ndarray
    expected_win: np.ndarray
    ssr: np.ndarray
    n_obs: np.ndarray
    r2: np.ndarray
    k: int


def fit_expected_returns(
    model: ModelName,
    y_est: np.ndarray,
    X_est: np.ndarray | Design,
    y_win: np.ndarray,
    X_win: np.ndarray,
    names: list[str] | None = None,
) -> ModelFit:
    """Fit ``model`` on the estimation days and compute abnormal returns everywhere.

    Parameters
    ----------
    model : {"market", "constant_mean", "market_adjusted", "factor"}
    y_est : ndarray
        Returns ``(K, L)`` on the estimation days.
    X_est : ndarray or Design
        Design ``(K, L, p)`` on the estimation days (from :func:`build_design`), or a
        :class:`Design` (its constant is not stored: the long estimation window costs one
        array per regressor only).
    y_win, X_win : ndarray
        The same on the window days.
    names : list of str, optional
        Parameter names (default ``alpha``, ``beta``, ``x2`` ..).

    Returns
    -------
    ModelFit
    """
    if isinstance(X_est, Design):
        K, p = X_est.shape[0], X_est.p
        m_est = X_est.Z[..., 0] if X_est.Z is not None else None
    else:
        K, _L, p = X_est.shape
        m_est = X_est[..., 1] if p > 1 else None
    if model == "market_adjusted":
        coef = np.tile(np.array([0.0, 1.0]), (K, 1))
        ar_est = y_est - m_est
        valid = np.isfinite(ar_est)
        n = valid.sum(axis=1)
        mean = np.nansum(ar_est, axis=1) / np.maximum(n, 1)
        ssr = np.nansum((ar_est - mean[:, None]) ** 2, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ybar = np.nansum(np.where(valid, y_est, 0), axis=1) / n
            sst = np.where(valid, (y_est - ybar[:, None]) ** 2, 0).sum(axis=1)
            r2 = 1 - np.nansum(ar_est**2, axis=1) / sst
        expected = X_win[..., 1]
        return ModelFit(
            names=["alpha", "beta"],
            coef=coef,
            xtx_inv=np.zeros((K, 2, 2)),
            ar_est=ar_est,
            ar_win=y_win - expected,
            expected_win=expected,
            ssr=ssr,
            n_obs=n,
            r2=r2,
            k=0,
        )
    ols = batch_ols(y_est, X_est)
    expected = (X_win @ ols.coef[..., None])[..., 0]
    if names is None:
        names = (["alpha", "beta"] + [f"x{j}" for j in range(2, p)])[:p]
    return ModelFit(
        names=names,
        coef=ols.coef,
        xtx_inv=ols.xtx_inv,
        ar_est=ols.resid,
        ar_win=y_win - expected,
        expected_win=expected,
        ssr=ols.ssr,
        n_obs=ols.n_obs,
        r2=ols.r2,
        k=p,
    )


# ----------------------------------------------------------------------------- factor presets


@dataclass(frozen=True)
class FactorPresetSpec:
    """A factor model on published Fama-French factors (the ``factor`` model underneath).

    Attributes
    ----------
    name : str
        ``ff3``, ``ff5`` or ``carhart``.
    market : str
        The market factor column (``Mkt-RF``, the market's excess return); it takes the
        place of the market return.
    factors : tuple of str
        The other factor columns, in the order of the parameters.
    rf : str
        The risk-free column subtracted from every security's return (excess returns).
    paper : str
        Where the model comes from.
    """

    name: str
    market: str
    factors: tuple[str, ...]
    rf: str
    paper: str


#: ``R_it - RF_t = alpha_i + beta_i (Mkt-RF)_t + sum_j gamma_ij F_jt + e_it``.
FACTOR_PRESETS: dict[str, FactorPresetSpec] = {
    "ff3": FactorPresetSpec("ff3", MKT_RF, ("SMB", "HML"), RF, "Fama & French (1993), JFE 33"),
    "ff5": FactorPresetSpec(
        "ff5", MKT_RF, ("SMB", "HML", "RMW", "CMA"), RF, "Fama & French (2015), JFE 116"
    ),
    "carhart": FactorPresetSpec(
        "carhart", MKT_RF, ("SMB", "HML", MOM), RF, "Carhart (1997), JF 52"
    ),
}


def preset_inputs(
    preset: str,
    returns: pd.DataFrame,
    factors: pd.DataFrame | Sequence[str] | str | None,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The engine inputs of a factor preset: excess returns, the market factor, the others.

    Parameters
    ----------
    preset : {"ff3", "ff5", "carhart"}
    returns : DataFrame
        Sessions x securities, simple returns (decimals).
    factors : DataFrame, list of str or None
        The library's factors in decimals (``Mkt-RF``, ``SMB``, ``HML``, ``RMW``, ``CMA``,
        ``MOM``, ``RF``; e.g. :meth:`eventstudy.data.factors.FrenchLibrary.load`), indexed
        by date. A frame not already on the sessions of ``returns`` is aligned on them by
        :func:`eventstudy.data.factors.align_factors` with the ``"same_date"`` rule (right
        for the factors of the returns' own market; align US factors for Tokyo sessions with
        ``"next_session"`` first). Or the names of columns of ``returns`` holding them; or
        ``None`` for the columns of ``returns`` under the standard names.

    Returns
    -------
    excess : DataFrame
        ``returns`` (without factor columns) minus ``RF`` on each session.
    market : Series
        ``Mkt-RF``, named so (the market of the ``factor`` model).
    others : DataFrame
        The preset's other factors, in order.

    Raises
    ------
    ConfigError
        A column the preset needs is missing.
    DataError
        The factors share no session with the returns, or look like percent (the library's
        files are in percent; :func:`eventstudy.data.factors.read_french_table` divides by 100).

    Notes
    -----
    The model ``R_it - RF_t = alpha_i + beta_i (Mkt-RF)_t + sum_j gamma_ij F_jt + e_it`` is
    the ``factor`` model fitted on excess returns, so the abnormal return
    ``AR_it = R_it - RF_t - (alpha_i + beta_i (Mkt-RF)_t + ...)`` and every test are the
    engine's. ``res.car()``'s BHAR compounds these excess returns.
    """
    spec = FACTOR_PRESETS[preset]
    needed = [spec.market, *spec.factors, spec.rf]
    if not isinstance(factors, pd.DataFrame):
        if factors is None:
            names = needed
        elif isinstance(factors, str):
            names = [factors]
        else:
            names = [str(c) for c in factors]
        frame = returns[[c for c in names if c in returns.columns]]
    else:
        frame = factors
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(
                symbol="factors",
                detail=f"indexed by {type(frame.index).__name__}, not dates",
                fix="index the factors by date, like the returns",
            )
        if not frame.index.equals(returns.index):
            frame = align_factors(frame, returns.index, "same_date")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ConfigError(
            field="factors",
            value=missing,
            expected=f"the {preset} columns {', '.join(needed)} (decimal returns from "
            "Kenneth French's library, e.g. eventstudy.data.factors.FrenchLibrary)",
        )
    frame = frame[needed].astype(float)
    if not frame.notna().all(axis=1).any():
        raise DataError(
            symbol="factors",
            detail=f"no session of the returns ({returns.index[0].date()} .. "
            f"{returns.index[-1].date()}) has every {preset} factor"
            if len(returns.index)
            else "the returns are empty",
            fix="give factors covering the study's dates",
        )
    mkt = frame[spec.market].abs().median()
    if mkt > 0.05:
        raise DataError(
            symbol="factors",
            detail=f"{spec.market} has a median absolute value of {mkt:.3g}: percent, not decimals",
            fix="divide the library's percent returns by 100 (read_french_table does)",
        )
    drop = [c for c in returns.columns if c in set(FACTOR_COLUMNS)]
    excess = returns.drop(columns=drop).sub(frame[spec.rf], axis=0)
    market = frame[spec.market].rename(spec.market)
    return excess, market, frame[list(spec.factors)]
