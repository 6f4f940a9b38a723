"""Benchmark of the placebo simulation, and the robustness tables of the kei-car study.

Speed target (issue 7): 1,000 placebo studies of 7 securities with every test in under 10 s on
this 2-core machine. The run below times, on a simulated panel of 7 cross-correlated securities
and 1,500 sessions (estimation (-260, -11), window (-10, +10)):

- the null run alone: 1,000 draws, every daily test on day 0 and every CAR test on four windows
  (18 tests x 5 windows = 90 p-values per draw);
- the full simulation: the null plus the power runs (0.5%, 1%, 2%, 3% injected on day 0);
- the engine path (one engine call, ``aar_tests``/``caar_tests(by="event_id")``) on a subset of
  draws, extrapolated to 1,000: what the batch path replaces.

It prints the median wall time over ``--runs`` runs and the peak traced memory
(``tracemalloc``). With ``--kei`` it also runs both robustness commands on the kei-car study
with the real prices in ``../shared/data/prices`` and prints the size table, the verdicts and
the specification-curve summary as Markdown.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--runs 3] [--engine-draws 50] [--kei]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.simulate import simulate, synthetic_returns

ROOT = Path(__file__).resolve().parents[1]
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5))


def panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    """7 securities, 1,500 sessions, residual correlation 0.3; one real event of all 7."""
    r = synthetic_returns(7, 1500, common=0.3, seed=1)
    ev = pd.DataFrame(
        {"security": [f"S{i}" for i in range(7)], "event_date": r.index[1450], "event_id": "E1"}
    )
    return r, ev


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median seconds over ``runs`` and peak traced MiB of one extra run."""
    times = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20, out


def bench(runs: int, engine_draws: int) -> None:
    r, ev = panel()
    kw = {"market": "MKT", "car_windows": CAR_WINDOWS, "seed": 0}
    simulate(r, ev, draws=50, injected=(), **kw)  # warm-up (imports, caches)
    t_null, m_null, res = timed(lambda: simulate(r, ev, draws=1000, injected=(), **kw), runs)
    t_full, m_full, _ = timed(lambda: simulate(r, ev, draws=1000, **kw), runs)
    t_eng, _, _ = timed(
        lambda: simulate(r, ev, draws=engine_draws, injected=(), method="engine", **kw), 1
    )
    per_draw = t_eng / engine_draws
    n_p = len(res.pvalues)  # type: ignore[attr-defined]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print("| run | draws | p-values | median time | peak memory |")
    print("|---|---|---|---|---|")
    print(f"| null (size), batch | 1,000 | {n_p:,} | {t_null:.2f} s | {m_null:.0f} MiB |")
    print(
        f"| null + power (4 injected sizes), batch | 1,000 x 5 | {5 * n_p:,} | {t_full:.2f} s "
        f"| {m_full:.0f} MiB |"
    )
    print(
        f"| null, engine path (by='event_id') | {engine_draws} | - | {t_eng:.2f} s "
        f"(~{1000 * per_draw:.0f} s for 1,000) | - |"
    )
    print(
        f"target: under 10 s for 1,000 studies with every test -> {'met' if t_full < 10 else 'MISSED'}"
    )
    print(f"speed-up of the batch path over the engine path: ~{1000 * per_draw / t_null:.0f}x")


def kei(draws: int) -> None:
    from eventstudy.runner import prepare_history
    from eventstudy.sensitivity import sensitivity_from_run
    from eventstudy.simulate import simulate_from_run

    prices = ROOT.parent / "shared" / "data" / "prices"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = prepare_history(ROOT / "configs" / "kei_cars.yaml", prices=prices, offline=True)
        t0 = time.perf_counter()
        sim = simulate_from_run(prep, draws=draws, seed=0)["XTKS"]
        t_sim = time.perf_counter() - t0
        t0 = time.perf_counter()
        sens = sensitivity_from_run(prep)["XTKS"]
        t_sens = time.perf_counter() - t0
    g = prep.groups["XTKS"]
    print(
        f"\n## kei-car study: placebo simulation ({draws} draws, seed 0, {t_sim:.1f} s; "
        f"{len(g.returns)} sessions {g.returns.index[0].date()}..{g.returns.index[-1].date()}, "
        f"market {g.market}, clusters of {len(g.securities)})\n"
    )
    s = sim.size[np.isclose(sim.size["level"], 0.05)]
    wide = s.pivot_table(index="test", columns="window", values="rejection_rate", sort=False)
    ar0 = s[s["window"] == "AR(0)"].set_index("test")
    v = sim.verdicts.set_index("test")
    p = sim.power
    p = p[np.isclose(p["level"], 0.05) & (p["window"] == "AR(0)")]
    pw = p.pivot_table(index="test", columns="injected", values="rejection_rate")
    cols = [c for c in ["AR(0)", "CAR(0,0)", "CAR(0,+1)", "CAR(-1,+1)", "CAR(0,+5)"] if c in wide]
    inj = list(pw.columns)
    head = " | ".join(cols)
    print(
        f"| test | verdict | size AR(0) [95% CI] | {head} | "
        + " | ".join(f"power {100 * x:g}%" for x in inj)
        + " |"
    )
    print("|---|---|---|" + "---|" * (len(cols) + len(inj)))
    order = v.index.tolist()
    for test in order:
        ci = f"{100 * ar0.at[test, 'ci_low']:.1f}–{100 * ar0.at[test, 'ci_high']:.1f}"
        row = " | ".join(f"{100 * wide.at[test, c]:.1f}" for c in cols)
        pws = " | ".join(f"{100 * pw.at[test, x]:.0f}" for x in inj)
        print(
            f"| {test} | {v.at[test, 'verdict']} | {100 * ar0.at[test, 'rejection_rate']:.1f} "
            f"[{ci}] | {row} | {pws} |"
        )
    print(
        f"\n## kei-car study: specification curve ({len(sens.grid)} specifications, "
        f"{t_sens:.1f} s; benchmarks {sens.settings['benchmarks']}, FX {sens.settings['fx']})\n"
    )
    print(
        "| event | security | specs | significant | sig. + | sig. − | CAR > 0 | median CAR | range |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sens.summary.itertuples():
        print(
            f"| {r.event_id} | {r.security} | {r.n_specs} | {r.share_significant:.0%} | "
            f"{r.share_significant_positive:.0%} | {r.share_significant_negative:.0%} | "
            f"{r.share_positive:.0%} | {100 * r.median_car:+.2f}% | "
            f"{100 * r.min_car:+.2f}% to {100 * r.max_car:+.2f}% |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engine-draws", type=int, default=50)
    ap.add_argument("--kei", action="store_true", help="also run the kei-car study tables")
    ap.add_argument("--kei-draws", type=int, default=1000)
    args = ap.parse_args()
    bench(args.runs, args.engine_draws)
    if args.kei:
        kei(args.kei_draws)


if __name__ == "__main__":
    main()
