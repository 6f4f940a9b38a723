"""Figures carry the numbers of the result tables, in percent, with titles and labels."""

from __future__ import annotations

import functools
import itertools
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import eventstudy as es
from eventstudy import figures, stats
from eventstudy.exceptions import ClusteredEventWarning, ReportError

SECURITIES = ["7203.T", "7267.T", "7201.T", "7211.T"]
EXCLUDED = "7269.T"  # listed too recently: excluded by the engine
EVENT_DATES = {"kei_cafe": "2025-12-04", "tinycars": "2025-12-08"}
TESTS = ["t_test", "patell", "bmp", "portfolio", "grank", "kolari_pynnonen", "sign"]


def simulated_returns(seed: int = 1) -> pd.DataFrame:
    """Daily returns of four automakers, a recent listing and TOPIX, sharing a common factor.

    Every security gains 3% on 2025-12-04 (the kei-car news reaching Tokyo).
    """
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2024-09-02", "2025-12-31")
    mkt = rng.normal(0.0003, 0.01, len(idx))
    common = rng.normal(0.0, 0.008, len(idx))  # industry factor: residuals correlate
    cols = {"TOPIX": mkt}
    for i, sec in enumerate([*SECURITIES, EXCLUDED]):
        cols[sec] = 0.0002 + (0.8 + 0.1 * i) * mkt + common + rng.normal(0, 0.012, len(idx))
    returns = pd.DataFrame(cols, index=idx)
    returns.loc[:"2025-08-29", EXCLUDED] = np.nan
    returns.loc["2025-12-04", [*SECURITIES, EXCLUDED]] += 0.03
    return returns


@functools.cache
def simulated_results(seed: int = 1):
    """Real engine results (market model) on :func:`simulated_returns`."""
    events = pd.DataFrame(
        [
            {"security": sec, "event_date": pd.Timestamp(day0), "event_id": eid}
            for eid, day0 in EVENT_DATES.items()
            for sec in [*SECURITIES, EXCLUDED]
        ]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClusteredEventWarning)
        res = es.event_study(simulated_returns(seed), events, market="TOPIX")
    assert any(issubclass(w.category, ClusteredEventWarning) for w in caught)
    return res


def make_standin(seed: int = 0) -> SimpleNamespace:
    """A stand-in results object carrying DataFrames of exactly the engine's shapes."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2025-11-10", "2025-12-31")
    rows, events = [], []
    for eid, d0 in EVENT_DATES.items():
        pos = sessions.get_loc(pd.Timestamp(d0))
        for sec in SECURITIES:
            events.append({"event_id": eid, "security": sec, "event_date": pd.Timestamp(d0)})
            for rel in range(-10, 11):
                rows.append(
                    {
                        "event_id": eid,
                        "security": sec,
                        "rel_day": rel,
                        "date": sessions[pos + rel],
                        "ar": rng.normal(0.0, 0.015) + (0.03 if rel == 0 else 0.0),
                    }
                )
    ar = pd.DataFrame(rows)
    params = pd.DataFrame(
        [
            {
                "event_id": e,
                "security": s,
                "alpha": rng.normal(0, 1e-4),
                "beta": rng.uniform(0.7, 1.3),
                "sigma": rng.uniform(0.01, 0.02),
                "n_obs": 250,
                "r2": rng.uniform(0.2, 0.6),
            }
            for e in EVENT_DATES
            for s in SECURITIES
        ]
    )
    sigma = params.set_index(["event_id", "security"])["sigma"]

    def car(window):
        a, b = window
        rng = np.random.default_rng([seed, a + 20, b + 20])
        sub = ar[ar["rel_day"].between(a, b)]
        out = sub.groupby(["event_id", "security"], sort=False)["ar"].sum().rename("car")
        out = out.reset_index()
        out["bhar"] = out["car"] * 1.01
        out["se"] = [
            sigma[(e, s)] * np.sqrt(b - a + 1)
            for e, s in zip(out.event_id, out.security, strict=True)
        ]
        out["statistic"] = out["car"] / out["se"]
        out["p_value"] = np.clip(np.abs(rng.normal(0.2, 0.2, len(out))), 0.001, 0.99)
        return out

    def caar_tests(window, by=None):
        rng = np.random.default_rng([seed, window[0] + 20, window[1] + 20])
        frames = []
        for eid in EVENT_DATES if by == "event_id" else [None]:
            t = pd.DataFrame(
                {
                    "test": TESTS,
                    "statistic": rng.normal(2, 1, len(TESTS)),
                    "p_value": rng.uniform(0.001, 0.3, len(TESTS)),
                }
            )
            if by == "event_id":
                t.insert(0, "event_id", eid)
            frames.append(t)
        return pd.concat(frames, ignore_index=True)

    def aar_tests(window):
        rng = np.random.default_rng([seed, window[0] + 20, window[1] + 20, 1])
        days = range(window[0], window[1] + 1)
        return pd.DataFrame(
            [
                {"rel_day": d, "test": t, "statistic": rng.normal(), "p_value": rng.uniform()}
                for d in days
                for t in TESTS
            ]
        )

    def car_paths(start=None):
        out = ar.sort_values(["event_id", "security", "rel_day"]).copy()
        if start is not None:
            out = out[out["rel_day"] >= start]
        out["car"] = out.groupby(["event_id", "security"])["ar"].cumsum()
        out["se"] = [
            sigma[(e, s)] * np.sqrt(r + 11)
            for e, s, r in zip(out.event_id, out.security, out.rel_day, strict=True)
        ]
        pf = out.groupby(["event_id", "rel_day", "date"], as_index=False)[["car", "se"]].mean()
        pf["se"] = pf["se"] / 2
        pf["security"] = "portfolio"
        return pd.concat([out.drop(columns="ar"), pf], ignore_index=True)[
            ["event_id", "security", "rel_day", "date", "car", "se"]
        ]

    def portfolio_car(window):
        a, b = window
        sub = ar[ar["rel_day"].between(a, b)]
        out = sub.groupby(["event_id", "rel_day"])["ar"].mean().groupby("event_id").sum()
        out = out.rename("car").reset_index()
        out["se"] = 0.01 * np.sqrt(b - a + 1)
        out["statistic"] = out["car"] / out["se"]
        out["df"] = 238.0
        return out

    corr = {}
    for eid in EVENT_DATES:
        m = rng.uniform(0.2, 0.6, (len(SECURITIES), len(SECURITIES)))
        m = (m + m.T) / 2
        np.fill_diagonal(m, 1.0)
        corr[eid] = pd.DataFrame(m, index=SECURITIES, columns=SECURITIES)
    clustering = pd.DataFrame(
        [
            {
                "event_id": e,
                "n_securities": len(SECURITIES),
                "rbar": (c.to_numpy().sum() - len(c)) / (len(c) * (len(c) - 1)),
            }
            for e, c in corr.items()
        ]
    )
    clustering["design_effect"] = 1 + (clustering["n_securities"] - 1) * clustering["rbar"]
    return SimpleNamespace(
        params=params,
        abnormal_returns=ar,
        car=car,
        aar_tests=aar_tests,
        caar_tests=caar_tests,
        excluded=pd.DataFrame(
            [{"event_id": "kei_cafe", "security": "7269.T", "reason": "only 80 estimation obs"}]
        ),
        clustering=clustering,
        residual_correlation=lambda event_id: corr[event_id],
        car_paths=car_paths,
        portfolio_car=portfolio_car,
        events=pd.DataFrame(events),
        summary=lambda: "stand-in summary",
    )


@pytest.fixture(scope="module")
def res():
    return simulated_results()


@pytest.fixture(scope="module")
def standin() -> SimpleNamespace:
    return make_standin()


# ----------------------------------------------------------------------------- colours


def test_security_colors_depend_only_on_the_set_of_securities():
    a = figures.security_colors(["B", "A", "C"])
    b = figures.security_colors(["C", "A", "B", "A"])
    assert a == b
    assert len({a["A"], a["B"], a["C"]}) == 3
    assert a["portfolio"] == figures.PORTFOLIO_COLOR
    assert figures.security_colors(["A"], benchmarks=["TOPIX"])["TOPIX"] == figures.BENCHMARK_COLOR


def test_a_security_has_the_same_colour_in_every_figure(res):
    colors = figures.security_colors(SECURITIES)
    ar = figures.plot_ar(res, "kei_cafe")
    car = figures.plot_car(res, "kei_cafe")
    forest = figures.plot_forest(res)
    for fig in (ar, car, forest):
        for trace in fig.data:
            if trace.name in colors:
                color = trace.marker.color if isinstance(trace, go.Bar) else None
                if isinstance(trace, go.Scatter) and trace.mode != "markers":
                    color = trace.line.color
                elif isinstance(trace, go.Scatter):
                    color = trace.marker.color
                assert color == colors[trace.name], (fig.layout.title.text, trace.name)


# ----------------------------------------------------------------------------- AR bars


def test_ar_bars_carry_the_abnormal_returns_in_percent(res):
    fig = figures.plot_ar(res, "kei_cafe")
    ar = res.abnormal_returns
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert [b.name for b in bars] == sorted(SECURITIES)
    for bar in bars:
        expected = ar[(ar.event_id == "kei_cafe") & (ar.security == bar.name)].sort_values(
            "rel_day"
        )
        np.testing.assert_allclose(bar.y, expected["ar"] * 100)
        np.testing.assert_array_equal(bar.x, expected["rel_day"])
        assert list(bar.customdata[:, 0]) == list(expected["date"].dt.strftime("%Y-%m-%d"))
        assert "%{customdata[0]}" in bar.hovertemplate and "day %{x}" in bar.hovertemplate
    assert "kei_cafe" in fig.layout.title.text
    assert fig.layout.yaxis.title.text == "Abnormal return (%)"
    assert "day 0" in fig.layout.xaxis.title.text


def test_ar_marks_each_exchanges_reacting_session_from_the_timing_table(res):
    timing = pd.DataFrame(
        {
            "event_id": ["kei_cafe", "kei_cafe"],
            "announced": pd.to_datetime(["2025-12-03T19:30Z"] * 2),
            "exchange": ["XTKS", "XNYS"],
            "session": pd.to_datetime(["2025-12-04", "2025-12-03"]),
            "rule": ["before open", "during session"],
        }
    )
    fig = figures.plot_ar(res, "kei_cafe", timing=timing)
    texts = [a.text.replace("<br>", " ") for a in fig.layout.annotations]
    assert "XTKS reacting session: 2025-12-04 (before open)" in texts
    assert "XNYS reacting session: 2025-12-03 (during session)" in texts
    # only the own exchange's session is shaded: the US session of 12-03 came after the
    # Tokyo close of 12-03 and is not Tokyo's day -1
    assert [(s.x0 + s.x1) / 2 for s in fig.layout.shapes] == [0.0]
    us = figures.plot_ar(res, "kei_cafe", timing=timing, exchange="XNYS")
    assert "XNYS reacting session:<br>2025-12-03 (during session)" in [
        a.text for a in us.layout.annotations
    ]
    assert [(s.x0 + s.x1) / 2 for s in us.layout.shapes] == [-1.0]


def test_ar_without_timing_marks_day_zero_and_draws_one_panel_per_event(res):
    fig = figures.plot_ar(res)
    assert len([t for t in fig.data if isinstance(t, go.Bar)]) == 2 * len(SECURITIES)
    assert sum(t.showlegend is not False for t in fig.data) == len(SECURITIES)
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "2025-12-04" in texts and "2025-12-08" in texts


def test_unknown_event_raises_a_report_error_naming_the_events(res):
    with pytest.raises(ReportError, match="kei_cafe"):
        figures.plot_ar(res, "nope")


# ----------------------------------------------------------------------------- CAR paths


def test_car_paths_cumulate_from_day_minus_one_with_the_portfolio_band(res):
    """Firms' CARs from day -1 are ``car((-1, d))``; the portfolio's line and band are the
    portfolio test rebuilt by hand (statsmodels OLS of the equal-weighted portfolio)."""
    from scipy import stats as sps
    from test_verdict import by_hand

    fig = figures.plot_car(res, "tinycars", level=0.95)
    lines = {t.name: t for t in fig.data if t.showlegend is not False}
    assert set(lines) == {*SECURITIES, "Portfolio (equal-weighted)"}
    pf = lines["Portfolio (equal-weighted)"]
    assert list(pf.x) == list(range(-1, 11))
    band = next(t for t in fig.data if t.name == "Portfolio (equal-weighted): 95% band")
    n = len(pf.x)
    returns = simulated_returns()
    for i, d in enumerate(pf.x):
        car, se, df = by_hand(returns, SECURITIES, EVENT_DATES["tinycars"], (-1, int(d)))
        q = sps.t.ppf(0.975, df)
        assert pf.y[i] == pytest.approx(car * 100, rel=1e-9)
        assert band.y[i] == pytest.approx((car + q * se) * 100, rel=1e-9)
        assert band.y[2 * n - 1 - i] == pytest.approx((car - q * se) * 100, rel=1e-9)
    toyota = lines["7203.T"]
    car = res.car((-1, 3))
    want = car[(car.event_id == "tinycars") & (car.security == "7203.T")]["car"].iloc[0]
    assert toyota.y[4] == pytest.approx(want * 100, rel=1e-12)
    assert len([t for t in fig.data if "band" in str(t.name)]) == 1  # one band, not one per firm
    assert pf.line.color == figures.PORTFOLIO_COLOR
    assert fig.data[-1].name == "Portfolio (equal-weighted)"  # drawn on top
    buttons = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert buttons == ["All firms", "Portfolio only"]
    only = fig.layout.updatemenus[0].buttons[1].args[0]["visible"]
    assert [t.name for t, v in zip(fig.data, only, strict=True) if v] == [
        "Portfolio (equal-weighted): 95% band",
        "Portfolio (equal-weighted)",
    ]
    assert fig.layout.yaxis.title.text == "Cumulative abnormal return (%)"
    assert "Cumulated from day -1" in fig.layout.title.text
    whole = figures.plot_car(res, "tinycars", start=None)  # configurable: the window start
    assert whole.data[-1].x[0] == -10


# ----------------------------------------------------------------------------- prices


def _prices() -> dict[str, pd.DataFrame]:
    idx = pd.bdate_range("2025-11-17", "2025-12-19", name="date")
    rng = np.random.default_rng(3)
    out = {}
    for sym in ["7203.T", "7267.T", "TOPIX"]:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(idx))))
        out[sym] = pd.DataFrame({"close": close, "adj_close": close * 0.9}, index=idx)
    return out


def test_prices_are_rebased_to_100_at_day_minus_one():
    prices = _prices()
    fig = figures.plot_prices(prices, "2025-12-04", benchmarks=["TOPIX"])
    toyota = next(t for t in fig.data if t.name == "7203.T")
    adj = prices["7203.T"]["adj_close"]
    pos = adj.index.get_loc(pd.Timestamp("2025-12-04"))
    expected = adj.iloc[pos - 10 : pos + 11] / adj.iloc[pos - 1] * 100
    np.testing.assert_allclose(toyota.y, expected)
    assert toyota.y[9] == pytest.approx(100.0)
    assert list(toyota.x) == list(range(-10, 11))
    topix = next(t for t in fig.data if t.name.startswith("TOPIX"))
    assert topix.line.color == figures.BENCHMARK_COLOR and topix.line.dash == "dash"
    assert fig.layout.yaxis.title.text == "Price (day -1 close = 100)"


def test_prices_accept_a_wide_frame():
    wide = pd.DataFrame({k: v["adj_close"] for k, v in _prices().items()})
    fig = figures.plot_prices(wide, pd.Timestamp("2025-12-04"))
    assert len(fig.data) == 3


@pytest.mark.parametrize(
    ("announced", "lo", "hi", "words"),
    [
        # 14:30 ET on 12-03 = 04:30 JST on 12-04: after the 12-03 close, before the 12-04 open
        ("2025-12-03T19:30Z", -1.0, -0.5, "before the open of 2025-12-04"),
        # 10:00 JST on 12-04: during the day-0 session
        ("2025-12-04T01:00Z", -0.5, 0.0, "during the session of 2025-12-04"),
        # Friday 23:50 JST: before the Monday session
        ("2025-12-05T14:50Z", 1.0, 1.5, "before the session of 2025-12-08"),
    ],
)
def test_announcement_is_drawn_where_it_falls_between_sessions(announced, lo, hi, words):
    fig = figures.plot_prices(_prices(), "2025-12-04", announced=announced)
    vline = next(s for s in fig.layout.shapes if s.line.dash == "dash")
    assert lo <= vline.x0 <= hi
    label = next(a.text for a in fig.layout.annotations if a.text.startswith("announced"))
    assert words in label and "JST" in label


def test_prices_reject_an_event_date_that_is_not_a_session():
    with pytest.raises(ReportError, match="not a session"):
        figures.plot_prices(_prices(), "2025-12-06")


# ----------------------------------------------------------------------------- tests table


def test_test_table_lists_robust_tests_first_with_stars(res):
    table = figures.tests_frame(res, [(0, 1), (0, 5)])
    first = table[table.window == "(0,+1)"]["test"].tolist()
    assert first == list(figures.TEST_ORDER)
    assert table["robust"].tolist()[:6] == [True] * 6
    assert not table["robust"].tolist()[6:][: len(first) - 6][0]
    engine = res.caar_tests((0, 1)).set_index("test")
    block = table[table.window == "(0,+1)"].set_index("test")
    np.testing.assert_allclose(block["statistic"], engine.loc[block.index, "statistic"])
    np.testing.assert_allclose(block["p_value"], engine.loc[block.index, "p_value"])
    np.testing.assert_allclose(block["caar"], engine["caar"].iloc[0])
    for _, r in table.iterrows():
        assert r["stars"] == figures.significance_stars(r["p_value"])
    fig = figures.plot_tests(res, [(0, 1), (0, 5)])
    cells = fig.data[0].cells.values
    assert cells[0][0] == "◆ Portfolio, equal-weighted"
    block = table[table.window == "(0,+1)"]
    assert list(cells[1]) == [
        f"{s:.3f}{st}" for s, st in zip(block.statistic, block.stars, strict=True)
    ]
    assert list(cells[2]) == [f"{p:.4f}" for p in block.p_value]
    header = fig.data[0].header.values
    assert "CAR(0,+1)" in header[1] and "CAAR" in header[1]


def test_default_windows_stay_inside_the_computed_window(res):
    assert list(dict.fromkeys(figures.tests_frame(res)["window"])) == [
        "(0,0)",
        "(0,+1)",
        "(-1,+1)",
        "(0,+5)",
    ]


def test_test_table_for_one_event_reads_its_own_block(res):
    table = figures.tests_frame(res, [(0, 1)], event_id="tinycars")
    engine = res.caar_tests((0, 1), by="event_id")
    engine = engine[engine.event_id == "tinycars"].set_index("test")
    assert len(table) == len(engine)
    np.testing.assert_allclose(
        table.set_index("test")["statistic"], engine.loc[table["test"], "statistic"]
    )
    fig = figures.plot_tests(res, [(0, 1)], event_id="tinycars")
    assert "event tinycars" in fig.layout.title.text
    # the table handed in (as the report does) draws the same figure
    given = figures.plot_tests(res, [(0, 1)], event_id="tinycars", table=table)
    assert given.to_json() == fig.to_json()
    cells = given.data[0].cells.values
    assert cells[1][0].rstrip("*") == figures._num(table["statistic"].iloc[0], 3)


def test_significance_stars():
    assert [figures.significance_stars(p) for p in (0.001, 0.02, 0.07, 0.5, np.nan)] == [
        "***",
        "**",
        "*",
        "",
        "",
    ]


# ----------------------------------------------------------------------------- across events


def test_heatmap_holds_car_in_percent_securities_by_events(res):
    fig = figures.plot_heatmap(res, (0, 1))
    car = res.car((0, 1))
    hm = fig.data[0]
    assert list(hm.x) == ["kei_cafe", "tinycars"]
    assert list(hm.y) == sorted(SECURITIES)
    expected = car.pivot(index="security", columns="event_id", values="car").loc[
        sorted(SECURITIES), ["kei_cafe", "tinycars"]
    ]
    np.testing.assert_allclose(np.asarray(hm.z, dtype=float), expected.to_numpy() * 100)
    assert hm.zmid == 0
    assert "CAR(0,+1)" in fig.layout.title.text


def test_forest_plot_holds_car_and_interval(res):
    fig = figures.plot_forest(res, (0, 1))
    car = res.car((0, 1))
    for trace in fig.data:
        sub = car[car.security == trace.name]
        sub = sub.set_index("event_id").loc[list(trace.y[0])]
        np.testing.assert_allclose(trace.x, sub["car"] * 100)
        np.testing.assert_allclose(trace.error_x.array, 1.959963984540054 * sub["se"] * 100)
    assert fig.layout.xaxis.title.text == "CAR(0,+1) (%)"
    lo, hi, p, day0 = fig.data[0].customdata[0]
    assert lo < hi
    assert isinstance(lo, float) and isinstance(p, float) and day0 == "2025-12-04"
    assert "%{customdata[0]:.2f}" in fig.data[0].hovertemplate


# ----------------------------------------------------------------------------- diagnostics


def test_diagnostics_show_beta_r2_and_sigma_per_security(res):
    fig = figures.plot_diagnostics(res)
    p = res.params.set_index(["event_id", "security"])
    colors = figures.security_colors(SECURITIES)
    scale = {"beta": 1.0, "r2": 100.0, "sigma": 100.0}
    bars = [t for t in fig.data if t.meta]
    assert len(bars) == 3 * len(EVENT_DATES)
    for bar in bars:
        field, eid = bar.meta
        assert list(bar.y) == sorted(SECURITIES)
        expected = p.loc[eid].loc[list(bar.y), field] * scale[field]
        np.testing.assert_allclose(bar.x, expected)
        assert list(bar.marker.color) == [colors[sec] for sec in bar.y]
    axes = {t.meta[0]: t.xaxis for t in bars}
    assert fig.layout.xaxis2.title.text == "R² (%)"
    assert axes == {"beta": "x", "r2": "x2", "sigma": "x3"}
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Market beta", "R² (%)", "Residual σ (%/day)"]
    assert [t.name for t in fig.data if t.showlegend is not False] == [
        "event kei_cafe",
        "event tinycars",
    ]


def test_residual_correlation_shows_matrix_rbar_and_design_effect(res):
    fig = figures.plot_residual_correlation(res, "kei_cafe")
    corr = res.residual_correlation("kei_cafe")
    expected = corr.to_numpy().copy()
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), expected)
    row = res.clustering.set_index("event_id").loc["kei_cafe"]
    caption = fig.layout.annotations[0].text
    assert f"r̄ = {row.rbar:.3f}" in caption
    assert f"design effect = {row.design_effect:.2f}" in caption
    both = figures.plot_residual_correlation(res)
    assert len(both.data) == 2


def test_figures_use_the_house_template_and_never_show(res, monkeypatch):
    monkeypatch.setattr(go.Figure, "show", lambda *a, **k: pytest.fail("figure shown"))
    for fig in (
        figures.plot_ar(res, "kei_cafe"),
        figures.plot_car(res, "kei_cafe"),
        figures.plot_heatmap(res),
        figures.plot_forest(res),
        figures.plot_diagnostics(res),
        figures.plot_residual_correlation(res),
        figures.plot_tests(res),
    ):
        assert isinstance(fig, go.Figure)
        assert fig.layout.template.layout.font.family == figures.TEMPLATE.layout.font.family
        assert fig.layout.title.text


def test_architecture_names_are_aliases():
    assert figures.ar_bars is figures.plot_ar
    assert figures.car_heatmap is figures.plot_heatmap


def test_test_order_follows_the_engine(res):
    """Every test the engine reports has a place and a label; its robust ones lead."""
    produced = set(res.caar_tests((0, 1))["test"]) | set(res.aar_tests((0, 1))["test"])
    assert produced <= set(figures.TEST_ORDER)
    assert produced <= set(figures.TEST_LABELS)
    robust = {t for t in produced if t in stats.CLUSTER_ROBUST_TESTS}
    assert robust == set(figures.ROBUST_TESTS) & produced
    assert list(figures.ROBUST_TESTS) == [
        t for t in stats.CLUSTER_ROBUST_TESTS if t in figures.ROBUST_TESTS
    ]


def test_figures_are_duck_typed_on_the_result_tables(standin):
    """Any object carrying the documented tables draws (here a SimpleNamespace)."""
    fig = figures.plot_ar(standin, "kei_cafe")
    ar = standin.abnormal_returns
    first = ar[(ar.event_id == "kei_cafe") & (ar.security == fig.data[0].name)]
    np.testing.assert_allclose(fig.data[0].y, first.sort_values("rel_day")["ar"] * 100)
    for draw in (
        figures.plot_car,
        figures.plot_heatmap,
        figures.plot_forest,
        figures.plot_diagnostics,
        figures.plot_residual_correlation,
        figures.plot_tests,
    ):
        assert isinstance(draw(standin), go.Figure)


def test_results_methods_return_these_figures(res):
    """What a notebook user calls: the engine's plot_* methods use this module."""
    assert (
        res.plot_ar("kei_cafe").layout.title.text
        == figures.plot_ar(res, "kei_cafe").layout.title.text
    )
    np.testing.assert_allclose(res.plot_heatmap().data[0].z, figures.plot_heatmap(res).data[0].z)
    for fig in (
        res.plot_car(),
        res.plot_forest(window=(0, 0)),
        res.plot_diagnostics(),
        res.plot_residual_correlation(),
        res.plot_tests(windows=[(0, 1)]),
    ):
        assert isinstance(fig, go.Figure)


def test_real_engine_day0_jump_shows_in_the_figures(res):
    """The simulated +3% on 2025-12-04 is visible where it should be."""
    fig = figures.plot_ar(res, "kei_cafe")
    for bar in fig.data:
        day0 = list(bar.x).index(0)
        assert bar.y[day0] > 1.5  # percent
    heat = figures.plot_heatmap(res, (0, 0))
    assert np.nanmean(np.asarray(heat.data[0].z, dtype=float)[:, 0]) > 2.0


def test_a_lone_security_has_no_correlation_and_untestable_cells_say_n_a(standin):
    lone = SimpleNamespace(**vars(standin))
    lone.clustering = standin.clustering.assign(rbar=np.nan, n_securities=1, design_effect=1.0)
    fig = figures.plot_residual_correlation(lone, "kei_cafe")
    assert "no pair to correlate" in fig.layout.annotations[0].text
    tests = standin.caar_tests

    def caar_tests(window, by=None):
        out = tests(window, by)
        out.loc[out["test"] == "sign", ["statistic", "p_value"]] = np.nan
        return out

    lone.caar_tests = caar_tests
    cells = figures.plot_tests(lone, [(0, 1)]).data[0].cells.values
    row = list(cells[0]).index("Sign")
    assert (cells[1][row], cells[2][row]) == ("n/a", "n/a")


# ----------------------------------------------------------------------------- built in one go

GRIDS = [
    {"rows": 2, "cols": 1, "shared_xaxes": True, "vertical_spacing": 0.08,
     "subplot_titles": ["Event a", "Event b"]},
    {"rows": 5, "cols": 1, "shared_xaxes": True, "vertical_spacing": 0.08,
     "subplot_titles": list("abcde")},
    {"rows": 1, "cols": 3, "shared_yaxes": True, "horizontal_spacing": 0.04,
     "subplot_titles": ["Market beta", "R² (%)", "Residual σ (% per day)"]},
    {"rows": 1, "cols": 3, "horizontal_spacing": 0.06, "subplot_titles": ["a", "", "c"]},
    {"rows": 1, "cols": 1, "shared_yaxes": True, "horizontal_spacing": 0.0,
     "subplot_titles": ["a"]},
    {"rows": 1, "cols": 7, "shared_yaxes": True, "horizontal_spacing": 0.04},
    {"rows": 3, "cols": 1, "vertical_spacing": 0.1, "subplot_titles": ["a", "b", "c"]},
    {"rows": 2, "cols": 1, "shared_xaxes": True, "row_heights": [0.72, 0.28],
     "vertical_spacing": 0.04},
    {"rows": 3, "cols": 2, "shared_xaxes": True, "shared_yaxes": True},
    {"rows": 12, "cols": 1},
]  # fmt: skip


@pytest.mark.parametrize("kw", GRIDS)
def test_grid_lays_subplots_out_as_make_subplots(kw):
    """The subplot layout written out directly is Plotly's own, to the last bit."""
    from plotly.subplots import make_subplots

    from eventstudy.figures_spec import figure, grid

    plotly_fig = make_subplots(**kw)
    g = grid(**kw)
    ours = figure([], {"annotations": g.titles, **g.axes}, g)
    assert ours.to_dict() == plotly_fig.to_dict()
    assert ours._grid_ref == plotly_fig._grid_ref
    assert ours._grid_str == plotly_fig._grid_str


def test_grid_refuses_the_spacing_make_subplots_refuses():
    from plotly.subplots import make_subplots

    from eventstudy.figures_spec import grid

    with pytest.raises(ValueError, match="Horizontal spacing cannot be greater"):
        make_subplots(rows=1, cols=10, horizontal_spacing=0.14)
    with pytest.raises(ValueError, match="Horizontal spacing cannot be greater"):
        grid(1, 10, horizontal_spacing=0.14)


def test_shapes_are_those_plotly_adds():
    """vline, hline and vrect write what add_vline, add_hline and add_vrect add (alone and
    on a subplot of a grid)."""
    from plotly.subplots import make_subplots

    from eventstudy.figures_spec import hline, vline, vrect

    line = {"color": "#888888", "width": 1, "dash": "dot"}
    fig = go.Figure()
    fig.add_vline(x=0.5, line=line)
    fig.add_hline(y=100, line=line)
    fig.add_vrect(x0=-0.5, x1=0.0, fillcolor="#F2C14E", opacity=0.3, line_width=0, layer="below")
    style = {"fillcolor": "#F2C14E", "opacity": 0.3, "line": {"width": 0}, "layer": "below"}
    ours = [vline(0.5, line), hline(100, line), vrect(-0.5, 0.0, **style)]
    assert [s.to_plotly_json() for s in fig.layout.shapes] == [
        go.layout.Shape(s).to_plotly_json() for s in ours
    ]
    grid_fig = make_subplots(rows=2, cols=1)
    grid_fig.add_trace(go.Scatter(x=[0], y=[0]), row=2, col=1)
    grid_fig.add_vline(x=0, line=line, row=2, col=1)
    assert (
        grid_fig.layout.shapes[0].to_plotly_json()
        == go.layout.Shape(vline(0, line, 2)).to_plotly_json()
    )


def test_multi_panel_figures_know_their_subplots(res):
    """The figures of several panels take row= and col= like a figure of make_subplots."""
    fig = figures.plot_ar(res)
    fig.add_hline(y=1.0, row=2, col=1)
    assert (fig.layout.shapes[-1].xref, fig.layout.shapes[-1].yref) == ("x2 domain", "y2")
    fig.add_trace(go.Scatter(x=[0], y=[1.0], name="marker"), row=2, col=1)
    assert (fig.data[-1].xaxis, fig.data[-1].yaxis) == ("x2", "y2")
    fig.update_yaxes(title_text="changed", row=1, col=1)
    assert fig.layout.yaxis.title.text == "changed"
    assert fig.layout.yaxis2.title.text == "Abnormal return (%)"
    diag = figures.plot_diagnostics(res)
    assert "(1,3) x3,y3" in diag._grid_str


def test_a_panel_without_bars_is_left_unshaded(standin):
    """An event without abnormal returns keeps its panel, its label and no shading (what
    add_vrect(row=) of make_subplots does on an empty subplot)."""
    empty = SimpleNamespace(**vars(standin))
    ar = standin.abnormal_returns
    empty.abnormal_returns = ar[ar["event_id"] != "tinycars"]
    fig = figures.plot_ar(empty, cap=None)
    assert {t.yaxis for t in fig.data} == {"y"}
    assert [s.yref for s in fig.layout.shapes] == ["y domain"]
    assert any(a.yref == "y2 domain" for a in fig.layout.annotations)


def test_one_panel_per_event_fits_twenty_events():
    """Stacked per-event panels fit any number of events (Plotly refuses a gap between
    panels above 1/(n - 1): a study of 20 events drew no AR or CAR figure)."""
    from eventstudy.simulate import synthetic_returns

    r = synthetic_returns(4, 900, common=0.3, seed=2)
    days = r.index[300 + 25 * np.arange(20)]
    secs = [c for c in r.columns if c != "MKT"]
    events = pd.DataFrame(
        [
            {"security": s, "event_date": d, "event_id": f"E{k:02d}"}
            for k, d in enumerate(days)
            for s in secs
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = es.event_study(r, events, market="MKT")
    for fig in (
        figures.plot_ar(res),
        figures.plot_car(res),
        figures.plot_car_distribution(res),
    ):
        domains = [
            fig.layout[k].domain for k in fig.layout.to_plotly_json() if k.startswith("yaxis")
        ]
        assert len(domains) == 20
        spans = sorted(tuple(d) for d in domains)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # no overlap
        assert all(d[1] - d[0] > 0 for d in spans)


def test_the_house_template_attached_unvalidated_gives_the_validated_figure(res, monkeypatch):
    """figure() attaches a Template object without validating it again: every figure is the
    same, to the last byte of its JSON and of its HTML, as the one Plotly validates whole."""
    import plotly.io as pio

    from eventstudy import figures_quant, figures_spec

    built: list[tuple[go.Figure, go.Figure]] = []
    original = figures_spec.figure

    def checked(data, layout, grid=None):
        fig = original(data, layout, grid)
        spec = {"data": data, "layout": layout}
        if grid is not None:
            spec.update(_grid_ref=grid.ref, _grid_str=grid.text)
        built.append((fig, go.Figure(spec)))  # validated whole, template too
        return fig

    for module in (figures, figures_quant):
        monkeypatch.setattr(module, "figure", checked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figures.plot_ar(res, "kei_cafe")
        figures.plot_car(res, "kei_cafe")
        figures.plot_prices(_prices(), pd.Timestamp("2025-12-04"), None)
        figures.plot_heatmap(res)
        figures.plot_forest(res)
        figures.plot_diagnostics(res)
        figures.plot_residual_correlation(res)
        figures.plot_tests(res)
    ab = res.abnormal_returns.rename(columns={"ar": "abnormal"})
    figures_quant.plot_abnormal_volume(ab)
    assert len(built) == 9
    for ours, whole in built:
        assert isinstance(ours.layout.template, go.layout.Template)
        assert ours.to_json() == whole.to_json()
        kw = {"full_html": False, "include_plotlyjs": False, "div_id": "f", "validate": False}
        assert pio.to_html(ours, **kw) == pio.to_html(whole, **kw)
        assert ours.layout.template.to_plotly_json() == figures.TEMPLATE.to_plotly_json()


def test_figure_still_validates_everything_but_a_template_object():
    from eventstudy.figures_spec import figure

    with pytest.raises(ValueError, match="bogus"):
        figure([{"type": "scatter", "x": [1]}], {"template": figures.TEMPLATE, "bogus": 1})
    with pytest.raises(ValueError, match="nonsense"):
        figure([{"type": "scatter", "nonsense": 1}], {"template": figures.TEMPLATE})
    with pytest.raises(ValueError, match="bogus"):  # a template as a dict is checked
        figure([], {"template": {"layout": {"bogus": 1}}})
    fig = figure([], {"template": {"layout": {"font": {"size": 9}}}})
    assert fig.layout.template.layout.font.size == 9


def test_static_figure_leaves_out_what_only_works_in_a_browser(res):
    fig = figures.plot_car(res, "kei_cafe")
    assert len(fig.layout.updatemenus) == 1
    assert "<br>click a firm in the legend to hide it" in fig.layout.title.text
    still = figures.static_figure(fig)
    assert still.layout.updatemenus == ()
    assert "click" not in still.layout.title.text
    assert still.layout.title.text.startswith("Cumulative abnormal returns, event kei_cafe<br>")
    assert "band (portfolio test)" in still.layout.title.text
    # a subtitle line (22 px) less, but not under the template's 85 px
    assert (fig.layout.margin.t, still.layout.margin.t) == (100, 85)
    assert len(fig.layout.updatemenus) == 1 and "click" in fig.layout.title.text  # unchanged
    assert still.data == fig.data
    ar = figures.plot_ar(res, "kei_cafe")
    assert figures.static_figure(ar) is ar  # nothing to leave out
