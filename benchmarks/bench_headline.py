"""Time what ``eventstudy run`` prints (the headline) and the report's volume section.

N fresh processes each run ``configs/kei_cars.yaml`` on ``../shared/data/prices`` offline
(``--calibrate 0``), then, as ``eventstudy run`` does, print the headline
(``runner.headline(run)``) and write the report (``report.write``). Each child reports the
CPU seconds (``time.process_time``) of the headline, of the report's volume section
(``volume_sections``, which builds the volume figure, and ``volume_tables``), of the whole
``report.write`` and of the whole process, so the first-use costs (the results' tables
computed on demand, plotly's validators) count where the CLI pays them.

Each figure is also given without the garbage collections that ran inside it (timed by
``gc.callbacks``; the "no GC" columns). A full collection of the run's objects costs about
0.13 s here, and where it falls depends on every allocation before it: it may land in the
headline of one package and in ``report.write`` of the other.

Run: ``.venv/bin/python benchmarks/bench_headline.py --repeat 9 [--baseline main]
[--calls]``. With ``--baseline COMMIT`` the package as of ``COMMIT`` (its ``eventstudy/`` extracted with
``git archive``) alternates with this checkout's, so both see the same load; the table
shows medians and their ratio. The first round of each warms byte-code caches and is not
counted. ``--calls`` adds one run per package counting the Python and C calls of each part
(``sys.setprofile``), a figure the machine's load does not move.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _baseline import GC_CLOCK, extract, import_from

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
CONFIG = ROOT / "configs" / "kei_cars.yaml"
#: The child (:func:`_baseline.import_from` goes first): argv = output folder. Prints, as
#: JSON, the CPU seconds of the headline, the volume sections, the volume tables,
#: report.write and the whole process, each with the seconds spent in garbage collections.
CHILD = """
import gc, json, sys, time, warnings
from eventstudy import report, runner
from eventstudy.plan import plan_study
from eventstudy.report import build
warnings.simplefilter("ignore")
{gc_clock}plan = plan_study({config!r}, prices={prices!r}, out=sys.argv[1])
run = runner.run_study(plan, offline=True, quiet=True, calibrate=0)
spent = {{}}
counting = sys.argv[2] == "calls"  # count Python and C calls instead (slow)
calls = {{}}
active = []

def count(frame, event, arg):
    if event in ("call", "c_call"):
        for name in active:
            calls[name] = calls.get(name, 0) + 1

def timed(name, fn):
    def wrapper(*args, **kwargs):
        c0, g0 = time.process_time(), collecting[1]
        if counting and name != "report.write":
            active.append(name)
            sys.setprofile(count)
        try:
            return fn(*args, **kwargs)
        finally:
            if counting and name != "report.write":
                active.pop()
                sys.setprofile(count if active else None)
            cpu, in_gc = time.process_time() - c0, collecting[1] - g0
            old = spent.get(name, (0.0, 0.0))
            spent[name] = (old[0] + cpu, old[1] + in_gc)
    return wrapper

build.volume_sections = timed("volume_sections", build.volume_sections)
build.volume_tables = timed("volume_tables", build.volume_tables)
timed("headline", runner.headline)(run)
o = plan.output
timed("report.write", report.write)(
    run, o.report_dir, plotlyjs=o.plotlyjs, fragments=o.fragments, images=o.images,
    formats=o.formats,
)
spent["process"] = (time.process_time(), collecting[1])
print(json.dumps(calls if counting else spent))
"""
#: What the table shows: (label, parts summed); CPU includes the garbage collections that
#: ran inside, the "no GC" columns leave them out (where Python's collector runs a full
#: collection depends on every allocation before it, so a part can pay for others).
PARTS = ("headline", "volume_sections", "volume_tables")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, metavar="N")
    parser.add_argument("--baseline", default=None, metavar="COMMIT")
    parser.add_argument(
        "--calls", action="store_true", help="also count the calls of each part (one run each)"
    )
    args = parser.parse_args(argv)
    if not (CONFIG.is_file() and PRICES.is_dir()):
        print(f"needs {CONFIG} and {PRICES}")
        return 2
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = CHILD.format(config=str(CONFIG), prices=str(PRICES), gc_clock=GC_CLOCK)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"this checkout": ""}
        if args.baseline:
            src = extract(args.baseline, Path(tmp) / "baseline_src")
            cases = {f"at {args.baseline[:10]}": str(src), **cases}
        runs: dict[str, list[dict[str, list[float]]]] = {k: [] for k in cases}
        load = os.getloadavg()[0]
        for i in range(args.repeat + 1):
            for name, src_arg in cases.items():
                out = Path(tmp) / f"out{i}-{bool(src_arg)}"
                proc = subprocess.run(
                    [sys.executable, "-c", import_from(src_arg) + code, str(out), "time"],
                    cwd=ROOT, env=env,
                    capture_output=True, text=True,
                )  # fmt: skip
                if proc.returncode != 0:
                    print(f"{name}: failed\n{proc.stderr[-2000:]}")
                    return 2
                if i:  # round 0 warms the byte-code caches
                    runs[name].append(json.loads(proc.stdout.splitlines()[-1]))
        counted = {}
        for name, src_arg in cases.items() if args.calls else ():
            out = Path(tmp) / f"calls-{bool(src_arg)}"
            proc = subprocess.run(
                [sys.executable, "-c", import_from(src_arg) + code, str(out), "calls"],
                cwd=ROOT, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            counted[name] = json.loads(proc.stdout.splitlines()[-1])
    print(f"CPU s in a fresh process, kei_cars --calibrate 0, {args.repeat} rounds (medians)")
    print(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    columns = {
        "headline": ("headline",),
        "volume section": ("volume_sections", "volume_tables"),
        "headline + volume": PARTS,
        "report.write": ("report.write",),
        "process": ("process",),
    }
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for name, rs in runs.items():
        table[name] = {}
        for label, parts in columns.items():
            cpu = [sum(r[p][0] for p in parts) for r in rs]
            no_gc = [sum(r[p][0] - r[p][1] for p in parts) for r in rs]
            table[name][label] = (statistics.median(cpu), statistics.median(no_gc))
    print("| package | " + " | ".join(f"{c} (no GC)" for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in table.items():
        cells = [f"{cpu:.3f} ({no_gc:.3f})" for cpu, no_gc in row.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.baseline:
        before, after = table[next(iter(cases))], table["this checkout"]
        ratios = ", ".join(
            f"{c} {after[c][0] / before[c][0]:.2f} ({after[c][1] / before[c][1]:.2f})"
            for c in columns
        )
        print(f"ratio of medians, this checkout / baseline (no GC): {ratios}")
    if counted:
        print("Python and C calls (sys.setprofile, one run each; load-independent):")
        print("| package | " + " | ".join(PARTS) + " | sum |")
        print("|---|" + "---:|" * (len(PARTS) + 1))
        for name, n in counted.items():
            values = [n.get(p, 0) for p in PARTS]
            print(f"| {name} | " + " | ".join(f"{v:,}" for v in [*values, sum(values)]) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
