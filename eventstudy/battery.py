"""The test battery, written once: every test on every block of firm-events at once.

One function, :func:`run_battery`, turns a frozen :class:`BatteryInput` (the engine's arrays,
sorted by block) into :class:`~eventstudy.stats.TestResult` objects whose statistics carry a
leading batch axis: one value per block. A block is whatever the caller tests as one sample:
all firm-events pooled (``aar_tests()``), one event (``by="event_id"``), one placebo draw
(:mod:`eventstudy.simulate`) or one specification (:mod:`eventstudy.sensitivity`). The same
code serves all of them, in every convention and with any model, so a test is written once
(its formula in :mod:`eventstudy.stats`, its feeding here) and cannot drift.

Shapes: ``K`` firm-events (rows, sorted so that each block and each event is contiguous),
``C`` events (clusters: the securities sharing an ``event_id``), ``B`` blocks (groups of
events), ``L`` estimation days and ``W`` window days in event time.

Cost: every reduction over firm-events is a segment sum (``numpy.add.reduceat``); the rank
tests rank rows in chunks (:data:`CHUNK_ROWS`) and keep only per-block sums, so memory grows
with ``K (L + W)`` once, not with the number of tests or windows; the SUR tests factor each
event's residual covariance once (an eigen-decomposition, batched over events of the same
size) and solve every day and window with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from eventstudy import stats as st
from eventstudy.models import (
    Design,
    fit_expected_returns,
    forecast_variance_factor,
    residual_df,
    zero_gaps,
)
from eventstudy.stats import Blocks, TestResult
from eventstudy.vocabulary import TEST_NAMES, Convention, ModelName

__all__ = [
    "CHUNK_ROWS",
    "PORTFOLIO_MIN_SIGMA",
    "BatteryInput",
    "BatterySums",
    "OwnFit",
    "PortfolioFit",
    "RowRanks",
    "SurFit",
    "battery_results",
    "battery_sums",
    "car_moments",
    "cluster_rbar",
    "fit_portfolios",
    "fit_sur",
    "grank_scale_moments",
    "run_battery",
]

#: Rows processed per chunk in the rank passes (bounds their temporaries).
CHUNK_ROWS = 4096
#: estudy2 ranks over the estimation window plus at most this many tested days are found by
#: merging the tested days into the estimation ranks (one comparison pass per tested day)
#: rather than by sorting again; more tested days are ranked by a new sort.
MERGE_RANK_MAX_COLS = 4

#: A portfolio residual sd below this share of its members' largest is treated as zero.
PORTFOLIO_MIN_SIGMA = 1e-8


# ----------------------------------------------------------------------------- shared pieces


def car_moments(
    ar_win: np.ndarray, X_win: np.ndarray, xtx_inv: np.ndarray, sigma: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAR over ``cols`` and its Mikkelson-Partch standard error, per row.

    Returns
    -------
    car, se, n_days : ndarray, shape (K,)
        ``car = sum of the observed ARs`` (``NaN`` when none), ``se = s sqrt(L2 + s_W'
        (X'X)^{-1} s_W)`` with ``s_W`` the sum of the design rows of the observed days, and
        ``L2`` the observed days.

    Notes
    -----
    Mikkelson & Partch (1988): the variance of a sum of ``L2`` out-of-sample prediction errors
    of one regression; for the market model ``s^2 [L2 + L2^2/L + (sum_W (M_t - Mbar))^2 / Sxx]``.
    """
    ar = ar_win[:, cols]
    ok = np.isfinite(ar)
    L2 = np.count_nonzero(ok, axis=1).astype(float)
    if (L2 == len(cols)).all():  # every day observed: the same sums without masking
        car = ar.sum(axis=1) if len(cols) else np.full(len(ar), np.nan)
        s = X_win[:, cols].sum(axis=1)
    else:
        car = np.where(L2 > 0, np.where(ok, ar, 0.0).sum(axis=1), np.nan)
        s = np.where(ok[..., None], X_win[:, cols], 0.0).sum(axis=1)
    return car, mikkelson_partch_se(sigma, L2, s, xtx_inv), L2


def car_path_moments(
    ar_win: np.ndarray, X_win: np.ndarray, xtx_inv: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`car_moments` from the first column to each column: the CAR path and its
    Mikkelson-Partch standard error, shape (K, D) each (``NaN`` before the first observed
    day). The sums are running sums (the same additions in day order)."""
    ok = np.isfinite(ar_win)
    car = np.cumsum(np.where(ok, ar_win, 0.0), axis=1)
    L2 = np.cumsum(ok, axis=1).astype(float)
    s = np.cumsum(np.where(ok[..., None], X_win, 0.0), axis=1)
    return np.where(L2 > 0, car, np.nan), mikkelson_partch_se(sigma, L2, s, xtx_inv)


def mikkelson_partch_se(
    sigma: np.ndarray, n_days: np.ndarray, s: np.ndarray, xtx_inv: np.ndarray
) -> np.ndarray:
    """``s sqrt(L2 + s_W' (X'X)^{-1} s_W)``, the standard error of a sum of ``L2``
    out-of-sample prediction errors (see :func:`car_moments`), for one window (``s`` of
    shape (K, p)) or a path of windows (``s`` and ``n_days`` of shape (K, D, p) and (K, D))."""
    if s.ndim == 2:
        return sigma * np.sqrt(n_days + np.einsum("ki,kij,kj->k", s, xtx_inv, s))
    q = n_days + np.einsum("kwi,kij,kwj->kw", s, xtx_inv, s)
    return sigma[:, None] * np.sqrt(q)


Summand = np.ndarray | tuple[np.ndarray, np.ndarray]


def _chunked_block_sums(
    blocks: Blocks, fn: Callable[[int, int], list[Summand]], chunk: int | None = None
) -> list[np.ndarray]:
    """Per-block sums of what ``fn(lo, hi)`` returns for rows ``lo:hi``.

    Each item ``fn`` returns is a ``NaN``-free array (summed over its rows), a boolean mask
    (its ``True`` entries counted, as the sum of the mask as 0/1 floats: the rows of each
    block when it is all ``True``) or a pair ``(weights, array)`` (the weighted sum
    ``sum_k weights_k array_k``). Rows are taken
    :data:`CHUNK_ROWS` at a time, so the temporaries ``fn`` builds stay small.
    """
    chunk = CHUNK_ROWS if chunk is None else chunk
    K = blocks.n_rows
    idx = blocks.index
    outs: list[np.ndarray] = []
    for lo in range(0, K, chunk):
        hi = min(K, lo + chunk)
        items = fn(lo, hi)
        g = idx[lo:hi]
        g0 = int(g[0])
        nb = int(g[-1]) - g0 + 1
        local = g - g0
        ones = st.segment_matrix(local, nb) if nb > 1 else None
        if not outs:
            outs = [np.zeros((len(blocks), *_arr(it).shape[1:])) for it in items]
        for o, it in zip(outs, items, strict=True):
            if isinstance(it, tuple):
                w, M = it
                S = st.segment_matrix(local, nb, w)
                part = np.asarray(S @ M.reshape(len(M), -1))
            elif it.dtype == bool and it.all():  # a full mask: the rows of each block
                rows = np.bincount(local, minlength=nb).astype(float)
                part = np.repeat(rows[:, None], it[:1].size, axis=1)
            elif it.dtype == bool:
                f = it.reshape(len(it), -1).astype(float)
                part = _col_sums(f) if ones is None else np.asarray(ones @ f)
            elif ones is None:
                part = _col_sums(it)
            else:
                part = np.asarray(ones @ it.reshape(len(it), -1))
            o[g0 : g0 + nb] += part.reshape((nb, *o.shape[1:]))
    return outs


def _arr(item: Summand) -> np.ndarray:
    return item[1] if isinstance(item, tuple) else item


def _col_sums(a: np.ndarray) -> np.ndarray:
    """Column sums as a one-row block."""
    return np.asarray(a, dtype=float).sum(axis=0)[None]


def _restandardize(a: np.ndarray, blocks: Blocks, sd: np.ndarray | None = None) -> np.ndarray:
    """``a / sd_b(a)`` per block and column (grank's GSAR); ``NaN`` without a warning when
    the cross-sectional sd is 0 or undefined (identical values, fewer than two). ``sd``: the
    blocks' standard deviations when already known (merged over chunks of firm-events)."""
    if sd is None:
        sd = blocks.sd(a)
    ok = np.isfinite(sd) & (sd > 0)
    scale = blocks.expand(np.where(ok, sd, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / scale


def cluster_rbar(ar_est: np.ndarray, clusters: Blocks) -> np.ndarray:
    """Mean pairwise correlation of each cluster's estimation residuals, shape (C,).

    Notes
    -----
    ``rbar = (sum_{i != j} r_ij) / (n (n - 1))`` over the pairs of the cluster, each ``r_ij``
    on the days both are observed (pairwise-complete; ``NaN`` for a pair with fewer than 3
    common days or no variance on them, left out of the mean). For a complete panel the sum
    of the correlation matrix is ``|sum_i z_i|^2 / L`` with ``z_i`` the standardized rows, which
    needs no ``n x n`` matrix. ``NaN`` for a cluster of one.
    """
    C = len(clusters)
    out = np.full(C, np.nan)
    n = clusters.sizes
    complete_row = np.isfinite(ar_est).all(axis=1)
    complete = clusters.total(complete_row.astype(float)) == n
    fast = complete & (n >= 2)
    if fast.any():
        rows = np.flatnonzero(fast[clusters.index])
        sub = Blocks.from_codes(clusters.index[rows])

        every = len(rows) == len(ar_est)
        L = ar_est.shape[1]

        def z_rows(lo: int, hi: int) -> list[Summand]:
            E = ar_est[lo:hi] if every else ar_est[rows[lo:hi]]
            # (E - mean) / std, the deviations computed once (numpy's own steps for both)
            D = E - E.sum(axis=1, keepdims=True) / L
            with np.errstate(invalid="ignore", divide="ignore"):
                D /= np.sqrt((D * D).sum(axis=1, keepdims=True) / L)
            return [D]

        (S,) = _chunked_block_sums(sub, z_rows)
        total = (S * S).sum(axis=1) / ar_est.shape[1]
        nn = n[fast].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[fast] = (total - nn) / (nn * (nn - 1))
    for c in np.flatnonzero(~complete & (n >= 2)):
        lo = clusters.starts[c]
        C_ = pairwise_corr(ar_est[lo : lo + n[c]])
        off = C_[~np.eye(n[c], dtype=bool)]
        out[c] = float(np.nanmean(off)) if np.isfinite(off).any() else np.nan
    return out


def pairwise_corr(E: np.ndarray) -> np.ndarray:
    """Pairwise-complete correlation matrix of the rows of ``E`` (n securities x L days)."""
    M = np.isfinite(E).astype(float)
    Z = np.where(M > 0, E, 0.0)
    n = M @ M.T
    sx = Z @ M.T
    sxx = (Z * Z) @ M.T
    sxy = Z @ Z.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        vx = sxx - sx**2 / n
        vy = sxx.T - sx.T**2 / n
        C = cov / np.sqrt(vx * vy)
    C[n < 3] = np.nan
    C[~np.isfinite(C)] = np.nan  # a pair without variance on its common days (0 / 0, x / 0)
    np.fill_diagonal(C, 1.0)
    return C


# ----------------------------------------------------------------------------- portfolio


@dataclass(frozen=True, eq=False)
class PortfolioFit:
    """Each event's equal-weighted portfolio, fitted like a firm-event (one row per event).

    Attributes
    ----------
    ar_est, ar_win : ndarray, shapes (C, L) and (C, W)
        The portfolio's abnormal returns.
    X_win : ndarray, shape (C, W, p)
        The design on the window days (the market/factor returns of the event's first
        firm-event).
    xtx_inv : ndarray, shape (C, p, p)
    sigma : ndarray, shape (C,)
        Residual sd (``NaN`` when the members offset exactly: no variance).
    df : ndarray, shape (C,)
        Residual degrees of freedom (:func:`eventstudy.models.residual_df`).
    n_obs : ndarray, shape (C,)
    """

    ar_est: np.ndarray
    ar_win: np.ndarray
    X_win: np.ndarray
    xtx_inv: np.ndarray
    sigma: np.ndarray
    df: np.ndarray
    n_obs: np.ndarray

    @cached_property
    def h_win(self) -> np.ndarray:
        """Estimation-error term ``x_t'(X'X)^{-1}x_t`` of each window day, (C, W)."""
        return forecast_variance_factor(self.X_win, self.xtx_inv)

    def take(self, idx: np.ndarray) -> PortfolioFit:
        """The portfolios of the events ``idx``."""
        return PortfolioFit(*(getattr(self, f)[idx] for f in _PF_FIELDS))

    def shifted(self, col: int, delta: float) -> PortfolioFit:
        """``delta`` added to every portfolio's abnormal return in window column ``col``."""
        ar = self.ar_win.copy()
        ar[:, col] += delta
        return replace(self, ar_win=ar)


_PF_FIELDS = ("ar_est", "ar_win", "X_win", "xtx_inv", "sigma", "df", "n_obs")


def fit_portfolios(
    model: ModelName,
    convention: Convention,
    y_est: np.ndarray,
    design_est: Design | np.ndarray,
    y_win: np.ndarray,
    X_win: np.ndarray,
    member_sigma_max: np.ndarray,
    names: list[str] | None = None,
) -> PortfolioFit:
    """Fit the model to each event's equal-weighted portfolio.

    Parameters
    ----------
    y_est, y_win : ndarray, shapes (C, L) and (C, W)
        The portfolio returns: the mean over the event's firm-events observed that day.
    design_est, X_win
        The design of the event's first firm-event on the estimation and window days.
    member_sigma_max : ndarray, shape (C,)
        The largest residual sd of the members (scale of the "no variance" rule).

    Notes
    -----
    Jaffe (1974), Brown & Warner (1980): the portfolio's own estimation-window variance
    carries any cross-correlation of its members. Its residual sd is ``NaN`` when it is below
    :data:`PORTFOLIO_MIN_SIGMA` times the largest member's (members offsetting exactly).
    """
    fit = fit_expected_returns(model, y_est, design_est, y_win, X_win, names=names)
    df = residual_df(fit.n_obs, fit.k, convention).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(fit.ssr / df)
    sigma = np.where(sigma > PORTFOLIO_MIN_SIGMA * member_sigma_max, sigma, np.nan)
    return PortfolioFit(
        ar_est=fit.ar_est,
        ar_win=fit.ar_win,
        X_win=X_win,
        xtx_inv=fit.xtx_inv,
        sigma=sigma,
        df=df,
        n_obs=np.asarray(fit.n_obs),
    )


# ----------------------------------------------------------------------------- SUR


@dataclass(frozen=True, eq=False)
class _SurGroup:
    """Events with the same number of securities, stacked (G events)."""

    idx: np.ndarray  # (G,) event index
    resid_win: np.ndarray  # (G, N, W) Y_w - X_w B, NaN where missing
    x_win: np.ndarray | None  # (G, W, p) design of the window days (None: market adjusted)
    xtx_inv: np.ndarray | None  # (G, p, p)
    sd: np.ndarray  # (G, N) residual sds
    eigval: np.ndarray  # (G, N) eigenvalues of the residual correlation
    eigvec: np.ndarray  # (G, N, N)
    singular: np.ndarray  # (G,) bool
    sum_sigma: np.ndarray  # (G,) 1' Sigma 1
    nu: np.ndarray  # (G,)


@dataclass(frozen=True, eq=False)
class SurFit:
    """Each event's multivariate regression on its common estimation days (SUR tests).

    Attributes
    ----------
    reason : list of (str or None)
        Per event, why the SUR tests cannot run (too few common days), else ``None``.
    n : ndarray, shape (C,)
        Securities of each event.
    nu : ndarray, shape (C,)
        Residual degrees of freedom of ``Sigma`` (``NaN`` where it cannot run).
    singular : ndarray of bool, shape (C,)
        ``Sigma`` not invertible (:func:`eventstudy.stats.is_singular`).
    sum_sigma : ndarray, shape (C,)
        ``1' Sigma 1`` (the variance of the sum of the residuals).
    groups : list
        Internal stacked groups of events with the same ``n``.
    """

    reason: list[str | None]
    n: np.ndarray
    nu: np.ndarray
    singular: np.ndarray
    sum_sigma: np.ndarray
    groups: list[_SurGroup] = field(repr=False)

    def take(self, idx: np.ndarray) -> SurFit:
        """The fits of the events ``idx`` (in that order)."""
        pos = np.full(len(self.n), -1)
        pos[idx] = np.arange(len(idx))
        groups = []
        for g in self.groups:
            keep = pos[g.idx] >= 0
            if keep.any():
                groups.append(
                    _SurGroup(
                        idx=pos[g.idx][keep],
                        resid_win=g.resid_win[keep],
                        x_win=None if g.x_win is None else g.x_win[keep],
                        xtx_inv=None if g.xtx_inv is None else g.xtx_inv[keep],
                        sd=g.sd[keep],
                        eigval=g.eigval[keep],
                        eigvec=g.eigvec[keep],
                        singular=g.singular[keep],
                        sum_sigma=g.sum_sigma[keep],
                        nu=g.nu[keep],
                    )
                )
        return SurFit(
            reason=[self.reason[i] for i in idx],
            n=self.n[idx],
            nu=self.nu[idx],
            singular=self.singular[idx],
            sum_sigma=self.sum_sigma[idx],
            groups=groups,
        )

    def shifted(self, col: int, delta: float) -> SurFit:
        """``delta`` added to every security's window residual in column ``col``."""
        groups = []
        for g in self.groups:
            r = g.resid_win.copy()
            r[:, :, col] += delta
            groups.append(replace(g, resid_win=r))
        return replace(self, groups=groups)

    def window_stats(self, S: np.ndarray) -> dict[str, np.ndarray]:
        """The Wald quantities of every event for the column sets ``S`` (m, W) of 0/1.

        Returns ``(C, m)`` arrays: ``ok`` (setup fine and every security and regressor
        observed on the set), ``w`` (``CAR' V^-1 CAR``, ``NaN`` when ``Sigma`` is singular),
        ``car_sum`` (sum of the CARs) and ``var_sum`` (``1'V1``).
        """
        C, m = len(self.n), S.shape[0]
        ok = np.zeros((C, m), dtype=bool)
        w = np.full((C, m), np.nan)
        car_sum = np.full((C, m), np.nan)
        var_sum = np.full((C, m), np.nan)
        St = S.T.astype(float)
        for g in self.groups:
            fin = np.isfinite(g.resid_win)
            miss = ((~fin).astype(float) @ St).sum(axis=1) > 0  # (G, m)
            car = np.where(fin, g.resid_win, 0.0) @ St  # (G, N, m)
            n_days = St.sum(axis=0)  # (m,)
            if g.x_win is None or g.xtx_inv is None:
                q = np.broadcast_to(n_days, (len(g.idx), m))
            else:
                xfin = np.isfinite(g.x_win).all(axis=2)  # (G, W)
                miss |= ((~xfin).astype(float) @ St) > 0
                s = np.matmul(S.astype(float), np.where(xfin[..., None], g.x_win, 0.0))
                q = n_days + ((s @ g.xtx_inv) * s).sum(axis=2)  # s'(X'X)^{-1}s, (G, m)
            with np.errstate(invalid="ignore", divide="ignore"):
                z = car / g.sd[..., None]
                y = g.eigvec.transpose(0, 2, 1) @ z  # V'z, (G, N, m)
                ww = (y * y / g.eigval[..., None]).sum(axis=1) / q
            ww = np.where(g.singular[:, None], np.nan, ww)
            ok[g.idx] = ~miss
            w[g.idx] = ww
            car_sum[g.idx] = car.sum(axis=1)
            var_sum[g.idx] = q * g.sum_sigma[:, None]
        return {"ok": ok, "w": w, "car_sum": car_sum, "var_sum": var_sum}


@dataclass(frozen=True, eq=False)
class OwnFit:
    """Each firm-event's own regression, as the engine fitted it (the input of
    :func:`fit_sur` that spares the SUR regression where it is the same regression).

    Attributes
    ----------
    ar_est, ar_win : ndarray, shapes (K, L) and (K, W)
        Residuals on the estimation days (``NaN`` where the security or a regressor has no
        return) and abnormal returns on the window days.
    xtx_inv : ndarray, shape (K, p, p)
    shared : ndarray of bool, shape (C,)
        Whether the event's securities share one design (the same day 0, hence the same
        regressors on every estimation and window day).
    """

    ar_est: np.ndarray
    ar_win: np.ndarray
    xtx_inv: np.ndarray
    shared: np.ndarray


def fit_sur(
    model: ModelName,
    k: int,
    y_est: np.ndarray | Callable[[np.ndarray], np.ndarray],
    X_est: np.ndarray,
    y_win: np.ndarray,
    X_win: np.ndarray,
    clusters: Blocks,
    own: OwnFit | None = None,
) -> SurFit:
    """The SUR estimation side of every event.

    Parameters
    ----------
    model : str
        ``"market_adjusted"`` estimates nothing (residuals ``R - M``, demeaned).
    k : int
        Parameters of the model (the "too few days" rule uses ``max(k, 1)``).
    y_est : ndarray (K, L), or callable
        Estimation returns of every firm-event, or a function returning those of the rows
        it is given (gathered only for events with enough common days).
    y_win : ndarray, shape (K, W)
        Window returns of every firm-event.
    X_est, X_win : ndarray, shapes (C, L, p), (C, W, p)
        The design of each event's first firm-event (the event's securities share it).
    clusters : Blocks
        The events (rows of ``y_*``).
    own : OwnFit, optional
        Each firm-event's own regression. An event whose securities share one design and
        are all observed on the same estimation days (their residuals are missing on the
        same days) takes its residuals, window abnormal returns and ``(X'X)^{-1}`` from it:
        equation-by-equation OLS on the common days is then each security's own fit, so no
        regression is run again (the many equal-size events of a calibration). Other
        events, and the market-adjusted model, are fitted here.

    Notes
    -----
    Schipper & Thompson (1983), Binder (1985): the securities' returns regressed jointly on
    the common regressors with event-day dummies. With the same regressors in every equation
    the coefficients are equation-by-equation OLS on the days every security is observed
    (``common``), ``Sigma = E'E / nu`` with ``nu = L_c - p`` (market adjusted ``L_c - 1``), and
    a CAR's covariance is ``Sigma (L2 + s'(X'X)^{-1}s)``. Needs ``N < L_c - max(k, 1)``.
    Events of the same size are stacked and fitted, factored and solved as one batch.
    ``Sigma`` is factored once per event on the correlation scale (securities' variances may
    differ by orders of magnitude): ``corr = V diag(lambda) V'``, so a Wald quadratic form is
    ``sum_k (V'z)_k^2 / lambda_k``; it is singular when fewer than ``N`` eigenvalues exceed
    ``max lambda * N * eps`` (the ``numpy.linalg.matrix_rank`` rule).
    """
    C = len(clusters)
    n = clusters.sizes
    reason: list[str | None] = [None] * C
    nu = np.full(C, np.nan)
    singular = np.ones(C, dtype=bool)
    sum_sigma = np.full(C, np.nan)
    groups: list[_SurGroup] = []
    ma = model == "market_adjusted"
    kk = max(int(k), 1)
    L = X_est.shape[1]
    for N in np.unique(n):
        cs = np.flatnonzero(n == N)
        if L - kk <= N:  # not even with every estimation day in common
            for c in cs:
                reason[c] = (
                    f"{N} securities but at most {L - kk} residual degrees of freedom on {L} "
                    "estimation days (needs N < days - parameters)"
                )
            continue
        rows = clusters.starts[cs][:, None] + np.arange(N)[None, :]  # (G, N)
        if own is not None and not ma:
            A = own.ar_est[rows]  # (G, N, L)
            fin = np.isfinite(A)
            same = own.shared[cs] & (fin == fin[:, :1, :]).all(axis=(1, 2))
            if same.any():
                if not same.all():
                    A, fin = A[same], fin[same]
                g = _sur_from_own(own, X_win, cs[same], rows[same], A, fin[:, 0], kk, reason)
                if g is not None:
                    _record(g, nu, singular, sum_sigma)
                    groups.append(g)
                cs, rows = cs[~same], rows[~same]
                if not len(cs):
                    continue
        if callable(y_est):
            Y = y_est(rows.ravel()).reshape(len(cs), N, L).transpose(0, 2, 1)  # (G, L, N)
        else:
            Y = y_est[rows].transpose(0, 2, 1)
        Xc_all = X_est[cs]  # (G, L, p)
        common = np.isfinite(Y).all(axis=2) & np.isfinite(Xc_all).all(axis=2)
        Lc, fine = _enough_common_days(cs, common, N, kk, reason)
        if not fine.any():
            continue
        cs, Y, Xc_all, common, Lc = cs[fine], Y[fine], Xc_all[fine], common[fine], Lc[fine]
        Yc = np.where(common[..., None], Y, 0.0)
        Xc = np.where(common[..., None], Xc_all, 0.0)
        Yw = y_win[rows[fine]].transpose(0, 2, 1)  # (G, W, N)
        Xw = X_win[cs]
        if ma:
            E = Yc - Xc[..., [1]]
            mean = E.sum(axis=1) / Lc[:, None]
            E = np.where(common[..., None], E - mean[:, None, :], 0.0)
            g_nu = (Lc - 1).astype(float)
            resid_win = (Yw - Xw[..., [1]]).transpose(0, 2, 1)
            inv = None
            x_win = None
        else:
            p = Xc.shape[2]
            inv = np.linalg.inv(Xc.transpose(0, 2, 1) @ Xc)
            B = inv @ (Xc.transpose(0, 2, 1) @ Yc)  # (G, p, N)
            E = np.where(common[..., None], Yc - Xc @ B, 0.0)
            g_nu = (Lc - p).astype(float)
            resid_win = (Yw - Xw @ B).transpose(0, 2, 1)  # (G, N, W)
            x_win = Xw
        Sigma = E.transpose(0, 2, 1) @ E / g_nu[:, None, None]
        g = _factor_sur(cs, Sigma, g_nu, resid_win, x_win, inv)
        _record(g, nu, singular, sum_sigma)
        groups.append(g)
    return SurFit(reason, n, nu, singular, sum_sigma, groups)


def _record(g: _SurGroup, nu: np.ndarray, singular: np.ndarray, sum_sigma: np.ndarray) -> None:
    """Write a group's per-event values into the per-event arrays of :class:`SurFit`."""
    nu[g.idx] = g.nu
    singular[g.idx] = g.singular
    sum_sigma[g.idx] = g.sum_sigma


def _factor_sur(
    cs: np.ndarray,
    Sigma: np.ndarray,
    g_nu: np.ndarray,
    resid_win: np.ndarray,
    x_win: np.ndarray | None,
    inv: np.ndarray | None,
) -> _SurGroup:
    """Factor the residual covariances ``Sigma`` (G, N, N) of a stack of events on the
    correlation scale (see :func:`fit_sur`)."""
    N = Sigma.shape[1]
    sd = np.sqrt(np.diagonal(Sigma, axis1=1, axis2=2))
    bad = ~(np.isfinite(Sigma).all(axis=(1, 2)) & (sd > 0).all(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = Sigma / (sd[:, :, None] * sd[:, None, :])
    corr = np.where(bad[:, None, None], np.eye(N), corr)
    lam, V = np.linalg.eigh(corr)
    absl = np.abs(lam)
    rank = (absl > absl.max(axis=1, keepdims=True) * N * np.finfo(float).eps).sum(axis=1)
    sing = bad | (rank < N)
    return _SurGroup(
        idx=cs,
        resid_win=resid_win,
        x_win=x_win,
        xtx_inv=inv,
        sd=sd,
        eigval=np.where(sing[:, None], 1.0, lam),
        eigvec=V,
        singular=sing,
        sum_sigma=Sigma.sum(axis=(1, 2)),
        nu=g_nu,
    )


def _enough_common_days(
    cs: np.ndarray, common: np.ndarray, N: int, kk: int, reason: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """The common estimation days of each event ``cs`` (from ``common``, (G, L)) and whether
    they leave more residual degrees of freedom than the ``N`` securities (the SUR needs
    ``N < days - parameters``); ``reason`` says why for the others."""
    Lc = common.sum(axis=1)
    fine = (Lc - kk) > N
    for j in np.flatnonzero(~fine):
        reason[cs[j]] = (
            f"{N} securities but only {Lc[j] - kk} residual degrees of freedom on {Lc[j]} "
            "common estimation days (needs N < days - parameters)"
        )
    return Lc, fine


def _sur_from_own(
    own: OwnFit,
    X_win: np.ndarray,
    cs: np.ndarray,
    rows: np.ndarray,
    resid: np.ndarray,
    common: np.ndarray,
    kk: int,
    reason: list[str | None],
) -> _SurGroup | None:
    """The SUR group of the events ``cs`` (securities ``rows``, (G, N)) whose securities
    share one design and the estimation days ``common`` (G, L): their own residuals
    ``resid`` (G, N, L; ``NaN`` off the common days, overwritten here) are the SUR
    residuals. ``None`` when none has enough common days (``reason`` says why)."""
    N = rows.shape[1]
    Lc, fine = _enough_common_days(cs, common, N, kk, reason)
    if not fine.any():
        return None
    if not fine.all():
        cs, rows, common, Lc, resid = cs[fine], rows[fine], common[fine], Lc[fine], resid[fine]
    first = rows[:, 0]
    inv = own.xtx_inv[first]  # (G, p, p)
    E = resid
    np.copyto(E, 0.0, where=~common[:, None, :])
    g_nu = (Lc - inv.shape[1]).astype(float)
    Sigma = E @ E.transpose(0, 2, 1) / g_nu[:, None, None]
    return _factor_sur(cs, Sigma, g_nu, own.ar_win[rows], X_win[cs], inv)


def _sur_sums(sur: SurFit, S: np.ndarray, cluster_blocks: Blocks) -> dict[str, np.ndarray]:
    """Per-block sums over the events whose SUR runs on the column sets ``S`` (m, W): their
    number, ``sum N_e``, ``sum nu_e``, the CAR sums and variances, ``sum F_e`` and
    ``sum N_e F_e``, each ``(B, m)``."""
    ws = sur.window_stats(S)
    ok = ws["ok"]
    N = np.broadcast_to(sur.n[:, None].astype(float), ok.shape)
    nu = np.broadcast_to(np.nan_to_num(sur.nu)[:, None], ok.shape)
    f_each = st.hotelling_f(ws["w"], N, nu)
    cb = cluster_blocks

    def tot(x: np.ndarray) -> np.ndarray:
        return cb.total(st.zero_masked(x, ok))

    return {
        "sur_parts": cb.count_mask(ok),
        "sur_n": tot(N),
        "sur_nu": tot(nu),
        "sur_car": tot(ws["car_sum"]),
        "sur_var": tot(ws["var_sum"]),
        "sur_f": tot(f_each),
        "sur_fn": tot(f_each * N),
    }


def _sur_from_sums(sums: dict[str, np.ndarray]) -> tuple[TestResult, TestResult]:
    """``sur_wald`` and ``sur_wald_mean`` of every block from :func:`_sur_sums`.

    One event in a block: the Hotelling form ``F(N, nu - N + 1)`` and the mean test against
    ``F(1, nu)``. Several independent events: ``sum_e N_e F_e`` against chi-squared
    ``(sum_e N_e)`` and the pooled mean CAR against ``F(1, sum_e nu_e)``. Events whose SUR
    cannot run for that set (too few common days, a missing return) are left out; with none
    left the block's tests are ``NaN`` (see ``test_notes``).
    """
    parts = sums["sur_parts"]
    n_all = sums["sur_n"]
    nu_all = sums["sur_nu"]
    car_all = sums["sur_car"]
    var_all = sums["sur_var"]
    with np.errstate(invalid="ignore", divide="ignore"):
        w_mean = np.where(var_all > 0, car_all**2 / var_all, np.nan)
    one = parts == 1
    # one event: its F; several: sum N_e F_e ~ chi2(sum N_e) (each p-value computed only
    # where it is the block's: thousands of one-event placebo blocks need no chi-squared)
    stat = np.where(one, sums["sur_f"], sums["sur_fn"])
    p = np.full(stat.shape, np.nan)
    p[one] = st.p_f(stat[one], n_all[one], nu_all[one] - n_all[one] + 1)
    several = ~one
    p[several] = st.p_chi2(stat[several], n_all[several])
    none = parts == 0
    stat = np.where(none, np.nan, stat)
    p = np.where(none, np.nan, p)
    df = np.where(none, np.nan, n_all)
    df2 = np.where(one, nu_all - n_all + 1, np.nan)
    w_mean = np.where(none, np.nan, w_mean)
    p_mean = st.p_f(w_mean, 1.0, np.where(none, np.nan, nu_all))
    return (
        TestResult("sur_wald", stat, p, df, "all CARs = 0", df2),
        TestResult(
            "sur_wald_mean",
            w_mean,
            p_mean,
            np.where(none, np.nan, 1.0),
            "mean CAR = 0",
            np.where(none, np.nan, nu_all),
        ),
    )


# ----------------------------------------------------------------------------- input


class RowRanks:
    """Ranks of each firm-event's abnormal returns, block independent: computed once per
    results object and shared by every grouping of its tests (pooled, by event, pools).

    ``full``: ranks over ``[AR_est, AR_win]`` (float32: ranks and half-ranks are exact);
    ``med``: the row medians; ``est``: ranks of the estimation part alone (also those of the
    standardized residuals, a positive rescaling of each row). ``take(rows)`` gives the same
    for a reordering of the rows without ranking again.
    """

    def __init__(
        self,
        ar_est: np.ndarray,
        ar_win: np.ndarray,
        parent: RowRanks | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        self._est, self._win = ar_est, ar_win
        self._parent, self._rows = parent, rows
        #: whether the ranks over ``[AR_est, AR_win]`` will be read (textbook convention)
        self.full_needed = True

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        if self._parent is not None:
            return {k: v[self._rows] for k, v in self._parent.arrays.items()}
        K, L = self._est.shape
        W = self._win.shape[1]
        full = np.empty((K, L + W), dtype=np.float32)
        est = np.empty((K, L), dtype=np.float32)
        med = np.empty(K)
        for lo in range(0, K, CHUNK_ROWS):
            hi = min(K, lo + CHUNK_ROWS)
            a = np.concatenate([self._est[lo:hi], self._win[lo:hi]], axis=1)
            # ranks straight into the float32 arrays (integers and halves: exact)
            order = st._rank_chunk(a, full[lo:hi], head=est[lo:hi])
            med[lo:hi] = st.order_medians(a, order)
        return {"full": full, "est": est, "med": med}

    @cached_property
    def est(self) -> np.ndarray:
        """Ranks of the estimation part alone (``NaN`` where the AR is missing), float32.

        Read from :attr:`arrays` when they are (or will be) built; otherwise (the estudy2
        convention, which never ranks the whole window) from a sort of the estimation
        part only.
        """
        if self._parent is not None:
            return self._parent.est[self._rows]
        if "arrays" in self.__dict__ or self.full_needed:
            return self.arrays["est"]
        return self._est_alone[0]

    @cached_property
    def est_sorted(self) -> np.ndarray:
        """Each row's estimation ARs sorted ascending (``NaN`` last)."""
        if self._parent is not None:
            return self._parent.est_sorted[self._rows]
        return self._est_alone[1]

    @cached_property
    def _est_alone(self) -> tuple[np.ndarray, np.ndarray]:
        """Ranks (float32) and sorted values of the estimation part, from one sort."""
        K, L = self._est.shape
        est = np.empty((K, L), dtype=np.float32)
        srt = np.empty((K, L))
        for lo in range(0, K, CHUNK_ROWS):
            hi = min(K, lo + CHUNK_ROWS)
            r = np.empty((hi - lo, L))
            x = self._est[lo:hi]
            srt[lo:hi] = np.take_along_axis(x, st._rank_chunk(x, r), axis=1)
            est[lo:hi] = r
        return est, srt

    def take(self, rows: np.ndarray) -> RowRanks:
        out = RowRanks(self._est[rows], self._win[rows], parent=self, rows=rows)
        out.full_needed = self.full_needed
        return out


@dataclass(frozen=True, eq=False)
class BatteryInput:
    """Everything the battery reads, as arrays: the frozen input of :func:`run_battery`.

    Rows are firm-events sorted so that each block and each event (cluster) is contiguous.

    Attributes
    ----------
    convention : {"textbook", "estudy2"}
    blocks : Blocks
        Rows -> blocks (the batch axis of every result).
    clusters : Blocks
        Rows -> events (each inside one block).
    cluster_blocks : Blocks
        Events -> blocks.
    ar_est, ar_win : ndarray, shapes (K, L), (K, W)
        Estimation and window abnormal returns.
    sigma, n_obs : ndarray, shape (K,)
        Residual sd (:func:`eventstudy.models.residual_df`) and estimation observations.
    df_patell : ndarray, shape (K,)
        Degrees of freedom of the Patell variance (:func:`eventstudy.models.patell_df`).
    c_sar : ndarray, shape (K, W)
        Prediction-error correction ``1 + x_t'(X'X)^{-1}x_t`` of each window AR's variance.
    mterm_win : ndarray, shape (K, W)
        ``(M_t - Mbar)^2 / Sxx`` (Lamb's market term; 0 without a market regression).
    X_win, xtx_inv : ndarray, shapes (K, W, p), (K, p, p)
        Window design and ``(X'X)^{-1}`` (CAR variances).
    rbar : ndarray, shape (C,)
        Mean residual correlation of each event (:func:`cluster_rbar`).
    portfolio : PortfolioFit
        One row per event.
    sur : SurFit
        One entry per event.
    """

    convention: Convention
    blocks: Blocks
    clusters: Blocks
    cluster_blocks: Blocks
    ar_est: np.ndarray
    ar_win: np.ndarray
    sigma: np.ndarray
    n_obs: np.ndarray
    df_patell: np.ndarray
    c_sar: np.ndarray
    mterm_win: np.ndarray
    X_win: np.ndarray
    xtx_inv: np.ndarray
    rbar: np.ndarray
    portfolio: PortfolioFit
    sur: SurFit
    row_ranks: RowRanks | None = None

    # ------------------------------------------------------------------ derived (cached)

    @cached_property
    def _ranks(self) -> RowRanks:
        if self.row_ranks is not None:
            return self.row_ranks
        ranks = RowRanks(self.ar_est, self.ar_win)
        ranks.full_needed = not self.e2
        return ranks

    @property
    def e2(self) -> bool:
        return self.convention == "estudy2"

    @cached_property
    def sar_win(self) -> np.ndarray:
        """Standardized window ARs ``AR / (s sqrt(c))``, (K, W)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.ar_win / (self.sigma[:, None] * np.sqrt(self.c_sar))

    @cached_property
    def _rows(self) -> np.ndarray:
        """Firm-events per block, float (the additive count of every per-block mean)."""
        return self.blocks.sizes.astype(float)

    @cached_property
    def _rbar_num(self) -> np.ndarray:
        """``sum_e n_e (n_e - 1) rbar_e`` over the events of each block."""
        nc = self.clusters.sizes.astype(float)
        r = np.nan_to_num(self.rbar, nan=0.0)
        return self.cluster_blocks.total(nc * (nc - 1) * r)

    @cached_property
    def block_rbar(self) -> np.ndarray:
        """Mean pairwise residual correlation over all pairs of each block (pairs in
        different events count as 0); ``NaN`` where ``1 + (N - 1) rbar`` is not positive."""
        return _block_rbar(self._rbar_num, self._rows)

    @cached_property
    def _p_hat_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Numerator and denominator of :attr:`p_hat`, both additive over firm-events."""
        a = self.ar_est
        ok = np.isfinite(a)
        pos = np.count_nonzero((a > 0) & ok, axis=1).astype(float)
        n = np.count_nonzero(ok, axis=1).astype(float)
        if self.e2:
            return self.blocks.total(pos), self.blocks.total(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.blocks.total(pos / n), self._rows

    @cached_property
    def p_hat(self) -> np.ndarray:
        """Expected share of positive ARs per block (generalized sign test)."""
        return _ratio(*self._p_hat_sums)

    @cached_property
    def _n_obs_total(self) -> np.ndarray:
        return self.blocks.total(self.n_obs.astype(float))

    @cached_property
    def df_bw(self) -> np.ndarray:
        """Brown-Warner 1980 degrees of freedom: mean estimation length - 1, per block."""
        return _df_bw(self._n_obs_total, self._rows)

    @cached_property
    def _est_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-block sums and counts of the estimation ARs on each estimation day, (B, L)."""
        ok = np.isfinite(self.ar_est)
        return self.blocks.total(st.zero_masked(self.ar_est, ok)), self.blocks.count_mask(ok)

    @cached_property
    def aar_est(self) -> np.ndarray:
        """Average estimation AR of each block on each estimation day, (B, L)."""
        return st.mean_from_sums(*self._est_sums)

    @cached_property
    def _rank_days(self) -> list[st.RankDays]:
        """The daily statistics of the textbook rank tests (every window reads them)."""
        t = self._textbook_ranks
        return _rank_days_textbook({f"rk_{k}": v for k, v in t.items()}, self.blocks.sizes)

    @cached_property
    def _aar_sd(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`eventstudy.stats.aar_sd` of :attr:`aar_est` (Brown-Warner 1985 and Lamb,
        every window)."""
        return st.aar_sd(self.aar_est)

    @cached_property
    def _mterm_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-block sums and counts of the market terms on each window day, (B, W)."""
        ok = np.isfinite(self.mterm_win)
        return self.blocks.total(st.zero_masked(self.mterm_win, ok)), self.blocks.count_mask(ok)

    @cached_property
    def lamb_correction(self) -> np.ndarray:
        """``1 + 1/Lbar + mean_i mterm_it`` per block and window day, (B, W)."""
        return _lamb_correction(self._n_obs_total, self._rows, *self._mterm_sums)

    @cached_property
    def _textbook_ranks(self) -> dict[str, np.ndarray]:
        """Per-block daily sums of the rank and sign tests over the estimation window plus the
        whole computed window (textbook), from the shared row ranks: ``g`` (signs about the
        row median), ``n_t``, ``k`` (ranks), ``dev`` (ranks minus each row's mean rank), ``u``
        (centred uniform ranks) and ``kbar`` (sum of the rows' mean ranks)."""
        rk = self._ranks.arrays
        if self._complete:
            return self._textbook_ranks_complete(rk)

        def fn(lo: int, hi: int) -> list[Summand]:
            a = np.concatenate([self.ar_est[lo:hi], self.ar_win[lo:hi]], axis=1)
            ok = np.isfinite(a)
            okf = ok.astype(float)
            with np.errstate(invalid="ignore"):
                g = np.sign(a - rk["med"][lo:hi, None])
            r = rk["full"][lo:hi].astype(float)
            n_i = np.count_nonzero(ok, axis=1).astype(float)
            gaps = np.flatnonzero(n_i < a.shape[1])  # missing values count as 0 in every sum
            zero_gaps(g, ok, gaps, copy=False)
            zero_gaps(r, ok, gaps, copy=False)
            kbar = r.sum(axis=1) / np.maximum(n_i, 1)
            return [g, ok, r, (kbar, okf), (1.0 / (n_i + 1.0), r), kbar[:, None]]

        g, n_t, k, kbar_ok, u, kbar = _chunked_block_sums(self.blocks, fn)
        return {"g": g, "n_t": n_t, "k": k, "kbar_ok": kbar_ok, "u": u, "kbar": kbar[:, 0]}

    @cached_property
    def _complete(self) -> bool:
        """Whether every estimation and window AR is observed (placebo studies are drawn so):
        the sums then need no masks (a count is the block's size)."""
        return bool(np.isfinite(self.ar_est).all() and np.isfinite(self.ar_win).all())

    def _textbook_ranks_complete(self, rk: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:attr:`_textbook_ranks` when every AR is observed: the same sums (the same
        additions, in the same order) without the masks, whose sums are the block sizes
        (``n_t``) and the rows' mean ranks (``kbar_ok``, the sum of ``kbar`` on every day)."""
        T = self.ar_est.shape[1] + self.ar_win.shape[1]
        w = np.full(self.blocks.n_rows, 1.0 / (T + 1.0))

        def fn(lo: int, hi: int) -> list[Summand]:
            a = np.concatenate([self.ar_est[lo:hi], self.ar_win[lo:hi]], axis=1)
            with np.errstate(invalid="ignore"):
                g = np.sign(a - rk["med"][lo:hi, None])
            r = rk["full"][lo:hi].astype(float)
            kbar = r.sum(axis=1) / float(max(T, 1))
            return [g, r, (w[lo:hi], r), kbar[:, None]]

        g, k, u, kbar = _chunked_block_sums(self.blocks, fn)
        n_t = np.repeat(self.blocks.sizes.astype(float)[:, None], T, axis=1)
        kbar_ok = np.repeat(kbar, T, axis=1)
        return {"g": g, "n_t": n_t, "k": k, "kbar_ok": kbar_ok, "u": u, "kbar": kbar[:, 0]}

    def _rank_tests_textbook(self, cols: np.ndarray, cumulative: bool) -> list[TestResult]:
        """corrado_sign / corrado_rank / modified_rank on the tested columns (textbook: ranks
        and medians over the estimation window plus the whole computed window)."""
        t = self._textbook_ranks
        return _rank_tests_textbook_from_sums(
            {f"rk_{k}": v for k, v in t.items()},
            self.blocks.sizes,
            self.ar_est.shape[1],
            cols,
            cumulative,
            self._rank_days,
        )

    @cached_property
    def _rank_z_textbook(self) -> dict[str, np.ndarray]:
        """Daily corrado_sign / corrado_rank / modified_rank z over every window day
        (textbook: ranks and medians over the estimation window plus the whole computed
        window), (B, W) each."""
        W = self.ar_win.shape[1]
        return {r.name: r.statistic for r in self._rank_tests_textbook(np.arange(W), False)}

    @property
    def _est_ranks(self) -> np.ndarray:
        """Ranks of each row's estimation ARs (= of its standardized residuals), float32."""
        return self._ranks.est

    def _rank_tests_estudy2(self, cols: np.ndarray, cumulative: bool) -> list[TestResult]:
        """estudy2 rank tests: ranks over the estimation window plus the tested days only."""
        return _rank_tests_estudy2_from_sums(
            self._rank_sums_estudy2(cols), self.blocks.sizes, self.ar_est.shape[1], cols, cumulative
        )

    def _rank_sums_estudy2(self, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Per-block sums of the estudy2 rank tests (ranks over the estimation window plus
        the tested days ``cols``)."""

        merge = len(cols) <= MERGE_RANK_MAX_COLS
        est_r = self._est_ranks if merge else None
        est_s = self._ranks.est_sorted if merge else None

        def fn(lo: int, hi: int) -> list[Summand]:
            x = self.ar_win[lo:hi][:, cols]
            a = np.concatenate([self.ar_est[lo:hi], x], axis=1)
            ok = np.isfinite(a)
            okf = ok.astype(float)
            if est_r is not None and est_s is not None:
                r = st.merge_ranks(a, est_r[lo:hi], len(cols))
                med = st.merge_medians(est_s[lo:hi], x)
                gap = np.isnan(med)
                if gap.any():  # a row with a missing value: sort it
                    med[gap] = st.row_medians(np.sort(a[gap], axis=1))
            else:
                r = np.empty(a.shape)
                med = st.order_medians(a, st._rank_chunk(a, r))
            with np.errstate(invalid="ignore"):
                g = np.where(ok, np.sign(a - med[:, None]), 0.0)
            r[~ok] = 0.0
            n_i = okf.sum(axis=1)
            kbar = r.sum(axis=1) / np.maximum(n_i, 1)
            return [g, okf, r, (kbar, okf), (1.0 / (n_i + 1.0), r), kbar[:, None], n_i[:, None]]

        g, n_t, ksum, kbar_ok, u, kbar, n_i = _chunked_block_sums(self.blocks, fn)
        return {
            "e2_g": g,
            "e2_n_t": n_t,
            "e2_k": ksum,
            "e2_kbar_ok": kbar_ok,
            "e2_u": u,
            "e2_kbar": kbar[:, 0],
            "e2_n_i": n_i[:, 0],
        }

    def _grank_daily(self, cols: np.ndarray) -> TestResult:
        """Daily grank: rows ``[SR_est, SAR_win / sd_b(SAR_win)]`` ranked (textbook: every
        window day; estudy2: the tested days only)."""
        sums = self._grank_daily_sums(cols)
        return _grank_daily_from_sums(sums, self.blocks.sizes, self.ar_est.shape[1], cols, self.e2)

    def _grank_daily_sums(
        self, cols: np.ndarray, scale: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-block sums of the daily grank: the weighted ranks and the firm-events observed
        on each ranked day. ``scale``: the blocks' cross-sectional sd of the SARs on every
        window day, (B, W) (default: from these rows)."""
        restd = _restandardize(self.sar_win, self.blocks, scale)
        win_cols = cols if self.e2 else np.arange(self.ar_win.shape[1])

        def fn(lo: int, hi: int) -> list[Summand]:
            with np.errstate(invalid="ignore", divide="ignore"):
                sr = self.ar_est[lo:hi] / self.sigma[lo:hi, None]
            G = np.concatenate([sr, restd[lo:hi][:, win_cols]], axis=1)
            ok = np.isfinite(G)
            r = np.empty(G.shape)
            st._rank_chunk(G, r)
            n_i = np.count_nonzero(ok, axis=1).astype(float)
            zero_gaps(r, ok, np.flatnonzero(n_i < G.shape[1]), copy=False)
            return [(1.0 / (n_i + 1.0), r), ok]

        rsum, n_t = _chunked_block_sums(self.blocks, fn)
        return {"gd_rsum": rsum, "gd_n_t": n_t}

    @cached_property
    def _grank_base(self) -> dict[str, np.ndarray]:
        """Per-block sums of the estimation ranks for the window grank (independent of the
        window): ``sum_i r_it / (n_i + 2)`` and the firm-events observed each day, ``n_t``."""
        est_r = self._est_ranks

        def fn(lo: int, hi: int) -> list[Summand]:
            ok = np.isfinite(self.ar_est[lo:hi]) & np.isfinite(self.sigma[lo:hi, None])
            r = est_r[lo:hi].astype(float)
            n = np.count_nonzero(ok, axis=1).astype(float)
            zero_gaps(r, ok, np.flatnonzero(n < ok.shape[1]), copy=False)
            return [(1.0 / (n + 2.0), r), ok]

        w2, n_t = _chunked_block_sums(self.blocks, fn)
        return {"w2": w2, "n_t": n_t}

    def _grank_window(self, scar: np.ndarray) -> TestResult:
        """Kolari & Pynnonen (2011) window test (see :meth:`_grank_window_sums`)."""
        return _grank_window_from_sums(self._grank_window_sums(scar), self.blocks.sizes)

    def car_moments(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`car_moments` of these rows over ``cols``, kept per window (the battery and
        the table's mean CAR read the same)."""
        memo: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]]
        memo = self.__dict__.setdefault("_car_memo", {})
        key = tuple(int(c) for c in cols)
        if key not in memo:
            memo[key] = car_moments(self.ar_win, self.X_win, self.xtx_inv, self.sigma, cols)
        return memo[key]

    @cached_property
    def _n_sr(self) -> np.ndarray:
        """Finite standardized estimation residuals ``AR / s`` of each row (float)."""
        out = np.empty(len(self.ar_est))
        for lo in range(0, len(out), CHUNK_ROWS):
            with np.errstate(invalid="ignore", divide="ignore"):
                sr = self.ar_est[lo : lo + CHUNK_ROWS] / self.sigma[lo : lo + CHUNK_ROWS, None]
            out[lo : lo + CHUNK_ROWS] = np.count_nonzero(np.isfinite(sr), axis=1)
        return out

    def _grank_window_sums(
        self, scar: np.ndarray, scale: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-block sums of the window grank: the estimation SRs plus one column, the
        re-standardized SCAR, without re-ranking.

        Adding one value ``x_i`` to row ``i`` moves the estimation ranks above it up by one
        (a half for a tie) and gives ``x_i`` the rank ``1 + #below + #ties/2``; only the
        cross-sectional mean ranks are needed: ``sum_i (r_it + shift_it) w_i`` with
        ``w_i = 1/(n_i + 2)`` (``1/(n_i + 1)`` for a row without the window value).
        """
        x = _restandardize(scar, self.blocks, scale)
        has_x = np.isfinite(x)
        base = self._grank_base
        sums = base["w2"].copy()
        if not has_x.all():  # rows without the window value keep 1/(n_i + 1)
            sums = base["w2"] + self._rows_rank_sums(~has_x)
        n_t = base["n_t"]

        n_sr = self._n_sr

        def fn(lo: int, hi: int) -> list[Summand]:
            with np.errstate(invalid="ignore", divide="ignore"):
                sr = self.ar_est[lo:hi] / self.sigma[lo:hi, None]
            n_est = n_sr[lo:hi]
            hx = has_x[lo:hi]
            xv = np.where(hx, x[lo:hi], np.inf)[:, None]  # no value: nothing is above it
            with np.errstate(invalid="ignore"):
                gt = sr > xv
                eq = sr == xv
            shift = gt.astype(float)
            n_eq = np.count_nonzero(eq, axis=1)
            if n_eq.any():
                shift += 0.5 * eq
            n_gt = np.count_nonzero(gt, axis=1)
            w = 1.0 / (n_est + 2.0)
            x_rank = 1.0 + (n_est - n_gt - n_eq) + 0.5 * n_eq
            u_x = np.where(hx, x_rank * w - 0.5, 0.0)
            return [(w, shift), u_x[:, None]]

        shift, ux = _chunked_block_sums(self.blocks, fn)
        return {
            "gw_w": sums,
            "gw_n_t": n_t,
            "gw_shift": shift,
            "gw_ux": ux[:, 0],
            "gw_n_x": self.blocks.total(has_x.astype(float)),
        }

    def _rows_rank_sums(self, rows_mask: np.ndarray) -> np.ndarray:
        """``sum_i r_it (1/(n_i + 1) - 1/(n_i + 2))`` over the rows in ``rows_mask``, per
        block: the correction of :meth:`_grank_window` for rows without a window value."""
        rows = np.flatnonzero(rows_mask)
        ok = np.isfinite(self.ar_est[rows]) & np.isfinite(self.sigma[rows, None])
        r = np.where(ok, self._est_ranks[rows].astype(float), 0.0)
        n = ok.sum(axis=1).astype(float)
        w = 1.0 / (n + 1.0) - 1.0 / (n + 2.0)
        S = st.segment_matrix(self.blocks.index[rows], len(self.blocks), w)
        return np.asarray(S @ r)

    # ------------------------------------------------------------------ selections

    def take_clusters(self, idx: np.ndarray) -> BatteryInput:
        """The input restricted to the events ``idx``, one block per event (placebo
        draws: the power run uses the first draws only)."""
        idx = np.asarray(idx)
        starts = self.clusters.starts[idx]
        sizes = self.clusters.sizes[idx]
        rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, sizes, strict=True)])
        per_event = Blocks.from_sizes(sizes)
        return BatteryInput(
            convention=self.convention,
            blocks=per_event,
            clusters=per_event,
            cluster_blocks=Blocks.from_sizes(np.ones(len(idx), dtype=np.intp)),
            ar_est=self.ar_est[rows],
            ar_win=self.ar_win[rows],
            sigma=self.sigma[rows],
            n_obs=self.n_obs[rows],
            df_patell=self.df_patell[rows],
            c_sar=self.c_sar[rows],
            mterm_win=self.mterm_win[rows],
            X_win=self.X_win[rows],
            xtx_inv=self.xtx_inv[rows],
            rbar=self.rbar[idx],
            portfolio=self.portfolio.take(idx),
            sur=self.sur.take(idx),
            row_ranks=self._ranks.take(rows),
        )

    def shifted(self, col: int, delta: float) -> BatteryInput:
        """``delta`` added to every firm-event's return in window column ``col``.

        Notes
        -----
        The models are fitted on the estimation window only, so adding ``delta`` to the
        day-0 return adds exactly ``delta`` to the day-0 abnormal return of every security,
        of every portfolio and to every SUR residual, and changes nothing else (the power runs
        of :func:`eventstudy.simulate.simulate`; tested in ``tests/test_simulate.py``).
        """
        ar = self.ar_win.copy()
        ar[:, col] += delta
        return replace(
            self,
            ar_win=ar,
            portfolio=self.portfolio.shifted(col, delta),
            sur=self.sur.shifted(col, delta),
            row_ranks=None,  # the window values moved: rank again
        )


# ----------------------------------------------------------------------------- the battery


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _block_rbar(num: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mean pairwise residual correlation of each block from ``sum_e n_e (n_e - 1) rbar_e``
    and the block's firm-events ``n`` (pairs in different events count as 0); ``NaN`` where
    ``1 + (n - 1) rbar`` is not positive."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n >= 2, num / (n * (n - 1)), 0.0)
    return np.where(1 + (n - 1) * out <= st.KP_MIN_DESIGN_EFFECT, np.nan, out)


def _df_bw(n_obs_total: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Brown-Warner 1980 degrees of freedom: mean estimation length - 1."""
    return n_obs_total / n - 1


def _lamb_correction(
    n_obs_total: np.ndarray, n: np.ndarray, mterm_total: np.ndarray, mterm_n: np.ndarray
) -> np.ndarray:
    """``1 + 1/Lbar + mean_i mterm_it`` per block and window day, (B, W)."""
    lbar = n_obs_total / n
    return 1 + 1 / lbar[:, None] + st.mean_from_sums(mterm_total, mterm_n)


def _rank_days_textbook(sums: dict[str, np.ndarray], n_rows: np.ndarray) -> list[st.RankDays]:
    """The daily statistics of corrado_sign / corrado_rank / modified_rank from the
    textbook rank sums (every day of the estimation window and computed window)."""
    g, n_t, k = sums["rk_g"], sums["rk_n_t"], sums["rk_k"]
    return [
        st.corrado_sign_days(g, n_t, n_rows),
        st.corrado_rank_days(k - sums["rk_kbar_ok"], n_t, n_rows),
        st.modified_rank_days(sums["rk_u"] - 0.5 * n_t, n_t, n_rows),
    ]


def _rank_tests_textbook_from_sums(
    sums: dict[str, np.ndarray],
    n_rows: np.ndarray,
    L: int,
    cols: np.ndarray,
    cumulative: bool,
    days: list[st.RankDays] | None = None,
) -> list[TestResult]:
    """The textbook rank tests of ``cols``; ``days``: :func:`_rank_days_textbook` of the
    same sums when already computed (they do not depend on the tested days)."""
    tested = L + np.asarray(cols)
    g, n_t, k = sums["rk_g"], sums["rk_n_t"], sums["rk_k"]
    sign, rank, modified = _rank_days_textbook(sums, n_rows) if days is None else days
    return [
        st.corrado_sign_from_sums(g, n_t, n_rows, tested, cumulative=cumulative, days=sign),
        st.corrado_rank_from_sums(
            k, n_t, sums["rk_kbar"], k - sums["rk_kbar_ok"], n_rows, tested,
            cumulative=cumulative, days=rank,
        ),
        st.modified_rank_from_sums(
            sums["rk_u"] - 0.5 * n_t, n_t, n_rows, tested, cumulative=cumulative, days=modified
        ),
    ]  # fmt: skip


def _rank_tests_estudy2_from_sums(
    sums: dict[str, np.ndarray], n_rows: np.ndarray, L: int, cols: np.ndarray, cumulative: bool
) -> list[TestResult]:
    g, n_t, ksum = sums["e2_g"], sums["e2_n_t"], sums["e2_k"]
    divisor = sums["e2_n_i"] / n_rows
    tested = L + np.arange(len(cols))
    return [
        st.corrado_sign_from_sums(
            g, n_t, n_rows, tested, divisor, cumulative, estudy2_sums=True
        ),
        st.corrado_rank_from_sums(
            ksum, n_t, sums["e2_kbar"], ksum - sums["e2_kbar_ok"], n_rows, tested, divisor,
            cumulative, estudy2=True,
        ),
        st.modified_rank_from_sums(
            sums["e2_u"] - 0.5 * n_t, n_t, n_rows, tested, divisor, cumulative,
            estudy2_sums=True,
        ),
    ]  # fmt: skip


def _grank_daily_from_sums(
    sums: dict[str, np.ndarray], n_rows: np.ndarray, L: int, cols: np.ndarray, e2: bool
) -> TestResult:
    rsum, n_t = sums["gd_rsum"], sums["gd_n_t"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, (rsum - 0.5 * n_t) / n_t, np.nan)
    tested = L + (np.arange(len(cols)) if e2 else np.asarray(cols))
    return st.grank_from_means(ubar, n_t, n_rows, tested)


def _grank_window_from_sums(sums: dict[str, np.ndarray], n_rows: np.ndarray) -> TestResult:
    n_t, n_x = sums["gw_n_t"], sums["gw_n_x"]
    with np.errstate(divide="ignore", invalid="ignore"):  # a day nobody traded: n_t 0
        ubar_est = np.where(n_t > 0, (sums["gw_w"] + sums["gw_shift"] - 0.5 * n_t) / n_t, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ubar_x = np.where(n_x > 0, sums["gw_ux"] / n_x, np.nan)
    ubar = np.concatenate([ubar_est, ubar_x[:, None]], axis=1)
    n_all = np.concatenate([n_t, n_x[:, None]], axis=1)
    return st.grank_from_means(ubar, n_all, n_rows, n_all.shape[1] - 1)


def _wanted(tests: Collection[str] | None) -> set[str]:
    want = set(TEST_NAMES if tests is None else tests)
    unknown = want - set(TEST_NAMES)
    if unknown:
        raise ValueError(f"unknown tests {sorted(unknown)}")
    return want


def _tested(inp: BatteryInput, cols: np.ndarray, cumulative: bool) -> tuple[np.ndarray, np.ndarray]:
    """The standardized and raw values tested: SCARs and CARs over ``cols``, or the SARs
    and ARs of each column."""
    if cumulative:
        car, se, _ = inp.car_moments(cols)
        with np.errstate(invalid="ignore", divide="ignore"):
            return car / se, car
    return inp.sar_win[:, cols], inp.ar_win[:, cols]


@dataclass(frozen=True, eq=False)
class BatterySums:
    """The per-block sufficient statistics of the tests on one tested set of window columns.

    :func:`battery_sums` reduces the firm-events of a :class:`BatteryInput` to these
    quantities and :func:`battery_results` turns them into the tests: :func:`run_battery` is
    the two in a row. Chunks of firm-events that hold whole events of the same blocks add
    up (:meth:`merge`), so a pooled test over a million firm-events never needs every row in
    one place (:mod:`eventstudy.summary`).

    Attributes
    ----------
    convention : {"textbook", "estudy2"}
    cols : ndarray of int
        Window columns tested.
    cumulative : bool
        Tests of the mean CAR over ``cols`` (else the daily tests of each column).
    tests : tuple of str
        Tests the sums serve, in :data:`TEST_NAMES` order.
    n_est_days : int
        Estimation days ``L`` (the rank tests' columns are ``L + cols``).
    sums : dict of str to ndarray
        Additive quantities, leading axis the blocks: counts, sums of values, of variances,
        of ranks and signs, the SUR sums (``rows``: firm-events, ``events``: events).
    moments : dict of str to Moments
        ``raw``: the tested ARs or CARs (t test, the tables' mean and count); ``sar``: the
        standardized ones (BMP, Kolari-Pynnonen). Merged exactly (Chan et al.).
    first : dict of str to ndarray
        The first event of each block: the portfolio statistic of a one-event block.
    values : dict of str to ndarray
        Every firm-event's tested value where a test needs the whole cross-section
        (``wilcoxon`` ranks ``|x|`` across the block), with ``value_blocks`` their block.
    value_blocks : ndarray of int
    derived : dict of str to object
        Window-independent quantities the tests derive from these sums, computed once per
        :class:`BatteryInput` (``aar_est``: the estimation AARs, ``aar_sd``: their time-series
        sd and days); not additive, so :meth:`merge` drops them.
    """

    convention: Convention
    cols: np.ndarray
    cumulative: bool
    tests: tuple[str, ...]
    n_est_days: int
    sums: dict[str, np.ndarray]
    moments: dict[str, st.Moments]
    first: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    value_blocks: np.ndarray
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def n_blocks(self) -> int:
        """Blocks (the batch axis of the results)."""
        return len(self.sums["rows"])

    @classmethod
    def merge(cls, parts: Sequence[BatterySums]) -> BatterySums:
        """The sums of the union of ``parts``: disjoint sets of whole events, each reduced
        to the same blocks, in order (the first part's first event leads a block).

        Sums add, moments merge (:meth:`eventstudy.stats.Moments.merge`), values are
        concatenated. The result equals the sums of the union up to the order of the
        floating-point additions.
        """
        if not parts:
            raise ValueError("nothing to merge")
        head = parts[0]
        for p in parts[1:]:
            same = (
                p.convention == head.convention
                and p.cumulative == head.cumulative
                and p.tests == head.tests
                and p.n_est_days == head.n_est_days
                and p.n_blocks == head.n_blocks
                and np.array_equal(p.cols, head.cols)
                and p.sums.keys() == head.sums.keys()
            )
            if not same:
                raise ValueError("battery sums of different tests, windows or blocks")
        if len(parts) == 1:
            return head
        sums = {k: functools.reduce(np.add, (p.sums[k] for p in parts)) for k in head.sums}
        moments = {k: st.Moments.merge([p.moments[k] for p in parts]) for k in head.moments}
        first: dict[str, np.ndarray] = {}
        for k in head.first:
            out = np.array(head.first[k], dtype=float, copy=True)
            taken = head.sums["events"] > 0
            for p in parts[1:]:
                new = ~taken & (p.sums["events"] > 0)
                out[new] = p.first[k][new]
                taken |= new
            first[k] = out
        blocks = np.concatenate([p.value_blocks for p in parts])
        order = np.argsort(blocks, kind="stable")
        values = {k: np.concatenate([p.values[k] for p in parts])[order] for k in head.values}
        return replace(head, sums=sums, moments=moments, first=first, values=values,
                       value_blocks=blocks[order], derived={})  # fmt: skip


def grank_scale_moments(inp: BatteryInput, cols: np.ndarray, cumulative: bool) -> st.Moments:
    """The cross-sectional moments by which grank re-standardizes its event observations:
    of the SCARs over ``cols`` (cumulative), or of the SARs on every window day (daily).

    A chunked run merges them over every chunk first and passes their ``sd()`` to
    :func:`battery_sums` (``grank_scale``): grank is the one test that needs a pooled scale
    before its per-row sums (two passes).
    """
    x_sar, _ = _tested(inp, np.asarray(cols, dtype=np.intp), cumulative)
    return st.Moments.of(x_sar if cumulative else inp.sar_win, inp.blocks)


def battery_sums(
    inp: BatteryInput,
    cols: Sequence[int] | np.ndarray,
    cumulative: bool,
    tests: Collection[str] | None = None,
    grank_scale: np.ndarray | None = None,
) -> BatterySums:
    """Reduce every block's firm-events to the sufficient statistics of the tests.

    Parameters
    ----------
    inp : BatteryInput
    cols, cumulative, tests
        As in :func:`run_battery`.
    grank_scale : ndarray, optional
        The blocks' cross-sectional sd of the SCARs, ``(B,)`` (cumulative), or of the SARs on
        every window day, ``(B, W)`` (daily), by which grank re-standardizes (default: from
        these rows; a chunked run passes the pooled one, :func:`grank_scale_moments`).

    Returns
    -------
    BatterySums

    Notes
    -----
    What each test needs, per block: the count, sum and squared deviations of the tested
    values (t test; BMP and Kolari-Pynnonen on the standardized ones); the sums of the SARs
    and of their variances (Patell, adjusted Patell); of ``sigma_i^2`` (Brown-Warner 1980),
    of the estimation ARs per day (Brown-Warner 1985, Lamb), of the market terms (Lamb), of
    positive values (sign tests) and the estimation share of positive ARs (generalized
    sign); of each event's portfolio AR and variance (portfolio) and SUR quantities
    (``sur_wald``); of each firm-event's ranks and signs about its own median (Corrado,
    modified rank: ranks are within a row, so their daily sums add); of the GRANK ranks
    (within a row, once the pooled scale is known); and ``sum_e n_e (n_e - 1) rbar_e``. Only
    the signed-rank test (``wilcoxon``) ranks across firm-events: it keeps every value.
    """
    cols = np.asarray(cols, dtype=np.intp)
    want = _wanted(tests)
    b = inp.blocks
    e2 = inp.e2
    W = inp.ar_win.shape[1]
    n_days = len(cols)
    x_sar, x_raw = _tested(inp, cols, cumulative)
    sums: dict[str, np.ndarray] = {
        "rows": inp._rows,
        "events": inp.cluster_blocks.sizes.astype(float),
    }
    moments = {"raw": st.Moments.of(x_raw, b)}
    first: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    if "portfolio" in want:
        P = inp.portfolio
        if cumulative:
            car_p, se_p, _ = car_moments(P.ar_win, P.X_win, P.xtx_inv, P.sigma, cols)
        else:
            car_p = P.ar_win[:, cols]
            se_p = P.sigma[:, None] * np.sqrt(1 + P.h_win[:, cols])
        total, n, var, _, t1, df1 = st.portfolio_sums(car_p, se_p, P.df, inp.cluster_blocks)
        sums.update(pf_total=total, pf_n=n, pf_var=var)
        first.update(pf_t=t1, pf_df=df1)
    if want & {"sur_wald", "sur_wald_mean"}:
        S = np.zeros((1 if cumulative else n_days, W))
        if cumulative:
            S[0, cols] = 1.0
        else:
            S[np.arange(n_days), cols] = 1.0
        sums.update(_sur_sums(inp.sur, S, inp.cluster_blocks))
    if want & {"adjusted_patell", "kolari_pynnonen"}:
        sums["rbar_num"] = inp._rbar_num
    if want & {"adjusted_patell", "patell"}:
        total, n, var = st.patell_sums(x_sar, inp.df_patell, False, b)
        sums.update(sar_total=total, sar_n=n, sar_var=var)
        if e2 and "patell" in want:
            sums["sar_var_all"] = st.patell_sums(x_sar, inp.df_patell, True, b)[2]
    if want & {"bmp", "kolari_pynnonen"}:
        moments["sar"] = st.Moments.of(x_sar, b)
    if "brown_warner_1980" in want:
        sig2, sig2_n = st.brown_warner_1980_sums(x_raw, inp.sigma, e2, b)
        sums.update(bw_sig2=sig2, bw_sig2_n=sig2_n)
    if want & {"brown_warner_1980", "lamb"}:
        sums["n_obs"] = inp._n_obs_total
    derived: dict[str, Any] = {}
    if want & {"brown_warner_1985", "lamb"}:
        sums["est_total"], sums["est_n"] = inp._est_sums
        derived["aar_est"], derived["aar_sd"] = inp.aar_est, inp._aar_sd
    if "lamb" in want:
        sums["mterm_total"], sums["mterm_n"] = inp._mterm_sums
        if cumulative:  # Lamb cumulates the daily statistics of the window's ARs
            ar = inp.ar_win[:, cols]
            ok = np.isfinite(ar)
            sums["lamb_total"] = b.total(st.zero_masked(ar, ok))
            sums["lamb_n"] = b.count_mask(ok)
    if want & {"sign", "generalized_sign"}:
        sums["pos_total"] = st.sign_sums(x_raw, b)[0]
    if "generalized_sign" in want:
        sums["phat_num"], sums["phat_den"] = inp._p_hat_sums
    if want & {"corrado_sign", "corrado_rank", "modified_rank"}:
        if e2:
            sums.update(inp._rank_sums_estudy2(cols))
        else:
            sums.update({f"rk_{k}": v for k, v in inp._textbook_ranks.items()})
            derived["rank_days"] = inp._rank_days
    if "grank" in want:
        if cumulative:
            sums.update(inp._grank_window_sums(x_sar, grank_scale))
        else:
            sums.update(inp._grank_daily_sums(cols, grank_scale))
    if "wilcoxon" in want:
        values["wilcoxon"] = x_raw
    return BatterySums(
        convention=inp.convention,
        cols=cols,
        cumulative=bool(cumulative),
        tests=tuple(t for t in TEST_NAMES if t in want),
        n_est_days=inp.ar_est.shape[1],
        sums=sums,
        moments=moments,
        first=first,
        values=values,
        value_blocks=b.index,
        derived=derived,
    )


def battery_results(s: BatterySums) -> dict[str, TestResult]:
    """Every test of ``s.tests`` from the per-block sufficient statistics.

    Returns
    -------
    dict
        test name -> :class:`~eventstudy.stats.TestResult`, in :data:`TEST_NAMES` order,
        statistics with a leading batch axis (one value per block; and per day when not
        cumulative). The formulas are those of :mod:`eventstudy.stats`.
    """
    want = set(s.tests)
    cols, cumulative = s.cols, s.cumulative
    e2 = s.convention == "estudy2"
    n_days = len(cols)
    L = s.n_est_days
    sm = s.sums
    rows = sm["rows"]
    raw = s.moments["raw"]
    out: dict[str, TestResult] = {}
    if "portfolio" in want:
        out["portfolio"] = st.portfolio_from_sums(
            sm["pf_total"], sm["pf_n"], sm["pf_var"], sm["events"], s.first["pf_t"],
            s.first["pf_df"],
        )  # fmt: skip
    if want & {"sur_wald", "sur_wald_mean"}:
        wald, mean = _sur_from_sums(sm)
        if cumulative:
            wald, mean = (_first_col(r) for r in (wald, mean))
        out["sur_wald"], out["sur_wald_mean"] = wald, mean
    if want & {"adjusted_patell", "kolari_pynnonen"}:
        rbar = _block_rbar(sm["rbar_num"], rows)
        if "adjusted_patell" in want:
            out["adjusted_patell"] = st.adjusted_patell_from_sums(
                sm["sar_total"], sm["sar_n"], sm["sar_var"], rbar
            )
        if "kolari_pynnonen" in want:
            out["kolari_pynnonen"] = st.kolari_pynnonen_from_moments(s.moments["sar"], rbar)
    if "grank" in want:
        out["grank"] = (
            _grank_window_from_sums(sm, rows)
            if cumulative
            else _grank_daily_from_sums(sm, rows, L, cols, e2)
        )
    if "t_test" in want:
        out["t_test"] = st.t_test_from_moments(raw)
    if "brown_warner_1980" in want:
        out["brown_warner_1980"] = st.brown_warner_1980_from_sums(
            raw.total, raw.n, sm["bw_sig2"], sm["bw_sig2_n"], n_days if cumulative else 1,
            df=_df_bw(sm["n_obs"], rows),
        )  # fmt: skip
    if want & {"brown_warner_1985", "lamb"}:
        aar_est = s.derived.get("aar_est")
        if aar_est is None:
            aar_est = st.mean_from_sums(sm["est_total"], sm["est_n"])
        sd = s.derived.get("aar_sd")
        if sd is None:
            sd = st.aar_sd(aar_est)
        if "brown_warner_1985" in want:
            out["brown_warner_1985"] = st.brown_warner_1985_from_sums(
                raw.total, raw.n, aar_est, n_days if cumulative else 1, sd=sd
            )
        if "lamb" in want:
            total, n = (sm["lamb_total"], sm["lamb_n"]) if cumulative else (raw.total, raw.n)
            corr = _lamb_correction(sm["n_obs"], rows, sm["mterm_total"], sm["mterm_n"])
            out["lamb"] = st.lamb_from_sums(total, n, aar_est, corr[:, cols], cumulative, sd=sd)
    if "patell" in want:
        var = sm["sar_var_all"] if e2 else sm["sar_var"]
        out["patell"] = st.patell_from_sums(sm["sar_total"], sm["sar_n"], var, rows, e2)
    if "bmp" in want:
        out["bmp"] = st.bmp_from_moments(s.moments["sar"])
    if "sign" in want:
        out["sign"] = st.sign_from_sums(sm["pos_total"], raw.n, rows, 0.5, e2)
    if "generalized_sign" in want:
        p_hat = _ratio(sm["phat_num"], sm["phat_den"])
        out["generalized_sign"] = st.sign_from_sums(
            sm["pos_total"], raw.n, rows, p_hat, e2, name="generalized_sign"
        )
    if want & {"corrado_sign", "corrado_rank", "modified_rank"}:
        ranks = (
            _rank_tests_estudy2_from_sums(sm, rows, L, cols, cumulative)
            if e2
            else _rank_tests_textbook_from_sums(
                sm, rows, L, cols, cumulative, s.derived.get("rank_days")
            )
        )
        for r in ranks:
            out[r.name] = r
    if "wilcoxon" in want:
        blocks = Blocks.from_codes(s.value_blocks)
        out["wilcoxon"] = st.wilcoxon(s.values["wilcoxon"], blocks=blocks)
    return {name: out[name] for name in TEST_NAMES if name in want}


def run_battery(
    inp: BatteryInput,
    cols: Sequence[int] | np.ndarray,
    cumulative: bool,
    tests: Collection[str] | None = None,
) -> dict[str, TestResult]:
    """Every requested test on every block.

    Parameters
    ----------
    inp : BatteryInput
    cols : sequence of int
        Window columns tested (relative day ``rel_win[col]``).
    cumulative : bool
        ``False``: the daily tests of the mean AR on each column (statistics ``(B, D)``);
        ``True``: the tests of the mean CAR over the columns (statistics ``(B,)``).
    tests : collection of str, optional
        Test names to compute (default: all, :data:`eventstudy.vocabulary.TEST_NAMES`).

    Returns
    -------
    dict
        test name -> :class:`~eventstudy.stats.TestResult`, in :data:`TEST_NAMES` order.

    Notes
    -----
    :func:`battery_results` of :func:`battery_sums`: the tests are computed from per-block
    sufficient statistics, the same way whether the rows are here or spread over chunks.
    """
    return battery_results(battery_sums(inp, cols, cumulative, tests))


def _first_col(r: TestResult) -> TestResult:
    def f(x: Any) -> Any:
        return None if x is None else np.asarray(x)[:, 0]

    return TestResult(r.name, f(r.statistic), f(r.p_value), f(r.df), r.null, f(r.df2), f(r.min_p))
