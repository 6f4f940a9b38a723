"""The ``eventstudy`` command line.

Start-up is kept fast: this module imports only click and the exception classes at load
time; pandas, statsmodels, plotly, yfinance and exchange-calendars are imported inside the
commands that need them.

Exit codes: 0 ok, 2 usage or config error, 3 data error (also: ``run`` wrote its report but an
event has no firm-event left), 4 network error, 1 internal error. Errors print one line on
stderr (``--debug`` shows the traceback); an error or warning about many securities (the ones
that could not be fetched) prints their table with it. ``--debug`` and ``--quiet`` go before or after the
command.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from eventstudy.exceptions import EventStudyError, EventStudyWarning

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DATA, EXIT_NETWORK = 0, 1, 2, 3, 4


class _State:
    debug: bool = False
    quiet: bool = False


def _fail(message: str, code: int, details: tuple[str, ...] = ()) -> None:
    for line in details:
        click.echo(f"  {line}", err=True)
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _handle_errors(func: F) -> F:
    """Map typed errors to one stderr line and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_object(_State) or _State()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", EventStudyWarning)
                result = func(*args, **kwargs)
            _echo_warnings(caught, state)
            return result
        except EventStudyError as err:
            if state.debug:
                traceback.print_exc()
            _fail(str(err), err.exit_code, err.details)
        except KeyboardInterrupt:
            _fail("interrupted; nothing half-written was kept", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as err:  # an internal error: still one line unless --debug
            if state.debug:
                traceback.print_exc()
            _fail(
                f"internal error: {type(err).__name__}: {err} (rerun with --debug for the "
                "traceback and please report it)",
                EXIT_INTERNAL,
            )

    return wrapper  # type: ignore[return-value]


#: Warnings of one kind printed in full before the rest are summarised in one line.
WARNINGS_SHOWN = 5
#: Subjects (symbols, firm-events) named in a summary line.
SUBJECTS_NAMED = 8


def _subject(message: Warning | str) -> str:
    """Whom a warning is about: its ``symbol``/``security`` field, else the text before
    its first colon (every per-security message starts ``SYMBOL: ...``)."""
    if isinstance(message, EventStudyWarning):
        fields = message.fields
        for name in ("symbol", "security"):
            if name in fields:
                prefix = f"{fields['event_id']}/" if "event_id" in fields else ""
                return f"{prefix}{fields[name]}"
    head, colon, _ = str(message).partition(": ")
    return head if colon and len(head) <= 60 else ""


def _echo_warnings(caught: list[warnings.WarningMessage], state: _State) -> None:
    """Print each distinct warning once; past :data:`WARNINGS_SHOWN` of one kind (a
    universe of thousands of securities), one line per kind with the count and the first
    securities named instead of one line each."""
    if state.quiet:
        return
    by_kind: dict[type[Warning], list[warnings.WarningMessage]] = {}
    seen: set[str] = set()
    for w in caught:
        if not issubclass(w.category, EventStudyWarning):
            continue
        text = str(w.message)
        if text in seen:
            continue
        seen.add(text)
        by_kind.setdefault(w.category, []).append(w)
    for kind, items in by_kind.items():
        for w in items[:WARNINGS_SHOWN]:
            click.echo(f"warning: {w.message}", err=True)
            if isinstance(w.message, EventStudyWarning):
                for line in w.message.details:
                    click.echo(f"  {line}", err=True)
        rest = items[WARNINGS_SHOWN:]
        if rest:
            subjects = list(dict.fromkeys(s for w in rest if (s := _subject(w.message))))
            named = ", ".join(subjects[:SUBJECTS_NAMED])
            more = f", ... ({len(subjects)} in all)" if len(subjects) > SUBJECTS_NAMED else ""
            click.echo(
                f"warning: {len(rest)} more {kind.__name__} like the above"
                + (f": {named}{more}" if named else ""),
                err=True,
            )


def _common_data_options(func: F) -> F:
    options = [
        click.option(
            "--prices",
            "prices",
            type=click.Path(path_type=Path),
            default=None,
            help="Folder of per-symbol CSVs (or one wide CSV): read prices from it, not Yahoo.",
        ),
        click.option("--offline", is_flag=True, help="Never touch the network; use the cache."),
        click.option("--refresh", is_flag=True, help="Refetch prices even when cached."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fetch_options(func: F) -> F:
    """``--strict`` and ``--workers``: how ``run`` and ``fetch`` treat many securities."""
    func = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Threads fetching from Yahoo at once (default 8); cached prices need none.",
    )(func)
    return click.option(
        "--strict",
        is_flag=True,
        help="Stop (exit 3, or 4 for network failures) when any security cannot be "
        "fetched, instead of studying the others.",
    )(func)


def _compute_options(func: F) -> F:
    """``--backend``, ``--scheduler`` and ``--compute-workers`` (over the study's ``compute:``)."""
    options = [
        click.option(
            "--backend",
            type=click.Choice(["none", "processes", "dask"]),
            default=None,
            help="Where the fit's chunks of whole events run: none (this process), processes "
            "(a local pool) or dask (needs the dask extra); default: the study's compute:.",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            default=None,
            help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --backend dask).",
        ),
        click.option(
            "--compute-workers",
            "compute_workers",
            type=click.IntRange(min=1),
            default=None,
            help="Processes of the pool, or workers of a local Dask cluster.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _set_flag(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            setattr(ctx.ensure_object(_State), name, True)

    return callback


def _global_options(func: F) -> F:
    """``--debug`` and ``--quiet`` also after the command (``eventstudy run X --quiet``)."""
    func = click.option(
        "--quiet",
        "-q",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_flag("quiet"),
        help="No progress bars, warnings or summary (same as before the command).",
    )(func)
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_flag("debug"),
        help="Show tracebacks on errors (same as before the command).",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oem-eventstudy", prog_name="eventstudy")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or warnings.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Event studies of stock reactions to announcements.

    \b
    Typical use:
      eventstudy run configs/kei_cars.yaml --prices ../shared/data/prices --offline
      eventstudy events configs/kei_cars.yaml
    """
    state = ctx.ensure_object(_State)
    state.debug = state.debug or debug
    state.quiet = state.quiet or quiet


@contextlib.contextmanager
def _importing() -> Iterator[None]:
    """Import a command's libraries with the garbage collector paused, then keep what they
    loaded out of its scans for the rest of the command.

    Notes
    -----
    Importing numpy, pandas, scipy, Plotly's validators and the package creates about a million
    long-lived objects and no garbage; the collector would walk them again and again while they
    load (0.3-0.4 s of a kei-car run's CPU). The collector is paused while the ``with`` body
    imports, then ``gc.freeze`` moves everything loaded to the permanent generation, so the
    run's own full collections skip it too. Both are undone when the command's context closes
    (``gc.unfreeze``; the collector is left as it was found).
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        click.get_current_context().call_on_close(gc.unfreeze)
        if was_enabled:
            gc.enable()


def _state() -> _State:
    return click.get_current_context().find_object(_State) or _State()


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_common_data_options
@_fetch_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder.")
@click.option(
    "--plotlyjs",
    type=click.Choice(["inline", "cdn", "none"]),
    default=None,
    help="How index.html carries plotly.js (default inline: one offline file).",
)
@click.option(
    "--fragments",
    type=click.Choice(["sibling", "inline", "div"]),
    default=None,
    help="How fragments/*.html find plotly.js: sibling (default; each opens alone with "
    "fragments/plotly.min.js), inline (each self-contained) or div (bare divs).",
)
@click.option(
    "--images",
    default="",
    help='Static images to write, e.g. png,svg (needs pip install -e ".[image]" and Chromium).',
)
@click.option(
    "--simulate",
    "simulate_draws",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Add a placebo size/power section with N draws (e.g. 1000).",
)
@click.option("--sensitivity", is_flag=True, help="Add the specification-curve section.")
@click.option(
    "--calibrate",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Placebo dates per event for calibrated p-values and the tests' measured size "
    "(the verdict uses a test that holds its size here); 0 skips.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of --calibrate and --simulate."
)
@click.option(
    "--formats",
    default="",
    help="Extra table formats, e.g. xlsx (tables/tables.xlsx: one sheet per table); "
    "HTML, CSV, JSON and Markdown are always written.",
)
@_compute_options
@_handle_errors
def run(
    config: Path,
    prices: Path | None,
    offline: bool,
    refresh: bool,
    strict: bool,
    workers: int | None,
    out: Path | None,
    plotlyjs: str | None,
    fragments: str | None,
    images: str,
    simulate_draws: int,
    sensitivity: bool,
    calibrate: int,
    seed: int,
    formats: str,
    backend: str | None,
    scheduler: str | None,
    compute_workers: int | None,
) -> None:
    """Fetch prices (with cache), compute the study, write the report.

    Prints the verdict of every event first. Exits with code 3 (after writing the report)
    when an event has no firm-event left. Securities whose prices cannot be fetched are
    left out (a warning lists them, with why) unless --strict. --backend/--scheduler/
    --compute-workers choose where the fit runs (the results are the same).
    """
    with _importing():
        from eventstudy import pipeline, runner
        from eventstudy.plan import plan_study, with_compute

    state = _state()
    plan = with_compute(
        plan_study(config, prices=prices, out=out),
        backend=backend,
        scheduler=scheduler,
        workers=compute_workers,
    )
    runner.preflight(plan)  # every config problem before a price is read
    runner.check_report_folder(plan.output.report_dir, str(config))
    path = pipeline.run_and_write(
        plan,
        offline=offline,
        refresh=refresh,
        out=out,
        plotlyjs=plotlyjs,
        fragments=fragments,
        images=tuple(x.strip() for x in images.split(",") if x.strip()),
        quiet=state.quiet,
        simulate=simulate_draws,
        sensitivity=sensitivity,
        calibrate=calibrate,
        seed=seed,
        echo=None if state.quiet else click.echo,
        fail_on_empty=True,
        formats=tuple(x.strip() for x in formats.split(",") if x.strip()),
        strict=strict,
        workers=workers,
    )
    if not state.quiet:
        click.echo(f"report written: {path}")


def _out_option(func: F) -> F:
    return click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=None,
        help="Output folder (default: the study's output.dir, e.g. reports/).",
    )(func)


def _plotlyjs_option(func: F) -> F:
    return click.option(
        "--plotlyjs",
        type=click.Choice(["inline", "cdn", "none"]),
        default=None,
        help="How index.html carries plotly.js (default inline).",
    )(func)


def _robustness(
    kind: str,
    config: Path,
    prices: Path | None,
    offline: bool,
    refresh: bool,
    out: Path | None,
    plotlyjs: str | None,
    compute: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Shared body of ``simulate`` and ``sensitivity``: compute, print, write the page."""
    with _importing():
        from eventstudy import pipeline, runner
        from eventstudy.plan import plan_study, with_compute

    state = _state()
    plan = with_compute(plan_study(config, prices=prices, out=out), **(compute or {}))
    runner.preflight(plan)
    runner.check_report_folder(plan.output.output_root / f"{plan.name}_{kind}", str(config))
    rob, path = pipeline.robustness_and_write(
        kind,
        plan,
        offline=offline,
        refresh=refresh,
        out=out,
        plotlyjs=plotlyjs,
        quiet=state.quiet,
        **kwargs,
    )
    click.echo("\n\n".join(rob.text))
    if not state.quiet:
        click.echo(f"\nwritten: {path}")


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_common_data_options
@_out_option
@_plotlyjs_option
@click.option(
    "--draws", type=click.IntRange(min=1), default=1000, show_default=True, help="Placebo studies."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@_compute_options
@_handle_errors
def simulate(
    config: Path,
    prices: Path | None,
    offline: bool,
    refresh: bool,
    out: Path | None,
    plotlyjs: str | None,
    draws: int,
    seed: int,
    backend: str | None,
    scheduler: str | None,
    compute_workers: int | None,
) -> None:
    """Placebo (Brown-Warner) size and power of every test on the study's own data.

    Prints the verdicts and the size tables; writes figures and CSV tables to
    <out>/<study>_simulate/. --backend/--scheduler/--compute-workers run chunks of draws there
    (the same seed gives the same tables).
    """
    compute = {"backend": backend, "scheduler": scheduler, "workers": compute_workers}
    _robustness(
        "simulate",
        config,
        prices,
        offline,
        refresh,
        out,
        plotlyjs,
        compute=compute,
        draws=draws,
        seed=seed,
    )


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_common_data_options
@_out_option
@_plotlyjs_option
@_handle_errors
def sensitivity(
    config: Path,
    prices: Path | None,
    offline: bool,
    refresh: bool,
    out: Path | None,
    plotlyjs: str | None,
) -> None:
    """Specification curve: the CARs over models, benchmarks, estimation windows, gaps,
    CAR windows and return kinds.

    Prints the share of significant specifications per event and security; writes the
    curves and CSV tables to <out>/<study>_sensitivity/.
    """
    _robustness("sensitivity", config, prices, offline, refresh, out, plotlyjs)


@main.command()
@_global_options
@click.argument("configs", nargs=-1, required=True, type=click.Path(path_type=Path))
@_common_data_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default: reports/compare/).",
)
@_plotlyjs_option
@click.option(
    "--window",
    default=None,
    help="CAR window of the heatmap and the ranking, e.g. 0,1 or -1,1 (default: the first "
    "study's headline window, usually 0,1).",
)
@_handle_errors
def compare(
    configs: tuple[Path, ...],
    prices: Path | None,
    offline: bool,
    refresh: bool,
    out: Path | None,
    plotlyjs: str | None,
    window: str | None,
) -> None:
    """One page across events and studies: mean CARs, heatmap and forest plot.

    Answers "was this news as big as that one?" for every event of the studies given;
    writes reports/compare/ (or --out) atomically.
    """
    from eventstudy import compare as cmp
    from eventstudy import runner
    from eventstudy.config import format_window
    from eventstudy.exceptions import ConfigError
    from eventstudy.plan import plan_study

    plans = [plan_study(c, prices=prices) for c in configs]
    for plan in plans:  # every config problem before any computing
        runner.preflight(plan)
    target = Path(out) if out is not None else plans[0].output.output_root / "compare"
    runner.check_report_folder(target)
    if window is None:
        lo, hi = plans[0].headline_window
    else:
        try:
            lo, hi = (int(x) for x in window.strip("()[] ").split(","))
        except ValueError:
            raise ConfigError(
                field="--window", value=window, expected="two integers, e.g. 0,1"
            ) from None
    label = format_window((lo, hi))
    for plan in plans:
        if label not in plan.window_labels:
            raise ConfigError(
                field="--window",
                value=label,
                expected=f"a CAR window of every study; {plan.name} has "
                + ", ".join(plan.window_labels)
                + " (add it to its car_windows, or choose one of these)",
                file=str(plan.file) if plan.file else None,
            )
    state = _state()
    comp, path = cmp.compare_and_write(
        list(configs),
        prices=prices,
        offline=offline,
        refresh=refresh,
        out=out,
        window=label,
        plotlyjs=plotlyjs,
        quiet=state.quiet,
    )
    headline = cmp._headline(comp.table, label)
    click.echo("\n".join([*headline, *comp.summary]))
    if not state.quiet:
        click.echo(f"\nwritten: {path}")


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_common_data_options
@_fetch_options
@_handle_errors
def fetch(
    config: Path,
    prices: Path | None,
    offline: bool,
    refresh: bool,
    strict: bool,
    workers: int | None,
) -> None:
    """Fetch (and cache) the prices a study needs.

    What is cached is not asked again, so a fetch that stopped half way (or hit rate
    limits) resumes where it was when run again. Securities that cannot be fetched are
    listed at the end, with why (--strict: exit 3, or 4 for network failures).
    """
    from eventstudy import runner

    state = _state()
    table = runner.fetch_only(
        config, prices=prices, offline=offline, refresh=refresh, quiet=state.quiet,
        strict=strict, workers=workers,
    )  # fmt: skip
    click.echo(table)


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_handle_errors
def events(config: Path) -> None:
    """Table of events: announcement and reacting session per exchange."""
    from eventstudy import runner

    click.echo(runner.events_table(config))


@main.command()
@_global_options
@click.argument("config", type=click.Path(path_type=Path))
@_handle_errors
def validate(config: Path) -> None:
    """Check a study file, and everything about it that can be checked before any price is
    read (calendars, windows, the report folder); print one line per problem."""
    from eventstudy import runner
    from eventstudy.plan import plan_study

    plan = plan_study(config)
    runner.preflight(plan)
    runner.check_report_folder(plan.output.report_dir, str(config))
    cfg = plan.config
    click.echo(
        f"{config}: ok ({len(cfg.securities)} securities, {len(cfg.events)} events, "
        f"model {cfg.model})"
    )


@main.group()
def cache() -> None:
    """Inspect or clear the local price cache."""


@cache.command("list")
@_global_options
@_handle_errors
def cache_list() -> None:
    """List cached symbols with their date ranges."""
    from eventstudy.data import PriceCache

    table = PriceCache().list()
    if len(table) == 0:
        click.echo(f"cache {PriceCache().root} is empty")
    else:
        click.echo(table.to_string(index=False))


@cache.command("clear")
@_global_options
@click.option("--symbol", default=None, help="Only this symbol.")
@_handle_errors
def cache_clear(symbol: str | None) -> None:
    """Delete cached prices (and, without --symbol, the cached Fama-French factor files)."""
    from eventstudy.data import PriceCache

    store = PriceCache()
    removed = store.clear(symbol) if symbol else store.clear()
    factors = ""
    if not symbol:
        from eventstudy.data.factors import FrenchLibrary

        n = FrenchLibrary(cache_root=store.root).clear()
        factors = f" and {n} factor file(s)" if n else ""
    click.echo(f"removed {removed} cached file(s){factors} from {store.root}")


if __name__ == "__main__":  # pragma: no cover
    main()
