"""Build every figure of a few reports with two versions of the figure modules: compare, time.

A dev harness (not a project test). It runs real reports in-process (the kei-car study on
``../shared/data/prices``, the simulated demo with four events, a pool and the estudy2
convention, the demo with the market-adjusted model, the kei-car study on prices with
missing sessions and a late listing, the ``compare`` page, the robustness lab) with every
``plot_*`` function of ``eventstudy.figures``, ``figures_quant`` and ``figures_robustness``
wrapped: each call is recorded (its arguments, and the memo of any results object it reads,
so that a later call sees the tables in the state the report left them). Direct calls on a
small engine result add what the reports do not draw (several panels, movers above a small
cap, the distribution figures, one exchange's timing).

Each recorded call is then made again with the figure modules as of ``--baseline`` (default
``main``: the files taken with ``git show``, loaded under other module names beside ours)
and with ours; ``fig.to_dict()`` of both are compared recursively (numbers with a 1e-12
relative tolerance, NaN equal to NaN, key order ignored, list and array containers told
apart). Every difference is printed with its path.

With ``--time`` the figure functions of the kei-car report are timed, before and after
interleaved in the same run: CPU seconds (``time.process_time``) of each call, the median
of ``--repeat`` runs, summed per function; before each timed call the results object's memo
is put back as the report had it.

Run: ``.venv/bin/python benchmarks/bench_figures.py [--baseline main] [--time --repeat 5]
[--cases kei,demo4,...]``.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import math
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml import YAML

import eventstudy.compare
import eventstudy.crosssection
import eventstudy.figures
import eventstudy.figures_quant
import eventstudy.figures_robustness
import eventstudy.report.build
import eventstudy.report.volume
import eventstudy.volume
from eventstudy import pipeline
from eventstudy.results import EventStudyResults

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT.parent / "shared" / "data" / "prices"
MODULES = ("figures", "figures_quant", "figures_robustness")
RTOL = 1e-12


# ----------------------------------------------------------------------------- two versions


def load_baseline(commit: str) -> dict[str, types.ModuleType]:
    """The figure modules as of ``commit``, loaded as ``_baseline_<name>``."""
    out = {}
    folder = Path(tempfile.mkdtemp(prefix="figbase_"))
    for name in MODULES:
        text = subprocess.run(
            ["git", "show", f"{commit}:eventstudy/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        path = folder / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"_baseline_{name}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def ours() -> dict[str, types.ModuleType]:
    return {name: sys.modules[f"eventstudy.{name}"] for name in MODULES}


# ----------------------------------------------------------------------------- recording


@dataclass
class Call:
    case: str
    module: str
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    states: list[tuple[EventStudyResults, dict[str, Any]]] = field(default_factory=list)

    def restore(self) -> None:
        for res, snap in self.states:
            res.__dict__.clear()
            res.__dict__.update(_copy_state(snap))

    def run(self, mods: dict[str, types.ModuleType]) -> Any:
        return getattr(mods[self.module], self.name)(*self.args, **self.kwargs)

    @property
    def label(self) -> str:
        return f"{self.case}:{self.name}#{id(self) % 10000}"


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if k == "_memo" else v) for k, v in state.items()}


def _results_in(values: Iterator[Any]) -> list[EventStudyResults]:
    return [v for v in values if isinstance(v, EventStudyResults)]


@contextmanager
def recording(case: str, calls: list[Call]) -> Iterator[None]:
    """Wrap every plot function wherever a module of the package holds it."""
    originals: dict[int, tuple[str, str, Callable[..., Any]]] = {}
    for mod_name in MODULES:
        mod = sys.modules[f"eventstudy.{mod_name}"]
        for name in dir(mod):
            obj = getattr(mod, name)
            if (
                callable(obj)
                and getattr(obj, "__module__", "") == mod.__name__
                and (
                    name.startswith("plot_")
                    or name in ("size_bars", "power_curves", "specification_curve")
                )
            ):
                originals[id(obj)] = (mod_name, name, obj)

    def wrap(mod_name: str, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = Call(case, mod_name, name, args, dict(kwargs))
            for res in _results_in(iter([*args, *kwargs.values()])):
                call.states.append((res, _copy_state(res.__dict__)))
            calls.append(call)
            return func(*args, **kwargs)

        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        return wrapper

    patched: list[tuple[types.ModuleType, str, Any]] = []
    for mod in list(sys.modules.values()):
        if mod is None or not getattr(mod, "__name__", "").startswith("eventstudy"):
            continue
        for attr, value in list(vars(mod).items()):
            if id(value) in originals and callable(value):
                mod_name, name, func = originals[id(value)]
                patched.append((mod, attr, value))
                setattr(mod, attr, wrap(mod_name, name, func))
    try:
        yield
    finally:
        for mod, attr, value in patched:
            setattr(mod, attr, value)


# ----------------------------------------------------------------------------- cases


def _yaml(path: Path) -> Any:
    return YAML(typ="rt").load(path.read_text())


def _write_yaml(data: Any, path: Path) -> Path:
    yaml = YAML(typ="rt")
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return path


def _config_copy(tmp: Path, source: str, name: str, edit: Callable[[Any], None]) -> Path:
    data = _yaml(ROOT / "configs" / source)
    data["name"] = name
    for ev in data["events"]:  # dossiers are read relative to the config's project
        ev.pop("dossier", None)
    edit(data)
    return _write_yaml(data, tmp / f"{name}.yaml")


def _run(config: Path | str, tmp: Path, **kw: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.run_and_write(str(config), out=tmp / "out", quiet=True, calibrate=0, **kw)


def case_kei(tmp: Path) -> None:
    _run(ROOT / "configs" / "kei_cars.yaml", tmp, prices=str(PRICES), offline=True)


def case_demo4(tmp: Path) -> None:
    """The simulated demo with four events, a pool of two of them and estudy2."""

    def edit(d: Any) -> None:
        extra = [
            ("oct_2025-10-15", "2025-10-15T10:00:00-04:00"),
            ("nov_2025-11-10", "2025-11-10T20:00:00-05:00"),
        ]
        for eid, when in extra:
            d["events"].append(
                {
                    "id": eid,
                    "title": f"Extra simulated event {eid}",
                    "announced": when,
                    "tz": "America/New_York",
                    "tags": ["demo", "extra"],
                }
            )
        d["pool"] = [
            {"name": "extra", "title": "The two extra events", "events": [e for e, _ in extra]}
        ]
        d["convention"] = "estudy2"

    _run(_config_copy(tmp, "demo.yaml", "demo4", edit), tmp)


def case_demo_madj(tmp: Path) -> None:
    def edit(d: Any) -> None:
        d["model"] = "market_adjusted"

    _run(_config_copy(tmp, "demo.yaml", "demo_madj", edit), tmp)


def case_missing(tmp: Path) -> None:
    """The kei-car study on prices with missing sessions around the events (Mitsubishi),
    a late listing (Subaru: too little history) and a gap in the market index."""
    folder = tmp / "prices_missing"
    folder.mkdir()
    for src in PRICES.glob("*.csv"):
        frame = pd.read_csv(src)
        dates = pd.to_datetime(frame["Date"].astype(str).str[:10])
        if src.stem == "7211.T":
            frame = frame[~dates.between("2025-12-02", "2025-12-05")]
        elif src.stem == "7270.T":
            frame = frame[dates >= "2025-08-01"]
        elif src.stem == "7201.T":
            frame = frame[~dates.between("2025-11-25", "2025-11-26")]
        frame.to_csv(folder / src.name, index=False)
    _run(ROOT / "configs" / "kei_cars.yaml", tmp, prices=str(folder), offline=True)


def case_robustness(tmp: Path) -> None:
    _run(ROOT / "configs" / "demo.yaml", tmp, simulate=40, sensitivity=True)


def case_compare(tmp: Path) -> None:
    from eventstudy import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare.compare_and_write(
            [str(ROOT / "configs" / "kei_cars.yaml"), str(ROOT / "configs" / "demo.yaml")],
            prices=str(PRICES),
            offline=True,
            out=tmp / "compare",
        )


def case_direct(tmp: Path) -> None:
    """Calls the reports do not make: several panels, small caps, timing of two exchanges."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_figures as tf  # the tests' simulated engine result and stand-in

    F = eventstudy.figures
    Q = eventstudy.figures_quant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = tf.simulated_results()
        standin = tf.make_standin()
        timing = pd.DataFrame(
            {
                "event_id": ["kei_cafe", "kei_cafe", "tinycars"],
                "announced": pd.to_datetime(["2025-12-03T19:30Z"] * 2 + ["2025-12-05T14:50Z"]),
                "exchange": ["XTKS", "XNYS", "XTKS"],
                "session": pd.to_datetime(["2025-12-04", "2025-12-03", "2025-12-08"]),
                "rule": ["before open", "during session", "non-trading day"],
            }
        )
        for r in (res, standin):
            F.plot_ar(r)
            F.plot_ar(r, "kei_cafe", timing=timing)
            F.plot_ar(r, timing=timing, exchange="XNYS", cap=2, window=(-3, 5))
            F.plot_car(r)
            F.plot_car(r, "tinycars", start=None, level=0.9, cap=2)
            F.plot_car(r, cap=3, title="Custom")
            F.plot_heatmap(r)
            F.plot_heatmap(r, (0, 0), cap=2)
            F.plot_forest(r)
            F.plot_forest(r, (-1, 1), cap=2, level=0.9)
            F.plot_diagnostics(r)
            F.plot_diagnostics(r, cap=2)
            F.plot_residual_correlation(r)
            F.plot_residual_correlation(r, "kei_cafe")
            F.plot_residual_correlation(r, cap=2)
            F.plot_tests(r)
            F.plot_tests(r, [(0, 1)], event_id="tinycars")
        empty = types.SimpleNamespace(**vars(standin))  # an event without abnormal returns
        ar = standin.abnormal_returns
        empty.abnormal_returns = ar[ar["event_id"] != "tinycars"]
        F.plot_ar(empty, cap=None)
        F.plot_car_distribution(res)
        F.plot_car_distribution(res, (0, 0), "kei_cafe")
        F.plot_ar(res, "kei_cafe", labels={"7203.T": "Toyota"}, colors={"7203.T": "#000000"})
        prices = tf._prices()
        F.plot_prices(prices, "2025-12-04", benchmarks=["TOPIX"])
        F.plot_prices(prices, "2025-12-04", "2025-12-03T19:30Z", note="shown: two")
        F.plot_prices(prices, "2025-12-04", "2025-12-04T01:00Z", window=(-3, 3))
        F.plot_prices(prices, "2025-12-04", "2025-12-05T14:50Z", labels={"7203.T": "Toyota"})
        wide = pd.DataFrame({k: v["adj_close"] for k, v in prices.items()})
        F.plot_prices(wide, "2025-12-04", "2025-11-10T00:00Z")
        table = pd.DataFrame(
            {
                "term": ["Intercept", "size", "oem"],
                "estimate": [0.01, -0.002, 0.03],
                "se": [0.004, 0.001, 0.01],
                "statistic": [2.5, -2.0, 3.0],
                "p_value": [0.02, 0.06, 0.004],
                "ci_low": [0.002, -0.004, 0.01],
                "ci_high": [0.018, 0.0, 0.05],
            }
        )
        Q.plot_coefficients(table)
        Q.plot_coefficients(table.iloc[:1], title="One term")
        rng = np.random.default_rng(0)
        vol = pd.DataFrame(
            [
                {"event_id": e, "security": s, "rel_day": d, "abnormal": rng.normal()}
                for e in ("a", "b")
                for s in ("X", "Y", "Z")
                for d in range(-3, 4)
            ]
        )
        Q.plot_abnormal_volume(vol)
        Q.plot_abnormal_volume(vol, event_id="b")


CASES: dict[str, Callable[[Path], None]] = {
    "kei": case_kei,
    "demo4": case_demo4,
    "demo_madj": case_demo_madj,
    "missing": case_missing,
    "compare": case_compare,
    "robustness": case_robustness,
    "direct": case_direct,
}


def record(names: list[str]) -> list[Call]:
    calls: list[Call] = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp, recording(name, calls):
            CASES[name](Path(tmp))
    return calls


# ----------------------------------------------------------------------------- comparing


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _num_equal(a: Any, b: Any) -> bool:
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb or abs(fa - fb) <= RTOL * max(abs(fa), abs(fb))


def _typed_array(x: Any) -> Any:
    """Plotly's base64 form of a numeric array (``{"dtype", "bdata"[, "shape"]}``) as numpy."""
    if isinstance(x, dict) and set(x) in ({"dtype", "bdata"}, {"dtype", "bdata", "shape"}):
        arr = np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"]))
        if "shape" in x:
            arr = arr.reshape([int(n) for n in str(x["shape"]).split(",")])
        return arr
    return x


def diff(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Differences between two ``to_dict()`` trees (``a`` before, ``b`` after)."""
    a, b = _typed_array(a), _typed_array(b)
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in b:
                yield f"{path}.{k}: only before = {_short(a[k])}"
            elif k not in a:
                yield f"{path}.{k}: only after = {_short(b[k])}"
            else:
                yield from diff(a[k], b[k], f"{path}.{k}")
        return
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if type(a) is not type(b):
            yield f"{path}: container {type(a).__name__} before, {type(b).__name__} after"
            return
        if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            yield f"{path}: array {a.dtype}{a.shape} before, {b.dtype}{b.shape} after"
            return
        for i, (x, y) in enumerate(zip(a.ravel().tolist(), b.ravel().tolist(), strict=True)):
            yield from diff(x, y, f"{path}[{i}]")
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b):
            yield f"{path}: container {type(a).__name__} before, {type(b).__name__} after"
        if len(a) != len(b):
            yield f"{path}: length {len(a)} before, {len(b)} after"
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from diff(x, y, f"{path}[{i}]")
        return
    if _is_num(a) and _is_num(b):
        if not _num_equal(a, b):
            yield f"{path}: {a!r} before, {b!r} after"
        return
    if type(a) is not type(b) or a != b:
        yield f"{path}: {_short(a)} before, {_short(b)} after"


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) < 160 else s[:157] + "..."


def compare_calls(calls: list[Call], base: dict[str, types.ModuleType]) -> int:
    mine = ours()
    n_diff = 0
    summary: dict[str, int] = defaultdict(int)
    for call in calls:
        call.restore()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig_before = call.run(base)
            call.restore()
            fig_after = call.run(mine)
        found = list(diff(fig_before.to_dict(), fig_after.to_dict()))
        # the subplot grid a figure knows (row=/col= arguments, print_grid)
        for key in ("_grid_ref", "_grid_str"):
            if getattr(fig_before, key) != getattr(fig_after, key):
                found.append(
                    f"{key}: {getattr(fig_before, key)!r} before, {getattr(fig_after, key)!r} after"
                )
        summary[f"{call.case}:{call.name}"] += 1
        if found:
            n_diff += 1
            print(f"\n{call.case}: {call.name} differs ({len(found)}):")
            for line in found[:60]:
                print("   ", line)
            if len(found) > 60:
                print(f"    ... {len(found) - 60} more")
    print(f"\n{len(calls)} figures compared, {n_diff} with differences")
    for key, n in summary.items():
        print(f"  {key}: {n}")
    return n_diff


# ----------------------------------------------------------------------------- timing


def time_calls(
    calls: list[Call], base: dict[str, types.ModuleType], repeat: int
) -> list[tuple[str, int, float, float]]:
    mine = ours()
    per: dict[str, list[list[float]]] = {}
    for call in calls:
        runs: dict[str, list[float]] = {"before": [], "after": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(repeat):
                for tag, mods in (("before", base), ("after", mine)):
                    call.restore()
                    t0 = time.process_time()
                    call.run(mods)
                    runs[tag].append(time.process_time() - t0)
        slot = per.setdefault(call.name, [[], []])
        slot[0].append(statistics.median(runs["before"]))
        slot[1].append(statistics.median(runs["after"]))
    rows = [(name, len(b), sum(b), sum(a)) for name, (b, a) in per.items()]
    rows.sort(key=lambda r: -r[2])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--time", action="store_true", help="time the kei-car figures")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-compare", action="store_true")
    opts = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", opts.baseline],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    base = load_baseline(opts.baseline)
    names = [c for c in opts.cases.split(",") if c]
    if opts.time and "kei" not in names:
        names.insert(0, "kei")
    calls = record(names)
    print(f"baseline {opts.baseline} ({commit}); {len(calls)} figure calls recorded")
    status = 0
    if not opts.no_compare:
        status = 1 if compare_calls(calls, base) else 0
    if opts.time:
        kei = [c for c in calls if c.case == "kei"]
        rows = time_calls(kei, base, opts.repeat)
        print(f"\nkei-car report figures, CPU ms, median of {opts.repeat} (before: {commit})")
        print(f"{'function':<28} {'calls':>5} {'before':>8} {'after':>8} {'ratio':>6}")
        tb = ta = 0.0
        for name, n, b, a in rows:
            tb, ta = tb + b, ta + a
            print(f"{name:<28} {n:>5} {b * 1e3:>8.1f} {a * 1e3:>8.1f} {b / a:>6.1f}")
        print(f"{'all':<28} {len(kei):>5} {tb * 1e3:>8.1f} {ta * 1e3:>8.1f} {tb / ta:>6.1f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
