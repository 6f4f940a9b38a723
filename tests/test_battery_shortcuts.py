"""The battery's shortcuts for complete inputs and repeated windows (issue 12's cost target):
each gives the numbers of the general route, checked against loops and hand formulas."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import sparse
from scipy.stats import rankdata

import eventstudy as es
from eventstudy import battery as bt
from eventstudy import stats as st
from eventstudy.exceptions import ClusteredEventWarning


def _study(seed: int = 3, missing: bool = False) -> es.EventStudyResults:
    rng = np.random.default_rng(seed)
    n_days, n_sec = 320, 5
    dates = pd.bdate_range("2019-01-01", periods=n_days)
    mkt = rng.normal(0.0003, 0.01, n_days)
    cols = [f"F{i}" for i in range(n_sec)]
    R = rng.uniform(0.5, 1.5, n_sec) * mkt[:, None] + rng.normal(0, 0.015, (n_days, n_sec))
    ret = pd.DataFrame(R, index=dates, columns=cols)
    if missing:
        ret.iloc[100:105, 1] = np.nan  # estimation days missing for one security
    ret["MKT"] = mkt
    events = pd.DataFrame(
        {
            "security": cols * 3,
            "event_date": np.repeat(dates[[200, 250, 300]], n_sec),
            "event_id": np.repeat(["a", "b", "c"], n_sec),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        return es.event_study(ret, events, estimation=(-150, -11), window=(-5, 5))


def test_segment_matrix_of_sorted_codes_is_the_indicator_a_loop_builds() -> None:
    rng = np.random.default_rng(0)
    for codes, nb in [
        (np.repeat(np.arange(6), [1, 3, 2, 4, 1, 7]), 8),  # sorted, two empty blocks at the end
        (np.array([0, 0, 2, 2, 5]), 6),  # sorted with empty blocks between
        (np.array([2, 0, 1, 0]), 3),  # unsorted: the coordinate route
    ]:
        w = rng.random(len(codes))
        dense = np.zeros((nb, len(codes)))
        for k, c in enumerate(codes):
            dense[c, k] = w[k]
        S = st.segment_matrix(codes, nb, w)
        assert sparse.issparse(S) and S.shape == (nb, len(codes))
        assert np.array_equal(S.toarray(), dense)
        x = rng.normal(size=(len(codes), 3))
        want = np.zeros((nb, 3))
        for k, c in enumerate(codes):
            want[c] += w[k] * x[k]
        assert_allclose(S @ x, want, rtol=1e-15, atol=0)


@pytest.mark.parametrize("full", [True, False])
def test_count_mask_counts_true_entries_per_block(full: bool) -> None:
    rng = np.random.default_rng(1)
    blocks = st.Blocks.from_sizes([3, 1, 4])
    ok = np.ones((8, 5), dtype=bool) if full else rng.random((8, 5)) > 0.3
    want = np.array(
        [ok[s : s + n].sum(axis=0) for s, n in zip([0, 3, 4], [3, 1, 4], strict=True)], float
    )
    got = blocks.count_mask(ok)
    assert got.dtype == float and np.array_equal(got, want)
    got[0, 0] = -1.0  # a fresh array, not a view of the sizes
    assert np.array_equal(blocks.count_mask(ok)[0], want[0])
    assert np.array_equal(st.Blocks.from_sizes([2, 2]).count_mask(np.ones(4, bool)), [2.0, 2.0])


def test_moments_of_complete_rows_are_the_numpy_moments_per_block() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 4))
    blocks = st.Blocks.from_sizes([2, 3, 4])
    m = st.Moments.of(x, blocks)
    for b, (s, n) in enumerate(zip([0, 2, 5], [2, 3, 4], strict=True)):
        assert_allclose(m.mean[b], x[s : s + n].mean(axis=0), rtol=1e-14)
        assert_allclose(m.sd()[b], x[s : s + n].std(axis=0, ddof=1), rtol=1e-13)
        assert np.array_equal(m.n[b], np.full(4, float(n)))


def test_chunked_block_sums_count_boolean_masks_full_or_not() -> None:
    rng = np.random.default_rng(3)
    blocks = st.Blocks.from_sizes([5, 2, 6, 3])
    K = blocks.n_rows
    masks = {"full": np.ones((K, 4), bool), "part": rng.random((K, 4)) > 0.4}
    # chunks of 4 rows cut through blocks; a chunk inside one block takes the column route
    got = bt._chunked_block_sums(blocks, lambda lo, hi: [masks["full"][lo:hi],
                                                         masks["part"][lo:hi]], chunk=4)  # fmt: skip
    for out, mask in zip(got, masks.values(), strict=True):
        want = np.zeros((len(blocks), 4))
        for k in range(K):
            want[blocks.index[k]] += mask[k]
        assert np.array_equal(out, want)


@pytest.mark.parametrize("missing", [False, True])
def test_textbook_rank_sums_of_complete_rows_match_a_ranking_loop(missing: bool) -> None:
    res = _study(missing=missing)
    inp = res.battery_input("event_id")
    assert inp._complete is not missing
    got = inp._textbook_ranks
    a = np.concatenate([inp.ar_est, inp.ar_win], axis=1)
    T = a.shape[1]
    want = {k: np.zeros((len(inp.blocks), T)) for k in ("g", "n_t", "k", "kbar_ok", "u")}
    kbar_sum = np.zeros(len(inp.blocks))
    for i, row in enumerate(a):
        b = inp.blocks.index[i]
        ok = np.isfinite(row)
        r = np.where(ok, rankdata(np.where(ok, row, np.inf)), 0.0)  # NaN ranked last, zeroed
        kbar = r.sum() / ok.sum()
        want["g"][b] += np.where(ok, np.sign(row - np.median(row[ok])), 0.0)
        want["n_t"][b] += ok
        want["k"][b] += r
        want["kbar_ok"][b] += kbar * ok
        want["u"][b] += r / (ok.sum() + 1.0)
        kbar_sum[b] += kbar
    for k, v in want.items():
        assert_allclose(got[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
    assert_allclose(got["kbar"], kbar_sum, rtol=1e-12)
    if not missing:  # the shortcut and the masked route: the same numbers, to the last bit
        general = replace(inp)
        general.__dict__["_complete"] = False
        for k, v in general._textbook_ranks.items():
            assert np.array_equal(v, got[k]), k


def test_rank_days_standardize_by_the_time_series_scale() -> None:
    rng = np.random.default_rng(5)
    B, T = 4, 30
    n_t = rng.integers(1, 8, (B, T)).astype(float)
    n_t[0, 3] = 0.0  # a day without observations
    dev = rng.normal(0, 2, (B, T))
    n_rows = np.full(B, 8.0)
    tested = np.array([26, 27])
    days = st.corrado_rank_days(dev, n_t, n_rows)
    per_day = np.where(n_t > 0, dev / np.where(n_t > 0, n_t, 1), np.nan)
    scale = np.sqrt(np.nansum(per_day**2, axis=1) / np.isfinite(per_day).sum(axis=1))
    assert_allclose(days.z(tested), per_day[:, tested] / scale[:, None], rtol=1e-14)
    for cumulative in (False, True):
        a = st.corrado_rank_from_sums(dev, n_t, None, dev, n_rows, tested, cumulative=cumulative)
        b = st.corrado_rank_from_sums(
            dev, n_t, None, dev, n_rows, tested, cumulative=cumulative, days=days
        )
        assert np.array_equal(a.statistic, b.statistic) and np.array_equal(a.p_value, b.p_value)
        s1 = st.corrado_sign_from_sums(np.sign(dev), n_t, n_rows, tested, cumulative=cumulative)
        s2 = st.corrado_sign_from_sums(
            np.sign(dev), n_t, n_rows, tested, cumulative=cumulative,
            days=st.corrado_sign_days(np.sign(dev), n_t, n_rows),
        )  # fmt: skip
        assert np.array_equal(s1.statistic, s2.statistic)
        assert np.array_equal(s1.min_p, s2.min_p)


def test_window_independent_parts_are_shared_across_windows_and_dropped_by_merge() -> None:
    res = _study()
    inp = res.battery_input("event_id")
    cols = np.arange(4, 7)
    s = bt.battery_sums(inp, cols, True)
    assert set(s.derived) == {"aar_est", "aar_sd", "rank_days"}
    assert s.derived["aar_sd"] is bt.battery_sums(inp, np.arange(5, 6), True).derived["aar_sd"]
    with_derived = bt.battery_results(s)
    without = bt.battery_results(replace(s, derived={}))
    for name, r in with_derived.items():
        assert np.array_equal(r.statistic, without[name].statistic, equal_nan=True), name
        assert np.array_equal(r.p_value, without[name].p_value, equal_nan=True), name
    # Brown-Warner 1985 by hand: mean CAR over the sd of the estimation AARs times sqrt(days)
    aar_est = inp.blocks.mean(inp.ar_est)
    sd = aar_est.std(axis=1, ddof=1)
    car = inp.blocks.mean(inp.ar_win[:, cols].sum(axis=1))
    assert_allclose(
        with_derived["brown_warner_1985"].statistic, car / (sd * np.sqrt(3)), rtol=1e-12
    )
    merged = bt.BatterySums.merge([s, replace(s, sums={k: 0 * v for k, v in s.sums.items()})])
    assert merged.derived == {}
