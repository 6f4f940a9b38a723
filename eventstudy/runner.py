"""Run a configured study: config -> prices -> returns -> event timing -> engine.

The runner is the only place that knows how the pieces fit for a study file:

1. :func:`load_study` reads and validates the YAML (``--prices DIR`` switches the source to
   CSV files);
2. :func:`prepare` maps every event to its reacting session on each exchange, fetches the
   prices through the cache, resolves the market benchmark per exchange (first of the
   configured symbol and its fallbacks that the source has) and computes returns aligned on
   each exchange's real sessions;
3. :func:`run_study` fits one engine per exchange group and returns a :class:`StudyRun`;
4. :func:`run_and_write` also writes the report (atomically) under ``reports/<study>/``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy import calendar as cal
from eventstudy.config import StudyConfig, load_config
from eventstudy.data import (
    CsvSource,
    PriceSource,
    SimulatedSource,
    YahooSource,
    compute_returns,
    load_prices,
    resolve_symbol,
)
from eventstudy.exceptions import (
    ConfigError,
    DataError,
    EventStudyWarning,
    ExcludedEventWarning,
    UnknownSymbol,
    format_warning,
)

__all__ = [
    "ExchangeGroup",
    "Prepared",
    "StudyRun",
    "events_table",
    "fetch_only",
    "load_study",
    "make_source",
    "prepare",
    "run_and_write",
    "run_study",
]

#: calendar days fetched per session of estimation/event window, plus a margin
_DAYS_PER_SESSION = 1.55
_MARGIN_DAYS = 21


@dataclass(frozen=True)
class StudyRun:
    """Everything one run of a study produced, as the report consumes it.

    Attributes
    ----------
    config : StudyConfig
        The validated study.
    config_path : Path or None
        Where the study was read from.
    config_hash : str
        SHA-256 of the study file's bytes (first 12 hex digits).
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
    provenance : dict
        package and dependency versions, data source per symbol with fetch time, run time.
    notes : list[str]
        human-readable warnings raised during the run.
    """

    config: Any
    config_path: Path | None
    config_hash: str
    timing: Any
    prices: dict[str, Any]
    returns: dict[str, Any]
    results: dict[str, Any]
    market: dict[str, str]
    dossiers: dict[str, str]
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)


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
        Factor columns (used by ``model: factor``).
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
    """A study ready for the engine: config, timing, prices and per-exchange inputs."""

    config: StudyConfig
    config_path: Path | None
    config_hash: str
    source: Any
    timing: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    groups: dict[str, ExchangeGroup]
    notes: list[str]


# ----------------------------------------------------------------------------- loading


def load_study(config: str | Path | StudyConfig, prices: str | Path | None = None) -> StudyConfig:
    """Read a study (``--prices DIR`` switches its source to CSV files in ``DIR``)."""
    cfg = config if isinstance(config, StudyConfig) else load_config(config)
    if prices is not None:
        path = Path(prices).expanduser()
        if not path.exists():
            raise ConfigError(
                field="--prices",
                value=str(prices),
                expected="an existing folder of per-symbol CSV files or one CSV file",
            )
        cfg = cfg.with_source("csv", prices=str(path.resolve()))
    return cfg


def _config_hash(cfg: StudyConfig) -> str:
    data = cfg.file.read_bytes() if cfg.file is not None and cfg.file.is_file() else None
    if data is None:
        data = cfg.model_dump_json().encode()
    return hashlib.sha256(data).hexdigest()[:12]


def _injected(cfg: StudyConfig, timing: pd.DataFrame) -> dict[tuple[str, Any], float]:
    out: dict[tuple[str, Any], float] = {}
    for inj in cfg.source.injected:
        for sec in cfg.securities:
            if inj.security not in ("*", sec.symbol):
                continue
            row = timing[(timing["event_id"] == inj.event) & (timing["exchange"] == sec.exchange)]
            if row.empty:
                continue
            day0 = row["session"].iloc[0]
            date = cal.session_offset(str(sec.exchange), day0, int(inj.day))
            out[(sec.symbol, date)] = out.get((sec.symbol, date), 0.0) + float(inj.ar)
    return out


def make_source(cfg: StudyConfig, timing: pd.DataFrame | None = None) -> PriceSource:
    """The price source the study names (Yahoo, a CSV folder, or the simulation)."""
    kind = cfg.source.kind
    if kind == "csv":
        path = cfg.prices_path
        if path is None or not path.exists():
            raise ConfigError(
                field="source.prices",
                value=str(path),
                expected="an existing folder of CSV files (or pass --prices DIR)",
                file=str(cfg.file) if cfg.file else None,
            )
        return CsvSource(path)
    if kind == "simulated":
        if timing is None:
            timing = cal.event_timing(cfg.events, cfg.exchanges)
        exchange = cfg.exchanges[0]
        market = cfg.market[exchange]
        start = cfg.source.start or (timing["session"].min() - pd.Timedelta(days=500))
        end = cfg.source.end or (timing["session"].max() + pd.Timedelta(days=60))
        options: dict[str, Any] = {}
        for name in ("betas", "idio_vol", "market_vol", "industry_vol"):
            value = getattr(cfg.source, name)
            if value is not None:
                options[name] = value
        return SimulatedSource(
            cfg.source.seed if cfg.source.seed is not None else 0,
            start,
            end,
            [s.symbol for s in cfg.securities],
            market_symbol=resolve_symbol(market.symbol, market.aliases, "simulated"),
            injected=_injected(cfg, timing),
            sessions=cal.sessions(exchange, start, end),
            **options,
        )
    return YahooSource()


def _fetch_range(cfg: StudyConfig, timing: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    first, last = timing["session"].min(), timing["session"].max()
    longest_variant_start = min(
        [cfg.estimation[0], cfg.event_window[0]]
        + [v.estimation[0] for v in cfg.variants if v.estimation is not None]
    )
    back = math.ceil(-min(longest_variant_start, 0) * _DAYS_PER_SESSION) + _MARGIN_DAYS
    ahead = math.ceil(max(cfg.event_window[1], 0) * _DAYS_PER_SESSION) + _MARGIN_DAYS
    start = pd.Timestamp(cfg.data_start) if cfg.data_start else first - pd.Timedelta(days=back)
    end = pd.Timestamp(cfg.data_end) if cfg.data_end else last + pd.Timedelta(days=ahead)
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


def _try_fetch(symbol: str, aliases: Mapping[str, str], source: PriceSource, **kw: Any):
    """Prices of one optional symbol, or ``None`` when the source does not have it."""
    try:
        return _fetch([symbol], source, aliases={symbol: dict(aliases)}, quiet=True, **kw)[symbol]
    except (UnknownSymbol, DataError):
        return None


def prepare(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
) -> Prepared:
    """Load a study and build the engine inputs of every exchange group.

    Parameters
    ----------
    config : path or StudyConfig
        The study.
    prices : path, optional
        A folder of per-symbol CSVs (or one CSV) to read instead of the study's source.
    offline, refresh : bool
        Cache behaviour for remote sources (never touch the network / refetch everything).
    quiet : bool
        No progress bar.

    Returns
    -------
    Prepared
    """
    cfg = load_study(config, prices)
    timing = cal.event_timing(cfg.events, cfg.exchanges)
    source = make_source(cfg, timing)
    start, end = _fetch_range(cfg, timing)
    kw = {"offline": offline, "refresh": refresh, "start": start, "end": end}
    notes: list[str] = []

    sec_aliases = {s.symbol: dict(s.aliases) for s in cfg.securities}
    all_prices = _fetch(
        [s.symbol for s in cfg.securities],
        source,
        aliases=sec_aliases,
        quiet=quiet,
        **kw,
    )

    factor_cols: list[str] = []
    for fac in cfg.factors:
        df = _try_fetch(fac.symbol, fac.aliases, source, **kw)
        if df is None:
            notes.append(f"factor {fac.symbol}: not available from {source.name}; left out")
            continue
        all_prices[fac.symbol] = df
        factor_cols.append(fac.symbol)

    groups: dict[str, ExchangeGroup] = {}
    for exchange in cfg.exchanges:
        entry = cfg.market.get(exchange)
        if entry is None:
            raise ConfigError(
                field=f"market.{exchange}",
                value=None,
                expected=f"a benchmark for {exchange} (e.g. market: {{{exchange}: SYMBOL}})",
                file=str(cfg.file) if cfg.file else None,
            )
        candidates = [entry.symbol, *entry.fallbacks]
        found: dict[str, pd.DataFrame] = {}
        for sym in candidates:
            if sym in found:
                continue
            df = _try_fetch(sym, entry.aliases if sym == entry.symbol else {}, source, **kw)
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

        securities = [s.symbol for s in cfg.securities_on(exchange)]
        columns = [*securities, *found, *factor_cols]
        frames = {c: all_prices[c] for c in columns}
        lo = max(start, min(frames[s].index.min() for s in securities))
        hi = min(end, max(frames[s].index.max() for s in securities))
        sessions = cal.sessions(exchange, lo, hi)
        returns = compute_returns(frames, sessions, kind=cfg.returns, exchange=exchange)

        rows = []
        for i, ev in enumerate(cfg.events):
            t = timing[(timing["event_id"] == ev.id) & (timing["exchange"] == exchange)]
            day0 = t["session"].iloc[0]
            _check_inside_data(cfg, i, ev.id, exchange, day0, returns.index)
            for sec in ev.securities or securities:
                if sec in securities:
                    rows.append({"event_id": ev.id, "security": sec, "event_date": day0})
        events = pd.DataFrame(rows, columns=["event_id", "security", "event_date"])
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
        config=cfg,
        config_path=cfg.file,
        config_hash=_config_hash(cfg),
        source=source,
        timing=timing,
        prices=all_prices,
        groups=groups,
        notes=notes,
    )


def _check_inside_data(
    cfg: StudyConfig, i: int, event_id: str, exchange: str, day0: pd.Timestamp, index: pd.Index
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


def fit_group(cfg: StudyConfig, group: ExchangeGroup, **overrides: Any):
    """Fit the engine on one exchange group (keyword ``overrides`` replace config values)."""
    from eventstudy.study import event_study

    opts: dict[str, Any] = {
        "market": group.market,
        "model": cfg.model,
        "factors": group.factors if cfg.model == "factor" else None,
        "estimation": tuple(cfg.estimation),
        "window": tuple(cfg.event_window),
        "min_estimation_obs": cfg.min_estimation_obs,
        "convention": cfg.convention,
    }
    opts.update(overrides)
    if opts["model"] == "factor" and not opts["factors"]:
        raise ConfigError(
            field="model",
            value="factor",
            expected="factors the source has (e.g. JPY=X), or another model",
            file=str(cfg.file) if cfg.file else None,
        )
    return event_study(group.returns, group.events, **opts)


def _dossiers(cfg: StudyConfig) -> dict[str, str]:
    out = {}
    for ev in cfg.events:
        path = cfg.dossier_path(ev)
        if path is not None and path.is_file():
            out[ev.id] = path.read_text(encoding="utf-8")
    return out


def _provenance(prep: Prepared, started: datetime) -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for dist in (
        "oem-eventstudy",
        "pandas",
        "numpy",
        "scipy",
        "statsmodels",
        "plotly",
        "yfinance",
        "exchange-calendars",
        "pydantic",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[dist] = "not installed"
    sources = {}
    for sym, df in prep.prices.items():
        prov = dict(df.attrs.get("provenance", {}))
        sources[sym] = {
            "source": prov.get("source", getattr(prep.source, "name", "?")),
            "fetched_symbol": prov.get("symbol", sym),
            "fetched_at": prov.get("fetched_at"),
            "first": str(df.index.min().date()) if len(df) else None,
            "last": str(df.index.max().date()) if len(df) else None,
        }
    return {
        "versions": versions,
        "sources": sources,
        "config_file": str(prep.config_path) if prep.config_path else None,
        "config_hash": prep.config_hash,
        "run_started": started.isoformat(timespec="seconds"),
        "run_finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run_study(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
) -> StudyRun:
    """Run a study end to end (no files written) and return a :class:`StudyRun`."""
    started = datetime.now(UTC)
    prep = prepare(config, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
    results = {}
    notes = list(prep.notes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EventStudyWarning)
        for exchange, group in prep.groups.items():
            results[exchange] = res = fit_group(prep.config, group)
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
    return StudyRun(
        config=prep.config,
        config_path=prep.config_path,
        config_hash=prep.config_hash,
        timing=prep.timing,
        prices=prep.prices,
        returns={ex: g.returns for ex, g in prep.groups.items()},
        results=results,
        market={ex: g.market for ex, g in prep.groups.items()},
        dossiers=_dossiers(prep.config),
        provenance=_provenance(prep, started),
        notes=list(dict.fromkeys(notes)),
    )


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
) -> Path:
    """Run a study and write its report; returns the path of ``index.html``.

    The report goes to ``<out>/<study name>/`` (``out`` defaults to the study's
    ``output.dir``, itself relative to the project folder). It is written to a temporary
    folder and renamed into place, so a failed run leaves the previous report intact.
    """
    from eventstudy import report

    run = run_study(config, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
    cfg = run.config
    target = cfg.report_dir(out)
    base = Path(out) if out is not None else cfg.root / cfg.output.dir
    if not _inside(target, base):  # pragma: no cover - name is a validated slug
        raise ConfigError(field="name", value=cfg.name, expected="a plain folder name")
    wanted_images = images or tuple(
        [cfg.output.image_format] if getattr(cfg.output, "images", None) else []
    )
    return report.write(
        run,
        target,
        plotlyjs=plotlyjs or cfg.output.plotlyjs,
        images=wanted_images,
        windows=[tuple(w) for w in cfg.car_windows],
    )


def fetch_only(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
) -> str:
    """Fetch (and cache) every price a study needs; return a table of what was fetched."""
    prep = prepare(config, prices=prices, offline=offline, refresh=refresh, quiet=quiet)
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


def events_table(config: str | Path | StudyConfig) -> str:
    """Each event with its announcement and the reacting session on every exchange."""
    cfg = load_study(config)
    timing = cal.event_timing(cfg.events, cfg.exchanges)
    conf = {ev.id: ev.timing_confidence for ev in cfg.events}
    table = timing.assign(
        announced=timing["announced"].map(lambda t: t.isoformat()),
        session=timing["session"].dt.date,
        confidence=timing["event_id"].map(conf),
    )
    return table[["event_id", "announced", "confidence", "exchange", "session", "rule"]].to_string(
        index=False
    )
