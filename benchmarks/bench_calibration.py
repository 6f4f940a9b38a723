"""What placebo calibration adds to the kei-car run, measured in one process (issue 12).

``eventstudy run configs/kei_cars.yaml --offline`` calibrates every test on 1,000 placebo
dates per event by default; issue 12 asks that this add less than 2 s of CPU to the run.
Timing the CLI twice in fresh processes (``bench_cli.py``) measures it as a difference of two
medians that each carry about 2 s of imports and +-0.5 s of noise on a shared machine. Here
the whole run and report (``pipeline.run_and_write``, the CLI's own call) is timed in one
process with its imports done once, ``--calibrate 0`` and ``--calibrate 1000`` interleaved,
each into a fresh temporary folder; the table shows medians and minima of CPU time (user +
system) and the difference, the cost of calibration. The machine's load average is printed
before and after.

``--parts`` times the calibration's own calls instead, replayed on the run's results: the
placebo fit (``EventStudy._calibration``) and the calibrated tables the run and its report
build (the CAR tests of four windows by event, the daily tests by event, the portfolio CARs
of five windows), each on fresh results objects (nothing cached), minus the same tables
without calibration. Less noisy than the difference of two whole runs.

``--baseline COMMIT`` runs the same measurement on the package as of ``COMMIT`` (its
``eventstudy/`` extracted with ``git archive``) and on the working tree, each in a child
process, alternating ``--rounds`` times: before and after under the same load.

Run: ``.venv/bin/python benchmarks/bench_calibration.py [--repeat 7] [--draws 1000] [--parts]
[--baseline main] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
CONFIG = ROOT / "configs" / "kei_cars.yaml"
#: The calibrated windows a kei-car run and its report read (CAR tests, portfolio CARs).
CAR_WINDOWS = [(0, 1), (0, 0), (-1, 1), (0, 5)]
PORTFOLIO_WINDOWS = [(0, 1), (0, 0), (-1, 1), (0, 5), (-1, 10)]


def one_run(draws: int) -> tuple[float, float]:
    """CPU seconds (user, system) of one in-process run and report of the kei-car study."""
    from eventstudy import pipeline
    from eventstudy.plan import plan_study

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = plan_study(str(CONFIG), prices=str(PRICES), out=tmp)
        gc.collect()
        t = os.times()
        pipeline.run_and_write(plan, offline=True, out=tmp, calibrate=draws, quiet=True)
        u = os.times()
        return u.user - t.user, u.system - t.system


def whole_runs(repeat: int, draws: int) -> None:
    one_run(0)  # imports, calendars, caches
    one_run(draws)
    runs: dict[int, list[tuple[float, float]]] = {0: [], draws: []}
    for _ in range(repeat):
        for b in runs:
            runs[b].append(one_run(b))
    times = {b: [u + s for u, s in v] for b, v in runs.items()}
    med = {b: statistics.median(v) for b, v in times.items()}
    low = {b: min(v) for b, v in times.items()}
    print(f"kei-car run and report in process, CPU s over {repeat} interleaved runs")
    print(f"{'calibrate':>10} {'median':>8} {'min':>8} {'user':>8} {'system':>8}")
    for b, v in runs.items():
        user = statistics.median(u for u, _ in v)
        system = statistics.median(s for _, s in v)
        print(f"{b:>10} {med[b]:>8.2f} {low[b]:>8.2f} {user:>8.2f} {system:>8.2f}")
    print(
        f"calibration adds: {med[draws] - med[0]:.2f} s (medians), "
        f"{low[draws] - low[0]:.2f} s (minima); target < 2 s"
    )


def parts(repeat: int, draws: int) -> None:
    """The calibration's own calls, replayed on fresh results objects of one run."""
    from eventstudy import runner, study
    from eventstudy.calibration import Calibration
    from eventstudy.plan import plan_study
    from eventstudy.results import EventStudyResults

    captured: dict[str, Any] = {}
    fit = study.EventStudy._calibration

    def capture(self: Any, res: Any) -> Any:
        captured["spec"], captured["res"] = self, res
        return fit(self, res)

    study.EventStudy._calibration = capture  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = plan_study(str(CONFIG), prices=str(PRICES), out=tmp)
        runner.run_study(plan, offline=True, quiet=True, calibrate=draws)
    study.EventStudy._calibration = fit  # type: ignore[method-assign]
    spec, real = captured["spec"], captured["res"]

    def tables(res: EventStudyResults) -> None:
        for w in CAR_WINDOWS:
            res.caar_tests(w, by="event_id")
        for w in PORTFOLIO_WINDOWS:
            res.portfolio_car(w)
        res.aar_tests((-10, 10), by="event_id")

    rows: dict[str, list[float]] = {"placebo fit": [], "calibrated tables": [], "total": []}
    for i in range(repeat + 1):
        gc.collect()
        t = os.times()
        cal = spec._calibration(real)
        u = os.times()
        fresh = Calibration(
            EventStudyResults(cal.placebo._d), cal.template, cal.events, cal.n_draws,
            cal.eligible, cal.notes, cal.seed,
        )  # fmt: skip
        calibrated = EventStudyResults(real._d, calibration=fresh)
        nominal = EventStudyResults(real._d)
        gc.collect()
        v = os.times()
        tables(calibrated)
        w = os.times()
        tables(nominal)
        x = os.times()
        if i == 0:
            continue  # warm-up
        fit_s = u.user + u.system - t.user - t.system
        tab_s = (w.user + w.system - v.user - v.system) - (x.user + x.system - w.user - w.system)
        rows["placebo fit"].append(fit_s)
        rows["calibrated tables"].append(tab_s)
        rows["total"].append(fit_s + tab_s)
    print(f"calibration's own calls on the kei-car study, CPU s over {repeat} runs")
    print(f"{'part':>20} {'median':>8} {'min':>8}")
    for k, v in rows.items():
        print(f"{k:>20} {statistics.median(v):>8.2f} {min(v):>8.2f}")


def baseline(args: argparse.Namespace) -> None:
    from _baseline import extract, import_from

    flags = ["--repeat", str(args.repeat), "--draws", str(args.draws)]
    flags += ["--parts"] if args.parts else []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        src = extract(args.baseline, Path(tmp) / "baseline_src")
        cases = {f"baseline {args.baseline[:10]}": str(src), "working tree": ""}
        for r in range(args.rounds):
            for name, where in cases.items():
                code = (
                    import_from(where)
                    + f"import runpy, sys; sys.argv = [{__file__!r}, *{flags!r}]; "
                    + f"runpy.run_path({__file__!r}, run_name='__main__')"
                )
                out = subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                print(f"## round {r + 1}: {name}\n{out}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--parts", action="store_true", help="time the calibration calls alone")
    ap.add_argument("--baseline", help="a commit to time beside the working tree")
    ap.add_argument("--rounds", type=int, default=2, help="alternations with --baseline")
    args = ap.parse_args()
    if not PRICES.is_dir():
        raise SystemExit(f"needs the shared prices at {PRICES}")
    if args.baseline:
        baseline(args)
        return
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    if args.parts:
        parts(args.repeat, args.draws)
    else:
        whole_runs(args.repeat, args.draws)
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
