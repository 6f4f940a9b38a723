"""Top of the chain below the CLI: run a study (or its robustness lab) and write the report.

The runner computes (:mod:`eventstudy.runner`), the report writes (:mod:`eventstudy.report`);
this module joins the two for ``eventstudy run``, ``simulate`` and ``sensitivity`` and for
notebooks (``es.pipeline.run_and_write("configs/kei_cars.yaml", prices=...)``), and draws the
robustness figures (the runner builds none). Every report is written to a temporary folder
and renamed into place, so a failed run leaves the previous report intact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy import report, runner
from eventstudy.config import StudyConfig
from eventstudy.exceptions import DataError
from eventstudy.plan import StudyPlan, plan_study

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from eventstudy.sensitivity import SensitivityResults
    from eventstudy.simulate import SimulationResults

__all__ = ["Robustness", "robustness_and_write", "run_and_write", "simulation_section"]


@dataclass(frozen=True)
class Robustness:
    """What ``eventstudy simulate`` / ``sensitivity`` (or ``run --simulate/--sensitivity``)
    computed, ready for a report: text, figures (caption -> Figure) and tables (name -> frame).
    """

    text: list[str]
    figures: dict[str, go.Figure]
    tables: dict[str, pd.DataFrame]


def _per_exchange(name: str, exchange: str, many: bool) -> str:
    return f"{name} ({exchange})" if many else name


def simulation_section(sims: Mapping[str, SimulationResults]) -> Robustness:
    """Text, size/power figures and tables of a placebo simulation (per exchange)."""
    from eventstudy.figures_robustness import power_curves, size_bars

    many = len(sims) > 1
    text: list[str] = []
    figs: dict[str, go.Figure] = {}
    tables: dict[str, list[pd.DataFrame]] = {}
    for ex, sim in sims.items():
        text.append((f"[{ex}]\n" if many else "") + sim.summary())
        level = 0.05
        windows = list(dict.fromkeys(sim.size["window"]))
        for w in [x for x in ("AR(0)", "CAR(0,+1)") if x in windows] or windows[:1]:
            figs[_per_exchange(f"Placebo size at 5%, {w}", ex, many)] = size_bars(
                sim.size, level=level, window=w
            )
        if len(sim.power):
            figs[_per_exchange("Power against an abnormal return on day 0", ex, many)] = (
                power_curves(sim.power, size=sim.size, level=level)
            )
        size5 = sim.size_table(level).reset_index()
        size5.columns.name = None
        verdict = sim.verdicts.rename(columns={"ci_low": "size_ci_low", "ci_high": "size_ci_high"})
        for key, frame in (
            ("verdicts", verdict),
            ("size_5pct", size5),
            ("size", sim.size),
            ("power", sim.power),
        ):
            frame = frame.copy()
            if many:
                frame.insert(0, "exchange", ex)
            tables.setdefault(key, []).append(frame)
    return Robustness(
        text=text,
        figures=figs,
        tables={k: pd.concat(v, ignore_index=True) for k, v in tables.items()},
    )


def sensitivity_section(
    sens: Mapping[str, SensitivityResults], names: Mapping[str, str], *, securities: bool = True
) -> Robustness:
    """Text, specification curves (each event's portfolio, and each security's with
    ``securities``) and tables of a specification curve (per exchange)."""
    from eventstudy.figures_robustness import specification_curve

    many = len(sens) > 1
    text: list[str] = []
    figs: dict[str, go.Figure] = {}
    tables: dict[str, list[pd.DataFrame]] = {}
    for ex, res in sens.items():
        text.append((f"[{ex}]\n" if many else "") + str(res))
        for eid in dict.fromkeys(res.specs["event_id"]):
            secs = list(dict.fromkeys(res.specs.loc[res.specs["event_id"] == eid, "security"]))
            for sec in secs if securities else secs[:1]:
                label = "portfolio" if sec == "portfolio" else f"{names.get(sec, sec)} {sec}"
                figs[_per_exchange(f"Specification curve, {eid}, {label}", ex, many)] = (
                    specification_curve(res.specs, event_id=eid, security=sec)
                )
        summary = res.summary.drop(columns="statement")
        for key, frame in (("spec_summary", summary), ("specs", res.specs)):
            frame = frame.copy()
            if many:
                frame.insert(0, "exchange", ex)
            tables.setdefault(key, []).append(frame)
    return Robustness(
        text=text,
        figures=figs,
        tables={k: pd.concat(v, ignore_index=True) for k, v in tables.items()},
    )


def _names(plan: StudyPlan) -> dict[str, str]:
    return {s.symbol: s.name or s.symbol for s in plan.securities}


def run_and_write(
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    out: str | Path | None = None,
    plotlyjs: str | None = None,
    fragments: str | None = None,
    images: tuple[str, ...] = (),
    quiet: bool = True,
    simulate: int = 0,
    sensitivity: bool = False,
    seed: int = 0,
    echo: Callable[[str], Any] | None = None,
    fail_on_empty: bool = False,
    calibrate: int = 0,
    formats: tuple[str, ...] = (),
    strict: bool = False,
    workers: int | None = None,
) -> Path:
    """Run a study and write its report; returns the path of ``index.html``.

    ``echo`` (e.g. ``click.echo``) receives the :func:`~eventstudy.runner.headline` of the
    run: the verdict of every event first.

    ``calibrate=B`` calibrates every test on ``B`` placebo dates per event (``seed``; a
    longer price history, see :func:`~eventstudy.runner.run_study`): the verdicts rest on the
    test that keeps its size on the study's data. ``simulate=N`` adds the placebo size/power
    section (N draws, ``seed``) and
    ``sensitivity`` the specification curve (both on a longer price history, see
    :func:`~eventstudy.runner.prepare_history`).

    ``formats`` (e.g. ``("xlsx",)``) adds table formats to the report; default the study's
    ``output.formats``.

    ``strict`` stops the run when a security cannot be fetched
    (:class:`~eventstudy.exceptions.FetchFailed`); without it the study runs on the
    others. ``workers`` bounds the threads fetching a remote source.

    The report goes to ``<out>/<study name>/`` (``out`` defaults to the study's
    ``output.dir``, itself relative to the project folder). It is written to a temporary
    folder and renamed into place, so a failed run leaves the previous report intact.

    With ``fail_on_empty`` (what ``eventstudy run`` does), an event left without any
    firm-event raises :class:`~eventstudy.exceptions.DataError` (exit code 3) *after* the
    report is written: the report and the summary say so too.
    """
    report.check_formats(formats)  # a bad format fails before the study runs
    plan = config if isinstance(config, StudyPlan) else plan_study(config, prices=prices, out=out)
    run = runner.run_study(
        plan, prices=prices if isinstance(config, StudyPlan) else None, offline=offline,
        refresh=refresh, quiet=quiet, calibrate=calibrate, seed=seed, strict=strict,
        workers=workers,
    )  # fmt: skip
    plan = run.plan
    if echo is not None:
        echo(runner.headline(run))
    figs: dict[str, go.Figure] = {}
    tables: dict[str, pd.DataFrame] = {}
    if simulate or sensitivity:
        hist = runner.prepare_history(plan, offline=offline, refresh=refresh)
        parts = []
        if simulate:
            sims = runner.simulate_study(hist, draws=simulate, seed=seed)
            parts.append(("simulate", simulation_section(sims)))
        if sensitivity:
            sens = runner.sensitivity_study(hist)
            parts.append(("sensitivity", sensitivity_section(sens, _names(plan), securities=False)))
        for kind, rob in parts:
            figs.update(rob.figures)
            tables.update(
                {
                    f"{kind}_{k}": v
                    for k, v in rob.tables.items()
                    if k in ("verdicts", "size_5pct", "spec_summary")
                }
            )
    path = report.write(
        run,
        plan.output.report_dir,
        plotlyjs=plotlyjs or plan.output.plotlyjs,
        fragments=fragments or plan.output.fragments,
        images=images or plan.output.images,
        extra_figures=figs,
        extra_tables=tables,
        formats=formats or plan.output.formats,
    )
    if fail_on_empty and run.empty_events:
        empty = run.empty_events
        raise DataError(
            symbol=", ".join(v.key for v in empty),
            detail=f"{len(empty)} event(s) have no firm-event left ("
            + "; ".join(f"{v.key}: {'; '.join(v.excluded) or 'no firm-event'}" for v in empty)
            + f"); the report was written to {path} with the event marked",
            fix="give prices that cover these events' estimation and event windows, or drop "
            "the events from the study",
        )
    return path


def robustness_and_write(
    kind: str,
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    out: str | Path | None = None,
    plotlyjs: str | None = None,
    quiet: bool = True,
    **kwargs: Any,
) -> tuple[Robustness, Path]:
    """``eventstudy simulate`` / ``eventstudy sensitivity``: compute, then write a page with
    the figures and CSV tables to ``<out>/<study>_<kind>/`` (atomically)."""
    if kind not in ("simulate", "sensitivity"):  # pragma: no cover - the CLI passes these
        raise ValueError(kind)
    years = 5.0 if kind == "simulate" else 2.0
    plan = config if isinstance(config, StudyPlan) else plan_study(config, prices=prices, out=out)
    prep = runner.prepare_history(
        plan,
        prices=prices if isinstance(config, StudyPlan) else None,
        offline=offline,
        refresh=refresh,
        quiet=quiet,
        years=years,
    )
    if kind == "simulate":
        rob = simulation_section(runner.simulate_study(prep, **kwargs))
        title = f"{plan.title}: placebo size and power of every test"
    else:
        rob = sensitivity_section(runner.sensitivity_study(prep, **kwargs), _names(plan))
        title = f"{plan.title}: specification curve"
    path = report.write_page(
        plan.output.output_root / f"{plan.name}_{kind}",
        title=title,
        text=rob.text,
        figures=rob.figures,
        tables=rob.tables,
        plotlyjs=plotlyjs or plan.output.plotlyjs,
    )
    return rob, path
