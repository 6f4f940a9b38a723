"""Cross-sectional regressions of CARs: hand formulas (numpy) and statsmodels on the same data."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps

from eventstudy import event_study
from eventstudy.crosssection import cross_section, read_characteristics
from eventstudy.exceptions import ConfigError, DataError, EventStudyWarning

DATES = pd.bdate_range("2023-01-02", periods=400)
SECS = [f"S{i:02d}" for i in range(12)]
DAY0 = {"e1": DATES[300], "e2": DATES[330], "e3": DATES[360]}


@pytest.fixture(scope="module")
def chars() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "security": SECS,
            "us_sales_share": rng.uniform(0.05, 0.6, len(SECS)).round(3),
            "log_mcap": rng.normal(14, 1.2, len(SECS)).round(3),
        }
    )


@pytest.fixture(scope="module")
def returns(chars: pd.DataFrame) -> pd.DataFrame:
    """Returns with day 0 reactions driven by us_sales_share on three dates."""
    rng = np.random.default_rng(11)
    m = rng.normal(0, 0.01, len(DATES))
    out = {"MKT": m}
    share = chars.set_index("security")["us_sales_share"]
    for i, sec in enumerate(SECS):
        r = 0.0002 + (0.7 + 0.05 * i) * m + rng.normal(0, 0.006 + 0.001 * i, len(DATES))
        for d in DAY0.values():
            r[DATES.get_loc(d)] += -0.05 * share[sec] + rng.normal(0, 0.004)
        out[sec] = r
    return pd.DataFrame(out, index=DATES)


def _fit(returns: pd.DataFrame, events: list[str]):
    ev = pd.DataFrame(
        [(e, s, DAY0[e]) for e in events for s in SECS],
        columns=["event_id", "security", "event_date"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return event_study(returns, ev, market="MKT", window=(-5, 5))


@pytest.fixture(scope="module")
def res(returns: pd.DataFrame):
    """Three events, every security on each."""
    return _fit(returns, list(DAY0))


def _design(res, chars, window=(0, 1)):
    car = res.car(window).merge(chars, on="security")
    X = np.column_stack([np.ones(len(car)), car["us_sales_share"], car["log_mcap"]])
    groups = pd.factorize(car["event_id"])[0]
    return car, X, car["car"].to_numpy(), groups


def _hc3(X: np.ndarray, e: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, inv, X)
    meat = (X * (e / (1 - h))[:, None] ** 2).T @ X
    return inv @ meat @ inv


def _cluster(X: np.ndarray, e: np.ndarray, g: np.ndarray) -> np.ndarray:
    n, k = X.shape
    G = g.max() + 1
    inv = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[g == c].T @ e[g == c], X[g == c].T @ e[g == c]) for c in range(G))
    return G / (G - 1) * (n - 1) / (n - k) * inv @ meat @ inv


def test_ols_clustered_by_event_date_matches_the_hand_formula(res, chars) -> None:
    cs = res.cross_section("car ~ us_sales_share + log_mcap", window=(0, 1), data=chars)
    _, X, y, g = _design(res, chars)
    b = np.linalg.solve(X.T @ X, X.T @ y)
    V = _cluster(X, y - X @ b, g)
    t = cs.table.set_index("term")
    np.testing.assert_allclose(t["estimate"], b, rtol=1e-10)
    np.testing.assert_allclose(t["se"], np.sqrt(np.diag(V)), rtol=1e-10)
    G = 3
    p = 2 * sps.t.sf(np.abs(b / np.sqrt(np.diag(V))), G - 1)
    np.testing.assert_allclose(t["p_value"], p, rtol=1e-9)
    q = sps.t.ppf(0.975, G - 1)
    np.testing.assert_allclose(t["ci_low"], b - q * np.sqrt(np.diag(V)), rtol=1e-9)
    assert cs.cov == "cluster" and cs.stats["n_clusters"] == 3 and cs.stats["n"] == 36
    assert (t["df"] == 2).all()
    assert any("only 3 dates" in n for n in cs.notes)
    # the slope the data were built with (-0.05 per unit of US sales share) is recovered
    assert t.loc["us_sales_share", "estimate"] == pytest.approx(-0.05, abs=0.02)


def test_wls_with_hc3_matches_the_hand_formula_and_statsmodels(res, chars) -> None:
    cs = res.cross_section(
        "car ~ us_sales_share + log_mcap", window=(0, 1), data=chars, weights="wls", cov="hc3"
    )
    car, X, y, _ = _design(res, chars)
    w = 1 / car["se"].to_numpy() ** 2
    Xw, yw = X * np.sqrt(w)[:, None], y * np.sqrt(w)
    b = np.linalg.solve(Xw.T @ Xw, Xw.T @ yw)
    V = _hc3(Xw, yw - Xw @ b)
    t = cs.table.set_index("term")
    np.testing.assert_allclose(t["estimate"], b, rtol=1e-10)
    np.testing.assert_allclose(t["se"], np.sqrt(np.diag(V)), rtol=1e-10)
    np.testing.assert_allclose(
        t["p_value"], 2 * sps.t.sf(np.abs(b / np.sqrt(np.diag(V))), len(y) - 3), rtol=1e-9
    )
    ref = smf.wls("car ~ us_sales_share + log_mcap", car, weights=w).fit(cov_type="HC3")
    np.testing.assert_allclose(t["se"], ref.bse, rtol=1e-10)
    assert cs.stats["r2"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert "WLS" in str(cs.summary()) and "us_sales_share" in str(cs)


def test_one_event_date_uses_hc3_and_says_why(res, returns, chars) -> None:
    assert cross_section(res, "car ~ us_sales_share", (0, 0), chars).cov == "cluster"
    one = _fit(returns, ["e1"])
    sub = cross_section(one, "car ~ us_sales_share", (0, 0), chars)
    assert sub.cov == "hc3"
    assert any("one event date" in n for n in sub.notes)
    car = res.car((0, 0))
    car = car[car["event_id"] == "e1"].merge(chars, on="security")
    X = np.column_stack([np.ones(len(car)), car["us_sales_share"]])
    y = car["car"].to_numpy()
    b = np.linalg.solve(X.T @ X, X.T @ y)
    np.testing.assert_allclose(sub.table["se"], np.sqrt(np.diag(_hc3(X, y - X @ b))), rtol=1e-10)
    with pytest.raises(ConfigError, match="at least two event dates"):
        cross_section(one, "car ~ us_sales_share", (0, 0), chars, cov="cluster")


def test_left_out_firms_are_listed_and_bad_formulas_are_config_errors(res, chars) -> None:
    partial = chars.copy()
    partial.loc[0, "log_mcap"] = np.nan
    partial = partial.iloc[:-1]
    cs = res.cross_section("car ~ log_mcap", data=partial)
    assert cs.stats["n"] == 36 - 3 - 3
    assert any("no characteristics: e1/S11" in n for n in cs.notes)
    assert any("missing value" in n and "e1/S00" in n for n in cs.notes)
    with pytest.raises(ConfigError, match="variables among"):
        res.cross_section("car ~ nonexistent", data=chars)
    with pytest.raises(ConfigError, match="car, bhar or scar on the left"):
        res.cross_section("alpha ~ log_mcap", data=chars)
    with pytest.raises(DataError, match=r"3 firm-event\(s\) with every variable"):
        res.cross_section("car ~ log_mcap + us_sales_share", data=chars.iloc[:1].assign(x=1))


def test_read_characteristics_types_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "chars.csv"
    path.write_text("Symbol,us_sales_share,segment\n7203.T,0.31,large\n7267.T,,large\n")
    c = read_characteristics(path)
    assert list(c.columns) == ["security", "us_sales_share", "segment"]
    assert c["us_sales_share"].dtype == float and np.isnan(c.loc[1, "us_sales_share"])
    path.write_text("security,us_sales_share\n7203.T,0.31\n7267.T,31%\n")
    with pytest.raises(DataError, match=r"line 3, column us_sales_share: '31%' is not a number"):
        read_characteristics(path)
    path.write_text("security,x\n7203.T,1\n7203.T,2\n")
    with pytest.raises(DataError, match="lines 2, 3: the same security twice"):
        read_characteristics(path)
    path.write_text("name,x\nToyota,1\n")
    with pytest.raises(DataError, match="no security column"):
        read_characteristics(path)
    with pytest.raises(DataError, match="no such file"):
        read_characteristics(tmp_path / "absent.csv")


def test_figure_draws_each_coefficient_with_its_interval(res, chars) -> None:
    cs = res.cross_section("car ~ us_sales_share + log_mcap", data=chars)
    fig = cs.plot()
    tr = fig.data[0]
    t = cs.table.iloc[::-1]
    assert list(tr.y) == t["term"].tolist()
    np.testing.assert_allclose(np.asarray(tr.x) + np.asarray(tr.error_x.array), t["ci_high"])
    np.testing.assert_allclose(np.asarray(tr.x) - np.asarray(tr.error_x.arrayminus), t["ci_low"])
