"""Placebo-calibrated p-values, measured sizes, the SQ test and attainable levels (issue 12)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats as sps

import eventstudy as es
from eventstudy import stats as st
from eventstudy.calibration import calibrated_p, measured_size
from eventstudy.exceptions import ConfigError
from eventstudy.simulate import synthetic_returns

pytestmark = pytest.mark.filterwarnings("ignore::eventstudy.exceptions.EventStudyWarning")


def _panel(n_sec: int, n_days: int, seed: int, common: float = 0.5, df: float | None = 3):
    return synthetic_returns(n_sec, n_days, common=common, df=df, seed=seed)


def _study(r: pd.DataFrame, days: list[int], n_sec: int) -> pd.DataFrame:
    secs = [f"S{i}" for i in range(n_sec)]
    return pd.DataFrame(
        [(s, r.index[d], f"E{j:03d}") for j, d in enumerate(days) for s in secs],
        columns=["security", "event_date", "event_id"],
    )


# ----------------------------------------------------------------------------- formula


def test_calibrated_p_counts_placebos_at_least_as_extreme_by_hand() -> None:
    p_null = np.array([0.01, 0.2, 0.05, np.nan, 0.5, 0.04])
    p, n = calibrated_p(np.array(0.05), p_null)
    # finite placebos: 0.01, 0.2, 0.05, 0.5, 0.04 (5); at most 0.05: 0.01, 0.05, 0.04 (3)
    assert n == 5
    assert_allclose(p, (1 + 3) / (1 + 5))
    size, m = measured_size(p_null)
    assert m == 5 and size == pytest.approx(3 / 5)
    p_nan, _ = calibrated_p(np.array(np.nan), p_null)
    assert np.isnan(p_nan)


# ----------------------------------------------------------------------------- size


def _independent_clusters(S: int, n_sec: int, n_days: int, rho: float, seed: int):
    """S independent industries of ``n_sec`` firms: R = a + b M + s (sqrt(rho) F_j +
    sqrt(1 - rho) e), M the shared market, F_j industry j's own factor (not in the market),
    every shock Student t(3) scaled to unit variance (fat tails)."""
    rng = np.random.default_rng(seed)

    def t3(*shape: int) -> np.ndarray:
        return rng.standard_t(3, shape) / math.sqrt(3.0)

    m = 0.01 * t3(n_days)
    F = t3(n_days, S)
    e = t3(n_days, S, n_sec)
    beta = rng.uniform(0.6, 1.4, (S, n_sec))
    R = (
        0.0002
        + m[:, None, None] * beta
        + 0.015 * (math.sqrt(rho) * F[:, :, None] + math.sqrt(1 - rho) * e)
    )
    cols = [f"J{j:03d}S{i}" for j in range(S) for i in range(n_sec)]
    out = pd.DataFrame(
        R.reshape(n_days, -1), index=pd.bdate_range("2015-01-05", periods=n_days), columns=cols
    )
    out["MKT"] = m
    return out


@pytest.mark.slow
def test_calibrated_p_values_hold_size_where_nominal_tests_over_reject() -> None:
    """400 independent clustered studies (5 firms of one industry sharing each date, residual
    correlation 0.5, Student t(3) shocks), each calibrated on 19 placebo dates: under the null
    a calibrated p-value rejects 5% of studies (1/20 by exchangeability), inside the binomial
    band, while the tests that assume independence over-reject. Discrete tests are
    conservative once calibrated (ties count against the data)."""
    n_sec, S, B = 5, 400, 19
    r = _independent_clusters(S, n_sec, 800, 0.5, seed=7)
    rng = np.random.default_rng(8)
    days = rng.integers(300, 560, S)
    ev = pd.DataFrame(
        [
            (f"J{j:03d}S{i}", r.index[d], f"E{j:03d}")
            for j, d in enumerate(days)
            for i in range(n_sec)
        ],
        columns=["security", "event_date", "event_id"],
    )
    res = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=B, seed=3)
    caar = res.caar_tests((0, 1), by="event_id")
    assert (caar["n_placebo"] == B).all()
    lo, hi = sps.binom.ppf([0.005, 0.995], S, 0.05) / S  # 99% band: several tests checked
    rate = (
        caar.assign(nom=caar["p_value"] <= 0.05, cal=caar["p_calibrated"] <= 0.05)
        .groupby("test")[["nom", "cal"]]
        .mean()
    )
    for test in ("t_test", "bmp", "patell", "brown_warner_1980"):
        assert rate.loc[test, "nom"] > hi, (test, rate.loc[test, "nom"])
    for test in ("t_test", "bmp", "patell", "portfolio", "kolari_pynnonen", "adjusted_patell"):
        assert lo <= rate.loc[test, "cal"] <= hi, (test, rate.loc[test, "cal"])
    for test in ("sign", "generalized_sign", "wilcoxon"):  # discrete: conservative
        assert rate.loc[test, "cal"] <= hi, (test, rate.loc[test, "cal"])
    # the placebos' measured size of t_test says it over-rejects, event by event
    assert float(caar.loc[caar["test"] == "t_test", "size_5pct"].mean()) > 0.10


# ----------------------------------------------------------------------------- structure


@pytest.fixture(scope="module")
def calibrated() -> tuple[pd.DataFrame, pd.DataFrame, es.EventStudyResults]:
    r = _panel(4, 1600, seed=11)
    ev = _study(r, [1300, 1500], 4)
    res = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=60, seed=1)
    return r, ev, res


def test_placebo_windows_never_touch_the_real_event_windows(calibrated) -> None:
    r, ev, res = calibrated
    cal = res.calibration
    assert cal is not None and cal.n_draws == 60 and cal.events == ["E000", "E001"]
    pos = r.index.get_indexer(pd.DatetimeIndex(cal.placebo.events["event_date"]))
    real = r.index.get_indexer(pd.DatetimeIndex(ev["event_date"].unique()))
    gap = np.abs(pos[:, None] - real[None, :]).min(axis=1)
    assert (gap > 10).all()  # two 11-day windows overlap within 10 sessions
    # each placebo event has its template's securities, one placebo per (event, draw)
    assert set(cal.template.values()) == {(e, b) for e in cal.events for b in range(60)}


def test_tables_gain_calibrated_columns_for_every_grouping(calibrated) -> None:
    _, _, res = calibrated
    for table in (
        res.caar_tests((0, 1)),
        res.caar_tests((0, 1), by="event_id"),
        res.caar_tests((0, 1), by={"E000": "both", "E001": "both"}),
        res.aar_tests((0, 1), by="event_id"),
    ):
        assert {"p_calibrated", "n_placebo", "size_5pct", "size_ci_low", "size_ci_high"} <= set(
            table.columns
        )
        ok = table["p_value"].notna()
        assert (table.loc[ok, "p_calibrated"] >= 1 / 61).all()
        assert (table.loc[ok, "n_placebo"] <= 60).all()


def test_nominal_table_of_a_calibrated_study_skips_the_placebos(calibrated, monkeypatch) -> None:
    """``calibrated=False`` (what the variants and combined-window tables ask for) gives the
    table of the same study fitted without calibration and never runs the placebo battery."""
    r, ev, res = calibrated

    def no_placebos(*args: object, **kwargs: object) -> None:
        raise AssertionError("the placebo battery ran for a nominal table")

    monkeypatch.setattr(type(res.calibration), "null_pvalues", no_placebos)
    nominal = res.caar_tests((-2, 2), by="event_id", calibrated=False)
    plain = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5))
    pd.testing.assert_frame_equal(nominal, plain.caar_tests((-2, 2), by="event_id"))
    assert "p_calibrated" not in nominal.columns
    with pytest.raises(AssertionError, match="placebo battery ran"):
        res.caar_tests((-2, 2), by="event_id")


def test_calibrated_p_of_an_event_is_its_rank_among_its_own_placebos(calibrated) -> None:
    """Recompute one event's calibrated p-value from its placebo studies, each fitted on its own."""
    r, _, res = calibrated
    cal = res.calibration
    row = (
        res.caar_tests((0, 1), by="event_id")
        .set_index(["event_id", "test"])
        .loc[("E001", "t_test")]
    )
    ids = [pid for pid, (e, _) in cal.template.items() if e == "E001"]
    pl = cal.placebo.events
    null = []
    for pid in ids:
        alone = es.event_study(r, pl[pl["event_id"] == pid], estimation=(-250, -11), window=(-5, 5))
        null.append(float(alone.caar_tests((0, 1)).set_index("test").loc["t_test", "p_value"]))
    null = np.array(null)
    expected = (1 + np.sum(null <= row["p_value"])) / (1 + len(null))
    assert_allclose(row["p_calibrated"], expected)
    assert_allclose(row["size_5pct"], np.mean(null <= 0.05))


def test_pooled_placebo_study_pools_one_pseudo_event_per_real_event(calibrated) -> None:
    r, _, res = calibrated
    cal = res.calibration
    pooled = res.caar_tests((0, 1)).set_index("test").loc["portfolio"]
    pl = cal.placebo.events
    null = []
    for b in range(cal.n_draws):
        ids = [pid for pid, (_, d) in cal.template.items() if d == b]
        study = es.event_study(
            r, pl[pl["event_id"].isin(ids)], estimation=(-250, -11), window=(-5, 5)
        )
        null.append(float(study.caar_tests((0, 1)).set_index("test").loc["portfolio", "p_value"]))
    expected = (1 + np.sum(np.array(null) <= pooled["p_value"])) / (1 + len(null))
    assert_allclose(pooled["p_calibrated"], expected)


def test_calibration_is_seeded_and_reported(calibrated) -> None:
    r, ev, res = calibrated
    again = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=60, seed=1)
    pd.testing.assert_frame_equal(res.caar_tests((0, 1)), again.caar_tests((0, 1)))
    other = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=60, seed=2)
    assert not np.allclose(
        res.caar_tests((0, 1))["p_calibrated"], other.caar_tests((0, 1))["p_calibrated"]
    )
    with pytest.raises(ConfigError, match="calibrate"):
        es.event_study(r, ev, calibrate=-1)


def test_too_few_placebo_dates_is_said_with_the_count() -> None:
    r = _panel(3, 290, seed=2)  # placebo day 0 in 250..284, not within 10 of 275: 15 dates
    ev = _study(r, [275], 3)
    res = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=50)
    cal = res.calibration
    assert cal is not None and cal.placebo is None
    assert any("only 15 session(s) can serve as a placebo day 0" in n for n in cal.notes)
    assert res.caar_tests((0, 1))["p_calibrated"].isna().all()


def test_reused_placebo_dates_are_noted() -> None:
    r = _panel(3, 420, seed=2)
    ev = _study(r, [400], 3)
    res = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5), calibrate=300)
    cal = res.calibration
    assert cal.placebo is not None
    assert any("reused" in n for n in cal.notes)


def test_portfolio_intervals_t_and_calibrated(calibrated) -> None:
    _, _, res = calibrated
    pc = res.portfolio_car((0, 1)).set_index("event_id")
    crit = sps.t.ppf(0.975, pc["df"])
    assert_allclose(pc["ci_low"], pc["car"] - crit * pc["se"])
    assert_allclose(pc["ci_high"], pc["car"] + crit * pc["se"])
    _, t_null = res.calibration.portfolio_cars((0, 1))["E000"]
    q_lo, q_hi = np.quantile(t_null, [0.025, 0.975])  # percentile-t
    car, se, t = pc.loc["E000", ["car", "se", "statistic"]]
    assert_allclose(
        pc.loc["E000", ["ci_low_calibrated", "ci_high_calibrated"]],
        [car - q_hi * se, car - q_lo * se],
    )
    assert_allclose(pc.loc["E000", "p_calibrated"], (1 + np.sum(np.abs(t_null) >= abs(t))) / 61)


def test_placebo_portfolio_t_ratios_against_statsmodels_on_their_dates(calibrated) -> None:
    import statsmodels.api as sm

    r, _, res = calibrated
    cal = res.calibration
    events = cal.placebo.events
    for window in [(0, 1), (-2, 3)]:
        cars = cal.portfolio_cars(window)
        for eid, b in [("E000", 0), ("E001", 7), ("E001", 59)]:
            pid = next(p for p, slot in cal.template.items() if slot == (eid, b))
            rows = events[events["event_id"] == pid]
            day0 = r.index.get_loc(rows["event_date"].iloc[0])
            port = r[list(rows["security"])].mean(axis=1).to_numpy()  # complete panel
            est = np.arange(day0 - 250, day0 - 10)
            fit = sm.OLS(port[est], sm.add_constant(r["MKT"].to_numpy()[est])).fit()
            days = np.arange(day0 + window[0], day0 + window[1] + 1)
            X_w = sm.add_constant(r["MKT"].to_numpy()[days])
            car = float((port[days] - X_w @ fit.params).sum())
            c = X_w.sum(axis=0)  # Mikkelson-Partch: var of a sum of prediction errors
            se = math.sqrt(len(days) * fit.scale + c @ fit.cov_params() @ c)
            car_b, t_b = cars[eid][0][b], cars[eid][1][b]
            assert_allclose(car_b, car, rtol=1e-9, atol=1e-14)
            assert_allclose(t_b, car / se, rtol=1e-9)


# ----------------------------------------------------------------------------- SQ test


def _hand_sq(car: float, resid: np.ndarray, d: int) -> tuple[float, int]:
    sums = [sum(resid[j : j + d]) for j in range(len(resid) - d + 1)]
    below = sum(1 for s in sums if s <= car)
    above = sum(1 for s in sums if s >= car)
    n = len(sums)
    return min(1.0, 2 * min(1 + below, 1 + above) / (n + 1)), n


def test_sq_test_against_a_loop_over_statsmodels_residuals_on_real_prices(prices_dir: Path) -> None:
    def close(sym: str) -> pd.Series:
        f = pd.read_csv(prices_dir / f"{sym}.csv", parse_dates=["Date"], index_col="Date")
        return f["Close"]

    px = pd.DataFrame({s: close(s) for s in ("7203.T", "7201.T", "7269.T", "TOPIX")}).dropna()
    ret = px.pct_change().iloc[1:]
    events = pd.DataFrame(
        {"security": ["7203.T", "7201.T", "7269.T"], "event_date": pd.Timestamp("2025-12-04")}
    )
    res = es.event_study(ret, events, market="TOPIX", estimation=(-250, -11), window=(-5, 5))
    for w in ((0, 0), (0, 1), (-1, 1)):
        car = res.car(w).set_index("security")
        for sec in events["security"]:
            fit = res.fit_details(
                events["event_id"].iloc[0] if "event_id" in events else "2025-12-04", sec
            )
            resid = fit.resid.to_numpy()
            p, n = _hand_sq(float(car.loc[sec, "car"]), resid, w[1] - w[0] + 1)
            assert car.loc[sec, "n_sq"] == n
            assert_allclose(car.loc[sec, "p_sq"], p, rtol=1e-12)


def test_sq_test_size_for_one_firm_on_500_placebo_dates(prices_dir: Path) -> None:
    """Toyota alone on 500 dates of its own history: the SQ test's 5% rejections stay in the
    binomial band (it needs no normality)."""

    def close(sym: str) -> pd.Series:
        f = pd.read_csv(prices_dir / f"{sym}.csv", parse_dates=["Date"], index_col="Date")
        return f["Close"]

    px = pd.DataFrame({s: close(s) for s in ("7203.T", "TOPIX")}).dropna()
    ret = px.pct_change().iloc[1:]
    rng = np.random.default_rng(0)
    pos = np.sort(rng.choice(np.arange(260, len(ret) - 6), size=500, replace=False))
    events = pd.DataFrame(
        {
            "security": "7203.T",
            "event_date": ret.index[pos],
            "event_id": [f"d{i}" for i in range(500)],
        }
    )
    res = es.event_study(ret, events, market="TOPIX", estimation=(-250, -11), window=(-5, 5))
    p = res.car((0, 0))["p_sq"].to_numpy()
    rate = float(np.mean(p <= 0.05))
    lo, hi = sps.binom.ppf([0.005, 0.995], 500, 0.05) / 500  # 99% band: one firm, one test
    assert lo <= rate <= hi, rate


def test_sq_test_minimum_p_and_missing_values() -> None:
    ar_est = np.array([[0.01, -0.02, 0.005, 0.0, np.nan, 0.03]])
    p, n = st.sq_test(np.array([1.0]), ar_est, 1)  # beyond every estimation AR
    assert n[0] == 5 and p[0] == pytest.approx(2 / 6)
    p2, n2 = st.sq_test(np.array([0.0]), ar_est, 2)  # sums of two: (a,b),(b,c),(c,d) only
    assert n2[0] == 3
    sums = [-0.01, -0.015, 0.005]
    below, above = sum(s <= 0 for s in sums), sum(s >= 0 for s in sums)
    assert p2[0] == pytest.approx(min(1, 2 * min(1 + below, 1 + above) / 4))


# ----------------------------------------------------------------------------- attainable levels


def test_sign_tests_report_the_smallest_p_value_they_can_reach() -> None:
    x = np.array([0.01, -0.02, 0.03, 0.01, 0.02])
    r = st.sign(x)
    assert_allclose(r.min_p, 2 * sps.norm.sf(math.sqrt(5)))
    g = st.generalized_sign(x, 0.4)
    z_all = (5 - 5 * 0.4) / math.sqrt(5 * 0.4 * 0.6)
    z_none = (0 - 5 * 0.4) / math.sqrt(5 * 0.4 * 0.6)
    assert_allclose(g.min_p, 2 * sps.norm.sf(max(abs(z_all), abs(z_none))))
    w = st.wilcoxon(x[[0, 1, 2]])  # 3 untied values: smallest exact two-sided p is 2/2^3
    assert_allclose(w.min_p, 0.25)


def test_corrado_sign_with_seven_clustered_firms_cannot_reach_five_percent() -> None:
    """The kei-car case: with the daily mean signs of 7 correlated firms varying a lot, even
    all 7 on the same side of their medians on day 0 gives p > 0.05; the table says so."""
    r = _panel(7, 700, seed=5, common=0.8, df=None)
    ev = _study(r, [650], 7)
    res = es.event_study(r, ev, estimation=(-250, -11), window=(-5, 5))
    row = res.aar_tests((0, 0)).set_index("test").loc["corrado_sign"]
    assert row["min_p"] > 0.05
    assert row["p_value"] >= row["min_p"] - 1e-12
    continuous = res.aar_tests((0, 0)).set_index("test").loc["t_test"]
    assert np.isnan(continuous["min_p"])


# ----------------------------------------------------------------------------- the verdict's test


def _sizes(rows: list[tuple[str, str, float, float, float]], n: int = 1000) -> pd.DataFrame:
    """A calibrated caar_tests(by="event_id") stand-in: event, test, size, CI low, CI high."""
    return pd.DataFrame(
        [
            {"event_id": e, "test": t, "size_5pct": s, "size_ci_low": lo, "size_ci_high": hi,
             "n_placebo": n}
            for e, t, s, lo, hi in rows
        ]
    )  # fmt: skip


def test_the_verdict_takes_the_first_test_valid_on_every_event() -> None:
    from eventstudy.verdict import PORTFOLIO_TEST, choose_test

    tests = _sizes(
        [
            ("A", "portfolio", 0.021, 0.013, 0.032),  # under-rejects on A: not valid here
            ("B", "portfolio", 0.050, 0.037, 0.065),
            ("A", "sur_wald_mean", 0.050, 0.037, 0.065),
            ("B", "sur_wald_mean", 0.110, 0.091, 0.131),  # over-rejects on B
            ("A", "brown_warner_1985", 0.048, 0.035, 0.063),
            ("B", "brown_warner_1985", 0.055, 0.042, 0.071),
        ]
    )
    choice = choose_test(tests)
    assert choice.test == "brown_warner_1985"
    assert choice.p_column == "p_value" and choice.estimate == "mean"
    assert "4.8%-5.5% of 1000 placebo studies" in choice.reason
    # nothing calibrated: the portfolio test, as before
    assert choose_test(tests.drop(columns=["size_5pct"])) == PORTFOLIO_TEST
    assert choose_test(_sizes([("A", "portfolio", 0.05, 0.0, 0.2)], n=40)) == PORTFOLIO_TEST


def test_without_a_valid_test_the_verdict_uses_calibrated_p_values() -> None:
    from eventstudy.verdict import choose_test

    tests = _sizes([("A", t, 0.12, 0.10, 0.14) for t in ("portfolio", "sur_wald_mean", "t_test")])
    choice = choose_test(tests)
    assert choice.test == "portfolio" and choice.p_column == "p_calibrated"
    assert choice.interval_columns == ("ci_low_calibrated", "ci_high_calibrated")
    assert "no test kept its nominal 5% size" in choice.reason


def test_a_calibrated_study_answers_with_the_test_its_placebos_validate(calibrated) -> None:
    from eventstudy.verdict import choose_test, verdicts_from_results

    _, _, res = calibrated
    tests = res.caar_tests((0, 1), by="event_id")
    choice = choose_test(tests, min_placebos=50)
    verdicts = verdicts_from_results(res, (0, 1), choice=choice)
    pc = res.portfolio_car((0, 1)).set_index("event_id")
    for v in verdicts:
        row = tests[(tests["event_id"] == v.key) & (tests["test"] == choice.test)].iloc[0]
        assert v.p_value == pytest.approx(float(row[choice.p_column]))
        if choice.interval_columns is not None:
            lo, hi = choice.interval_columns
            assert (v.ci_low, v.ci_high) == pytest.approx((pc.loc[v.key, lo], pc.loc[v.key, hi]))
        assert choice.words in v.sentence


def test_read_these_first_marks_come_from_the_measured_sizes(calibrated) -> None:
    """The report's marks: valid here iff 5% is inside the measured size's interval, whatever
    the fixed list says; the table carries the measured size and the calibrated p-value."""
    from eventstudy import figures

    _, _, res = calibrated
    frame = figures.tests_frame(res, [(0, 1)], event_id="E000").set_index("test")
    tests = res.caar_tests((0, 1), by="event_id")
    tests = tests[tests["event_id"] == "E000"].set_index("test")
    inside = (tests["size_ci_low"] <= 0.05) & (0.05 <= tests["size_ci_high"])
    assert (frame["robust"] == inside.loc[frame.index]).all()
    assert_allclose(frame["p_calibrated"], tests.loc[frame.index, "p_calibrated"])
    assert_allclose(frame["size_5pct"], tests.loc[frame.index, "size_5pct"])


# --------------------------------------------------------------- the calibration's bound


@pytest.mark.parametrize(
    ("firm_events", "asked", "used"),
    [
        (14, 1000, 1000),  # the kei-car study: far below the bound
        (1000, 1000, 250),  # 250,000 // 1,000
        (2000, 1000, 125),  # 250,000 // 2,000
        (6838, 1000, 0),  # 36 would fit: under the 100 a measured size needs
        (6838, 0, 0),
    ],
)
def test_calibration_is_bounded_by_the_placebo_firm_events_it_fits(
    firm_events: int, asked: int, used: int
) -> None:
    import warnings
    from types import SimpleNamespace

    from eventstudy import runner
    from eventstudy.exceptions import CalibrationBoundWarning

    group = SimpleNamespace(events=pd.DataFrame({"security": ["x"] * firm_events}))
    assert runner.CALIBRATION_BOUND == 250_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = runner.calibration_draws(asked, group, "XNYS")  # type: ignore[arg-type]
    assert got == used
    said = [str(w.message) for w in caught if w.category is CalibrationBoundWarning]
    if used == asked:
        assert said == []
    else:
        (line,) = said
        assert f"{firm_events:,} firm-events on {asked} placebo dates" in line
        assert f"{firm_events * asked:,} placebo firm-events" in line
        assert ("not calibrated" in line) == (used == 0)
        assert "--calibrate N" in line


def test_a_bounded_calibration_runs_on_the_dates_that_fit(prices_dir: Path, monkeypatch) -> None:
    import warnings

    from eventstudy import runner
    from eventstudy.exceptions import CalibrationBoundWarning

    root = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(runner, "CALIBRATION_BOUND", 14 * 150)  # 14 firm-events x 150
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = runner.run_study(
            root / "configs" / "kei_cars.yaml", prices=prices_dir, analyses=False, calibrate=1000
        )
    assert any(w.category is CalibrationBoundWarning for w in caught)
    (res,) = run.results.values()
    assert res.calibration is not None and res.calibration.n_draws == 150
    tests = res.caar_tests((0, 1), by="event_id")
    assert (tests["n_placebo"] <= 150).all() and (tests["n_placebo"] >= 100).any()
