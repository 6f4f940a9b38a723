"""Specification curve: how much a CAR depends on the analyst's choices.

The study is re-run over a grid of reasonable choices — expected-return model, benchmark index,
estimation length, gap between the estimation window and the event, CAR window, simple or log
returns — and every specification's CAR, standard error, interval and p-value is kept, per event,
for the equal-weighted portfolio of the event's securities and for each security. The summary
states the share of specifications that are significant and of which sign.

Each combination of (model, benchmark, estimation length, gap, return type) is one engine call;
the CAR windows are read from the same results.

References
----------
Simonsohn, U., Simmons, J. P. and Nelson, L. D. (2020). Specification curve analysis. *Nature
Human Behaviour* 4, 1208–1214.

Kolari, J. W. and Pynnönen, S. (2010). Event study testing with cross-sectional correlation of
abnormal returns. *Review of Financial Studies* 23(11), 3996–4025.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri, stdtrit

from eventstudy.exceptions import ConfigError, EventStudyWarning
from eventstudy.simulate import simple_returns, study_parts, study_settings, window_label
from eventstudy.vocabulary import Window

__all__ = [
    "BENCHMARK_NAMES",
    "CHOICES",
    "MODELS",
    "SensitivityResults",
    "sensitivity",
    "sensitivity_from_run",
    "spec_grid",
    "summarize_specs",
]


#: Model choices: label -> (engine model, uses the FX factor).
MODELS: dict[str, tuple[str, bool]] = {
    "market": ("market", False),
    "constant_mean": ("constant_mean", False),
    "market_adjusted": ("market_adjusted", False),
    "market_fx": ("factor", True),
}

#: The choice columns of a specification, in the order the curve shows them.
CHOICES: tuple[str, ...] = (
    "model",
    "benchmark",
    "estimation_length",
    "gap",
    "car_window",
    "returns",
)

PORTFOLIO = "portfolio"


def spec_grid(
    *,
    models: Sequence[str] = ("market", "constant_mean", "market_adjusted", "market_fx"),
    benchmarks: Sequence[str] = ("TOPIX", "Nikkei 225"),
    estimation_lengths: Sequence[int] = (120, 250),
    gaps: Sequence[int] = (10, 30),
    car_windows: Sequence[Window] = ((0, 0), (0, 1), (-1, 1), (0, 5)),
    return_types: Sequence[str] = ("simple", "log"),
) -> pd.DataFrame:
    """Every specification of the grid, one row each (no engine needed).

    The constant-mean model uses no benchmark: its specifications carry ``benchmark="none"`` and
    appear once, not once per benchmark.

    Returns
    -------
    DataFrame
        ``spec_id``, ``model``, ``benchmark``, ``estimation_length``, ``gap``, ``car_window``
        (label such as ``"CAR(-1,+1)"``), ``returns``, and the engine settings ``engine_model``,
        ``estimation`` (``(-gap-L, -gap-1)``), ``window_start``, ``window_end``.
    """
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ConfigError(field="models", value=unknown, expected=f"some of {sorted(MODELS)}")
    bad = sorted(set(return_types) - {"simple", "log"})
    if bad:
        raise ConfigError(field="return_types", value=bad, expected='"simple" and/or "log"')
    for g in gaps:
        if int(g) < 1:
            raise ConfigError(field="gaps", value=g, expected="gaps of at least 1 session")
    rows = []
    for model, bench, length, gap, win, rtype in itertools.product(
        models, benchmarks, estimation_lengths, gaps, car_windows, return_types
    ):
        if model == "constant_mean":
            bench = "none"
        start, end = (int(x) for x in win)
        if start < -int(gap):
            raise ConfigError(
                field="car_windows",
                value=win,
                expected=f"windows that start after the gap of {gap} sessions",
            )
        rows.append(
            {
                "model": model,
                "benchmark": bench,
                "estimation_length": int(length),
                "gap": int(gap),
                "car_window": window_label("caar", (start, end)),
                "returns": rtype,
                "engine_model": MODELS[model][0],
                "estimation": (-int(gap) - int(length), -int(gap) - 1),
                "window_start": start,
                "window_end": end,
            }
        )
    grid = pd.DataFrame(rows).drop_duplicates(subset=list(CHOICES), ignore_index=True)
    grid.insert(0, "spec_id", np.arange(len(grid)))
    return grid


def summarize_specs(specs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Share of specifications significant, and of which sign, per event and security.

    Returns
    -------
    DataFrame
        ``event_id``, ``security`` (``"portfolio"`` first), ``n_specs``, ``share_significant``,
        ``share_significant_positive``, ``share_significant_negative``, ``share_positive``,
        ``median_car``, ``min_car``, ``max_car``, ``statement`` (one sentence).
    """
    s = specs.dropna(subset=["car"])
    sig = s["p_value"] <= alpha
    g = s.assign(
        _sig=sig,
        _sigpos=sig & (s["car"] > 0),
        _signeg=sig & (s["car"] < 0),
        _pos=s["car"] > 0,
    ).groupby(["event_id", "security"], sort=False)
    out = pd.DataFrame(
        {
            "n_specs": g.size(),
            "share_significant": g["_sig"].mean(),
            "share_significant_positive": g["_sigpos"].mean(),
            "share_significant_negative": g["_signeg"].mean(),
            "share_positive": g["_pos"].mean(),
            "median_car": g["car"].median(),
            "min_car": g["car"].min(),
            "max_car": g["car"].max(),
        }
    ).reset_index()
    out["_order"] = (out["security"] != PORTFOLIO).astype(int)
    out = out.sort_values(["event_id", "_order"], kind="stable").drop(columns="_order")
    out["statement"] = [
        (
            f"{r.event_id} / {r.security}: {r.share_significant:.0%} of {r.n_specs} "
            f"specifications significant at {alpha:.0%} ({r.share_significant_positive:.0%} "
            f"positive, {r.share_significant_negative:.0%} negative); {r.share_positive:.0%} "
            f"of CARs positive, median {r.median_car:+.2%} (range {r.min_car:+.2%} to "
            f"{r.max_car:+.2%})"
        )
        for r in out.itertuples()
    ]
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class SensitivityResults:
    """Outcome of :func:`sensitivity` (immutable; tidy DataFrames).

    Attributes
    ----------
    specs : DataFrame
        One row per (specification, event, security incl. ``"portfolio"``): ``spec_id``, the
        choices (:data:`CHOICES`), ``event_id``, ``security``, ``car``, ``se``, ``ci_low``,
        ``ci_high``, ``statistic``, ``p_value``, ``significant``, ``test`` (the test behind the
        p-value).
    summary : DataFrame
        :func:`summarize_specs`.
    grid : DataFrame
        :func:`spec_grid` as run (after dropping unavailable choices).
    settings : dict
        Arguments of the run, and ``notes`` (choices dropped, firm-events the engine excluded
        in some specifications, and why).
    """

    specs: pd.DataFrame
    summary: pd.DataFrame
    grid: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = ["Specification curve (Simonsohn, Simmons & Nelson 2020)"]
        lines += [f"note: {n}" for n in self.settings.get("notes", [])]
        lines += list(self.summary["statement"])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SensitivityResults(specs={self.grid.shape[0]}, rows={self.specs.shape[0]})"

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"

    def plot(self, event_id: str | None = None, security: str = PORTFOLIO) -> Any:
        """The specification curve of one event and security (a ``go.Figure``)."""
        from eventstudy.figures_robustness import specification_curve

        return specification_curve(self.specs, event_id=event_id, security=security)


def _to_log(returns: pd.DataFrame) -> pd.DataFrame:
    """Log returns ``log(1 + r)`` (returns at or below -100% become NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log1p(returns.where(returns > -1))
    return out


def _event_study(**kwargs: Any) -> Any:
    from eventstudy.study import event_study

    with warnings.catch_warnings():
        # the clustering warning is the study's business; here every spec would repeat it
        warnings.simplefilter("ignore", EventStudyWarning)
        return event_study(**kwargs)


def _spec_rows(
    res: Any, window: Window, *, alpha: float, portfolio_test: str
) -> dict[str, np.ndarray]:
    """Per-event CAR rows (column arrays) for the portfolio and the securities of one result.

    Security rows are the engine's per-firm CAR test (``res.car``); the portfolio row of each
    event is its ``portfolio`` test (``res.portfolio_car``), or another CAR test of the event's
    cross-section (``caar_tests(by="event_id")``) with ``car`` the mean CAR and
    ``se = |car / statistic|``.
    """
    car = res.car(tuple(window))
    if portfolio_test == "portfolio":
        port = res.portfolio_car(tuple(window))
        pcols = {
            c: port[c].to_numpy(dtype=float) for c in ("car", "se", "statistic", "p_value", "df")
        }
    else:
        tests = res.caar_tests(tuple(window), by="event_id")
        tests = tests[tests["test"] == portfolio_test]
        if tests.empty:
            raise ConfigError(
                field="portfolio_test",
                value=portfolio_test,
                expected="a CAR test the engine reports (e.g. portfolio, kolari_pynnonen)",
            )
        port = tests
        stat = tests["statistic"].to_numpy(dtype=float)
        caar = tests["caar"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.abs(caar / stat)  # the standard error the statistic implies
        pcols = {
            "car": caar,
            "se": se,
            "statistic": stat,
            "p_value": tests["p_value"].to_numpy(dtype=float),
            "df": tests["df"].to_numpy(dtype=float),
        }
    n_p = len(port)
    cols = {
        c: np.concatenate([pcols[c], car[c].to_numpy(dtype=float)])
        for c in ("car", "se", "statistic", "p_value", "df")
    }
    eids = np.concatenate(
        [
            port["event_id"].astype(str).to_numpy(dtype=object),
            car["event_id"].astype(str).to_numpy(dtype=object),
        ]
    )
    secs = np.concatenate(
        [np.full(n_p, PORTFOLIO, dtype=object), car["security"].astype(str).to_numpy(dtype=object)]
    )
    test = np.concatenate(
        [np.full(n_p, portfolio_test, dtype=object), np.full(len(car), "car", dtype=object)]
    )
    dof = cols.pop("df")
    with np.errstate(invalid="ignore"):
        crit = np.where(
            np.isfinite(dof),
            stdtrit(np.where(np.isfinite(dof), dof, 1.0), 1 - alpha / 2),
            ndtri(1 - alpha / 2),
        )
    cols["ci_low"] = cols["car"] - crit * cols["se"]
    cols["ci_high"] = cols["car"] + crit * cols["se"]
    cols["significant"] = cols["p_value"] <= alpha
    return {"event_id": eids, "security": secs, "test": test, **cols}


def sensitivity(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    *,
    market: str = "MKT",
    alt_markets: Mapping[str, str] | None = None,
    fx: str | None = None,
    models: Sequence[str] = ("market", "constant_mean", "market_adjusted", "market_fx"),
    estimation_lengths: Sequence[int] = (120, 250),
    gaps: Sequence[int] = (10, 30),
    car_windows: Sequence[Window] = ((0, 0), (0, 1), (-1, 1), (0, 5)),
    return_types: Sequence[str] = ("simple", "log"),
    window: Window | None = None,
    min_estimation_obs: int = 100,
    convention: str = "textbook",
    alpha: float = 0.05,
    portfolio_test: str = "portfolio",
    engine_kwargs: Mapping[str, Any] | None = None,
) -> SensitivityResults:
    """Specification curve of the study's CARs over a grid of reasonable choices.

    Parameters
    ----------
    returns : DataFrame
        Simple returns: securities, the market column and any alternative benchmarks and FX.
    events : DataFrame
        ``security``, ``event_date``, optional ``event_id``.
    market : str
        The study's benchmark column.
    alt_markets : mapping, optional
        Benchmark choices, name -> column (e.g. ``{"TOPIX": "TOPIX", "Nikkei 225": "^N225"}``);
        default ``{market: market}``. ``market`` is added under its own name if absent.
    fx : str, optional
        The FX factor column (e.g. USD/JPY returns) for the ``market_fx`` model; without it that
        model is dropped (noted in ``settings["notes"]``).
    models, estimation_lengths, gaps, car_windows, return_types
        The grid (see :func:`spec_grid`). ``estimation = (-gap - L, -gap - 1)``: the gap is the
        number of sessions between the estimation window and day 0 (10 reproduces the default
        ``(-260, -11)`` with ``L = 250``).
    window : (int, int), optional
        Computed event window (default: the span of ``car_windows``).
    min_estimation_obs : int
        As in the engine, capped at each specification's estimation length.
    alpha : float
        Significance level (and ``1 - alpha`` intervals).
    portfolio_test : str
        The CAR test read for the portfolio row (default ``portfolio``, which is robust to the
        cross-correlation of securities sharing a date).

    Returns
    -------
    SensitivityResults

    Notes
    -----
    A specification curve (Simonsohn, Simmons and Nelson, 2020) shows every defensible
    specification's estimate, sorted, with the choices that produced it beneath, instead of one
    hand-picked specification. Security rows use the engine's per-firm CAR test (the CAR over its
    Mikkelson–Partch standard error, t with the residual degrees of freedom of
    :func:`eventstudy.models.residual_df`). Portfolio rows use the engine's ``portfolio`` test
    (:meth:`eventstudy.results.EventStudyResults.portfolio_car`, the ``portfolio`` row of
    ``caar_tests(by="event_id")``): the event's equal-weighted portfolio fitted on its own
    estimation window; its CAR is the mean CAR of the event's securities. With another
    ``portfolio_test`` the row
    carries that test of the event's cross-section, with ``car`` the mean CAR and
    ``se = |car / statistic|``. Intervals are ``car ± t(1 - alpha/2, df) se`` (normal when the
    test has no degrees of freedom), so an interval excludes 0 exactly when ``p <= alpha``.
    Log returns are ``log(1 + r)`` for securities, benchmarks and FX alike; their CAR is the
    sum of log abnormal returns.
    """
    notes: list[str] = []
    benches = dict(alt_markets or {})
    if market not in benches.values():
        benches = {market: market, **benches}
    missing = [c for c in [*benches.values(), *([fx] if fx else [])] if c not in returns.columns]
    if missing:
        raise ConfigError(field="alt_markets/fx", value=missing, expected="columns of returns")
    models = list(models)
    if "market_fx" in models and not fx:
        models.remove("market_fx")
        notes.append("market_fx dropped: no FX column given (fx=...)")
    grid = spec_grid(
        models=models,
        benchmarks=list(benches),
        estimation_lengths=estimation_lengths,
        gaps=gaps,
        car_windows=car_windows,
        return_types=return_types,
    )
    starts = [int(w[0]) for w in car_windows]
    ends = [int(w[1]) for w in car_windows]
    comp = tuple(window) if window is not None else (min(starts), max(ends))
    if comp[0] > min(starts) or comp[1] < max(ends):
        raise ConfigError(
            field="window",
            value=comp,
            expected=f"a window containing every CAR window {car_windows}",
        )
    ev = events.copy()
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    if "event_id" not in ev.columns:
        ev["event_id"] = ev["event_date"].dt.strftime("%Y-%m-%d")
    ev = ev[["security", "event_date", "event_id"]]
    panels = {"simple": returns}
    if "log" in return_types:
        panels["log"] = _to_log(returns)
    first_bench = next(iter(benches))
    run_keys = ["model", "benchmark", "estimation_length", "gap", "returns"]
    frames = []
    for key, sub in grid.groupby(run_keys, sort=False):
        model, bench, length, _gap, rtype = key
        engine_model, uses_fx = MODELS[model]
        col = benches[first_bench if bench == "none" else bench]
        res = _event_study(
            returns=panels[rtype],
            events=ev,
            market=col,
            model=engine_model,
            factors=[fx] if uses_fx else None,
            estimation=tuple(sub["estimation"].iloc[0]),
            window=comp,
            min_estimation_obs=min(int(min_estimation_obs), int(length)),
            convention=convention,
            **dict(engine_kwargs or {}),
        )
        excluded = res.excluded
        if len(excluded):
            first = excluded.iloc[0]
            notes.append(
                f"{model}/{bench}/L={length}/gap={_gap}/{rtype}: {len(excluded)} firm-event(s) "
                f"excluded, e.g. {first['event_id']}/{first['security']}: {first['reason']}"
            )
        for spec_id, start, end in zip(
            sub["spec_id"], sub["window_start"], sub["window_end"], strict=True
        ):
            rows = _spec_rows(
                res, (int(start), int(end)), alpha=alpha, portfolio_test=portfolio_test
            )
            rows["spec_id"] = np.full(len(rows["car"]), int(spec_id))
            frames.append(rows)
    table = pd.DataFrame({c: np.concatenate([f[c] for f in frames]) for c in frames[0]})
    for c in ("event_id", "security", "test"):
        table[c] = table[c].astype(str)
    table["significant"] = table["significant"].astype(bool)
    table["_o"] = (table["security"] != PORTFOLIO).astype(int)
    table = table.sort_values(["spec_id", "event_id", "_o"], kind="stable").drop(columns="_o")
    specs = grid[["spec_id", *CHOICES]].merge(table, on="spec_id", how="right")
    lead = ["spec_id", *CHOICES, "event_id", "security"]
    specs = specs[[*lead, *[c for c in specs.columns if c not in lead]]].reset_index(drop=True)
    settings = {
        "market": market,
        "benchmarks": benches,
        "fx": fx,
        "models": models,
        "estimation_lengths": tuple(estimation_lengths),
        "gaps": tuple(gaps),
        "car_windows": [tuple(w) for w in car_windows],
        "return_types": tuple(return_types),
        "window": comp,
        "alpha": alpha,
        "portfolio_test": portfolio_test,
        "convention": convention,
        "notes": notes,
    }
    return SensitivityResults(
        specs=specs,
        summary=summarize_specs(specs, alpha=alpha),
        grid=grid,
        settings=settings,
    )


#: Display names of benchmark symbols in the curve.
BENCHMARK_NAMES: dict[str, str] = {
    "TOPIX": "TOPIX",
    "^TPX": "TOPIX",
    "1306.T": "TOPIX ETF (1306.T)",
    "^N225": "Nikkei 225",
    "N225": "Nikkei 225",
}


def sensitivity_from_run(prepared: Any, **kwargs: Any) -> dict[str, SensitivityResults]:
    """Run :func:`sensitivity` for every exchange group of a prepared study (the CLI entry point).

    Parameters
    ----------
    prepared : eventstudy.runner.Prepared or mapping
        What ``eventstudy.runner.prepare(...)`` returns (read as in
        :func:`eventstudy.simulate.simulate_from_run`); each exchange group gives ``returns``,
        ``events``, ``market``, ``alt_markets`` (other benchmarks the source has) and
        ``factors`` (the first is taken as the FX factor, e.g. ``JPY=X``), and ``config`` the
        study's ``min_estimation_obs``, ``convention`` and return kind (log returns are turned
        back into simple returns: the grid has its own simple/log choice). Benchmarks are named
        by :data:`BENCHMARK_NAMES` (``^N225`` -> ``Nikkei 225``).
    **kwargs
        Passed to :func:`sensitivity` (they override what the group gives).

    Returns
    -------
    dict
        exchange -> :class:`SensitivityResults`.
    """
    out: dict[str, SensitivityResults] = {}
    for name, part in study_parts(prepared).items():
        settings = study_settings(part)
        market = settings["market"]
        opts: dict[str, Any] = {"market": market}
        for key in ("min_estimation_obs", "convention"):
            if key in settings:
                opts[key] = settings[key]
        alts = {
            BENCHMARK_NAMES.get(name, BENCHMARK_NAMES.get(col, name)): col
            for name, col in dict(part.get("alt_markets") or {}).items()
        }
        own = [name for name, col in alts.items() if col == market]
        benches = {own[0] if own else BENCHMARK_NAMES.get(market, market): market}
        for label, col in alts.items():
            if label not in benches and col not in benches.values():
                benches[label] = col
        opts["alt_markets"] = benches
        fx = part.get("fx")
        if fx is None:
            factors = list(part.get("factors") or [])
            fx = factors[0] if factors else None
        if fx is not None:
            opts["fx"] = fx
        opts.update(kwargs)
        out[name] = sensitivity(simple_returns(part), part["events"], **opts)
    return out
