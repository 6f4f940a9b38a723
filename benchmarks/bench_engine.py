"""Benchmark of the vectorised engine against a loop of one statsmodels OLS per firm-event.

500 securities x 20 event dates = 10,000 firm-events, estimation (-260, -11), window
(-10, +10). One engine run = fit + every daily test over the window + every CAAR test over
four windows. Prints the median wall time over ``--runs`` runs, the peak traced memory
(``tracemalloc``), and the baseline: a Python loop fitting one ``statsmodels.OLS`` per
firm-event and computing its ARs and CAR (no tests at all).

Run: ``.venv/bin/python benchmarks/bench_engine.py [--runs 5] [--baseline-n 10000]``

BLAS runs single-threaded unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) is set:
the engine's linear algebra is many small products, for which threads cost more than they
save, especially on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import eventstudy as es  # noqa: E402
from eventstudy.exceptions import ClusteredEventWarning  # noqa: E402

WINDOWS = [(-10, 10), (-1, 1), (0, 0), (0, 5)]


def simulate(
    n_sec: int = 500, n_events: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Market-model returns with a common factor; 20 event dates shared by every security."""
    rng = np.random.default_rng(seed)
    n_days = 280 + 15 * n_events + 20
    dates = pd.bdate_range("2015-01-05", periods=n_days)
    mkt = rng.normal(0.0003, 0.01, n_days)
    beta = rng.uniform(0.5, 1.5, n_sec)
    common = rng.normal(0, 0.004, n_days)
    eps = rng.normal(0, 0.015, (n_days, n_sec))
    R = 0.0002 + mkt[:, None] * beta[None, :] + common[:, None] + eps
    cols = [f"S{i:03d}" for i in range(n_sec)]
    returns = pd.DataFrame(R, index=dates, columns=cols)
    returns["MKT"] = mkt
    event_days = dates[280 + 15 * np.arange(n_events)]
    events = pd.DataFrame(
        [(s, d) for d in event_days for s in cols], columns=["security", "event_date"]
    )
    return returns, events


def run_engine(returns: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """One full run; returns the wall time of each stage."""
    t = [time.perf_counter()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        res = es.event_study(
            returns, events, market="MKT", estimation=(-260, -11), window=(-10, 10)
        )
    t.append(time.perf_counter())
    res.aar_tests((-10, 10))
    t.append(time.perf_counter())
    for w in WINDOWS:
        res.caar_tests(w)
    res.car((-1, 1))
    t.append(time.perf_counter())
    return {"fit": t[1] - t[0], "aar_tests": t[2] - t[1], "caar_tests x4 + car": t[3] - t[2]}


def run_loop(returns: pd.DataFrame, events: pd.DataFrame, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``n`` statsmodels fits (with ARs and CAR), one per firm-event."""
    import statsmodels.api as sm

    idx = returns.index
    t0, c0 = time.perf_counter(), time.process_time()
    for row in events.head(n).itertuples():
        p = idx.get_loc(row.event_date)
        est = returns.iloc[p - 260 : p - 10]
        y = est[row.security]
        X = sm.add_constant(est["MKT"])
        fit = sm.OLS(y, X, missing="drop").fit()
        win = returns.iloc[p - 10 : p + 11]
        ar = win[row.security] - fit.predict(sm.add_constant(win["MKT"], has_constant="add"))
        float(ar.sum())
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline-n", type=int, default=10_000)
    args = ap.parse_args()
    returns, events = simulate()
    run_engine(returns, events)  # warm-up (imports, caches)
    times, cpu, stages = [], [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        stages.append(run_engine(returns, events))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tracemalloc.start()
    run_engine(returns, events)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loop_s, loop_cpu = run_loop(returns, events, args.baseline_n)
    loop_full = loop_s * len(events) / args.baseline_n
    loop_cpu_full = loop_cpu * len(events) / args.baseline_n
    med = statistics.median(times)
    med_cpu = statistics.median(cpu)
    rows = [
        ("firm-events", f"{len(events):,}"),
        ("BLAS threads (OPENBLAS_NUM_THREADS)", os.environ["OPENBLAS_NUM_THREADS"]),
        (
            "machine: cores / load average (1 min) at the end",
            f"{os.cpu_count()} / {os.getloadavg()[0]:.2f}",
        ),
        ("engine: fit + 18 daily tests x 21 days + CAAR tests x 4 windows", ""),
        ("  median wall time (s)", f"{med:.3f}  (runs: {', '.join(f'{t:.2f}' for t in times)})"),
        ("  fastest run (s)", f"{min(times):.3f}"),
        ("  median CPU time, all threads (s)", f"{med_cpu:.3f}"),
        *[
            (f"    {k} (median s)", f"{statistics.median(s[k] for s in stages):.3f}")
            for k in stages[0]
        ],
        ("  peak traced memory (MB)", f"{peak / 2**20:.0f}"),
        (
            f"baseline: statsmodels OLS loop ({args.baseline_n:,} fits)",
            f"{loop_s:.2f} s wall, {loop_cpu:.2f} s CPU",
        ),
        ("  baseline per 10,000 firm-events, wall (s)", f"{loop_full:.2f}"),
        ("  baseline per 10,000 firm-events, CPU (s)", f"{loop_cpu_full:.2f}"),
        ("speed-up, wall (baseline / engine median)", f"{loop_full / med:.1f}x"),
        ("speed-up, CPU (baseline / engine median)", f"{loop_cpu_full / med_cpu:.1f}x"),
        ("target", "< 1 s and >= 10x"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))


if __name__ == "__main__":
    main()
