"""Time writing the full kei-car report once the statistics are computed.

The study: the seven Tokyo automakers and TOPIX around the two kei-car announcements
(2025-12-03 19:30 UTC and 2025-12-05 14:50 UTC), market model, window (-10, +10).
Prices come from ``../shared/data/prices`` when present (real closes), otherwise they are
simulated with the same shape. The engine runs once, outside the timing; each timed run
writes everything the CLI writes except images: index.html with plotly.js inline, every
figure, fragments, CSV tables, results.json, Markdown and LaTeX tables.

Run: ``.venv/bin/python benchmarks/bench_report.py [--repeat 7]``. Target: under 1.5 s.

``--cold N`` measures instead what one ``eventstudy run`` pays for its report: N fresh
processes each run ``configs/kei_cars.yaml`` on ``../shared/data/prices`` offline
(``--calibrate 0``, as the CLI does) and time the one ``report.write`` that follows (CPU,
``time.process_time``, inside the child), so the first-use costs (plotly's validators, the
results' tables computed on demand, templates) count as they do in the CLI. With
``--baseline COMMIT`` the same runs on the package as of ``COMMIT`` (its ``eventstudy/``
extracted with ``git archive``) alternate with this checkout's, so both see the same load;
the table shows medians, minima and the ratio. The first round of each warms byte-code
caches and is not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import eventstudy as es
from eventstudy import calendar, report
from eventstudy.config import parse_config
from eventstudy.plan import plan_study
from eventstudy.runner import Provenance, StudyRun, verdicts_and_firms

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
SECURITIES = ["7203.T", "7267.T", "7201.T", "7211.T", "7269.T", "7270.T", "7261.T"]
MARKET = "TOPIX"
EVENTS = {
    "kei_cafe_2025-12-03": "2025-12-03T19:30:00Z",
    "tinycars_truth_2025-12-05": "2025-12-05T14:50:00Z",
}
TARGET_S = 1.5
CONFIG = ROOT / "configs" / "kei_cars.yaml"
#: The child of ``--cold``: run the study as ``eventstudy run`` does, then print the CPU
#: seconds of writing its report (:func:`_baseline.import_from` goes first). argv: output
#: folder.
COLD_CHILD = """
import sys, time, warnings
from eventstudy import report, runner
from eventstudy.plan import plan_study
warnings.simplefilter("ignore")
plan = plan_study({config!r}, prices={prices!r}, out=sys.argv[1])
run = runner.run_study(plan, offline=True, quiet=True, calibrate=0)
o = plan.output
c0 = time.process_time()
report.write(run, o.report_dir, plotlyjs=o.plotlyjs, fragments=o.fragments, images=o.images,
             formats=o.formats)
print(time.process_time() - c0)
"""


def load_prices() -> tuple[dict[str, pd.DataFrame], str]:
    symbols = [*SECURITIES, MARKET]
    if all((PRICES / f"{s}.csv").is_file() for s in symbols):
        out = {}
        for sym in symbols:
            raw = pd.read_csv(PRICES / f"{sym}.csv", parse_dates=["Date"], index_col="Date")
            frame = pd.DataFrame({"close": raw["Close"], "adj_close": raw["Close"]})
            frame.index.name = "date"
            frame = frame.loc["2024-06-01":"2026-01-31"]
            frame.attrs["provenance"] = {
                "source": "csv",
                "symbol": sym,
                "fetched_at": "snapshot",
                "path": str(PRICES / f"{sym}.csv"),
            }
            out[sym] = frame
        return out, f"real closes from {PRICES}"
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2024-06-03", "2026-01-30", name="date")
    out = {}
    for sym in symbols:
        close = 1000 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, len(idx))))
        frame = pd.DataFrame({"close": close, "adj_close": close}, index=idx)
        frame.attrs["provenance"] = {"source": "simulated", "symbol": sym, "fetched_at": ""}
        out[sym] = frame
    return out, "simulated prices (../shared absent)"


def build_run() -> tuple[StudyRun, str]:
    prices, origin = load_prices()
    closes = pd.DataFrame({s: f["adj_close"] for s, f in prices.items()}).dropna()
    returns = closes.pct_change().iloc[1:]
    timing = calendar.event_timing(EVENTS, ["XTKS", "XNYS"])
    tse = timing[timing["exchange"] == "XTKS"].set_index("event_id")["session"]
    events = pd.DataFrame(
        [
            {"security": s, "event_date": tse[eid], "event_id": eid}
            for eid in EVENTS
            for s in SECURITIES
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = es.event_study(returns, events, market=MARKET)
    config = parse_config(
        {
            "name": "kei_cars",
            "title": "Kei cars: US policy news and Japanese automakers",
            "securities": [
                {"symbol": s, "role": "oem" if i < 4 else "peer"} for i, s in enumerate(SECURITIES)
            ],
            "events": [
                {"id": eid, "title": eid.split("_")[0].upper() + " announcement", "announced": ts}
                for eid, ts in EVENTS.items()
            ],
            "estimation": [-260, -11],
        }
    )
    plan = plan_study(config)
    verdicts, firms = verdicts_and_firms(plan, {"XTKS": res})
    now = pd.Timestamp.now(tz="UTC").isoformat()
    run = StudyRun(
        plan=plan,
        timing=timing,
        prices=prices,
        returns={"XTKS": returns},
        results={"XTKS": res},
        market={"XTKS": MARKET},
        dossiers={eid: f"# {eid}\nAnnounced {ts}." for eid, ts in EVENTS.items()},
        provenance=Provenance({}, {}, None, "benchmark", now, now),
        verdicts=verdicts,
        firms=firms,
    )
    return run, origin


def cold(rounds: int, baseline: str | None) -> int:
    """``--cold``: the report's CPU in fresh processes (see the module docstring)."""
    if not (CONFIG.is_file() and PRICES.is_dir()):
        print(f"--cold needs {CONFIG} and {PRICES}")
        return 2
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    from _baseline import extract, import_from

    code = COLD_CHILD.format(config=str(CONFIG), prices=str(PRICES))
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"this checkout": ""}
        if baseline:
            src = extract(baseline, Path(tmp) / "baseline_src")
            cases = {f"at {baseline[:10]}": str(src), **cases}
        cpu: dict[str, list[float]] = {k: [] for k in cases}
        load = os.getloadavg()[0]
        for i in range(rounds + 1):
            for name, src_arg in cases.items():
                out = Path(tmp) / f"out{i}-{len(cpu[name])}-{src_arg == ''}"
                proc = subprocess.run(
                    [sys.executable, "-c", import_from(src_arg) + code, str(out)], cwd=ROOT, env=env,
                    capture_output=True, text=True,
                )  # fmt: skip
                if proc.returncode != 0:
                    print(f"{name}: failed\n{proc.stderr[-2000:]}")
                    return 2
                if i:  # round 0 warms the byte-code caches
                    cpu[name].append(float(proc.stdout.split()[-1]))
    print(f"report.write CPU in a fresh process, kei_cars --calibrate 0, {rounds} rounds")
    print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| package | median s | min s | runs |")
    print("|---|---|---|---|")
    for name, v in cpu.items():
        runs = " ".join(f"{x:.2f}" for x in v)
        print(f"| {name} | {statistics.median(v):.3f} | {min(v):.3f} | {runs} |")
    if baseline:
        before, after = cpu[next(iter(cases))], cpu["this checkout"]
        pairs = " ".join(f"{b / a:.2f}" for a, b in zip(before, after, strict=True))
        print(
            f"ratio of medians {statistics.median(after) / statistics.median(before):.2f}, "
            f"of minima {min(after) / min(before):.2f}; per round: {pairs}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold", type=int, default=0, metavar="N")
    parser.add_argument("--baseline", default=None, metavar="COMMIT")
    args = parser.parse_args(argv)
    if args.cold:
        return cold(args.cold, args.baseline)
    run, origin = build_run()
    with tempfile.TemporaryDirectory() as tmp:
        # first write: imports, template compilation, and the CAR and test tables that the
        # results object computes on demand (car(w), caar_tests(w, by="event_id"), and the
        # CAR chart's windows from day -1 to each day)
        t0, c0 = time.perf_counter(), time.process_time()
        report.write(run, Path(tmp) / "first")
        first_wall, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        walls, cpus = [], []
        for i in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            index = report.write(run, Path(tmp) / f"r{i}")
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        out = index.parent
        n_fig = len(list((out / "fragments").glob("*.html")))
        size = (out / "index.html").stat().st_size / 1e6
    med = statistics.median(walls)
    print(f"study: {len(SECURITIES)} securities x {len(EVENTS)} events; {origin}")
    print(f"report: {n_fig} figures (+ fragments), index.html {size:.1f} MB, plotly.js inline")
    print(
        f"first write (imports, templates, on-demand test tables): {first_wall:.3f} s wall, "
        f"{first_cpu:.3f} s CPU"
    )
    print(
        f"write time over {args.repeat} runs: median {med:.3f} s wall "
        f"(min {min(walls):.3f}, max {max(walls):.3f}), median {statistics.median(cpus):.3f} s "
        f"CPU (target < {TARGET_S} s)"
    )
    return 0 if med < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
