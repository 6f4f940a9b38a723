"""End to end on the real prices in ../shared: the README's main job, checked by hand.

The expected moves are the close-to-close facts stated in ``../shared/data/README.md`` and
``../shared/seeds/event-facts.csv``; each is recomputed here from the raw CSV files, and
the package's abnormal returns are checked against ``r - alpha - beta * m`` rebuilt from
its own parameter table and the raw prices (an independent path through the numbers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

ROOT = Path(__file__).resolve().parents[1]

# ../shared/seeds/event-facts.csv, "computed adj close-to-close 12-04" (percent, 2 dp)
KEI_2025_12_04 = {
    "7203.T": 3.26,
    "7267.T": 2.93,
    "7201.T": 4.25,
    "7211.T": 3.63,
    "7269.T": -0.51,
    "7270.T": 3.59,
    "7261.T": 3.39,
    "TOPIX": 1.92,
}
# ../shared/data/README.md: first Tokyo session after the US-Japan deal (percent, 1 dp)
DEAL_2025_07_23 = {"7203.T": 14.3, "7267.T": 11.2, "7201.T": 8.3, "7211.T": 13.0, "TOPIX": 3.2}


def raw_return(prices_dir: Path, symbol: str, day: str) -> float:
    df = pd.read_csv(prices_dir / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")
    close = df["Close"]
    pos = close.index.get_loc(pd.Timestamp(day))
    return close.iloc[pos] / close.iloc[pos - 1] - 1.0


@pytest.fixture(scope="module")
def kei_report(tmp_path_factory, prices_dir) -> Path:
    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventstudy.cli",
            "--quiet",
            "run",
            "configs/kei_cars.yaml",
            "--prices",
            str(prices_dir),
            "--offline",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out / "kei_cars"


@pytest.mark.parametrize(("symbol", "pct"), KEI_2025_12_04.items())
def test_shared_facts_hold_for_the_raw_prices(prices_dir, symbol, pct):
    assert 100 * raw_return(prices_dir, symbol, "2025-12-04") == pytest.approx(
        pct, abs=0.005 + 1e-9
    )


def test_kei_report_has_every_part(kei_report: Path):
    for rel in (
        "index.html",
        "results.json",
        "tables/abnormal_returns.csv",
        "tables/params.csv",
        "tables/tests.csv",
        "tables/tests.md",
        "tables/tests.tex",
        "tables/car.csv",
    ):
        assert (kei_report / rel).is_file(), rel
    assert len(list((kei_report / "fragments").glob("*.html"))) >= 8
    data = json.loads((kei_report / "results.json").read_text())
    assert {"abnormal_returns", "car", "tests", "params"} <= set(data)


def test_kei_day0_is_the_first_tokyo_session_and_ars_rebuild_by_hand(kei_report, prices_dir):
    ar = pd.read_csv(kei_report / "tables" / "abnormal_returns.csv")
    params = pd.read_csv(kei_report / "tables" / "params.csv")
    day0 = ar[(ar["event_id"] == "kei_cafe_2025-12-03") & (ar["rel_day"] == 0)]
    assert set(day0["date"]) == {"2025-12-04"}
    m = raw_return(prices_dir, "TOPIX", "2025-12-04")
    for _, row in day0.iterrows():
        p = params[
            (params["event_id"] == row["event_id"]) & (params["security"] == row["security"])
        ]
        r = raw_return(prices_dir, row["security"], "2025-12-04")
        expected = r - p["alpha"].iloc[0] - p["beta"].iloc[0] * m
        assert_allclose(row["ar"], expected, rtol=1e-9, atol=1e-12)
    second = ar[(ar["event_id"] == "tinycars_truth_2025-12-05") & (ar["rel_day"] == 0)]
    assert set(second["date"]) == {"2025-12-08"}


def test_kei_car_is_the_sum_of_ars(kei_report):
    ar = pd.read_csv(kei_report / "tables" / "abnormal_returns.csv")
    car = pd.read_csv(kei_report / "tables" / "car.csv")
    row = car[
        (car["window"] == "(0,+1)")
        & (car["security"] == "7203.T")
        & (car["event_id"] == "kei_cafe_2025-12-03")
    ]
    sel = ar[
        (ar["security"] == "7203.T")
        & (ar["event_id"] == "kei_cafe_2025-12-03")
        & ar["rel_day"].between(0, 1)
    ]
    assert_allclose(row["car"].iloc[0], sel["ar"].sum(), rtol=1e-12)


def test_suzuki_fell_while_the_named_oems_rose_on_2025_12_04(kei_report):
    ar = pd.read_csv(kei_report / "tables" / "abnormal_returns.csv")
    day0 = ar[(ar["event_id"] == "kei_cafe_2025-12-03") & (ar["rel_day"] == 0)].set_index(
        "security"
    )
    assert day0.loc["7269.T", "ar"] < 0
    # Suzuki is the only one of the seven whose raw return was negative that day
    assert min(KEI_2025_12_04, key=KEI_2025_12_04.get) == "7269.T"


def test_tariff_study_day0_matches_the_deal_day_moves(prices_dir):
    import warnings

    from eventstudy.exceptions import ClusteredEventWarning
    from eventstudy.runner import run_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        run = run_study(ROOT / "configs" / "tariffs_2025.yaml", prices=prices_dir, offline=True)
    returns = run.returns["XTKS"]
    for symbol, pct in DEAL_2025_07_23.items():
        assert 100 * returns.loc["2025-07-23", symbol] == pytest.approx(
            pct, abs=0.06
        )  # README rounds 11.15 up
    ar = run.results["XTKS"].abnormal_returns
    deal = ar[(ar["event_id"] == "us_japan_deal_2025-07-22") & (ar["rel_day"] == 0)]
    assert set(pd.to_datetime(deal["date"]).dt.strftime("%Y-%m-%d")) == {"2025-07-23"}
    toyota = deal.set_index("security").loc["7203.T", "ar"]
    assert 0.05 < toyota < 0.143  # a large positive AR, smaller than the raw +14.3%


KEI_SYMBOLS = ["7203.T", "7267.T", "7201.T", "7211.T", "7269.T", "7270.T", "7261.T"]


def test_the_readme_notebook_example_runs_on_the_real_prices(prices_dir, tmp_path, monkeypatch):
    """The README's "In a notebook" block, as written, on the kei-car events."""
    import re

    import eventstudy as es

    block = re.search(
        r"## In a notebook\n\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S
    ).group(1)
    closes = {
        s: pd.read_csv(prices_dir / f"{s}.csv", parse_dates=["Date"]).set_index("Date")["Close"]
        for s in [*KEI_SYMBOLS, "TOPIX"]
    }
    returns = pd.DataFrame(closes).loc["2024-06-01":"2026-01-31"].dropna(how="all")
    returns = returns.pct_change(fill_method=None).iloc[1:]
    events = pd.DataFrame(
        [
            {"security": s, "event_date": day0, "event_id": eid}
            for eid, day0 in (("kei_cafe", "2025-12-04"), ("tinycars", "2025-12-08"))
            for s in KEI_SYMBOLS
        ]
    )
    monkeypatch.chdir(tmp_path)
    space = {"returns": returns, "events": events}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "README.md", "exec"), space)
    res = space["res"]
    assert isinstance(res, es.EventStudyResults)
    assert (tmp_path / "reports" / "my_study" / "index.html").is_file()
    assert (tmp_path / "reports" / "my_study" / "verdict.json").is_file()
    text = str(res.summary(window=(0, 1)))
    assert text.startswith("No abnormal reaction detected for event kei_cafe, reacting session ")
    firms = res.firm_table((0, 1))
    suzuki = firms[(firms["event_id"] == "kei_cafe") & (firms["security"] == "7269.T")]
    assert suzuki["ar0"].iloc[0] < -0.02  # the one automaker that fell on 2025-12-04


def test_exported_notebook_keeps_the_figures(prices_dir, tmp_path):
    """``jupyter nbconvert --to html --execute`` of a notebook whose renderer is the plotly
    mimetype only (JupyterLab, VS Code): the figure of ``res.plot_car()`` is in the HTML.
    Needs nbconvert and ipykernel (not project dependencies): skipped without them."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    exporters = pytest.importorskip("nbconvert", reason="nbconvert is not installed")
    from nbconvert.preprocessors import ExecutePreprocessor

    setup = f"""
import warnings; warnings.simplefilter("ignore")
import pandas as pd, plotly.io as pio, eventstudy as es
syms = {KEI_SYMBOLS!r}
closes = {{s: pd.read_csv(f"{prices_dir}/{{s}}.csv", parse_dates=["Date"]).set_index("Date")["Close"]
          for s in [*syms, "TOPIX"]}}
returns = pd.DataFrame(closes).loc["2024-06-01":"2026-01-31"].pct_change(fill_method=None).iloc[1:]
events = pd.DataFrame([{{"security": s, "event_date": "2025-12-04", "event_id": "kei"}} for s in syms])
pio.renderers.default = "plotly_mimetype"
res = es.event_study(returns, events, market="TOPIX")
"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell("res.plot_car()")]
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(nb, {})
    html, _ = exporters.HTMLExporter().from_notebook_node(nb)
    assert html.count('class="plotly-graph-div"') == 1
    assert "Plotly.newPlot" in html and "plotly.js v" in html  # plotly.js is in the file
