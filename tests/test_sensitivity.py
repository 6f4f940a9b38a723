"""Specification curve: the grid, the per-spec CAR rows, the summary and the figure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from eventstudy.exceptions import ClusteredEventWarning, ConfigError
from eventstudy.figures_robustness import specification_curve
from eventstudy.sensitivity import (
    CHOICES,
    SensitivityResults,
    sensitivity,
    sensitivity_from_run,
    spec_grid,
)
from eventstudy.simulate import synthetic_returns
from eventstudy.study import event_study

SECS = ["S0", "S1", "S2", "S3"]


def _panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    r = synthetic_returns(4, 700, common=0.3, seed=1, fx="FX")
    r["N225"] = r["MKT"] + np.random.default_rng(0).normal(0, 0.003, len(r))
    r.iloc[650, :4] += 0.04  # a real reaction on E1's day 0
    ev = pd.DataFrame(
        {
            "security": SECS * 2,
            "event_date": [r.index[600]] * 4 + [r.index[650]] * 4,
            "event_id": ["E0"] * 4 + ["E1"] * 4,
        }
    )
    return r, ev


SMALL = {
    "models": ("market", "market_adjusted", "constant_mean", "market_fx"),
    "estimation_lengths": (120, 250),
    "gaps": (10,),
    "car_windows": ((0, 0), (-1, 1)),
}


@pytest.fixture(scope="module")
def result() -> SensitivityResults:
    r, ev = _panel()
    return sensitivity(
        r, ev, market="MKT", alt_markets={"TOPIX": "MKT", "Nikkei 225": "N225"}, fx="FX", **SMALL
    )


def test_default_grid_has_every_choice_and_constant_mean_once():
    g = spec_grid()
    assert len(g) == 224  # 3 benchmarked models x 2 benchmarks x 32 + constant mean x 32
    assert set(g.loc[g["model"] == "constant_mean", "benchmark"]) == {"none"}
    assert set(g["car_window"]) == {"CAR(0,0)", "CAR(0,+1)", "CAR(-1,+1)", "CAR(0,+5)"}
    assert set(g["returns"]) == {"simple", "log"}
    row = g[(g["estimation_length"] == 250) & (g["gap"] == 10)].iloc[0]
    assert row["estimation"] == (-260, -11)  # the study's default estimation window
    assert g["spec_id"].is_unique and not g.duplicated(list(CHOICES)).any()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"models": ("capm",)}, "models"),
        ({"return_types": ("excess",)}, "return_types"),
        ({"gaps": (0,)}, "gaps"),
        ({"gaps": (1,), "car_windows": ((-2, 1),)}, "car_windows"),
    ],
)
def test_bad_grid_choices_are_config_errors(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        spec_grid(**kwargs)


def test_rows_per_spec_event_and_security_portfolio_first(result):
    s = result.specs
    n_specs = len(result.grid)
    assert n_specs == 2 * 2 * 3 * 2 * 2 + 2 * 2 * 2  # benchmarked models + constant mean
    assert len(s) == n_specs * 2 * (1 + len(SECS))
    first = s.groupby(["spec_id", "event_id"], sort=False)["security"].first()
    assert (first == "portfolio").all()
    assert list(s.columns[:9]) == ["spec_id", *CHOICES, "event_id", "security"]
    assert {"car", "se", "ci_low", "ci_high", "p_value", "significant", "test"} <= set(s.columns)


def test_interval_excludes_zero_exactly_when_significant(result):
    s = result.specs
    excludes = (s["ci_low"] > 0) | (s["ci_high"] < 0)
    close = np.minimum(s["ci_low"].abs(), s["ci_high"].abs()) < 1e-9
    assert (excludes == s["significant"])[~close].all()


def test_portfolio_row_is_the_engines_portfolio_test(result):
    r, ev = _panel()
    spec = result.specs[
        (result.specs["model"] == "market")
        & (result.specs["benchmark"] == "Nikkei 225")
        & (result.specs["estimation_length"] == 250)
        & (result.specs["car_window"] == "CAR(-1,+1)")
        & (result.specs["returns"] == "simple")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        res = event_study(r, ev, market="N225", estimation=(-260, -11), window=(-1, 1))
    ref = res.caar_tests((-1, 1), by="event_id").query("test == 'portfolio'").set_index("event_id")
    port = spec[spec["security"] == "portfolio"].set_index("event_id")
    np.testing.assert_allclose(port["p_value"], ref.loc[port.index, "p_value"], rtol=1e-10)
    np.testing.assert_allclose(port["statistic"], ref.loc[port.index, "statistic"], rtol=1e-10)
    np.testing.assert_allclose(port["car"], ref.loc[port.index, "caar"], rtol=1e-10)
    cars = res.car((-1, 1)).set_index(["event_id", "security"])["car"]
    secs = spec[spec["security"] != "portfolio"].set_index(["event_id", "security"])["car"]
    np.testing.assert_allclose(secs, cars.loc[secs.index], rtol=1e-12)


def test_log_returns_spec_uses_log1p_returns(result):
    r, _ = _panel()
    s = result.specs
    row = s[
        (s["model"] == "market_adjusted")
        & (s["benchmark"] == "TOPIX")
        & (s["car_window"] == "CAR(0,0)")
        & (s["returns"] == "log")
        & (s["event_id"] == "E1")
        & (s["security"] == "S2")
    ]
    expected = np.log1p(r["S2"].iloc[650]) - np.log1p(r["MKT"].iloc[650])
    np.testing.assert_allclose(row["car"], expected, rtol=1e-12)


def test_summary_states_share_significant_and_sign(result):
    m = result.summary.set_index(["event_id", "security"])
    assert list(result.summary["security"][:1]) == ["portfolio"]
    e1 = m.loc[("E1", "portfolio")]
    assert e1["share_significant"] > 0.5 and e1["share_significant_negative"] == 0
    assert e1["share_positive"] == 1.0
    assert e1["share_significant"] == pytest.approx(
        e1["share_significant_positive"] + e1["share_significant_negative"]
    )
    assert m.loc[("E0", "portfolio"), "share_significant"] < 0.5
    assert "specifications significant at 5%" in e1["statement"]
    assert "E1 / portfolio" in str(result)


def test_market_fx_is_dropped_without_an_fx_column_and_noted():
    r, ev = _panel()
    res = sensitivity(
        r, ev, market="MKT", models=("market", "market_fx"), estimation_lengths=(120,),
        gaps=(10,), car_windows=((0, 0),), return_types=("simple",),
    )  # fmt: skip
    assert set(res.specs["model"]) == {"market"}
    assert any("market_fx" in n for n in res.settings["notes"])


def test_another_portfolio_test_can_be_read():
    r, ev = _panel()
    res = sensitivity(
        r, ev, market="MKT", models=("market",), estimation_lengths=(250,), gaps=(10,),
        car_windows=((0, 0),), return_types=("simple",), portfolio_test="kolari_pynnonen",
    )  # fmt: skip
    port = res.specs[res.specs["security"] == "portfolio"]
    assert set(port["test"]) == {"kolari_pynnonen"}
    assert port["p_value"].between(0, 1).all()


def test_sensitivity_from_run_takes_the_prepared_parts():
    r, ev = _panel()
    prepared = {
        "XTKS": {
            "returns": r,
            "events": ev,
            "market": "MKT",
            "alt_markets": {"TOPIX": "MKT", "Nikkei 225": "N225"},
            "factors": ["FX"],
        }
    }
    out = sensitivity_from_run(
        prepared, models=("market_fx",), estimation_lengths=(120,), gaps=(10,),
        car_windows=((0, 0),), return_types=("simple",),
    )  # fmt: skip
    res = out["XTKS"]
    assert set(res.specs["benchmark"]) == {"TOPIX", "Nikkei 225"}
    assert res.settings["fx"] == "FX"


def test_specification_curve_figure(result):
    fig = specification_curve(result.specs, event_id="E1", security="portfolio")
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 2
    n = len(result.grid)
    assert len(fig.data[0].x) == n
    assert list(fig.data[0].y) == sorted(fig.data[0].y)  # sorted CARs, in %
    assert "%" in fig.layout.title.text and "(%)" in fig.layout.yaxis.title.text
    assert any(str(y).startswith("model: ") for y in fig.data[1].y)
    assert isinstance(result.plot("E0", "S1"), go.Figure)
    with pytest.raises(ValueError, match="no specification"):
        specification_curve(result.specs, event_id="E1", security="XX")


# ../shared/seeds/event-facts.csv, kei_cafe_2025-12-03: close-to-close moves on 2025-12-04
EVENT_FACTS_2025_12_04_SUZUKI = -0.0051
EVENT_FACTS_2025_12_04_TOPIX = 0.0192


def test_kei_car_study_on_real_prices(prices_dir):
    from pathlib import Path

    from eventstudy.runner import prepare_history
    from eventstudy.sensitivity import sensitivity_from_run

    root = Path(__file__).resolve().parents[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data warnings of the real files are not under test
        prepared = prepare_history(
            root / "configs" / "kei_cars.yaml", prices=prices_dir, offline=True, years=2.0
        )
        out = sensitivity_from_run(
            prepared,
            models=("market_adjusted", "market_fx"), estimation_lengths=(250,), gaps=(30,),
            car_windows=((0, 0),), return_types=("simple",),
        )  # fmt: skip
    res = out["XTKS"]
    assert set(res.specs["benchmark"]) == {"TOPIX", "Nikkei 225"}
    assert res.settings["fx"] == "JPY=X"
    assert res.specs["car"].notna().all()
    row = res.specs.query(
        "event_id == 'kei_cafe_2025-12-03' and security == '7269.T' and "
        "model == 'market_adjusted' and benchmark == 'TOPIX'"
    )
    expected = EVENT_FACTS_2025_12_04_SUZUKI - EVENT_FACTS_2025_12_04_TOPIX
    assert row["car"].iloc[0] == pytest.approx(expected, abs=2e-4)  # facts are rounded to 0.01%


def test_firm_events_excluded_in_some_specifications_are_noted():
    r, ev = _panel()
    r.iloc[300:480, 0] = np.nan  # S0 lacks history for E1's longer estimation window
    res = sensitivity(
        r, ev, market="MKT", models=("market",), estimation_lengths=(120, 250), gaps=(10,),
        car_windows=((0, 0),), return_types=("simple",), min_estimation_obs=200,
    )  # fmt: skip
    assert any("L=250" in n and "S0" in n for n in res.settings["notes"])
    s0 = res.specs[(res.specs["security"] == "S0") & (res.specs["event_id"] == "E1")]
    assert set(s0["estimation_length"]) == {120}
