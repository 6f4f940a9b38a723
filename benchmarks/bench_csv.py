"""CSV loading, before and after the vectorised reader (issue 16): time, CPU, peak RSS.

Files
-----
* ``wide1000``: a generated wide CSV, 1,000 symbols x 2,500 sessions (about 21 MB);
* ``long200``: a generated long CSV (Date, Symbol, Close, Adj Close, Volume), 2,150
  symbols x 2,250 sessions (about 200 MB);
* ``us_adj_close`` and ``us_volume``: the shared universe (``../shared/data/universe``,
  3,419 symbols x 1,305 sessions), when present.

Cases, each run in a fresh subprocess that reports its own wall time, CPU time (user +
system) and peak RSS (``VmHWM`` from ``/proc/self/status``), so runs never share memory:

* ``pandas``: a plain ``pd.read_csv(file)``, the baseline every ratio is taken to;
* ``new get``: ``load_prices(every symbol, CsvSource(file))``, one Prices frame per symbol
  through the public path a study uses;
* ``new panel``: ``CsvSource(file).panel()``, every symbol as one dates x symbols frame
  (``values="volume"`` for the volume file, the only case there: a volume of zero is
  not a price, so per-symbol Prices frames refuse it);
* ``old get``: the same ``load_prices`` call through the reader before this change
  (``eventstudy/data/csv_source.py`` at commit ``OLD_REF``, taken with ``git show`` and
  loaded as a module). The old reader parsed cell by cell, re-parsed the dates of the
  whole file for every symbol of a long file and hashed the whole file for every symbol:
  on the long file and the universe it runs twice, on the first k and 2k symbols
  (``--old-limit``, default 40; 3 for the long file), and the total is extrapolated as
  fixed cost + N x cost per symbol from the two runs (marked ``~``); ``--old-full`` runs
  it on every symbol (hours for the long file).

Run: ``.venv/bin/python benchmarks/bench_csv.py [--workdir DIR] [--old-full] [--skip-old]``.
Targets: the memory of a long CSV at most 3x its size (peak RSS of the whole process,
interpreter included); the universe and the 1,000-symbol file within a small multiple of
``pd.read_csv``.

Per-symbol files (``--folder``)
-------------------------------
``--folder [--baseline COMMIT]`` measures instead the CPU time of one
``CsvSource(folder).get(symbol, "2015-01-01", "2026-01-01")`` per file of a folder of
per-symbol files (default ``../shared/data/prices``, the files a study reads), each with a
fresh ``CsvSource`` (nothing memoised), beside a plain ``pd.read_csv`` of the same file.
Each child process imports the package (the working tree's, or with ``--baseline`` the
package as of ``COMMIT``, extracted with ``git archive``), reads every file once to warm
up, then times ``--repeat`` reads of each file and reports the medians. ``--rounds``
children per package run alternately, so both see the same load of a shared machine; the
table shows per file the median over the rounds and the median of the per-round ratios.
Target: at most 8 ms CPU per file (median over the shared files).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _baseline import extract, import_from

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = ROOT.parent / "shared" / "data" / "universe"
#: The last commit with the cell-by-cell reader.
OLD_REF = "510e921"


# ----------------------------------------------------------------------------- files


def make_wide(path: Path, n_symbols: int = 1000, n_dates: int = 2500) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2015-01-02", periods=n_dates).strftime("%Y-%m-%d")
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_dates, n_symbols)), axis=0))
    frame = pd.DataFrame(
        prices.round(4),
        index=pd.Index(dates, name="Date"),
        columns=[f"S{i:04d}" for i in range(n_symbols)],
    )
    frame.to_csv(path)


def make_long(path: Path, n_symbols: int = 2150, n_dates: int = 2250) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    dates = np.asarray(pd.bdate_range("2015-01-02", periods=n_dates).strftime("%Y-%m-%d"))
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_dates, n_symbols)), axis=0))
    close = prices.T.ravel().round(4)
    frame = pd.DataFrame(
        {
            "Date": np.tile(dates, n_symbols),
            "Symbol": np.repeat([f"T{i:04d}" for i in range(n_symbols)], n_dates),
            "Close": close,
            "Adj Close": (close * 0.97).round(4),
            "Volume": rng.integers(1_000, 10_000_000, n_symbols * n_dates),
        }
    )
    frame.to_csv(path, index=False)


def files(workdir: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, values) of every file to measure (generated ones made once)."""
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    wide = workdir / "wide1000.csv"
    if not wide.is_file():
        make_wide(wide)
    out["wide1000"] = (wide, "price")
    long = workdir / "long200.csv"
    if not long.is_file():
        make_long(long)
    out["long200"] = (long, "price")
    for name, values in (("us_adj_close", "price"), ("us_volume", "volume")):
        path = UNIVERSE / f"{name}.csv"
        if path.is_file():
            out[name] = (path, values)
    return out


def old_module(workdir: Path, ref: str) -> Path:
    """The old ``csv_source.py`` written next to the data (loaded by the child)."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:eventstudy/data/csv_source.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = workdir / "old_csv_source.py"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- child


def child(case: str, path: str, values: str, limit: int, old: str, names: str) -> dict[str, float]:
    """Run one case in this (fresh) process and report its own figures."""
    import warnings

    import pandas as pd

    from eventstudy.data import CsvSource, load_prices

    base_rss = _peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # suspected splits in random walks, etc.
        if case == "pandas":
            frame = pd.read_csv(path)
            n = frame.shape[1]
        elif case == "new panel":
            n = CsvSource(path).panel(values=values).shape[1]  # type: ignore[arg-type]
        elif case == "new get":
            src = CsvSource(path)
            n = len(load_prices(src.symbols(), src, progress=False))
        elif case == "old get":
            import importlib.util

            spec = importlib.util.spec_from_file_location("old_csv_source", old)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            src = mod.CsvSource(path)
            # the symbols come from the parent: the old symbols() listed the keys of an
            # internal dict for a long file instead of its symbols
            symbols = json.loads(Path(names).read_text())
            if limit:
                symbols = symbols[:limit]
            n = len(load_prices(symbols, src, progress=False))
        else:  # pragma: no cover
            raise SystemExit(f"unknown case {case!r}")
    return {
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "rss_mb": _peak_rss_mb(),
        "base_mb": base_rss,
        "symbols": n,
    }


def _peak_rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` (reset by exec, unlike ``ru_maxrss``,
    which a child started by a big parent inherits), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(
    case: str, path: Path, values: str, limit: int, old: Path, names: Path
) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        case,
        str(path),
        values,
        str(limit),
        str(old),
        str(names),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{case} on {path.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- folder

PRICES = ROOT.parent / "shared" / "data" / "prices"
#: The child of ``--folder``: per file, the median CPU ms of ``get`` and of ``read_csv``.
FOLDER_CHILD = """
import json, statistics, time, warnings
folder, repeat = {folder!r}, {repeat!r}
from pathlib import Path
import pandas as pd
from eventstudy.data import CsvSource
warnings.simplefilter("ignore")  # suspected splits
files = sorted(Path(folder).glob("*.csv"))
symbols = [f.name.removesuffix(".csv") for f in files]

def get(symbol):
    CsvSource(folder).get(symbol, "2015-01-01", "2026-01-01")

def cpu_ms(call, arg):
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        call(arg)
        times.append(time.process_time() - t0)
    return 1e3 * statistics.median(times)

for symbol, path in zip(symbols, files):  # warm up: imports, calendars, caches
    get(symbol)
    pd.read_csv(path)
out = {{s: {{"get": cpu_ms(get, s), "read_csv": cpu_ms(pd.read_csv, f)}}
       for s, f in zip(symbols, files)}}
print(json.dumps(out))
"""


def folder_child(src: str, folder: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Per file, the median CPU ms of ``get`` and ``read_csv`` in a fresh process (the
    package in ``src``, or this checkout's for ``""``)."""
    code = import_from(src) + FOLDER_CHILD.format(folder=str(folder), repeat=repeat)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"the --folder child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def folder_main(folder: Path, baseline: str | None, rounds: int, repeat: int) -> None:
    """Per-file CPU of ``CsvSource.get`` (and ``read_csv``), working tree vs baseline."""
    import statistics

    if not folder.is_dir():
        raise SystemExit(f"{folder} is absent")
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"working tree": ""}
        if baseline:
            cases = {"baseline": str(extract(baseline, Path(tmp) / "baseline_src")), **cases}
        load = [os.getloadavg()[0]]
        runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, src in cases.items():
                runs[name].append(folder_child(src, folder, repeat))
        load.append(os.getloadavg()[0])
    symbols = list(runs["working tree"][0])
    print(
        f"CsvSource(folder).get CPU ms per file, {folder}: median of {rounds} rounds "
        f"(a fresh process each, {repeat} reads per file, packages alternating); "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after"
    )
    names = list(cases)
    header = "| file | KB | read_csv | " + " | ".join(names)
    header += " | working tree / baseline |" if baseline else " |"
    print(header)
    print("|---|---:|---:|" + "---:|" * (len(names) + (1 if baseline else 0)))
    medians: dict[str, list[float]] = {name: [] for name in names}
    ratios: list[float] = []
    for sym in symbols:
        kb = (folder / f"{sym}.csv").stat().st_size / 1e3
        pandas = statistics.median(r[sym]["read_csv"] for n in names for r in runs[n])
        row = f"| {sym} | {kb:.0f} | {pandas:.2f} |"
        for name in names:
            medians[name].append(statistics.median(r[sym]["get"] for r in runs[name]))
            row += f" {medians[name][-1]:.2f} |"
        if baseline:
            pairs = zip(runs["baseline"], runs["working tree"], strict=True)
            ratios.append(statistics.median(w[sym]["get"] / b[sym]["get"] for b, w in pairs))
            row += f" {ratios[-1]:.2f} |"
        print(row)
    row = "| **median file** | | |"
    for name in names:
        row += f" **{statistics.median(medians[name]):.2f}** |"
    if baseline:
        row += f" **{statistics.median(ratios):.2f}** |"
    print(row)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "es-bench-csv"
    )
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--old-limit", type=int, default=40)
    parser.add_argument("--old-full", action="store_true")
    parser.add_argument("--skip-old", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="file names to measure")
    parser.add_argument(
        "--child", nargs=6, metavar=("CASE", "FILE", "VALUES", "LIMIT", "OLD", "NAMES")
    )
    parser.add_argument(
        "--folder", action="store_true", help="per-file CPU of get on a folder of files"
    )
    parser.add_argument("--prices", type=Path, default=PRICES, help="the folder (--folder)")
    parser.add_argument("--baseline", help="a commit to time beside the working tree")
    parser.add_argument("--rounds", type=int, default=5, help="children per package")
    parser.add_argument("--repeat", type=int, default=15, help="reads per file per child")
    args = parser.parse_args()
    if args.folder:
        folder_main(args.prices, args.baseline, args.rounds, args.repeat)
        return
    if args.child:
        case, path, values, limit, old, names = args.child
        print(json.dumps(child(case, path, values, int(limit), old, names)))
        return

    old = old_module(args.workdir, args.old_ref) if not args.skip_old else Path(os.devnull)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; old reader: {args.old_ref}")
    header = (
        f"{'file':<13} {'MB':>6} {'case':<10} {'symbols':>7} {'wall s':>9} {'CPU s':>9} "
        f"{'peak RSS MB':>11} {'RSS/size':>8} {'x read_csv':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, (path, values) in files(args.workdir).items():
        if args.only and name not in args.only:
            continue
        size_mb = path.stat().st_size / 1e6
        names_file = args.workdir / f"{name}.symbols.json"
        names_file.write_text(json.dumps(_symbols(path)))
        cases = ["pandas", "new get", "new panel"] + ([] if args.skip_old else ["old get"])
        if values == "volume":  # volumes (zeros included) are not prices: panel only
            cases = ["pandas", "new panel"]
        base = None
        for case in cases:
            limit = 0
            if case == "old get" and not args.old_full and name != "wide1000":
                limit = 3 if name == "long200" else args.old_limit
            fig = run_child(case, path, values, limit, old, names_file)
            note = ""
            if limit:
                # fixed cost + N x cost per symbol, from runs on k and 2k symbols
                twice = run_child(case, path, values, 2 * limit, old, names_file)
                total = len(json.loads(names_file.read_text()))
                for what in ("wall", "cpu"):
                    per = (twice[what] - fig[what]) / limit
                    fig[what] = fig[what] + per * (total - limit)
                fig["rss_mb"] = max(fig["rss_mb"], twice["rss_mb"])
                note = f"~ (from {limit} and {2 * limit} symbols)"
                fig["symbols"] = total
            if case == "pandas":
                base = fig["wall"]
            ratio = fig["wall"] / base if base else float("nan")
            print(
                f"{name:<13} {size_mb:>6.1f} {case:<10} {int(fig['symbols']):>7} "
                f"{fig['wall']:>9.2f} {fig['cpu']:>9.2f} {fig['rss_mb']:>11.0f} "
                f"{fig['rss_mb'] / size_mb:>8.2f} {ratio:>10.1f} {note}",
                flush=True,
            )
    print(
        "\npeak RSS is the whole process (interpreter and pandas included, about "
        f"{_import_rss():.0f} MB before reading); ~ = extrapolated from the symbols in brackets"
    )


def _symbols(path: Path) -> list[str]:
    from eventstudy.data import CsvSource

    return CsvSource(path).symbols()


def _import_rss() -> float:
    code = (
        "import pandas, eventstudy.data;"
        "print(next(int(x.split()[1]) for x in open('/proc/self/status') "
        "if x.startswith('VmHWM')) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


if __name__ == "__main__":
    main()
