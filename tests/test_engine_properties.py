"""Property tests (hypothesis): invariances every event-study statistic must respect."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from numpy.testing import assert_allclose

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY0 = 200
# tests that only use the window days' own ARs plus estimation-window quantities
DAY_LOCAL = [
    "portfolio",
    "sur_wald",
    "sur_wald_mean",
    "adjusted_patell",
    "kolari_pynnonen",
    "t_test",
    "brown_warner_1980",
    "brown_warner_1985",
    "lamb",
    "patell",
    "bmp",
    "sign",
    "generalized_sign",
    "wilcoxon",
]


def make(seed: int, n_sec: int, staggered: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_days = 260
    dates = pd.bdate_range("2018-01-01", periods=n_days)
    mkt = rng.normal(0.0003, 0.01, n_days)
    common = rng.normal(0, 0.005, n_days)
    cols = [f"F{i}" for i in range(n_sec)]
    R = (
        rng.uniform(0.5, 1.5, n_sec) * mkt[:, None]
        + common[:, None]
        + rng.normal(0, 0.015, (n_days, n_sec))
    )
    ret = pd.DataFrame(R, index=dates, columns=cols)
    ret.iloc[: rng.integers(0, 40), 0] = np.nan  # one recent listing
    ret["MKT"] = mkt
    day = [DAY0 + (5 * (i % 2) if staggered else 0) for i in range(n_sec)]
    events = pd.DataFrame({"security": cols, "event_date": dates[day]})
    return ret, events


def run(ret: pd.DataFrame, events: pd.DataFrame, **kw) -> es.EventStudyResults:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        return es.event_study(
            ret, events, estimation=(-150, -11), window=(-5, 5), min_estimation_obs=90, **kw
        )


def stats_table(res: es.EventStudyResults) -> tuple[pd.Series, pd.Series]:
    aar = res.aar_tests().set_index(["rel_day", "test"])["statistic"]
    caar = res.caar_tests((-1, 2)).set_index("test")["statistic"]
    return aar, caar


@SETTINGS
@given(
    seed=hs.integers(0, 10_000),
    n_sec=hs.integers(3, 6),
    staggered=hs.booleans(),
    convention=hs.sampled_from(["textbook", "estudy2"]),
    perm_seed=hs.integers(0, 1000),
)
def test_permuting_securities_changes_nothing(
    seed: int, n_sec: int, staggered: bool, convention: str, perm_seed: int
) -> None:
    ret, events = make(seed, n_sec, staggered)
    base = run(ret, events, convention=convention)
    perm = np.random.default_rng(perm_seed).permutation(n_sec)
    shuffled_cols = [ret.columns[i] for i in perm] + ["MKT"]
    other = run(ret[shuffled_cols], events.iloc[perm], convention=convention)
    a0, c0 = stats_table(base)
    a1, c1 = stats_table(other)
    assert_allclose(a1.loc[a0.index], a0, rtol=1e-9, atol=1e-12)
    assert_allclose(c1.loc[c0.index], c0, rtol=1e-9, atol=1e-12)
    p0 = base.params.set_index(["event_id", "security"]).sort_index()
    p1 = other.params.set_index(["event_id", "security"]).sort_index()
    assert_allclose(p1.to_numpy(float), p0.to_numpy(float), rtol=1e-10)


@SETTINGS
@given(
    seed=hs.integers(0, 10_000),
    n_sec=hs.integers(3, 6),
    c=hs.sampled_from([0.01, 0.3, 7.0, 250.0]),
    staggered=hs.booleans(),
)
def test_scaling_returns_leaves_standardized_statistics_unchanged(
    seed: int, n_sec: int, c: float, staggered: bool
) -> None:
    ret, events = make(seed, n_sec, staggered)
    a0, c0 = stats_table(run(ret, events))
    a1, c1 = stats_table(run(ret * c, events))
    assert_allclose(a1, a0, rtol=1e-7, atol=1e-9)
    assert_allclose(c1, c0, rtol=1e-7, atol=1e-9)


@SETTINGS
@given(
    seed=hs.integers(0, 10_000),
    n_sec=hs.integers(3, 6),
    shock=hs.floats(0.03, 0.3),
    convention=hs.sampled_from(["textbook", "estudy2"]),
)
def test_an_ar_injected_on_day_zero_moves_only_day_zero(
    seed: int, n_sec: int, shock: float, convention: str
) -> None:
    ret, events = make(seed, n_sec, staggered=False)
    shocked = ret.copy()
    shocked.iloc[DAY0, :n_sec] += shock
    base = run(ret, events, convention=convention)
    moved = run(shocked, events, convention=convention)
    assert_allclose(moved.params["beta"], base.params["beta"])  # estimation untouched
    a0 = base.aar_tests().set_index(["rel_day", "test"])["statistic"]
    a1 = moved.aar_tests().set_index(["rel_day", "test"])["statistic"]
    other_days = [(d, t) for d in range(-5, 6) if d != 0 for t in DAY_LOCAL]
    assert_allclose(a1.loc[other_days], a0.loc[other_days], rtol=1e-10, atol=1e-12)
    day0 = a1.loc[0] - a0.loc[0]
    for test in ["t_test", "patell", "bmp", "portfolio", "brown_warner_1985"]:
        assert day0[test] > 0, test
    # (rank tests are bounded: a day already ranked top in every row cannot move further)
    if convention == "estudy2":
        # estudy2 ranks over estimation + tested window: a window without day 0 is untouched
        r0 = base.aar_tests((1, 5)).set_index(["rel_day", "test"])["statistic"]
        r1 = moved.aar_tests((1, 5)).set_index(["rel_day", "test"])["statistic"]
        assert_allclose(r1, r0, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hs.lists(
        hs.tuples(
            hs.sampled_from(["a", "B", "é", "ab", "a b", "Z9", "10", "9", "\u4e00", "e\u0301"]),
            hs.sampled_from(["7203.T", "7203.t", "AAPL", "aapl", "Ä", "^N225", "1306.T", "ß"]),
        ),
        min_size=1,
        max_size=12,
        unique=True,
    )
)
def test_engine_row_order_is_pandas_sort_by_event_then_security(pairs):
    from eventstudy.study import EventStudy

    idx = pd.bdate_range("2024-01-01", periods=30)
    returns = pd.DataFrame({"MKT": np.zeros(len(idx))}, index=idx)
    events = pd.DataFrame(
        {
            "event_id": [e for e, _ in pairs],
            "security": [s for _, s in pairs],
            "event_date": idx[-5],
        }
    )
    spec = EventStudy(returns, events, estimation=(-20, -6), window=(-2, 2), min_estimation_obs=5)
    expected = spec.events.sort_values(["event_id", "security"], kind="stable").reset_index(
        drop=True
    )
    pd.testing.assert_frame_equal(spec._sorted_events(), expected, check_exact=True)


def test_a_repeated_event_security_pair_is_refused_naming_the_first_repeat():
    from eventstudy.exceptions import ConfigError
    from eventstudy.study import EventStudy

    idx = pd.bdate_range("2024-01-01", periods=30)
    returns = pd.DataFrame({"MKT": np.zeros(len(idx))}, index=idx)
    events = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e1", "e2", "e1"],
            "security": ["A", "A", "B", "A", "B"],
            "event_date": idx[-5],
        }
    )
    with pytest.raises(ConfigError, match=r"e2/A.*at most once"):
        EventStudy(returns, events, estimation=(-20, -6), window=(-2, 2), min_estimation_obs=5)
