"""Reproduce the R estudy2 0.10 COVID-lockdown example (``../shared/golden/estudy2-covid``).

Seven US stocks (two with short estimation windows: ZM 227 and UBER 212 observations),
market model on the S&P 500, estimation 2019-04-01 .. 2020-03-13, event window
2020-03-16 .. 2020-03-20, log returns, ``convention="estudy2"``. Each constant below is a
number printed by estudy2 (its documentation output, as collected in ``expected.csv``);
the test names the constant it checks. ``mean_car`` is estudy2's ``car_mean``: the mean of
the daily mean ARs over the window (the CAAR divided by the number of days).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning

# --- estudy2 0.10 output (parametric_tests, nonparametric_tests, car_*_tests) ---------
ESTUDY2_COVID_BMP_2020_03_16 = 1.20471169
ESTUDY2_COVID_BMP_2020_03_17 = -1.17531339
ESTUDY2_COVID_BMP_2020_03_18 = 0.07606284
ESTUDY2_COVID_BMP_2020_03_19 = 2.16657728
ESTUDY2_COVID_BMP_2020_03_20 = 8.65212561
ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_16 = 2.486449
ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_17 = -3.370281
ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_18 = -1.726675
ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_19 = 8.188085
ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_20 = 6.233409
ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_16 = 1.858514
ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_17 = -2.519140
ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_18 = -1.290615
ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_19 = 6.120241
ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_20 = 4.659205
ESTUDY2_COVID_CORRADO_SIGN_2020_03_16 = 0.8636930
ESTUDY2_COVID_CORRADO_SIGN_2020_03_17 = 0.2878977
ESTUDY2_COVID_CORRADO_SIGN_2020_03_18 = 0.8636930
ESTUDY2_COVID_CORRADO_SIGN_2020_03_19 = 1.4394883
ESTUDY2_COVID_CORRADO_SIGN_2020_03_20 = 2.0152836
ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_16 = 1.1516761
ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_17 = 0.3957301
ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_18 = 1.1516761
ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_19 = 1.9076220
ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_20 = 2.6635680
ESTUDY2_COVID_LAMB_2020_03_16 = 1.620049
ESTUDY2_COVID_LAMB_2020_03_17 = -2.435456
ESTUDY2_COVID_LAMB_2020_03_18 = -1.254626
ESTUDY2_COVID_LAMB_2020_03_19 = 6.105794
ESTUDY2_COVID_LAMB_2020_03_20 = 4.565195
ESTUDY2_COVID_MODIFIED_RANK_2020_03_16 = 0.8499246
ESTUDY2_COVID_MODIFIED_RANK_2020_03_17 = -0.2283881
ESTUDY2_COVID_MODIFIED_RANK_2020_03_18 = 0.9865178
ESTUDY2_COVID_MODIFIED_RANK_2020_03_19 = 2.1665371
ESTUDY2_COVID_MODIFIED_RANK_2020_03_20 = 2.9786668
ESTUDY2_COVID_PATELL_2020_03_16 = 2.5507399
ESTUDY2_COVID_PATELL_2020_03_17 = -2.9495613
ESTUDY2_COVID_PATELL_2020_03_18 = 0.3283654
ESTUDY2_COVID_PATELL_2020_03_19 = 8.4216222
ESTUDY2_COVID_PATELL_2020_03_20 = 6.3196352
ESTUDY2_COVID_CORRADO_RANK_2020_03_16 = 0.7962064
ESTUDY2_COVID_CORRADO_RANK_2020_03_17 = -0.1857202
ESTUDY2_COVID_CORRADO_RANK_2020_03_18 = 1.0205417
ESTUDY2_COVID_CORRADO_RANK_2020_03_19 = 2.1127972
ESTUDY2_COVID_CORRADO_RANK_2020_03_20 = 2.9255529
ESTUDY2_COVID_SIGN_2020_03_16 = 1.1338934
ESTUDY2_COVID_SIGN_2020_03_17 = 0.3779645
ESTUDY2_COVID_SIGN_2020_03_18 = 1.1338934
ESTUDY2_COVID_SIGN_2020_03_19 = 1.8898224
ESTUDY2_COVID_SIGN_2020_03_20 = 2.6457513
ESTUDY2_COVID_T_TEST_2020_03_16 = 1.3941497
ESTUDY2_COVID_T_TEST_2020_03_17 = -1.2769075
ESTUDY2_COVID_T_TEST_2020_03_18 = -0.4023135
ESTUDY2_COVID_T_TEST_2020_03_19 = 1.7958275
ESTUDY2_COVID_T_TEST_2020_03_20 = 5.1233281
ESTUDY2_COVID_WILCOXON_2020_03_16 = 23
ESTUDY2_COVID_WILCOXON_2020_03_17 = 10
ESTUDY2_COVID_WILCOXON_2020_03_18 = 15
ESTUDY2_COVID_WILCOXON_2020_03_19 = 27
ESTUDY2_COVID_WILCOXON_2020_03_20 = 28
ESTUDY2_COVID_BROWN_WARNER_1985_CAR_2020_03_16_2020_03_20 = 3.948093
ESTUDY2_COVID_LAMB_CAR_2020_03_16_2020_03_20 = 3.846464
ESTUDY2_COVID_CORRADO_RANK_CAR_2020_03_16_2020_03_20 = 3.0537
ESTUDY2_COVID_MEAN_AR_2020_03_16 = 0.02329740
ESTUDY2_COVID_MEAN_AR_2020_03_17 = -0.03157867
ESTUDY2_COVID_MEAN_AR_2020_03_18 = -0.01617850
ESTUDY2_COVID_MEAN_AR_2020_03_19 = 0.07672027
ESTUDY2_COVID_MEAN_AR_2020_03_20 = 0.05840545
ESTUDY2_COVID_MEAN_CAR_CAR_2020_03_16_2020_03_20 = 0.02213319


CASES = [
    ("bmp", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_BMP_2020_03_16),
    ("bmp", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_BMP_2020_03_17),
    ("bmp", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_BMP_2020_03_18),
    ("bmp", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_BMP_2020_03_19),
    ("bmp", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_BMP_2020_03_20),
    (
        "brown_warner_1980",
        "daily",
        "2020-03-16",
        "2020-03-16",
        ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_16,
    ),
    (
        "brown_warner_1980",
        "daily",
        "2020-03-17",
        "2020-03-17",
        ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_17,
    ),
    (
        "brown_warner_1980",
        "daily",
        "2020-03-18",
        "2020-03-18",
        ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_18,
    ),
    (
        "brown_warner_1980",
        "daily",
        "2020-03-19",
        "2020-03-19",
        ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_19,
    ),
    (
        "brown_warner_1980",
        "daily",
        "2020-03-20",
        "2020-03-20",
        ESTUDY2_COVID_BROWN_WARNER_1980_2020_03_20,
    ),
    (
        "brown_warner_1985",
        "daily",
        "2020-03-16",
        "2020-03-16",
        ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_16,
    ),
    (
        "brown_warner_1985",
        "daily",
        "2020-03-17",
        "2020-03-17",
        ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_17,
    ),
    (
        "brown_warner_1985",
        "daily",
        "2020-03-18",
        "2020-03-18",
        ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_18,
    ),
    (
        "brown_warner_1985",
        "daily",
        "2020-03-19",
        "2020-03-19",
        ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_19,
    ),
    (
        "brown_warner_1985",
        "daily",
        "2020-03-20",
        "2020-03-20",
        ESTUDY2_COVID_BROWN_WARNER_1985_2020_03_20,
    ),
    ("corrado_sign", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_CORRADO_SIGN_2020_03_16),
    ("corrado_sign", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_CORRADO_SIGN_2020_03_17),
    ("corrado_sign", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_CORRADO_SIGN_2020_03_18),
    ("corrado_sign", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_CORRADO_SIGN_2020_03_19),
    ("corrado_sign", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_CORRADO_SIGN_2020_03_20),
    (
        "generalized_sign",
        "daily",
        "2020-03-16",
        "2020-03-16",
        ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_16,
    ),
    (
        "generalized_sign",
        "daily",
        "2020-03-17",
        "2020-03-17",
        ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_17,
    ),
    (
        "generalized_sign",
        "daily",
        "2020-03-18",
        "2020-03-18",
        ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_18,
    ),
    (
        "generalized_sign",
        "daily",
        "2020-03-19",
        "2020-03-19",
        ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_19,
    ),
    (
        "generalized_sign",
        "daily",
        "2020-03-20",
        "2020-03-20",
        ESTUDY2_COVID_GENERALIZED_SIGN_2020_03_20,
    ),
    ("lamb", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_LAMB_2020_03_16),
    ("lamb", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_LAMB_2020_03_17),
    ("lamb", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_LAMB_2020_03_18),
    ("lamb", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_LAMB_2020_03_19),
    ("lamb", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_LAMB_2020_03_20),
    ("modified_rank", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_MODIFIED_RANK_2020_03_16),
    ("modified_rank", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_MODIFIED_RANK_2020_03_17),
    ("modified_rank", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_MODIFIED_RANK_2020_03_18),
    ("modified_rank", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_MODIFIED_RANK_2020_03_19),
    ("modified_rank", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_MODIFIED_RANK_2020_03_20),
    ("patell", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_PATELL_2020_03_16),
    ("patell", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_PATELL_2020_03_17),
    ("patell", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_PATELL_2020_03_18),
    ("patell", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_PATELL_2020_03_19),
    ("patell", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_PATELL_2020_03_20),
    ("corrado_rank", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_CORRADO_RANK_2020_03_16),
    ("corrado_rank", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_CORRADO_RANK_2020_03_17),
    ("corrado_rank", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_CORRADO_RANK_2020_03_18),
    ("corrado_rank", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_CORRADO_RANK_2020_03_19),
    ("corrado_rank", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_CORRADO_RANK_2020_03_20),
    ("sign", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_SIGN_2020_03_16),
    ("sign", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_SIGN_2020_03_17),
    ("sign", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_SIGN_2020_03_18),
    ("sign", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_SIGN_2020_03_19),
    ("sign", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_SIGN_2020_03_20),
    ("t_test", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_T_TEST_2020_03_16),
    ("t_test", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_T_TEST_2020_03_17),
    ("t_test", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_T_TEST_2020_03_18),
    ("t_test", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_T_TEST_2020_03_19),
    ("t_test", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_T_TEST_2020_03_20),
    ("wilcoxon", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_WILCOXON_2020_03_16),
    ("wilcoxon", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_WILCOXON_2020_03_17),
    ("wilcoxon", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_WILCOXON_2020_03_18),
    ("wilcoxon", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_WILCOXON_2020_03_19),
    ("wilcoxon", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_WILCOXON_2020_03_20),
    (
        "brown_warner_1985",
        "car",
        "2020-03-16",
        "2020-03-20",
        ESTUDY2_COVID_BROWN_WARNER_1985_CAR_2020_03_16_2020_03_20,
    ),
    ("lamb", "car", "2020-03-16", "2020-03-20", ESTUDY2_COVID_LAMB_CAR_2020_03_16_2020_03_20),
    (
        "corrado_rank",
        "car",
        "2020-03-16",
        "2020-03-20",
        ESTUDY2_COVID_CORRADO_RANK_CAR_2020_03_16_2020_03_20,
    ),
    ("mean_ar", "daily", "2020-03-16", "2020-03-16", ESTUDY2_COVID_MEAN_AR_2020_03_16),
    ("mean_ar", "daily", "2020-03-17", "2020-03-17", ESTUDY2_COVID_MEAN_AR_2020_03_17),
    ("mean_ar", "daily", "2020-03-18", "2020-03-18", ESTUDY2_COVID_MEAN_AR_2020_03_18),
    ("mean_ar", "daily", "2020-03-19", "2020-03-19", ESTUDY2_COVID_MEAN_AR_2020_03_19),
    ("mean_ar", "daily", "2020-03-20", "2020-03-20", ESTUDY2_COVID_MEAN_AR_2020_03_20),
    (
        "mean_car",
        "car",
        "2020-03-16",
        "2020-03-20",
        ESTUDY2_COVID_MEAN_CAR_CAR_2020_03_16_2020_03_20,
    ),
]

EVENT_DAY0 = pd.Timestamp("2020-03-16")
EVENT_WINDOW = (0, 4)  # 2020-03-16 .. 2020-03-20


def _golden_inputs(shared_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = shared_dir / "golden" / "estudy2-covid"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    rates = pd.read_csv(folder / "rates.csv", index_col="date", parse_dates=True)
    index = pd.read_csv(folder / "rates_indx.csv", index_col="date", parse_dates=True)
    returns = rates.join(index)
    events = pd.DataFrame({"security": list(rates.columns), "event_date": EVENT_DAY0})
    return returns, events


def _fit(shared_dir: Path, window: tuple[int, int] = (0, 4)) -> es.EventStudyResults:
    returns, events = _golden_inputs(shared_dir)
    n_before = int((returns.index < EVENT_DAY0).sum())  # 240 sessions from 2019-04-02
    with pytest.warns(ClusteredEventWarning, match="7 securities share day 0"):
        return es.event_study(
            returns,
            events,
            market="^GSPC",
            estimation=(-n_before, -1),
            window=window,
            convention="estudy2",
        )


@pytest.fixture(scope="module")
def golden(shared_dir: Path) -> es.EventStudyResults:
    return _fit(shared_dir)


def _value(res: es.EventStudyResults, test: str, kind: str, start: str, end: str) -> float:
    dates = pd.DatetimeIndex(res.abnormal_returns["date"].unique())
    a = int(np.flatnonzero(dates == pd.Timestamp(start))[0]) + res.window[0]
    b = int(np.flatnonzero(dates == pd.Timestamp(end))[0]) + res.window[0]
    if test == "mean_ar":
        ar = res.abnormal_returns
        return float(ar.loc[ar["rel_day"] == a, "ar"].mean())
    if test == "mean_car":
        return float(res.car((a, b))["car"].mean() / (b - a + 1))
    if kind == "daily":
        # estudy2 ran its daily tests once over the whole event window (ranks and signs
        # use the estimation window plus that window), then reported each day
        table = res.aar_tests(EVENT_WINDOW)
        row = table[(table["test"] == test) & (table["rel_day"] == a)]
    else:
        table = res.caar_tests((a, b))
        row = table[table["test"] == test]
    assert len(row) == 1, f"{test} missing from the test table"
    return float(row["statistic"].iloc[0])


@pytest.mark.parametrize(("test", "kind", "start", "end", "expected"), CASES)
def test_estudy2_covid_value_is_reproduced(
    golden: es.EventStudyResults, test: str, kind: str, start: str, end: str, expected: float
) -> None:
    assert_allclose(_value(golden, test, kind, start, end), expected, rtol=1e-6)


def test_constants_match_the_shared_expected_file(shared_dir: Path) -> None:
    path = shared_dir / "golden" / "estudy2-covid" / "expected.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    expected = pd.read_csv(path)
    assert len(expected) == len(CASES)
    for row, case in zip(expected.itertuples(), CASES, strict=True):
        assert (row.test, row.kind, row.start, row.end) == case[:4]
        assert_allclose(case[4], row.statistic, rtol=1e-12)


def test_short_estimation_windows_use_their_own_observations(golden: es.EventStudyResults) -> None:
    n_obs = golden.params.set_index("security")["n_obs"]
    assert n_obs["ZM"] == 227
    assert n_obs["UBER"] == 212
    assert n_obs["AMZN"] == 240


def test_estudy2_ranks_use_only_the_tested_window(shared_dir: Path) -> None:
    # a longer computed window must not change estudy2's rank tests on days 0..4
    wide = _fit(shared_dir, window=(0, 8))
    cases = [
        ("corrado_rank", ESTUDY2_COVID_CORRADO_RANK_2020_03_19),
        ("modified_rank", ESTUDY2_COVID_MODIFIED_RANK_2020_03_19),
    ]
    for test, name in cases:
        table = wide.aar_tests((0, 4))
        got = table[(table["test"] == test) & (table["rel_day"] == 3)]["statistic"]
        assert_allclose(float(got.iloc[0]), name, rtol=1e-6)
    car = wide.caar_tests((0, 4)).set_index("test")["statistic"]
    assert_allclose(
        car["corrado_rank"], ESTUDY2_COVID_CORRADO_RANK_CAR_2020_03_16_2020_03_20, rtol=1e-6
    )


def test_textbook_convention_differs_where_documented(shared_dir: Path) -> None:
    returns, events = _golden_inputs(shared_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        text = es.event_study(returns, events, market="^GSPC", estimation=(-240, -1), window=(0, 4))
    table = text.aar_tests((3, 3)).set_index("test")["statistic"]
    # same AR, same cross-sectional t; Patell differs (sigma with L - 2, own Mbar/Sxx)
    assert_allclose(table["t_test"], ESTUDY2_COVID_T_TEST_2020_03_19, rtol=1e-6)
    assert not np.isclose(table["patell"], ESTUDY2_COVID_PATELL_2020_03_19, rtol=1e-6)
