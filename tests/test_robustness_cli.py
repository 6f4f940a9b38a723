"""The robustness lab on the command line: ``simulate``, ``sensitivity`` and ``run --simulate``.

Small draws keep these to seconds; the numbers themselves are tested in test_simulate.py and
test_sensitivity.py. Here: the commands run on the real prices, print their tables, write
their figures and CSV files, and fail with one line and the right exit code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy import cli

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "configs" / "kei_cars.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_the_robustness_commands():
    out = subprocess.run(
        [sys.executable, "-m", "eventstudy.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("simulate", "sensitivity", "compare"):
        assert command in out
    _, run_help, _ = invoke("run", "--help")
    assert "--simulate" in run_help and "--sensitivity" in run_help


def test_simulate_prints_the_size_table_and_writes_figures_and_csv(tmp_path, prices_dir):
    code, out, err = invoke(
        "--quiet", "simulate", str(KEI), "--prices", str(prices_dir), "--offline",
        "--draws", "40", "--seed", "3", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "Verdicts" in out and "Rejection rate under the null at 5%" in out
    assert "portfolio" in out and "t_test" in out
    folder = tmp_path / "kei_cars_simulate"
    for rel in ("index.html", "summary.txt", "tables/size.csv", "tables/verdicts.csv"):
        assert (folder / rel).is_file(), rel
    assert list((folder / "fragments").glob("placebo-size*.html"))
    size = pd.read_csv(folder / "tables" / "size.csv")
    assert set(size["n_draws"]) == {40}
    assert {"test", "window", "level", "rejection_rate", "ci_low", "ci_high"} <= set(size)
    # seeded: the same seed gives the same table
    code, out2, _ = invoke(
        "--quiet", "simulate", str(KEI), "--prices", str(prices_dir), "--offline",
        "--draws", "40", "--seed", "3", "--out", str(tmp_path / "again"),
    )  # fmt: skip
    assert code == 0 and out2 == out


def test_sensitivity_prints_the_spec_curve_summary_and_writes_the_curves(tmp_path, prices_dir):
    code, out, err = invoke(
        "--quiet", "sensitivity", str(KEI), "--prices", str(prices_dir), "--offline",
        "--out", str(tmp_path), "--plotlyjs", "none",
    )  # fmt: skip
    assert code == 0, err
    assert "kei_cafe_2025-12-03 / portfolio:" in out and "specifications significant" in out
    folder = tmp_path / "kei_cars_sensitivity"
    summary = pd.read_csv(folder / "tables" / "spec_summary.csv")
    assert set(summary["event_id"]) == {"kei_cafe_2025-12-03", "tinycars_truth_2025-12-05"}
    assert (summary["n_specs"] > 100).all()
    assert (folder / "tables" / "specs.csv").is_file()
    assert (
        folder / "fragments" / "specification-curve-kei-cafe-2025-12-03-portfolio.html"
    ).is_file()


def test_run_with_simulate_and_sensitivity_adds_the_sections(tmp_path, prices_dir):
    code, _, err = invoke(
        "--quiet", "run", str(KEI), "--prices", str(prices_dir), "--offline",
        "--out", str(tmp_path), "--simulate", "30", "--sensitivity", "--plotlyjs", "none",
    )  # fmt: skip
    assert code == 0, err
    folder = tmp_path / "kei_cars"
    html = (folder / "index.html").read_text()
    assert 'id="further"' in html and "Placebo size at 5%" in html
    assert "Specification curve, kei_cafe_2025-12-03, portfolio" in html
    for name in ("simulate_verdicts", "simulate_size_5pct", "sensitivity_spec_summary"):
        assert (folder / "tables" / f"{name}.csv").is_file(), name


@pytest.mark.parametrize("command", ["simulate", "sensitivity"])
def test_missing_prices_folder_is_one_line_and_exit_2(tmp_path, command):
    code, _, err = invoke(command, str(KEI), "--prices", str(tmp_path / "absent"))
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "--prices" in lines[0]
    assert "Traceback" not in err


def test_zero_draws_is_a_usage_error():
    code, _, err = invoke("simulate", str(KEI), "--draws", "0")
    assert code == 2 and "--draws" in err


def test_extra_tables_are_shown_titled_and_written(tmp_path):
    from test_figures import simulated_results

    from eventstudy import report
    from eventstudy.exceptions import ReportError

    table = pd.DataFrame({"test": ["portfolio"], "size": [0.055], "verdict": ["valid"]})
    index = report.write(
        simulated_results(),
        tmp_path / "r",
        plotlyjs="none",
        extra_tables={"simulate_verdicts": table},
    )
    html = index.read_text()
    assert "Placebo simulation: size at 5% and power per test" in html and "5.5%" in html
    assert pd.read_csv(tmp_path / "r" / "tables" / "simulate_verdicts.csv").equals(table)
    with pytest.raises(ReportError, match="extra table"):
        report.write(simulated_results(), tmp_path / "s", extra_tables={"x": [1, 2]})
    assert not (tmp_path / "s").exists()


def test_write_page_is_atomic_and_writes_every_table(tmp_path):
    import plotly.graph_objects as go

    from eventstudy import report

    out = tmp_path / "page"
    big = pd.DataFrame({"x": range(100)})
    index = report.write_page(
        out,
        title="T <b>",
        text=["line one"],
        figures={"A figure": go.Figure()},
        tables={"small one": pd.DataFrame({"p_value": [0.01]}), "big": big},
        plotlyjs="none",
    )
    html = index.read_text()
    assert "T &lt;b&gt;" in html and "small one" in html and "0.0100" in html
    assert 'id="table-big"' not in html  # long tables are CSV only
    assert (out / "tables" / "big.csv").is_file() and (
        out / "fragments" / "a-figure.html"
    ).is_file()
    assert (out / "summary.txt").read_text() == "line one\n"
    assert [p.name for p in tmp_path.iterdir()] == ["page"]
