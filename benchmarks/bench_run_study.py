"""Time the computation of ``eventstudy run`` on the kei-car study in a cold process.

What one CLI invocation pays between its imports and the report: ``runner.run_study`` as
``pipeline.run_and_write`` calls it with ``--calibrate 0`` (prices from
``../shared/data/prices``, offline). Each run is a fresh subprocess that imports the
package, numpy and pandas, plans the study, then measures the CPU time (user + system,
``time.process_time``) of ``run_study`` alone; imports the run makes on the way (such as
``scipy.sparse``) count, as they do in the CLI.

The same runs also time the computation after the main fit: the follow-up analyses (``runner.analyse``: variants, date-only shift, roles, overlapping windows) and the
verdicts with the per-firm table (``runner.verdicts_and_firms``), each wrapped where
``run_study`` calls it. Each figure is also given without the garbage collections that ran
inside it (timed by ``gc.callbacks``; in brackets): a full collection of the run's objects
costs 0.1-0.2 s and where it falls depends on every allocation before it, so it can land in
one package's stage and not in the other's.

With ``--baseline COMMIT`` the package as of ``COMMIT`` (its ``eventstudy/`` extracted with
``git archive``) runs too, alternating with the working tree's, so both see the same load of
a shared machine; the table shows medians, the smallest time (the least disturbed run) and
the median of the per-pair ratios.

Run: ``.venv/bin/python benchmarks/bench_run_study.py [--repeat 7] [--baseline main]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _baseline import GC_CLOCK, extract, import_from

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
CONFIG = ROOT / "configs" / "kei_cars.yaml"
#: The stages after the main fit, timed where ``run_study`` calls them.
STAGES = ("analyse", "verdicts_and_firms")
#: The child: plan the study, then time run_study alone and the stages inside it (CPU
#: seconds on the last line: run_study, then each stage; each followed by the seconds of
#: the garbage collections inside it).
CHILD = """
import gc, time, warnings
import numpy, pandas
from eventstudy import runner
from eventstudy.plan import plan_study
warnings.simplefilter("ignore")
{gc_clock}spent = {{name: [0.0, 0.0] for name in {stages!r}}}

def timed(name, fn):
    def run(*args, **kwargs):
        t, g = time.process_time(), collecting[1]
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name][0] += time.process_time() - t
            spent[name][1] += collecting[1] - g
    return run

for name in spent:
    setattr(runner, name, timed(name, getattr(runner, name)))
plan = plan_study({config!r}, prices={prices!r}, out={out!r})
t0, g0 = time.process_time(), collecting[1]
runner.run_study(plan, offline=True, quiet=True, calibrate=0)
print(time.process_time() - t0, collecting[1] - g0, *(x for v in spent.values() for x in v))
"""
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(src: str, out: Path) -> list[float]:
    """CPU seconds of one cold ``run_study`` (a fresh subprocess), then of each stage, each
    followed by the seconds of the garbage collections inside it."""
    code = import_from(src) + CHILD.format(
        config=str(CONFIG), prices=str(PRICES), out=str(out), stages=STAGES, gc_clock=GC_CLOCK
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"run_study failed:\n{proc.stderr[-2000:]}")
    return [float(x) for x in proc.stdout.strip().splitlines()[-1].split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", help="a commit to time beside the working tree")
    args = parser.parse_args()
    if not PRICES.is_dir():
        raise SystemExit(f"{PRICES} is absent")
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"working tree": ""}
        if args.baseline:
            src = extract(args.baseline, Path(tmp) / "baseline_src")
            cases = {f"baseline {args.baseline[:10]}": str(src), **cases}
        for src in cases.values():  # warm the byte-code caches
            measure(src, Path(tmp) / "out")
        times: dict[str, list[list[float]]] = {name: [] for name in cases}
        load = [os.getloadavg()[0]]
        for _ in range(args.repeat):
            for name, src in cases.items():
                times[name].append(measure(src, Path(tmp) / "out"))
        load.append(os.getloadavg()[0])
    # per run: (CPU, CPU without garbage collection) of run_study, then of the stages
    # after the main fit together
    runs = {
        name: [
            (
                (r[0], r[0] - r[1]),
                (sum(r[2::2]), sum(r[2::2]) - sum(r[3::2])),
            )
            for r in rs
        ]
        for name, rs in times.items()
    }
    print(f"CPU s, kei-car study, {args.repeat} cold runs per case (interleaved), medians;")
    print("in brackets without the garbage collections inside;")
    print(f"load average {load[0]:.2f} before, {load[1]:.2f} after")
    print("| case | run_study | min | analyse + verdicts_and_firms | min |")
    print("|---|---:|---:|---:|---:|")

    def cell(values: list[tuple[float, float]], pick: Callable[..., float]) -> str:
        return f"{pick(v[0] for v in values):.3f} ({pick(v[1] for v in values):.3f})"

    for name, rs in runs.items():
        whole, after = [r[0] for r in rs], [r[1] for r in rs]
        print(
            f"| {name} | {cell(whole, statistics.median)} | {cell(whole, min)} "
            f"| {cell(after, statistics.median)} | {cell(after, min)} |"
        )
    if args.baseline:
        base, new = runs[next(iter(cases))], runs["working tree"]
        for k, what in enumerate(("run_study", "analyse + verdicts_and_firms")):
            ratio = [n[k][0] / b[k][0] for b, n in zip(base, new, strict=True)]
            no_gc = [n[k][1] / b[k][1] for b, n in zip(base, new, strict=True)]
            print(
                f"{what}: working tree / baseline, median of the pairs "
                f"{statistics.median(ratio):.2f} ({statistics.median(no_gc):.2f})"
            )


if __name__ == "__main__":
    main()
