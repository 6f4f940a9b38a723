"""compute_returns: simple/log, session alignment, missing sessions, other calendars."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from eventstudy.data import CsvSource, compute_returns
from eventstudy.exceptions import DataError, DataWarning, MissingSessionsWarning


def prices(values: dict[str, float]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(list(values)), name="date")
    v = np.array(list(values.values()), dtype=float)
    return pd.DataFrame({"close": v, "adj_close": v}, index=idx)


# a Tokyo-like week: Wed 2025-01-08 is a (made-up) holiday
SESSIONS = pd.DatetimeIndex(
    pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-09", "2025-01-10", "2025-01-13"])
)


def test_simple_and_log_returns_from_adjusted_close():
    df = prices({"2025-01-06": 100, "2025-01-07": 110, "2025-01-09": 99, "2025-01-10": 99})
    df["close"] = [1000.0, 1, 1, 1]  # close is ignored: returns use adj_close
    r = compute_returns({"A": df}, SESSIONS[:4])
    assert r.index.name == "date"
    assert math.isnan(r.iloc[0, 0])
    np.testing.assert_allclose(r["A"].iloc[1:], [0.1, -0.1, 0.0])
    lg = compute_returns({"A": df}, SESSIONS[:4], kind="log")
    np.testing.assert_allclose(lg["A"].iloc[1:], np.log([1.1, 0.9, 1.0]))
    assert r.attrs["kind"] == "simple" and lg.attrs["kind"] == "log"


def test_missing_session_is_reported_and_left_nan_not_forward_filled():
    df = prices({"2025-01-06": 100, "2025-01-07": 110, "2025-01-10": 121, "2025-01-13": 133.1})
    with pytest.warns(MissingSessionsWarning, match=r"^A: 1 session\(s\) of XTKS .*2025-01-09"):
        r = compute_returns({"A": df}, SESSIONS, exchange="XTKS")
    assert math.isnan(r.loc["2025-01-09", "A"])  # no price that day
    assert math.isnan(r.loc["2025-01-10", "A"])  # previous session has no price
    assert r.loc["2025-01-13", "A"] == pytest.approx(0.1)
    assert r.attrs["missing"]["A"] == [pd.Timestamp("2025-01-09")]
    assert r.attrs["alignment"]["A"] == "sessions"


def test_sessions_outside_a_series_are_nan_without_warning():
    df = prices({"2025-01-07": 100, "2025-01-09": 101, "2025-01-10": 102})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compute_returns({"A": df}, SESSIONS)
    assert r["A"].isna().tolist() == [True, True, False, False, True]


def test_prices_on_non_sessions_of_a_session_series_are_ignored_with_a_warning():
    # 50 sessions, one stray price on a holiday: 2% of dates -> still on this calendar
    sess = pd.bdate_range("2025-01-06", periods=60)
    hol = sess[30]
    sess = sess.drop(hol)
    vals = {d.strftime("%Y-%m-%d"): 100.0 + i for i, d in enumerate(sess)}
    vals[hol.strftime("%Y-%m-%d")] = 5000.0
    df = prices(dict(sorted(vals.items())))
    with pytest.warns(DataWarning, match=r"1 price\(s\) on dates that are not sessions"):
        r = compute_returns({"A": df}, sess)
    assert r.attrs["alignment"]["A"] == "sessions"
    assert r["A"].abs().max() < 0.02  # the 5000 never entered a return


def test_fx_on_another_calendar_is_aligned_as_of_each_session():
    # JPY=X-like: fixes on the Tokyo holiday (Wed 8th), none on Mon 13th (a UK holiday)
    fx = prices(
        {
            "2025-01-06": 157.0,
            "2025-01-07": 158.0,
            "2025-01-08": 160.0,
            "2025-01-09": 159.0,
            "2025-01-10": 158.5,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compute_returns({"JPY=X": fx}, SESSIONS, exchange="XTKS")
    assert r.attrs["alignment"]["JPY=X"] == "asof"
    # Thu 9th spans Tue 7th -> Thu 9th, holiday move included
    assert r.loc["2025-01-09", "JPY=X"] == pytest.approx(159.0 / 158.0 - 1)
    # Mon 13th: the series has ended (last fixing Fri 10th): NaN, not a made-up 0%
    assert math.isnan(r.loc["2025-01-13", "JPY=X"])
    # returns compound to the total change between the first and last session used
    total = (1 + r["JPY=X"].iloc[1:4]).prod() - 1
    assert total == pytest.approx(158.5 / 157.0 - 1)


def test_fx_missing_fixing_inside_the_series_uses_the_last_one():
    fx = prices(
        {
            "2025-01-06": 157.0,
            "2025-01-07": 158.0,
            "2025-01-08": 160.0,
            "2025-01-10": 158.5,
            "2025-01-14": 156.0,
        }
    )
    r = compute_returns({"JPY=X": fx}, SESSIONS, asof=["JPY=X"])
    # Thu 9th: last fixing is Wed 8th
    assert r.loc["2025-01-09", "JPY=X"] == pytest.approx(160.0 / 158.0 - 1)
    # Mon 13th: last fixing Fri 10th -> 0% move from Friday's session
    assert r.loc["2025-01-13", "JPY=X"] == pytest.approx(0.0)


def test_asof_before_avoids_look_ahead_for_series_closing_later():
    spx = prices({"2025-01-06": 100.0, "2025-01-07": 101.0, "2025-01-09": 103.0})
    r = compute_returns({"^GSPC": spx}, SESSIONS[:4], asof=["^GSPC"], asof_side="before")
    # Tokyo Tue 7th sees New York up to Mon 6th (and nothing before: NaN); Thu 9th sees
    # up to Tue 7th; Fri 10th sees Thu 9th
    assert math.isnan(r.loc["2025-01-07", "^GSPC"])
    assert r.loc["2025-01-09", "^GSPC"] == pytest.approx(101.0 / 100.0 - 1)
    assert r.loc["2025-01-10", "^GSPC"] == pytest.approx(103.0 / 101.0 - 1)


def test_stale_as_of_series_is_reported():
    sess = pd.bdate_range("2025-01-06", "2025-02-28")
    fx = prices({"2025-01-06": 150.0, "2025-01-07": 151.0, "2025-02-27": 152.0, "2025-02-28": 150})
    with pytest.warns(DataWarning, match=r"JPY=X: no observation within 7 days"):
        r = compute_returns({"JPY=X": fx}, sess, asof=["JPY=X"])
    assert r["JPY=X"].isna().sum() > 30


def test_sessions_default_to_the_union_of_dates():
    a = prices({"2025-01-06": 1.0, "2025-01-07": 1.1})
    b = prices({"2025-01-06": 2.0, "2025-01-07": 2.2})
    r = compute_returns({"A": a, "B": b})
    assert list(r.columns) == ["A", "B"]
    assert len(r) == 2


def test_bad_inputs():
    a = prices({"2025-01-06": 1.0, "2025-01-07": 1.1})
    with pytest.raises(DataError, match="unknown return kind"):
        compute_returns({"A": a}, kind="pct")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no adj_close"):
        compute_returns({"A": a[["close"]]})
    neg = a.copy()
    neg["adj_close"] = [1.0, -1.0]
    with pytest.raises(DataError, match="non-positive"):
        compute_returns({"A": neg})


def test_shared_prices_on_topix_sessions(prices_dir):
    src = CsvSource(prices_dir)
    syms = ["7203.T", "7267.T", "7201.T", "7211.T", "TOPIX", "JPY=X"]
    p = {s: src.get(s, "2024-01-01", "2025-12-31") for s in syms}
    sessions = p["TOPIX"].index
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compute_returns(p, sessions, exchange="XTKS")
    assert r.attrs["alignment"]["JPY=X"] == "asof"
    assert r.iloc[1:].notna().all().all()
    # known facts from ../shared/data/README.md
    facts = {"7203.T": 0.143, "7267.T": 0.112, "7201.T": 0.083, "7211.T": 0.130, "TOPIX": 0.032}
    for sym, move in facts.items():
        # the README rounds to 0.1 percentage point
        assert abs(r.loc["2025-07-23", sym] - move) < 0.0006, sym
    # the FX return compounds to the change between the last fixings on or before the
    # first and last sessions
    with open(prices_dir / "JPY=X.csv", newline="") as fh:
        raw = pd.Series({row["Date"]: float(row["Close"]) for row in csv.DictReader(fh)})
    raw.index = pd.to_datetime(raw.index)
    p0 = raw[raw.index <= sessions[0]].iloc[-1]
    p1 = raw[raw.index <= sessions[-1]].iloc[-1]
    assert (1 + r["JPY=X"].iloc[1:]).prod() == pytest.approx(p1 / p0)
