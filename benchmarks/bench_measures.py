"""Time the measures beyond the CAR (issue 14), each beside a baseline measured in the same run.

- reading a French-library daily file of the US 5-factor file's size (16,000 rows) with
  ``read_french_table``, against ``pd.read_csv`` of the same CSV text;
- aligning it to 26 years of Tokyo sessions (``align_factors``);
- the volume section of the tariff study (``volume_study``), against the study itself
  (``run_study`` without the follow-up analyses);
- one cross-sectional regression (``res.cross_section``, clustered by date);
- the workbook of ``--formats xlsx`` (every table of the tariff report), against writing the
  same tables as CSV.

Figures: wall and CPU seconds (best of ``--repeat``), and the process's peak RSS at the end.
Needs ``../shared/data/prices``.

Run: ``.venv/bin/python benchmarks/bench_measures.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def french_text(n: int) -> str:
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("1963-07-01", periods=n)
    lines = [
        "This file was created by CMPT_ME_BEME_OP_INV_RETS_DAILY using the 202510 CRSP database.",
        "",
        ",Mkt-RF,SMB,HML,RMW,CMA,RF",
    ]
    vals = rng.normal(0, 1, (n, 6)).round(2)
    lines += [
        f"{d:%Y%m%d}," + ",".join(f"{v:8.2f}" for v in row)
        for d, row in zip(dates, vals, strict=True)
    ]
    return "\r\n".join([*lines, "", "Copyright 2025 Kenneth R. French", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from io import StringIO

    from eventstudy.calendar import sessions
    from eventstudy.data.factors import align_factors, read_french_table
    from eventstudy.exceptions import EventStudyWarning
    from eventstudy.report.xlsx import write_workbook
    from eventstudy.runner import run_study
    from eventstudy.volume import volume_study

    rows: list[tuple[str, float, float, str]] = []
    text = french_text(16_000)
    data = text.encode()
    w, c = best(lambda: read_french_table(data), args.repeat)
    wb, cb = best(lambda: pd.read_csv(StringIO(text), skiprows=2, nrows=16_000), args.repeat)
    rows += [
        ("read_french_table, 16,000 rows", w, c, f"{w / wb:.1f} x read_csv"),
        ("  baseline pd.read_csv", wb, cb, ""),
    ]
    table = read_french_table(data)
    sess = sessions("XTKS", "2000-01-04", "2026-06-30")
    w, c = best(lambda: align_factors(table, sess, "same_date"), args.repeat)
    rows.append((f"align_factors, {len(sess):,} XTKS sessions", w, c, ""))

    if not PRICES.is_dir():
        print(f"{PRICES} absent: the study figures are skipped")
    else:
        config = ROOT / "configs" / "tariffs_2025.yaml"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            holder: dict[str, object] = {}

            def study() -> None:
                holder["run"] = run_study(config, prices=PRICES, offline=True, analyses=False)

            wb, cb = best(study, args.repeat)
            run = holder["run"]
            res = run.results["XTKS"]  # type: ignore[attr-defined]
            idx = run.returns["XTKS"].index  # type: ignore[attr-defined]
            prices = run.prices  # type: ignore[attr-defined]

            def volume() -> None:
                v = volume_study(prices, res, idx, windows=[(0, 0), (0, 1), (-1, 1), (0, 5)])
                v.tables()

            w, c = best(volume, args.repeat)
            rows += [
                (
                    "volume_study + its tables (tariffs, 4 windows)",
                    w,
                    c,
                    f"{w / wb:.2f} x the study",
                ),
                ("  baseline run_study (tariffs, no analyses)", wb, cb, ""),
            ]
            rng = np.random.default_rng(1)
            chars = pd.DataFrame(
                {"security": sorted(set(res.events["security"])), "x": rng.normal(size=7)}
            )
            w, c = best(lambda: res.cross_section("car ~ x", (0, 1), chars), args.repeat)
            rows.append(("cross_section, 28 firm-events, clustered", w, c, ""))

            from eventstudy import report

            with tempfile.TemporaryDirectory() as tmp:
                report.write(run, Path(tmp) / "r", plotlyjs="none", formats=["xlsx"])  # type: ignore[arg-type]
                tables = {
                    p.stem: pd.read_csv(p) for p in (Path(tmp) / "r" / "tables").glob("*.csv")
                }

                def csvs() -> None:
                    for name, frame in tables.items():
                        frame.to_csv(Path(tmp) / f"{name}.csv", index=False)

                wb, cb = best(csvs, args.repeat)
                w, c = best(lambda: write_workbook(Path(tmp) / "t.xlsx", tables), args.repeat)
                n = sum(len(t) for t in tables.values())
                rows += [
                    (
                        f"write_workbook, {len(tables)} sheets, {n:,} rows",
                        w,
                        c,
                        f"{w / wb:.1f} x CSV",
                    ),
                    ("  baseline to_csv of the same tables", wb, cb, ""),
                ]
    print(f"{'case':<52} {'wall s':>8} {'CPU s':>8}  ratio")
    for name, w, c, ratio in rows:
        print(f"{name:<52} {w:8.3f} {c:8.3f}  {ratio}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
