"""The results object and the front door: tables, exclusions, errors, warnings, robust tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy import stats as sps

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning, ConfigError, DataError
from eventstudy.stats import TEST_NAMES, TestResult

pytestmark = pytest.mark.filterwarnings("ignore::eventstudy.exceptions.ClusteredEventWarning")

DAY_A, DAY_B = 300, 340


def panel(n_sec: int = 5, n_days: int = 420, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=n_days)
    mkt = rng.normal(0.0004, 0.01, n_days)
    common = rng.normal(0, 0.006, n_days)  # industry shock: cross-correlated residuals
    data = {
        f"S{i}": (0.7 + 0.15 * i) * mkt + common + rng.normal(0, 0.012, n_days)
        for i in range(n_sec)
    }
    ret = pd.DataFrame(data, index=dates)
    ret.iloc[:120, 4] = np.nan
    ret["MKT"] = mkt
    return ret


def two_events(ret: pd.DataFrame) -> pd.DataFrame:
    secs = [c for c in ret.columns if c.startswith("S")]
    rows = [(s, ret.index[DAY_A]) for s in secs[:3]] + [(s, ret.index[DAY_B]) for s in secs[2:]]
    return pd.DataFrame(rows, columns=["security", "event_date"])


@pytest.fixture(scope="module")
def ret() -> pd.DataFrame:
    return panel()


@pytest.fixture(scope="module")
def res(ret: pd.DataFrame) -> es.EventStudyResults:
    return es.event_study(ret, two_events(ret), estimation=(-250, -11), window=(-5, 5))


def test_tables_have_the_documented_columns(res: es.EventStudyResults) -> None:
    assert list(res.params.columns) == [
        "event_id",
        "security",
        "alpha",
        "beta",
        "sigma",
        "n_obs",
        "r2",
    ]
    assert list(res.abnormal_returns.columns) == ["event_id", "security", "rel_day", "date", "ar"]
    assert len(res.abnormal_returns) == 6 * 11
    assert {"car", "bhar", "se", "statistic", "p_value"} <= set(res.car((0, 1)).columns)
    assert list(res.events.columns) == ["event_id", "security", "event_date"]
    assert list(res.excluded.columns) == ["event_id", "security", "reason"]
    assert list(res.clustering.columns) == ["event_id", "n_securities", "rbar", "design_effect"]
    aar = res.aar_tests((-1, 1))
    assert {"rel_day", "test", "statistic", "p_value"} <= set(aar.columns)
    assert set(aar["test"]) == set(TEST_NAMES)
    assert len(aar) == 3 * len(TEST_NAMES)
    caar = res.caar_tests((0, 1))
    assert {"test", "statistic", "p_value"} <= set(caar.columns)
    assert list(caar["test"][:3]) == ["portfolio", "sur_wald", "sur_wald_mean"]  # robust first


def test_settings_are_exposed(res: es.EventStudyResults) -> None:
    assert res.window == (-5, 5)
    assert res.estimation == (-250, -11)
    assert res.model == "market"
    assert res.convention == "textbook"


def test_event_id_defaults_to_the_event_date(ret: pd.DataFrame, res: es.EventStudyResults) -> None:
    ids = sorted(res.events["event_id"].unique())
    assert ids == [ret.index[DAY_A].strftime("%Y-%m-%d"), ret.index[DAY_B].strftime("%Y-%m-%d")]


def test_results_are_immutable(res: es.EventStudyResults) -> None:
    with pytest.raises(AttributeError):
        res.window = (0, 1)  # type: ignore[misc]
    table = res.params
    table.loc[0, "beta"] = 99.0
    assert res.params.loc[0, "beta"] != 99.0


def test_test_results_are_value_objects(res: es.EventStudyResults) -> None:
    tr = res.test_results((0, 1))
    assert set(tr) == set(TEST_NAMES)
    assert all(isinstance(v, TestResult) for v in tr.values())
    caar = res.caar_tests((0, 1)).set_index("test")
    assert_allclose(tr["patell"].statistic, caar.loc["patell", "statistic"])
    by = res.test_results((0, 1), by="event_id")
    assert len(by) == 2


def test_by_event_gives_one_block_per_event(res: es.EventStudyResults) -> None:
    caar = res.caar_tests((0, 1), by="event_id")
    assert caar.columns[0] == "event_id"
    assert caar.groupby("event_id").size().tolist() == [len(TEST_NAMES)] * 2
    aar = res.aar_tests((0, 0), by="event_id")
    assert aar["event_id"].nunique() == 2


def test_staggered_events_pool_in_event_time(ret: pd.DataFrame, res: es.EventStudyResults) -> None:
    ar = res.abnormal_returns
    day0 = ar[ar["rel_day"] == 0]
    assert set(day0["date"]) == {ret.index[DAY_A], ret.index[DAY_B]}
    row = res.aar_tests((0, 0)).set_index("test").loc["t_test"]
    t = row["statistic"]
    x = day0["ar"].to_numpy()
    assert_allclose(row["aar"], x.mean(), rtol=1e-12)
    assert row["n"] == 6
    assert_allclose(t, x.mean() / (x.std(ddof=1) / np.sqrt(len(x))), rtol=1e-12)


def test_clustering_matches_pandas_correlation_of_statsmodels_residuals(
    ret: pd.DataFrame, res: es.EventStudyResults
) -> None:
    resid = {}
    for s in ["S2", "S3", "S4"]:
        sl = ret.iloc[DAY_B - 250 : DAY_B - 10][[s, "MKT"]].dropna()
        resid[s] = sm.OLS(sl[s], sm.add_constant(sl["MKT"])).fit().resid
    corr = pd.DataFrame(resid).corr()  # pairwise-complete
    got = res.residual_correlation(ret.index[DAY_B].strftime("%Y-%m-%d"))
    assert_allclose(got.loc[["S2", "S3", "S4"], ["S2", "S3", "S4"]], corr, rtol=1e-9)
    rbar = corr.to_numpy()[~np.eye(3, dtype=bool)].mean()
    row = res.clustering.set_index("event_id").loc[ret.index[DAY_B].strftime("%Y-%m-%d")]
    assert_allclose(row["rbar"], rbar, rtol=1e-9)
    assert_allclose(row["design_effect"], 1 + 2 * rbar, rtol=1e-9)


def test_clustered_warning_once_per_event(ret: pd.DataFrame) -> None:
    events = two_events(ret)
    events = pd.concat([events, pd.DataFrame({"security": ["S0"], "event_date": [ret.index[380]]})])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es.event_study(ret, events, estimation=(-250, -11), window=(-5, 5))
    clustered = [w for w in caught if issubclass(w.category, ClusteredEventWarning)]
    assert len(clustered) == 2  # the single-security event does not warn
    assert "3 securities share day 0" in str(clustered[0].message)


@pytest.mark.parametrize("collect", ["arrays", "summary"])
def test_a_fit_without_warnings_raises_none_and_changes_nothing(
    ret: pd.DataFrame, res: es.EventStudyResults, collect: str
) -> None:
    kw = {"estimation": (-250, -11), "window": (-5, 5), "collect": collect}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = es.event_study(ret, two_events(ret), warn=False, **kw)
    assert not [w for w in caught if issubclass(w.category, ClusteredEventWarning)]
    # the clustering itself is there, as a warned fit computes it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loud = es.event_study(ret, two_events(ret), **kw)
    pd.testing.assert_frame_equal(quiet.clustering, loud.clustering, check_exact=True)
    assert (quiet.clustering["n_securities"] == 3).all()  # both events share day 0


def test_portfolio_path_uses_its_own_estimation_variance(
    ret: pd.DataFrame, res: es.EventStudyResults
) -> None:
    secs = ["S0", "S1", "S2"]
    port = ret[secs].mean(axis=1)
    est = slice(DAY_A - 250, DAY_A - 10)
    X = sm.add_constant(ret["MKT"].iloc[est])
    ols = sm.OLS(port.iloc[est], X).fit()
    w = slice(DAY_A - 5, DAY_A + 6)
    Xw = sm.add_constant(ret["MKT"].iloc[w]).to_numpy()
    ar = port.iloc[w].to_numpy() - Xw @ ols.params.to_numpy()
    V = ols.scale * (np.eye(11) + Xw @ np.linalg.inv(X.T @ X) @ Xw.T)
    paths = res.car_paths()
    p = paths[
        (paths["security"] == "portfolio")
        & (paths["event_id"] == ret.index[DAY_A].strftime("%Y-%m-%d"))
    ]
    assert_allclose(p["car"].to_numpy(), np.cumsum(ar), rtol=1e-9)
    se = [np.sqrt(V[: k + 1, : k + 1].sum()) for k in range(11)]
    assert_allclose(p["se"].to_numpy(), se, rtol=1e-9)
    # from day 0 (the CAR chart's start): the same sums over the later days only
    p0 = res.car_paths(0)
    p0 = p0[
        (p0["security"] == "portfolio") & (p0["event_id"] == ret.index[DAY_A].strftime("%Y-%m-%d"))
    ]
    assert list(p0["rel_day"]) == list(range(0, 6))
    assert_allclose(p0["car"].to_numpy(), np.cumsum(ar[5:]), rtol=1e-9)
    se0 = [np.sqrt(V[5 : 6 + k, 5 : 6 + k].sum()) for k in range(6)]
    assert_allclose(p0["se"].to_numpy(), se0, rtol=1e-9)
    # the daily portfolio test on one event is AR_p / (s_p sqrt(1 + x'(X'X)^-1 x))
    tests = res.aar_tests((0, 0), by="event_id")
    stat = tests[
        (tests["test"] == "portfolio")
        & (tests["event_id"] == ret.index[DAY_A].strftime("%Y-%m-%d"))
    ]["statistic"].iloc[0]
    assert_allclose(stat, ar[5] / np.sqrt(V[5, 5]), rtol=1e-9)


def test_sur_wald_equals_the_event_dummy_regression(ret: pd.DataFrame) -> None:
    secs = ["S0", "S1", "S2"]
    events = pd.DataFrame({"security": secs, "event_date": ret.index[DAY_A]})
    res = es.event_study(ret, events, estimation=(-250, -11), window=(-2, 2))
    # Schipper-Thompson / Binder: y_i on [1, m, D_0, D_1] over estimation + tested days
    rows = [*range(DAY_A - 250, DAY_A - 10), DAY_A, DAY_A + 1]
    m = ret["MKT"].iloc[rows].to_numpy()
    D = np.zeros((len(rows), 2))
    D[-2, 0] = D[-1, 1] = 1.0
    Z = np.column_stack([np.ones(len(rows)), m, D])
    Y = ret[secs].iloc[rows].to_numpy()
    B = np.linalg.solve(Z.T @ Z, Z.T @ Y)
    E = Y - Z @ B
    Sigma = E.T @ E / (len(rows) - 4)
    car = B[2] + B[3]
    ZtZi = np.linalg.inv(Z.T @ Z)
    c = np.array([0, 0, 1, 1.0])
    cov = Sigma * (c @ ZtZi @ c)
    wald = car @ np.linalg.inv(cov) @ car
    nu = len(rows) - 4  # = 240 estimation days - 2 parameters
    f = wald * (nu - 3 + 1) / (nu * 3)  # Hotelling T^2 -> F(3, nu - 2)
    got = res.caar_tests((0, 1)).set_index("test")
    assert_allclose(got.loc["sur_wald", "statistic"], f, rtol=1e-8)
    assert_allclose(got.loc["sur_wald", "p_value"], sps.f.sf(f, 3, nu - 2), rtol=1e-8)
    assert got.loc["sur_wald", "df"] == 3
    mean_w = car.mean() ** 2 / (cov.sum() / 9)
    assert_allclose(got.loc["sur_wald_mean", "statistic"], mean_w, rtol=1e-8)
    assert_allclose(got.loc["sur_wald_mean", "p_value"], sps.f.sf(mean_w, 1, nu), rtol=1e-8)


def test_sur_wald_too_many_securities_is_a_note_not_a_failure() -> None:
    rng = np.random.default_rng(5)
    n_days, n_sec = 160, 30
    dates = pd.bdate_range("2021-01-01", periods=n_days)
    ret = pd.DataFrame(rng.normal(0, 0.01, (n_days, n_sec)), index=dates)
    ret.columns = [f"X{i}" for i in range(n_sec)]
    ret["MKT"] = rng.normal(0, 0.01, n_days)
    events = pd.DataFrame({"security": list(ret.columns[:-1]), "event_date": dates[150]})
    res = es.event_study(ret, events, estimation=(-30, -6), window=(-2, 2), min_estimation_obs=20)
    caar = res.caar_tests((0, 1)).set_index("test")
    assert np.isnan(caar.loc["sur_wald", "statistic"])
    assert np.isfinite(caar.loc["portfolio", "statistic"])
    notes = res.test_notes
    assert list(notes["test"]) == ["sur_wald", "sur_wald_mean"]
    assert "30 securities" in notes["reason"].iloc[0]


def test_exclusions_carry_reasons(ret: pd.DataFrame) -> None:
    r = ret.copy()
    r["FLAT"] = 0.0
    r["NEW"] = np.nan
    r.iloc[290:, r.columns.get_loc("NEW")] = 0.01 * np.sin(np.arange(len(r) - 290))
    events = pd.DataFrame(
        {
            "security": ["S0", "FLAT", "NEW", "S1", "GHOST", "S2"],
            "event_date": [
                r.index[DAY_A],
                r.index[DAY_A],
                r.index[DAY_A],
                pd.Timestamp("2019-01-05"),  # a Saturday: not a session
                r.index[DAY_A],
                r.index[len(r) - 2],  # window runs past the data
            ],
        }
    )
    res = es.event_study(r, events, estimation=(-250, -11), window=(-5, 5))
    why = res.excluded.set_index("security")["reason"]
    assert "zero or undefined residual variance" in why["FLAT"]
    assert "estimation observations" in why["NEW"]
    assert "not a session" in why["S1"]
    assert "not a column" in why["GHOST"]
    assert "runs after the last session" in why["S2"]
    assert list(res.events["security"]) == ["S0"]
    assert np.isfinite(res.abnormal_returns["ar"]).all()


def test_missing_returns_in_the_window_are_reported(ret: pd.DataFrame) -> None:
    r = ret.copy()
    r.iloc[DAY_A + 1, 0] = np.nan
    events = pd.DataFrame({"security": ["S0"], "event_date": [r.index[DAY_A]]})
    res = es.event_study(r, events, estimation=(-250, -11), window=(-2, 2))
    ar = res.abnormal_returns.set_index("rel_day")["ar"]
    assert np.isnan(ar[1])
    assert res.car((0, 2))["n_days"].iloc[0] == 2


def test_all_excluded_raises_data_error(ret: pd.DataFrame) -> None:
    events = pd.DataFrame({"security": ["S0"], "event_date": [ret.index[100]]})
    with pytest.raises(DataError, match="every firm-event was excluded"):
        es.event_study(ret, events, estimation=(-250, -11), window=(-5, 5))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": "fama"}, "model"),
        ({"convention": "R"}, "convention"),
        ({"market": "SPX"}, "market"),
        ({"estimation": (-100, 0)}, "estimation"),
        ({"window": (5, -5)}, "window"),
        ({"model": "factor"}, "factors"),
        ({"model": "factor", "factors": ["FX"]}, "factors"),
        ({"min_estimation_obs": 2}, "min_estimation_obs"),
    ],
)
def test_bad_options_raise_one_line_config_errors(
    ret: pd.DataFrame, kwargs: dict, field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        es.event_study(ret, two_events(ret), **kwargs)
    assert field in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_inputs_raise(ret: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="DatetimeIndex"):
        es.event_study(ret.reset_index(drop=True), two_events(ret))
    with pytest.raises(ConfigError, match="event_date"):
        es.event_study(ret, pd.DataFrame({"security": ["S0"]}))
    text = ret.assign(S0=ret["S0"].map(lambda v: f"{v:.4f}%"))
    with pytest.raises(DataError, match="S0: returns are not numeric"):
        es.event_study(text, two_events(ret))
    dup = pd.concat([two_events(ret)] * 2)
    with pytest.raises(ConfigError, match="at most once"):
        es.event_study(ret, dup)


def test_windows_outside_the_computed_window_are_rejected(res: es.EventStudyResults) -> None:
    with pytest.raises(ConfigError, match="inside the computed window"):
        res.car((0, 9))
    with pytest.raises(ConfigError, match="event_id"):
        res.residual_correlation("1999-01-01")


def test_explicit_event_ids_define_the_clusters(ret: pd.DataFrame) -> None:
    events = two_events(ret)
    events["event_id"] = ["a", "a", "b", "c", "c", "c"]
    res = es.event_study(ret, events, estimation=(-250, -11), window=(-5, 5))
    assert res.clustering.set_index("event_id")["n_securities"].to_dict() == {
        "a": 2,
        "b": 1,
        "c": 3,
    }


A, B = "DAY_A", "DAY_B"  # stand-ins for the two event dates in the expected ids


@pytest.mark.parametrize(
    ("ids", "want"),
    [
        (["a", "a", None, "c", "c", "c"], ["a", "a", A, "c", "c", "c"]),
        ([1, 1, None, 3, 3, 3], ["1.0", "1.0", A, "3.0", "3.0", "3.0"]),  # floats with NaN
        ([None] * 6, [A, A, A, B, B, B]),
    ],
)
def test_missing_event_ids_take_the_event_date_and_others_their_text(
    ret: pd.DataFrame, ids: list, want: list[str]
) -> None:
    events = two_events(ret)  # rows 0-2 on DAY_A, 3-5 on DAY_B
    events["event_id"] = pd.Series(ids, dtype=object) if ids[0] is None else ids
    res = es.event_study(ret, events, estimation=(-250, -11), window=(-5, 5))
    dates = {A: ret.index[DAY_A].strftime("%Y-%m-%d"), B: ret.index[DAY_B].strftime("%Y-%m-%d")}
    expected = {(dates.get(w, w), s) for w, s in zip(want, events["security"], strict=True)}
    got = set(zip(res.events["event_id"], res.events["security"], strict=True))
    assert got == expected


def test_fit_details_are_statsmodels_results_with_hac(
    ret: pd.DataFrame, res: es.EventStudyResults
) -> None:
    eid = ret.index[DAY_A].strftime("%Y-%m-%d")
    plain = res.fit_details(eid, "S1")
    hac = res.fit_details(eid, "S1", cov_type="HAC", maxlags=5)
    row = res.params.set_index(["event_id", "security"]).loc[(eid, "S1")]
    assert_allclose(plain.params.to_numpy(), row[["alpha", "beta"]].to_numpy(float), rtol=1e-9)
    assert_allclose(plain.params, hac.params)
    assert hac.cov_type == "HAC"
    assert not np.allclose(plain.bse, hac.bse)
    with pytest.raises(ConfigError):
        res.fit_details(eid, "S4")  # S4 is not in the first event


def test_summary_text_and_html(res: es.EventStudyResults) -> None:
    text = str(res)
    assert "Tests of the mean CAR" in text and "kolari_pynnonen" in text
    assert "Clustered event dates" in text
    html = res._repr_html_()
    assert "<table" in html
    assert "EventStudyResults" in repr(res)


def test_estudy2_and_other_models_run(ret: pd.DataFrame) -> None:
    for kw in (
        {"convention": "estudy2"},
        {"model": "constant_mean"},
        {"model": "market_adjusted"},
        {"market": ret["MKT"]},
    ):
        r = es.event_study(ret, two_events(ret), estimation=(-250, -11), window=(-3, 3), **kw)
        table = r.caar_tests((0, 1))
        assert np.isfinite(table.set_index("test").loc["t_test", "statistic"])


@pytest.mark.parametrize(
    ("method", "func", "kwargs"),
    [
        ("plot_ar", "plot_ar", {"event_id": None}),
        ("plot_car", "plot_car", {"event_id": None}),
        ("plot_heatmap", "plot_heatmap", {"window": (0, 1)}),
        ("plot_forest", "plot_forest", {"window": (0, 1)}),
        ("plot_diagnostics", "plot_diagnostics", {}),
        ("plot_residual_correlation", "plot_residual_correlation", {"event_id": None}),
        ("plot_tests", "plot_tests", {"windows": None}),
    ],
)
def test_plots_delegate_to_figures(
    res: es.EventStudyResults, monkeypatch: pytest.MonkeyPatch, method: str, func: str, kwargs
) -> None:
    from eventstudy import figures

    calls = []
    monkeypatch.setattr(figures, func, lambda r, **kw: calls.append((r, kw)) or "fig")
    assert getattr(res, method)() == "fig"
    assert calls == [(res, kwargs)]


def test_portfolio_bootstrap(ret: pd.DataFrame, res: es.EventStudyResults) -> None:
    boot = res.portfolio_bootstrap((0, 2), n_boot=1999, seed=1)
    assert list(boot.columns) == ["event_id", "car", "p_value", "n_boot"]
    paths = res.car_paths()
    port = paths[(paths["security"] == "portfolio") & (paths["rel_day"] == 2)]
    start = paths[(paths["security"] == "portfolio") & (paths["rel_day"] == -1)]
    assert_allclose(boot["car"], port["car"].to_numpy() - start["car"].to_numpy(), rtol=1e-9)
    assert ((boot["p_value"] > 0) & (boot["p_value"] <= 1)).all()
    shocked = ret.copy()
    shocked.iloc[DAY_A, :3] += 0.2
    big = es.event_study(shocked, two_events(ret), estimation=(-250, -11), window=(-5, 5))
    p = big.portfolio_bootstrap((0, 0), n_boot=999).set_index("event_id")["p_value"]
    assert p.iloc[0] == 1 / 1000  # nothing in the estimation window comes close to +20%


def test_single_security_events_run_without_numpy_warnings(ret: pd.DataFrame) -> None:
    # pytest turns warnings into errors: a one-firm event must not trip "ddof <= 0"
    events = pd.DataFrame(
        {"security": ["S0", "S1"], "event_date": [ret.index[DAY_A], ret.index[DAY_B]]}
    )
    for convention in ("textbook", "estudy2"):
        res = es.event_study(
            ret, events, estimation=(-250, -11), window=(-3, 3), convention=convention
        )
        by_event = res.caar_tests((0, 1), by="event_id")
        assert np.isnan(by_event.set_index("test").loc["t_test", "statistic"]).all()
        assert np.isfinite(by_event.set_index("test").loc["portfolio", "statistic"]).all()
        res.aar_tests(by="event_id")
        str(res)


def test_window_grank_matches_kolari_pynnonen_by_hand(ret: pd.DataFrame) -> None:
    secs = ["S0", "S1", "S2", "S3", "S4"]  # S4 has a shorter estimation window
    events = pd.DataFrame({"security": secs, "event_date": ret.index[DAY_B]})
    res = es.event_study(ret, events, estimation=(-250, -11), window=(-2, 2))
    est = ret.iloc[DAY_B - 250 : DAY_B - 10]
    win = ret.iloc[DAY_B : DAY_B + 2]  # CAR window (0, 1)
    sr, scar = {}, []
    for s in secs:
        sample = est[[s, "MKT"]].dropna()
        X = sm.add_constant(sample["MKT"])
        ols = sm.OLS(sample[s], X).fit()
        sr[s] = ols.resid / np.sqrt(ols.scale)
        Xw = sm.add_constant(win["MKT"], has_constant="add").to_numpy()
        V = ols.scale * (np.eye(2) + Xw @ np.linalg.inv(X.T @ X) @ Xw.T)
        car = np.sum(win[s].to_numpy() - Xw @ ols.params.to_numpy())
        scar.append(car / np.sqrt(V.sum()))
    scar_star = np.array(scar) / np.std(scar, ddof=1)
    U = pd.DataFrame(index=[*est.index, "event"], columns=secs, dtype=float)
    for s, x in zip(secs, scar_star, strict=True):
        values = np.append(sr[s].to_numpy(), x)
        u = sps.rankdata(values) / (len(values) + 1) - 0.5
        U.loc[sr[s].index, s] = u[:-1]
        U.loc["event", s] = u[-1]
    ubar = U.mean(axis=1)  # over the securities observed that day
    n_t = U.notna().sum(axis=1)
    T = len(U)
    s_u = np.sqrt(np.sum(n_t / 5 * ubar**2) / T)
    z = ubar["event"] / s_u
    t_grank = z * np.sqrt((T - 2) / (T - 1 - z**2))
    got = res.caar_tests((0, 1)).set_index("test").loc["grank"]
    assert_allclose(got["statistic"], t_grank, rtol=1e-9)
    assert_allclose(got["p_value"], 2 * sps.t.sf(abs(t_grank), T - 2), rtol=1e-8)


def test_tz_aware_event_dates_keep_their_local_day(ret: pd.DataFrame) -> None:
    day = ret.index[DAY_A]
    tokyo = pd.Timestamp(day.year, day.month, day.day, 0, 30, tz="Asia/Tokyo")
    events = pd.DataFrame({"security": ["S0"], "event_date": [tokyo]})
    res = es.event_study(ret, events, estimation=(-250, -11), window=(-2, 2))
    assert res.events["event_date"].iloc[0] == day
    with pytest.raises(ConfigError, match="event_date"):
        es.event_study(ret, pd.DataFrame({"security": ["S0"], "event_date": ["soon"]}))


def test_notes_flag_one_firm_events_and_sur_gaps(ret: pd.DataFrame) -> None:
    r = ret.copy()
    r.iloc[DAY_B + 2, r.columns.get_loc("S3")] = np.nan  # S3 misses day +2 of event B
    res = es.event_study(r, two_events(ret), estimation=(-250, -11), window=(-5, 5))
    notes = res.test_notes
    b = ret.index[DAY_B].strftime("%Y-%m-%d")
    sur = notes[(notes["event_id"] == b) & (notes["test"] == "sur_wald")]["reason"].iloc[0]
    assert "S3" in sur and "+2" in sur
    by = res.caar_tests((0, 3), by="event_id").set_index(["event_id", "test"])["statistic"]
    assert np.isnan(by[(b, "sur_wald")])
    assert np.isfinite(by[(b, "t_test")])
    one = pd.DataFrame({"security": ["S0"], "event_date": [ret.index[DAY_A]]})
    single = es.event_study(ret, one, estimation=(-250, -11), window=(-5, 5))
    table = single.caar_tests((0, 1))
    nan = set(table.loc[table["statistic"].isna(), "test"])
    assert nan and nan <= set(single.test_notes["test"])


def test_tables_are_computed_once_and_handed_out_as_copies(res: es.EventStudyResults) -> None:
    first = res.caar_tests((0, 1), by="event_id")
    first["statistic"] = 0.0  # a caller's edit must not reach the results
    first["extra"] = 1
    again = res.caar_tests([0, 1], by="event_id")  # a list window is the same request
    assert "extra" not in again and (again["statistic"] != 0.0).any()
    memo = res.__dict__["_memo"]
    assert sum(key == ("caar_tests", ((0, 1),), (("by", "event_id"),)) for key in memo) == 1
    pd.testing.assert_frame_equal(res.car((0, 1)), res.car((0, 1)))


def test_by_event_on_200_events_equals_200_separate_studies() -> None:
    """One engine call, one battery block per event == each event studied on its own."""
    rng = np.random.default_rng(11)
    n_days, n_sec = 700, 12
    dates = pd.bdate_range("2018-01-01", periods=n_days)
    mkt = rng.normal(0.0003, 0.01, n_days)
    common = rng.normal(0, 0.005, n_days)
    ret = pd.DataFrame(
        {
            f"S{i}": mkt * (0.6 + 0.1 * i) + common + rng.normal(0, 0.015, n_days)
            for i in range(n_sec)
        },
        index=dates,
    )
    ret.iloc[50:70, 2] = np.nan
    ret["MKT"] = mkt
    rows = []
    for e in range(200):
        day = 300 + int(rng.integers(0, 390))
        members = rng.choice(n_sec, size=int(rng.integers(1, 5)), replace=False)
        rows += [(f"S{m}", dates[day], f"E{e:03d}") for m in members]
    events = pd.DataFrame(rows, columns=["security", "event_date", "event_id"])
    kw = {"estimation": (-250, -11), "window": (-3, 3)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = es.event_study(ret, events, **kw)
        by_car = res.caar_tests((0, 1), by="event_id").set_index(["event_id", "test"])
        by_aar = res.aar_tests((-1, 1), by="event_id").set_index(["event_id", "rel_day", "test"])
        for eid, g in events.groupby("event_id"):
            alone = es.event_study(ret, g, **kw)
            car = alone.caar_tests((0, 1)).set_index("test")
            got = by_car.loc[eid].loc[car.index]
            assert_allclose(got["statistic"], car["statistic"], rtol=1e-9, atol=1e-12)
            assert_allclose(got["p_value"], car["p_value"], rtol=1e-9, atol=1e-12)
            aar = alone.aar_tests((-1, 1)).set_index(["rel_day", "test"])
            got = by_aar.loc[eid].loc[aar.index]
            assert_allclose(got["p_value"], aar["p_value"], rtol=1e-9, atol=1e-12)


def test_caar_tests_of_chosen_tests_are_those_rows_of_the_full_table(
    res: es.EventStudyResults,
) -> None:
    """``tests=`` computes only the named tests (in TEST_NAMES order): the same rows, to the
    bit, as the full table's, for every block; an unknown name is one clear error."""
    full = res.caar_tests((0, 1), by="event_id")
    chosen = res.caar_tests((0, 1), by="event_id", tests=["grank", "portfolio"])
    assert list(chosen["test"].unique()) == ["portfolio", "grank"]
    want = full[full["test"].isin(["portfolio", "grank"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(chosen, want)
    with pytest.raises(ConfigError, match=r"tests.*'grnak'"):
        res.caar_tests((0, 1), tests=["grnak"])


def _sur_case(seed: int = 3) -> dict:
    """Events of three securities on one market: complete events, one with a security
    missing an estimation day (not the others), one whose securities have different day-0
    designs; the own fit of every row by numpy least squares on its own observed days."""
    rng = np.random.default_rng(seed)
    G, N, L, W = 6, 3, 60, 5
    Xe = np.stack([np.ones((G, L)), rng.normal(0, 0.01, (G, L))], axis=2)
    Xw = np.stack([np.ones((G, W)), rng.normal(0, 0.01, (G, W))], axis=2)
    common = rng.normal(0, 0.006, (G, 1, L + W))
    beta = rng.uniform(0.5, 1.5, (G, N, 1))
    m = np.concatenate([Xe[..., 1], Xw[..., 1]], axis=1)[:, None, :]
    Y = beta * m + common + rng.normal(0, 0.01, (G, N, L + W))
    Y[1, 2, 7] = np.nan  # event 1: one security misses a day the others have
    Y[2, :, 11] = np.nan  # event 2: a day nobody has (common to all: still "same days")
    y_est, y_win = Y[..., :L].reshape(G * N, L), Y[..., L:].reshape(G * N, W)
    X_rows = np.repeat(Xe, N, axis=0)
    ar_est = np.full((G * N, L), np.nan)
    ar_win = np.empty((G * N, W))
    xtx_inv = np.empty((G * N, 2, 2))
    for k in range(G * N):
        ok = np.isfinite(y_est[k])
        b = np.linalg.lstsq(X_rows[k][ok], y_est[k][ok], rcond=None)[0]
        ar_est[k, ok] = y_est[k][ok] - X_rows[k][ok] @ b
        ar_win[k] = y_win[k] - Xw[k // N] @ b
        xtx_inv[k] = np.linalg.inv(X_rows[k][ok].T @ X_rows[k][ok])
    shared = np.ones(G, dtype=bool)
    shared[3] = False  # event 3: its securities do not share day 0 (fitted again)
    return dict(G=G, N=N, L=L, Xe=Xe, Xw=Xw, y_est=y_est, y_win=y_win, ar_est=ar_est,
                ar_win=ar_win, xtx_inv=xtx_inv, shared=shared)  # fmt: skip


def test_sur_fit_from_own_regressions_equals_a_per_event_regression() -> None:
    from eventstudy import battery as bt
    from eventstudy.stats import Blocks

    c = _sur_case()
    G, N = c["G"], c["N"]
    clusters = Blocks.from_sizes(np.full(G, N))
    args = ("market", 2, c["y_est"], c["Xe"], c["y_win"], c["Xw"], clusters)
    own = bt.OwnFit(c["ar_est"], c["ar_win"], c["xtx_inv"], c["shared"])
    fits = {"refit": bt.fit_sur(*args), "own": bt.fit_sur(*args, own=own)}
    S = np.zeros((2, c["Xw"].shape[1]))
    S[0, 2] = 1.0  # day 0
    S[1, 1:4] = 1.0  # (-1, 1)
    for g in range(G):  # Schipper-Thompson on the common days, by numpy on one event
        Y = c["y_est"][g * N : (g + 1) * N].T
        X = c["Xe"][g]
        ok = np.isfinite(Y).all(axis=1)
        B = np.linalg.lstsq(X[ok], Y[ok], rcond=None)[0]
        E = Y[ok] - X[ok] @ B
        nu = ok.sum() - 2
        Sigma = E.T @ E / nu
        R = c["y_win"][g * N : (g + 1) * N].T - c["Xw"][g] @ B  # (W, N)
        inv = np.linalg.inv(X[ok].T @ X[ok])
        for j, row in enumerate(S):
            s = row @ c["Xw"][g]
            V = Sigma * (row.sum() + s @ inv @ s)
            car = row @ R
            w = car @ np.linalg.solve(V, car)
            for name, fit in fits.items():
                got = fit.window_stats(S)
                assert_allclose(got["w"][g, j], w, rtol=1e-10, err_msg=f"{name} event {g}")
                assert_allclose(got["car_sum"][g, j], car.sum(), rtol=1e-10)
                assert_allclose(got["var_sum"][g, j], V.sum(), rtol=1e-10)
        for fit in fits.values():
            assert fit.nu[g] == nu
            assert_allclose(fit.sum_sigma[g], Sigma.sum(), rtol=1e-10)
    # event 1's securities are not observed on the same days and event 3's do not share
    # day 0: both are fitted again; the others read their own regressions (marked here by
    # window abnormal returns moved by 1)
    moved = bt.OwnFit(c["ar_est"], c["ar_win"] + 1.0, c["xtx_inv"], c["shared"])
    shift = bt.fit_sur(*args, own=moved).window_stats(S)["car_sum"][:, 0]
    shift -= fits["refit"].window_stats(S)["car_sum"][:, 0]
    assert_allclose(shift, [N, 0, N, 0, N, N], atol=1e-9)


@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_block_means_of_equal_size_events_are_nan_means_per_event(missing: float) -> None:
    from eventstudy.stats import Blocks, segment_matrix

    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.02, (7 * 40, 30))
    if missing:  # some returns missing, and an event without any return on day 3
        x[rng.random(x.shape) < missing] = np.nan
        x[:7, 3] = np.nan
    blocks = Blocks.from_sizes(np.full(40, 7))
    got = blocks.mean(x)  # equal sizes: read as one (events, firms, days) array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN day
        want = np.nanmean(x.reshape(40, 7, 30), axis=1)
    assert_allclose(got, want, rtol=1e-14, atol=0)
    assert np.isnan(got[0, 3]) == bool(missing)
    # the same additions as the sparse block sums of unequal blocks: equal to the last bit
    ok = np.isfinite(x)
    S = segment_matrix(blocks.index, len(blocks))
    sparse = (S @ np.where(ok, x, 0.0)) / np.maximum(S @ ok.astype(float), 1)
    sparse[(S @ ok.astype(float)) == 0] = np.nan
    assert np.array_equal(got, sparse, equal_nan=True)
    # also for a column-major array and a single column of longer blocks (numpy would sum
    # those pairwise, not in row order)
    z = np.where(ok, x, 0.0)
    long = Blocks.from_sizes(np.full(7, 40))
    S = segment_matrix(long.index, len(long))
    for arr in (np.asfortranarray(z), z[:, :1]):
        assert np.array_equal(long.total(arr), np.asarray(S @ arr))
