"""Three unrelated Honda-Nissan events: nothing is pooled unless the study asks.

The merger-talks report (first TSE session 2024-12-18), the memorandum (2024-12-24, four
sessions later) and the reports that the talks would end (2025-02-05) are different news;
pooling them answers no question (it printed one +4.42% mean CAR with p 0.0000). Each gets
its own verdict; a ``pool:`` in the study adds one labelled pooled verdict, and only that.
The single-firm facts are ``../shared/data/README.md``'s: Nissan +23.7% close-to-close on
2024-12-18, Mitsubishi Motors +19.7%, Honda -3.0%.
"""

from __future__ import annotations

import json
import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from eventstudy import report
from eventstudy.runner import headline, run_study

# ../shared/data/README.md, close-to-close on 2024-12-18 (percent, 1 dp)
MERGER_REPORT_2024_12_18 = {"7201.T": 23.7, "7211.T": 19.7, "7267.T": -3.0}

STUDY = """\
name: honda_nissan
title: Honda and Nissan merger talks
securities:
  - {symbol: "7267.T", name: Honda Motor, role: oem}
  - {symbol: "7201.T", name: Nissan Motor, role: oem}
  - {symbol: "7211.T", name: Mitsubishi Motors, role: oem}
  - {symbol: "7203.T", name: Toyota Motor, role: peer}
  - {symbol: "7269.T", name: Suzuki Motor, role: peer}
  - {symbol: "7270.T", name: Subaru, role: peer}
  - {symbol: "7261.T", name: Mazda Motor, role: peer}
events:
  - id: report_2024-12-18
    title: Nikkei reports Honda-Nissan merger talks
    announced: "2024-12-18T06:00:00+09:00"
    timing_confidence: approx
    tags: [talks]
  - id: mou_2024-12-23
    title: Memorandum on integration talks signed
    announced: "2024-12-23T17:00:00+09:00"
    timing_confidence: date-only
    tags: [talks]
  - id: end_2025-02-05
    title: Reports that Nissan will call off the talks
    announced: "2025-02-05T11:00:00+09:00"
    timing_confidence: date-only
"""
IDS = ["report_2024-12-18", "mou_2024-12-23", "end_2025-02-05"]


def _run(tmp: Path, prices_dir: Path, extra: str = ""):
    path = tmp / "honda_nissan.yaml"
    path.write_text(STUDY + textwrap.dedent(extra), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(path, prices=prices_dir, offline=True)


@pytest.fixture(scope="module")
def unpooled(tmp_path_factory, prices_dir):
    return _run(tmp_path_factory.mktemp("hn"), prices_dir)


def test_three_unrelated_events_get_three_verdicts_and_no_pool(unpooled, tmp_path):
    run = unpooled
    assert [(v.key, v.kind) for v in run.verdicts] == [(e, "event") for e in IDS]
    sessions = [str(v.session) for v in run.verdicts]
    assert sessions == ["2024-12-18", "2024-12-24", "2025-02-05"]
    text = headline(run)
    assert "pool" not in text
    out = tmp_path / "r"
    html = report.write(run, out, plotlyjs="none").read_text()
    assert html.count("<article class=") == 3 and 'class="verdict' in html
    assert " pool" not in html.split('id="answer"', 1)[1].split("</section>", 1)[0].replace(
        "pooled only when the study asks", ""
    )
    doc = json.loads((out / "verdict.json").read_text())
    assert doc["pooled"] is False and [v["kind"] for v in doc["verdicts"]] == ["event"] * 3
    tests = pd.read_csv(out / "tables" / "tests.csv")
    assert set(tests["event_id"]) == set(IDS)  # every test row is one event's
    aar = pd.read_csv(out / "tables" / "aar_tests.csv")
    assert set(aar["event_id"]) == set(IDS)
    # the pooled mean CAR of the three (what the old report led with) is printed nowhere
    res = run.results["XTKS"]
    pooled = res.caar_tests((0, 1)).set_index("test").loc["portfolio"]
    assert f"{pooled['caar'] * 100:+.2f}%" not in html + text


def test_each_event_answers_on_its_own_portfolio(unpooled):
    res = unpooled.results["XTKS"]
    tests = res.caar_tests((0, 1), by="event_id")
    port = tests[tests["test"] == "portfolio"].set_index("event_id")
    for v in unpooled.verdicts:
        assert v.statistic == pytest.approx(port.loc[v.key, "statistic"], rel=1e-12)
        assert v.p_value == pytest.approx(port.loc[v.key, "p_value"], rel=1e-12)
    report_day, mou, end = unpooled.verdicts
    assert report_day.detected and mou.detected and not end.detected


def test_nissan_and_mitsubishi_jump_firm_by_firm(unpooled, prices_dir):
    firms = unpooled.firms
    day0 = firms[(firms["event_id"] == IDS[0]) & (firms["measure"] == "AR(0)")]
    day0 = day0.set_index("security")
    for symbol, pct in MERGER_REPORT_2024_12_18.items():
        raw = pd.read_csv(prices_dir / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")
        close = raw["Close"]
        pos = close.index.get_loc(pd.Timestamp("2024-12-18"))
        assert 100 * (close.iloc[pos] / close.iloc[pos - 1] - 1) == pytest.approx(
            pct, abs=0.06
        )  # README rounds 19.65 up
    # Nissan's day-0 AR and t rebuilt with statsmodels on the run's returns (the issue
    # quoted +24.3%, t 12.7): OLS on TOPIX over [-250, -11], studentized prediction error
    returns = unpooled.returns["XTKS"]
    pos = returns.index.get_loc(pd.Timestamp("2024-12-18"))
    est = returns.iloc[pos - 250 : pos - 10]
    fit = sm.OLS(est["7201.T"], sm.add_constant(est["TOPIX"]), missing="drop").fit()
    x0 = np.array([[1.0, returns["TOPIX"].iloc[pos]]])
    ar = returns["7201.T"].iloc[pos] - float(fit.predict(x0)[0])
    se = math.sqrt(fit.scale + float(fit.get_prediction(x0).se_mean[0]) ** 2)
    nissan = day0.loc["7201.T"]
    assert nissan["estimate"] == pytest.approx(ar, rel=1e-9)
    assert nissan["t"] == pytest.approx(ar / se, rel=1e-9)
    assert round(ar * 100, 1) == 24.3 and round(ar / se, 1) == 12.7 and nissan["stars"] == "***"
    assert day0.loc["7211.T", "estimate"] > 0.15 and day0.loc["7267.T", "estimate"] < 0


def test_a_configured_pool_is_one_labelled_verdict_beside_the_events(tmp_path, prices_dir):
    run = _run(tmp_path, prices_dir, "pool: {tag: talks, title: The two talks events}\n")
    kinds = [(v.key, v.kind) for v in run.verdicts]
    assert kinds == [*((e, "event") for e in IDS), ("pool_talks", "pool")]
    pool = run.verdicts[-1]
    assert pool.events == ("report_2024-12-18", "mou_2024-12-23")  # not the third event
    assert pool.title == "The two talks events"
    assert pool.sentence.startswith(
        f"{pool.headline} for pool of 2 events (report_2024-12-18, mou_2024-12-23): "
    )
    # mean of the two portfolio CARs over the root sum of their variances, normal
    a, b = run.verdicts[0], run.verdicts[1]
    sd = math.sqrt(a.se**2 + b.se**2) / 2
    z = (a.estimate + b.estimate) / 2 / sd
    assert pool.estimate == pytest.approx((a.estimate + b.estimate) / 2, rel=1e-12)
    assert pool.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)
    # four sessions apart: their (0,+5) windows overlap, which the pooled test ignores
    assert not pool.notes
    html = report.write(run, tmp_path / "r", plotlyjs="none").read_text()
    assert 'data-verdict="pool_talks" data-status="reaction"' in html
    assert "<strong>Pool</strong> · The two talks events" in html
    assert np.isfinite(pool.ci_low) and pool.ci_low < pool.estimate < pool.ci_high
