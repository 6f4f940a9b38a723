"""Universe-scale benchmark: the engine in process, in a process pool and on Dask.

Work (as ``bench_engine.py``): fit + every daily test over the window (-10, +10) + every CAAR
test over four windows + the per-firm CARs, pooled over all firm-events, market model,
estimation (-260, -11), simulated returns with a common factor, every security on every date.

Cases, each in a fresh subprocess (so that peak RSS is the case's own):

- ``in-process``: ``backend=None`` (the engine as always);
- ``processes``: ``backend="processes", workers=2`` (a pool started by the call);
- ``dask``: ``backend="dask"`` on a ``LocalCluster`` of 2 single-threaded worker processes
  started before the clock (its start-up is printed apart);
- each of them with ``collect="summary"`` (tables and sufficient statistics per chunk).

For each: wall time, CPU seconds of the client and of the workers (user + system), peak RSS
of the client and of each worker (``VmHWM``: the client's own, the pool workers' sampled
from ``/proc`` every 50 ms, the Dask workers' read on the workers at the end), and whether
the results are the in-process ones: every table identical (``arrays``), or the largest
relative difference (``summary``, equal up to the order of additions).

``--million``: 1,000,000 firm-events (2,500 securities x 400 dates) with
``collect="summary"`` on a Dask ``LocalCluster`` of 2 workers with ``memory_limit="2GB"``
(Dask pauses a worker at 80% and restarts it at 95%: a run without restarts stayed under
the limit), plus the same in this one process (``backend=None``, chunks one after another).

``--universe``: the shared US universe (``../shared/data/universe``, 3,419 stocks x 1,305
sessions): the read time and peak RSS of each wide CSV (``CsvSource.panel``, each in a fresh
process), and the real study ``configs/us_universe_2020.yaml`` end to end (``--calibrate 0``):
prices, returns and the fit (``runner.run_study``), then the report (``report.write``), with
the wall time, CPU and peak RSS of each step and the size of the report folder.

Run: ``.venv/bin/python benchmarks/bench_scale.py`` (80,000 firm-events, about 5 minutes on
2 cores), ``--million`` (about 15 minutes) and ``--universe`` (a few minutes; needs
``../shared``); none is part of CI. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import EST, WIN, WINDOWS, simulate  # noqa: E402

CAR_WINDOWS = [w for w in WINDOWS if w != WIN]
TICK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- /proc


def _status_kb(pid: int | str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int | str) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def _descendants(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of every descendant of ``root``."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    out: list[tuple[int, int]] = []
    frontier = [root]
    while frontier:
        kids = [(p, pp) for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = [p for p, _ in kids]
    return out


class Sampler(threading.Thread):
    """Samples the peak RSS and CPU of every descendant process every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, dict[str, Any]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            for pid, ppid in _descendants(me):
                rec = self.seen.setdefault(pid, {"peak_kb": 0, "cpu": 0.0, "ppid": ppid})
                rec["peak_kb"] = max(rec["peak_kb"], _status_kb(pid, "VmHWM:"))
                rec["cpu"] = max(rec["cpu"], _cpu_s(pid))
            time.sleep(0.05)


def _worker_stats() -> dict[str, float]:
    return {"peak_kb": _status_kb("self", "VmHWM:"), "cpu": _cpu_s("self")}


# ----------------------------------------------------------------------------- one case


def _tables(res: Any) -> dict[str, pd.DataFrame]:
    out = {"params": res.params, "aar": res.aar_tests(WIN), "clustering": res.clustering}
    for w in WINDOWS:
        out[f"caar{w}"] = res.caar_tests(w)
    out["car(-1, 1)"] = res.car((-1, 1))
    out["caar(0, 1) by event"] = res.caar_tests((0, 0), by="event_id")
    return out


def run_case(n_sec: int, n_events: int, backend: str, collect: str, out: str) -> None:
    """In a fresh process: build the data, run one case, print its figures (JSON)."""
    import eventstudy as es
    from eventstudy.exceptions import ClusteredEventWarning

    returns, events = simulate(n_sec, n_events)
    client = cluster = None
    extra: dict[str, Any] = {}
    startup = 0.0
    if backend == "dask":
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        limit = "2GB" if n_sec * n_events >= 500_000 else "auto"
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit=limit
        )
        client = Client(cluster)
        startup = time.perf_counter() - t
        extra = {"backend": "dask", "scheduler": client}
        cpu0 = client.run(_worker_stats)
        pids0 = client.run(os.getpid)
    elif backend == "processes":
        extra = {"backend": "processes", "workers": 2}
    if collect == "summary":
        extra |= {"collect": "summary", "car_windows": CAR_WINDOWS}
    sampler = Sampler()
    sampler.start()
    before_kb = _status_kb("self", "VmRSS:")
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        res = es.event_study(returns, events, market="MKT", estimation=EST, window=WIN, **extra)
    tables = _tables(res)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sampler.stop.set()
    sampler.join()
    workers: list[dict[str, float]] = []
    if client is not None:
        after = client.run(_worker_stats)
        for addr, rec in after.items():
            base = cpu0.get(addr, {"cpu": 0.0})["cpu"]
            workers.append({"peak_mb": rec["peak_kb"] / 1024, "cpu": rec["cpu"] - base})
        # a worker restarted by its nanny (over its memory limit) comes back with a new pid
        restarts = len(set(client.run(os.getpid).items()) - set(pids0.items()))
        client.close()
        cluster.close()
    else:
        restarts = 0
        me = os.getpid()
        for rec in sampler.seen.values():
            if rec["ppid"] != me:  # the pool's workers are the fork server's children
                workers.append({"peak_mb": rec["peak_kb"] / 1024, "cpu": rec["cpu"]})
    with open(out, "wb") as f:
        pickle.dump(tables, f)
    print(
        json.dumps(
            {
                "K": len(events),
                "wall": wall,
                "cpu_client": cpu,
                "client_peak_mb": _status_kb("self", "VmHWM:") / 1024,
                "client_before_mb": before_kb / 1024,
                "workers": workers,
                "startup": startup,
                "restarts": restarts,
                "chunks": getattr(res, "n_chunks", None),
            }
        )
    )


# ----------------------------------------------------------------------------- parent


def _child(n_sec: int, n_events: int, backend: str, collect: str, out: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--case", str(n_sec), str(n_events), backend, collect, out]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _max_rel_diff(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> tuple[bool, float]:
    """(identical, largest relative difference of the float columns)."""
    same = True
    worst = 0.0
    for name in b:
        x, y = a[name], b[name]
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        except AssertionError:
            same = False
        for col in y.columns:
            if pd.api.types.is_float_dtype(y[col]):
                u, v = x[col].to_numpy(float), y[col].to_numpy(float)
                if not np.array_equal(np.isnan(u), np.isnan(v)):
                    return False, np.inf
                ok = ~np.isnan(v)
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = np.abs(u[ok] - v[ok]) / np.maximum(np.abs(v[ok]), 1e-300)
                worst = max(worst, float(d.max(initial=0.0)))
            elif not (x[col].astype(str) == y[col].astype(str)).all():
                return False, np.inf
    return same, worst


# ----------------------------------------------------------------------------- the universe

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = ROOT.parent / "shared" / "data" / "universe"
STUDY = ROOT / "configs" / "us_universe_2020.yaml"


def universe_step(step: str, arg: str) -> None:
    """In a fresh process: one step of the universe benchmark, its figures as JSON."""
    from eventstudy.data import CsvSource
    from eventstudy.exceptions import EventStudyWarning

    t0, c0 = time.perf_counter(), time.process_time()
    facts: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        if step == "read":
            path = UNIVERSE / arg
            panel = CsvSource(path).panel(values="volume" if "volume" in arg else "price")
            facts = {"shape": list(panel.shape), "file_mb": path.stat().st_size / 2**20}
        else:
            from eventstudy import report, runner

            run = runner.run_study(STUDY, calibrate=0)
            facts["run_wall"] = time.perf_counter() - t0
            facts["run_cpu"] = time.process_time() - c0
            facts["run_peak_mb"] = _status_kb("self", "VmHWM:") / 1024
            facts["firm_events"] = int(sum(len(r.params) for r in run.results.values()))
            with tempfile.TemporaryDirectory() as tmp:
                folder = report.write(run, Path(tmp) / run.plan.name)
                files = [f for f in Path(folder).rglob("*") if f.is_file()]
                facts["report_mb"] = sum(f.stat().st_size for f in files) / 2**20
                page = Path(folder) / "index.html"
                facts["page_mb"] = page.stat().st_size / 2**20 if page.exists() else 0.0
    facts |= {
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "peak_mb": _status_kb("self", "VmHWM:") / 1024,
    }
    print(json.dumps(facts))


def universe() -> None:
    if not UNIVERSE.is_dir():
        raise SystemExit(f"{UNIVERSE} is absent")
    print(f"shared universe: {UNIVERSE}; cores {os.cpu_count()}")
    print(f"{'step':<40} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}  facts")
    steps = [("read", "us_adj_close.csv"), ("read", "us_volume.csv"), ("study", "-")]
    for step, arg in steps:
        cmd = [sys.executable, __file__, "--universe-step", step, arg]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        m = json.loads(done.stdout.strip().splitlines()[-1])
        if step == "read":
            name = f"read {arg} ({m['file_mb']:.1f} MB)"
            facts = f"{m['shape'][0]} dates x {m['shape'][1]} symbols"
            print(f"{name:<40} {m['wall']:>7.1f} {m['cpu']:>7.1f} {m['peak_mb']:>8.0f}  {facts}")
            continue
        print(
            f"{'us_universe_2020: prices + fit (run_study)':<40} {m['run_wall']:>7.1f} "
            f"{m['run_cpu']:>7.1f} {m['run_peak_mb']:>8.0f}  {m['firm_events']:,} firm-events"
        )
        print(
            f"{'us_universe_2020: + report (end to end)':<40} {m['wall']:>7.1f} {m['cpu']:>7.1f} "
            f"{m['peak_mb']:>8.0f}  report {m['report_mb']:.0f} MB, index.html "
            f"{m['page_mb']:.0f} MB"
        )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")


def _line(name: str, m: dict[str, Any], check: str) -> str:
    w = m["workers"]
    peaks = " / ".join(f"{x['peak_mb']:.0f}" for x in w) or "-"
    cpu_w = sum(x["cpu"] for x in w)
    return (
        f"{name:<22} {m['wall']:>7.1f} {m['cpu_client']:>8.1f} {cpu_w:>8.1f} "
        f"{m['client_peak_mb']:>10.0f} {peaks:>15} {check:>22}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--securities", type=int, default=2000)
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--million", action="store_true", help="1,000,000 firm-events (summary)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--universe", action="store_true", help="the shared US universe")
    ap.add_argument("--case", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--universe-step", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.universe_step:
        universe_step(*args.universe_step)
        return
    if args.universe:
        universe()
        return
    if args.case:
        n_sec, n_ev, backend, collect, out = args.case
        run_case(int(n_sec), int(n_ev), backend, collect, out)
        return
    if args.million:
        args.securities, args.events = 2500, 400
    n_sec, n_ev = args.securities, args.events
    backends = ["none", "processes"] + ([] if args.no_dask else ["dask"])
    cases = [(b, "arrays") for b in backends] + [(b, "summary") for b in backends]
    if args.million:  # the in-process engine would need about 25 GB
        cases = [("dask", "summary"), ("none", "summary")]
    print(
        f"{n_sec} securities x {n_ev} dates = {n_sec * n_ev:,} firm-events; cores "
        f"{os.cpu_count()}; BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}; workers 2 x 1 "
        "thread"
    )
    print(
        f"{'case':<22} {'wall s':>7} {'CPU cli':>8} {'CPU wrk':>8} {'client MB':>10} "
        f"{'worker peak MB':>15} {'same results':>22}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ref = None
        for backend, collect in cases:
            out = str(Path(tmp) / f"{backend}-{collect}.pkl")
            m = _child(n_sec, n_ev, backend, collect, out)
            with open(out, "rb") as f:
                tables = pickle.load(f)
            if ref is None:
                ref, check = tables, "(reference)"
            else:
                same, worst = _max_rel_diff(tables, ref)
                check = "identical" if same else f"max rel diff {worst:.1e}"
            name = f"{'in-process' if backend == 'none' else backend} {collect}"
            print(_line(name, m, check), flush=True)
            notes = []
            if m["startup"]:
                notes.append(f"cluster start {m['startup']:.1f} s (not in wall)")
            if m["chunks"]:
                notes.append(f"{m['chunks']} chunks")
            if m["restarts"]:
                notes.append(f"{m['restarts']} worker restart events")
            notes.append(f"client RSS before the run {m['client_before_mb']:.0f} MB")
            print(" " * 4 + "; ".join(notes))
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
