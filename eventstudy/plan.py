"""A study resolved once into the typed plan the runner walks down.

:class:`~eventstudy.config.StudyConfig` is data: what the YAML file says. What that means
for a run is decided here, once, by :func:`plan_study`: where the prices come from (the
``--prices`` override included), which securities trade on which exchange and against which
benchmark, each event with its dossier path, the engine settings, each variant as a plan of
its own, the pools, the headline window of the verdicts and where the report goes. The
runner, the report and the CLI read the plan; none of them calls back into the config.

Module chain: ``config -> plan -> data -> ...`` (this module imports only the config and the
exceptions).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from eventstudy.config import (
    Characteristic,
    Event,
    Factor,
    MarketIndex,
    Security,
    SourceConfig,
    StudyConfig,
    format_window,
    load_config,
    merge_variant,
)
from eventstudy.exceptions import ConfigError
from eventstudy.parallel import Backend, check_compute
from eventstudy.vocabulary import FACTOR_HOME_EXCHANGE, FACTOR_PRESET_NAMES, Window

__all__ = [
    "ComputePlan",
    "CrossSectionPlan",
    "EnginePlan",
    "EventPlan",
    "ExchangePlan",
    "FactorsPlan",
    "OutputPlan",
    "PoolPlan",
    "RegressionPlan",
    "StudyPlan",
    "VariantPlan",
    "VolumePlan",
    "Window",
    "plan_study",
    "with_compute",
    "with_prices",
]


#: Display names of the security roles (plural, for portfolios).
ROLE_NAMES: dict[str, str] = {
    "oem": "named OEMs",
    "peer": "peers",
    "benchmark": "benchmarks",
    "other": "others",
}
#: Display names of the security roles (one security).
ROLE_LABELS: dict[str, str] = {
    "oem": "named OEM",
    "peer": "peer",
    "benchmark": "benchmark",
    "other": "other",
}


@dataclass(frozen=True)
class ComputePlan:
    """Where the main fit's chunks of whole events run (``compute:``, or the CLI's
    ``--backend``/``--scheduler``/``--compute-workers``); see :mod:`eventstudy.parallel`.

    ``backend=None`` is the engine in this process. ``scheduler`` is a Dask scheduler
    address (``None``: a local cluster of ``workers``).
    """

    backend: Backend | None = None
    scheduler: str | None = None
    workers: int | None = None
    chunk_events: int | None = None

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`eventstudy.study.event_study` (none when in
        process and unchunked, so the in-process path stays exactly as it was)."""
        out: dict[str, Any] = {}
        if self.backend is not None:
            out["backend"] = self.backend
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler
        if self.workers is not None:
            out["workers"] = self.workers
        if self.chunk_events is not None:
            out["chunk_events"] = self.chunk_events
        return out

    @property
    def label(self) -> str:
        """How the run says where it computed, e.g. ``dask (tcp://10.0.0.5:8786)``."""
        if self.backend is None:
            return "in process"
        where = self.scheduler or (f"{self.workers} workers" if self.workers else "local")
        return f"{self.backend} ({where})"


@dataclass(frozen=True)
class EnginePlan:
    """What one fit of the engine needs besides the returns and the events.

    Attributes
    ----------
    model, convention, returns : str
        Expected-return model, test convention, return kind (``simple``/``log``).
    estimation, window : Window
        Estimation and event windows (relative days, inclusive).
    min_estimation_obs : int
    car_windows : tuple of Window
        The CAR windows every table reports.
    tests : tuple of str
    """

    model: str
    convention: str
    returns: str
    estimation: Window
    window: Window
    min_estimation_obs: int
    car_windows: tuple[Window, ...]
    tests: tuple[str, ...]


@dataclass(frozen=True)
class ExchangePlan:
    """The securities listed on one exchange and their benchmark (one engine per exchange)."""

    exchange: str
    securities: tuple[Security, ...]
    market: MarketIndex | None

    @property
    def symbols(self) -> list[str]:
        """The securities' symbols, in study order."""
        return [s.symbol for s in self.securities]


@dataclass(frozen=True)
class EventPlan:
    """One announcement, with its dossier resolved to a path."""

    id: str
    title: str
    announced: datetime
    timing_confidence: str
    tags: tuple[str, ...]
    securities: tuple[str, ...] | None
    dossier: Path | None


@dataclass(frozen=True)
class PoolPlan:
    """Events the study asks to pool into one (labelled) answer."""

    name: str
    title: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class OutputPlan:
    """Where and how the report is written."""

    report_dir: Path
    output_root: Path
    plotlyjs: str
    fragments: str
    car_from: int
    images: tuple[str, ...]
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class FactorsPlan:
    """Published Fama-French factors for ``model: ff3 | ff5 | carhart`` (or a variant's).

    Attributes
    ----------
    presets : tuple of str
        The presets the study and its variants use (the datasets to load follow).
    regions : dict of str to str
        Exchange -> factor region (``japan``, ``us``).
    folder : Path or None
        A folder of library files read in place (``fama_french.dir``), else the cache.
    """

    presets: tuple[str, ...]
    regions: dict[str, str]
    folder: Path | None


@dataclass(frozen=True)
class VolumePlan:
    """Abnormal volume and volatility: the measure, the windows, shares outstanding."""

    measure: str
    windows: tuple[Window, ...]
    shares: dict[str, float]


@dataclass(frozen=True)
class RegressionPlan:
    """One cross-sectional regression of CARs (see :class:`~eventstudy.config.Regression`)."""

    name: str
    title: str
    formula: str
    window: Window
    weights: str
    cov: str


@dataclass(frozen=True)
class CrossSectionPlan:
    """The characteristics file (``None``: the securities' own characteristics,
    :attr:`StudyPlan.characteristics`) and the regressions of CARs on them."""

    data: Path | None
    regressions: tuple[RegressionPlan, ...]


@dataclass(frozen=True)
class VariantPlan:
    """A named alternative specification, as a complete plan of its own."""

    name: str
    title: str
    plan: StudyPlan


@dataclass(frozen=True)
class StudyPlan:
    """A study ready to run (see the module docstring).

    Attributes
    ----------
    config : StudyConfig
        The validated study it was resolved from (the robustness lab reads its settings).
    name, title, description : str
    file : Path or None
        The study file; ``config_hash`` is the SHA-256 of its bytes (12 hex digits).
    root : Path
        The project folder (dossiers and relative paths resolve against it).
    source : SourceConfig
        Where prices come from (``--prices DIR`` makes it ``csv`` on ``DIR``);
        ``prices_path`` is its folder resolved against ``root``; ``prices_paths`` every
        folder or file of a ``prices:`` list, searched in order (the first is
        ``prices_path``).
    exchanges : tuple of ExchangePlan
        One per exchange, in order of first appearance.
    factors : tuple of Factor
    events : tuple of EventPlan
    engine : EnginePlan
    headline_window : Window
        The CAR window of each event's verdict.
    pools : tuple of PoolPlan
    variants : tuple of VariantPlan
    output : OutputPlan
    data_start, data_end : date or None
    compute : ComputePlan
        Where the main fit runs (``compute:`` and the CLI's overrides).
    characteristics : dict
        Symbol -> the security's firm characteristics (the securities that have some).
    """

    config: StudyConfig
    name: str
    title: str
    description: str
    file: Path | None
    root: Path
    config_hash: str
    source: SourceConfig
    prices_path: Path | None
    exchanges: tuple[ExchangePlan, ...]
    factors: tuple[Factor, ...]
    events: tuple[EventPlan, ...]
    engine: EnginePlan
    headline_window: Window
    pools: tuple[PoolPlan, ...]
    variants: tuple[VariantPlan, ...]
    output: OutputPlan
    data_start: date | None = None
    data_end: date | None = None
    labels: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    fama_french: FactorsPlan | None = None
    volume: VolumePlan | None = None
    cross_section: CrossSectionPlan | None = None
    compute: ComputePlan = field(default_factory=ComputePlan)
    prices_paths: tuple[Path, ...] = ()
    characteristics: dict[str, dict[str, Characteristic]] = field(default_factory=dict)

    @property
    def securities(self) -> list[Security]:
        """Every security, in study order."""
        return [s for ex in self.exchanges for s in ex.securities]

    def exchange(self, code: str) -> ExchangePlan:
        """The plan of exchange ``code`` (``KeyError`` if the study has none there)."""
        for ex in self.exchanges:
            if ex.exchange == code:
                return ex
        raise KeyError(code)

    def event(self, event_id: str) -> EventPlan:
        """The event ``event_id`` (``KeyError`` if absent)."""
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise KeyError(event_id)

    @property
    def window_labels(self) -> list[str]:
        """The CAR windows as papers write them, e.g. ``"(0,+1)"``."""
        return [format_window(w) for w in self.engine.car_windows]


def _config_hash(cfg: StudyConfig) -> str:
    data = cfg.file.read_bytes() if cfg.file is not None and cfg.file.is_file() else None
    if data is None:
        data = cfg.model_dump_json().encode()
    return hashlib.sha256(data).hexdigest()[:12]


def _prices_override(prices: str | Path) -> SourceConfig:
    path = Path(prices).expanduser()
    if not path.exists():
        raise ConfigError(
            field="--prices",
            value=str(prices),
            expected="an existing folder of per-symbol CSV files or one CSV file",
        )
    return SourceConfig(kind="csv", prices=str(path.resolve()))


def _headline(cfg: StudyConfig) -> Window:
    if cfg.headline_window is not None:
        return tuple(cfg.headline_window)  # type: ignore[return-value]
    windows = [tuple(w) for w in cfg.car_windows]
    return (0, 1) if (0, 1) in windows else windows[0]  # type: ignore[return-value]


def _car_from(cfg: StudyConfig) -> int:
    """The day the CAR chart cumulates from: as written, else -1 moved inside the event
    window (an event window ``[0, 0]`` starts the chart on day 0)."""
    if cfg.output.car_from is not None:
        return cfg.output.car_from
    lo, hi = cfg.event_window
    return min(max(-1, lo), hi)


def _pools(cfg: StudyConfig) -> tuple[PoolPlan, ...]:
    out = []
    for i, pool in enumerate(cfg.pool):
        if pool.events is not None:
            members = tuple(pool.events)
        else:
            members = tuple(ev.id for ev in cfg.events if pool.tag in ev.tags)
        name = pool.name or (f"pool_{pool.tag}" if pool.tag else f"pool{i + 1}")
        title = pool.title or (
            f"Pool of the {len(members)} events tagged {pool.tag}"
            if pool.tag
            else f"Pool of {len(members)} events"
        )
        out.append(PoolPlan(name=name, title=title, events=members))
    return tuple(out)


def _variant_config(cfg: StudyConfig, name: str) -> StudyConfig:
    """The study with variant ``name``'s overrides (re-validated; no variants, pools or
    headline of its own)."""
    var = next(v for v in cfg.variants if v.name == name)
    data = cfg.model_dump(mode="python", exclude={"variants", "pool", "headline_window"})
    data.update(merge_variant(cfg, var))
    lo, hi = data["event_window"]
    if data["output"]["car_from"] is not None:
        data["output"]["car_from"] = min(max(data["output"]["car_from"], lo), hi)
    if var.title:
        data["title"] = var.title
    new = StudyConfig.model_validate(data)
    new._file, new._root = cfg.file, cfg._root
    return new


def plan_study(
    config: str | Path | StudyConfig,
    *,
    prices: str | Path | None = None,
    out: str | Path | None = None,
) -> StudyPlan:
    """Resolve a study (a YAML path or a validated :class:`StudyConfig`) into a plan.

    Parameters
    ----------
    config : path or StudyConfig
    prices : path, optional
        A folder of per-symbol CSV files (or one CSV) that replaces the study's source.
    out : path, optional
        The folder the report goes under (default: the study's ``output.dir``).

    Raises
    ------
    ConfigError
        The study file is invalid, or ``prices`` does not exist.
    """
    cfg = config if isinstance(config, StudyConfig) else load_config(config)
    return _plan(cfg, _prices_override(prices) if prices is not None else None, out)


def with_prices(plan: StudyPlan, prices: str | Path) -> StudyPlan:
    """``plan`` (and its variants) reading prices from the CSV folder or file ``prices``."""
    source = _prices_override(prices)
    path = Path(str(source.prices))
    return dataclasses.replace(
        plan,
        source=source,
        prices_path=path,
        prices_paths=(path,),
        variants=tuple(
            dataclasses.replace(v, plan=with_prices(v.plan, path)) for v in plan.variants
        ),
    )


def _plan(cfg: StudyConfig, source: SourceConfig | None, out: str | Path | None) -> StudyPlan:
    root = cfg.root
    src = source if source is not None else cfg.source
    given = [src.prices] if isinstance(src.prices, str) else list(src.prices or [])
    prices_paths = tuple(_resolve(root, p) for p in given)
    prices_path = prices_paths[0] if prices_paths else None
    exchanges = tuple(
        ExchangePlan(
            exchange=ex,
            securities=tuple(s for s in cfg.securities if s.exchange == ex),
            market=cfg.market.get(ex),
        )
        for ex in cfg.exchanges
    )
    events = tuple(_event(ev, root) for ev in cfg.events)
    output_root = Path(out) if out is not None else root / cfg.output.dir
    report_dir = output_root / cfg.name
    variants = tuple(
        VariantPlan(
            name=var.name,
            title=var.title or var.name,
            plan=_plan(_variant_config(cfg, var.name), source, out),
        )
        for var in cfg.variants
    )
    return StudyPlan(
        config=cfg,
        name=cfg.name,
        title=cfg.title or cfg.name,
        description=cfg.description,
        file=cfg.file,
        root=root,
        config_hash=_config_hash(cfg),
        source=src,
        prices_path=prices_path,
        exchanges=exchanges,
        factors=tuple(cfg.factors),
        events=events,
        engine=EnginePlan(
            model=cfg.model,
            convention=cfg.convention,
            returns=cfg.returns,
            estimation=tuple(cfg.estimation),  # type: ignore[arg-type]
            window=tuple(cfg.event_window),  # type: ignore[arg-type]
            min_estimation_obs=cfg.min_estimation_obs,
            car_windows=tuple(tuple(w) for w in cfg.car_windows),  # type: ignore[misc]
            tests=tuple(cfg.tests),
        ),
        headline_window=_headline(cfg),
        pools=_pools(cfg),
        variants=variants,
        output=OutputPlan(
            report_dir=report_dir,
            output_root=output_root,
            plotlyjs=cfg.output.plotlyjs,
            fragments=cfg.output.fragments,
            car_from=_car_from(cfg),
            images=(cfg.output.image_format,) if cfg.output.images else (),
            formats=tuple(cfg.output.formats),
        ),
        data_start=cfg.data_start,
        data_end=cfg.data_end,
        labels={s.symbol: s.name for s in cfg.securities if s.name},
        roles={s.symbol: str(s.role) for s in cfg.securities},
        fama_french=_factors_plan(cfg, root),
        volume=_volume_plan(cfg),
        cross_section=_cross_section_plan(cfg, root),
        compute=ComputePlan(
            backend=cfg.compute.backend,
            scheduler=cfg.compute.address,
            workers=cfg.compute.workers,
            chunk_events=cfg.compute.chunk_events,
        ),
        prices_paths=prices_paths,
        characteristics={
            s.symbol: dict(s.characteristics) for s in cfg.securities if s.characteristics
        },
    )


def with_compute(
    plan: StudyPlan,
    *,
    backend: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> StudyPlan:
    """``plan`` with the CLI's compute options over the study's ``compute:``.

    ``backend``: ``"processes"``, ``"dask"`` or ``"none"`` (in this process); ``scheduler``
    (a Dask address) implies ``dask``. A backend other than the study's drops the study's
    address; ``workers`` replaces the study's.

    Raises
    ------
    ConfigError
        Options that do not go together (one line naming the option).
    """
    if backend is None and scheduler is None and workers is None:
        return plan
    current = plan.compute
    chosen: str | None = current.backend
    address = current.scheduler
    if backend is not None:
        chosen = None if backend == "none" else backend
        if chosen != current.backend:
            address = None
    if scheduler is not None:
        scheme, sep, rest = scheduler.partition("://")
        if not sep or not scheme or not rest:
            raise ConfigError(
                field="--scheduler",
                value=scheduler,
                expected="a Dask scheduler address such as tcp://10.0.0.5:8786",
            )
        if backend not in (None, "dask"):
            raise ConfigError(
                field="--scheduler",
                value=scheduler,
                expected=f"--backend dask (or no --backend), not {backend}",
            )
        chosen, address = "dask", scheduler
    count = workers
    if workers is None and chosen is not None and address is None:
        count = current.workers  # the study's pool size, for its own backend or another
    try:
        check_compute(chosen, address, count)  # type: ignore[arg-type]
    except ConfigError as err:
        name = {"backend": "--backend", "scheduler": "--scheduler", "workers": "--compute-workers"}
        raise ConfigError(
            field=name.get(str(err.fields["field"]), str(err.fields["field"])),
            value=err.fields["value"],
            expected=str(err.fields["expected"]),
        ) from None
    if address is not None and count is not None:
        raise ConfigError(
            field="--compute-workers",
            value=count,
            expected="no --compute-workers with a scheduler address",
        )
    compute = ComputePlan(
        backend=chosen,  # type: ignore[arg-type]
        scheduler=address,
        workers=count,
        chunk_events=current.chunk_events,
    )
    return dataclasses.replace(plan, compute=compute)


def _resolve(root: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else root / path


def _factors_plan(cfg: StudyConfig, root: Path) -> FactorsPlan | None:
    presets = tuple(
        dict.fromkeys(
            m for m in (cfg.model, *(v.model for v in cfg.variants)) if m in FACTOR_PRESET_NAMES
        )
    )
    if not presets:
        return None
    ff = cfg.fama_french
    home = {ex: region for region, ex in FACTOR_HOME_EXCHANGE.items()}
    regions: dict[str, str] = {}
    for ex in cfg.exchanges:
        if isinstance(ff.region, str):
            regions[ex] = ff.region
        elif isinstance(ff.region, dict) and ex in ff.region:
            regions[ex] = str(ff.region[ex])
        else:  # the config checked that an exchange without a region is a home exchange
            regions[ex] = home[ex]
    return FactorsPlan(
        presets=tuple(str(p) for p in presets),
        regions=regions,
        folder=_resolve(root, ff.dir) if ff.dir else None,
    )


def _volume_plan(cfg: StudyConfig) -> VolumePlan | None:
    if cfg.volume is None:
        return None
    windows = cfg.volume.windows or cfg.car_windows
    return VolumePlan(
        measure=cfg.volume.measure,
        windows=tuple((int(a), int(b)) for a, b in windows),
        shares={str(k): float(v) for k, v in cfg.volume.shares_outstanding.items()},
    )


def _cross_section_plan(cfg: StudyConfig, root: Path) -> CrossSectionPlan | None:
    cs = cfg.cross_section
    if cs is None:
        return None
    regs = []
    for i, reg in enumerate(cs.regressions):
        name = reg.name or f"regression{i + 1}"
        regs.append(
            RegressionPlan(
                name=name,
                title=reg.title or f"{reg.formula}, CAR{format_window(reg.window)}",
                formula=reg.formula,
                window=(int(reg.window[0]), int(reg.window[1])),
                weights=reg.weights,
                cov=reg.cov,
            )
        )
    data = _resolve(root, cs.data) if cs.data is not None else None
    return CrossSectionPlan(data=data, regressions=tuple(regs))


def _event(ev: Event, root: Path) -> EventPlan:
    return EventPlan(
        id=ev.id,
        title=ev.title,
        announced=ev.announced,
        timing_confidence=ev.timing_confidence,
        tags=tuple(ev.tags),
        securities=tuple(ev.securities) if ev.securities is not None else None,
        dossier=(root / ev.dossier).resolve() if ev.dossier else None,
    )
