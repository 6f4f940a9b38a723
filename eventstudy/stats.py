"""The test battery: one function per test, each returning a :class:`TestResult`.

Conventions shared by every function:

- inputs are arrays with the firm-events on axis 0 and, optionally, the days of the tested
  window on axis 1; ``NaN`` marks a missing observation and is left out of that day;
- with a day axis the statistic and p-value are arrays with one value per day;
- p-values are two-sided;
- ``estudy2_sums=True`` reproduces R estudy2 0.10, which forms a sum over securities as
  ``rowMeans(x, na.rm = TRUE) * ncol(x)``: equal to the sum when no security is missing
  that day, inflated by ``N / N_t`` when some are.

Tests that assume cross-sectional independence (``t_test``, ``brown_warner_1980``,
``patell``, ``bmp``, the sign and rank tests, ``wilcoxon``) over-reject when the
securities share an event date. The clustering-robust ones are ``portfolio``, ``sur_wald``,
``adjusted_patell``, ``kolari_pynnonen`` and ``grank`` (and, crudely, ``brown_warner_1985``).
The formulas, papers and estudy2 differences are collected in ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from eventstudy.config import CLUSTER_ROBUST_TESTS, TEST_NAMES

__all__ = [
    "CLUSTER_ROBUST_TESTS",
    "INDEPENDENCE_TESTS",
    "KP_MIN_DESIGN_EFFECT",
    "TEST_NAMES",
    "TestResult",
    "adjusted_patell",
    "bmp",
    "brown_warner_1980",
    "brown_warner_1985",
    "corrado_rank",
    "corrado_sign",
    "cumulate",
    "generalized_sign",
    "grank",
    "grank_from_means",
    "is_singular",
    "kolari_pynnonen",
    "kp_factor",
    "lamb",
    "modified_rank",
    "patell",
    "portfolio",
    "rank_rows",
    "row_medians",
    "sign",
    "sur_wald",
    "sur_wald_mean",
    "t_test",
    "wilcoxon",
    "z_result",
]

INDEPENDENCE_TESTS: tuple[str, ...] = (
    "t_test",
    "brown_warner_1980",
    "patell",
    "bmp",
    "sign",
    "generalized_sign",
    "corrado_sign",
    "corrado_rank",
    "modified_rank",
    "wilcoxon",
)


@dataclass(frozen=True)
class TestResult:
    """A test statistic as a value object.

    Attributes
    ----------
    name : str
        Test name (one of :data:`TEST_NAMES`).
    statistic : float or ndarray
        The statistic (one value per day when the test ran on a day axis).
    p_value : float or ndarray
        Two-sided p-value.
    df : float, ndarray or None
        Degrees of freedom of the reference distribution (``None`` for the normal).
    null : str
        The null hypothesis, in words.
    """

    __test__ = False  # not a pytest class

    name: str
    statistic: Any
    p_value: Any
    df: Any
    null: str

    def as_row(self) -> dict[str, Any]:
        """``{"test", "statistic", "p_value", "df", "null"}`` for a DataFrame row."""
        return {
            "test": self.name,
            "statistic": _scalar(self.statistic),
            "p_value": _scalar(self.p_value),
            "df": _scalar(self.df) if self.df is not None else np.nan,
            "null": self.null,
        }

    def __str__(self) -> str:
        stat, p = _scalar(self.statistic), _scalar(self.p_value)
        if np.ndim(stat) == 0:
            return f"{self.name}: statistic {stat:.4f}, p-value {p:.4g} (H0: {self.null})"
        return f"{self.name}: statistics {np.round(stat, 4)} (H0: {self.null})"


def _scalar(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


# ----------------------------------------------------------------------------- helpers


def _p_norm(z: Any) -> Any:
    return _scalar(2.0 * _st.norm.sf(np.abs(z)))


def _p_t(t: Any, df: Any) -> Any:
    with np.errstate(invalid="ignore"):
        return _scalar(2.0 * _st.t.sf(np.abs(t), df))


def _count(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x).sum(axis=0)


def _sum(x: np.ndarray, estudy2_sums: bool = False) -> np.ndarray:
    """Sum over axis 0 ignoring NaN; estudy2's ``rowMeans * ncol`` when asked."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    s = np.where(ok, x, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2_sums:
            s = s / np.maximum(n, 1) * x.shape[0]
        return np.where(n > 0, s, np.nan)


def _mean(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, x, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def _sd(x: np.ndarray) -> np.ndarray:
    """Sample standard deviation over axis 0 (ddof 1), NaN-aware."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    m = _mean(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = np.where(ok, (x - m) ** 2, 0.0).sum(axis=0)
        return np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)


def cumulate(z: Any) -> float:
    """Window statistic from daily standard-normal statistics: ``sum_t z_t / sqrt(D)``."""
    z = np.asarray(z, dtype=float)
    ok = np.isfinite(z)
    return float(np.sum(z[ok]) / np.sqrt(ok.sum())) if ok.any() else float("nan")


def z_result(name: str, z: Any, null: str) -> TestResult:
    """A :class:`TestResult` for a standard-normal statistic (two-sided p-value)."""
    return TestResult(name, _scalar(z), _p_norm(z), None, null)


def _colsum(M: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(sum_i w_i M_it over finite entries, N_t)`` for each column ``t``."""
    ok = np.isfinite(M)
    M0 = np.where(ok, M, 0.0)
    sums = M0.sum(axis=0) if w is None else w @ M0
    return sums, ok.sum(axis=0).astype(float)


def _div(a: Any, b: Any) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(a, dtype=float) / np.asarray(b, dtype=float)


def rank_rows(a: np.ndarray, return_sorted: bool = False) -> Any:
    """Ranks ``1..n_i`` within each row, ties averaged, ``NaN`` kept (R ``rank``, ``na.last="keep"``).

    Vectorised (one ``argsort`` for the whole matrix): ``scipy.stats.rankdata`` along an
    axis is several times slower on a 10,000 x 270 matrix. With ``return_sorted`` also
    returns the rows sorted ascending (``NaN`` last), from which medians are read.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        r = rank_rows(a[None, :], return_sorted)
        return (r[0][0], r[1][0]) if return_sorted else r[0]
    N, T = a.shape
    if N == 0 or T == 0:
        return (a.copy(), a.copy()) if return_sorted else a.copy()
    order = np.argsort(a, axis=1)
    flat = (order + (np.arange(N) * T)[:, None]).ravel()  # flat indexing beats *_along_axis
    s = a.ravel()[flat].reshape(N, T)
    tie = s[:, 1:] == s[:, :-1]  # NaN never equals NaN
    if tie.any():
        new = np.ones((N, T), dtype=bool)
        new[:, 1:] = ~tie
        run = np.cumsum(new.ravel()) - 1
        pos = np.tile(np.arange(1, T + 1, dtype=float), N)
        avg = (np.bincount(run, weights=pos) / np.bincount(run))[run]
    else:
        avg = np.tile(np.arange(1, T + 1, dtype=float), N)
    ranks = np.empty(N * T)
    ranks[flat] = avg
    ranks = ranks.reshape(N, T)
    ranks[np.isnan(a)] = np.nan
    return (ranks, s) if return_sorted else ranks


def row_medians(sorted_rows: np.ndarray) -> np.ndarray:
    """Medians of rows already sorted ascending with ``NaN`` last (see :func:`rank_rows`)."""
    n = np.isfinite(sorted_rows).sum(axis=1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    a = np.take_along_axis(sorted_rows, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_rows, hi[:, None], axis=1)[:, 0]
    return np.where(n > 0, (a + b) / 2.0, np.nan)


#: The Kolari-Pynnonen factor is undefined (``NaN``) when ``1 + (n - 1) rbar`` is at most
#: this: ``rbar <= -1/(n - 1)`` (see :func:`kp_factor`).
KP_MIN_DESIGN_EFFECT = 1e-8


def kp_factor(rbar: Any, n: Any) -> Any:
    """Kolari-Pynnonen (2010) factor ``sqrt((1 - rbar) / (1 + (n - 1) rbar))``.

    ``NaN`` (no warning) when the design effect ``1 + (n - 1) rbar`` is at most
    :data:`KP_MIN_DESIGN_EFFECT`, i.e. ``rbar <= -1/(n - 1)``. A correlation matrix of
    complete series cannot go below that bound (its sum is ``>= 0``); a pairwise-complete
    ``rbar``, or series that offset exactly (``rbar = -1/(n - 1)``), can. Kolari & Pynnonen
    treat ``rbar >= 0`` as the typical case; the package does not clamp ``rbar`` there: the
    factor would be arbitrary, so the adjusted tests are ``NaN`` and ``test_notes`` says why.
    An ``rbar`` above 1 (rounding of identical series) is taken as 1 (factor 0).
    """
    rbar = np.minimum(np.asarray(rbar, dtype=float), 1.0)  # above 1 only by rounding
    deff = 1.0 + (np.asarray(n, dtype=float) - 1.0) * rbar
    ok = deff > KP_MIN_DESIGN_EFFECT
    with np.errstate(invalid="ignore", divide="ignore"):
        return _scalar(np.where(ok, np.sqrt((1.0 - rbar) / np.where(ok, deff, 1.0)), np.nan))


# ----------------------------------------------------------------------------- parametric


def t_test(x: np.ndarray) -> TestResult:
    """Cross-sectional t-test of the mean abnormal return (or mean CAR).

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns of the N firm-events (on D days), or their CARs.

    Returns
    -------
    TestResult
        ``t`` with ``N - 1`` degrees of freedom.

    Notes
    -----
    ``t = xbar / (s / sqrt(N))`` with ``s`` the cross-sectional standard deviation (ddof 1).
    Boehmer, Musumeci & Poulsen (1991) call it the cross-sectional test. It is robust to
    event-induced variance but assumes independent firm-events; on a shared event date it
    over-rejects. Identical in the textbook and estudy2 conventions.
    """
    x = np.asarray(x, dtype=float)
    n = _count(x)
    sd = _sd(x)
    t = np.where(sd > 0, _div(_mean(x), _div(sd, np.sqrt(n))), np.nan)  # sd 0: identical
    return TestResult("t_test", _scalar(t), _p_t(t, n - 1), _scalar(n - 1), "mean AR = 0")


def brown_warner_1980(
    x: np.ndarray,
    sigma: np.ndarray,
    n_days: int = 1,
    df: float | None = None,
    estudy2_sums: bool = False,
) -> TestResult:
    """Brown & Warner (1980) test with the average of the firms' own variances.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns (daily) or CARs over ``n_days`` days.
    sigma : ndarray, shape (N,)
        Each firm-event's estimation-window standard deviation of abnormal returns.
    n_days : int
        Days cumulated in ``x`` (the variance of a CAR is ``n_days * sigma^2``).
    df : float, optional
        Degrees of freedom of the t reference (estudy2: mean estimation length - 1);
        the normal when omitted.
    estudy2_sums : bool
        estudy2 divides ``sqrt(sum_i s_i^2)`` over *all* firm-events by their number, also
        on a day when some are missing.

    Notes
    -----
    ``t = AAR / (sqrt(sum_i sigma_i^2) / N)`` (Brown & Warner 1980, "crude"
    independence). The sum runs over the firm-events observed that day. estudy2 computes
    ``sigma_i`` as ``sd`` of the estimation abnormal returns (ddof 1); the textbook
    convention passes ``sqrt(SSR / (L - k))``.
    """
    x = np.asarray(x, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    sig2 = np.where(np.isfinite(x), (sigma**2).reshape((-1,) + (1,) * (x.ndim - 1)), np.nan)
    n = _count(x)
    if estudy2_sums:
        sig2 = np.broadcast_to((sigma**2).reshape((-1,) + (1,) * (x.ndim - 1)), x.shape)
        n = np.full_like(n, x.shape[0])
    sd = _div(np.sqrt(np.nansum(sig2, axis=0) * n_days), n)
    z = _div(_mean(x), sd)
    p = _p_norm(z) if df is None else _p_t(z, df)
    return TestResult("brown_warner_1980", _scalar(z), p, df, "mean AR = 0")


def brown_warner_1985(x: np.ndarray, aar_est: np.ndarray, n_days: int = 1) -> TestResult:
    """Brown & Warner (1985) test with the crude dependence adjustment.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns (daily) or CARs over ``n_days`` days.
    aar_est : ndarray, shape (L,)
        The average abnormal return of the same firm-events on each estimation day (in
        event time), ``NaN`` where no firm-event is observed.
    n_days : int
        Days cumulated in ``x``.

    Notes
    -----
    ``t = AAR_t / S(AAR)`` with ``S(AAR)`` the time-series standard deviation (ddof 1) of
    the estimation-window AARs, so cross-sectional correlation on the estimation days is
    carried into the variance (Brown & Warner 1985, p. 7). For a window of ``n_days``:
    ``CAAR / (sqrt(n_days) S(AAR))``, which equals estudy2's ``car_brown_warner_1985``
    (the sum of the daily statistics over ``sqrt(n_days)``). Reference distribution: t with
    ``L - 1`` degrees of freedom.
    """
    x = np.asarray(x, dtype=float)
    s = float(_sd(np.asarray(aar_est, dtype=float)))
    L = int(np.isfinite(aar_est).sum())
    t = _div(_mean(x), s * np.sqrt(n_days))
    return TestResult("brown_warner_1985", _scalar(t), _p_t(t, L - 1), L - 1, "mean AR = 0")


def lamb(
    ar: np.ndarray, aar_est: np.ndarray, correction: np.ndarray, cumulative: bool = False
) -> TestResult:
    """Lamb (1995) test: Brown-Warner 1985 with the prediction-error correction.

    Parameters
    ----------
    ar : ndarray, shape (N, D)
        Abnormal returns on the D tested days.
    aar_est : ndarray, shape (L,)
        Estimation-window average abnormal returns (event time).
    correction : ndarray, shape (D,)
        ``1 + 1/Lbar + (M_t - Mbar)^2 / Sxx`` for each tested day (estudy2 takes the market
        of the first security and the mean estimation length ``Lbar``).
    cumulative : bool
        Return the window statistic ``sum_t z_t / sqrt(D)`` (estudy2 ``car_lamb``).

    Notes
    -----
    ``z_t = AAR_t / (S(AAR) sqrt(correction_t))``, standard normal (Lamb 1995, as
    implemented in estudy2; the paper cites Brown & Warner 1985 and Henderson 1990).
    """
    ar = np.asarray(ar, dtype=float)
    s = float(_sd(np.asarray(aar_est, dtype=float)))
    z = _div(_mean(ar), s * np.sqrt(np.asarray(correction, dtype=float)))
    if cumulative:
        k = int(np.isfinite(z).sum())  # no tested day with a statistic: NaN, not 0/0
        z = np.nansum(z) / np.sqrt(k) if k else np.nan
    return TestResult("lamb", _scalar(z), _p_norm(z), None, "mean AR = 0")


def patell(sar: np.ndarray, df_resid: np.ndarray, estudy2_sums: bool = False) -> TestResult:
    """Patell (1976) standardized-residual test.

    Parameters
    ----------
    sar : ndarray, shape (N,) or (N, D)
        Standardized abnormal returns ``AR_it / (s_i sqrt(1 + x_t'(X'X)^{-1} x_t))`` or
        standardized CARs ``CAR_i / se(CAR_i)``.
    df_resid : ndarray, shape (N,)
        Degrees of freedom of each ``s_i`` (``L_i - 2`` for the market model); the
        variance of a t-distributed SAR is ``df / (df - 2)``.
    estudy2_sums : bool
        Sum as estudy2 does (see the module notes).

    Notes
    -----
    ``Z = sum_i SAR_i / sqrt(sum_i (L_i - 2)/(L_i - 4))``, standard normal under
    independence and no event-induced variance. The textbook convention standardizes by
    ``s_i^2 = SSR/(L_i - 2)``; estudy2 by ``sd`` (ddof 1), takes ``Mbar`` and ``Sxx``
    over every market day of the estimation window and divides over all securities.
    """
    sar = np.asarray(sar, dtype=float)
    dfr = np.asarray(df_resid, dtype=float).reshape((-1,) + (1,) * (sar.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):  # df 2: infinite variance
        v = np.where(np.isfinite(sar), dfr / (dfr - 2.0), np.nan)
        if estudy2_sums:
            v = np.broadcast_to(dfr / (dfr - 2.0), sar.shape)
    z = _div(_sum(sar, estudy2_sums), np.sqrt(np.nansum(v, axis=0)))
    return TestResult("patell", _scalar(z), _p_norm(z), None, "mean SAR = 0")


def adjusted_patell(sar: np.ndarray, df_resid: np.ndarray, rbar: Any) -> TestResult:
    """Patell's test with the Kolari & Pynnonen (2010) cross-correlation adjustment.

    Parameters
    ----------
    sar, df_resid : ndarray
        As in :func:`patell`.
    rbar : float or ndarray
        Mean pairwise correlation of the firm-events' estimation residuals (pairs in
        different events count as 0; see ``docs/statistics.md``).

    Notes
    -----
    ``Z_adj = Z_patell * sqrt((1 - rbar) / (1 + (N - 1) rbar))`` as specified for this
    package. Kolari & Pynnonen derive ``sqrt((1 - r)/(1 + (n-1) r))`` for the BMP
    statistic; for Patell's known-variance denominator ``1/sqrt(1 + (n-1) r)`` would suffice,
    so this form is slightly conservative by ``sqrt(1 - rbar)``.
    """
    base = patell(sar, df_resid)
    n = _count(np.asarray(sar, dtype=float))
    z = base.statistic * kp_factor(rbar, n)
    return TestResult(
        "adjusted_patell", _scalar(z), _p_norm(z), None, "mean SAR = 0 (cross-correlated)"
    )


def bmp(sar: np.ndarray) -> TestResult:
    """Boehmer, Musumeci & Poulsen (1991) standardized cross-sectional test.

    Parameters
    ----------
    sar : ndarray, shape (N,) or (N, D)
        Standardized abnormal returns, or standardized CARs.

    Notes
    -----
    ``t = mean(SAR) / (sd(SAR) / sqrt(N))`` (sd with ddof 1), t with ``N - 1`` degrees of
    freedom. Robust to event-induced variance, not to cross-correlation. estudy2
    (``boehmer``) forms the SARs as for :func:`patell`.
    """
    sar = np.asarray(sar, dtype=float)
    n = _count(sar)
    sd = _sd(sar)
    t = np.where(sd > 0, _div(_mean(sar), _div(sd, np.sqrt(n))), np.nan)  # sd 0: identical
    return TestResult("bmp", _scalar(t), _p_t(t, n - 1), _scalar(n - 1), "mean SAR = 0")


def kolari_pynnonen(sar: np.ndarray, rbar: Any) -> TestResult:
    """BMP test with the Kolari & Pynnonen (2010) adjustment for cross-correlation.

    Notes
    -----
    ``t_KP = t_BMP * sqrt((1 - rbar) / (1 + (N - 1) rbar))`` with ``rbar`` the mean
    pairwise correlation of estimation-window residuals (Kolari & Pynnonen 2010, RFS 23,
    eq. 10). t with ``N - 1`` degrees of freedom.
    """
    base = bmp(sar)
    n = _count(np.asarray(sar, dtype=float))
    t = base.statistic * kp_factor(rbar, n)
    return TestResult(
        "kolari_pynnonen", _scalar(t), _p_t(t, n - 1), base.df, "mean SAR = 0 (cross-correlated)"
    )


# ----------------------------------------------------------------------------- sign tests


def sign(x: np.ndarray, estudy2_sums: bool = False) -> TestResult:
    """Binomial sign test against one half.

    Notes
    -----
    ``Z = (N+ - N/2) / sqrt(N/4)`` with ``N+`` the number of positive abnormal returns
    (or CARs). Standard normal. Assumes independence and a median of zero
    (Boehmer, Musumeci & Poulsen 1991; estudy2 ``sign_test``).
    """
    x = np.asarray(x, dtype=float)
    pos = np.where(np.isfinite(x), (x > 0).astype(float), np.nan)
    n = _count(x)
    z = _div(_sum(pos, estudy2_sums) - 0.5 * n, np.sqrt(0.25 * n))
    return TestResult("sign", _scalar(z), _p_norm(z), None, "P(AR > 0) = 1/2")


def generalized_sign(x: np.ndarray, p_hat: float, estudy2_sums: bool = False) -> TestResult:
    """Cowan (1992) generalized sign test.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, D)
        Abnormal returns or CARs.
    p_hat : float
        Expected share of positive abnormal returns under the null, from the estimation
        window: textbook = mean over firm-events of each one's share of positive
        estimation ARs; estudy2 = the share pooled over all firm-event-days.

    Notes
    -----
    ``Z = (N+ - N p_hat) / sqrt(N p_hat (1 - p_hat))``, standard normal
    (Cowan 1992, Rev. Quant. Fin. Acc. 2; McConnell & Muscarella 1985).
    """
    x = np.asarray(x, dtype=float)
    pos = np.where(np.isfinite(x), (x > 0).astype(float), np.nan)
    n = _count(x)
    z = _div(_sum(pos, estudy2_sums) - n * p_hat, np.sqrt(n * p_hat * (1 - p_hat)))
    return TestResult("generalized_sign", _scalar(z), _p_norm(z), None, "P(AR > 0) = p_hat")


def corrado_sign(
    ar_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
    medians: np.ndarray | None = None,
) -> TestResult:
    """Corrado & Zivney (1992) sign test.

    Parameters
    ----------
    ar_full : ndarray, shape (N, T)
        Abnormal returns over the estimation window plus the event days used for the
        medians and the standard deviation (textbook: the whole computed window;
        estudy2: the tested window only).
    tested : ndarray of int
        Columns of ``ar_full`` that are tested.
    divisor : float, optional
        ``T`` of the variance (default: the number of columns with any observation;
        estudy2: the mean number of observations per security).
    cumulative : bool
        Return the window statistic ``sum_t z_t / sqrt(D)``.
    medians : ndarray, optional
        Row medians of ``ar_full`` when already known (saves a sort).

    Notes
    -----
    ``G_it = sign(AR_it - median_i)``, medians over the full window;
    ``z_t = N_t^{-1/2} sum_i G_it / S(G)``,
    ``S(G) = sqrt(1/T sum_t (N_t^{-1/2} sum_i G_it)^2)``. Standard normal.
    """
    a = np.asarray(ar_full, dtype=float)
    med = row_medians(rank_rows(a, return_sorted=True)[1]) if medians is None else medians
    sums, n_t = _colsum(np.sign(a - med[:, None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2_sums:
            sums = sums / n_t * a.shape[0]
        per_day = np.where(n_t > 0, sums / np.sqrt(n_t), np.nan)
    if divisor is None:
        divisor = float((n_t > 0).sum())
    s = np.sqrt(np.nansum(per_day**2) / divisor)
    with np.errstate(invalid="ignore", divide="ignore"):  # s == 0: every sign is a tie
        z = per_day[np.asarray(tested)] / s
    if cumulative:
        z = cumulate(z)
    return z_result("corrado_sign", z, "median AR = 0")


def corrado_rank(
    ranks_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2: bool = False,
) -> TestResult:
    """Corrado (1989) rank test.

    Parameters
    ----------
    ranks_full : ndarray, shape (N, T)
        Ranks of each firm-event's abnormal returns over the full window (see
        :func:`rank_rows`).
    tested : ndarray of int
        Tested columns.
    divisor : float, optional
        ``T`` of the variance (textbook: columns with any observation; estudy2: mean number
        of observations per security).
    cumulative : bool
        Window statistic: textbook ``sum_t z_t / sqrt(D)`` (Campbell & Wasley 1993);
        estudy2 ``car_rank_test`` (Cowan 1992):
        ``sqrt(D) (Kbar_W - Kbar) / sqrt(sum_t (Kbar_t - Kbar)^2 / T)``.
    estudy2 : bool
        Use estudy2's ``rowMeans * ncol`` sums and its window statistic.

    Notes
    -----
    ``z_t = (1/N_t) sum_i (K_it - Kbar_i) / S(K)``,
    ``S(K) = sqrt(1/T sum_t ((1/N_t) sum_i (K_it - Kbar_i))^2)``, ``Kbar_i`` the mean rank
    ``(n_i + 1)/2``. Standard normal.
    """
    K = np.asarray(ranks_full, dtype=float)
    tested = np.asarray(tested)
    ok = np.isfinite(K)
    K0 = np.where(ok, K, 0.0)
    n_i = ok.sum(axis=1)
    kbar = K0.sum(axis=1) / np.maximum(n_i, 1)
    n_t = ok.sum(axis=0).astype(float)
    if divisor is None:
        divisor = float((n_t > 0).sum())
    if cumulative and estudy2:
        mean_rank = float(np.mean(kbar))
        sub = K[:, tested]
        num = np.sqrt(len(tested)) * (_mean(sub.ravel()) - mean_rank)
        den = np.sqrt(np.nansum((_mean(K) - mean_rank) ** 2) / divisor)
        with np.errstate(divide="ignore", invalid="ignore"):  # den 0: every rank tied
            z = num / den
        return TestResult("corrado_rank", float(z), _p_norm(z), None, "median AR = 0")
    dev = K0.sum(axis=0) - kbar @ ok  # sum_i (K_it - Kbar_i) over observed i
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2:
            dev = dev / n_t * K.shape[0]
        per_day = np.where(n_t > 0, dev / n_t, np.nan)
    s = np.sqrt(np.nansum(per_day**2) / divisor)
    with np.errstate(divide="ignore", invalid="ignore"):  # s 0: no rank deviation at all
        z = per_day[tested] / s
    if cumulative:
        z = cumulate(z)
    return z_result("corrado_rank", z, "median AR = 0")


def modified_rank(
    ranks_full: np.ndarray,
    tested: np.ndarray,
    divisor: float | None = None,
    cumulative: bool = False,
    estudy2_sums: bool = False,
) -> TestResult:
    """Modified rank test for missing returns (Corrado & Zivney 1992; Kolari & Pynnonen 2010).

    Notes
    -----
    ``U_it = K_it / (n_i + 1)`` (uniform order statistics, ``n_i`` observations of firm
    ``i`` in the full window); ``z_t = N_t^{-1/2} sum_i (U_it - 1/2) / S(U)``,
    ``S(U) = sqrt(1/T sum_t (N_t^{-1/2} sum_i (U_it - 1/2))^2)``. Standard normal. The
    window statistic is ``sum_t z_t / sqrt(D)``.
    """
    K = np.asarray(ranks_full, dtype=float)
    tested = np.asarray(tested)
    n_i = np.isfinite(K).sum(axis=1).astype(float)
    sums, n_t = _colsum(K, 1.0 / (n_i + 1.0))
    sums = sums - 0.5 * n_t  # sum_i (U_it - 1/2)
    if divisor is None:
        divisor = float((n_t > 0).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        if estudy2_sums:
            sums = sums / n_t * K.shape[0]
        per_day = np.where(n_t > 0, sums / np.sqrt(n_t), np.nan)
    s = np.sqrt(np.nansum(per_day**2) / divisor)
    with np.errstate(divide="ignore", invalid="ignore"):  # s 0: no rank deviation at all
        z = per_day[tested] / s
    if cumulative:
        z = cumulate(z)
    return z_result("modified_rank", z, "median AR = 0")


def grank(gsar_full: np.ndarray, tested: Any, ranks: np.ndarray | None = None) -> TestResult:
    """Generalized rank test of Kolari & Pynnonen (2011), robust to cross-correlation.

    Parameters
    ----------
    gsar_full : ndarray, shape (N, T)
        Generalized standardized abnormal returns: the standardized estimation residuals
        ``AR_it / s_i`` and, in the tested columns, the event observations re-standardized
        by their cross-sectional standard deviation (``SCAR*_i = SCAR_i / sd(SCAR)``; for a
        window the cumulated observation stands as one column).
    tested : int or ndarray of int
        The column(s) tested; one statistic per column.
    ranks : ndarray, optional
        Row ranks of ``gsar_full`` when already known.

    Notes
    -----
    ``U_it = rank(GSAR_it) / (T_i + 1) - 1/2``; ``Ubar_t = mean_i U_it``;
    ``Z = Ubar_0 / S(Ubar)``, ``S(Ubar) = sqrt(1/T sum_t (N_t/N) Ubar_t^2)``;
    ``t_grank = Z sqrt((T - 2) / (T - 1 - Z^2))`` with ``T - 2`` degrees of freedom
    (Kolari & Pynnonen 2011, J. Empirical Finance 18, eqs. 9-13). The variance comes from
    the time series of cross-sectional mean ranks, so it absorbs cross-correlation.
    """
    G = np.asarray(gsar_full, dtype=float)
    K = rank_rows(G) if ranks is None else np.asarray(ranks, dtype=float)
    n_i = np.isfinite(K).sum(axis=1).astype(float)
    sums, n_t = _colsum(K, 1.0 / (n_i + 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, (sums - 0.5 * n_t) / n_t, np.nan)
    return grank_from_means(ubar, n_t, G.shape[0], tested)


def grank_from_means(ubar: np.ndarray, n_t: np.ndarray, n: int, tested: Any) -> TestResult:
    """:func:`grank` from the cross-sectional mean ranks ``Ubar_t`` and counts ``N_t``.

    Notes
    -----
    Same statistic as :func:`grank`; the results object computes ``Ubar_t`` without
    re-ranking when one cumulated observation is added to ranked estimation residuals.
    """
    ubar = np.asarray(ubar, dtype=float)
    n_t = np.asarray(n_t, dtype=float)
    tested = np.asarray(tested)
    T = float((n_t > 0).sum())
    s = np.sqrt(np.nansum((n_t / float(n)) * ubar**2) / T)
    z = ubar[tested] / s
    with np.errstate(invalid="ignore", divide="ignore"):
        t = z * np.sqrt((T - 2.0) / (T - 1.0 - z**2))
    return TestResult("grank", _scalar(t), _p_t(t, T - 2), T - 2, "mean GSAR rank = 1/2")


# ----------------------------------------------------------------------------- wilcoxon


def _signrank_cdf_table(n: int) -> np.ndarray:
    """Exact distribution of the signed-rank statistic V for n untied values (counts)."""
    top = n * (n + 1) // 2
    c = np.zeros(top + 1)
    c[0] = 1.0
    for k in range(1, n + 1):
        c[k:] = c[k:] + c[: top + 1 - k].copy()
    return c / 2.0**n


def wilcoxon(x: np.ndarray) -> TestResult:
    """Wilcoxon (1945) signed-rank test; the statistic is ``V`` (estudy2, R ``wilcox.test``).

    Notes
    -----
    Zeros are dropped; ``|x|`` is ranked (ties averaged) and ``V`` is the sum of the ranks
    of the positive values. The p-value is exact (two-sided) for ``n <= 50`` without ties,
    otherwise the normal approximation with the tie correction
    ``var = n(n+1)(2n+1)/24 - sum(t^3 - t)/48``.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
        squeeze = True
    else:
        squeeze = False
    a = np.where(x == 0, np.nan, np.abs(x)).T
    r = rank_rows(a).T
    V = np.where(np.isfinite(r) & (x > 0), r, 0.0).sum(axis=0)
    n = np.isfinite(r).sum(axis=0)
    p = np.full(V.shape, np.nan)
    for j in range(V.shape[0]):
        nj = int(n[j])
        if nj == 0:
            V[j] = np.nan
            continue
        col = r[:, j][np.isfinite(r[:, j])]
        ties = len(np.unique(col)) < nj
        if nj <= 50 and not ties:
            pmf = _signrank_cdf_table(nj)
            v = round(V[j])
            lo, hi = pmf[: v + 1].sum(), pmf[v:].sum()
            p[j] = min(1.0, 2.0 * min(lo, hi))
        else:
            _, cnt = np.unique(col, return_counts=True)
            var = nj * (nj + 1) * (2 * nj + 1) / 24.0 - np.sum(cnt**3 - cnt) / 48.0
            z = (V[j] - nj * (nj + 1) / 4.0) / np.sqrt(var)
            p[j] = 2.0 * _st.norm.sf(abs(z))
    if squeeze:
        V, p = V[0], p[0]
    return TestResult("wilcoxon", _scalar(V), _scalar(p), None, "AR symmetric about 0")


# ----------------------------------------------------------------------------- robust


def portfolio(ar_p: np.ndarray, se_p: np.ndarray, df: np.ndarray) -> TestResult:
    """Equal-weighted portfolio test (Brown & Warner 1980 "portfolio" method; Jaffe 1974).

    Parameters
    ----------
    ar_p : ndarray, shape (E,) or (E, D)
        Abnormal return (or CAR) of each event's equal-weighted portfolio.
    se_p : ndarray, same shape
        Its standard error from the portfolio's own estimation-window variance with the
        forecast-error term, ``s_p sqrt(L2 + L2^2/L + (sum_W (M_t - Mbar))^2/Sxx)``.
    df : ndarray, shape (E,)
        Residual degrees of freedom of each portfolio regression.

    Notes
    -----
    One event: ``t = AR_p / se_p`` with the portfolio's residual degrees of freedom. Several
    events (distinct dates, independent portfolios): ``z = mean_e AR_pe /
    (sqrt(sum_e se_pe^2) / E)``, standard normal. Any cross-correlation inside an event is
    in the portfolio's own variance, so the test stays valid on a shared date.
    """
    ar_p = np.asarray(ar_p, dtype=float)
    se_p = np.asarray(se_p, dtype=float)
    E = _count(ar_p)
    if ar_p.shape[0] == 1:
        t = np.where(se_p[0] > 0, _div(ar_p[0], se_p[0]), np.nan)  # se 0: offsetting ARs
        d = float(np.asarray(df, dtype=float)[0])
        return TestResult("portfolio", _scalar(t), _p_t(t, d), d, "portfolio AR = 0")
    var = np.nansum(np.where(np.isfinite(ar_p), se_p**2, np.nan), axis=0)
    z = _div(_mean(ar_p), _div(np.sqrt(var), E))
    return TestResult("portfolio", _scalar(z), _p_norm(z), None, "portfolio AR = 0")


def is_singular(cov: np.ndarray) -> bool:
    """Whether a covariance matrix cannot be inverted for :func:`sur_wald`: a non-finite
    entry, a zero variance, or a numerically rank-deficient correlation matrix (the
    securities' residuals are linearly dependent, e.g. identical returns)."""
    cov = np.asarray(cov, dtype=float)
    n = cov.shape[0]
    if not np.isfinite(cov).all():
        return True
    sd = np.sqrt(np.diagonal(cov))
    if not (sd > 0).all():
        return True
    return bool(np.linalg.matrix_rank(cov / np.outer(sd, sd)) < n)


def sur_wald(car: np.ndarray, cov: np.ndarray, df_resid: float | None = None) -> TestResult:
    """Joint test that every security's CAR is zero (Schipper & Thompson 1983; Binder 1985).

    Parameters
    ----------
    car : ndarray, shape (N,)
        CARs of the N securities of one event (the sums of their event-dummy coefficients
        in the multivariate regression on the market).
    cov : ndarray, shape (N, N)
        Their covariance ``Sigma * (L2 + s'(X'X)^{-1}s)``, ``Sigma`` the residual covariance
        estimated jointly on the common estimation days.
    df_resid : float, optional
        Residual degrees of freedom ``nu = L - k`` of ``Sigma``. Given, the statistic is
        the Hotelling form ``F = W (nu - N + 1) / (nu N)`` with ``F(N, nu - N + 1)``; omitted,
        ``W`` against chi-squared(N).

    Notes
    -----
    ``W = CAR' V^{-1} CAR``. With ``Sigma`` estimated, ``W`` is Hotelling's ``T^2``: the
    chi-squared reference over-rejects badly for moderate ``N`` (17% at a nominal 5% with 30
    securities and 240 days, ``benchmarks/size_power.py``), the F form is exact under
    normality. Needs ``N < nu`` (``Sigma`` must be invertible). ``df`` reports ``N``.
    """
    car = np.asarray(car, dtype=float)
    n = car.shape[0]
    cov = np.asarray(cov, dtype=float)
    # solved on the correlation scale (securities' variances may differ by many orders)
    if is_singular(cov):
        # e.g. two securities with identical returns: no joint test (solve would raise
        # LinAlgError on an exactly singular matrix, or return noise on a nearly one)
        return TestResult("sur_wald", np.nan, np.nan, float(n), "all CARs = 0")
    sd = np.sqrt(np.diagonal(cov))
    z = car / sd
    w = float(z @ np.linalg.solve(cov / np.outer(sd, sd), z))
    if df_resid is None:
        return TestResult("sur_wald", w, float(_st.chi2.sf(w, n)), float(n), "all CARs = 0")
    nu = float(df_resid)
    f = w * (nu - n + 1) / (nu * n)
    p = float(_st.f.sf(f, n, nu - n + 1))
    return TestResult("sur_wald", f, p, float(n), "all CARs = 0")


def sur_wald_mean(car: np.ndarray, cov: np.ndarray, df_resid: float | None = None) -> TestResult:
    """Wald test that the mean CAR is zero, with the jointly estimated covariance.

    Notes
    -----
    ``W = (1'CAR/N)^2 / (1'V1/N^2)``: the square of a t-ratio whose variance uses the full
    residual covariance (Binder 1985), so it is valid under any cross-correlation. Reference
    ``F(1, nu)`` with ``nu = df_resid`` (chi-squared(1) when omitted).
    """
    car = np.asarray(car, dtype=float)
    n = car.shape[0]
    m = car.mean()
    v = float(np.sum(cov)) / n**2
    if not (np.isfinite(v) and v > 0):
        return TestResult("sur_wald_mean", np.nan, np.nan, 1.0, "mean CAR = 0")
    w = m * m / v
    p = _st.chi2.sf(w, 1) if df_resid is None else _st.f.sf(w, 1, float(df_resid))
    return TestResult("sur_wald_mean", float(w), float(p), 1.0, "mean CAR = 0")
