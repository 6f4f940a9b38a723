"""Benchmark of the engine (fit + every test) at several shapes, against a numpy floor.

One engine run = fit + every daily test over the window (-10, +10) + every CAAR test over four
windows + the per-firm CARs, pooled over all firm-events, market model, estimation (-260, -11).
For each shape (securities x event dates, every security on every date) the script prints:

- time: median wall and CPU seconds over ``--runs`` runs (CPU = user + system of this
  process: the figure to compare on a shared machine);
- the numpy floor: the least any implementation must do for that work, written plainly in
  numpy (fit the market model, ARs, CARs of the four windows with three tests, and rank the
  ``K x (L + W)`` matrix of residuals and ARs twice, as the rank and GRANK tests must), and the
  ratio engine / floor (CPU, same run); the floor ranks with ``argsort`` (plain numpy, as
  when issue 10 set its target); a second line gives the floor with the engine's own
  faster sort (integer keys, see ``eventstudy.stats._sort_order``) and the ratio to that;
- memory: peak RSS of a fresh process that builds the data and runs the engine once, the RSS
  before the run, and the difference per firm-event;
- for the second and third shapes, the ratio of CPU to the first shape's.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (the three shapes of issue 10), or
``--securities 1000 --events 100`` for one shape; ``--runs 3``.

BLAS runs single-threaded unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) is set:
the engine's linear algebra is many small products, for which threads cost more than they
save, especially on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

WINDOWS = [(-10, 10), (-1, 1), (0, 0), (0, 5)]
EST, WIN = (-260, -11), (-10, 10)
SHAPES = [(500, 20), (100, 100), (1000, 100)]


def simulate(
    n_sec: int = 500, n_events: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Market-model returns with a common factor; every security on every event date."""
    rng = np.random.default_rng(seed)
    n_days = 280 + 15 * n_events + 20
    dates = pd.bdate_range("2015-01-05", periods=n_days)
    mkt = rng.normal(0.0003, 0.01, n_days)
    beta = rng.uniform(0.5, 1.5, n_sec)
    common = rng.normal(0, 0.004, n_days)
    eps = rng.normal(0, 0.015, (n_days, n_sec))
    R = 0.0002 + mkt[:, None] * beta[None, :] + common[:, None] + eps
    cols = [f"S{i:04d}" for i in range(n_sec)]
    returns = pd.DataFrame(R, index=dates, columns=cols)
    returns["MKT"] = mkt
    event_days = dates[280 + 15 * np.arange(n_events)]
    events = pd.DataFrame(
        {
            "security": np.tile(cols, n_events),
            "event_date": np.repeat(event_days, n_sec),
        }
    )
    return returns, events


def run_engine(returns: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """One full run; returns the CPU seconds of each stage."""
    import eventstudy as es
    from eventstudy.exceptions import ClusteredEventWarning

    t = [time.process_time()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        res = es.event_study(returns, events, market="MKT", estimation=EST, window=WIN)
    t.append(time.process_time())
    res.aar_tests(WIN)
    t.append(time.process_time())
    for w in WINDOWS:
        res.caar_tests(w)
    res.car((-1, 1))
    t.append(time.process_time())
    return {"fit": t[1] - t[0], "aar_tests": t[2] - t[1], "caar_tests x4 + car": t[3] - t[2]}


def numpy_floor(returns: pd.DataFrame, events: pd.DataFrame, int_keys: bool = False) -> float:
    """The plain-numpy floor of the same work; returns a checksum (so nothing is skipped)."""
    from scipy import special

    idx = returns.index
    secs = [c for c in returns.columns if c != "MKT"]
    R = returns[secs].to_numpy()
    m = returns["MKT"].to_numpy()
    pos = idx.get_indexer(pd.DatetimeIndex(events["event_date"]))
    sec = pd.Index(secs).get_indexer(events["security"])
    rel_est = np.arange(EST[0], EST[1] + 1)
    rel_win = np.arange(WIN[0], WIN[1] + 1)
    y = R[pos[:, None] + rel_est, sec[:, None]]
    x = m[pos[:, None] + rel_est]
    yw = R[pos[:, None] + rel_win, sec[:, None]]
    xw = m[pos[:, None] + rel_win]
    L = y.shape[1]
    xbar, ybar = x.mean(axis=1), y.mean(axis=1)
    xc = x - xbar[:, None]
    sxx = (xc * xc).sum(axis=1)
    beta = (xc * (y - ybar[:, None])).sum(axis=1) / sxx
    alpha = ybar - beta * xbar
    resid = y - alpha[:, None] - beta[:, None] * x
    sigma = np.sqrt((resid * resid).sum(axis=1) / (L - 2))
    ar = yw - alpha[:, None] - beta[:, None] * xw
    check = 0.0
    for a, b in WINDOWS:
        cols = np.arange(a - WIN[0], b - WIN[0] + 1)
        n = len(cols)
        car = ar[:, cols].sum(axis=1)
        se = sigma * np.sqrt(n + n * n / L + (xw[:, cols].sum(axis=1) - n * xbar) ** 2 / sxx)
        scar = car / se
        K = len(car)
        t = car.mean() / (car.std(ddof=1) / np.sqrt(K))
        z = scar.sum() / np.sqrt(K * (L - 2) / (L - 4))
        tb = scar.mean() / (scar.std(ddof=1) / np.sqrt(K))
        p = 2 * special.stdtr(K - 1, -abs(np.array([t, tb])))
        check += float(t + z + tb + p.sum() + 2 * special.ndtr(-abs(z)))
    full = np.concatenate([resid, ar], axis=1)
    pos_ = np.arange(1.0, full.shape[1] + 1)
    for _ in range(2):
        order = _int_key_order(full) if int_keys else np.argsort(full, axis=1)
        ranks = np.empty_like(full)
        np.put_along_axis(ranks, order, np.broadcast_to(pos_, full.shape), axis=1)
        check += float(ranks.mean(axis=0).sum())
    return check


def _int_key_order(a: np.ndarray) -> np.ndarray:
    """The floor's ranking with the engine's sort: the floats' order-preserving integer
    keys, the column index in their low bits, sorted as integers (no fallback for colliding
    keys: the simulated returns have none that matter for a floor)."""
    bits = (a.shape[1] - 1).bit_length()
    b = np.add(a, 0.0).view(np.int64)
    b ^= (b >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF)
    b &= ~np.int64((1 << bits) - 1)
    b |= np.arange(a.shape[1], dtype=np.int64)
    b.sort(axis=1)
    return b & np.int64((1 << bits) - 1)


def _rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(n_sec: int, n_events: int) -> None:
    """In a fresh process: build the data, run the engine once, print RSS figures (JSON)."""
    import resource

    import eventstudy
    import eventstudy.battery
    import eventstudy.study  # noqa: F401

    returns, events = simulate(n_sec, n_events)
    before = _rss_kb()
    t0, c0 = time.perf_counter(), time.process_time()
    run_engine(returns, events)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # VmHWM: this process's own high-water mark. getrusage's ru_maxrss is not: Linux carries
    # the forking parent's RSS across exec into it (the parent holds the data of its runs)
    peak = _rss_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kb": before, "peak_kb": peak, "wall": wall, "cpu": cpu}))


def measure(n_sec: int, n_events: int, runs: int) -> dict[str, float]:
    returns, events = simulate(n_sec, n_events)
    K = len(events)
    run_engine(returns, events)  # warm-up (imports, caches)
    numpy_floor(returns, events)
    numpy_floor(returns, events, int_keys=True)
    eng_wall, eng_cpu, floor_cpu, floor_int_cpu, stages = [], [], [], [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        stages.append(run_engine(returns, events))
        eng_wall.append(time.perf_counter() - t0)
        eng_cpu.append(time.process_time() - c0)
        c0 = time.process_time()
        numpy_floor(returns, events)
        floor_cpu.append(time.process_time() - c0)
        c0 = time.process_time()
        numpy_floor(returns, events, int_keys=True)
        floor_int_cpu.append(time.process_time() - c0)
    mem = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--child", str(n_sec), str(n_events)],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return {
        "K": K,
        "wall": statistics.median(eng_wall),
        "cpu": statistics.median(eng_cpu),
        "floor_cpu": statistics.median(floor_cpu),
        "floor_int_cpu": statistics.median(floor_int_cpu),
        "stages": {k: statistics.median(s[k] for s in stages) for k in stages[0]},
        "peak_mb": mem["peak_kb"] / 1024,
        "before_mb": mem["before_kb"] / 1024,
        "kb_per_fe": (mem["peak_kb"] - mem["before_kb"]) / K,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--securities", type=int)
    ap.add_argument("--events", type=int)
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        memory_child(*args.child)
        return
    shapes = [(args.securities, args.events)] if args.securities else SHAPES
    print(
        f"engine: fit + 18 daily tests x 21 days + 19 CAAR tests x 4 windows + CARs; "
        f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}; cores {os.cpu_count()}; "
        f"runs {args.runs} (median)"
    )
    head = (
        f"{'securities x dates':>19} {'firm-events':>11} {'wall s':>7} {'CPU s':>7} "
        f"{'floor CPU s':>11} {'x floor':>7} {'x first':>7} {'peak RSS MB':>11} "
        f"{'RSS before':>10} {'KB/firm-event':>13}"
    )
    print(head)
    first = None
    out = []
    for n_sec, n_ev in shapes:
        m = measure(n_sec, n_ev, args.runs if n_sec * n_ev <= 20_000 else 1)
        first = first or m["cpu"]
        out.append(m)
        print(
            f"{f'{n_sec} x {n_ev}':>19} {m['K']:>11,} {m['wall']:>7.2f} {m['cpu']:>7.2f} "
            f"{m['floor_cpu']:>11.3f} {m['cpu'] / m['floor_cpu']:>7.2f} "
            f"{m['cpu'] / first:>7.2f} {m['peak_mb']:>11.0f} {m['before_mb']:>10.0f} "
            f"{m['kb_per_fe']:>13.1f}"
        )
        print("    stages (CPU s): " + ", ".join(f"{k} {v:.3f}" for k, v in m["stages"].items()))
        print(
            f"    floor ranking with the engine's integer-key sort instead of argsort: "
            f"{m['floor_int_cpu']:.3f} s CPU, engine {m['cpu'] / m['floor_int_cpu']:.2f}x that"
        )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
