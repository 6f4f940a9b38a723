"""Price preparation of ``configs/universe_demo.yaml``: the panel path against the per-symbol path.

``runner.prepare`` (simulated prices, the market, returns on the XNYS sessions, the events
table) on the demo's first ``--securities`` securities (default 500; all: 2000), each case in
a fresh subprocess so that its peak RSS is its own:

- ``per-symbol``: the path of sources without a panel (one ``get`` + ``finalize_prices`` per
  symbol, ``compute_returns`` symbol by symbol): the baseline, measured in the same run;
- ``panel``: ``SimulatedSource.frames`` (one panel) and ``returns_from_panel``.

Prints wall time, CPU (user + system) and peak RSS (``os.wait4``) of each case, the ratio
to the baseline, and whether the two returns frames are identical (every bit, and the
``missing``/``alignment`` attrs).

Run: ``.venv/bin/python benchmarks/bench_panel.py [--securities N]``; not part of CI.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp: Path, n: int) -> Path:
    """A copy of the demo study with its first ``n`` securities."""
    (tmp / "configs").mkdir()
    (tmp / "seeds").mkdir()
    lines = (ROOT / "configs" / "universe_demo_securities.csv").read_text().splitlines()
    (tmp / "configs" / "universe_demo_securities.csv").write_text("\n".join(lines[: n + 1]) + "\n")
    shutil.copy(ROOT / "configs" / "universe_demo.yaml", tmp / "configs" / "study.yaml")
    return tmp / "configs" / "study.yaml"


def _case(mode: str, study: Path, out: Path) -> None:
    """Run one case in this (child) process; pickle the returns frame to ``out``."""
    from eventstudy import runner
    from eventstudy.data import loading

    if mode == "per-symbol":

        class _NoPanel:  # isinstance(source, SimulatedSource) is then False in loading
            pass

        loading.SimulatedSource = _NoPanel  # type: ignore[assignment,misc]
        runner._security_panel = lambda *a, **k: None  # type: ignore[assignment]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = runner.prepare(study)
    ret = prep.groups["XNYS"].returns
    out.write_bytes(pickle.dumps((ret, dict(ret.attrs))))


def _measure(mode: str, study: Path, out: Path) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(study), str(out)], cwd=ROOT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{mode}: the child failed (status {status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--securities", type=int, default=500)
    ap.add_argument("--child", nargs=3, metavar=("MODE", "STUDY", "OUT"))
    args = ap.parse_args()
    if args.child:
        _case(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        study = _project(tmp, args.securities)
        rows = {}
        for mode in ("per-symbol", "panel"):
            rows[mode] = _measure(mode, study, tmp / f"{mode}.pkl")
        base = rows["per-symbol"]
        print(f"prepare() of universe_demo with {args.securities} securities")
        print(f"{'case':<11} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'wall ratio':>10}")
        for mode, (wall, cpu, rss) in rows.items():
            print(f"{mode:<11} {wall:8.1f} {cpu:8.1f} {rss:8.0f} {wall / base[0]:10.2f}")
        a, a_attrs = pickle.loads((tmp / "per-symbol.pkl").read_bytes())
        b, b_attrs = pickle.loads((tmp / "panel.pkl").read_bytes())
        same = a.equals(b) and list(a.columns) == list(b.columns) and a_attrs == b_attrs
        print("returns identical:", same)


if __name__ == "__main__":
    main()
