"""Run a configured study: plan -> prices -> returns -> event timing -> engine -> verdicts.

The runner walks down the study's plan (:mod:`eventstudy.plan`, resolved once from the YAML):

1. :func:`prepare` maps every event to its reacting session on each exchange, fetches the
   prices through the cache, resolves the market benchmark per exchange (first of the
   configured symbol and its fallbacks that the source has) and computes returns aligned on
   each exchange's real sessions;
2. :func:`run_study` fits one engine per exchange group, answers the follow-up questions
   (:func:`analyse`) and builds the verdict of each event and the per-firm table; it returns
   a :class:`StudyRun`;
3. :mod:`eventstudy.pipeline` writes the report (atomically) under ``reports/<study>/``.

The runner computes; it builds no figures (the pipeline and the report do).
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from eventstudy import calendar as cal
from eventstudy.config import StudyConfig, format_window
from eventstudy.crosssection import CrossSectionResults, cross_section, read_characteristics
from eventstudy.data import (
    CsvChain,
    CsvSource,
    PriceSource,
    SimulatedSource,
    YahooSource,
    compute_returns,
    fetch_prices,
    load_prices,
    resolve_symbol,
    returns_from_panel,
)
from eventstudy.data.factors import FACTOR_COLUMNS
from eventstudy.exceptions import (
    CalibrationBoundWarning,
    ConfigError,
    DataError,
    EventStudyError,
    EventStudyWarning,
    ExcludedEventWarning,
    FetchFailed,
    FetchFailure,
    NotCached,
    SkippedSecuritiesWarning,
    UnknownSymbol,
    format_warning,
)
from eventstudy.movers import MAX_SECURITIES_SHOWN, top_and_bottom
from eventstudy.parallel import check_available
from eventstudy.plan import ROLE_LABELS, ROLE_NAMES, EnginePlan, StudyPlan, plan_study, with_prices
from eventstudy.results import EventStudyResults
from eventstudy.verdict import MIN_PLACEBOS, Verdict, firm_rows, verdicts_from_results
from eventstudy.vocabulary import CLUSTER_ROBUST_TESTS
from eventstudy.volume import VolumeResults, volume_study

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.sensitivity import SensitivityResults
    from eventstudy.simulate import SimulationResults

__all__ = [
    "CALIBRATION_BOUND",
    "ROBUST_P",
    "ExchangeGroup",
    "Prepared",
    "Provenance",
    "SourceRecord",
    "StudyRun",
    "analyse",
    "calibration_draws",
    "check_report_folder",
    "events_table",
    "fetch_only",
    "headline",
    "make_source",
    "preflight",
    "prepare",
    "prepare_history",
    "run_study",
    "sensitivity_study",
    "simulate_study",
    "verdicts_and_firms",
]

#: calendar days fetched per session of estimation/event window, plus a margin
_DAYS_PER_SESSION = 1.55
_MARGIN_DAYS = 21


@dataclass(frozen=True)
class SourceRecord:
    """Where one symbol's prices came from."""

    source: str
    fetched_symbol: str
    fetched_at: str | None
    first: str | None
    last: str | None


@dataclass(frozen=True)
class Provenance:
    """What a run used: package versions, the source of every symbol, the study, the time,
    and the securities left out because their prices could not be fetched (``failures``)."""

    versions: dict[str, str]
    sources: dict[str, SourceRecord]
    config_file: str | None
    config_hash: str
    run_started: str
    run_finished: str
    failures: tuple[FetchFailure, ...] = ()


@dataclass(frozen=True)
class StudyRun:
    """Everything one run of a study produced, as the report consumes it.

    Attributes
    ----------
    plan : StudyPlan
        The study resolved for this run (``config``, ``config_path`` and ``config_hash``
        read from it).
    timing : DataFrame
        ``calendar.event_timing`` output: event_id, announced, exchange, session, rule.
    prices : dict[str, DataFrame]
        symbol -> price frame (``close``, ``adj_close``; ``attrs["provenance"]``).
    returns : dict[str, DataFrame]
        exchange -> returns frame used by the engine (securities + market + factors).
    results : dict[str, EventStudyResults]
        exchange -> engine results for the securities listed on that exchange.
    market : dict[str, str]
        exchange -> symbol used as the market benchmark (after alias resolution).
    dossiers : dict[str, str]
        event_id -> dossier text (Markdown) from ``seeds/``.
    provenance : Provenance
    verdicts : tuple of Verdict
        One per event and exchange (an event left without any firm-event included), then
        one per configured pool, on the plan's headline window.
    firms : DataFrame
        The per-firm table (:func:`eventstudy.verdict.firm_rows`) of every exchange:
        exchange, event_id, security, name, role, day0, measure, start, end, estimate, se,
        t, p_value, stars.
    notes : list[str]
        human-readable warnings raised during the run.
    analyses : dict[str, DataFrame]
        :func:`analyse` output (variants, date-only shifts, roles, overlaps, combined
        windows); empty when the run was asked for none.
    volume : dict[str, VolumeResults]
        exchange -> abnormal volume and volatility (the study's ``volume:``).
    cross_sections : tuple of CrossSectionResults
        One per configured regression (and exchange) of ``cross_section:``.
    """

    plan: StudyPlan
    timing: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    returns: dict[str, pd.DataFrame]
    results: dict[str, EventStudyResults]
    market: dict[str, str]
    dossiers: dict[str, str]
    provenance: Provenance
    verdicts: tuple[Verdict, ...] = ()
    firms: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    analyses: dict[str, pd.DataFrame] = field(default_factory=dict)
    volume: dict[str, VolumeResults] = field(default_factory=dict)
    cross_sections: tuple[CrossSectionResults, ...] = ()

    @property
    def config(self) -> StudyConfig:
        """The validated study."""
        return self.plan.config

    @property
    def config_path(self) -> Path | None:
        """Where the study was read from."""
        return self.plan.file

    @property
    def config_hash(self) -> str:
        """SHA-256 of the study file's bytes (first 12 hex digits)."""
        return self.plan.config_hash

    @property
    def empty_events(self) -> list[Verdict]:
        """Verdicts of events left without any firm-event (every one was excluded)."""
        return [v for v in self.verdicts if v.kind == "event" and not v.measured]


@dataclass(frozen=True)
class ExchangeGroup:
    """The engine inputs of the securities listed on one exchange.

    Attributes
    ----------
    exchange : str
        exchange-calendars code (``XTKS``).
    returns : DataFrame
        Sessions x (securities, market, alternative benchmarks, factors).
    events : DataFrame
        ``event_id``, ``security``, ``event_date`` (the reacting session on this exchange).
    securities : list of str
    market : str
        Column of ``returns`` used as the market.
    alt_markets : dict of str to str
        Other benchmarks that the source has (fallbacks), name -> column, for sensitivity.
    factors : list of str
        Factor columns (used by ``model: factor``). When the study or a variant uses
        ``model: ff3 | ff5 | carhart``, ``returns`` also holds the published Fama-French
        factors on this exchange's sessions under their names (``Mkt-RF``, ``SMB``, ``HML``,
        ``RMW``, ``CMA``, ``MOM``, ``RF``; decimals), which the presets read.
    """

    exchange: str
    returns: pd.DataFrame
    events: pd.DataFrame
    securities: list[str]
    market: str
    alt_markets: dict[str, str]
    factors: list[str]


@dataclass(frozen=True)
class Prepared:
    """A study ready for the engine: its plan, timing, prices and per-exchange inputs."""

    plan: StudyPlan
    source: PriceSource
    timing: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    groups: dict[str, ExchangeGroup]
    notes: list[str]
    failures: tuple[FetchFailure, ...] = ()

    @property
    def config(self) -> StudyConfig:
        """The validated study (the robustness lab reads its engine settings)."""
        return self.plan.config

    @property
    def config_path(self) -> Path | None:
        return self.plan.file

    @property
    def config_hash(self) -> str:
        return self.plan.config_hash


# ----------------------------------------------------------------------------- loading


def _as_plan(config: str | Path | StudyConfig | StudyPlan, prices: str | Path | None) -> StudyPlan:
    if isinstance(config, StudyPlan):
        return with_prices(config, prices) if prices is not None else config
    return plan_study(config, prices=prices)


def preflight(plan: StudyPlan) -> None:
    """Every check of the study that needs the exchange calendars or the disk, before any
    price is read (``eventstudy validate`` runs it too, so a study that validates does not
    fail later for a reason of its own).

    - every announcement lies inside the calendar of each exchange of the study;
    - the earliest window (the estimation window, or the event window of the study and of
      every variant) fits between the calendar's first session and each event's day 0;
    - the compute backend can start here (``dask`` needs the optional extra).

    The folder a command writes is checked by :func:`check_report_folder` (the CLI does so
    for the folder each command replaces).

    Raises
    ------
    ConfigError
        One line naming the field (or folder), the value and the fix.
    """
    file = str(plan.file) if plan.file else None
    try:
        check_available(plan.compute.backend)
    except ConfigError as err:
        raise ConfigError(
            field="compute.backend",
            value=err.fields["value"],
            expected=str(err.fields["expected"]),
            file=file,
        ) from None
    specs = [("", plan), *((f"variants[{j}].", v.plan) for j, v in enumerate(plan.variants))]
    for ex in (e.exchange for e in plan.exchanges):
        calendar = cal.schedule(ex)
        first, last = calendar.first_session, calendar.last_session
        for i, ev in enumerate(plan.events):
            try:
                day0 = cal.reacting_session(ev.announced, ex)
            except (DataError, ConfigError):
                raise ConfigError(
                    field=f"events[{i}].announced",
                    value=ev.announced.isoformat(),
                    expected=f"a time the {ex} calendar covers ({first.date()} to "
                    f"{last.date()}); a later event has no prices yet",
                    file=file,
                ) from None
            before = int(calendar.sessions.get_loc(day0))
            for where, spec in specs:
                eng = spec.engine
                name, lo = (
                    ("estimation", eng.estimation)
                    if eng.estimation[0] <= eng.window[0]
                    else ("event_window", eng.window)
                )
                if before + lo[0] < 0:
                    raise ConfigError(
                        field=f"{where}{name}",
                        value=list(lo),
                        expected=f"a window starting at most {before} sessions before day 0: "
                        f"the {ex} calendar starts on {first.date()} and events[{i}] "
                        f"({ev.id}) reacts on {day0.date()}",
                        file=file,
                    )


def check_report_folder(folder: Path, file: str | None = None) -> None:
    """A report folder is replaced whole: it must be a real folder or nothing, in a folder
    that can be written (:class:`ConfigError` naming the folder and the fix otherwise)."""
    if folder.is_symlink():
        raise ConfigError(
            field="report folder",
            value=str(folder),
            expected=f"a real folder or nothing at that path (it is a symlink to "
            f"{folder.resolve()}): remove the link, or choose another --out or output.dir",
            file=file,
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            field="report folder",
            value=str(folder),
            expected="a folder (a file has that name): move it, or choose another --out",
            file=file,
        )
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError(
            field="report folder",
            value=str(folder),
            expected=f"a folder that can be written ({parent} is not a writable folder): "
            "choose another --out",
            file=file,
        )


def _aliases(aliases: Mapping[Any, str]) -> dict[str, str]:
    """A security's aliases as plain source -> symbol text."""
    return {str(k): str(v) for k, v in aliases.items()}


def _timing(plan: StudyPlan) -> pd.DataFrame:
    return cal.event_timing(
        {ev.id: ev.announced for ev in plan.events}, [ex.exchange for ex in plan.exchanges]
    )


def _injected(plan: StudyPlan, timing: pd.DataFrame) -> dict[tuple[str, Any], float]:
    out: dict[tuple[str, Any], float] = {}
    sessions = {(str(r.event_id), str(r.exchange)): r.session for r in timing.itertuples()}
    dates: dict[tuple[str, str, int], Any] = {}  # one calendar lookup per event and exchange
    for inj in plan.source.injected:
        for sec in plan.securities:
            if inj.security not in ("*", sec.symbol):
                continue
            key = (str(inj.event), str(sec.exchange))
            if key not in sessions:
                continue
            where = (*key, int(inj.day))
            if where not in dates:
                dates[where] = cal.session_offset(key[1], sessions[key], int(inj.day))
            date = dates[where]
            out[(sec.symbol, date)] = out.get((sec.symbol, date), 0.0) + float(inj.ar)
    return out


def csv_exchanges(plan: StudyPlan) -> dict[str, str]:
    """The exchange of every symbol the CSV source is asked for: each security's own (its
    ``exchange:`` override included) and each market candidate's exchange group, so time
    stamps with an offset become that exchange's local dates."""
    out: dict[str, str] = {}
    for ex in plan.exchanges:
        for sec in ex.securities:
            out[sec.symbol_for("csv")] = ex.exchange
        if ex.market is not None:
            for sym in ex.market.candidates("csv"):
                out.setdefault(sym, ex.exchange)
    return out


def make_source(plan: StudyPlan, timing: pd.DataFrame | None = None) -> PriceSource:
    """The price source the study names (Yahoo, a CSV folder, or the simulation)."""
    src = plan.source
    if src.kind == "csv":
        paths = plan.prices_paths or ((plan.prices_path,) if plan.prices_path else ())
        for path in paths or (None,):
            if path is None or not path.exists():
                raise ConfigError(
                    field="source.prices",
                    value=str(path),
                    expected="an existing folder of CSV files or CSV file (or pass --prices DIR)",
                    file=str(plan.file) if plan.file else None,
                )
        exchanges = csv_exchanges(plan)
        sources = [CsvSource(p, exchanges=exchanges) for p in paths]
        return sources[0] if len(sources) == 1 else CsvChain(sources)
    if src.kind == "simulated":
        if timing is None:
            timing = _timing(plan)
        first = plan.exchanges[0]
        assert first.market is not None  # the config requires a market for simulated data
        start = src.start or (timing["session"].min() - pd.Timedelta(days=500))
        end = src.end or (timing["session"].max() + pd.Timedelta(days=60))
        options: dict[str, Any] = {
            name: value
            for name, value in (
                ("betas", src.betas),
                ("idio_vol", src.idio_vol),
                ("market_vol", src.market_vol),
                ("industry_vol", src.industry_vol),
            )
            if value is not None
        }
        return SimulatedSource(
            src.seed if src.seed is not None else 0,
            start,
            end,
            [s.symbol for s in plan.securities],
            market_symbol=resolve_symbol(
                first.market.symbol, _aliases(first.market.aliases), "simulated"
            ),
            injected=_injected(plan, timing),
            sessions=cal.sessions(first.exchange, start, end),
            **options,
        )
    return YahooSource()


def _fetch_range(plan: StudyPlan, timing: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    first, last = timing["session"].min(), timing["session"].max()
    eng = plan.engine
    longest_variant_start = min(
        [eng.estimation[0], eng.window[0]] + [v.plan.engine.estimation[0] for v in plan.variants]
    )
    back = math.ceil(-min(longest_variant_start, 0) * _DAYS_PER_SESSION) + _MARGIN_DAYS
    ahead = math.ceil(max(eng.window[1], 0) * _DAYS_PER_SESSION) + _MARGIN_DAYS
    start = pd.Timestamp(plan.data_start) if plan.data_start else first - pd.Timedelta(days=back)
    end = pd.Timestamp(plan.data_end) if plan.data_end else last + pd.Timedelta(days=ahead)
    today = pd.Timestamp(datetime.now(UTC).date())
    return start, min(end, today)


def _fetch(
    symbols: Iterable[str],
    source: PriceSource,
    start: pd.Timestamp,
    end: pd.Timestamp,
    aliases: Mapping[str, Mapping[str, str]],
    *,
    offline: bool,
    refresh: bool,
    quiet: bool,
) -> dict[str, pd.DataFrame]:
    return load_prices(
        list(symbols),
        source,
        start,
        end,
        refresh=refresh,
        offline=offline,
        progress=not quiet,
        aliases=aliases,
    )


def _fetch_securities(
    plan: StudyPlan,
    source: PriceSource,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    offline: bool,
    refresh: bool,
    quiet: bool,
    strict: bool,
    workers: int | None,
    notes: list[str],
) -> tuple[dict[str, pd.DataFrame], tuple[FetchFailure, ...]]:
    """The securities' prices, and the securities that could not be fetched.

    A failed security is left out with a :class:`SkippedSecuritiesWarning` (and a note);
    with ``strict`` any failure raises :class:`FetchFailed`. When every security of an
    exchange fails, the first one's error is raised as it is (as when every symbol fails).
    A malformed file of a CSV source is the user's input, not a symbol that is missing:
    its error is raised as it is.
    """
    symbols = [s.symbol for s in plan.securities]
    batch = fetch_prices(
        symbols,
        source,
        start,
        end,
        refresh=refresh,
        offline=offline,
        progress=not quiet,
        aliases={s.symbol: _aliases(s.aliases) for s in plan.securities},
        workers=workers,
    )
    if not batch.failures:
        return batch.prices, ()
    if isinstance(source, CsvSource):
        malformed = [f for f in batch.failures if f.reason == "bad data"]
        if malformed:
            raise batch.errors[malformed[0].symbol]
    if strict:
        raise FetchFailed(failures=batch.failures, total=len(batch.requested))
    for ex in plan.exchanges:
        if not any(sym in batch.prices for sym in ex.symbols):
            raise batch.errors[ex.symbols[0]]
    warning = SkippedSecuritiesWarning.of(batch.failures, len(batch.requested))
    notes.append(str(warning))
    warnings.warn(warning, stacklevel=3)
    return batch.prices, batch.failures


def _try_fetch(
    symbol: str, aliases: Mapping[str, str], source: PriceSource, **kw: Any
) -> pd.DataFrame | None:
    """Prices of one optional symbol, or ``None`` when the source (or, offline, the cache)
    does not have it. A file that is there but malformed is an error, not a silent skip."""
    try:
        return _fetch([symbol], source, aliases={symbol: dict(aliases)}, quiet=True, **kw)[symbol]
    except (UnknownSymbol, NotCached):
        return None


def prepare(
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    strict: bool = False,
    workers: int | None = None,
) -> Prepared:
    """Load a study and build the engine inputs of every exchange group.

    Parameters
    ----------
    config : path, StudyConfig or StudyPlan
        The study (a plan is used as resolved).
    prices : path, optional
        A folder of per-symbol CSVs (or one CSV) to read instead of the study's source.
    offline, refresh : bool
        Cache behaviour for remote sources (never touch the network / refetch everything).
    quiet : bool
        No progress bar.
    strict : bool
        Raise :class:`FetchFailed` when a security cannot be fetched, instead of leaving
        it out with a :class:`SkippedSecuritiesWarning` (``Prepared.failures``).
    workers : int, optional
        Threads to fetch a remote source's securities with (default the source's).

    Returns
    -------
    Prepared
    """
    plan = _as_plan(config, prices)
    preflight(plan)
    timing = _timing(plan)
    source = make_source(plan, timing)
    start, end = _fetch_range(plan, timing)
    kw = {"offline": offline, "refresh": refresh, "start": start, "end": end}
    notes: list[str] = []

    all_prices, failures = _fetch_securities(
        plan, source, start, end, offline=offline, refresh=refresh, quiet=quiet,
        strict=strict, workers=workers, notes=notes,
    )  # fmt: skip

    factor_cols: list[str] = []
    for fac in plan.factors:
        df = _try_fetch(fac.symbol, _aliases(fac.aliases), source, **kw)
        if df is None:
            notes.append(f"factor {fac.symbol}: not available from {source.name}; left out")
            continue
        all_prices[fac.symbol] = df
        factor_cols.append(fac.symbol)

    groups: dict[str, ExchangeGroup] = {}
    for ex in plan.exchanges:
        exchange, entry = ex.exchange, ex.market
        if entry is None:
            raise ConfigError(
                field=f"market.{exchange}",
                value=None,
                expected=f"a benchmark for {exchange} (e.g. market: {{{exchange}: SYMBOL}})",
                file=str(plan.file) if plan.file else None,
            )
        candidates = [entry.symbol, *entry.fallbacks]
        found: dict[str, pd.DataFrame] = {}
        for sym in candidates:
            if sym in found:
                continue
            df = _try_fetch(
                sym, _aliases(entry.aliases) if sym == entry.symbol else {}, source, **kw
            )
            if df is not None:
                found[sym] = df
        if not found:
            raise DataError(
                symbol=entry.symbol,
                detail=f"no market benchmark for {exchange}: {source.name} has none of "
                + ", ".join(candidates),
                fix="add the index to the prices folder or name another in market:",
            )
        market = next(iter(found))
        if market != entry.symbol:
            notes.append(
                f"market {exchange}: {entry.symbol} is not available from {source.name}; "
                f"used {market}"
            )
        all_prices.update(found)

        securities = [s for s in ex.symbols if s in all_prices]  # without the failed ones
        columns = [*securities, *found, *factor_cols]
        frames = {c: all_prices[c] for c in columns}
        lo = max(start, min(frames[s].index.min() for s in securities))
        hi = min(end, max(frames[s].index.max() for s in securities))
        sessions = cal.sessions(exchange, lo, hi)
        kind: Literal["simple", "log"] = "log" if plan.engine.returns == "log" else "simple"
        returns = _group_returns(plan, source, frames, securities, sessions, kind, exchange)

        rows = []
        kept = set(securities)  # (a list here was 20 x 2,000 x 2,000 comparisons)
        for i, ev in enumerate(plan.events):
            t = timing[(timing["event_id"] == ev.id) & (timing["exchange"] == exchange)]
            day0 = t["session"].iloc[0]
            _check_inside_data(i, ev.id, exchange, day0, returns.index)
            for sec in ev.securities or securities:
                if sec in kept:
                    rows.append({"event_id": ev.id, "security": sec, "event_date": day0})
        events = pd.DataFrame(rows, columns=["event_id", "security", "event_date"])
        if plan.fama_french is not None:
            clash = sorted(set(returns.columns) & set(FACTOR_COLUMNS))
            if clash:
                raise ConfigError(
                    field="securities",
                    value=clash,
                    expected="symbols other than the Fama-French factor names "
                    + ", ".join(FACTOR_COLUMNS),
                    file=str(plan.file) if plan.file else None,
                )
            published = _published_factors(
                plan, exchange, returns.index, events, offline, refresh, notes
            )
            returns = returns.join(published)
        groups[exchange] = ExchangeGroup(
            exchange=exchange,
            returns=returns,
            events=events,
            securities=securities,
            market=market,
            alt_markets={s: s for s in found if s != market},
            factors=factor_cols,
        )
    return Prepared(
        plan=plan,
        source=source,
        timing=timing,
        prices=all_prices,
        groups=groups,
        notes=notes,
        failures=failures,
    )


def _group_returns(
    plan: StudyPlan,
    source: PriceSource,
    frames: Mapping[str, pd.DataFrame],
    securities: list[str],
    sessions: pd.DatetimeIndex,
    kind: Literal["simple", "log"],
    exchange: str,
) -> pd.DataFrame:
    """Returns of one exchange group's columns (securities, benchmarks, factors).

    The securities' returns come from one price panel (:func:`returns_from_panel`) when
    :func:`_security_panel` gives one, the other columns from their frames; else every
    column goes through :func:`compute_returns`. Both give the same frame, attrs,
    warnings (in the same order) and errors: each column's returns depend on its own
    prices and the sessions only.
    """
    panel = _security_panel(plan, source, frames, securities)
    if panel is None:
        return compute_returns(frames, sessions, kind=kind, exchange=exchange)
    stocks = returns_from_panel(panel, sessions, kind, exchange=exchange)
    others = {c: f for c, f in frames.items() if c not in panel.columns}
    if not others:
        return stocks
    rest = compute_returns(others, sessions, kind=kind, exchange=exchange)
    out = pd.DataFrame(
        np.hstack([stocks.to_numpy(), rest.to_numpy()]),
        index=stocks.index,
        columns=[*stocks.columns, *rest.columns],
    )
    out.attrs = {
        "missing": {**stocks.attrs["missing"], **rest.attrs["missing"]},
        "alignment": {**stocks.attrs["alignment"], **rest.attrs["alignment"]},
        "kind": kind,
    }
    return out


def _security_panel(
    plan: StudyPlan,
    source: PriceSource,
    frames: Mapping[str, pd.DataFrame],
    securities: list[str],
) -> pd.DataFrame | None:
    """The securities' adjusted closes as one dates x securities frame, or ``None``.

    The rule: a panel is used only where it holds, column by column, the adjusted
    closes of the per-symbol frames already fetched, so that the returns are the same.
    That is a :class:`SimulatedSource` (its :meth:`~SimulatedSource.panel` equals
    :meth:`~SimulatedSource.get` to the bit), or a :class:`CsvSource` on one **wide**
    file (one price per cell, as :meth:`CsvSource.get` reads it). Everything else keeps
    the per-symbol path: Yahoo and sources read through a cache, a folder of CSVs, a
    long CSV (whose per-symbol frames fall back from an empty adjusted close to the
    close row by row, which its panel does not), a chain of CSVs, and securities whose
    prices were fetched under the same symbol twice. A panel that cannot be read (an
    error) falls back to the per-symbol path, which raises or warns as before; the
    panel's own warnings are dropped (the per-symbol fetch gave them already).
    """
    if not isinstance(source, SimulatedSource | CsvSource) or not securities:
        return None
    if isinstance(source, CsvSource) and source.path.is_dir():
        return None
    aliases = {s.symbol: _aliases(s.aliases) for s in plan.securities}
    fetched = [
        str(frames[s].attrs.get("provenance", {}).get("symbol") or resolve_symbol(
            s, aliases.get(s), source.name
        ))
        for s in securities
    ]  # fmt: skip
    if len(set(fetched)) != len(fetched):
        return None
    first = min(frames[s].index.min() for s in securities)
    last = max(frames[s].index.max() for s in securities)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            panel = source.panel(fetched, first, last)
    except EventStudyError:
        return None
    if isinstance(source, CsvSource) and panel.attrs["provenance"].get("layout") != "wide":
        return None
    panel.columns = list(securities)
    return panel


def _published_factors(
    plan: StudyPlan,
    exchange: str,
    sessions: pd.DatetimeIndex,
    events: pd.DataFrame,
    offline: bool,
    refresh: bool,
    notes: list[str],
) -> pd.DataFrame:
    """The published factors of ``exchange``'s region on its sessions (no look-ahead).

    Raises :class:`DataError` when the library's file ends before an event window does
    (the library publishes a month or two late): an event must not lose its day 0 silently.
    """
    from eventstudy.data.factors import (
        PRESET_DATASETS,
        FrenchLibrary,
        align_factors,
        coverage_warning,
        dataset_name,
    )

    ff = plan.fama_french
    assert ff is not None
    region = ff.regions[exchange]
    kinds = list(dict.fromkeys(k for p in ff.presets for k in PRESET_DATASETS[p]))
    lo, hi = plan.engine.window
    pos = sessions.get_indexer(pd.DatetimeIndex(events["event_date"]))
    last_needed = sessions[min(int(pos.max()) + hi, len(sessions) - 1)] if len(pos) else None
    library = FrenchLibrary(ff.folder, offline=offline, refresh=refresh)
    raw = library.load(region, kinds, needed_until=last_needed)
    rule = cal.factor_rule(region, exchange)
    aligned = align_factors(raw, sessions, rule)
    names = ", ".join(dataset_name(region, k) for k in kinds)
    coverage_warning(aligned, names, exchange)
    complete = aligned.notna().all(axis=1)
    for eid, day0 in events.drop_duplicates("event_id")[["event_id", "event_date"]].itertuples(
        index=False
    ):
        p = int(sessions.get_loc(pd.Timestamp(day0)))
        span = sessions[max(p + lo, 0) : min(p + hi, len(sessions) - 1) + 1]
        if not bool(complete.iloc[p]) or span[-1] > pd.Timestamp(raw.index[-1]):
            raise DataError(
                symbol=names,
                detail=f"the factors ({raw.index[0].date()} .. {raw.index[-1].date()}) do not "
                f"cover event {eid}'s window on {exchange} ({span[0].date()} .. "
                f"{span[-1].date()})",
                fix="the library publishes a month or two late: refresh once it covers the "
                "event (--refresh), or use model: market (or another model) for this study",
            )
    origins = "; ".join(f"{p['dataset']} from {p['origin']}" for p in raw.attrs["provenance"])
    notes.append(
        f"Fama-French factors for {exchange} ({region}, {raw.index[0].date()} .. "
        f"{raw.index[-1].date()}): {origins}; matched to {exchange} sessions by "
        + (
            "date (rows on non-sessions compounded into the next session)"
            if rule == "same_date"
            else "the next session after their date (their market closes later: no look-ahead)"
        )
    )
    return aligned


def _check_inside_data(
    i: int, event_id: str, exchange: str, day0: pd.Timestamp, index: pd.Index
) -> None:
    """An event whose reacting session lies outside the prices is an error naming the dates."""
    if len(index) and index[0] <= day0 <= index[-1]:
        return
    span = f"{index[0].date()} .. {index[-1].date()}" if len(index) else "no sessions"
    side = "after the last" if len(index) and day0 > index[-1] else "before the first"
    raise DataError(
        symbol=f"events[{i}] {event_id}",
        detail=f"day 0 on {exchange} is {day0.date()}, {side} price in the data ({span})",
        fix="give prices that cover the event (a newer CSV export, or drop --offline to fetch)",
    )


# ----------------------------------------------------------------------------- running


def fit_group(engine: EnginePlan, group: ExchangeGroup, **overrides: Any) -> EventStudyResults:
    """Fit the engine on one exchange group (keyword ``overrides`` replace plan values)."""
    from eventstudy.study import event_study

    opts: dict[str, Any] = {
        "market": group.market,
        "model": engine.model,
        "factors": group.factors if engine.model == "factor" else None,
        "estimation": engine.estimation,
        "window": engine.window,
        "min_estimation_obs": engine.min_estimation_obs,
        "convention": engine.convention,
    }
    opts.update(overrides)
    if opts["model"] == "factor" and not opts["factors"]:
        raise ConfigError(
            field="model",
            value="factor",
            expected="factors the source has (e.g. JPY=X), or another model",
        )
    return event_study(group.returns, group.events, **opts)


# ----------------------------------------------------------------------------- analyses

#: The tests whose p-values the compact tables show (valid when firms share a date).
ROBUST_P: tuple[str, ...] = ("portfolio", "adjusted_patell", "kolari_pynnonen", "grank")


def _quiet_fit(engine: EnginePlan, group: ExchangeGroup, **overrides: Any) -> EventStudyResults:
    """:func:`fit_group` without the per-fit warnings (the main run has raised them): the
    clustering warnings are not even formatted (``warn=False``), the others are ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return fit_group(engine, group, warn=False, **overrides)


#: The tests a row of :func:`_robust_rows` reads.
_ROW_TESTS: tuple[str, ...] = ("portfolio", *ROBUST_P)


@dataclass(frozen=True)
class _Rows:
    """Rows of a robustness table as arrays: per event and CAR window, the firm-events, the
    mean CAR, the portfolio t and the :data:`ROBUST_P` p-values (``p``, one column each).

    The analyses gather these and frame each table once (with pandas 3, every frame, column
    insert or string column costs a new Arrow array)."""

    event_id: np.ndarray
    window: np.ndarray
    n: np.ndarray
    caar: np.ndarray
    t_portfolio: np.ndarray
    p: np.ndarray

    def __len__(self) -> int:
        return len(self.event_id)

    @staticmethod
    def concat(parts: Sequence[_Rows]) -> _Rows:
        """The rows of ``parts`` one after the other."""
        if not parts:
            text = np.array([], dtype=object)
            number = np.array([], dtype=float)
            p = np.empty((0, len(ROBUST_P)))
            return _Rows(text, text, np.array([], dtype=int), number, number, p)
        return _Rows(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in _ROWS_FIELDS})

    def take(self, idx: np.ndarray) -> _Rows:
        """The rows at positions ``idx``."""
        return _Rows(**{f: getattr(self, f)[idx] for f in _ROWS_FIELDS})

    def columns(self) -> dict[str, np.ndarray]:
        """The table's columns, in order: event_id, window, n, caar, t_portfolio, then
        ``p_<test>`` for each test of :data:`ROBUST_P`."""
        return {
            "event_id": self.event_id,
            "window": self.window,
            "n": self.n,
            "caar": self.caar,
            "t_portfolio": self.t_portfolio,
            **{f"p_{name}": self.p[:, k] for k, name in enumerate(ROBUST_P)},
        }


_ROWS_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(_Rows))


def _row_arrays(
    res: EventStudyResults, windows: Sequence[tuple[int, int]], *, only: bool = False
) -> _Rows:
    """Per event and window: mean CAR, the portfolio statistic and the robust p-values.

    ``only``: compute just the tests a row shows, untabulated
    (:meth:`~eventstudy.results.EventStudyResults.caar_batch`; results fitted for this table
    alone); by default the full table is read, which the report computes anyway (memoised).
    Rows by window, then event.
    """
    parts: list[_Rows] = []
    for w in windows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            # nominal p-values only: a calibrated run skips the placebo battery here
            if only:
                ids, n, caar, stat, pvals = _batch_arrays(res, (int(w[0]), int(w[1])))
                parts.append(
                    _Rows(ids, np.full(len(ids), format_window(w), object), n, caar, stat, pvals)
                )
                continue
            t = res.caar_tests(tuple(w), by="event_id", calibrated=False)
        # one row per event: the table is block-major, the same tests in each block
        names = list(dict.fromkeys(t["test"]))
        T = len(names)
        B = len(t) // max(T, 1)
        layout = np.tile(np.array(names, dtype=object), B)
        if B * T != len(t) or not np.array_equal(t["test"].to_numpy(dtype=object), layout):
            raise AssertionError("caar_tests rows are not one block of every test per event")
        head = t.iloc[::T] if T else t
        stat = t["statistic"].to_numpy(dtype=float).reshape(B, T)
        pval = t["p_value"].to_numpy(dtype=float).reshape(B, T)
        col = {n: k for k, n in enumerate(names)}
        parts.append(
            _Rows(
                head["event_id"].astype(str).to_numpy(dtype=object),
                np.full(B, format_window(w), dtype=object),
                head["n"].to_numpy(dtype=int),
                head["caar"].to_numpy(dtype=float),
                stat[:, col["portfolio"]] if "portfolio" in col else np.full(B, math.nan),
                np.stack(
                    [pval[:, col[n]] if n in col else np.full(B, math.nan) for n in ROBUST_P],
                    axis=1,
                ).reshape(B, len(ROBUST_P)),
            )
        )
    return _Rows.concat(parts)


def _robust_rows(
    res: EventStudyResults, windows: Sequence[tuple[int, int]], *, only: bool = False
) -> pd.DataFrame:
    """:func:`_row_arrays` as a table: event_id, window, n, caar, t_portfolio and the
    ``p_<test>`` columns (no columns without a window)."""
    if not windows:
        return pd.DataFrame()
    return pd.DataFrame(_row_arrays(res, windows, only=only).columns())


def _batch_arrays(
    res: EventStudyResults, window: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Event ids, firm-events, mean CAR, portfolio statistic and the :data:`ROBUST_P`
    p-values ``(B, 4)`` of one window, from the battery's arrays (no table)."""
    batch = res.caar_batch(window, by="event_id", tests=_ROW_TESTS)
    B = len(batch.caar)
    labels = batch.labels if batch.labels is not None else [""] * B

    def value(name: str, field: Literal["statistic", "p_value"]) -> np.ndarray:
        r = batch.tests.get(name)
        v = None if r is None else (r.statistic if field == "statistic" else r.p_value)
        return np.full(B, math.nan) if v is None else np.asarray(v, float).reshape(B)

    return (
        np.array([str(x) for x in labels], dtype=object),
        np.asarray(batch.n).astype(int),
        np.asarray(batch.caar, dtype=float),
        value("portfolio", "statistic"),
        np.stack([value(n, "p_value") for n in ROBUST_P], axis=1).reshape(B, len(ROBUST_P)),
    )


def _memo_robust_rows(res: EventStudyResults) -> Callable[[tuple[int, int]], _Rows]:
    """:func:`_row_arrays` of one window, computed once per window: the combined windows of
    n events on consecutive days ask for the same few windows n times (every event's rows come
    from one battery call, so asking again per pair made a study of 50 such events take
    minutes). Only the tests a row shows are computed: these windows are the combined
    table's alone."""
    memo: dict[tuple[int, int], _Rows] = {}

    def rows(window: tuple[int, int]) -> _Rows:
        if window not in memo:
            memo[window] = _row_arrays(res, [window], only=True)
        return memo[window]

    return rows


def _labelled(parts: Sequence[tuple[_Rows, Sequence[Any]]]) -> tuple[_Rows, list[np.ndarray]]:
    """The rows of ``parts`` one after the other, and each label of a part repeated over its
    rows (one array per label, in the order the parts give them)."""
    rows = _Rows.concat([r for r, _ in parts])
    sizes = [len(r) for r, _ in parts]
    n_labels = len(parts[0][1]) if parts else 0
    labels = [
        np.repeat(np.array([lab[j] for _, lab in parts], dtype=object), sizes)
        for j in range(n_labels)
    ]
    return rows, labels


def _answers(rows: _Rows) -> list[str]:
    """:func:`answer` of each row (mean CAR, portfolio p-value)."""
    return [answer(c, p) for c, p in zip(rows.caar.tolist(), rows.p[:, 0].tolist(), strict=True)]


def answer(caar: float, p: float, alpha: float = 0.05) -> str:
    """The answer a row gives: ``"+ significant"``, ``"- significant"`` or ``"not
    significant"`` (the sign of an insignificant mean CAR is no answer: +0.13% with p 0.96
    and -0.03% with p 0.99 say the same)."""
    if not math.isfinite(caar):
        return "n/a"
    if math.isfinite(p) and p < alpha:
        return f"{'+' if caar > 0 else '-'} significant"
    return "not significant"


def _variant_group(
    prep: Prepared, vplan: StudyPlan, exchange: str, group: ExchangeGroup
) -> tuple[ExchangeGroup, dict[str, Any]] | None:
    """The group a variant fits on, and the engine overrides (None: the variant needs data
    the main run did not load)."""
    if vplan.engine.returns != prep.plan.engine.returns:
        return None
    overrides: dict[str, Any] = {}
    entry = vplan.exchange(exchange).market
    if entry is not None:
        col = next((c for c in entry.candidates(vplan.source.kind) if c in group.returns), None)
        if col is None and entry.symbol in group.returns:
            col = entry.symbol
        if col is None:
            return None
        overrides["market"] = col
    return group, overrides


def _same_fit(plan: StudyPlan, vplan: StudyPlan, group: ExchangeGroup, market: str) -> bool:
    """Whether a variant fits what the study fitted on ``group``: the same engine but for
    its CAR windows and tests (which its rows read, not its fit), and the same market."""
    eng = dataclasses.replace(
        vplan.engine, car_windows=plan.engine.car_windows, tests=plan.engine.tests
    )
    return eng == plan.engine and market == group.market


def _variants(prep: Prepared, results: Mapping[str, EventStudyResults], **kw: Any) -> pd.DataFrame:
    """Every configured variant's mean CAR and robust p-values, beside the study's own.

    A variant that changes only the CAR windows or the tests reads the study's own fit."""
    plan = prep.plan
    if not plan.variants:
        return pd.DataFrame()
    windows = list(plan.engine.car_windows)
    parts: list[tuple[_Rows, tuple[str, str, str]]] = []
    for exchange, res in results.items():
        title = f"as configured ({_spec_label(plan, prep.groups[exchange].market)})"
        parts.append((_row_arrays(res, windows), (exchange, "study", title)))
    for var in plan.variants:
        vplan = var.plan
        vwindows = list(vplan.engine.car_windows)
        vprep: Prepared | None = None
        for exchange, group in prep.groups.items():
            found = _variant_group(prep, vplan, exchange, group)
            if found is None:
                if vprep is None:
                    vprep = prepare(vplan, **kw)
                g, overrides = vprep.groups[exchange], dict[str, Any]()
            else:
                g, overrides = found
            market = overrides.get("market", g.market)
            if found is not None and _same_fit(plan, vplan, group, market):
                rows = _row_arrays(results[exchange], vwindows, only=True)
            else:
                rows = _row_arrays(_quiet_fit(vplan.engine, g, **overrides), vwindows, only=True)
            title = f"{var.title} ({_spec_label(vplan, market)})"
            parts.append((rows, (exchange, var.name, title)))
    rows, (exchange_, variant, title_) = _labelled(parts)
    answers = _answers(rows)
    keys = list(zip(exchange_.tolist(), rows.event_id.tolist(), rows.window.tolist(), strict=True))
    study = {k: a for k, a, v in zip(keys, answers, variant.tolist(), strict=True) if v == "study"}
    same: list[bool | None] = [
        a == study[k] if k in study else None for k, a in zip(keys, answers, strict=True)
    ]
    cols = rows.columns()
    return pd.DataFrame(
        {
            "exchange": exchange_,
            "event_id": cols.pop("event_id"),
            "variant": variant,
            "title": title_,
            "window": cols.pop("window"),
            **cols,
            "answer": answers,
            "same_answer": same,
        }
    )


def _spec_label(plan: StudyPlan, market: str) -> str:
    eng = plan.engine
    lo, hi = eng.estimation
    model = {"factor": "market + " + ", ".join(f.symbol for f in plan.factors)}.get(
        eng.model, eng.model
    )
    if eng.model != "constant_mean":
        model = model.replace("market", f"market {market}", 1)
    return f"{model}; estimation [{lo},{hi}], {hi - lo + 1} sessions"


def _shifted(prep: Prepared, results: Mapping[str, EventStudyResults]) -> pd.DataFrame:
    """Events timed only to the day, rerun with day 0 one session later."""
    plan = prep.plan
    ids = [ev.id for ev in plan.events if ev.timing_confidence == "date-only"]
    if not ids:
        return pd.DataFrame()
    windows = list(plan.engine.car_windows)
    wanted = set(ids)
    parts: list[tuple[_Rows, tuple[str, str]]] = []
    day0s: list[np.ndarray] = []
    for exchange, group in prep.groups.items():
        ev = group.events[group.events["event_id"].isin(ids)]
        if ev.empty:
            continue
        index = group.returns.index
        pos = index.get_indexer(pd.DatetimeIndex(ev["event_date"]))
        if (pos + 1 >= len(index)).any():
            continue
        shifted = ev.assign(event_date=index[pos + 1])
        res_s = _quiet_fit(
            plan.engine, dataclasses.replace(group, events=shifted.reset_index(drop=True))
        )
        base = _row_arrays(results[exchange], windows)
        base = base.take(np.flatnonzero([e in wanted for e in base.event_id.tolist()]))
        new = _row_arrays(res_s, windows, only=True)
        # each row's day 0 from the events' own column (an event's last row, as a dict reads
        # the pairs; an event's rows share their day 0 on one exchange)
        at = dict(zip(ev["event_id"].tolist(), range(len(ev)), strict=True))
        for rows, days in ((base, ev["event_date"]), (new, shifted["event_date"])):
            day0s.append(days.to_numpy()[[at[e] for e in rows.event_id.tolist()]])
        parts.append((base, (exchange, "as configured")))
        parts.append((new, (exchange, "day 0 one session later")))
    if not parts:
        return pd.DataFrame()
    rows, (exchange_, timing) = _labelled(parts)
    day0 = np.concatenate(day0s)
    rank = {format_window(w): i for i, w in enumerate(windows)}
    keys = list(
        zip(
            exchange_.tolist(),
            rows.event_id.tolist(),
            rows.window.tolist(),
            timing.tolist(),
            strict=True,
        )
    )
    # by exchange, event, CAR window (as configured), timing; stable
    order = np.array(
        sorted(
            range(len(keys)), key=lambda i: (keys[i][0], keys[i][1], rank[keys[i][2]], keys[i][3])
        ),
        dtype=np.intp,
    )
    rows = rows.take(order)
    cols = rows.columns()
    return pd.DataFrame(
        {
            "exchange": exchange_[order],
            "event_id": cols.pop("event_id"),
            "window": cols.pop("window"),
            "timing": timing[order],
            "day0": day0[order],
            **cols,
            "answer": _answers(rows),
        }
    )


def _roles(prep: Prepared, results: Mapping[str, EventStudyResults]) -> pd.DataFrame:
    """Mean CAR of each role's equal-weighted portfolio (named OEMs, peers...).

    A role's portfolio is the study's specification fitted on the role's firm-events alone:
    their rows of the study's own fit (:meth:`EventStudyResults.select`, the same numbers as
    fitting them again), the role's tests computed on them. Each firm alone is in the
    per-firm table (:attr:`StudyRun.firms`)."""
    plan = prep.plan
    windows = list(plan.engine.car_windows)
    parts: list[tuple[_Rows, tuple[str, str, str]]] = []
    robust = False  # a role of one security has the portfolio test alone
    for exchange, group in prep.groups.items():
        secs = plan.exchange(exchange).securities
        roles = list(dict.fromkeys(str(s.role) for s in secs))
        if len(roles) < 2:
            continue
        for role in roles:
            members = [s.symbol for s in secs if s.role == role]
            ev = group.events[group.events["security"].isin(members)].reset_index(drop=True)
            if ev.empty:
                continue
            label = f"{ROLE_NAMES.get(role, role)} ({len(members)})"
            main = results[exchange]
            if len(members) == 1:  # a lone security is its own portfolio
                part = _lone(main, members[0], windows)
            else:
                robust = True
                if main.events["security"].isin(members).any():
                    # the role's firm-events fitted alone are rows of the study's fit
                    part = _row_arrays(main.select(members), windows, only=True)
                else:  # none fitted: the role's own fit says why (DataError)
                    res = _quiet_fit(plan.engine, dataclasses.replace(group, events=ev))
                    part = _row_arrays(res, windows, only=True)
            parts.append((part, (exchange, role, label)))
    if not parts:
        return pd.DataFrame()
    rows, (exchange_, role_, subset) = _labelled(parts)
    cols = rows.columns()
    if not robust:
        for name in ROBUST_P[1:]:
            del cols[f"p_{name}"]
    return pd.DataFrame(
        {
            "exchange": exchange_,
            "event_id": cols.pop("event_id"),
            "role": role_,
            "subset": subset,
            "window": cols.pop("window"),
            **cols,
        }
    )


def _lone(res: EventStudyResults, symbol: str, windows: Sequence[tuple[int, int]]) -> _Rows:
    """A role of one security: its CAR and t-test per event and window (the portfolio test of
    a portfolio of one); no robust p-values."""
    parts = []
    for w in windows:
        car = res.car(tuple(w))
        hit = np.flatnonzero(car["security"].astype(str).to_numpy(dtype=object) == symbol)
        p = np.full((len(hit), len(ROBUST_P)), math.nan)
        p[:, 0] = car["p_value"].to_numpy(dtype=float)[hit]
        parts.append(
            _Rows(
                car["event_id"].astype(str).to_numpy(dtype=object)[hit],
                np.full(len(hit), format_window(w), dtype=object),
                np.ones(len(hit), dtype=int),
                car["car"].to_numpy(dtype=float)[hit],
                car["statistic"].to_numpy(dtype=float)[hit],
                p,
            )
        )
    return _Rows.concat(parts)


def _overlaps(
    prep: Prepared, results: Mapping[str, EventStudyResults]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where one event's windows overlap another's, and the combined window of close events.

    Returns ``(overlaps, combined)``: one row per ordered pair of events (earlier, later) on an
    exchange whose windows touch, and, for pairs whose days 0 are inside one event window, the
    earlier event's CAR from its day 0 to the later day 0 (and one session beyond).
    """
    eng = prep.plan.engine
    est_lo, est_hi = eng.estimation
    ew_lo, ew_hi = eng.window
    rows: list[dict[str, Any]] = []
    combined: list[tuple[_Rows, tuple[str, str, str, str]]] = []
    ends: list[np.ndarray] = []  # each combined row's first and last session
    for exchange, group in prep.groups.items():
        index = group.returns.index
        robust = _memo_robust_rows(results[exchange])
        day0 = group.events.drop_duplicates("event_id").set_index("event_id")["event_date"]
        order = sorted(day0.index, key=lambda e: day0[e])
        pos = {e: int(index.get_loc(pd.Timestamp(day0[e]))) for e in order}
        for i, a in enumerate(order):
            for b in order[i + 1 :]:
                k = pos[b] - pos[a]
                est_b = (pos[b] + est_lo, pos[b] + est_hi)
                ew_a = (pos[a] + ew_lo, pos[a] + ew_hi)
                lo, hi = max(est_b[0], ew_a[0]), min(est_b[1], ew_a[1])
                n_est = max(0, hi - lo + 1)
                a_in_est = est_b[0] <= pos[a] <= est_b[1]
                ew_overlap = k <= ew_hi - ew_lo
                if not (n_est or ew_overlap):
                    continue
                windows_a = [format_window(w) for w in eng.car_windows if w[0] <= k <= w[1]]
                windows_b = [format_window(w) for w in eng.car_windows if w[0] <= -k <= w[1]]
                parts = [f"{b} is {k} session{'s' if k != 1 else ''} after {a} on {exchange}"]
                if n_est:
                    parts.append(
                        f"{b}'s estimation window [{est_lo},{est_hi}] shares {n_est} session(s) "
                        f"({index[lo]:%Y-%m-%d} to {index[hi]:%Y-%m-%d}) with {a}'s event window"
                        + (
                            f", including {a}'s day 0 ({index[pos[a]]:%Y-%m-%d})"
                            if a_in_est
                            else f" but not {a}'s day 0"
                        )
                    )
                if ew_overlap:
                    parts.append(
                        f"the event windows [{ew_lo},{ew_hi}] overlap: {b}'s day 0 is {a}'s day "
                        f"+{k}"
                    )
                if windows_a:
                    parts.append(f"{a}'s CAR{', CAR'.join(windows_a)} include {b}'s day 0")
                if windows_b:
                    parts.append(f"{b}'s CAR{', CAR'.join(windows_b)} include {a}'s day 0")
                rows.append(
                    {
                        "exchange": exchange,
                        "first": a,
                        "second": b,
                        "first_day0": index[pos[a]],
                        "second_day0": index[pos[b]],
                        "sessions_apart": k,
                        "shared_estimation_sessions": n_est,
                        "shared_from": index[lo] if n_est else pd.NaT,
                        "shared_to": index[hi] if n_est else pd.NaT,
                        "first_day0_in_second_estimation": a_in_est,
                        "event_windows_overlap": ew_overlap,
                        "first_windows_with_second_day0": ", ".join(windows_a),
                        "statement": "; ".join(parts) + ".",
                    }
                )
                if ew_overlap and k + 1 <= ew_hi:
                    last = len(index) - 1
                    # window of a, label, first and last session
                    spans = [
                        ((0, k), f"day 0 of {a} to day 0 of {b}", pos[a], pos[b]),
                        ((0, k + 1), f"day 0 of {a} to day +1 of {b}", pos[a], pos[b] + 1),
                    ]
                    if ew_lo <= -1:
                        spans.append(
                            ((-1, k + 1), f"day -1 of {a} to day +1 of {b}", pos[a] - 1, pos[b] + 1)
                        )
                    sessions = index.to_numpy()
                    for w, label, lo_, hi_ in spans:
                        part = robust(w)
                        part = part.take(np.flatnonzero(part.event_id == a))
                        combined.append((part, (exchange, f"{a} + {b}", b, label)))
                        ends.append(
                            np.repeat(
                                sessions[[max(lo_, 0), min(hi_, last)]][None], len(part), axis=0
                            )
                        )
    over = pd.DataFrame(rows)
    if not combined:
        return over, pd.DataFrame()
    comb, (exchange_, pair, second, span) = _labelled(combined)
    start_end = np.concatenate(ends)
    cols = comb.columns()
    return over, pd.DataFrame(
        {
            "exchange": exchange_,
            "combined": pair,
            "event_id": cols.pop("event_id"),
            "second": second,
            "window": cols.pop("window"),
            "span": span,
            "start": start_end[:, 0],
            "end": start_end[:, 1],
            **cols,
        }
    )


def analyse(
    prep: Prepared,
    results: Mapping[str, EventStudyResults],
    *,
    offline: bool = False,
    refresh: bool = False,
    notes: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The questions a reader asks next, as tidy tables (keys of :attr:`StudyRun.analyses`).

    With a ``notes`` list, an analysis that cannot be computed for this study (e.g. too few
    sessions after a date-only event) is left out with a note there instead of failing the run.

    - ``variants``: each configured variant (benchmark, model, estimation length...) beside
      the study's own specification: per event and CAR window the mean CAR, the portfolio
      t, the p-values of the tests robust to a shared date (:data:`ROBUST_P`), the answer
      (:func:`answer`: significance of the portfolio test at 5% and, if significant, the
      sign) and whether it is the study's;
    - ``shifted``: events whose time is known only to the day, rerun with day 0 one session
      later (same columns, ``timing`` says which);
    - ``roles``: the equal-weighted portfolio of each role (``oem``, ``peer``...);
    - ``overlaps``: pairs of events whose windows overlap (estimation window of the later
      one and event window of the earlier one, or both event windows), with a statement;
    - ``combined``: for events whose days 0 lie inside one event window, the earlier event's
      CAR from its day 0 to the later one's day 0 (and +1).
    """
    out: dict[str, pd.DataFrame] = {}
    steps = {
        "variants": lambda: _variants(prep, results, offline=offline, refresh=refresh),
        "shifted": lambda: _shifted(prep, results),
        "roles": lambda: _roles(prep, results),
        "overlaps": lambda: _overlaps(prep, results),
    }
    for name, step in steps.items():
        try:
            value = step()
        except (ValueError, KeyError, IndexError) as exc:  # the main results stand without it
            if notes is None:
                raise
            notes.append(f"analysis {name} left out: {type(exc).__name__}: {exc}")
            continue
        if name == "overlaps":
            out["overlaps"], out["combined"] = value
        else:
            out[name] = value
    return {k: v for k, v in out.items() if len(v)}


def _dossiers(plan: StudyPlan) -> dict[str, str]:
    """Each event's dossier text (validated as UTF-8 under 1 MB; a file changed since then
    is read with U+FFFD for bad bytes, never a crash)."""
    return {
        ev.id: ev.dossier.read_text(encoding="utf-8", errors="replace")
        for ev in plan.events
        if ev.dossier is not None and ev.dossier.is_file()
    }


_VERSIONED = (
    "oem-eventstudy",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "plotly",
    "yfinance",
    "exchange-calendars",
    "pydantic",
)


def _provenance(prep: Prepared, started: datetime) -> Provenance:
    from importlib import metadata

    versions = {}
    for dist in _VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[dist] = "not installed"
    sources = {}
    for sym, df in prep.prices.items():
        prov = dict(df.attrs.get("provenance", {}))
        sources[sym] = SourceRecord(
            source=str(prov.get("source", prep.source.name)),
            fetched_symbol=str(prov.get("symbol", sym)),
            fetched_at=str(prov["fetched_at"]) if prov.get("fetched_at") else None,
            first=str(df.index.min().date()) if len(df) else None,
            last=str(df.index.max().date()) if len(df) else None,
        )
    return Provenance(
        versions=versions,
        sources=sources,
        config_file=str(prep.plan.file) if prep.plan.file else None,
        config_hash=prep.plan.config_hash,
        run_started=started.isoformat(timespec="seconds"),
        run_finished=datetime.now(UTC).isoformat(timespec="seconds"),
        failures=prep.failures,
    )


def _expected_events(plan: StudyPlan, exchange: str) -> list[str]:
    """The events that have at least one security on ``exchange``."""
    symbols = set(plan.exchange(exchange).symbols)
    return [
        ev.id
        for ev in plan.events
        if symbols & set(ev.securities if ev.securities is not None else symbols)
    ]


def verdicts_and_firms(
    plan: StudyPlan, results: Mapping[str, EventStudyResults]
) -> tuple[tuple[Verdict, ...], pd.DataFrame]:
    """The verdict of every event (and pool) and the per-firm table of every exchange."""
    titles = {ev.id: ev.title for ev in plan.events}
    verdicts: list[Verdict] = []
    firms = []
    for exchange, res in results.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            verdicts += verdicts_from_results(
                res,
                plan.headline_window,
                exchange=exchange,
                titles=titles,
                expected=_expected_events(plan, exchange),
                pools=plan.pools,
            )
            tables = {w: res.firm_columns(w) for w in plan.engine.car_windows}
        rows = firm_rows(tables, labels=plan.labels, roles=plan.roles)
        rows.insert(0, "exchange", exchange)
        firms.append(rows)
    return tuple(verdicts), pd.concat(firms, ignore_index=True) if firms else pd.DataFrame()


#: Placebo firm-events one calibration may fit (firm-events x placebo dates per event). At
#: the engine's ~8-25 KB per firm-event this keeps a calibrated run within a few GB; the
#: kei-car and tariff studies (14 and 28 firm-events x 1,000) are far below it.
CALIBRATION_BOUND = 250_000


def calibration_draws(calibrate: int, group: ExchangeGroup, exchange: str) -> int:
    """The placebo dates per event a calibrated run of ``group`` uses: ``calibrate``, or
    fewer when ``firm-events x calibrate`` exceeds :data:`CALIBRATION_BOUND` (with a
    :class:`~eventstudy.exceptions.CalibrationBoundWarning`); 0 (no calibration) when
    fewer than :data:`~eventstudy.verdict.MIN_PLACEBOS` would fit, since the measured
    size of a test needs that many placebo studies."""
    n = len(group.events)
    if not calibrate or n * calibrate <= CALIBRATION_BOUND:
        return calibrate
    fit = CALIBRATION_BOUND // max(n, 1)
    draws = fit if fit >= MIN_PLACEBOS else 0
    warnings.warn(
        format_warning(
            CalibrationBoundWarning,
            exchange=exchange,
            firm_events=n,
            asked=calibrate,
            placebo=n * calibrate,
            bound=CALIBRATION_BOUND,
            gigabytes=n * calibrate * 25e3 / 1e9,
            action=f"calibrated on {draws} placebo dates per event instead"
            if draws
            else f"not calibrated (fewer than {MIN_PLACEBOS} placebo dates per event fit): "
            "the verdicts read nominal p-values",
        ),
        stacklevel=2,
    )
    return draws


def run_study(
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    analyses: bool = True,
    calibrate: int = 0,
    seed: int = 0,
    strict: bool = False,
    workers: int | None = None,
) -> StudyRun:
    """Run a study end to end (no files written) and return a :class:`StudyRun`.

    With ``analyses`` (the default) the run also answers the follow-up questions of
    :func:`analyse` (variants, date-only shifts, roles, overlapping windows). Every event
    gets a verdict on the plan's headline window, also one whose firm-events were all
    excluded (:attr:`StudyRun.empty_events`).

    With ``calibrate=B`` every test is calibrated on ``B`` placebo dates per event
    (:mod:`eventstudy.calibration`, ``seed``), drawn from a longer price history
    (:func:`prepare_history`: the real events' numbers do not change, their windows are
    relative), and each verdict rests on the test that kept its size on those placebos
    (:func:`eventstudy.verdict.choose_test`).

    A security whose prices cannot be fetched is left out with a
    :class:`~eventstudy.exceptions.SkippedSecuritiesWarning` and recorded in
    ``provenance.failures``; with ``strict`` it raises
    :class:`~eventstudy.exceptions.FetchFailed` instead (see :func:`prepare`).
    """
    started = datetime.now(UTC)
    fetch: dict[str, Any] = {"quiet": quiet, "strict": strict, "workers": workers}
    if calibrate:
        prep = prepare_history(config, prices=prices, offline=offline, refresh=refresh, **fetch)
    else:
        prep = prepare(config, prices=prices, offline=offline, refresh=refresh, **fetch)
    plan = prep.plan
    results: dict[str, EventStudyResults] = {}
    notes = list(prep.notes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EventStudyWarning)
        for exchange, group in prep.groups.items():
            draws = calibration_draws(calibrate, group, exchange)
            extra: dict[str, Any] = {"calibrate": draws, "seed": seed} if draws else {}
            extra.update(plan.compute.options())
            results[exchange] = res = fit_group(plan.engine, group, **extra)
            if res.calibration is not None:
                notes += [f"calibration ({exchange}): {n}" for n in res.calibration.notes]
            for row in res.excluded.itertuples(index=False):
                warnings.warn(
                    format_warning(
                        ExcludedEventWarning,
                        event_id=row.event_id,
                        security=row.security,
                        reason=row.reason,
                    ),
                    stacklevel=2,
                )
    for w in caught:
        if issubclass(w.category, EventStudyWarning):
            notes.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    tables = (
        analyse(prep, results, offline=offline, refresh=refresh, notes=notes) if analyses else {}
    )
    verdicts, firms = verdicts_and_firms(plan, results)
    for v in verdicts:
        if v.kind == "event" and not v.measured:
            notes.append(v.sentence)
    volume = _volume(prep, results, notes) if plan.volume is not None else {}
    regressions = _cross_sections(plan, results, notes) if plan.cross_section is not None else ()
    return StudyRun(
        plan=plan,
        timing=prep.timing,
        prices=prep.prices,
        returns={ex: g.returns for ex, g in prep.groups.items()},
        results=results,
        market={ex: g.market for ex, g in prep.groups.items()},
        dossiers=_dossiers(plan),
        provenance=_provenance(prep, started),
        verdicts=verdicts,
        firms=firms,
        notes=list(dict.fromkeys(notes)),
        analyses=tables,
        volume=volume,
        cross_sections=regressions,
    )


def _volume(
    prep: Prepared, results: Mapping[str, EventStudyResults], notes: list[str]
) -> dict[str, VolumeResults]:
    """Abnormal volume and volatility per exchange (left out, with a note, without volumes)."""
    vp = prep.plan.volume
    assert vp is not None
    out: dict[str, VolumeResults] = {}
    for exchange, res in results.items():
        try:
            vol = volume_study(
                prep.prices,
                res,
                prep.groups[exchange].returns.index,
                measure="log_turnover" if vp.measure == "log_turnover" else "log_volume",
                shares=vp.shares,
                windows=vp.windows,
                min_estimation_obs=prep.plan.engine.min_estimation_obs,
            )
        except DataError as exc:
            notes.append(f"volume section left out on {exchange}: {exc}")
            continue
        for row in vol.excluded.itertuples(index=False):
            notes.append(f"volume: {row.event_id}/{row.security} excluded: {row.reason}")
        out[exchange] = vol
    return out


def _characteristics(plan: StudyPlan) -> pd.DataFrame:
    """The securities' own characteristics as the table of :func:`cross_section`:
    ``security`` then one column per characteristic (numbers as floats, categories as
    text, unknown as missing)."""
    rows = [{"security": sym, **chars} for sym, chars in plan.characteristics.items()]
    frame = pd.DataFrame(rows)
    for col in frame.columns[1:]:
        values = frame[col].dropna()
        if len(values) and all(isinstance(v, int | float) for v in values):
            frame[col] = pd.to_numeric(frame[col]).astype(float)
    return frame


def _cross_sections(
    plan: StudyPlan, results: Mapping[str, EventStudyResults], notes: list[str]
) -> tuple[CrossSectionResults, ...]:
    """Every configured regression of CARs on the characteristics file, per exchange."""
    cs = plan.cross_section
    assert cs is not None
    data = read_characteristics(cs.data) if cs.data is not None else _characteristics(plan)
    multi = len(results) > 1
    out = []
    for reg in cs.regressions:
        for exchange, res in results.items():
            r = cross_section(
                res,
                reg.formula,
                reg.window,
                data,
                weights="wls" if reg.weights == "wls" else "ols",
                cov="hc3" if reg.cov == "hc3" else "cluster" if reg.cov == "cluster" else "auto",
                name=f"{reg.name}_{exchange}" if multi else reg.name,
                title=f"{reg.title} ({exchange})" if multi else reg.title,
            )
            notes += [f"regression {r.name}: {n}" for n in r.notes]
            out.append(r)
    return tuple(out)


# ----------------------------------------------------------------------------- the summary


def _pct(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x * 100:+.2f}%"


def _se(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x * 100:.2f}%"


def _p(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.4f}"


def _t(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.2f}"


#: How ``DataFrame.to_string`` shows these characters in a cell or a header.
_ESCAPED = str.maketrans({"\t": "\\t", "\r": "\\r", "\n": "\\n"})


def _text_table(rows: Sequence[Mapping[str, str]]) -> str:
    """``pd.DataFrame(rows).to_string(index=False)`` for rows of text cells, without
    building the frame (a few lines of the summary do not need one).

    The layout is pandas': columns in order of first appearance, a missing cell ``NaN``,
    headers and cells right-aligned to the column's widest (by ``len``, pandas' default
    width), one space between columns, tabs and line breaks shown escaped
    (``tests/test_headline.py`` checks it against pandas).
    """
    header = list(dict.fromkeys(k for r in rows for k in r))
    if not header:  # no cell: pandas' text for an empty frame
        return pd.DataFrame(list(rows)).to_string(index=False)
    cols = [
        [str(h).translate(_ESCAPED)] + [str(r.get(h, "NaN")).translate(_ESCAPED) for r in rows]
        for h in header
    ]
    widths = [max(map(len, c)) for c in cols]
    return "\n".join(
        " ".join(c[i].rjust(w) for c, w in zip(cols, widths, strict=True))
        for i in range(len(rows) + 1)
    )


def _firm_block(firms: pd.DataFrame, headline: str) -> str:
    """One event's firms as a text table: AR(0) and the headline CAR with se, t, p; other
    CARs with stars (one row per security, name and role, in order of appearance)."""
    cols = ["security", "name", "role", "measure", "estimate", "stars", "se", "t", "p_value"]
    has_sq = "p_sq" in firms.columns
    v = {c: firms[c].to_numpy(dtype=object) for c in [*cols, *(["p_sq"] if has_sq else [])]}
    groups: dict[tuple[object, object, object], dict[object, int]] = {}
    for i, key in enumerate(zip(v["security"], v["name"], v["role"], strict=True)):
        if any(pd.isna(k) for k in key):  # groupby leaves out rows with a missing key
            continue
        groups.setdefault(key, {}).setdefault(v["measure"][i], i)
    rows = []
    for (sec, name, role), by in groups.items():
        row: dict[str, str] = {
            "firm": f"{name} {sec}" if name != sec else str(sec),
            "role": ROLE_LABELS.get(str(role), str(role)),
        }
        for m in dict.fromkeys(["AR(0)", headline]):
            if m not in by:
                continue
            i = by[m]
            row[m] = _pct(float(v["estimate"][i])) + str(v["stars"][i])
            row[f"se {m}"] = _se(float(v["se"][i]))
            row[f"t {m}"] = _t(float(v["t"][i]))
            row[f"p {m}"] = _p(float(v["p_value"][i]))
            if has_sq:
                row[f"p SQ {m}"] = _p(float(v["p_sq"][i]))
        for measure, i in by.items():
            if measure in ("AR(0)", headline, "CAR(0,0)"):
                continue
            row[str(measure)] = _pct(float(v["estimate"][i])) + str(v["stars"][i])
        rows.append(row)
    return _text_table(rows)


def _movers_only(firms: pd.DataFrame, headline: str) -> tuple[pd.DataFrame, str]:
    """One event's firm rows, or above ``movers.MAX_SECURITIES_SHOWN`` firms only those of
    the movers by the headline CAR (largest first), and what is shown ("" for all)."""
    if firms["security"].nunique() <= MAX_SECURITIES_SHOWN:
        return firms, ""
    head = firms[firms["measure"] == headline]
    values = pd.Series(head["estimate"].to_numpy(dtype=float), index=head["security"].astype(str))
    chosen = top_and_bottom(values[~values.index.duplicated()], measure=headline)
    rank = firms["security"].astype(str).map({s: i for i, s in enumerate(chosen.keys)})
    return firms[rank.notna()].iloc[rank.dropna().argsort(kind="stable")], chosen.label


#: Quantiles of the firms' AR(0) and headline CAR printed under a capped firm table.
SPREAD_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _spread(firms: pd.DataFrame, label: str) -> list[str]:
    """Lines giving the quantiles of AR(0) and of the headline CAR across every firm of an
    event (printed under the movers when the firm table is capped)."""
    names = "  ".join(f"{q:.0%}" for q in SPREAD_QUANTILES)
    lines = [f"  across every firm, quantiles {names}:"]
    for measure in dict.fromkeys(["AR(0)", label]):
        values = firms.loc[firms["measure"] == measure, "estimate"].dropna().to_numpy(float)
        if len(values):
            qs = np.quantile(values, SPREAD_QUANTILES)
            lines.append(
                f"    {measure}: "
                + "  ".join(_pct(float(x)) for x in qs)
                + f"  (n = {len(values):,}; mean {_pct(float(values.mean()))})"
            )
    return lines


def headline(run: StudyRun) -> str:
    """What ``eventstudy run`` prints, the answer first: the verdict of every event (and
    configured pool), the firms of each event, then the per-event tests and the analyses."""
    plan = run.plan
    label = "CAR" + format_window(plan.headline_window)
    multi = len(run.results) > 1
    lines = []
    why = run.verdicts[0].test.why if run.verdicts else ""
    lines.append(f"The answer, mean {label} per event ({why}):")
    for v in run.verdicts:
        where = f" · {v.exchange}" if multi else ""
        loud = "!! " if not v.measured else ""
        lines.append(f"  {loud}[{v.key}{where}] {v.title}")
        lines.append(f"    {loud}{v.sentence}")
        lines += [f"    note: {n}" for n in v.notes]
    if run.empty_events:
        lines.append(
            f"!! {len(run.empty_events)} event(s) have no firm-event left: "
            + ", ".join(v.key for v in run.empty_events)
            + " (see the reasons above; eventstudy run exits with code 3)"
        )
    firms = run.firms
    firm_event = firms["event_id"].to_numpy(dtype=object)
    firm_exchange = firms["exchange"].to_numpy(dtype=object)
    for v in run.verdicts:
        if v.kind != "event" or not v.measured:
            continue
        every = firms[(firm_event == v.key) & (firm_exchange == v.exchange)]
        if every.empty:
            continue
        where = f" on {v.exchange}" if multi else ""
        mine, shown = _movers_only(every, label)
        lines += [
            "",
            f"Firms, {v.key}{where} (reacting session {v.session}; t with the prediction-error "
            "variance; p SQ: the firm's value ranked among its own estimation-window values, "
            "no normality assumed; * p<0.10, ** p<0.05, *** p<0.01; all windows: "
            "tables/firms.csv):",
            *([f"  shown: {shown}, largest first; every firm: tables/firms.csv"] if shown else []),
            _firm_block(mine, label),
            *(_spread(every, label) if shown else []),
        ]
    order = {ev.id: i for i, ev in enumerate(plan.events)}
    for exchange, res in run.results.items():
        rows = []
        for w in plan.engine.car_windows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EventStudyWarning)
                tests = res.caar_tests(w, by="event_id")
            rows += _test_rows(tests, w)
        head = (
            f"Tests of the mean CAR per event ({exchange}, market {run.market.get(exchange)}; "
            "each event on its own"
        )
        if res.calibration is not None and res.calibration.placebo is not None:
            head += (
                f"; p cal.: calibrated on {res.calibration.n_draws} placebo dates per event, "
                "size: the test's rejection rate at 5% on them; valid: tests whose measured "
                "size is consistent with 5%"
            )
        lines += ["", head + "):", _text_table(_in_order(rows, "event", order))]
    lines += _volume_lines(run, order)
    lines += _regression_lines(run)
    a = run.analyses
    if "roles" in a:
        lines += ["", "Named OEMs and peers, equal-weighted portfolios (mean CAR, p portfolio):"]
        shown_windows = list(dict.fromkeys(["(0,0)", format_window(plan.headline_window)]))
        lines.append(_roles_table(a["roles"], shown_windows, order).to_string())
    if "shifted" in a:
        lines += ["", "Date-only events, day 0 as configured vs one session later:"]
        lines.append(
            _dated_text(
                a["shifted"],
                ["event_id", "window", "timing", "day0", "caar", "p_portfolio"],
                dates=("day0",),
            )
        )
    if "combined" in a:
        lines += ["", "Combined windows of close events:"]
        lines.append(
            _dated_text(
                a["combined"],
                ["combined", "window", "start", "end", "caar", "p_portfolio"],
                dates=("start", "end"),
            )
        )
    if "variants" in a:
        v = a["variants"]
        changed = v[v["same_answer"] == False]  # noqa: E712
        lines += ["", f"Variants ({', '.join(dict.fromkeys(v['variant']))}): "]
        lines[-1] += (
            "the answer (portfolio test at 5%, and the sign when significant) is the same "
            "under every variant."
            if changed.empty
            else "the answer changes in "
            + "; ".join(
                f"{r.event_id} {r.variant} {r.window} ({r.answer}, mean CAR {_pct(r.caar)})"
                for r in changed.itertuples()
            )
            + "."
        )
    return "\n".join(lines)


def _rank(order: Mapping[str, int]) -> Callable[[object], tuple[int, int]]:
    """Sort key of an event id: the study's order, unknown (or missing) events last, as
    ``argsort(kind="stable")`` of ``event.map(order)`` puts them."""
    return lambda e: (0, order[e]) if isinstance(e, str) and e in order else (1, 0)


def _in_order(
    rows: Sequence[Mapping[str, str]], key: str, order: Mapping[str, int]
) -> list[Mapping[str, str]]:
    """``rows`` by the study's order of their event (``key``), stably; unknown events last."""
    rank = _rank(order)
    return sorted(rows, key=lambda r: rank(r[key]))


def _text_cells(values: pd.Series) -> list[str] | None:
    """A text column's cells as ``DataFrame.to_string`` shows them (``NaN`` for a missing
    one); ``None`` when the column is not of pandas' default text dtype."""
    dtype = values.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.na_value is pd.NA:
        return None
    return [x if isinstance(x, str) else "NaN" for x in values.to_numpy(dtype=object)]


def _dated_text(frame: pd.DataFrame, columns: list[str], dates: Sequence[str]) -> str:
    """``frame[columns].to_string(index=False)`` with the ``dates`` as ``YYYY-MM-DD``,
    ``caar`` in percent and ``p_portfolio`` to four decimals: through :func:`_text_table`
    when every other column is text, else through pandas."""
    cells: dict[str, list[str] | None] = {}
    for c in columns:
        if c == "caar":
            cells[c] = [_pct(x) for x in frame[c].to_numpy(dtype=float).tolist()]
        elif c == "p_portfolio":
            cells[c] = [_p(x) for x in frame[c].to_numpy(dtype=float).tolist()]
        else:
            cells[c] = _text_cells(frame[c].dt.strftime("%Y-%m-%d") if c in dates else frame[c])
    texts = [v for v in cells.values() if v is not None]
    if len(texts) < len(columns):  # a column pandas formats its own way
        shown = frame.assign(
            **{d: frame[d].dt.strftime("%Y-%m-%d") for d in dates},
            caar=frame["caar"].map(_pct),
            p_portfolio=frame["p_portfolio"].map(_p),
        )
        return shown[columns].to_string(index=False)
    return _text_table([dict(zip(columns, row, strict=True)) for row in zip(*texts, strict=True)])


def _roles_table(
    roles: pd.DataFrame, windows: Sequence[str], order: Mapping[str, int]
) -> pd.DataFrame:
    """The roles' portfolios over ``windows`` as the summary shows them: one row per event
    (in the study's order) and subset, mean CAR and p portfolio (text) per window.

    The frame that ``pivot_table(index=["event_id", "subset"], columns="window",
    values=["caar", "p_portfolio"], aggfunc="first", sort=False)`` gives on those rows
    (each cell from the first row of its event, subset and window; the rows by event, then
    subset, and the windows, each in order of appearance), built directly: the pivot's
    groupby and unstack cost more than the few cells. ``tests/test_headline.py`` checks it
    against the pivot.
    """
    event = roles["event_id"].to_numpy(dtype=object)
    subset = roles["subset"].to_numpy(dtype=object)
    window = roles["window"].to_numpy(dtype=object)
    shown = set(windows)
    rank = _rank(order)
    rows = sorted(
        (i for i in range(len(roles)) if window[i] in shown), key=lambda i: rank(event[i])
    )
    kept = [i for i in rows if not (pd.isna(event[i]) or pd.isna(subset[i]))]
    if not kept:  # nothing to show: pandas' own (empty) pivot
        r = roles.iloc[rows]
        return r.assign(caar=r["caar"].map(_pct), p_portfolio=r["p_portfolio"].map(_p)).pivot_table(
            index=["event_id", "subset"],
            columns="window",
            values=["caar", "p_portfolio"],
            aggfunc="first",
            sort=False,
        )
    caar = roles["caar"].to_numpy(dtype=float)
    p = roles["p_portfolio"].to_numpy(dtype=float)
    (e_code, e_label), (s_code, s_label), (w_code, w_label) = (
        pd.factorize(np.array([k[i] for i in kept], dtype=object)) for k in (event, subset, window)
    )
    first: dict[tuple[int, int], dict[int, int]] = {}  # (event, subset) -> window -> row
    for i, e, s_, w in zip(kept, e_code, s_code, w_code, strict=True):
        first.setdefault((int(e), int(s_)), {}).setdefault(int(w), i)
    pairs = sorted(first)
    cells = [
        [_pct(float(caar[at[w]])) if w in at else math.nan for w in range(len(w_label))]
        + [_p(float(p[at[w]])) if w in at else math.nan for w in range(len(w_label))]
        for at in (first[pair] for pair in pairs)
    ]
    return pd.DataFrame(
        cells,
        index=pd.MultiIndex.from_arrays(
            [e_label[[e for e, _ in pairs]], s_label[[s_ for _, s_ in pairs]]],
            names=["event_id", "subset"],
        ),
        columns=pd.MultiIndex.from_product(
            [["caar", "p_portfolio"], w_label], names=[None, "window"]
        ),
    )


def _test_rows(tests: pd.DataFrame, w: tuple[int, int]) -> list[dict[str, str]]:
    """One summary row per event of ``caar_tests(w, by="event_id")``: mean CAR, portfolio
    t, the p-values of :data:`ROBUST_P` and how many robust (or, calibrated, valid) tests
    and how many tests in all reject at 5%."""
    calibrated = "size_ci_low" in tests.columns
    names = tests["test"].to_numpy(dtype=object)
    stat = tests["statistic"].to_numpy(dtype=float)
    p = tests["p_value"].to_numpy(dtype=float)
    caar = tests["caar"].to_numpy(dtype=float)
    if calibrated:
        p_cal = tests["p_calibrated"].to_numpy(dtype=float)
        size = tests["size_5pct"].to_numpy(dtype=float)
        lo = tests["size_ci_low"].to_numpy(dtype=float)
        hi = tests["size_ci_high"].to_numpy(dtype=float)
    events: dict[str, list[int]] = {}  # event -> its rows, events in order of appearance
    for i, eid in enumerate(tests["event_id"].to_numpy(dtype=object)):
        events.setdefault(str(eid), []).append(i)
    rows = []
    for eid, at in events.items():
        by = {str(names[i]): i for i in reversed(at)}  # a test's first row
        ok = [i for i in at if not math.isnan(p[i])]
        if calibrated:  # valid here: 5% inside the measured size's interval
            robust = [i for i in ok if lo[i] <= 0.05 <= hi[i] and names[i] != "sur_wald"]
        else:
            robust = [i for i in ok if names[i] in CLUSTER_ROBUST_TESTS]
        row = {
            "event": eid,
            "window": format_window(w),
            "mean CAR": _pct(float(caar[at[0]])),
            "port. t": _t(float(stat[by["portfolio"]])),
            **{f"p {k}": _p(float(p[by[k]]) if k in by else math.nan) for k in ROBUST_P},
        }
        rejected = f"{sum(p[i] < 0.05 for i in robust)}/{len(robust)}"
        if calibrated:
            row["p cal. portfolio"] = _p(float(p_cal[by["portfolio"]]))
            row["size portfolio"] = f"{float(size[by['portfolio']]):.1%}"
            row["valid p<.05"] = rejected
        else:
            row["robust p<.05"] = rejected
        row["all p<.05"] = f"{sum(p[i] < 0.05 for i in ok)}/{len(ok)}"
        rows.append(row)
    return rows


def _volume_lines(run: StudyRun, order: Mapping[str, int]) -> list[str]:
    """The volume section of the summary: per event and window, mean CAV and its tests, the
    portfolio variance ratio and its test."""
    lines: list[str] = []
    for exchange, vol in run.volume.items():
        t = vol.summary
        cells = {
            "event": [str(x) for x in t["event_id"]],
            "window": [str(x) for x in t["window"]],
            **{
                label: [fmt(float(x)) for x in t[column].to_numpy(dtype=float)]
                for label, column, fmt in (
                    ("mean CAV", "mean_cav", _t),
                    ("%/day", "pct_per_day", _pct),
                    ("port. t", "t_portfolio", _t),
                    ("p portfolio", "p_portfolio", _p),
                    ("p BW1985", "p_brown_warner_1985", _p),
                    ("p rank", "p_corrado_rank", _p),
                    ("VR", "volatility_ratio", _t),
                    ("p VR", "p_volatility", _p),
                    ("firms' VR", "mean_firm_ratio", _t),
                )
            },
        }
        rows = [{k: c[i] for k, c in cells.items()} for i in range(len(t))]
        where = f" ({exchange})" if len(run.results) > 1 else ""
        lines += [
            "",
            f"Abnormal volume{where}: mean CAV = mean over firms of the summed log volume minus "
            "its estimation mean (%/day = exp(CAV/days) - 1); p from the portfolio test, "
            "Brown-Warner 1985 and the Corrado rank test. Volatility: the portfolio's "
            "event-window variance ratio VR of abnormal returns (F test) and the firms' mean VR:",
            _text_table(_in_order(rows, "event", order)),
        ]
    return lines


def _regression_lines(run: StudyRun) -> list[str]:
    """Each configured cross-sectional regression: its coefficients with s.e., t, p, CI."""
    lines: list[str] = []
    for r in run.cross_sections:
        st = r.stats
        tab = r.table
        lines += [
            "",
            f"Regression {r.name}: {r.label}; n = {st['n']}, R2 = {float(st['r2']):.3f}"
            + (f", {st['n_clusters']} clusters" if r.cov == "cluster" else ""),
            pd.DataFrame(
                {
                    "term": tab["term"],
                    "estimate": tab["estimate"].map(lambda x: f"{x:.4g}"),
                    "se": tab["se"].map(lambda x: f"{x:.4g}"),
                    "t": tab["statistic"].map(lambda x: _t(float(x))),
                    "p": tab["p_value"].map(lambda x: _p(float(x))),
                    "95% CI": [
                        f"[{lo:.4g}, {hi:.4g}]"
                        for lo, hi in zip(tab["ci_low"], tab["ci_high"], strict=True)
                    ],
                }
            ).to_string(index=False),
        ]
    return lines


# ----------------------------------------------------------------------------- robustness lab


def prepare_history(
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    years: float = 5.0,
    strict: bool = False,
    workers: int | None = None,
) -> Prepared:
    """:func:`prepare` with ``years`` of history before the first announcement (and every
    session after it up to today), as placebo simulations and specification curves need.

    A study that sets ``data_start``/``data_end`` keeps them.
    """
    plan = _as_plan(config, prices)
    update: dict[str, Any] = {}
    if plan.data_start is None:
        first = min(pd.Timestamp(ev.announced) for ev in plan.events).tz_convert("UTC")
        update["data_start"] = (
            first.tz_localize(None) - pd.Timedelta(days=round(365.25 * years))
        ).date()
    if plan.data_end is None:
        update["data_end"] = datetime.now(UTC).date()
    return prepare(
        dataclasses.replace(plan, **update), offline=offline, refresh=refresh, quiet=quiet,
        strict=strict, workers=workers,
    )  # fmt: skip


def simulate_study(
    prep: Prepared, *, draws: int = 1000, seed: int = 0, **kwargs: Any
) -> dict[str, SimulationResults]:
    """Placebo (Brown-Warner) size and power of every test on the study's own data
    (``exchange -> SimulationResults``; the pipeline draws the figures)."""
    from eventstudy.simulate import simulate_from_run

    if draws < 1:
        raise ConfigError(field="--draws", value=draws, expected="a positive number of draws")
    compute = {k: v for k, v in prep.plan.compute.options().items() if k != "chunk_events"}
    compute.update(kwargs)  # the study's compute: (and the CLI's) for the chunks of draws
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return simulate_from_run(prep, draws=draws, seed=seed, **compute)


def sensitivity_study(prep: Prepared, **kwargs: Any) -> dict[str, SensitivityResults]:
    """Specification curve over models, benchmarks, estimation lengths, gaps, windows and
    return kinds (``exchange -> SensitivityResults``; the pipeline draws the curves)."""
    from eventstudy.sensitivity import sensitivity_from_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return sensitivity_from_run(prep, **kwargs)


def fetch_only(
    config: str | Path | StudyConfig | StudyPlan,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    strict: bool = False,
    workers: int | None = None,
) -> str:
    """Fetch (and cache) every price a study needs; return a table of what was fetched.

    Securities that cannot be fetched are left out of the table with a
    :class:`~eventstudy.exceptions.SkippedSecuritiesWarning` naming them (``strict``:
    :class:`~eventstudy.exceptions.FetchFailed`).
    """
    prep = prepare(
        config, prices=prices, offline=offline, refresh=refresh, quiet=quiet, strict=strict,
        workers=workers,
    )  # fmt: skip
    rows = []
    for sym, df in prep.prices.items():
        prov = df.attrs.get("provenance", {})
        rows.append(
            {
                "symbol": sym,
                "fetched as": prov.get("symbol", sym),
                "source": prov.get("source", prep.source.name),
                "first": df.index.min().date() if len(df) else None,
                "last": df.index.max().date() if len(df) else None,
                "rows": len(df),
            }
        )
    return pd.DataFrame(rows).to_string(index=False)


def events_table(config: str | Path | StudyConfig | StudyPlan) -> str:
    """Each event with its announcement and the reacting session on every exchange."""
    plan = _as_plan(config, None)
    timing = _timing(plan)
    conf = {ev.id: ev.timing_confidence for ev in plan.events}
    table = timing.assign(
        announced=timing["announced"].map(lambda t: t.isoformat()),
        session=timing["session"].dt.date,
        confidence=timing["event_id"].map(conf),
    )
    return table[["event_id", "announced", "confidence", "exchange", "session", "rule"]].to_string(
        index=False
    )
