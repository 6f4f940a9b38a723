"""Universe studies: securities from a file or from every column of a wide price file, the
``compute:`` block and the CLI's ``--backend``/``--scheduler``, the CSV sources of a study
(several paths, per-security exchanges) and warnings summarised at scale.

The shared universe (3,419 US stocks) is checked against its README in
``test_the_universe_study_reproduces_the_readme_medians`` (skipped without ``../shared``).
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from click.testing import CliRunner

from eventstudy import runner
from eventstudy.cli import WARNINGS_SHOWN, _echo_warnings, _State, main
from eventstudy.config import load_config
from eventstudy.data import CsvChain, CsvSource
from eventstudy.exceptions import (
    ConfigError,
    EventStudyWarning,
    MissingSessionsWarning,
    UnknownSymbol,
    format_warning,
)
from eventstudy.plan import plan_study, with_compute

ROOT = Path(__file__).resolve().parents[1]

# The universe README's checks (../shared/data/universe/README.md): median close-to-close
# return of the 3,419 stocks on the first reacting session.
README_MEDIAN_2020_03_16 = -0.1215
README_MEDIAN_2020_11_09 = 0.0278

EVENTS = """
events:
  - {id: e1, title: First, announced: "2024-06-12T16:30:00-04:00"}
  - {id: e2, title: Second, announced: "2024-09-11T16:30:00-04:00"}
"""


def _project(
    tmp_path: Path, securities: str, csv: dict[str, str] | None = None, extra: str = ""
) -> Path:
    """A project folder (with seeds/) holding configs/study.yaml and the given files."""
    (tmp_path / "seeds").mkdir(exist_ok=True)
    (tmp_path / "configs").mkdir(exist_ok=True)
    for name, text in (csv or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    study = tmp_path / "configs" / "study.yaml"
    study.write_text(
        "name: uni\n"
        + textwrap.dedent(securities).strip("\n")
        + "\nmarket: {XNYS: ^GSPC}\n"
        + EVENTS
        + textwrap.dedent(extra),
        encoding="utf-8",
    )
    return study


UNIVERSE_CSV = """
symbol,name,exchange,role,sector,log_mcap
AAA,Alpha Inc,,peer,tech,10.5
BBB,Beta Corp,XNYS,,banks,
CCC,,,,tech,8.25
"""


# ----------------------------------------------------------------------------- files


def test_securities_from_a_file_keep_every_column(tmp_path):
    study = _project(
        tmp_path,
        "securities: {from: configs/universe.csv, role: oem}",
        {"configs/universe.csv": UNIVERSE_CSV},
    )
    cfg = load_config(study)
    got = {s.symbol: s for s in cfg.securities}
    assert list(got) == ["AAA", "BBB", "CCC"]
    assert got["AAA"].name == "Alpha Inc" and got["CCC"].name is None
    assert got["AAA"].role == "peer" and got["BBB"].role == "oem"  # the file's default
    assert {s.exchange for s in cfg.securities} == {"XNYS"}
    assert got["AAA"].characteristics == {"sector": "tech", "log_mcap": 10.5}
    assert got["BBB"].characteristics == {"sector": "banks", "log_mcap": None}
    assert got["CCC"].characteristics["log_mcap"] == 8.25


def test_file_entries_sit_next_to_inline_securities(tmp_path):
    study = _project(
        tmp_path,
        """
        securities:
          - {symbol: TM, name: Toyota ADR, role: oem}
          - from: configs/universe.csv
        """,
        {"configs/universe.csv": UNIVERSE_CSV},
    )
    assert [s.symbol for s in load_config(study).securities] == ["TM", "AAA", "BBB", "CCC"]


def test_every_column_of_a_wide_price_file(tmp_path):
    study = _project(
        tmp_path,
        "securities: {all_columns_of: data/wide.csv, exclude: [SPY], role: peer}",
        {"data/wide.csv": "Date;AAA;SPY;BBB\n2024-01-02;1;2;3\n"},
    )
    cfg = load_config(study)
    assert [(s.symbol, s.role, s.exchange) for s in cfg.securities] == [
        ("AAA", "peer", "XNYS"),
        ("BBB", "peer", "XNYS"),
    ]


BAD_FILES = [
    (
        "missing file",
        "{from: configs/nope.csv}",
        {},
        ["securities[0].from", "nope.csv", "an existing CSV file"],
    ),
    (
        "no symbol column",
        "{from: configs/u.csv}",
        {"configs/u.csv": "ticker,name\nAAA,Alpha\n"},
        ["configs/u.csv, line 1", "ticker,name", "a column 'symbol'"],
    ),
    (
        "no name column",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol\nAAA\n"},
        ["configs/u.csv, line 1", "a column 'name'"],
    ),
    (
        "duplicate symbol",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name\nAAA,a\n\nBBB,b\nAAA,c\n"},
        ["configs/u.csv, line 5", "'AAA'", "already in configs/u.csv, line 2"],
    ),
    (
        "empty file",
        "{from: configs/u.csv}",
        {"configs/u.csv": "\n\n"},
        ["an empty file", "a header line"],
    ),
    (
        "header only",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name\n"},
        ["a header only (line 1)", "at least one security row"],
    ),
    (
        "short row",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name,size\nAAA,a,1\nBBB,b\n"},
        ["configs/u.csv, line 3", "2 cells", "3 cells per row"],
    ),
    (
        "text in a number column",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name,size\nAAA,a,1.5\nBBB,b,n/a\n"},
        ["line 3, column size", "'n/a'", "a finite number"],
    ),
    (
        "bad role",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name,role\nAAA,a,boss\n"},
        ["line 2, column role", "'boss'", "one of"],
    ),
    (
        "bad ticker",
        "{from: configs/u.csv}",
        {"configs/u.csv": "symbol,name\nAA A,a\n"},
        ["line 2, column symbol", "'AA A'", "a ticker of letters"],
    ),
    (
        "unknown column to exclude",
        "{all_columns_of: w.csv, exclude: [ZZZ]}",
        {"w.csv": "Date,AAA\n2024-01-02,1\n"},
        ["securities[0].exclude", "'ZZZ'", "a column of w.csv"],
    ),
    (
        "column twice",
        "{all_columns_of: w.csv}",
        {"w.csv": "Date,AAA,AAA\n2024-01-02,1,2\n"},
        ["w.csv, line 1, column 3", "'AAA'", "each column once"],
    ),
    ("empty price file", "{all_columns_of: w.csv}", {"w.csv": ""}, ["an empty file"]),
    (
        "dates only",
        "{all_columns_of: w.csv}",
        {"w.csv": "Date\n2024-01-02\n"},
        ["at least one symbol column"],
    ),
    (
        "unknown key",
        "{from: configs/u.csv, colour: red}",
        {"configs/u.csv": "symbol,name\nAAA,a\n"},
        ["securities[0].colour", "no field 'colour'"],
    ),
]


@pytest.mark.parametrize(
    ("securities", "files", "needles"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_every_problem_of_a_securities_file_is_one_line(tmp_path, securities, files, needles):
    study = _project(tmp_path, f"securities: {securities}", files)
    with pytest.raises(ConfigError) as info:
        load_config(study)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(study))
    for needle in needles:
        assert needle in text, text


def test_a_symbol_in_a_file_and_inline_names_both(tmp_path):
    study = _project(
        tmp_path,
        "securities:\n  - {symbol: BBB}\n  - {from: configs/universe.csv}",
        {"configs/universe.csv": UNIVERSE_CSV},
    )
    with pytest.raises(
        ConfigError,
        match=r"line 3: 'BBB'; expected each symbol once \(BBB is "
        r"already in securities\[0\]\)",
    ):
        load_config(study)


def test_paths_resolve_against_the_project_folder_not_the_working_folder(tmp_path, monkeypatch):
    study = _project(
        tmp_path,
        "securities: {from: configs/universe.csv}",
        {"configs/universe.csv": UNIVERSE_CSV},
    )
    monkeypatch.chdir(tmp_path / "configs")
    assert len(load_config(study).securities) == 3


def test_validate_reads_the_real_universe_header(shared_dir):
    """3,419 securities validate (and plan) in well under a second each, with no warning."""
    import time

    wide = shared_dir / "data" / "universe" / "us_adj_close.csv"
    if not wide.is_file():
        pytest.skip(f"{wide} is absent")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = plan_study(ROOT / "configs" / "us_universe_2020.yaml")
        runner.preflight(plan)
    assert len(plan.securities) == 3419
    assert plan.securities[0].symbol == "A"
    assert time.perf_counter() - t0 < 30  # a guard against per-security quadratic work
    result = CliRunner().invoke(main, ["validate", str(ROOT / "configs" / "us_universe_2020.yaml")])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 10


# ----------------------------------------------------------------------------- compute


@pytest.mark.parametrize(
    ("compute", "needles"),
    [
        ("{address: 'tcp://h:8786'}", ["compute.backend", "backend: dask"]),
        ("{backend: dask, address: 'h:8786'}", ["compute.address", "tcp://10.0.0.5:8786"]),
        ("{backend: dask, address: 'tcp://h:8786', workers: 2}", ["compute.workers"]),
        ("{workers: 2}", ["compute.workers", "None unless backend is set"]),
        ("{backend: threads}", ["compute.backend", "processes"]),
        ("{backend: processes, chunk_events: 0}", ["compute.chunk_events", ">= 1"]),
        ("{backend: processes, workers: 0}", ["compute.workers", ">= 1"]),
    ],
)
def test_compute_problems_are_one_line(tmp_path, compute, needles):
    study = _project(tmp_path, "securities: [{symbol: AAA}]", extra=f"compute: {compute}\n")
    with pytest.raises(ConfigError) as info:
        load_config(study)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_cli_compute_options_override_the_study(tmp_path):
    study = _project(
        tmp_path,
        "securities: [{symbol: AAA}]",
        extra="compute: {backend: dask, address: 'tcp://h:8786', chunk_events: 3}\n",
    )
    plan = plan_study(study)
    assert plan.compute.options() == {
        "backend": "dask",
        "scheduler": "tcp://h:8786",
        "chunk_events": 3,
    }
    procs = with_compute(plan, backend="processes", workers=2).compute
    assert procs.options() == {"backend": "processes", "workers": 2, "chunk_events": 3}
    assert with_compute(plan, backend="none").compute.options() == {"chunk_events": 3}
    other = with_compute(plan, scheduler="tcp://other:1").compute
    assert (other.backend, other.scheduler) == ("dask", "tcp://other:1")
    with pytest.raises(ConfigError, match="--scheduler"):
        with_compute(plan, backend="processes", scheduler="tcp://other:1")
    with pytest.raises(ConfigError, match="--compute-workers"):
        with_compute(plan, workers=2)  # the study's scheduler has its own workers
    with pytest.raises(ConfigError, match="--scheduler: got 'other:1'"):
        with_compute(plan, scheduler="other:1")
    with pytest.raises(ConfigError, match="--compute-workers"):
        with_compute(plan, backend="none", workers=2)


def test_dask_backend_without_the_extra_fails_up_front(tmp_path, monkeypatch):
    import importlib.util

    study = _project(tmp_path, "securities: [{symbol: AAA}]", extra="compute: {backend: dask}\n")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "distributed" else real(name, *a),
    )
    result = CliRunner().invoke(main, ["validate", str(study)])
    assert result.exit_code == 2
    assert "compute.backend: got 'dask'" in result.output and "[dask]" in result.output


def test_the_default_run_never_imports_dask(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, eventstudy.runner as r, eventstudy.plan as p;"
        "r.preflight(p.plan_study('configs/demo.yaml'));"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ----------------------------------------------------------------------------- sources


def test_make_source_passes_each_securitys_exchange(tmp_path):
    """A symbol without a suffix but listed on Tokyo: its CSV time stamps are Tokyo dates."""
    study = _project(
        tmp_path,
        "securities: [{symbol: ABC, exchange: XTKS}, {symbol: DEF}]",
        {"data/p.csv": "Date,ABC,DEF\n2024-01-04,1,2\n"},
        extra="source: {kind: csv, prices: data/p.csv}\n",
    )
    text = study.read_text().replace("market: {XNYS: ^GSPC}", "market: {XNYS: ^GSPC, XTKS: TOPIX}")
    study.write_text(text)
    source = runner.make_source(plan_study(study))
    assert isinstance(source, CsvSource)
    assert source.exchange_of("ABC") == "XTKS" and source.exchange_of("DEF") == "XNYS"
    assert source.exchange_of("TOPIX") == "XTKS"


def test_a_list_of_price_paths_is_searched_in_order(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("Date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,11,21\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "BBB.csv").write_text("Date,Close\n2024-01-02,99\n2024-01-03,98\n")
    (folder / "^GSPC.csv").write_text("Date,Close\n2024-01-02,4700\n2024-01-03,4690\n")
    chain = CsvChain([CsvSource(wide), CsvSource(folder)])
    assert chain.get("BBB")["close"].tolist() == [20.0, 21.0]  # the first path wins
    assert chain.get("^GSPC")["close"].tolist() == [4700.0, 4690.0]
    with pytest.raises(UnknownSymbol, match=r"ZZZ: CSV .*wide\.csv nor CSV .*folder"):
        chain.get("ZZZ")


# ----------------------------------------------------------------------------- warnings


def test_warnings_about_thousands_of_securities_are_summarised(capsys):
    caught = []
    for i in range(40):
        w = format_warning(
            MissingSessionsWarning, symbol=f"S{i:02d}", count=1, exchange="XNYS", dates="2024-01-02"
        )
        caught.append(warnings.WarningMessage(w, MissingSessionsWarning, "f.py", 1))
    plain = EventStudyWarning("one message about the run")
    caught.append(warnings.WarningMessage(plain, EventStudyWarning, "f.py", 1))
    _echo_warnings(caught, _State())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == WARNINGS_SHOWN + 2
    assert lines[0].startswith("warning: S00: 1 session(s) of XNYS")
    assert lines[WARNINGS_SHOWN] == (
        f"warning: {40 - WARNINGS_SHOWN} more MissingSessionsWarning like the above: "
        f"S05, S06, S07, S08, S09, S10, S11, S12, ... ({40 - WARNINGS_SHOWN} in all)"
    )
    assert lines[-1] == "warning: one message about the run"


# ----------------------------------------------------------------------------- small runs

SIM_STUDY = """
name: uni_sim
securities: {from: configs/firms.csv}
market: {XNYS: ^GSPC}
events:
  - {id: e1, title: First, announced: "2024-06-12T16:30:00-04:00"}
  - {id: e2, title: Second, announced: "2024-09-11T16:30:00-04:00"}
  - {id: e3, title: Third, announced: "2024-11-13T16:30:00-05:00"}
estimation: [-200, -11]
event_window: [-3, 3]
car_windows: [[0, 0], [0, 1]]
source:
  kind: simulated
  seed: 7
  start: 2023-06-01
  end: 2024-12-31
  injected: [{event: e1, security: "*", ar: 0.02}]
cross_section:
  regressions:
    - {name: size, formula: car ~ size + C(sector), window: [0, 1]}
"""


@pytest.fixture(scope="module")
def sim_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uni")
    rng = np.random.default_rng(3)
    rows = ["symbol,name,sector,size"]
    rows += [f"F{i:02d},Firm {i},{'ab'[i % 2]},{rng.normal():.4f}" for i in range(40)]
    (root / "seeds").mkdir()
    (root / "configs").mkdir()
    (root / "configs" / "firms.csv").write_text("\n".join(rows) + "\n")
    study = root / "configs" / "study.yaml"
    study.write_text(SIM_STUDY)
    return study


def _tables(run: runner.StudyRun) -> dict[str, pd.DataFrame]:
    res = run.results["XNYS"]
    out = {
        "params": res.params,
        "clustering": res.clustering,
        "aar_tests": res.aar_tests(by="event_id"),
        "firms": run.firms,
        "verdicts": pd.DataFrame([v.as_record() for v in run.verdicts]),
    }
    for w in [(0, 0), (0, 1)]:
        out[f"car{w}"] = res.car(w)
        out[f"caar{w}"] = res.caar_tests(w, by="event_id")
    return out


def _run(study: Path, **compute: Any) -> runner.StudyRun:
    plan = with_compute(plan_study(study), **compute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return runner.run_study(plan, analyses=False)


@pytest.fixture(scope="module")
def in_process(sim_study) -> runner.StudyRun:
    return _run(sim_study)


def test_the_regression_reads_the_securities_file_without_a_second_file(sim_study, in_process):
    """The coefficients equal statsmodels' OLS on the CARs and the file read by pandas."""
    (reg,) = in_process.cross_sections
    firms = pd.read_csv(sim_study.parent / "firms.csv")
    cars = in_process.results["XNYS"].car((0, 1))
    frame = cars.merge(firms, left_on="security", right_on="symbol")
    design = sm.add_constant(
        pd.DataFrame({"size": frame["size"], "sector_b": (frame["sector"] == "b").astype(float)})
    )
    expected = sm.OLS(frame["car"].to_numpy(), design).fit()
    assert reg.fit.nobs == len(frame) == 120
    np.testing.assert_allclose(reg.fit.params["size"], expected.params["size"], rtol=1e-10)
    np.testing.assert_allclose(
        reg.fit.params["C(sector)[T.b]"], expected.params["sector_b"], rtol=1e-10
    )


def test_a_dask_cluster_from_the_config_gives_the_same_tables(sim_study, in_process):
    distributed = pytest.importorskip(
        "distributed", reason='Dask is an optional extra: pip install -e ".[dask]"'
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        text = (
            sim_study.read_text()
            + f"compute: {{backend: dask, address: '{cluster.scheduler_address}', chunk_events: 1}}\n"
        )
        other = sim_study.with_name("dask.yaml")
        other.write_text(text)
        on_dask = _run(other)
    assert plan_study(other).compute.backend == "dask"
    ref, got = _tables(in_process), _tables(on_dask)
    for name in ref:
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name)


def test_run_with_backend_processes_on_the_command_line(sim_study, in_process, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(sim_study),
            "--calibrate",
            "0",
            "--backend",
            "processes",
            "--compute-workers",
            "2",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    firms = pd.read_csv(out / "uni_sim" / "tables" / "firms.csv")
    ref = in_process.firms
    np.testing.assert_allclose(firms["estimate"].to_numpy(), ref["estimate"].to_numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- the real universe


def _readme_median(wide: Path, day: str) -> float:
    """The median close-to-close return of every column on ``day`` over the row before,
    read with the standard library only (independent of the package's CSV reader)."""
    import csv
    import statistics

    with wide.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        before: list[str] = []
        for row in reader:
            if row[0] == day:
                rets = [
                    float(c) / float(p) - 1
                    for p, c in zip(before[1:], row[1:], strict=True)
                    if p and c
                ]
                return statistics.median(rets)
            before = row
    raise AssertionError(f"{day} not in {wide}")


@pytest.mark.slow
def test_the_universe_study_reproduces_the_readme_medians(shared_dir):
    """Day 0 of both events is the README's reacting session, and the median of the engine's
    day-0 returns over the 3,419 stocks is the README's figure computed from the file."""
    wide = shared_dir / "data" / "universe" / "us_adj_close.csv"
    if not wide.is_file():
        pytest.skip(f"{wide} is absent")
    cut, vaccine = _readme_median(wide, "2020-03-16"), _readme_median(wide, "2020-11-09")
    assert round(cut, 4) == README_MEDIAN_2020_03_16
    assert round(vaccine, 4) == README_MEDIAN_2020_11_09
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        prep = runner.prepare(ROOT / "configs" / "us_universe_2020.yaml")
    group = prep.groups["XNYS"]
    day0 = dict(zip(group.events["event_id"], group.events["event_date"], strict=False))
    assert str(day0["fed_emergency_cut_2020-03-15"].date()) == "2020-03-16"
    assert str(day0["pfizer_vaccine_2020-11-09"].date()) == "2020-11-09"
    stocks = group.returns[list(group.securities)]
    assert stocks.shape[1] == 3419
    np.testing.assert_allclose(stocks.loc["2020-03-16"].median(), cut, rtol=1e-12)
    np.testing.assert_allclose(stocks.loc["2020-11-09"].median(), vaccine, rtol=1e-12)


def test_a_large_event_prints_its_movers_and_the_spread_of_cars(in_process):
    """40 firms, above the cap of 30: the 10 largest and 10 smallest CAR(0,+1), then the
    quantiles of every firm's CAR (numpy's, from the results' own CARs)."""
    text = runner.headline(in_process)
    block = text.split("Firms, e1 ")[1].split("\n\n")[0]
    cars = in_process.results["XNYS"].car((0, 1))
    e1 = cars[cars["event_id"] == "e1"].sort_values("car", ascending=False)
    assert "shown: the 10 largest and 10 smallest CAR(0,+1) of 40 securities" in block
    lines = block.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("firm")) + 1
    names = [" ".join(r.split()[:2]) for r in lines[start : start + 20]]
    expected = [f"Firm {int(s[1:])}" for s in [*e1["security"][:10], *e1["security"][-10:]]]
    assert names == expected
    qs = np.quantile(e1["car"], runner.SPREAD_QUANTILES)
    line = next(ln for ln in lines if ln.strip().startswith("CAR(0,+1):"))
    assert line.split()[1:8] == [f"{x * 100:+.2f}%" for x in qs]
    assert "(n = 40; mean " in line
