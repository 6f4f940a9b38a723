"""Run a configured study: config -> prices -> returns -> event timing -> engine.

The runner is the only place that knows how the pieces fit for a study file:

1. :func:`load_study` reads and validates the YAML (``--prices DIR`` switches the source to
   CSV files);
2. :func:`prepare` maps every event to its reacting session on each exchange, fetches the
   prices through the cache, resolves the market benchmark per exchange (first of the
   configured symbol and its fallbacks that the source has) and computes returns aligned on
   each exchange's real sessions;
3. :func:`run_study` fits one engine per exchange group and returns a :class:`StudyRun`;
4. :mod:`eventstudy.pipeline` writes the report (atomically) under ``reports/<study>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy import calendar as cal
from eventstudy.config import StudyConfig, format_window, load_config
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
    NotCached,
    UnknownSymbol,
    format_warning,
)

__all__ = [
    "ROBUST_P",
    "ExchangeGroup",
    "Prepared",
    "Robustness",
    "StudyRun",
    "analyse",
    "events_table",
    "fetch_only",
    "headline",
    "load_study",
    "make_source",
    "prepare",
    "prepare_history",
    "run_study",
    "sensitivity_study",
    "simulate_study",
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
    analyses : dict[str, DataFrame]
        :func:`analyse` output (variants, date-only shifts, roles, overlaps, combined
        windows); empty when the run was asked for none.
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
    analyses: dict[str, Any] = field(default_factory=dict)


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
    """Prices of one optional symbol, or ``None`` when the source (or, offline, the cache)
    does not have it. A file that is there but malformed is an error, not a silent skip."""
    try:
        return _fetch([symbol], source, aliases={symbol: dict(aliases)}, quiet=True, **kw)[symbol]
    except (UnknownSymbol, NotCached):
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


# ----------------------------------------------------------------------------- analyses

#: The tests whose p-values the compact tables show (valid when firms share a date).
ROBUST_P: tuple[str, ...] = ("portfolio", "adjusted_patell", "kolari_pynnonen", "grank")
_ROLE_NAMES = {"oem": "named OEMs", "peer": "peers", "benchmark": "benchmarks", "other": "others"}


def _quiet_fit(cfg: StudyConfig, group: ExchangeGroup, **overrides: Any):
    """:func:`fit_group` without the per-fit warnings (the main run has raised them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        return fit_group(cfg, group, **overrides)


def _robust_rows(res: Any, windows: Sequence[tuple[int, int]]) -> pd.DataFrame:
    """Per event and window: mean CAR, the portfolio statistic and the robust p-values."""
    rows = []
    for w in windows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            tests = res.caar_tests(tuple(w), by="event_id")
        for eid, t in tests.groupby("event_id", sort=False):
            by = t.set_index("test")
            row: dict[str, Any] = {
                "event_id": str(eid),
                "window": format_window(w),
                "n": int(t["n"].iloc[0]),
                "caar": float(t["caar"].iloc[0]),
                "t_portfolio": float(by.loc["portfolio", "statistic"])
                if "portfolio" in by.index
                else math.nan,
            }
            for name in ROBUST_P:
                row[f"p_{name}"] = float(by.loc[name, "p_value"]) if name in by.index else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def _answer(caar: float, p: float) -> str:
    if not math.isfinite(caar):
        return "n/a"
    sign = "+" if caar > 0 else "-"
    return f"{sign} significant" if math.isfinite(p) and p < 0.05 else f"{sign} not significant"


def _variant_group(
    prep: Prepared, vcfg: StudyConfig, exchange: str, group: ExchangeGroup
) -> tuple[ExchangeGroup, dict[str, Any]] | None:
    """The group a variant fits on, and the engine overrides (None: the variant needs data
    the main run did not load)."""
    if vcfg.returns != prep.config.returns:
        return None
    overrides: dict[str, Any] = {}
    entry = vcfg.market.get(exchange)
    if entry is not None:
        col = next((c for c in entry.candidates(vcfg.source.kind) if c in group.returns), None)
        if col is None and entry.symbol in group.returns:
            col = entry.symbol
        if col is None:
            return None
        overrides["market"] = col
    return group, overrides


def _variants(prep: Prepared, results: Mapping[str, Any], **kw: Any) -> pd.DataFrame:
    """Every configured variant's mean CAR and robust p-values, beside the study's own."""
    cfg = prep.config
    if not cfg.variants:
        return pd.DataFrame()
    windows = [tuple(w) for w in cfg.car_windows]
    frames = []
    for exchange, res in results.items():
        base = _robust_rows(res, windows)
        base.insert(0, "variant", "study")
        base.insert(1, "title", f"as configured ({_spec_label(cfg, prep.groups[exchange].market)})")
        frames.append(base.assign(exchange=exchange))
    for var in cfg.variants:
        vcfg = cfg.variant(var.name)
        vprep: Prepared | None = None
        for exchange, group in prep.groups.items():
            found = _variant_group(prep, vcfg, exchange, group)
            if found is None:
                if vprep is None:
                    vprep = prepare(vcfg, **kw)
                g, overrides = vprep.groups[exchange], {}
            else:
                g, overrides = found
            res = _quiet_fit(vcfg, g, **overrides)
            rows = _robust_rows(res, [tuple(w) for w in vcfg.car_windows])
            rows.insert(0, "variant", var.name)
            market = overrides.get("market", g.market)
            rows.insert(1, "title", f"{var.title or var.name} ({_spec_label(vcfg, market)})")
            frames.append(rows.assign(exchange=exchange))
    out = pd.concat(frames, ignore_index=True)
    base = out[out["variant"] == "study"].set_index(["exchange", "event_id", "window"])
    answers, same = [], []
    for r in out.itertuples(index=False):
        ans = _answer(r.caar, r.p_portfolio)
        answers.append(ans)
        key = (r.exchange, r.event_id, r.window)
        if key in base.index:
            b = base.loc[key]
            same.append(ans == _answer(float(b["caar"]), float(b["p_portfolio"])))
        else:
            same.append(None)
    out["answer"] = answers
    out["same_answer"] = same
    lead = ["exchange", "event_id", "variant", "title", "window"]
    return out[[*lead, *[c for c in out.columns if c not in lead]]]


def _spec_label(cfg: StudyConfig, market: str) -> str:
    lo, hi = cfg.estimation
    model = {"factor": "market + " + ", ".join(f.symbol for f in cfg.factors)}.get(
        cfg.model, cfg.model
    )
    if cfg.model != "constant_mean":
        model = model.replace("market", f"market {market}", 1)
    return f"{model}; estimation [{lo},{hi}], {hi - lo + 1} sessions"


def _shifted(prep: Prepared, results: Mapping[str, Any]) -> pd.DataFrame:
    """Events timed only to the day, rerun with day 0 one session later."""
    cfg = prep.config
    ids = [ev.id for ev in cfg.events if ev.timing_confidence == "date-only"]
    if not ids:
        return pd.DataFrame()
    windows = [tuple(w) for w in cfg.car_windows]
    frames = []
    for exchange, group in prep.groups.items():
        ev = group.events[group.events["event_id"].isin(ids)]
        if ev.empty:
            continue
        index = group.returns.index
        pos = index.get_indexer(pd.DatetimeIndex(ev["event_date"]))
        if (pos + 1 >= len(index)).any():
            continue
        shifted = ev.assign(event_date=index[pos + 1])
        res_s = _quiet_fit(cfg, dataclasses.replace(group, events=shifted.reset_index(drop=True)))
        base = _robust_rows(results[exchange], windows)
        base = base[base["event_id"].isin(ids)]
        day0 = dict(zip(ev["event_id"], ev["event_date"], strict=False))
        day0_s = dict(zip(shifted["event_id"], shifted["event_date"], strict=False))
        base = base.assign(timing="as configured", day0=base["event_id"].map(day0))
        new = _robust_rows(res_s, windows)
        new = new.assign(timing="day 0 one session later", day0=new["event_id"].map(day0_s))
        frames.append(pd.concat([base, new], ignore_index=True).assign(exchange=exchange))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["answer"] = [_answer(c, p) for c, p in zip(out["caar"], out["p_portfolio"], strict=True)]
    order = {format_window(w): i for i, w in enumerate(windows)}
    out = out.assign(_w=out["window"].map(order))
    out = out.sort_values(["exchange", "event_id", "_w", "timing"], kind="stable")
    out = out.drop(columns="_w")
    lead = ["exchange", "event_id", "window", "timing", "day0"]
    return out[[*lead, *[c for c in out.columns if c not in lead]]].reset_index(drop=True)


def _roles(prep: Prepared, results: Mapping[str, Any]) -> pd.DataFrame:
    """Mean CAR of each role's portfolio (named OEMs, peers) and of each non-OEM security."""
    cfg = prep.config
    windows = [tuple(w) for w in cfg.car_windows]
    frames = []
    for exchange, group in prep.groups.items():
        secs = cfg.securities_on(exchange)
        roles = list(dict.fromkeys(str(s.role) for s in secs))
        if len(roles) < 2:
            continue
        subsets: list[tuple[str, str, list[str]]] = []
        for role in roles:
            members = [s.symbol for s in secs if s.role == role]
            subsets.append((role, f"{_ROLE_NAMES.get(role, role)} ({len(members)})", members))
        sizes = {role: sum(1 for s in secs if s.role == role) for role in roles}
        for s in secs:
            if s.role != "oem" and sizes[str(s.role)] > 1:
                subsets.append((str(s.role), f"{s.name or s.symbol} {s.symbol}", [s.symbol]))
        for role, label, members in subsets:
            ev = group.events[group.events["security"].isin(members)].reset_index(drop=True)
            if ev.empty:
                continue
            if len(members) == 1:
                res = results[exchange]
                rows = []
                for w in windows:
                    car = res.car(tuple(w))
                    car = car[car["security"].astype(str) == members[0]]
                    for r in car.itertuples(index=False):
                        rows.append(
                            {
                                "event_id": str(r.event_id),
                                "window": format_window(w),
                                "n": 1,
                                "caar": float(r.car),
                                "t_portfolio": float(r.statistic),
                                "p_portfolio": float(r.p_value),
                            }
                        )
                part = pd.DataFrame(rows)
            else:
                part = _robust_rows(_quiet_fit(cfg, dataclasses.replace(group, events=ev)), windows)
            frames.append(part.assign(exchange=exchange, role=role, subset=label))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    lead = ["exchange", "event_id", "role", "subset", "window"]
    return out[[*lead, *[c for c in out.columns if c not in lead]]]


def _overlaps(prep: Prepared, results: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where one event's windows overlap another's, and the combined window of close events.

    Returns ``(overlaps, combined)``: one row per ordered pair of events (earlier, later) on an
    exchange whose windows touch, and, for pairs whose days 0 are inside one event window, the
    earlier event's CAR from its day 0 to the later day 0 (and one session beyond).
    """
    cfg = prep.config
    est_lo, est_hi = cfg.estimation
    ew_lo, ew_hi = cfg.event_window
    rows, combined = [], []
    for exchange, group in prep.groups.items():
        index = group.returns.index
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
                windows_a = [format_window(w) for w in cfg.car_windows if w[0] <= k <= w[1]]
                windows_b = [format_window(w) for w in cfg.car_windows if w[0] <= -k <= w[1]]
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
                    part = _robust_rows(results[exchange], [w for w, *_ in spans])
                    part = part[part["event_id"] == a]
                    key = part["window"]
                    combined.append(
                        part.assign(
                            exchange=exchange,
                            combined=f"{a} + {b}",
                            second=b,
                            span=key.map({format_window(w): lab for w, lab, *_ in spans}),
                            start=key.map(
                                {format_window(w): index[max(lo_, 0)] for w, _, lo_, _ in spans}
                            ),
                            end=key.map(
                                {format_window(w): index[min(hi_, last)] for w, _, _, hi_ in spans}
                            ),
                        )
                    )
    over = pd.DataFrame(rows)
    comb = pd.concat(combined, ignore_index=True) if combined else pd.DataFrame()
    if len(comb):
        lead = ["exchange", "combined", "event_id", "second", "window", "span", "start", "end"]
        comb = comb[[*lead, *[c for c in comb.columns if c not in lead]]]
    return over, comb


def analyse(
    prep: Prepared,
    results: Mapping[str, Any],
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
      (sign, and significance of the portfolio test at 5%) and whether it is the study's;
    - ``shifted``: events whose time is known only to the day, rerun with day 0 one session
      later (same columns, ``timing`` says which);
    - ``roles``: the portfolio of each role (``oem``, ``peer``...) and every non-OEM security
      alone (its own CAR t-test);
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
    analyses: bool = True,
) -> StudyRun:
    """Run a study end to end (no files written) and return a :class:`StudyRun`.

    With ``analyses`` (the default) the run also answers the follow-up questions of
    :func:`analyse` (variants, date-only shifts, roles, overlapping windows).
    """
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
    tables = (
        analyse(prep, results, offline=offline, refresh=refresh, notes=notes) if analyses else {}
    )
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
        analyses=tables,
    )


def headline(run: StudyRun) -> str:
    """What ``eventstudy run`` prints: per event and CAR window the mean CAR, the portfolio
    t, the robust p-values and how many tests reject at 5%; then the analyses in short."""
    from eventstudy.stats import CLUSTER_ROBUST_TESTS

    def pct(x: float) -> str:
        return "" if not math.isfinite(x) else f"{x * 100:+.2f}%"

    def p(x: float) -> str:
        return "" if not math.isfinite(x) else f"{x:.4f}"

    lines = []
    windows = [tuple(w) for w in run.config.car_windows]
    for exchange, res in run.results.items():
        rows = []
        for w in windows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EventStudyWarning)
                tests = res.caar_tests(w, by="event_id")
            for eid, t in tests.groupby("event_id", sort=False):
                by = t.set_index("test")
                ok = t.dropna(subset=["p_value"])
                robust = ok[ok["test"].isin(CLUSTER_ROBUST_TESTS)]
                rows.append(
                    {
                        "event": str(eid),
                        "window": format_window(w),
                        "mean CAR": pct(float(t["caar"].iloc[0])),
                        "port. t": f"{float(by.loc['portfolio', 'statistic']):.2f}",
                        **{
                            f"p {k}": p(float(by.loc[k, "p_value"]) if k in by.index else math.nan)
                            for k in ROBUST_P
                        },
                        "robust p<.05": f"{int((robust['p_value'] < 0.05).sum())}/{len(robust)}",
                        "all p<.05": f"{int((ok['p_value'] < 0.05).sum())}/{len(ok)}",
                        "rejecting at 5%": ", ".join(ok.loc[ok["p_value"] < 0.05, "test"])
                        or "none",
                    }
                )
        order = {ev.id: i for i, ev in enumerate(run.config.events)}
        frame = pd.DataFrame(rows)
        frame = frame.iloc[frame["event"].map(order).argsort(kind="stable")]
        lines.append(f"Mean CAR per event ({exchange}, {run.market.get(exchange)}):")
        lines.append(frame.to_string(index=False))
    a = run.analyses
    if "roles" in a:
        r = a["roles"][a["roles"]["window"].isin(["(0,0)", "(0,+1)"])]
        rank = {ev.id: i for i, ev in enumerate(run.config.events)}
        r = r.iloc[r["event_id"].map(rank).argsort(kind="stable")]
        lines += ["", "Named OEMs and peers (mean CAR, p portfolio / own t-test):"]
        show = r.assign(caar=r["caar"].map(pct), p_portfolio=r["p_portfolio"].map(p)).pivot_table(
            index=["event_id", "subset"],
            columns="window",
            values=["caar", "p_portfolio"],
            aggfunc="first",
            sort=False,
        )
        lines.append(show.to_string())
    if "shifted" in a:
        s = a["shifted"]
        lines += ["", "Date-only events, day 0 as configured vs one session later:"]
        lines.append(
            s.assign(
                day0=s["day0"].dt.strftime("%Y-%m-%d"),
                caar=s["caar"].map(pct),
                p_portfolio=s["p_portfolio"].map(p),
            )[["event_id", "window", "timing", "day0", "caar", "p_portfolio"]].to_string(
                index=False
            )
        )
    if "combined" in a:
        c = a["combined"]
        lines += ["", "Combined windows of close events:"]
        lines.append(
            c.assign(
                start=c["start"].dt.strftime("%Y-%m-%d"),
                end=c["end"].dt.strftime("%Y-%m-%d"),
                caar=c["caar"].map(pct),
                p_portfolio=c["p_portfolio"].map(p),
            )[["combined", "window", "start", "end", "caar", "p_portfolio"]].to_string(index=False)
        )
    if "variants" in a:
        v = a["variants"]
        changed = v[v["same_answer"] == False]  # noqa: E712
        lines += ["", f"Variants ({', '.join(dict.fromkeys(v['variant']))}): "]
        lines[-1] += (
            "the answer (sign, portfolio test at 5%) is the same under every variant."
            if changed.empty
            else "the answer changes in "
            + "; ".join(
                f"{r.event_id} {r.variant} {r.window} ({r.answer}, mean CAR {pct(r.caar)})"
                for r in changed.itertuples()
            )
            + "."
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- robustness lab


def prepare_history(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    quiet: bool = True,
    years: float = 5.0,
) -> Prepared:
    """:func:`prepare` with ``years`` of history before the first announcement (and every
    session after it up to today), as placebo simulations and specification curves need.

    A study that sets ``data_start``/``data_end`` keeps them.
    """
    cfg = load_study(config, prices)
    update: dict[str, Any] = {}
    if cfg.data_start is None:
        first = min(pd.Timestamp(ev.announced) for ev in cfg.events).tz_convert("UTC")
        update["data_start"] = (
            first.tz_localize(None) - pd.Timedelta(days=round(365.25 * years))
        ).date()
    if cfg.data_end is None:
        update["data_end"] = datetime.now(UTC).date()
    if update:
        cfg = cfg.model_copy(update=update)
    return prepare(cfg, offline=offline, refresh=refresh, quiet=quiet)


@dataclass(frozen=True)
class Robustness:
    """What ``eventstudy simulate`` / ``sensitivity`` (or ``run --simulate/--sensitivity``)
    computed, ready for a report: text, figures (caption -> Figure) and tables (name -> frame).
    """

    text: list[str]
    figures: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def _per_exchange(name: str, exchange: str, many: bool) -> str:
    return f"{name} ({exchange})" if many else name


def simulate_study(
    prep: Prepared, *, draws: int = 1000, seed: int = 0, **kwargs: Any
) -> Robustness:
    """Placebo (Brown-Warner) size and power of every test on the study's own data."""
    from eventstudy.figures_robustness import power_curves, size_bars
    from eventstudy.simulate import simulate_from_run

    if draws < 1:
        raise ConfigError(field="--draws", value=draws, expected="a positive number of draws")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        sims = simulate_from_run(prep, draws=draws, seed=seed, **kwargs)
    many = len(sims) > 1
    text, figs, tables = [], {}, {}
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


def sensitivity_study(prep: Prepared, *, securities: bool = True, **kwargs: Any) -> Robustness:
    """Specification curve over models, benchmarks, estimation lengths, gaps, windows and
    return kinds; the portfolio curve of each event (and each security's, with
    ``securities``)."""
    from eventstudy.figures_robustness import specification_curve
    from eventstudy.sensitivity import sensitivity_from_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        sens = sensitivity_from_run(prep, **kwargs)
    many = len(sens) > 1
    names = {s.symbol: s.name or s.symbol for s in prep.config.securities}
    text, figs, tables = [], {}, {}
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
