"""One page across events and studies: "was the kei-car news as big as the tariff deal?"

:func:`compare` runs several studies (each on its own configuration: securities, benchmark,
model, windows) and lines up, for every event, the mean CAR of its securities over each CAR
window with the portfolio test's interval and the p-values of the tests that stay valid when
the securities share the date; events whose days 0 lie inside one event window also get a
combined row (the earlier event's CAR from its day 0 to the later day 0 and one session past
it). :func:`compare_and_write` writes the page (table, heatmap, forest plot) atomically.

Sits beside the runner (it uses :mod:`eventstudy.runner`); the report module renders it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import special as _sp

from eventstudy import runner
from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError, EventStudyWarning
from eventstudy.plan import plan_study

__all__ = ["Comparison", "compare", "compare_and_write"]

PORTFOLIO = "portfolio"


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found.

    Attributes
    ----------
    table : DataFrame
        One row per (study, event or combined window, exchange, CAR window): ``study``,
        ``kind`` (``event``/``combined``), ``event_id``, ``label``, ``exchange``, ``day0``,
        ``timing_confidence``, ``window``, ``n``, ``caar``, ``se``, ``ci_low``, ``ci_high``
        (portfolio test, 95%), ``t_portfolio``, ``p_portfolio``, ``p_adjusted_patell``,
        ``p_kolari_pynnonen``, ``p_grank``, ``rank`` (by absolute mean CAR within the window).
    cars : DataFrame
        Per security and the event mean: ``label``, ``study``, ``event_id``, ``security``
        (display name, ``"portfolio"`` for the mean), ``symbol``, ``window``, ``car``,
        ``p_value``.
    summary : list of str
        Plain sentences: per window, the events from the largest to the smallest absolute
        mean CAR with their portfolio p-values.
    studies : list of str
        The studies compared, in order.
    """

    table: pd.DataFrame
    cars: pd.DataFrame
    summary: list[str] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)


def _ci(caar: float, t: float, df: float, level: float = 0.95) -> tuple[float, float, float]:
    if not (math.isfinite(caar) and math.isfinite(t)) or t == 0:
        return math.nan, math.nan, math.nan
    se = abs(caar / t)
    crit = float(_sp.stdtrit(df, 0.5 + level / 2)) if math.isfinite(df) else 1.96
    return se, caar - crit * se, caar + crit * se


def _portfolio_df(res: Any, window: tuple[int, int]) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        t = res.caar_tests(window, by="event_id")
    t = t[t["test"] == "portfolio"]
    return dict(zip(t["event_id"].astype(str), t["df"].astype(float), strict=True))


def compare(
    configs: Sequence[str | Path],
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
) -> Comparison:
    """Run every study and line up its events' mean CARs (see :class:`Comparison`)."""
    if not configs:
        raise ConfigError(field="CONFIG", value=[], expected="at least one study file")
    rows: list[dict[str, Any]] = []
    cars: list[dict[str, Any]] = []
    studies: list[str] = []
    for path in configs:
        prep = runner.prepare(path, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
        plan = prep.plan
        if plan.name in studies:
            raise ConfigError(
                field="CONFIG", value=str(path), expected=f"each study once ({plan.name} twice)"
            )
        studies.append(plan.name)
        names = {s.symbol: s.name or s.symbol for s in plan.securities}
        results = {ex: runner._quiet_fit(plan.engine, g) for ex, g in prep.groups.items()}
        multi = len(results) > 1
        windows = list(plan.engine.car_windows)
        _, combined = runner._overlaps(prep, results)
        for ex, res in results.items():
            group = prep.groups[ex]
            day0 = group.events.drop_duplicates("event_id").set_index("event_id")["event_date"]
            suffix = f" [{ex}]" if multi else ""
            robust = runner._robust_rows(res, windows)
            dfs = {format_window(w): _portfolio_df(res, w) for w in windows}
            for r in robust.itertuples(index=False):
                ev = plan.event(r.event_id)
                label = f"{plan.name} · {r.event_id}{suffix}"
                se, lo, hi = _ci(r.caar, r.t_portfolio, dfs[r.window].get(r.event_id, math.nan))
                rows.append(
                    {
                        "study": plan.name,
                        "kind": "event",
                        "event_id": r.event_id,
                        "label": label,
                        "title": ev.title,
                        "exchange": ex,
                        "day0": pd.Timestamp(day0[r.event_id]),
                        "timing_confidence": ev.timing_confidence,
                        "window": r.window,
                        "n": r.n,
                        "caar": r.caar,
                        "se": se,
                        "ci_low": lo,
                        "ci_high": hi,
                        "t_portfolio": r.t_portfolio,
                        **{f"p_{k}": getattr(r, f"p_{k}") for k in runner.ROBUST_P},
                    }
                )
                cars.append(
                    {
                        "label": label,
                        "study": plan.name,
                        "event_id": r.event_id,
                        "security": PORTFOLIO,
                        "symbol": PORTFOLIO,
                        "window": r.window,
                        "car": r.caar,
                        "p_value": r.p_portfolio,
                    }
                )
            for w in windows:
                c = res.car(w)
                for s in c.itertuples(index=False):
                    cars.append(
                        {
                            "label": f"{plan.name} · {s.event_id}{suffix}",
                            "study": plan.name,
                            "event_id": str(s.event_id),
                            "security": names.get(str(s.security), str(s.security)),
                            "symbol": str(s.security),
                            "window": format_window(w),
                            "car": float(s.car),
                            "p_value": float(s.p_value),
                        }
                    )
        for r in combined.itertuples(index=False) if len(combined) else []:
            if not (r.span.startswith("day 0 of") and "day +1 of" in r.span):
                continue  # one combined row per pair: day 0 of the first to day +1 of the second
            res = results[r.exchange]
            lo_s, hi_s = r.window.strip("()").split(",")
            df = _portfolio_df(res, (int(lo_s), int(hi_s))).get(r.event_id, math.nan)
            se, lo, hi = _ci(r.caar, r.t_portfolio, df)
            rows.append(
                {
                    "study": plan.name,
                    "kind": "combined",
                    "event_id": r.combined,
                    "label": f"{plan.name} · {r.combined} (combined{r.window})",
                    "title": r.span,
                    "exchange": r.exchange,
                    "day0": pd.Timestamp(r.start),
                    "timing_confidence": "",
                    "window": "combined",
                    "n": r.n,
                    "caar": r.caar,
                    "se": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "t_portfolio": r.t_portfolio,
                    **{f"p_{k}": getattr(r, f"p_{k}") for k in runner.ROBUST_P},
                }
            )
    table = pd.DataFrame(rows)
    table["rank"] = (
        table.groupby("window")["caar"]
        .transform(lambda s: s.abs().rank(ascending=False))
        .astype(int)
    )
    return Comparison(
        table=table,
        cars=pd.DataFrame(cars),
        summary=_summary(table),
        studies=studies,
    )


def _headline(table: pd.DataFrame, window: str) -> list[str]:
    """Per study, its largest event over ``window`` against the largest of all."""
    g = table[table["window"] == window]
    if g.empty:
        return []
    top = g.loc[g["caar"].abs().idxmax()]
    out = [
        f"Largest mean CAR{window} of all: {top.label} {top.caar * 100:+.2f}% (portfolio t "
        f"{top.t_portfolio:.2f}, p {top.p_portfolio:.3f})."
    ]
    for study, s in g.groupby("study", sort=False):
        best = s.loc[s["caar"].abs().idxmax()]
        if best.label == top.label:
            continue
        share = abs(best.caar / top.caar) if top.caar else math.nan
        out.append(
            f"{study}'s largest: {best.label} {best.caar * 100:+.2f}% (portfolio t "
            f"{best.t_portfolio:.2f}, p {best.p_portfolio:.3f}), {share:.0%} of it in size."
        )
    return out


def _summary(table: pd.DataFrame) -> list[str]:
    out = []
    for w, g in table.groupby("window", sort=False):
        g = g.sort_values("rank")
        parts = [
            f"{r.label} {r.caar * 100:+.2f}% (portfolio t {r.t_portfolio:.2f}, p {r.p_portfolio:.3f})"
            for r in g.itertuples(index=False)
        ]
        name = "combined windows" if w == "combined" else f"CAR{w}"
        out.append(f"{name}, largest absolute mean CAR first: " + "; ".join(parts) + ".")
    return out


def compare_and_write(
    configs: Sequence[str | Path],
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    out: str | Path | None = None,
    window: str = "(0,+1)",
    plotlyjs: str | None = None,
    quiet: bool = True,
) -> tuple[Comparison, Path]:
    """:func:`compare`, then write ``index.html`` (table, heatmap, forest plot), the CSV
    tables and ``summary.txt`` to ``out`` (default ``reports/compare/``), atomically."""
    from eventstudy import figures, report

    comp = compare(configs, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
    if window not in set(comp.cars["window"]):
        raise ConfigError(
            field="--window",
            value=window,
            expected="one of the studies' CAR windows: "
            + ", ".join(dict.fromkeys(comp.cars["window"])),
        )
    first = plan_study(configs[0])
    target = Path(out) if out is not None else first.output.output_root / "compare"
    events = comp.table[comp.table["kind"] == "event"]
    figs = {
        f"CAR{window} heatmap": figures.plot_compare_heatmap(comp.cars, window=window),
        "Mean CAR forest plot": figures.plot_compare_forest(comp.table),
    }
    shown = comp.table[comp.table["window"].isin([window, "combined"])]
    shown = shown.iloc[shown["caar"].abs().argsort()[::-1]]
    cols = [
        "label",
        "day0",
        "timing_confidence",
        "window",
        "n",
        "caar",
        "ci_low",
        "ci_high",
        "t_portfolio",
        "p_portfolio",
        "p_adjusted_patell",
        "p_kolari_pynnonen",
        "p_grank",
    ]
    path = report.write_page(
        target,
        title="Across events and studies: " + ", ".join(comp.studies),
        subtitle=f"{len(events['label'].unique())} events; mean CAR of each event's securities",
        text=[" ".join(_headline(comp.table, window)), *comp.summary],
        figures=figs,
        tables={
            f"ranked by |mean CAR{window}|": shown[cols],
            "compare": comp.table,
            "cars": comp.cars,
        },
        shown=[f"ranked by |mean CAR{window}|"],
        plotlyjs=plotlyjs or first.output.plotlyjs,
    )
    return comp, path
