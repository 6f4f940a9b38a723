"""A configured study with volume and cross-sectional regressions: the run, the summary it
prints, the report's sections and tables."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy import pipeline, runner
from eventstudy.exceptions import DataError, EventStudyWarning

ROOT = Path(__file__).resolve().parents[1]
#: Test characteristics (made up for the test, not data about the firms).
CHARS = """security,us_sales_share,log_mcap
7203.T,0.28,17.6
7267.T,0.41,16.3
7201.T,0.33,14.9
7211.T,0.05,13.8
7269.T,0.02,15.4
7270.T,0.70,14.6
7261.T,0.32,14.2
"""


def _study(tmp_path: Path, chars: str = CHARS) -> Path:
    text = (ROOT / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
    text = "\n".join(ln for ln in text.splitlines() if "dossier:" not in ln)
    text += """
cross_section:
  data: chars.csv
  regressions:
    - {formula: "car ~ us_sales_share", window: [0, 1]}
    - {name: wls_hc3, title: WLS on US sales, formula: "car ~ us_sales_share + log_mcap",
       window: [0, 0], weights: wls, cov: hc3}
"""
    (tmp_path / "chars.csv").write_text(chars, encoding="utf-8")
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, prices_dir: Path):
    tmp = tmp_path_factory.mktemp("measures")
    printed: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        index = pipeline.run_and_write(
            _study(tmp), prices=prices_dir, offline=True, out=tmp / "out", echo=printed.append,
            plotlyjs="none",
        )  # fmt: skip
        run = runner.run_study(_study(tmp), prices=prices_dir, offline=True, analyses=False)
    return run, index, "\n".join(printed)


def test_regressions_are_run_as_configured_against_numpy(written) -> None:
    run, _, _ = written
    ols, wls = run.cross_sections
    assert (ols.name, ols.cov, ols.weights, ols.window) == ("regression1", "cluster", "ols", (0, 1))
    assert ols.n_clusters == 2 and any("only 2 dates" in n for n in ols.notes)
    assert (wls.name, wls.cov, wls.weights) == ("wls_hc3", "hc3", "wls")
    car = run.results["XTKS"].car((0, 1)).merge(pd.read_csv(pd.io.common.StringIO(CHARS)))
    X = np.column_stack([np.ones(len(car)), car["us_sales_share"]])
    b = np.linalg.lstsq(X, car["car"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(ols.table["estimate"], b, rtol=1e-10)


def test_summary_prints_volume_and_regressions(written) -> None:
    run, _, printed = written
    s = run.volume["XTKS"].summary
    row = s[(s["event_id"] == "kei_cafe_2025-12-03") & (s["window"] == "(0,+1)")].iloc[0]
    line = next(
        ln for ln in printed.splitlines() if "kei_cafe_2025-12-03" in ln and "(0,+1)" in ln
        and "%" in ln and ln.strip().startswith("kei_cafe")
        and len(ln.split()) == 11
    )  # fmt: skip
    cells = line.split()
    assert cells[2] == f"{row['mean_cav']:.2f}"
    assert cells[5] == f"{row['p_portfolio']:.4f}"
    assert cells[8] == f"{row['volatility_ratio']:.2f}"
    ols = run.cross_sections[0]
    assert f"Regression regression1: {ols.label}; n = 14" in printed
    slope = ols.table.set_index("term").loc["us_sales_share"]
    assert re.search(rf"us_sales_share\s+{re.escape(f'{slope.estimate:.4g}')}\s", printed)


def test_report_has_a_section_per_regression_and_the_volume_section(written) -> None:
    run, index, _ = written
    html = Path(index).read_text(encoding="utf-8")
    for sid in ("volume-xtks", "regression-regression1", "regression-wls-hc3"):
        assert f'<section id="{sid}"' in html
    # statsmodels' summary of each regression, under its title
    assert html.count("Dep. Variable:") == 2 and html.count("Covariance Type:") == 2
    assert "WLS on US sales" in html
    tables = Path(index).parent / "tables"
    coefs = pd.read_csv(tables / "cross_section.csv")
    for r in run.cross_sections:
        mine = coefs[coefs["regression"] == r.name]
        np.testing.assert_allclose(mine["estimate"], r.table["estimate"], rtol=1e-12)
        np.testing.assert_allclose(mine["se"], r.table["se"], rtol=1e-12)
        for est in r.table["estimate"]:
            assert f">{est:.4g}<" in html
    vol = pd.read_csv(tables / "volume_summary.csv")
    mine = run.volume["XTKS"].summary
    np.testing.assert_allclose(vol["mean_cav"], mine["mean_cav"], rtol=1e-12)
    assert (Path(index).parent / "fragments" / "regression-wls-hc3.html").is_file()
    assert (Path(index).parent / "fragments" / "volume-xtks.html").is_file()


def test_a_bad_characteristics_file_stops_the_run_with_one_line(tmp_path, prices_dir) -> None:
    bad = CHARS.replace("0.41", "41%")
    with pytest.raises(DataError) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        runner.run_study(_study(tmp_path, bad), prices=prices_dir, offline=True, analyses=False)
    assert "chars.csv: line 3, column us_sales_share: '41%' is not a number" in str(err.value)


def test_volume_left_out_with_a_note_when_the_prices_have_none(tmp_path, prices_dir) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    for p in prices_dir.glob("*.csv"):
        frame = pd.read_csv(p)
        frame.drop(columns=[c for c in frame.columns if c == "Volume"]).to_csv(
            folder / p.name, index=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        run = runner.run_study(
            ROOT / "configs" / "kei_cars.yaml", prices=folder, offline=True, analyses=False
        )
    assert run.volume == {}
    assert any(
        "volume section left out on XTKS" in n and "no Volume column" in n for n in run.notes
    )
