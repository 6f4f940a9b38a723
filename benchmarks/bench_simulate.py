"""Benchmark of the placebo simulation, and the robustness tables of the kei-car study.

Speed targets: 1,000 placebo studies of 7 securities with every test in under 10 s on this
2-core machine (issue 7); the same in the estudy2 convention and with Dimson lags within 1.5x
of the textbook time (issue 10: the lab runs the engine's one battery, one block per draw, in
every convention). The run below times, on a simulated panel of 7 cross-correlated securities
and 1,500 sessions (estimation (-260, -11), window (-10, +10)), and on the kei-car stocks'
real prices when ``../shared`` is there:

- the null run alone: 1,000 draws, every daily test on day 0 and every CAR test on four windows
  (18 tests x 5 windows = 90 p-values per draw);
- the full simulation: the null plus the power runs (0.5%, 1%, 2%, 3% injected on day 0);

each in the textbook convention, estudy2, and textbook with one Dimson lag. It prints median
wall and CPU seconds over ``--runs`` runs, the peak traced memory (``tracemalloc``) and the
ratio to the textbook run. With ``--kei`` it also runs both robustness commands on the kei-car
study and prints the size table, the verdicts and the specification-curve summary as Markdown.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--runs 3] [--kei]``
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


def timed(fn, runs: int) -> tuple[float, float, float, object]:
    """Median wall and CPU seconds over ``runs`` and peak traced MiB of one extra run."""
    wall, cpu = [], []
    out = None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(wall), statistics.median(cpu), peak / 2**20, out


VARIANTS = (
    ("textbook", {"convention": "textbook"}),
    ("estudy2", {"convention": "estudy2"}),
    ("textbook, Dimson 1 lag", {"convention": "textbook", "engine_kwargs": {"dimson_lags": 1}}),
)


def _kei_panel() -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    prices = ROOT.parent / "shared" / "data" / "prices"
    if not prices.is_dir():
        return None
    from eventstudy.runner import prepare_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = prepare_history(ROOT / "configs" / "kei_cars.yaml", prices=prices, offline=True)
    g = prep.groups["XTKS"]
    return g.returns, g.events, g.market


def bench(runs: int) -> None:
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    panels = [("simulated, 7 securities, rho 0.3", (*panel(), "MKT"))]
    kei_panel = _kei_panel()
    if kei_panel is not None:
        panels.append(("kei-car stocks, real prices", kei_panel))
    print("| panel | run | convention | draws | p-values | wall | CPU | x textbook | peak memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (r, ev, market) in panels:
        kw = {"market": market, "car_windows": CAR_WINDOWS, "seed": 0, "min_dates": 30}
        simulate(r, ev, draws=50, injected=(), **kw)  # warm-up (imports, caches)
        for run, inj in (
            ("null (size)", ()),
            ("null + power (4 sizes)", (0.005, 0.01, 0.02, 0.03)),
        ):
            base = None
            for label, extra in VARIANTS:
                wall, cpu, mem, res = timed(
                    lambda r=r, ev=ev, kw=kw, extra=extra, inj=inj: simulate(
                        r, ev, draws=1000, injected=inj, **kw, **extra
                    ),
                    runs,
                )
                base = base or cpu
                n_p = len(res.pvalues)  # type: ignore[attr-defined]
                print(
                    f"| {name} | {run} | {label} | 1,000 | {n_p:,} | {wall:.2f} s | {cpu:.2f} s "
                    f"| {cpu / base:.2f} | {mem:.0f} MiB |"
                )
    print("targets: under 10 s with every test; estudy2 and Dimson within 1.5x of textbook")


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
    ap.add_argument("--kei", action="store_true", help="also run the kei-car study tables")
    ap.add_argument("--kei-draws", type=int, default=1000)
    args = ap.parse_args()
    bench(args.runs)
    if args.kei:
        kei(args.kei_draws)


if __name__ == "__main__":
    main()
