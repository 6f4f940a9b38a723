"""Each test against a hand-worked 3-security example.

Every expected value is computed here from the formula written out with numpy/scipy (loops
where the paper sums), never by calling the function under test a second way.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats as sps

from eventstudy import stats as st

# three firm-events, two event days (columns)
AR = np.array([[0.020, -0.004], [-0.010, 0.006], [0.035, 0.012]])
SIGMA = np.array([0.010, 0.020, 0.015])
L = np.array([100.0, 80.0, 120.0])
SAR = AR / SIGMA[:, None]
# estimation-window average ARs (event time) for Brown-Warner 1985 / Lamb
AAR_EST = np.array([0.001, -0.002, 0.0005, 0.003, -0.0015, 0.0])
# full window of 3 securities x 7 days (5 estimation + 2 event days), one missing value
FULL = np.array(
    [
        [0.010, -0.020, 0.004, 0.000, 0.015, 0.020, -0.004],
        [-0.012, 0.008, np.nan, 0.002, -0.001, -0.010, 0.006],
        [0.003, 0.009, -0.007, -0.011, 0.001, 0.035, 0.012],
    ]
)
TESTED = np.array([5, 6])


def test_test_result_is_a_frozen_value_object() -> None:
    r = st.TestResult("t_test", 2.0, 0.05, 10.0, "mean AR = 0")
    row = r.as_row()
    assert math.isnan(row.pop("df2"))  # no F denominator
    assert math.isnan(row.pop("min_p"))  # a continuous test
    assert row == {
        "test": "t_test",
        "statistic": 2.0,
        "p_value": 0.05,
        "df": 10.0,
        "null": "mean AR = 0",
    }
    with pytest.raises(AttributeError):
        r.statistic = 3.0  # type: ignore[misc]
    assert "t_test" in str(r)


def test_t_test_is_the_cross_sectional_t() -> None:
    r = st.t_test(AR)
    for d in range(2):
        ref = sps.ttest_1samp(AR[:, d], 0.0)
        assert_allclose(r.statistic[d], ref.statistic, rtol=1e-12)
        assert_allclose(r.p_value[d], ref.pvalue, rtol=1e-10)
    assert_allclose(r.df, [2, 2])


def test_brown_warner_1980() -> None:
    r = st.brown_warner_1980(AR, SIGMA, df=99.0)
    den = math.sqrt(0.010**2 + 0.020**2 + 0.015**2) / 3
    expected = AR.mean(axis=0) / den
    assert_allclose(r.statistic, expected, rtol=1e-12)
    assert_allclose(r.p_value, 2 * sps.t.sf(np.abs(expected), 99), rtol=1e-10)
    car = AR.sum(axis=1)
    rc = st.brown_warner_1980(car, SIGMA, n_days=2)
    assert_allclose(rc.statistic, car.mean() / (math.sqrt(2) * den), rtol=1e-12)


def test_brown_warner_1980_estudy2_keeps_every_firm_in_the_denominator() -> None:
    x = AR[:, 0].copy()
    x[1] = np.nan
    textbook = st.brown_warner_1980(x, SIGMA).statistic
    assert_allclose(textbook, (0.020 + 0.035) / 2 / (math.sqrt(0.010**2 + 0.015**2) / 2))
    e2 = st.brown_warner_1980(x, SIGMA, estudy2_sums=True).statistic
    assert_allclose(e2, (0.020 + 0.035) / 2 / (math.sqrt(0.010**2 + 0.02**2 + 0.015**2) / 3))


def test_brown_warner_1985_uses_the_time_series_sd_of_aars() -> None:
    r = st.brown_warner_1985(AR, AAR_EST)
    m = AAR_EST.mean()
    sd = math.sqrt(sum((a - m) ** 2 for a in AAR_EST) / (len(AAR_EST) - 1))
    assert_allclose(r.statistic, AR.mean(axis=0) / sd, rtol=1e-12)
    assert r.df == 5
    car = AR.sum(axis=1)
    assert_allclose(
        st.brown_warner_1985(car, AAR_EST, n_days=2).statistic,
        car.mean() / (sd * math.sqrt(2)),
        rtol=1e-12,
    )


def test_lamb_adds_the_prediction_error_term() -> None:
    corr = np.array([1.02, 1.05])
    r = st.lamb(AR, AAR_EST, corr)
    sd = np.std(AAR_EST, ddof=1)
    daily = AR.mean(axis=0) / (sd * np.sqrt(corr))
    assert_allclose(r.statistic, daily, rtol=1e-12)
    assert_allclose(
        st.lamb(AR, AAR_EST, corr, cumulative=True).statistic, daily.sum() / math.sqrt(2)
    )


def test_patell() -> None:
    r = st.patell(SAR, L - 2)
    var = sum((n - 2) / (n - 4) for n in L)
    expected = SAR.sum(axis=0) / math.sqrt(var)
    assert_allclose(r.statistic, expected, rtol=1e-12)
    assert_allclose(r.p_value, 2 * sps.norm.sf(np.abs(expected)), rtol=1e-10)


def test_patell_skips_a_missing_firm_and_its_variance() -> None:
    sar = SAR[:, 0].copy()
    sar[1] = np.nan
    expected = (sar[0] + sar[2]) / math.sqrt(98 / 96 + 118 / 116)
    assert_allclose(st.patell(sar, L - 2).statistic, expected, rtol=1e-12)
    # estudy2: rowMeans * ncol over every firm's variance
    e2 = (sar[0] + sar[2]) / 2 * 3 / math.sqrt(98 / 96 + 78 / 76 + 118 / 116)
    assert_allclose(st.patell(sar, L - 2, estudy2_sums=True).statistic, e2, rtol=1e-12)


def test_adjusted_patell_is_kolari_pynnonen_2010_eq_13() -> None:
    # Z_adj = Z_patell / sqrt(1 + (N - 1) rbar): the variance of a sum of N standardized
    # residuals with mean pairwise correlation rbar (no sqrt(1 - rbar): that is eq. 10, BMP)
    rbar = 0.3
    for d in range(2):
        num = sum(SAR[i, d] for i in range(3))
        var_indep = sum((n - 2) / (n - 4) for n in L)
        # Var(sum_i S_i) = sum_i v_i + rbar * sum_{i != j} sqrt(v_i v_j), with v_i ~ 1:
        # the design effect of N = 3 equally correlated units is 1 + 2 rbar
        expected = num / math.sqrt(var_indep * (1 + 2 * rbar))
        r = st.adjusted_patell(SAR, L - 2, rbar)
        assert_allclose(r.statistic[d], expected, rtol=1e-12)
        assert_allclose(r.p_value[d], 2 * sps.norm.sf(abs(expected)), rtol=1e-10)
    # undefined below rbar = -1/(N - 1)
    assert np.isnan(st.adjusted_patell(SAR, L - 2, -0.6).statistic).all()


def test_bmp_and_kolari_pynnonen() -> None:
    r = st.bmp(SAR)
    for d in range(2):
        ref = sps.ttest_1samp(SAR[:, d], 0.0)
        assert_allclose(r.statistic[d], ref.statistic, rtol=1e-12)
    kp = st.kolari_pynnonen(SAR, 0.25)
    factor = math.sqrt(0.75 / (1 + 2 * 0.25))
    assert_allclose(kp.statistic, r.statistic * factor, rtol=1e-12)
    assert_allclose(kp.p_value, 2 * sps.t.sf(np.abs(r.statistic * factor), 2), rtol=1e-10)


def test_sign_test() -> None:
    r = st.sign(AR)
    # day 0: 2 of 3 positive; day 1: 2 of 3 positive
    assert_allclose(r.statistic, [(2 - 1.5) / math.sqrt(0.75)] * 2, rtol=1e-12)


def test_generalized_sign_test() -> None:
    p = 0.48
    r = st.generalized_sign(AR[:, 0], p)
    assert_allclose(r.statistic, (2 - 3 * p) / math.sqrt(3 * p * (1 - p)), rtol=1e-12)


def _hand_corrado_sign(full: np.ndarray, tested: np.ndarray) -> list[float]:
    n, T = full.shape
    G = np.full((n, T), np.nan)
    for i in range(n):
        row = full[i][~np.isnan(full[i])]
        med = float(np.median(row))
        for t in range(T):
            if not np.isnan(full[i, t]):
                G[i, t] = np.sign(full[i, t] - med)
    day = []
    for t in range(T):
        g = G[:, t][~np.isnan(G[:, t])]
        day.append(g.sum() / math.sqrt(len(g)))
    s = math.sqrt(sum(v * v for v in day) / T)
    return [day[t] / s for t in tested]


def test_corrado_sign() -> None:
    r = st.corrado_sign(FULL, TESTED)
    assert_allclose(r.statistic, _hand_corrado_sign(FULL, TESTED), rtol=1e-12)
    rc = st.corrado_sign(FULL, TESTED, cumulative=True)
    assert_allclose(rc.statistic, sum(_hand_corrado_sign(FULL, TESTED)) / math.sqrt(2))


def _hand_ranks(full: np.ndarray) -> np.ndarray:
    K = np.full(full.shape, np.nan)
    for i in range(full.shape[0]):
        ok = ~np.isnan(full[i])
        K[i, ok] = sps.rankdata(full[i, ok])
    return K


def test_corrado_rank() -> None:
    K = _hand_ranks(FULL)
    n, T = K.shape
    kbar = [np.nanmean(K[i]) for i in range(n)]
    day = []
    for t in range(T):
        dev = [K[i, t] - kbar[i] for i in range(n) if not np.isnan(K[i, t])]
        day.append(sum(dev) / len(dev))
    s = math.sqrt(sum(v * v for v in day) / T)
    expected = [day[t] / s for t in TESTED]
    assert_allclose(st.corrado_rank(K, TESTED).statistic, expected, rtol=1e-12)


def test_corrado_rank_estudy2_window_form() -> None:
    K = _hand_ranks(FULL)
    n_obs = np.sum(~np.isnan(K), axis=1)
    divisor = n_obs.mean()
    mean_rank = np.mean([np.nanmean(K[i]) for i in range(3)])
    col_means = [np.nanmean(K[:, t]) for t in range(K.shape[1])]
    den = math.sqrt(sum((c - mean_rank) ** 2 for c in col_means) / divisor)
    num = math.sqrt(2) * (np.nanmean(K[:, TESTED]) - mean_rank)
    r = st.corrado_rank(K, TESTED, divisor=divisor, cumulative=True, estudy2=True)
    assert_allclose(r.statistic, num / den, rtol=1e-12)


def test_modified_rank() -> None:
    K = _hand_ranks(FULL)
    n, T = K.shape
    n_i = [np.sum(~np.isnan(K[i])) for i in range(n)]
    day = []
    for t in range(T):
        u = [K[i, t] / (n_i[i] + 1) - 0.5 for i in range(n) if not np.isnan(K[i, t])]
        day.append(sum(u) / math.sqrt(len(u)))
    s = math.sqrt(sum(v * v for v in day) / T)
    expected = [day[t] / s for t in TESTED]
    assert_allclose(st.modified_rank(K, TESTED).statistic, expected, rtol=1e-12)


def test_estudy2_sums_inflate_rows_with_missing_securities() -> None:
    K = _hand_ranks(FULL)
    n, T = K.shape
    n_i = [np.sum(~np.isnan(K[i])) for i in range(n)]
    day = []
    for t in range(T):
        u = [K[i, t] / (n_i[i] + 1) - 0.5 for i in range(n) if not np.isnan(K[i, t])]
        row_sum = np.mean(u) * n  # R: rowMeans(x, na.rm = TRUE) * ncol(x)
        day.append(row_sum / math.sqrt(len(u)))
    divisor = float(np.mean(n_i))
    s = math.sqrt(sum(v * v for v in day) / divisor)
    r = st.modified_rank(K, TESTED, divisor=divisor, estudy2_sums=True)
    assert_allclose(r.statistic, [day[t] / s for t in TESTED], rtol=1e-12)


def test_grank() -> None:
    G = FULL / np.array([0.01, 0.012, 0.011])[:, None]
    n, T = G.shape
    K = _hand_ranks(G)
    U = np.full(G.shape, np.nan)
    for i in range(n):
        ok = ~np.isnan(K[i])
        U[i, ok] = K[i, ok] / (ok.sum() + 1) - 0.5
    ubar = [np.nanmean(U[:, t]) for t in range(T)]
    n_t = [np.sum(~np.isnan(U[:, t])) for t in range(T)]
    s = math.sqrt(sum(n_t[t] / n * ubar[t] ** 2 for t in range(T)) / T)
    z = np.array([ubar[t] / s for t in TESTED])
    t_grank = z * np.sqrt((T - 2) / (T - 1 - z**2))
    r = st.grank(G, TESTED)
    assert_allclose(r.statistic, t_grank, rtol=1e-12)
    assert_allclose(r.p_value, 2 * sps.t.sf(np.abs(t_grank), T - 2), rtol=1e-10)


def test_wilcoxon_reports_v_and_the_exact_p_value() -> None:
    x = np.array([0.02, -0.01, 0.035, 0.004, -0.002, 0.011])
    # |x| ranks: 0.002->1, 0.004->2, 0.01->3, 0.011->4, 0.02->5, 0.035->6; positives 5+6+2+4
    r = st.wilcoxon(x)
    assert r.statistic == 17.0
    assert_allclose(r.p_value, sps.wilcoxon(x, method="exact").pvalue, rtol=1e-10)


def test_wilcoxon_drops_zeros_and_handles_ties() -> None:
    x = np.array([0.0, 0.01, -0.01, 0.02, 0.03, 0.01, -0.04, 0.05])
    r = st.wilcoxon(x)
    nz = x[x != 0]
    ranks = sps.rankdata(np.abs(nz))
    assert r.statistic == ranks[nz > 0].sum()
    ref = sps.wilcoxon(x, zero_method="wilcox", correction=False, method="approx")
    assert_allclose(r.p_value, ref.pvalue, rtol=1e-10)


def test_portfolio_single_event_is_a_t_test_of_the_portfolio_ar() -> None:
    r = st.portfolio(np.array([0.012]), np.array([0.005]), np.array([238.0]))
    assert_allclose(r.statistic, 2.4)
    assert_allclose(r.p_value, 2 * sps.t.sf(2.4, 238))


def test_portfolio_several_events_average_independent_portfolios() -> None:
    ar = np.array([0.012, -0.004, 0.02])
    se = np.array([0.005, 0.006, 0.01])
    expected = ar.mean() / (math.sqrt(0.005**2 + 0.006**2 + 0.01**2) / 3)
    assert_allclose(st.portfolio(ar, se, np.array([200.0] * 3)).statistic, expected)


def test_sur_wald_joint_and_mean() -> None:
    car = np.array([0.03, -0.01, 0.02])
    cov = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.8], [0.5, 0.8, 5.0]]) * 1e-4
    w = float(car @ np.linalg.inv(cov) @ car)
    r = st.sur_wald(car, cov)
    assert_allclose(r.statistic, w, rtol=1e-10)
    assert_allclose(r.p_value, sps.chi2.sf(w, 3), rtol=1e-10)
    m = st.sur_wald_mean(car, cov)
    assert_allclose(m.statistic, car.mean() ** 2 / (cov.sum() / 9), rtol=1e-12)
    assert m.df == 1
    # with an estimated Sigma (nu residual df): Hotelling T^2 as F(N, nu - N + 1)
    f = st.sur_wald(car, cov, df_resid=50)
    assert_allclose(f.statistic, w * 48 / (50 * 3), rtol=1e-10)
    assert_allclose(f.p_value, sps.f.sf(w * 48 / 150, 3, 48), rtol=1e-10)


def test_rank_rows_matches_scipy_with_ties_and_nan() -> None:
    a = np.array([[3.0, 1.0, 2.0, 2.0, np.nan], [np.nan, 5.0, 5.0, 5.0, -1.0]])
    expected = _hand_ranks(a)
    assert_allclose(st.rank_rows(a), expected)
    _, srt = st.rank_rows(a, return_sorted=True)
    assert_allclose(st.row_medians(srt), [2.0, 5.0])


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("c", [1, 2, 6])
def test_merge_ranks_equal_scipy_rankdata_of_the_whole_row(ties: bool, c: int) -> None:
    """The estudy2 fast path: tested days merged into the estimation ranks give the ranks
    scipy's ``rankdata`` (average ties, NaN omitted) gives the whole row, to the bit."""
    rng = np.random.default_rng(c + 10 * ties)
    a = (
        rng.integers(-3, 4, size=(40, 30 + c)).astype(float)
        if ties
        else rng.normal(size=(40, 30 + c))
    )
    a[rng.random(a.shape) < 0.1] = np.nan
    expected = np.vstack([sps.rankdata(row, nan_policy="omit") for row in a])
    head = np.vstack([sps.rankdata(row[:30], nan_policy="omit") for row in a]).astype(np.float32)
    got = st.merge_ranks(a, head, c)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("nan_share", [0.0, 0.1])
def test_rank_chunk_head_ranks_equal_scipy_rankdata(ties: bool, nan_share: float) -> None:
    """One sort gives the ranks of the whole row and those of its first ``h`` columns among
    themselves (the estimation window alone): both equal scipy's ``rankdata`` (average ties,
    NaN kept as NaN), to the bit, with and without ties (two code paths)."""
    rng = np.random.default_rng(7 + ties)
    h = 25
    a = (
        rng.integers(-3, 4, size=(60, h + 8)).astype(float)
        if ties
        else rng.normal(size=(60, h + 8))
    )
    a[rng.random(a.shape) < nan_share] = np.nan
    full = np.empty(a.shape)
    head = np.empty((len(a), h))
    order = st._rank_chunk(a, full, head=head)
    np.testing.assert_array_equal(full, np.vstack([sps.rankdata(r, nan_policy="omit") for r in a]))
    expected_head = np.vstack([sps.rankdata(r[:h], nan_policy="omit") for r in a])
    np.testing.assert_array_equal(head, expected_head)
    np.testing.assert_array_equal(np.take_along_axis(a, order, axis=1), np.sort(a, axis=1))


def _rank_case(case: str, rng: np.random.Generator) -> np.ndarray:
    """Rows that stress the integer-key sort of :func:`eventstudy.stats._sort_order`."""
    a = rng.normal(size=(30, 300)) * 1e-2
    if case == "near_ties":  # values a few ulps apart share their kept bits
        a = rng.normal(size=(30, 1)) * (1.0 + rng.integers(-3, 4, size=(30, 300)) * 2.0**-50)
        a[::2] = rng.normal(size=(15, 300))  # half the rows without
    elif case == "zeros_nan":  # -0.0 ties 0.0; NaN (a negative one too) is missing
        a[rng.random(a.shape) < 0.05] = -0.0
        a[rng.random(a.shape) < 0.05] = 0.0
        a[rng.random(a.shape) < 0.1] = np.nan
        a[3, 5] = np.array([0xFFF8_0000_0000_0001], dtype=np.uint64).view(np.float64)[0]
    elif case == "infinite":
        a[rng.random(a.shape) < 0.05] = np.inf
        a[rng.random(a.shape) < 0.05] = -np.inf
    elif case == "long_rows":  # 1,100 columns: 11 bits of each key hold the column
        a = rng.standard_t(3, size=(8, 1100))
        a[2, ::5] = a[2, 0]
    elif case == "tiny_and_huge":
        a = rng.normal(size=(30, 300)) * 10.0 ** rng.integers(-300, 300, size=(30, 300))
    return a


@pytest.mark.parametrize(
    "case", ["continuous", "near_ties", "zeros_nan", "infinite", "long_rows", "tiny_and_huge"]
)
def test_rank_chunk_integer_key_sort_equals_scipy_rankdata(case: str) -> None:
    """The integer-key sort behind every ranking (``_sort_order``: the floats' bit
    patterns, the column index in their low bits) gives scipy's ``rankdata`` ranks and
    numpy's sorted rows and medians to the bit, where values tie or differ only in the bits
    the column index takes, with signed zeros, NaN (of either sign) and infinities."""
    rng = np.random.default_rng(sum(map(ord, case)))
    a = _rank_case(case, rng)
    full = np.empty(a.shape)
    order = st._rank_chunk(a, full)
    np.testing.assert_array_equal(full, np.vstack([sps.rankdata(r, nan_policy="omit") for r in a]))
    np.testing.assert_array_equal(np.take_along_axis(a, order, axis=1), np.sort(a, axis=1))
    np.testing.assert_array_equal(st.order_medians(a, order), st.row_medians(np.sort(a, axis=1)))
    if case == "near_ties":  # the rows whose keys collide were sorted by argsort again
        redo = st._sort_order(a)[1]
        assert set(range(1, 30, 2)) <= set(redo.tolist())


@pytest.mark.parametrize("L", [1, 2, 5, 30])
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_merge_medians_equal_numpy_median_of_the_whole_row(L: int, c: int) -> None:
    """Medians of ``[head | tail]`` read from the sorted head and the tail: numpy's
    median of the whole row (heavy ties included); ``NaN`` where a value is missing."""
    rng = np.random.default_rng(100 * L + c)
    a = rng.integers(-2, 3, size=(300, L + c)).astype(float)
    a[::2] += rng.normal(size=a[::2].shape)  # half the rows without ties
    a[5, 0] = np.nan
    a[7, -1] = np.nan
    got = st.merge_medians(np.sort(a[:, :L], axis=1), a[:, L:])
    expected = np.median(a, axis=1)
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[[5, 7]]).all()


def test_kp_factor_is_one_without_correlation() -> None:
    assert st.kp_factor(0.0, 50) == 1.0
    assert_allclose(st.kp_factor(0.1, 11), math.sqrt(0.9 / 2.0))


@pytest.mark.parametrize("sizes", [[1, 3, 7, 7, 5, 12, 2, 7], [7] * 9, [20, 3, 7]])
def test_wilcoxon_by_block_matches_scipy_on_each_block(sizes: list[int]) -> None:
    # many blocks, ties (values on a 0.005 grid), zeros and missing values; blocks up to
    # WILCOXON_PAIRWISE_MAX firm-events are ranked pairwise, larger ones by a sort
    rng = np.random.default_rng(11)
    K, D = sum(sizes), 4
    x = np.round(rng.normal(0, 0.02, (K, D)) / 0.005) * 0.005
    x[rng.random((K, D)) < 0.08] = np.nan
    x[:3, 0] = np.nan  # a block (the first) without any value in column 0
    blocks = st.Blocks.from_sizes(sizes)
    r = st.wilcoxon(x, blocks=blocks)
    for b, (lo, n) in enumerate(zip(blocks.starts, sizes, strict=True)):
        for d in range(D):
            v = x[lo : lo + n, d]
            nz = v[np.isfinite(v) & (v != 0)]
            if len(nz) == 0:
                assert np.isnan(r.statistic[b, d]) and np.isnan(r.p_value[b, d])
                continue
            ranks = sps.rankdata(np.abs(nz))
            assert r.statistic[b, d] == ranks[nz > 0].sum()
            tied = len(np.unique(np.abs(nz))) < len(nz)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = (
                    sps.wilcoxon(nz, zero_method="wilcox", correction=False, method="approx")
                    if tied
                    else sps.wilcoxon(nz, method="exact")
                )
            assert_allclose(r.p_value[b, d], ref.pvalue, rtol=1e-10, err_msg=f"{b},{d}")
    # both routes give the same half-integer ranks, hence the same results
    sorted_route = st._signed_rank_sums_sorted(x, blocks)
    for got, ref_ in zip(st._signed_rank_sums_pairwise(x, blocks), sorted_route, strict=True):
        assert np.array_equal(got, ref_)
