"""Top of the chain below the CLI: run a study (or its robustness lab) and write the report.

The runner computes (:mod:`eventstudy.runner`), the report writes (:mod:`eventstudy.report`);
this module joins the two for ``eventstudy run``, ``simulate`` and ``sensitivity`` and for
notebooks (``es.pipeline.run_and_write("configs/kei_cars.yaml", prices=...)``). Every report
is written to a temporary folder and renamed into place, so a failed run leaves the previous
report intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy import report, runner
from eventstudy.config import StudyConfig
from eventstudy.exceptions import ConfigError

__all__ = ["robustness_and_write", "run_and_write"]


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def run_and_write(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    out: str | Path | None = None,
    plotlyjs: str | None = None,
    images: tuple[str, ...] = (),
    quiet: bool = True,
    simulate: int = 0,
    sensitivity: bool = False,
    seed: int = 0,
    echo: Any = None,
) -> Path:
    """Run a study and write its report; returns the path of ``index.html``.

    ``echo`` (e.g. ``click.echo``) receives the :func:`headline` of the run.

    ``simulate=N`` adds the placebo size/power section (N draws, ``seed``) and
    ``sensitivity`` the specification curve (both on a longer price history, see
    :func:`prepare_history`).

    The report goes to ``<out>/<study name>/`` (``out`` defaults to the study's
    ``output.dir``, itself relative to the project folder). It is written to a temporary
    folder and renamed into place, so a failed run leaves the previous report intact.
    """
    run = runner.run_study(config, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
    if echo is not None:
        echo(runner.headline(run))
    cfg = run.config
    target = cfg.report_dir(out)
    base = Path(out) if out is not None else cfg.root / cfg.output.dir
    if not _inside(target, base):  # pragma: no cover - name is a validated slug
        raise ConfigError(field="name", value=cfg.name, expected="a plain folder name")
    wanted_images = images or tuple(
        [cfg.output.image_format] if getattr(cfg.output, "images", None) else []
    )
    figs: dict[str, Any] = {}
    tables: dict[str, pd.DataFrame] = {}
    if simulate or sensitivity:
        hist = runner.prepare_history(config, prices=prices, offline=offline, refresh=refresh)
        parts = []
        if simulate:
            parts.append(("simulate", runner.simulate_study(hist, draws=simulate, seed=seed)))
        if sensitivity:
            parts.append(("sensitivity", runner.sensitivity_study(hist, securities=False)))
        for kind, rob in parts:
            figs.update(rob.figures)
            tables.update(
                {
                    f"{kind}_{k}": v
                    for k, v in rob.tables.items()
                    if k in ("verdicts", "size_5pct", "spec_summary")
                }
            )
    return report.write(
        run,
        target,
        plotlyjs=plotlyjs or cfg.output.plotlyjs,
        images=wanted_images,
        windows=[tuple(w) for w in cfg.car_windows],
        extra_figures=figs,
        extra_tables=tables,
    )


def robustness_and_write(
    kind: str,
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    out: str | Path | None = None,
    plotlyjs: str | None = None,
    quiet: bool = True,
    **kwargs: Any,
) -> tuple[runner.Robustness, Path]:
    """``eventstudy simulate`` / ``eventstudy sensitivity``: compute, then write a page with
    the figures and CSV tables to ``<out>/<study>_<kind>/`` (atomically)."""
    if kind not in ("simulate", "sensitivity"):  # pragma: no cover - the CLI passes these
        raise ValueError(kind)
    years = 5.0 if kind == "simulate" else 2.0
    prep = runner.prepare_history(
        config, prices=prices, offline=offline, refresh=refresh, quiet=quiet, years=years
    )
    cfg = prep.config
    if kind == "simulate":
        rob = runner.simulate_study(prep, **kwargs)
        title = f"{cfg.title}: placebo size and power of every test"
    else:
        rob = runner.sensitivity_study(prep, **kwargs)
        title = f"{cfg.title}: specification curve"
    base = Path(out) if out is not None else cfg.root / cfg.output.dir
    path = report.write_page(
        base / f"{cfg.name}_{kind}",
        title=title,
        text=rob.text,
        figures=rob.figures,
        tables=rob.tables,
        plotlyjs=plotlyjs or cfg.output.plotlyjs,
    )
    return rob, path
