"""The verdict of each event and the per-firm table, checked against numbers rebuilt by hand.

Independent path: the equal-weighted portfolio of an event's securities is regressed on the
market over the estimation window with statsmodels (``OLS``); its CAR over a window is the
sum of its prediction errors, whose variance is ``s^2 L2 + s_W' Cov(beta) s_W``
(``get_prediction(...).se_mean`` gives the second term), and the 95% interval uses Student t
with the regression's residual degrees of freedom. A firm's AR on day 0 is checked the same
way on its own regression.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy import stats as sps
from test_figures import EVENT_DATES, SECURITIES, simulated_results, simulated_returns

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning, ConfigError
from eventstudy.plan import PoolPlan
from eventstudy.verdict import (
    PORTFOLIO_TEST,
    TestChoice,
    build_verdicts,
    default_window,
    verdicts_from_results,
)

ESTIMATION = (-260, -11)  # event_study's default, used by simulated_results()


def by_hand(returns: pd.DataFrame, secs: list[str], day0: str, window: tuple[int, int]):
    """Equal-weighted portfolio CAR over ``window``: (car, se, df) by statsmodels OLS."""
    idx = returns.index
    pos = idx.get_loc(pd.Timestamp(day0))
    est = returns.iloc[pos + ESTIMATION[0] : pos + ESTIMATION[1] + 1]
    y = est[secs].mean(axis=1)
    fit = sm.OLS(y, sm.add_constant(est["TOPIX"])).fit()
    win = returns.iloc[pos + window[0] : pos + window[1] + 1]
    X = sm.add_constant(win["TOPIX"], has_constant="add")
    errors = win[secs].mean(axis=1) - fit.predict(X)
    s_w = X.sum(axis=0).to_numpy()[None, :]
    se_mean = float(fit.get_prediction(s_w).se_mean[0])
    se = math.sqrt(fit.scale * len(win) + se_mean**2)
    return float(errors.sum()), se, float(fit.df_resid)


@pytest.fixture(scope="module")
def res():
    return simulated_results()


@pytest.mark.parametrize("window", [(0, 1), (0, 0), (-1, 1), (0, 5)])
def test_event_verdict_is_the_portfolio_test_rebuilt_by_hand(res, window):
    returns = simulated_returns()
    verdicts = {v.key: v for v in verdicts_from_results(res, window)}
    for eid, day0 in EVENT_DATES.items():
        car, se, df = by_hand(returns, SECURITIES, day0, window)  # 7269.T is excluded
        v = verdicts[eid]
        q = sps.t.ppf(0.975, df)
        assert v.estimate == pytest.approx(car, rel=1e-9)
        assert v.se == pytest.approx(se, rel=1e-9)
        assert v.df == pytest.approx(df)
        assert (v.ci_low, v.ci_high) == pytest.approx((car - q * se, car + q * se), rel=1e-9)
        assert v.p_value == pytest.approx(2 * sps.t.sf(abs(car / se), df), rel=1e-9)
        assert v.session == pd.Timestamp(day0).date() and v.n == len(SECURITIES)
        assert v.test is PORTFOLIO_TEST and v.kind == "event"


def test_sentences_say_no_as_loudly_as_yes(res):
    kei, tiny = verdicts_from_results(res, (0, 1))
    assert kei.detected and kei.status == "reaction"
    assert kei.sentence.startswith(
        "Abnormal reaction detected for event kei_cafe, reacting session 2025-12-04: mean CAR(0,+1) +"
    )
    assert not tiny.detected and tiny.status == "no reaction"
    assert tiny.sentence.startswith("No abnormal reaction detected for event tinycars")
    for v in (kei, tiny):
        assert f"(95% CI {v.ci_low * 100:+.2f}% to {v.ci_high * 100:+.2f}%)" in v.sentence
        assert f"p = {v.p_value:.3f}" in v.sentence
        assert v.sentence.endswith("4 firm-events, equal-weighted portfolio test.")


def test_a_lone_firm_event_is_its_own_portfolio():
    returns = simulated_returns()
    events = pd.DataFrame(
        {"security": ["7201.T"], "event_date": [pd.Timestamp("2025-12-04")], "event_id": ["n"]}
    )
    res = es.event_study(returns, events, market="TOPIX")
    (v,) = verdicts_from_results(res, (0, 1))
    car = res.car((0, 1)).iloc[0]
    assert v.estimate == pytest.approx(car["car"], rel=1e-12)
    assert v.se == pytest.approx(car["se"], rel=1e-9)
    assert v.p_value == pytest.approx(car["p_value"], rel=1e-9)
    assert v.n == 1 and "1 firm-event," in v.sentence


def test_nothing_is_pooled_unless_asked_and_a_pool_is_the_pooled_portfolio_test(res):
    plain = verdicts_from_results(res, (0, 1))
    assert [v.kind for v in plain] == ["event", "event"]
    pool = PoolPlan(name="both", title="Both kei-car posts", events=("kei_cafe", "tinycars"))
    *events, pooled = verdicts_from_results(res, (0, 1), pools=[pool])
    assert pooled.kind == "pool" and pooled.title == "Both kei-car posts"
    assert pooled.sentence.startswith(
        f"{pooled.headline} for pool of 2 events (kei_cafe, tinycars): mean CAR(0,+1) "
    )
    assert "8 firm-events pooled, equal-weighted portfolio test pooled across events" in (
        pooled.sentence
    )
    # z = mean CAR_p / (sqrt(sum se^2) / E), by hand and as the engine pools all events
    cars = np.array([v.estimate for v in events])
    ses = np.array([v.se for v in events])
    sd = np.sqrt(np.sum(ses**2)) / 2
    assert pooled.estimate == pytest.approx(cars.mean(), rel=1e-12)
    assert pooled.se == pytest.approx(sd, rel=1e-12)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx(
        (cars.mean() - 1.959963984540054 * sd, cars.mean() + 1.959963984540054 * sd)
    )
    engine = res.caar_tests((0, 1)).set_index("test").loc["portfolio"]
    assert pooled.statistic == pytest.approx(engine["statistic"], rel=1e-9)
    assert pooled.p_value == pytest.approx(engine["p_value"], rel=1e-9)
    # kei_cafe's (0,+1) ends 2025-12-05 and tinycars' starts 2025-12-08; their (0,+5) overlap
    assert not any("overlap" in n for n in pooled.notes)
    wide = verdicts_from_results(res, (0, 5), pools=[pool])[-1]
    assert any("overlap" in n and "(0,+5)" in n for n in wide.notes)


def test_an_event_without_firm_events_gets_a_loud_verdict(res):
    tests = res.caar_tests((0, 1), by="event_id")
    excluded = pd.concat(
        [
            res.excluded,
            pd.DataFrame(
                [{"event_id": "ghost", "security": "7203.T", "reason": "no return on day 0"}]
            ),
        ],
        ignore_index=True,
    )
    out = build_verdicts(
        tests,
        res.car_paths(),
        res.events,
        excluded,
        window=(0, 1),
        titles={"ghost": "An event nobody could measure"},
        expected=["kei_cafe", "ghost", "tinycars"],
    )
    assert [v.key for v in out] == ["kei_cafe", "ghost", "tinycars"]
    ghost = out[1]
    assert not ghost.measured and ghost.status == "no firm-event" and ghost.n == 0
    assert ghost.sentence == (
        "No firm-event left: nothing measured for event ghost: every firm-event was "
        "excluded (7203.T: no return on day 0)."
    )
    assert ghost.as_record()["mean_car"] is None


def test_an_untestable_event_says_why(res):
    tests = res.caar_tests((0, 1), by="event_id").copy()
    tests.loc[tests["test"] == "portfolio", ["statistic", "p_value"]] = np.nan
    notes = pd.DataFrame(
        [{"event_id": "kei_cafe", "test": "portfolio", "reason": "no residual variance"}]
    )
    v = build_verdicts(
        tests, res.car_paths(), res.events, res.excluded, window=(0, 1), test_notes=notes
    )[0]
    assert v.status == "untestable" and not v.detected
    assert v.sentence.startswith("No answer: the test could not be computed for event kei_cafe")
    assert v.sentence.endswith("portfolio: no residual variance.")


def test_the_choice_of_test_is_an_input(res):
    """Another test (issue 12 will pick one measured valid on the data) changes the verdict's
    numbers and its words; here the cross-sectional t on the mean CAR, checked by hand."""
    choice = TestChoice(
        test="t_test",
        words="cross-sectional t test",
        reason="for the demonstration only",
        estimate="mean",
    )
    v = verdicts_from_results(res, (0, 1), choice=choice)[0]
    car = res.car((0, 1))
    x = car.loc[car["event_id"] == "kei_cafe", "car"].to_numpy()
    se = x.std(ddof=1) / math.sqrt(len(x))
    q = sps.t.ppf(0.975, len(x) - 1)
    assert v.estimate == pytest.approx(x.mean(), rel=1e-12)
    assert (v.ci_low, v.ci_high) == pytest.approx((x.mean() - q * se, x.mean() + q * se))
    assert v.sentence.endswith("cross-sectional t test.") and v.test.why.startswith("cross")
    # a pool reads the chosen test on the pool's firm-events: t over all eight CARs
    pool = PoolPlan(name="both", title="Both", events=("kei_cafe", "tinycars"))
    pooled = verdicts_from_results(res, (0, 1), choice=choice, pools=[pool])[-1]
    x = car["car"].to_numpy()
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert pooled.statistic == pytest.approx(x.mean() / se, rel=1e-9)
    assert pooled.p_value == pytest.approx(2 * sps.t.sf(abs(x.mean() / se), len(x) - 1))
    q = sps.t.ppf(0.975, len(x) - 1)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx((x.mean() - q * se, x.mean() + q * se))
    with pytest.raises(ConfigError, match="a test of the battery"):
        verdicts_from_results(res, (0, 1), choice=dataclasses.replace(choice, test="nope"))
    with pytest.raises(ConfigError, match="a column of the test table"):
        verdicts_from_results(
            res, (0, 1), choice=dataclasses.replace(choice, p_column="p_calibrated")
        )


def test_default_window_is_0_1_inside_the_computed_window():
    assert default_window((-10, 10)) == (0, 1)
    assert default_window((-3, 0)) == (-3, 0)


# ----------------------------------------------------------------------------- firms


def test_firm_table_ar0_is_the_studentized_prediction_error(res):
    returns = simulated_returns()
    table = res.firm_table((0, 1))
    assert list(table.columns[:4]) == ["event_id", "security", "day0", "window"]
    for r in table.itertuples(index=False):
        pos = returns.index.get_loc(pd.Timestamp(EVENT_DATES[r.event_id]))
        est = returns.iloc[pos + ESTIMATION[0] : pos + ESTIMATION[1] + 1]
        fit = sm.OLS(est[r.security], sm.add_constant(est["TOPIX"])).fit()
        x0 = np.array([[1.0, returns["TOPIX"].iloc[pos]]])
        ar0 = returns[r.security].iloc[pos] - float(fit.predict(x0)[0])
        se = math.sqrt(fit.scale + float(fit.get_prediction(x0).se_mean[0]) ** 2)
        assert r.ar0 == pytest.approx(ar0, rel=1e-9)
        assert r.se_ar0 == pytest.approx(se, rel=1e-9)
        assert r.t_ar0 == pytest.approx(ar0 / se, rel=1e-9)
        assert r.p_ar0 == pytest.approx(2 * sps.t.sf(abs(ar0 / se), fit.df_resid), rel=1e-9)
        assert r.stars_ar0 == (
            "***" if r.p_ar0 < 0.01 else "**" if r.p_ar0 < 0.05 else "*" if r.p_ar0 < 0.1 else ""
        )
        assert r.window == "(0,+1)"
    car = res.car((0, 1)).set_index(["event_id", "security"])
    t = table.set_index(["event_id", "security"])
    assert_allclose(t["car"], car.loc[t.index, "car"], rtol=1e-12)
    assert_allclose(t["t_car"], car.loc[t.index, "statistic"], rtol=1e-12)


def test_firm_table_rows_pair_each_firm_event_with_its_own_car_and_day0(res):
    """The table reads car() side by side with the firm-events: the same rows a join on
    (event_id, security) gives, each firm's AR(0) its own day-0 abnormal return."""
    returns = simulated_returns()
    ar = res.abnormal_returns
    for w in [(0, 1), (-1, 1), (-5, -1)]:
        table = res.firm_table(w)
        assert list(table.index) == list(range(len(res.events)))
        joined = res.events.rename(columns={"event_date": "day0"}).merge(
            res.car(w), on=["event_id", "security"], how="left", validate="1:1"
        )
        assert list(table["event_id"]) == list(joined["event_id"])
        assert list(table["security"]) == list(joined["security"])
        assert (table["day0"] == joined["day0"]).all()
        for mine, theirs in [("car", "car"), ("se_car", "se"), ("p_car", "p_value")]:
            assert_allclose(table[mine], joined[theirs], rtol=0, atol=0)
        assert table["n_days"].dtype == joined["n_days"].dtype
        assert list(table["n_days"]) == [w[1] - w[0] + 1] * len(table)
        # a window of the days before day 0: the CAR is the sum of those days' ARs, by hand
        for r in table.itertuples(index=False):
            pos = returns.index.get_loc(pd.Timestamp(EVENT_DATES[r.event_id]))
            est = returns.iloc[pos + ESTIMATION[0] : pos + ESTIMATION[1] + 1]
            fit = sm.OLS(est[r.security], sm.add_constant(est["TOPIX"])).fit()
            win = returns.iloc[pos + w[0] : pos + w[1] + 1]
            X = sm.add_constant(win["TOPIX"], has_constant="add")
            assert r.car == pytest.approx(float((win[r.security] - fit.predict(X)).sum()), rel=1e-9)
            mine = ar[(ar["event_id"] == r.event_id) & (ar["security"] == r.security)]
            assert r.ar0 == pytest.approx(float(mine.loc[mine["rel_day"] == 0, "ar"].iloc[0]))


def test_firm_table_without_day0_in_the_computed_window_has_no_ar0():
    returns = simulated_returns()
    events = pd.DataFrame(
        [
            {"security": sec, "event_date": pd.Timestamp(day0), "event_id": eid}
            for eid, day0 in EVENT_DATES.items()
            for sec in SECURITIES
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        later = es.event_study(returns, events, market="TOPIX", window=(1, 5))
    table = later.firm_table()
    assert table["window"].iloc[0] == "(+1,+5)"
    assert table[["ar0", "se_ar0", "t_ar0", "p_ar0", "p_sq_ar0"]].isna().all().all()
    assert (table["stars_ar0"] == "").all()
    car = later.car((1, 5))
    assert_allclose(table["car"], car["car"], rtol=0, atol=0)
    assert table["stars_car"].tolist() == [
        "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else "" for p in car["p_value"]
    ]


def test_firm_rows_long_form_ordered_by_event_role_listing_and_measure(res):
    from eventstudy.verdict import firm_rows

    windows = [(0, 1), (-1, 1)]
    tables = {w: res.firm_table(w) for w in windows}
    # listed order differs from the engine's (sorted) order; one firm is a peer
    labels = {"7267.T": "Honda", "7203.T": "Toyota", "7211.T": "Mitsubishi", "7201.T": "Nissan"}
    roles = {"7267.T": "oem", "7203.T": "oem", "7211.T": "peer", "7201.T": "oem"}
    out = firm_rows(tables, labels=labels, roles=roles)
    assert list(out.columns) == [
        "event_id", "security", "name", "role", "day0", "measure", "start", "end",
        "estimate", "se", "t", "p_value", "p_sq", "stars",
    ]  # fmt: skip
    measures = ["AR(0)", "CAR(0,+1)", "CAR(-1,+1)"]
    listed = list(labels)
    events = list(dict.fromkeys(tables[(0, 1)]["event_id"]))
    expected = sorted(
        (
            (e, s, m)
            for e in events
            for s in tables[(0, 1)].loc[tables[(0, 1)]["event_id"] == e, "security"]
            for m in measures
        ),
        key=lambda k: (
            events.index(k[0]),
            {"oem": 0, "peer": 1}[roles[k[1]]],
            listed.index(k[1]),
            measures.index(k[2]),
        ),
    )
    assert list(zip(out["event_id"], out["security"], out["measure"], strict=True)) == expected
    assert list(out.index) == list(range(len(out)))
    assert out["start"].dtype == np.int64 and out["end"].dtype == np.int64
    for r in out.itertuples(index=False):
        assert r.name == labels[r.security] and r.role == roles[r.security]
        if r.measure == "AR(0)":
            t = tables[(0, 1)]
            col, start, end = "ar0", 0, 0
        else:
            w = (-1, 1) if r.measure == "CAR(-1,+1)" else (0, 1)
            t, col, (start, end) = tables[w], "car", w
        row = t[(t["event_id"] == r.event_id) & (t["security"] == r.security)].iloc[0]
        assert (r.start, r.end) == (start, end)
        assert r.estimate == row[col] and r.day0 == row["day0"]
        p = row["p_ar0" if col == "ar0" else "p_car"]
        assert r.p_value == p
        assert r.stars == ("***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else "")


# ----------------------------------------------------------------------------- summary


def test_summary_answers_first_in_the_verdicts_words_and_percent(res):
    text = str(res.summary())
    lines = text.splitlines()
    verdicts = verdicts_from_results(res, (0, 1))
    assert lines[: len(verdicts)] == [v.sentence for v in verdicts]
    assert lines[len(verdicts)].startswith("Test: equal-weighted portfolio test: valid when")
    assert "+3.08%" in text or any(f"{v.estimate * 100:+.2f}%" in text for v in verdicts)
    assert "0.0308" not in text  # a mean CAR is a percent, not a fraction
    other = str(res.summary(window=(0, 5)))
    assert other.splitlines()[0] == verdicts_from_results(res, (0, 5))[0].sentence
    assert "CAR(0,+5)" in other and "Firms: abnormal return on day 0 and CAR(0,+5)" in other
    with pytest.raises(ConfigError, match="window"):
        res.summary(window=(0, 30))
    html = res._repr_html_()
    assert f"<strong>{verdicts[0].sentence}</strong>" in html


def test_notebook_figures_embed_plotly_when_in_a_kernel(res, monkeypatch):
    """In a Jupyter kernel the first plot sets a renderer that keeps the figure in an
    exported notebook (text/html with the plot), and plot_* still return Figures."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from eventstudy import figures

    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    monkeypatch.setattr(figures, "_RENDERER_DECIDED", False)
    monkeypatch.setattr(figures, "_in_kernel", lambda: False)
    assert isinstance(res.plot_ar("kei_cafe"), go.Figure)
    assert pio.renderers.default == "plotly_mimetype"  # outside a kernel: left alone
    monkeypatch.setattr(figures, "_in_kernel", lambda: True)
    assert isinstance(res.plot_ar("kei_cafe"), go.Figure)
    assert pio.renderers.default == "plotly_mimetype+notebook"
    fig = res.plot_heatmap().to_dict()
    bundle = {}
    for name in pio.renderers.default.split("+"):  # what the renderers save in the notebook
        bundle.update(pio.renderers[name].to_mimebundle(fig))
    assert "application/vnd.plotly.v1+json" in bundle and "text/html" in bundle
    assert 'class="plotly-graph-div"' in bundle["text/html"]
    pio.renderers.default = "plotly_mimetype"  # the user's own choice afterwards is kept
    res.plot_ar("kei_cafe")
    assert pio.renderers.default == "plotly_mimetype"
    monkeypatch.setattr(figures, "_RENDERER_DECIDED", False)
    monkeypatch.setenv("EVENTSTUDY_PLOTLY_RENDERER", "keep")
    res.plot_ar("kei_cafe")
    assert pio.renderers.default == "plotly_mimetype"


def test_the_verdict_raises_no_warning_of_its_own(res):
    """The verdict reads tables (the engine warned about the shared dates at fit time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClusteredEventWarning)
        verdicts_from_results(res, (0, 1))


def test_a_missing_ticker_is_named_in_the_answer():
    """An event whose only ticker is not a column of returns was dropped without a line;
    its verdict now names the ticker and the reason, first thing in the summary."""
    returns = simulated_returns()
    events = pd.DataFrame(
        {
            "security": ["7203.T", "7203T"],
            "event_date": [pd.Timestamp("2025-12-04")] * 2,
            "event_id": ["kei", "typo"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = es.event_study(returns, events, market="TOPIX")
    lines = str(res.summary()).splitlines()
    assert lines[1] == (
        "No firm-event left: nothing measured for event typo: every firm-event was excluded "
        "(7203T: security is not a column of returns)."
    )
