"""``eventstudy compare``: one page across events and studies (table, heatmap, forest plot)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from click.testing import CliRunner

from eventstudy import cli, figures

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "configs" / "kei_cars.yaml"
TARIFFS = ROOT / "configs" / "tariffs_2025.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def comparison(prices_dir):
    from eventstudy.compare import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare([KEI, TARIFFS], prices=prices_dir, offline=True)


def test_the_deal_dwarfs_the_kei_car_news(comparison):
    t = comparison.table
    ev = t[(t["kind"] == "event") & (t["window"] == "(0,+1)")].set_index("event_id")
    assert len(ev) == 6
    deal = ev.loc["us_japan_deal_2025-07-22"]
    assert deal["rank"] == 1 and deal["caar"] > 0.05 and deal["p_portfolio"] < 0.01
    for kei in ("kei_cafe_2025-12-03", "tinycars_truth_2025-12-05"):
        assert abs(ev.loc[kei, "caar"]) < abs(deal["caar"]) / 3
        assert ev.loc[kei, "p_portfolio"] > 0.1
    # the interval is the portfolio test's: caar +- t_crit * |caar / t|
    assert (ev["ci_low"] < ev["caar"]).all() and (ev["caar"] < ev["ci_high"]).all()
    assert ((ev["ci_low"] > 0) == (ev["p_portfolio"] < 0.05)).all()
    assert comparison.studies == ["kei_cars", "tariffs_2025"]


def test_close_events_get_one_combined_row(comparison):
    comb = comparison.table[comparison.table["kind"] == "combined"]
    assert set(comb["study"]) == {"kei_cars", "tariffs_2025"}
    kei = comb[comb["study"] == "kei_cars"].iloc[0]
    # day 0 of the Oval Office remark (2025-12-04) to day +1 of the post (2025-12-09)
    assert kei["label"].endswith("(combined(0,+3))")
    assert str(kei["day0"].date()) == "2025-12-04"


def test_cars_hold_every_security_and_the_mean(comparison):
    c = comparison.cars
    one = c[(c["event_id"] == "kei_cafe_2025-12-03") & (c["window"] == "(0,0)")]
    assert set(one["security"]) >= {"portfolio", "Suzuki Motor", "Toyota Motor"}
    suzuki = one.set_index("security").loc["Suzuki Motor", "car"]
    assert suzuki < 0  # Suzuki fell while the named OEMs rose


def test_compare_figures_from_tidy_frames():
    cars = pd.DataFrame(
        {
            "label": ["a", "a", "b", "b"],
            "security": ["portfolio", "X", "portfolio", "X"],
            "window": ["(0,+1)"] * 4,
            "car": [0.01, 0.02, -0.03, float("nan")],
            "p_value": [0.5, 0.001, 0.2, float("nan")],
        }
    )
    fig = figures.plot_compare_heatmap(cars, window="(0,+1)")
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].x) == ["mean (portfolio)", "X"]
    assert fig.data[0].text[0][1] == "+2.00***"
    table = pd.DataFrame(
        {
            "label": ["a", "b", "a+b"],
            "window": ["(0,0)", "(0,0)", "combined"],
            "caar": [0.01, -0.02, 0.0],
            "ci_low": [-0.01, -0.04, -0.02],
            "ci_high": [0.03, 0.0, 0.02],
            "p_portfolio": [0.4, 0.05, 0.9],
        }
    )
    forest = figures.plot_compare_forest(table)
    assert [t.name for t in forest.data] == ["CAR(0,0)", "combined"]


def test_compare_command_writes_one_page_atomically(tmp_path, prices_dir):
    out = tmp_path / "cmp"
    code, stdout, err = invoke(
        "--quiet", "compare", str(KEI), str(TARIFFS), "--prices", str(prices_dir),
        "--offline", "--out", str(out), "--plotlyjs", "none",
    )  # fmt: skip
    assert code == 0, err
    assert stdout.startswith("Largest mean CAR(0,+1) of all: tariffs_2025 · us_japan_deal")
    assert "kei_cars's largest" in stdout
    html = (out / "index.html").read_text()
    assert "car-0-1-heatmap" in html and "mean-car-forest-plot" in html
    table = pd.read_csv(out / "tables" / "compare.csv")
    assert {"study", "event_id", "window", "caar", "p_portfolio", "p_kolari_pynnonen"} <= set(table)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_compare_rejects_a_window_the_studies_do_not_have(tmp_path, prices_dir):
    code, _, err = invoke(
        "compare", str(KEI), "--prices", str(prices_dir), "--offline",
        "--out", str(tmp_path / "x"), "--window", "0,7",
    )  # fmt: skip
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "--window" in lines[0]
    assert not (tmp_path / "x").exists()
    code, _, err = invoke("compare", str(KEI), "--window", "zero")
    assert code == 2 and "--window" in err


def test_compare_needs_a_config():
    code, _, err = invoke("compare")
    assert code == 2 and "CONFIGS" in err
