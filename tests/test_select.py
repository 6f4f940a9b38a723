"""``EventStudyResults.select``: a subset of a fit's securities, without fitting again.

The claim is exact: every table of ``res.select(securities)`` equals, to the last bit, the
same table of a fit of the same specification on those securities' firm-events alone (the
independent value here: the engine run again on the subset). The panel has what makes a
batch differ from its parts: missing returns in some rows only (the OLS masks the rows with
a gap), firm-events excluded for short history and for a missing day-0 return, events of
different sizes, a market with a missing day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import eventstudy as es
from eventstudy.exceptions import DataError

pytestmark = pytest.mark.filterwarnings("ignore::eventstudy.exceptions.ClusteredEventWarning")

SECS = [f"S{i}" for i in range(9)]
DAYS = (300, 304, 360)
WINDOWS = [(0, 0), (0, 1), (-1, 1), (-5, 5), (2, 4)]


def panel(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2018-01-01", periods=420)
    mkt = rng.normal(0.0003, 0.01, len(dates))
    fx = rng.normal(0.0, 0.005, len(dates))
    common = rng.normal(0, 0.007, len(dates))
    ret = pd.DataFrame(
        {
            s: 0.0002 + (0.6 + 0.1 * i) * mkt + 0.3 * fx + common + rng.normal(0, 0.012, 420)
            for i, s in enumerate(SECS)
        },
        index=dates,
    )
    ret.iloc[[80, 95, 200, 201], 1] = np.nan  # gaps in one security's estimation window
    ret.iloc[[150, 298], 4] = np.nan  # and in another's (298: inside the event window)
    ret.iloc[:250, 6] = np.nan  # listed late: too few estimation days for the first events
    ret.iloc[DAYS[2], 7] = np.nan  # no day-0 return in the third event: excluded
    ret["MKT"] = mkt
    ret.iloc[120, ret.columns.get_loc("MKT")] = np.nan  # a market holiday
    ret["FX"] = fx
    return ret


def events(ret: pd.DataFrame) -> pd.DataFrame:
    idx = ret.index
    rows = [(s, idx[DAYS[0]], "a") for s in SECS]
    rows += [(s, idx[DAYS[1]], "b") for s in SECS[2:6]]
    rows += [(s, idx[DAYS[2]], "c") for s in SECS[4:]]
    return pd.DataFrame(rows, columns=["security", "event_date", "event_id"])


SPECS = {
    "market": {},
    "constant_mean": {"model": "constant_mean"},
    "market_adjusted": {"model": "market_adjusted"},
    "factor": {"model": "factor", "factors": ["FX"]},
    "dimson": {"dimson_lags": 1},
    "estudy2": {"convention": "estudy2"},
    "estudy2_factor": {"convention": "estudy2", "model": "factor", "factors": ["FX"]},
}

SUBSETS = {
    "with gaps": ["S1", "S4", "S5"],
    "short history": ["S6", "S0"],
    "no day-0 return": ["S7", "S8", "S2"],
    "one security": ["S3"],
    "every security": SECS,
}


def _fit(ret: pd.DataFrame, ev: pd.DataFrame, spec: dict) -> es.EventStudyResults:
    return es.event_study(
        ret, ev, market="MKT", estimation=(-250, -11), window=(-5, 5), min_estimation_obs=60, **spec
    )


def _tables(res: es.EventStudyResults) -> dict[str, pd.DataFrame]:
    out = {
        "params": res.params,
        "abnormal_returns": res.abnormal_returns,
        "events": res.events,
        "excluded": res.excluded,
        "clustering": res.clustering,
        "test_notes": res.test_notes,
        "car_paths": res.car_paths(),
        "aar_tests": res.aar_tests(by="event_id"),
    }
    for w in WINDOWS:
        out[f"car{w}"] = res.car(w)
        out[f"portfolio_car{w}"] = res.portfolio_car(w)
        out[f"caar_tests{w}"] = res.caar_tests(w, by="event_id")
        out[f"pooled{w}"] = res.caar_tests(w)
    return out


@pytest.fixture(scope="module")
def ret() -> pd.DataFrame:
    return panel()


@pytest.fixture(scope="module", params=list(SPECS))
def spec(request: pytest.FixtureRequest) -> dict:
    return SPECS[request.param]


@pytest.fixture(scope="module")
def full(ret: pd.DataFrame, spec: dict) -> es.EventStudyResults:
    return _fit(ret, events(ret), spec)


@pytest.mark.parametrize("subset", list(SUBSETS))
def test_a_selection_is_the_fit_of_its_securities_alone(ret, spec, full, subset):
    secs = SUBSETS[subset]
    ev = events(ret)
    alone = _fit(ret, ev[ev["security"].isin(secs)].reset_index(drop=True), spec)
    picked = full.select(secs)
    assert picked.calibration is None
    want, got = _tables(alone), _tables(picked)
    for name, table in want.items():
        pd.testing.assert_frame_equal(got[name], table, check_exact=True, obj=name)
    assert len(picked.events) < len(full.events) or subset == "every security"


def test_the_panel_has_what_a_batch_differs_by(full):
    # the cases above are only meaningful if the full fit mixes rows with and without gaps
    # and excludes firm-events for both reasons
    reasons = " ".join(full.excluded["reason"])
    assert "estimation observations" in reasons and "no return on day 0" in reasons
    n = full.params.set_index(["event_id", "security"])["n_obs"]
    assert n.nunique() > 2  # rows with gaps of different lengths beside complete rows


def test_selecting_securities_without_a_fitted_firm_event_raises(full):
    with pytest.raises(DataError, match="no fitted firm-event"):
        full.select(["NOPE"])
