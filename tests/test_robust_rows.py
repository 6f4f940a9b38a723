"""The runner's robustness rows (variants, date-only shifts, roles, combined windows).

Rows of results fitted for one table are computed from the battery's arrays, only the tests
a row shows (``only=True``); rows of the study's own results are read from the full test
table the report shows. Both must give the same numbers: the portfolio statistic and the
mean CAR are rebuilt by hand here (statsmodels OLS on the equal-weighted portfolio, as in
``test_verdict``), the robust p-values are the rows of ``caar_tests``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from test_figures import EVENT_DATES, SECURITIES, simulated_results, simulated_returns
from test_verdict import by_hand

from eventstudy import runner
from eventstudy.config import format_window

WINDOWS = [(0, 0), (0, 1), (-1, 1), (0, 5)]


@pytest.fixture(scope="module")
def res():
    return simulated_results()


def test_rows_from_the_battery_arrays_equal_the_full_table_rows(res):
    cheap = runner._robust_rows(res, WINDOWS, only=True)
    full = runner._robust_rows(res, WINDOWS)
    pd.testing.assert_frame_equal(cheap, full, check_exact=True)
    assert list(cheap.columns) == [
        "event_id", "window", "n", "caar", "t_portfolio",
        *(f"p_{t}" for t in runner.ROBUST_P),
    ]  # fmt: skip
    assert list(cheap.dtypes[["n", "caar"]]) == [np.dtype(int), np.dtype(float)]


@pytest.mark.parametrize("only", [True, False])
def test_rows_are_the_portfolio_test_and_robust_p_values_rebuilt(res, only):
    returns = simulated_returns()
    rows = runner._robust_rows(res, WINDOWS, only=only).set_index(["event_id", "window"])
    assert len(rows) == len(EVENT_DATES) * len(WINDOWS)
    for w in WINDOWS:
        label = format_window(w)
        table = res.caar_tests(w, by="event_id", calibrated=False)
        cars = res.car(w)
        for eid, day0 in EVENT_DATES.items():
            r = rows.loc[(eid, label)]
            car, se, df = by_hand(returns, SECURITIES, day0, w)
            assert r["t_portfolio"] == pytest.approx(car / se, rel=1e-9)
            assert r["p_portfolio"] == pytest.approx(2 * sps.t.sf(abs(car / se), df), rel=1e-9)
            mine = cars[cars["event_id"] == eid]
            assert r["n"] == len(mine) == len(SECURITIES)
            assert r["caar"] == pytest.approx(mine["car"].mean(), rel=1e-12)
            for test in runner.ROBUST_P:
                want = table[(table["event_id"] == eid) & (table["test"] == test)]["p_value"]
                got = r[f"p_{test}"]
                assert (math.isnan(got) and math.isnan(want.iloc[0])) or got == want.iloc[0]


def test_caar_batch_is_what_caar_tests_tabulates(res):
    for w in WINDOWS:
        batch = res.caar_batch(w, by="event_id", tests=["grank", "portfolio"])
        assert batch.labels == list(EVENT_DATES)
        assert list(batch.tests) == ["portfolio", "grank"]  # the table's order
        table = res.caar_tests(w, by="event_id", tests=["portfolio", "grank"])
        for k, eid in enumerate(batch.labels):
            for name, r in batch.tests.items():
                row = table[(table["event_id"] == eid) & (table["test"] == name)].iloc[0]
                assert float(np.asarray(r.statistic)[k]) == row["statistic"]
                assert float(np.asarray(r.p_value)[k]) == row["p_value"]
                assert batch.caar[k] == row["caar"] and batch.n[k] == row["n"]
    pooled = res.caar_batch((0, 1))
    assert pooled.labels is None and len(pooled.caar) == 1
    assert pooled.caar[0] == pytest.approx(res.car((0, 1))["car"].mean(), rel=1e-12)
