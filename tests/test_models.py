"""Expected-return models: the vectorised OLS against statsmodels and direct matrix algebra."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning
from eventstudy.models import Design, batch_ols, build_design, fit_market_model


def panel(n_sec: int = 4, n_days: int = 400, seed: int = 0, holes: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    mkt = rng.normal(0.0005, 0.01, n_days)
    fx = rng.normal(0, 0.006, n_days)
    data = {
        f"S{i}": 0.0003 * i + (0.6 + 0.3 * i) * mkt - 0.2 * fx + rng.normal(0, 0.012, n_days)
        for i in range(n_sec)
    }
    ret = pd.DataFrame(data, index=dates)
    if holes:
        ret.iloc[:100, 1] = np.nan  # a recent IPO: shorter estimation window
        ret.iloc[[100, 150, 151], 2] = np.nan
    ret["MKT"] = mkt
    ret["USDJPY"] = fx
    return ret


def fit(ret: pd.DataFrame, day0: int = 320, **kw) -> es.EventStudyResults:
    events = pd.DataFrame({"security": [c for c in ret.columns if c.startswith("S")]})
    events["event_date"] = ret.index[day0]
    kw.setdefault("estimation", (-250, -11))
    kw.setdefault("window", (-5, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        return es.event_study(ret, events, **kw)


def estimation_sample(ret: pd.DataFrame, sec: str, day0: int = 320, est=(-250, -11)):
    sl = ret.iloc[day0 + est[0] : day0 + est[1] + 1]
    return sl[[sec, "MKT", "USDJPY"]].dropna()


@pytest.mark.parametrize("sec", ["S0", "S1", "S2", "S3"])
def test_market_model_matches_statsmodels(sec: str) -> None:
    ret = panel()
    res = fit(ret)
    row = res.params.set_index("security").loc[sec]
    sample = estimation_sample(ret, sec)
    ols = sm.OLS(sample[sec], sm.add_constant(sample["MKT"])).fit()
    assert_allclose(row["alpha"], ols.params["const"], rtol=1e-9, atol=1e-13)
    assert_allclose(row["beta"], ols.params["MKT"], rtol=1e-9)
    # textbook residual standard deviation: SSR / (L - 2), statsmodels' scale
    assert_allclose(row["sigma"], np.sqrt(ols.scale), rtol=1e-9)
    assert_allclose(row["r2"], ols.rsquared, rtol=1e-9)
    assert row["n_obs"] == ols.nobs


def test_missing_estimation_returns_shrink_the_window() -> None:
    res = fit(panel())
    n = res.params.set_index("security")["n_obs"]
    assert n["S0"] == 240
    assert n["S1"] == 210  # listed on session 100: estimation days 70..99 missing
    assert n["S2"] == 237


def test_estudy2_sigma_uses_ddof_one() -> None:
    ret = panel()
    res = fit(ret, convention="estudy2")
    sample = estimation_sample(ret, "S0")
    ols = sm.OLS(sample["S0"], sm.add_constant(sample["MKT"])).fit()
    sigma = res.params.set_index("security").loc["S0", "sigma"]
    assert_allclose(sigma, np.std(ols.resid, ddof=1), rtol=1e-9)


def test_factor_model_matches_statsmodels() -> None:
    ret = panel()
    res = fit(ret, model="factor", factors=["USDJPY"])
    row = res.params.set_index("security").loc["S3"]
    sample = estimation_sample(ret, "S3")
    ols = sm.OLS(sample["S3"], sm.add_constant(sample[["MKT", "USDJPY"]])).fit()
    assert_allclose(
        row[["alpha", "beta", "USDJPY"]].to_numpy(float), ols.params.to_numpy(), rtol=1e-8
    )
    assert_allclose(row["sigma"], np.sqrt(ols.scale), rtol=1e-9)


def test_factor_model_accepts_a_dataframe_of_factors() -> None:
    ret = panel()
    by_name = fit(ret, model="factor", factors=["USDJPY"]).params
    by_frame = fit(ret, model="factor", factors=ret[["USDJPY"]]).params
    assert_allclose(by_name["USDJPY"], by_frame["USDJPY"])


def test_dimson_lag_matches_statsmodels() -> None:
    ret = panel(holes=False)
    res = fit(ret, dimson_lags=1)
    row = res.params.set_index("security").loc["S2"]
    frame = pd.DataFrame({"y": ret["S2"], "m": ret["MKT"], "m1": ret["MKT"].shift(1)})
    sample = frame.iloc[320 - 250 : 320 - 10]
    ols = sm.OLS(sample["y"], sm.add_constant(sample[["m", "m1"]])).fit()
    assert_allclose(row[["alpha", "beta", "beta_lag1"]].to_numpy(float), ols.params, rtol=1e-8)
    assert_allclose(row["beta_dimson"], ols.params["m"] + ols.params["m1"], rtol=1e-8)


def test_constant_mean_model() -> None:
    ret = panel()
    res = fit(ret, model="constant_mean", market=None)
    sample = ret["S0"].iloc[70:310]
    row = res.params.set_index("security").loc["S0"]
    assert_allclose(row["alpha"], sample.mean(), rtol=1e-10)
    assert_allclose(row["sigma"], sample.std(ddof=1), rtol=1e-10)
    ar = res.abnormal_returns.query("security == 'S0' and rel_day == 0")["ar"].iloc[0]
    assert_allclose(ar, ret["S0"].iloc[320] - sample.mean(), rtol=1e-10)


def test_market_adjusted_model() -> None:
    ret = panel()
    res = fit(ret, model="market_adjusted")
    ar = res.abnormal_returns.query("security == 'S3'").set_index("rel_day")["ar"]
    expected = (ret["S3"] - ret["MKT"]).iloc[315:326].to_numpy()
    assert_allclose(ar.to_numpy(), expected, rtol=1e-12)
    est = (ret["S3"] - ret["MKT"]).iloc[70:310]
    sigma = res.params.set_index("security").loc["S3", "sigma"]
    assert_allclose(sigma, est.std(ddof=1), rtol=1e-10)
    # nothing estimated: the CAR variance is L2 sigma^2
    car = res.car((0, 3)).set_index("security").loc["S3"]
    assert_allclose(car["se"], sigma * 2.0, rtol=1e-12)


@pytest.mark.parametrize("window", [(0, 0), (-1, 1), (-5, 5), (2, 4)])
def test_car_variance_matches_direct_matrix_computation(window: tuple[int, int]) -> None:
    ret = panel()
    res = fit(ret)
    sec = "S1"
    sample = estimation_sample(ret, sec)
    X = np.column_stack([np.ones(len(sample)), sample["MKT"]])
    y = sample[sec].to_numpy()
    b = np.linalg.solve(X.T @ X, X.T @ y)
    e = y - X @ b
    s2 = e @ e / (len(y) - 2)
    w = ret.iloc[320 + window[0] : 320 + window[1] + 1]
    Xw = np.column_stack([np.ones(len(w)), w["MKT"]])
    # Var(prediction errors) = s2 (I + Xw (X'X)^-1 Xw'); the CAR sums them
    V = s2 * (np.eye(len(w)) + Xw @ np.linalg.inv(X.T @ X) @ Xw.T)
    one = np.ones(len(w))
    car = res.car(window).set_index("security").loc[sec]
    assert_allclose(car["se"], np.sqrt(one @ V @ one), rtol=1e-9)
    assert_allclose(car["car"], np.sum(w[sec].to_numpy() - Xw @ b), rtol=1e-9)
    # Mikkelson-Partch closed form of the same number
    L2, L = len(w), len(y)
    m = sample["MKT"].to_numpy()
    mp = s2 * (L2 + L2**2 / L + np.sum(w["MKT"] - m.mean()) ** 2 / np.sum((m - m.mean()) ** 2))
    assert_allclose(car["se"] ** 2, mp, rtol=1e-9)


def test_bhar_is_buy_and_hold_minus_expected() -> None:
    ret = panel()
    res = fit(ret)
    p = res.params.set_index("security").loc["S0"]
    w = ret.iloc[320:323]
    expected = np.prod(1 + w["S0"]) - np.prod(1 + p["alpha"] + p["beta"] * w["MKT"])
    got = res.car((0, 2)).set_index("security").loc["S0", "bhar"]
    assert_allclose(got, expected, rtol=1e-10)


def test_car_paths_end_at_the_window_car() -> None:
    res = fit(panel())
    paths = res.car_paths()
    last = paths[(paths["rel_day"] == 5) & (paths["security"] != "portfolio")]
    car = res.car((-5, 5))
    assert_allclose(last["car"].to_numpy(), car["car"].to_numpy(), rtol=1e-12)
    assert_allclose(last["se"].to_numpy(), car["se"].to_numpy(), rtol=1e-12)


def test_batch_ols_matches_lstsq_row_by_row() -> None:
    rng = np.random.default_rng(3)
    K, L = 5, 80
    X = np.concatenate([np.ones((K, L, 1)), rng.normal(size=(K, L, 2))], axis=2)
    y = X @ np.array([0.1, 1.0, -0.5]) + rng.normal(0, 0.1, (K, L))
    y[1, :7] = np.nan
    X[2, 10, 1] = np.nan
    out = batch_ols(y, X)
    for k in range(K):
        ok = np.isfinite(y[k]) & np.isfinite(X[k]).all(axis=1)
        coef, *_ = np.linalg.lstsq(X[k][ok], y[k][ok], rcond=None)
        assert_allclose(out.coef[k], coef, rtol=1e-10)
        assert out.n_obs[k] == ok.sum()
        assert_allclose(out.xtx_inv[k], np.linalg.inv(X[k][ok].T @ X[k][ok]), rtol=1e-9)


def test_simple_regression_path_matches_lstsq() -> None:
    rng = np.random.default_rng(4)
    m = rng.normal(size=(3, 50))
    y = 0.2 + 1.5 * m + rng.normal(0, 0.3, (3, 50))
    y[0, :5] = np.nan
    out = fit_market_model(y, m)
    for k in range(3):
        ok = np.isfinite(y[k])
        A = np.column_stack([np.ones(ok.sum()), m[k][ok]])
        coef, *_ = np.linalg.lstsq(A, y[k][ok], rcond=None)
        assert_allclose(out.coef[k], coef, rtol=1e-10)
        assert_allclose(out.ssr[k], np.sum((y[k][ok] - A @ coef) ** 2), rtol=1e-9)


def test_singular_design_gives_nan_not_an_error() -> None:
    X, _ = build_design("market", np.zeros((2, 30)))
    out = batch_ols(np.ones((2, 30)), X)
    assert np.isnan(out.coef).all()


def test_batch_ols_with_a_few_gap_rows_matches_statsmodels_row_by_row() -> None:
    """The masked route that zeroes only the rows with a missing day (``zero_gaps``): every
    row's fit equals statsmodels' OLS on that row's valid days, gap rows and complete rows,
    and a missing regressor value counts as a missing day."""
    rng = np.random.default_rng(11)
    K, L = 200, 60
    x = rng.normal(0, 0.01, (K, L))
    y = 0.001 + 0.9 * x + rng.normal(0, 0.01, (K, L))
    y[[3, 77], [5, 40]] = np.nan
    x[150, 12] = np.nan
    fit = batch_ols(y, Design(True, x[..., None], ["alpha", "beta"], (K, L)))
    for k in (0, 3, 77, 150, 199):
        ok = np.isfinite(y[k]) & np.isfinite(x[k])
        ols = sm.OLS(y[k, ok], sm.add_constant(x[k, ok])).fit()
        assert_allclose(fit.coef[k], ols.params, rtol=1e-10)
        assert_allclose(fit.ssr[k], ols.ssr, rtol=1e-10)
        assert fit.n_obs[k] == ok.sum()
        resid = np.full(L, np.nan)
        resid[ok] = ols.resid
        assert_allclose(fit.resid[k], resid, rtol=1e-8, atol=1e-15)


def test_market_term_with_a_few_gap_rows_is_the_hand_formula() -> None:
    """Lamb's ``(M_t - Mbar)^2 / Sxx`` with the market moments over the valid estimation
    days only, where a few rows miss a market day (the rows masked alone)."""
    from eventstudy.study import _market_term

    rng = np.random.default_rng(5)
    K, L, W = 50, 40, 5
    me = rng.normal(0, 0.01, (K, L, 1))
    mw = rng.normal(0, 0.01, (K, W, 1))
    me[[4, 30], [0, 17], 0] = np.nan
    got = _market_term("market", me, mw, (K, W))
    for k in range(K):
        m = me[k, :, 0]
        m = m[np.isfinite(m)]
        mbar = m.mean()
        sxx = ((m - mbar) ** 2).sum()
        assert_allclose(got[k], (mw[k, :, 0] - mbar) ** 2 / sxx, rtol=1e-10)
