"""Size (and power) of every test by simulation: independent vs cross-correlated securities.

Each replication simulates ``N`` securities that share one event date (one cluster), with
market-model returns over an estimation window of 250 days and an event window of
(-5, +5). Residuals are either independent or equicorrelated (a common industry shock
giving residual correlation ``rho``). Under the null no abnormal return is added; for
power, every security gets ``+shock`` on day 0. A test rejects when its two-sided p-value is
below 5%; the table reports rejection rates for the day-0 AAR tests and the (0, +2) CAAR
tests. A well-specified test rejects about 5% of the time under the null.

Run: ``.venv/bin/python benchmarks/size_power.py [--reps 300] [--n 30] [--rho 0.3]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import eventstudy as es
from eventstudy.exceptions import ClusteredEventWarning
from eventstudy.stats import TEST_NAMES

EST, WIN, DAY0 = (-250, -11), (-5, 5), 260


def simulate(
    rng: np.random.Generator, n: int, rho: float, shock: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_days = DAY0 + 10
    dates = pd.bdate_range("2010-01-04", periods=n_days)
    mkt = rng.normal(0.0004, 0.01, n_days)
    sd = 0.02
    common = rng.normal(0, sd * np.sqrt(rho), n_days)
    idio = rng.normal(0, sd * np.sqrt(1 - rho), (n_days, n))
    beta = rng.uniform(0.5, 1.5, n)
    R = 0.0002 + mkt[:, None] * beta + common[:, None] + idio
    R[DAY0] += shock
    cols = [f"S{i}" for i in range(n)]
    ret = pd.DataFrame(R, index=dates, columns=cols)
    ret["MKT"] = mkt
    events = pd.DataFrame({"security": cols, "event_date": dates[DAY0]})
    return ret, events


def pvalues(ret: pd.DataFrame, events: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        res = es.event_study(ret, events, estimation=EST, window=WIN)
    daily = res.aar_tests((0, 0)).set_index("test")["p_value"]
    car = res.caar_tests((0, 2)).set_index("test")["p_value"]
    return daily, car


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--n", type=int, default=30, help="securities sharing the event date")
    ap.add_argument("--rho", type=float, default=0.3, help="residual correlation")
    ap.add_argument("--shock", type=float, default=0.01, help="day-0 AR for the power column")
    ap.add_argument("--seed", type=int, default=20260101)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    scenarios = {
        "size, independent": (0.0, 0.0),
        f"size, rho={args.rho:g}": (args.rho, 0.0),
        f"power, rho={args.rho:g}, +{args.shock:.0%}": (args.rho, args.shock),
    }
    t0 = time.perf_counter()
    rates: dict[tuple[str, str], pd.Series] = {}
    for label, (rho, shock) in scenarios.items():
        hits_d = pd.Series(0.0, index=list(TEST_NAMES))
        hits_c = pd.Series(0.0, index=list(TEST_NAMES))
        for _ in range(args.reps):
            d, c = pvalues(*simulate(rng, args.n, rho, shock))
            hits_d += (d.reindex(hits_d.index) < 0.05).astype(float)
            hits_c += (c.reindex(hits_c.index) < 0.05).astype(float)
        rates[("AAR day 0", label)] = hits_d / args.reps
        rates[("CAAR (0,+2)", label)] = hits_c / args.reps
    table = pd.DataFrame(rates)
    print(
        f"Rejection rates at 5% ({args.reps} replications, N={args.n} securities on one "
        f"date, estimation {EST}, market model; {time.perf_counter() - t0:.0f} s)"
    )
    print(table.map(lambda v: f"{v:6.3f}").to_string())


if __name__ == "__main__":
    main()
