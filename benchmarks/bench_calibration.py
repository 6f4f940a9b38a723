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

Run: ``.venv/bin/python benchmarks/bench_calibration.py [--repeat 7] [--draws 1000]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
CONFIG = ROOT / "configs" / "kei_cars.yaml"


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--draws", type=int, default=1000)
    args = ap.parse_args()
    if not PRICES.is_dir():
        raise SystemExit(f"needs the shared prices at {PRICES}")
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    one_run(0)  # imports, calendars, caches
    one_run(args.draws)
    runs: dict[int, list[tuple[float, float]]] = {0: [], args.draws: []}
    for _ in range(args.repeat):
        for b in runs:
            runs[b].append(one_run(b))
    times = {b: [u + s for u, s in v] for b, v in runs.items()}
    med = {b: statistics.median(v) for b, v in times.items()}
    low = {b: min(v) for b, v in times.items()}
    print(f"kei-car run and report in process, CPU s over {args.repeat} interleaved runs")
    print(f"{'calibrate':>10} {'median':>8} {'min':>8} {'user':>8} {'system':>8}")
    for b, v in runs.items():
        user = statistics.median(u for u, _ in v)
        system = statistics.median(s for _, s in v)
        print(f"{b:>10} {med[b]:>8.2f} {low[b]:>8.2f} {user:>8.2f} {system:>8.2f}")
    print(
        f"calibration adds: {med[args.draws] - med[0]:.2f} s (medians), "
        f"{low[args.draws] - low[0]:.2f} s (minima); target < 2 s"
    )
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
