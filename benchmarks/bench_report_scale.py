"""The report at universe scale: page size, figures, traces, write time and peak memory.

Each size runs in its own process: a simulated study (``SimulatedSource``, Tokyo
sessions, market model, window (-10, +10), four CAR windows, a few securities with an
injected abnormal return so the movers are real) of N securities x E events is run once,
then the report is written (``index.html`` with plotly.js inline, fragments, tables, JSON).
Printed per size: ``index.html`` size, the figures and their traces (from the fragments),
the table rows on the page, the write time (wall and CPU) and the peak RSS before and after
the write (``ru_maxrss``: the run's peak, then the whole process's).

Run: ``.venv/bin/python benchmarks/bench_report_scale.py [--sizes 7x2,200x20,2000x2,2000x20]``.
Bound: ``index.html`` under ``PAGE_BOUND_MB`` at 2,000 x 20 (exit 1 above it). The 2,000 x 20
size runs the engine on 40,000 firm-events first (about a minute on one core).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

PAGE_BOUND_MB = 10.0
DEFAULT_SIZES = "7x2,30x2,200x20,2000x2,2000x20"


def study_config(n_securities: int, n_events: int, seed: int = 7) -> dict:
    """A simulated study of ``n_securities`` Tokyo symbols around ``n_events`` events."""
    import pandas as pd

    symbols = [f"{1000 + i}.T" for i in range(n_securities)]
    days = pd.bdate_range("2025-01-06", "2025-12-19")
    step = max(len(days) // max(n_events, 1), 1)
    events = [
        {
            "id": f"e{k:02d}",
            "title": f"Simulated announcement {k}",
            "announced": f"{days[k * step]:%Y-%m-%d}T14:30:00-05:00",
        }
        for k in range(n_events)
    ]
    injected = [
        {"event": ev["id"], "security": symbols[(3 * k + j) % n_securities], "ar": ar}
        for k, ev in enumerate(events)
        for j, ar in enumerate((0.08, -0.06, 0.05))
        if j < n_securities
    ]
    return {
        "name": f"scale_{n_securities}x{n_events}",
        "title": f"Report at scale: {n_securities} securities x {n_events} events",
        "securities": [
            {"symbol": s, "name": f"Company {s}", "role": "oem" if i < 4 else "peer"}
            for i, s in enumerate(symbols)
        ],
        "market": {"XTKS": {"symbol": "TOPIX", "name": "TOPIX (simulated)"}},
        "events": events,
        "estimation": [-250, -11],
        "event_window": [-10, 10],
        "car_windows": [[0, 0], [0, 1], [-1, 1], [0, 5]],
        "model": "market",
        "source": {
            "kind": "simulated",
            "seed": seed,
            "start": "2023-10-02",
            "end": "2026-01-30",
            "industry_vol": 0.004,
            "injected": injected,
        },
    }


def _figures(fragments: Path) -> tuple[int, int, int]:
    """Figures, total traces and the most traces of one figure, read from the fragments."""
    n_fig = n_tr = most = 0
    decoder = json.JSONDecoder()
    for f in fragments.glob("*.html"):
        text = f.read_text(encoding="utf-8")
        m = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", text)
        if not m:
            continue
        data, _ = decoder.raw_decode(text, m.end())
        n_fig += 1
        n_tr += len(data)
        most = max(most, len(data))
    return n_fig, n_tr, most


def one(n_securities: int, n_events: int) -> dict:
    """Run and report one size in this process; the figures as a dict."""
    from eventstudy import report
    from eventstudy.config import parse_config
    from eventstudy.runner import run_study

    config = parse_config(study_config(n_securities, n_events))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_study(config, quiet=True)
    run_s = time.perf_counter() - t0
    rss_run = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        index = report.write(run, Path(tmp) / "r")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss_write = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        page = index.read_text(encoding="utf-8")
        n_fig, n_tr, most = _figures(index.parent / "fragments")
        return {
            "size": f"{n_securities}x{n_events}",
            "firm_events": n_securities * n_events,
            "run_s": run_s,
            "page_mb": index.stat().st_size / 1e6,
            "folder_mb": sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
            / 1e6,
            "figures": n_fig,
            "traces": n_tr,
            "most_traces": most,
            "table_rows": page.count("<tr"),
            "write_s": wall,
            "write_cpu_s": cpu,
            "rss_run_mb": rss_run,
            "rss_peak_mb": rss_write,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="NxE,... (securities x events)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        n, e = (int(x) for x in args.one.split("x"))
        print(json.dumps(one(n, e)))
        return 0
    print(
        f"{'size':>9} {'firm-ev':>8} {'run s':>6} {'page MB':>8} {'folder MB':>9} {'figs':>5} "
        f"{'traces':>7} {'max/fig':>7} {'<tr>':>6} {'write s':>8} {'cpu s':>6} "
        f"{'RSS run':>8} {'RSS peak':>8}"
    )
    ok = True
    for size in args.sizes.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", size.strip()],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"{size:>9} failed: {proc.stderr.strip().splitlines()[-1:]}")
            ok = False
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['size']:>9} {r['firm_events']:>8} {r['run_s']:>6.1f} {r['page_mb']:>8.2f} "
            f"{r['folder_mb']:>9.1f} {r['figures']:>5} {r['traces']:>7} {r['most_traces']:>7} "
            f"{r['table_rows']:>6} {r['write_s']:>8.2f} {r['write_cpu_s']:>6.2f} "
            f"{r['rss_run_mb']:>7.0f}M {r['rss_peak_mb']:>7.0f}M"
        )
        if r["size"] == "2000x20" and r["page_mb"] > PAGE_BOUND_MB:
            ok = False
    print(f"bound: index.html under {PAGE_BOUND_MB:.0f} MB at 2000x20 (plotly.js inline, 4.7 MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
