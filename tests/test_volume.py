"""Abnormal volume and volatility against hand formulas on small arrays (and real volumes)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from eventstudy import event_study
from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError, DataError, EventStudyWarning
from eventstudy.volume import (
    abnormal_volatility,
    abnormal_volume,
    volatility_by_event,
    volume_frame,
    volume_measure,
    volume_study,
)

DATES = pd.bdate_range("2024-01-01", periods=60)
SECS = ["AAA", "BBB", "CCC"]
POS = 50  # day 0
EST, WIN = (-40, -6), (-2, 3)


def _volumes(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vol = np.exp(rng.normal(13, 0.5, (len(DATES), len(SECS)))).round()
    vol[POS, :] *= 4  # heavy trading on day 0
    vol[POS - 20, 1] = 0.0  # a day without trades
    return pd.DataFrame(vol, index=DATES, columns=SECS)


def _events() -> pd.DataFrame:
    return pd.DataFrame({"security": SECS, "event_date": DATES[POS], "event_id": "e"})


def _hand_cav(v: np.ndarray, window: tuple[int, int]) -> tuple[float, float, float, float]:
    """CAV, se, t, p of one log series ``v`` by the textbook formulas."""
    est = v[POS + EST[0] : POS + EST[1] + 1]
    L = len(est)
    vbar, s = est.mean(), est.std(ddof=1)
    a, b = window
    cav = float((v[POS + a : POS + b + 1] - vbar).sum())
    L2 = b - a + 1
    se = s * np.sqrt(L2 + L2**2 / L)
    t = cav / se
    return cav, se, t, 2 * sps.t.sf(abs(t), L - 1)


@pytest.mark.parametrize("window", [(0, 0), (0, 1), (-2, 3)])
def test_abnormal_log_volume_is_log_volume_minus_its_estimation_mean(window) -> None:
    vol = _volumes()
    res = abnormal_volume(vol, _events(), estimation=EST, window=WIN, min_estimation_obs=30)
    car = res.car(window).set_index("security")
    logv = np.log(1 + vol.to_numpy())
    for j, sec in enumerate(SECS):
        cav, se, t, p = _hand_cav(logv[:, j], window)
        assert car.loc[sec, "car"] == pytest.approx(cav, rel=1e-12)
        assert car.loc[sec, "se"] == pytest.approx(se, rel=1e-12)
        assert car.loc[sec, "statistic"] == pytest.approx(t, rel=1e-12)
        assert car.loc[sec, "p_value"] == pytest.approx(p, rel=1e-9)
    # the portfolio test: the same formulas on the mean log volume of the three firms
    cav, se, t, p = _hand_cav(logv.mean(axis=1), window)
    port = res.caar_tests(window, by="event_id").set_index("test").loc["portfolio"]
    assert port["statistic"] == pytest.approx(t, rel=1e-10)
    assert port["p_value"] == pytest.approx(p, rel=1e-8)
    assert port["caar"] == pytest.approx(cav, rel=1e-10)  # mean CAV = CAV of the mean


def test_log_turnover_uses_shares_outstanding_and_campbell_wasley_constant() -> None:
    vol = _volumes()
    shares = {"AAA": 2e9, "BBB": 5e8, "CCC": 1.5e9}
    v = volume_measure(vol, "log_turnover", shares)
    assert v.loc[DATES[POS - 20], "BBB"] == pytest.approx(np.log(0.000255))  # no trade
    assert v.loc[DATES[3], "AAA"] == pytest.approx(np.log(100 * vol.iloc[3, 0] / 2e9 + 0.000255))
    res = abnormal_volume(
        vol, _events(), measure="log_turnover", shares=shares, estimation=EST, window=WIN,
        min_estimation_obs=30,
    )  # fmt: skip
    car = res.car((0, 1)).set_index("security")
    for sec in SECS:
        cav, se, _, _ = _hand_cav(v[sec].to_numpy(), (0, 1))
        assert car.loc[sec, "car"] == pytest.approx(cav, rel=1e-12)
        assert car.loc[sec, "se"] == pytest.approx(se, rel=1e-12)
    with pytest.raises(ConfigError, match=r"shares_outstanding: got \['CCC'\]"):
        volume_measure(vol, "log_turnover", {"AAA": 1.0, "BBB": 1.0})


def test_volume_frame_keeps_zero_leaves_gaps_missing_and_refuses_negative() -> None:
    idx = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05"])
    prices = {
        "A": pd.DataFrame({"close": [1, 2, 3], "volume": [10.0, 0.0, 5.0]}, index=idx),
        "B": pd.DataFrame({"close": [1, 2, 3]}, index=idx),  # no volume: left out
    }
    sessions = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    f = volume_frame(prices, sessions)
    assert list(f.columns) == ["A"]
    assert f["A"].tolist()[:2] == [10.0, 0.0] and np.isnan(f.loc["2024-01-04", "A"])
    prices["A"].loc[idx[1], "volume"] = -1.0
    with pytest.raises(DataError, match="A: negative volume -1 on 2024-01-03"):
        volume_frame(prices, sessions)


# ----------------------------------------------------------------------------- volatility


def _returns(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, len(DATES))
    out = {"MKT": m}
    for j, sec in enumerate(SECS):
        e = rng.normal(0, 0.015, len(DATES))
        e[POS : POS + 3] *= 3 + j  # event-induced volatility
        out[sec] = 0.0003 + (0.8 + 0.2 * j) * m + e
    return pd.DataFrame(out, index=DATES)


def _hand_ratio(y: np.ndarray, m: np.ndarray, window: tuple[int, int]) -> tuple[float, int, int]:
    """Mean squared standardized abnormal return over ``window`` (market model), df1, df2."""
    rows = slice(POS + EST[0], POS + EST[1] + 1)
    X = np.column_stack([np.ones(len(m)), m])
    b, *_ = np.linalg.lstsq(X[rows], y[rows], rcond=None)
    resid = y[rows] - X[rows] @ b
    L = len(resid)
    s2 = resid @ resid / (L - 2)
    inv = np.linalg.inv(X[rows].T @ X[rows])
    a, c = window
    sar2 = []
    for t in range(POS + a, POS + c + 1):
        ar = y[t] - X[t] @ b
        sar2.append(ar**2 / (s2 * (1 + X[t] @ inv @ X[t])))
    return float(np.mean(sar2)), c - a + 1, L - 2


@pytest.mark.parametrize("window", [(0, 0), (0, 2), (-2, 3)])
def test_variance_ratio_matches_the_hand_formula_and_its_f_test(window) -> None:
    r = _returns()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(
            r, _events(), market="MKT", estimation=EST, window=WIN, min_estimation_obs=30
        )
    vr = abnormal_volatility(res, window).set_index("security")
    for sec in SECS:
        ratio, d1, d2 = _hand_ratio(r[sec].to_numpy(), r["MKT"].to_numpy(), window)
        assert vr.loc[sec, "ratio"] == pytest.approx(ratio, rel=1e-9)
        assert (vr.loc[sec, "df1"], vr.loc[sec, "df2"]) == (d1, d2)
        p = 2 * min(sps.f.cdf(ratio, d1, d2), sps.f.sf(ratio, d1, d2))
        assert vr.loc[sec, "p_value"] == pytest.approx(min(p, 1.0), rel=1e-9)
    ev = volatility_by_event(res, window).set_index("event_id").loc["e"]
    ratio, d1, d2 = _hand_ratio(r[SECS].mean(axis=1).to_numpy(), r["MKT"].to_numpy(), window)
    assert ev["portfolio_ratio"] == pytest.approx(ratio, rel=1e-9)
    p = 2 * min(sps.f.cdf(ratio, d1, d2), sps.f.sf(ratio, d1, d2))
    assert ev["p_value"] == pytest.approx(min(p, 1.0), rel=1e-9)
    assert ev["mean_ratio"] == pytest.approx(vr["ratio"].mean(), rel=1e-12)


def test_volatility_window_outside_the_computed_window_is_a_config_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(
            _returns(), _events(), market="MKT", estimation=EST, window=WIN, min_estimation_obs=30
        )
    with pytest.raises(ConfigError, match=r"window: got \[0, 5\]; expected a window inside"):
        abnormal_volatility(res, (0, 5))


# ----------------------------------------------------------------------------- real volumes


def test_deal_day_volume_of_toyota_against_pandas(prices_dir: Path) -> None:
    """Toyota on 2025-07-23 (first session after the US-Japan deal), straight from the CSV."""
    from eventstudy.runner import run_study

    root = Path(__file__).resolve().parents[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        run = run_study(
            root / "configs" / "tariffs_2025.yaml", prices=prices_dir, offline=True, analyses=False
        )
        v = volume_study(
            run.prices, run.results["XTKS"], run.returns["XTKS"].index, windows=[(0, 0)]
        )
    raw = pd.read_csv(prices_dir / "7203.T.csv", index_col="Date", parse_dates=True)["Volume"]
    sess = run.returns["XTKS"].index
    pos = sess.get_loc(pd.Timestamp("2025-07-23"))
    logv = np.log1p(raw.reindex(sess).astype(float))
    est = logv.iloc[pos - 250 : pos - 10]
    expected = logv.iloc[pos] - est.mean()
    got = (
        v.cav((0, 0))
        .set_index(["event_id", "security"])
        .loc[("us_japan_deal_2025-07-22", "7203.T")]
    )
    assert got["cav"] == pytest.approx(expected, rel=1e-12)
    assert got["se"] == pytest.approx(est.std(ddof=1) * np.sqrt(1 + 1 / len(est)), rel=1e-12)
    assert got["pct_per_day"] == pytest.approx(np.expm1(expected), rel=1e-12)
    day = v.abnormal.set_index(["event_id", "security", "rel_day"]).loc[
        ("us_japan_deal_2025-07-22", "7203.T", 0)
    ]
    assert day["volume"] == raw.loc["2025-07-23"]


def test_a_study_without_volumes_says_so(prices_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(
            _returns(), _events(), market="MKT", estimation=EST, window=WIN, min_estimation_obs=30
        )
    prices = {s: pd.DataFrame({"close": 1.0}, index=DATES) for s in SECS}
    with pytest.raises(
        DataError, match="the prices carry no Volume column; use a source with volumes"
    ):
        volume_study(prices, res, DATES)


# ----------------------------------------------------------------------------- memoized tables


def _two_event_study(windows: tuple[tuple[int, int], ...]):
    """A VolumeResults of two events (the three securities on day 0, two of them 5 days
    later), with a hole in one firm's returns inside the window."""
    r = _returns()
    r.loc[DATES[POS + 1], "BBB"] = np.nan  # BBB: no return on day +1 of the first event
    events = pd.concat(
        [
            _events(),
            pd.DataFrame({"security": SECS[:2], "event_date": DATES[POS + 5], "event_id": "f"}),
        ],
        ignore_index=True,
    )

    def study():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            return event_study(
                r, events, market="MKT", estimation=EST, window=(-2, 3), min_estimation_obs=30
            )

    vol = _volumes()
    prices = {s: pd.DataFrame({"close": 1.0, "volume": vol[s]}, index=DATES) for s in SECS}
    res = study()
    return volume_study(prices, res, DATES, windows=windows, min_estimation_obs=30), study


def test_volume_tables_are_computed_once_and_equal_a_fresh_computation() -> None:
    windows = ((0, 0), (0, 1), (-1, 1))
    v, study = _two_event_study(windows)
    first = v.tables()
    # asked again (the report's summary, sections and tables do): the same objects' data
    again = v.tables()
    for name, frame in first.items():
        pd.testing.assert_frame_equal(again[name], frame)
    # against the public functions on a fresh results object (nothing memoized there)
    for w in windows:
        fresh = study()
        firms = abnormal_volatility(fresh, w)
        pd.testing.assert_frame_equal(v.volatility(w), firms)
        pd.testing.assert_frame_equal(v.volatility_events(w), volatility_by_event(study(), w))
        # the portfolio ratio by hand: mean squared portfolio SAR over the window's days
        ev = v.volatility_events(w).set_index("event_id")
        assert list(ev.index) == ["e", "f"]
        assert ev.loc["f", "n"] == 2
        assert ev.loc["e", "mean_ratio"] == pytest.approx(
            firms[firms["event_id"] == "e"]["ratio"].mean(), rel=1e-12
        )
    vol_rows = first["volatility"]
    assert len(vol_rows) == 5 * len(windows)  # 5 firm-events per window
    bbb = vol_rows[(vol_rows["security"] == "BBB") & (vol_rows["event_id"] == "e")]
    assert bbb["df1"].tolist() == [1, 1, 2]  # the missing day +1 is not counted


def test_a_memoized_volume_table_is_not_changed_by_its_caller() -> None:
    v, _ = _two_event_study(((0, 1),))
    before = v.volatility((0, 1)).copy(deep=True)
    got = v.volatility((0, 1))
    got["extra"] = 1.0
    got.loc[0, "ratio"] = -99.0
    cav = v.cav((0, 1))
    cav.loc[0, "cav"] = -99.0
    pd.testing.assert_frame_equal(v.volatility((0, 1)), before)
    assert v.cav((0, 1)).loc[0, "cav"] != -99.0


# ----------------------------------------------------------------------------- the SARs by day


def _unordered_study():
    """Two events given out of order (``f`` first, two securities; ``e`` with three), BBB
    without a return on day +1 of ``e`` and AAA without one on day -1 of ``e``."""
    r = _returns()
    r.loc[DATES[POS + 1], "BBB"] = np.nan
    r.loc[DATES[POS - 1], "AAA"] = np.nan
    events = pd.concat(
        [
            pd.DataFrame({"security": SECS[:2], "event_date": DATES[POS + 5], "event_id": "f"}),
            _events(),
        ],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(
            r, events, market="MKT", estimation=EST, window=(-2, 3), min_estimation_obs=30
        )
    return r, res


@pytest.mark.parametrize("window", [(0, 0), (-1, 1), (-2, 3), (1, 1)])
def test_daily_sars_are_the_statistics_of_the_one_day_cars(window) -> None:
    """The SARs computed for all days at once equal, to the last bit, the t-ratio of each
    day's one-day CAR (firms) and portfolio CAR (events): the per-day definition."""
    from eventstudy.volume import _daily

    _, res = _unordered_study()
    days = range(window[0], window[1] + 1)
    table, sar = _daily(res, window, portfolio=False)
    expected = np.column_stack([res.car((t, t))["statistic"].to_numpy() for t in days])
    np.testing.assert_array_equal(sar, expected)
    car = res.car(window)
    assert table[["event_id", "security"]].values.tolist() == (
        car[["event_id", "security"]].values.tolist()
    )
    assert table["event_id"].tolist() == ["e", "e", "e", "f", "f"]
    table, sar = _daily(res, window, portfolio=True)
    expected = np.column_stack([res.portfolio_car((t, t))["statistic"].to_numpy() for t in days])
    np.testing.assert_array_equal(sar, expected)
    assert table["event_id"].tolist() == ["e", "f"]


def test_variance_ratio_leaves_out_a_day_without_a_return_by_hand() -> None:
    """BBB has no return on day +1 of event e: its ratio over (0, 2) is the mean of its
    two other squared SARs (F with 2 days), and over (1, 1) there is none; the event's
    count, mean and median of the firms' ratios use the ratios that exist."""
    r, res = _unordered_study()
    m = r["MKT"].to_numpy()
    y = r["BBB"].to_numpy()
    rows = slice(POS + EST[0], POS + EST[1] + 1)
    X = np.column_stack([np.ones(len(m)), m])
    b, *_ = np.linalg.lstsq(X[rows], y[rows], rcond=None)
    resid = y[rows] - X[rows] @ b
    s2 = resid @ resid / (len(resid) - 2)
    inv = np.linalg.inv(X[rows].T @ X[rows])
    sar2 = [(y[t] - X[t] @ b) ** 2 / (s2 * (1 + X[t] @ inv @ X[t])) for t in (POS, POS + 2)]
    d2 = len(resid) - 2
    vr = abnormal_volatility(res, (0, 2)).set_index(["event_id", "security"])
    got = vr.loc[("e", "BBB")]
    assert got["ratio"] == pytest.approx(np.mean(sar2), rel=1e-9)
    assert (got["df1"], got["df2"]) == (2, d2)
    p = 2 * min(sps.f.cdf(np.mean(sar2), 2, d2), sps.f.sf(np.mean(sar2), 2, d2))
    assert got["p_value"] == pytest.approx(p, rel=1e-9)
    one = abnormal_volatility(res, (1, 1)).set_index(["event_id", "security"])
    assert np.isnan(one.loc[("e", "BBB"), "ratio"]) and one.loc[("e", "BBB"), "df1"] == 0
    assert np.isnan(one.loc[("e", "BBB"), "p_value"])
    ev = volatility_by_event(res, (1, 1)).set_index("event_id")
    ratios = one.loc["e", "ratio"].to_numpy()
    assert ev.loc["e", "n"] == 2  # AAA and CCC
    assert ev.loc["e", "mean_ratio"] == pytest.approx(np.nanmean(ratios), rel=1e-12)
    assert ev.loc["e", "median_ratio"] == pytest.approx(np.nanmedian(ratios), rel=1e-12)
    assert ev.loc["f", "n"] == 2


# ----------------------------------------------------------------------------- summary, table, figure


def test_summary_reads_each_event_s_tests_and_volatility_ratio() -> None:
    windows = ((0, 0), (0, 1), (-1, 1))
    v, _ = _two_event_study(windows)
    s = v.summary.set_index(["event_id", "window"])
    assert len(s) == 2 * len(windows)
    for w in windows:
        label = format_window(w)
        tests = v.tests(w).set_index(["event_id", "test"])
        vol = v.volatility_events(w).set_index("event_id")
        cav = v.cav(w)
        for eid in ("e", "f"):
            row = s.loc[(eid, label)]
            firms = cav[cav["event_id"] == eid]["cav"].to_numpy()
            assert row["n"] == len(firms)
            assert row["mean_cav"] == pytest.approx(firms.mean(), rel=1e-12)  # by hand
            days = w[1] - w[0] + 1
            assert row["pct_per_day"] == pytest.approx(np.expm1(firms.mean() / days), rel=1e-12)
            assert row["t_portfolio"] == tests.loc[(eid, "portfolio"), "statistic"]
            for name in ("portfolio", "brown_warner_1985", "corrado_rank"):
                assert row[f"p_{name}"] == tests.loc[(eid, name), "p_value"]
            assert row["volatility_ratio"] == vol.loc[eid, "portfolio_ratio"]
            assert row["p_volatility"] == vol.loc[eid, "p_value"]
            assert row["mean_firm_ratio"] == vol.loc[eid, "mean_ratio"]


def test_abnormal_table_gives_each_day_s_volume_and_log_volume_by_hand() -> None:
    """The daily table: shares traded and ln(1 + shares) read from the volume frame (a gap
    stays missing), and the abnormal log volume its estimation-window mean apart."""
    r = _returns()
    vol = _volumes()
    vol.loc[DATES[POS + 2], "CCC"] = np.nan  # no volume that session
    prices = {s: pd.DataFrame({"close": 1.0, "volume": vol[s]}, index=DATES) for s in SECS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(
            r, _events(), market="MKT", estimation=EST, window=WIN, min_estimation_obs=30
        )
    v = volume_study(prices, res, DATES, min_estimation_obs=30)
    ab = v.abnormal
    assert list(ab.columns) == [
        "event_id", "security", "rel_day", "date", "volume", "log_measure", "abnormal"
    ]  # fmt: skip
    assert len(ab) == len(SECS) * (WIN[1] - WIN[0] + 1)
    for row in ab.itertuples(index=False):
        shares = vol.loc[row.date, row.security]
        if np.isnan(shares):
            assert np.isnan(row.volume) and np.isnan(row.log_measure) and np.isnan(row.abnormal)
            continue
        assert row.volume == shares
        assert row.log_measure == pytest.approx(np.log(1 + shares), rel=1e-15)
        j = SECS.index(row.security)
        est = np.log(1 + vol.to_numpy()[POS + EST[0] : POS + EST[1] + 1, j])
        assert row.abnormal == pytest.approx(np.log(1 + shares) - est.mean(), rel=1e-12)
    assert ab["rel_day"].tolist()[: WIN[1] - WIN[0] + 1] == list(range(WIN[0], WIN[1] + 1))


def test_volume_figure_draws_each_firm_event_and_the_daily_mean() -> None:
    v, _ = _two_event_study(((0, 1),))
    ab = v.abnormal
    fig = v.plot()
    lines = [t for t in fig.data if t.mode == "lines"]
    means = [t for t in fig.data if t.mode == "lines+markers"]
    assert [(t.legendgroup, t.name) for t in lines] == [
        ("e", "AAA"), ("e", "BBB"), ("e", "CCC"), ("f", "AAA"), ("f", "BBB")
    ]  # fmt: skip
    for t in lines:
        mine = ab[(ab["event_id"] == t.legendgroup) & (ab["security"] == t.name)]
        np.testing.assert_array_equal(t.x, mine["rel_day"].to_numpy())
        np.testing.assert_array_equal(t.y, mine["abnormal"].to_numpy())
    assert [t.name for t in means] == ["e: mean", "f: mean"]
    for t, eid in zip(means, ("e", "f"), strict=True):
        mine = ab[ab["event_id"] == eid]
        days = sorted(set(mine["rel_day"]))
        by_hand = [np.nanmean(mine[mine["rel_day"] == d]["abnormal"]) for d in days]
        np.testing.assert_array_equal(t.x, days)
        np.testing.assert_allclose(t.y, by_hand, rtol=1e-12)
    one = v.plot("f")
    assert [t.name for t in one.data] == ["AAA", "BBB", "f: mean"]
