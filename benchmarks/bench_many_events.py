"""Time ``eventstudy run`` on a study of N announcements on consecutive sessions (issue 15).

The study: the seven Tokyo automakers of ``configs/kei_cars.yaml`` (its variants dropped),
TOPIX as the market, N events at 20:00 JST on consecutive business days from 2023-06-01
(each reacts on the next session, so every event window overlaps 20 others), market model,
estimation (-250, -11), window (-10, +10), prices from ``../shared/data/prices``. Each N runs
in a fresh subprocess (``eventstudy --quiet run ... --offline``) that reports its wall time,
CPU time and peak RSS; the baseline is N = 2 (the kei-car study's size) in the same run.

A study holds at most :data:`eventstudy.config.MAX_EVENTS` events; larger N is refused by
``validate`` in well under a second (the figure printed for it is the refusal's time).

Run: ``.venv/bin/python benchmarks/bench_many_events.py [--events 2 25 50 100 500]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"

CHILD = r"""
import json, resource, sys, time
from eventstudy.cli import main
t0, c0 = time.perf_counter(), time.process_time()
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"code": code, "wall": time.perf_counter() - t0,
                  "cpu": time.process_time() - c0, "rss_mb": ru.ru_maxrss / 1024}),
      file=sys.stderr)
"""


def study(n: int) -> str:
    base = (ROOT / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
    head = base.split("events:")[0]
    days = pd.bdate_range("2023-06-01", periods=n)
    events = "events:\n" + "".join(
        f'  - id: e{i:03d}\n    title: Event {i}\n    announced: "{d:%Y-%m-%d}T20:00:00+09:00"\n'
        for i, d in enumerate(days)
    )
    tail = (
        "estimation: [-250, -11]\nevent_window: [-10, 10]\n"
        "car_windows: [[0, 0], [0, 1], [-1, 1], [0, 5]]\nsource: yahoo\n"
    )
    return head + events + tail


def measure(n: int, folder: Path) -> dict[str, float]:
    (folder / "configs").mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
    path = folder / "configs" / f"many{n}.yaml"
    path.write_text(study(n), encoding="utf-8")
    args = ["--quiet", "run", str(path), "--prices", str(PRICES), "--offline"]
    args += ["--out", str(folder / f"out{n}")]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=ROOT
    )
    figures = json.loads(proc.stderr.strip().splitlines()[-1])
    figures["outer_wall"] = time.perf_counter() - start
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    figures["error"] = errors[0][:120] if errors else ""
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[2, 25, 50, 100, 500])
    opts = parser.parse_args()
    if not PRICES.is_dir():
        sys.exit(f"needs the shared prices in {PRICES}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in opts.events:
            rows.append({"events": n, **measure(n, Path(tmp))})
    base = next((r["wall"] for r in rows if r["events"] == 2), rows[0]["wall"])
    print(f"{'events':>6} {'exit':>4} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'x base':>7}")
    for r in rows:
        print(
            f"{r['events']:>6} {r['code']:>4} {r['wall']:>8.1f} {r['cpu']:>8.1f} "
            f"{r['rss_mb']:>8.0f} {r['wall'] / base:>7.1f}  {r['error']}"
        )


if __name__ == "__main__":
    main()
