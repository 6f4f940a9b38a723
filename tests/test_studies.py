"""The kei-car and 2025 tariff studies end to end on the real prices in ../shared.

Each number checked here is either a close-to-close move stated in ``../shared/data/README.md``
and ``../shared/seeds/event-facts.csv`` (recomputed from the raw CSV files and from the
runner's returns), or a property of the follow-up analyses the report shows: variants, the
date-only shift, named OEMs against peers (Suzuki), overlapping and combined windows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
OEMS = ("7203.T", "7267.T", "7201.T", "7211.T")

# ../shared/seeds/event-facts.csv, "computed" close-to-close moves (percent, 2 dp)
FACTS = {
    "2025-12-08": {"7203.T": 0.92, "7267.T": 0.56, "7201.T": 3.08, "7211.T": 0.77,
                   "7269.T": 1.64, "7270.T": -0.51, "7261.T": 0.18, "TOPIX": 0.65},
    "2025-03-27": {"7203.T": -2.04, "7267.T": -2.48, "7201.T": -1.68, "7211.T": -3.20,
                   "7270.T": -4.96, "7261.T": -5.99, "TOPIX": 0.09},
    "2025-04-03": {"7203.T": -5.18, "7267.T": -2.31, "7201.T": -3.68, "7211.T": -4.76,
                   "7270.T": -7.11, "7261.T": -7.17, "TOPIX": -3.08},
    "2025-07-23": {"7203.T": 14.34, "7267.T": 11.15, "7201.T": 8.28, "7211.T": 13.03,
                   "7269.T": 3.85, "7270.T": 16.61, "7261.T": 17.77, "TOPIX": 3.18},
    "2025-09-05": {"7203.T": 1.98, "7267.T": 1.14, "7201.T": 2.31, "7211.T": 0.70,
                   "7270.T": 2.19, "7261.T": 3.49, "TOPIX": 0.82},
}  # fmt: skip


def _run(config: str, prices_dir: Path):
    from eventstudy.runner import run_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(ROOT / "configs" / config, prices=prices_dir, offline=True)


@pytest.fixture(scope="module")
def kei(prices_dir):
    return _run("kei_cars.yaml", prices_dir)


@pytest.fixture(scope="module")
def tariffs(prices_dir):
    return _run("tariffs_2025.yaml", prices_dir)


def _day0(run, event_id: str) -> pd.DataFrame:
    ar = run.results["XTKS"].abnormal_returns
    return ar[(ar["event_id"] == event_id) & (ar["rel_day"] == 0)].set_index("security")


@pytest.mark.parametrize(
    ("day", "symbol", "pct"), [(d, s, p) for d, m in FACTS.items() for s, p in m.items()]
)
def test_event_facts_hold_in_the_runner_returns(kei, tariffs, day, symbol, pct):
    run = kei if day >= "2025-12" else tariffs
    assert 100 * run.returns["XTKS"].loc[day, symbol] == pytest.approx(pct, abs=0.005 + 1e-9)


def test_deal_day_is_a_large_positive_ar_for_each_named_oem(tariffs):
    day0 = _day0(tariffs, "us_japan_deal_2025-07-22")
    assert set(pd.to_datetime(day0["date"]).dt.strftime("%Y-%m-%d")) == {"2025-07-23"}
    raw = tariffs.returns["XTKS"].loc["2025-07-23"]
    for sym in OEMS:
        # beta times TOPIX's +3.2% is taken out: positive, large, below the raw move
        assert 0.04 < day0.loc[sym, "ar"] < raw[sym], sym
    # Suzuki, which sells no cars in the US, barely moved beyond the market
    assert abs(day0.loc["7269.T", "ar"]) < 0.01


def test_suzuki_fell_on_2025_12_04_while_the_named_oems_rose(kei):
    raw = kei.returns["XTKS"].loc["2025-12-04"]
    day0 = _day0(kei, "kei_cafe_2025-12-03")
    assert raw["7269.T"] < 0 < min(raw[s] for s in OEMS)
    assert day0.loc["7269.T", "ar"] < -0.02
    assert all(day0.loc[s, "ar"] > 0 for s in OEMS)
    roles = kei.analyses["roles"]
    r = roles[(roles["event_id"] == "kei_cafe_2025-12-03") & (roles["window"] == "(0,0)")]
    r = r.set_index("subset")
    assert list(r.index) == ["named OEMs (4)", "peers (3)"]  # portfolios; firms are below
    assert r.loc["named OEMs (4)", "n"] == 4 and r.loc["named OEMs (4)", "caar"] > 0.01
    assert r.loc["named OEMs (4)", "caar"] == pytest.approx(day0.loc[list(OEMS), "ar"].mean())
    # every firm, OEMs included, has its own row in the firm table
    firms = kei.firms
    ar0 = firms[(firms["event_id"] == "kei_cafe_2025-12-03") & (firms["measure"] == "AR(0)")]
    ar0 = ar0.set_index("security")
    assert list(ar0.index) == [*OEMS, "7269.T", "7270.T", "7261.T"]
    assert list(ar0["role"]) == ["oem"] * 4 + ["peer"] * 3
    assert ar0.loc["7269.T", "estimate"] == pytest.approx(day0.loc["7269.T", "ar"])
    assert ar0.loc["7269.T", "name"] == "Suzuki Motor"


def test_variants_cover_benchmark_fx_and_estimation_lengths(kei):
    v = kei.analyses["variants"]
    assert list(dict.fromkeys(v["variant"])) == [
        "study",
        "nikkei",
        "fx_factor",
        "est_120",
        "est_250",
    ]
    assert (v.groupby(["variant", "event_id"]).size() == 4).all()  # four CAR windows
    titles = dict(zip(v["variant"], v["title"], strict=False))
    assert "^N225" in titles["nikkei"] and "JPY=X" in titles["fx_factor"]
    assert "120 sessions" in titles["est_120"] and "250 sessions" in titles["est_250"]
    study = v[v["variant"] == "study"].set_index(["event_id", "window"])
    assert study["same_answer"].all()
    # the study row is the engine's per-event portfolio test
    tests = kei.results["XTKS"].caar_tests((0, 1), by="event_id")
    port = tests[tests["test"] == "portfolio"].set_index("event_id")
    for eid in port.index:
        assert study.loc[(eid, "(0,+1)"), "p_portfolio"] == pytest.approx(port.loc[eid, "p_value"])
    # none of the kei-car answers is significant at 5% by the portfolio test
    assert not (v["p_portfolio"] < 0.05).any()


def test_date_only_events_are_rerun_one_session_later(kei, tariffs):
    for run, eid, day0, later in (
        (kei, "tinycars_truth_2025-12-05", "2025-12-08", "2025-12-09"),
        (tariffs, "eo14345_2025-09-04", "2025-09-05", "2025-09-08"),
    ):
        s = run.analyses["shifted"]
        assert set(s["event_id"]) == {eid}  # only the date-only event
        days = s.groupby("timing")["day0"].first().dt.strftime("%Y-%m-%d")
        assert days["as configured"] == day0 and days["day 0 one session later"] == later
        assert len(s) == 8  # four windows, both timings


def test_kei_windows_overlap_and_the_combined_window_adds_up(kei):
    over = kei.analyses["overlaps"].iloc[0]
    assert over["first"] == "kei_cafe_2025-12-03" and over["second"] == "tinycars_truth_2025-12-05"
    assert over["sessions_apart"] == 2 and over["event_windows_overlap"]
    # the post's estimation window [-250,-11] ends on the remark's day -9: two shared sessions,
    # before the remark's day 0
    assert over["shared_estimation_sessions"] == 2
    assert not over["first_day0_in_second_estimation"]
    comb = kei.analyses["combined"].set_index("window")
    assert list(comb.index) == ["(0,+2)", "(0,+3)", "(-1,+3)"]
    assert comb.loc["(0,+2)", "start"] == pd.Timestamp("2025-12-04")
    assert comb.loc["(0,+2)", "end"] == pd.Timestamp("2025-12-08")
    car = kei.results["XTKS"].car((0, 2))
    mean = car.loc[car["event_id"] == "kei_cafe_2025-12-03", "car"].mean()
    assert comb.loc["(0,+2)", "caar"] == pytest.approx(mean)


def test_tariff_overlaps_name_the_deal_inside_the_eo_estimation_window(tariffs):
    over = tariffs.analyses["overlaps"].set_index(["first", "second"])
    row = over.loc[("us_japan_deal_2025-07-22", "eo14345_2025-09-04")]
    assert row["first_day0_in_second_estimation"] and not row["event_windows_overlap"]
    close = over.loc[("s232_autos_announce_2025-03-26", "liberation_day_2025-04-02")]
    assert close["sessions_apart"] == 5 and close["event_windows_overlap"]


def test_report_flags_date_only_events_and_shows_the_analyses(kei, tmp_path):
    from eventstudy import report

    html = report.write(kei, tmp_path / "kei", plotlyjs="none").read_text()
    assert html.count('data-flag="date-only"') == 1
    for key in ("variants", "roles", "shifted", "combined"):
        assert f'data-analysis="{key}"' in html, key
    assert "Suzuki Motor 7269.T moved against the 4 named OEMs on day 0" in html
    for name in ("variants", "roles", "shifted", "overlaps", "combined"):
        assert (tmp_path / "kei" / "tables" / f"{name}.csv").is_file()
    t = pd.read_csv(tmp_path / "kei" / "tables" / "variants.csv")
    assert np.isfinite(t["p_portfolio"]).all()


def test_run_prints_the_answer_first(kei):
    from eventstudy.runner import headline

    text = headline(kei)
    lines = text.splitlines()
    assert lines[0].startswith("The answer, mean CAR(0,+1) per event (equal-weighted portfolio")
    sentences = [v.sentence for v in kei.verdicts]
    assert [line.strip() for line in lines[1:5:2]] == [
        "[kei_cafe_2025-12-03] Oval Office CAFE rollback; President authorizes production of "
        "kei-style tiny cars",
        '[tinycars_truth_2025-12-05] Truth Social post "I have just approved TINY CARS to be '
        'built in America"',
    ]
    assert [line.strip() for line in lines[2:6:2]] == sentences
    # neither kei-car event is significant alone, and nothing is pooled
    assert all(s.startswith("No abnormal reaction detected") for s in sentences)
    assert "pool" not in text.lower()
    first, second = text.index("Firms, kei_cafe_2025-12-03"), text.index("Firms, tinycars")
    assert first < second < text.index("Tests of the mean CAR per event")
    for part in ("p portfolio", "robust p<.05", "Suzuki Motor 7269.T", "one session later"):
        assert part in text
    assert "(0,+2) 2025-12-04 2025-12-08" in text


def test_an_insignificant_sign_flip_is_the_same_answer(kei):
    """+0.13% (p 0.96) and -0.03% (p 0.99) say the same: no reaction. The runner printed
    "the answer changes" for the market + USD/JPY variant of the TINY CARS post."""
    from eventstudy.runner import answer

    assert answer(0.0013, 0.96) == answer(-0.0003, 0.99) == "not significant"
    assert answer(0.02, 0.01) == "+ significant" != answer(-0.02, 0.01) == "- significant"
    v = kei.analyses["variants"]
    row = v[
        (v["event_id"] == "tinycars_truth_2025-12-05")
        & (v["variant"] == "fx_factor")
        & (v["window"] == "(-1,+1)")
    ].iloc[0]
    assert (
        row["caar"]
        < 0
        < v[
            (v["variant"] == "study")
            & (v["event_id"] == row["event_id"])
            & (v["window"] == "(-1,+1)")
        ]["caar"].iloc[0]
    )
    assert row["same_answer"] and row["answer"] == "not significant"
    assert v["same_answer"].all()


def test_the_readme_notebook_names_resolve():
    """``es.pipeline.run_and_write`` raised AttributeError (no lazy attribute)."""
    import eventstudy as es

    for module, name in (
        ("pipeline", "run_and_write"),
        ("runner", "run_study"),
        ("report", "write"),
        ("verdict", "build_verdicts"),
        ("plan", "plan_study"),
        ("compare", "compare"),
    ):
        assert callable(getattr(getattr(es, module), name)), (module, name)
