"""Build the report once: every figure, section and tidy table; the writers only serialise.

The page reads top to bottom as a reader asks:

1. **the answer**: the verdict of every event (and configured pool), the same sentences as the
   terminal and ``verdict.json``;
2. **each event**: its verdict, the firms one by one (AR on day 0 and CAR per window, with
   s.e., t, p and stars), the AR and CAR charts; prices, tests, timing, dossier and the
   follow-up analyses collapsed under their titles;
3. **across events**, **estimation**, further figures, exclusions and provenance.

Adding a section is adding a field here and a block in ``templates/report.html.j2``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup

from eventstudy import figures
from eventstudy.config import format_window
from eventstudy.exceptions import EventStudyWarning, ReportError
from eventstudy.movers import MAX_SECURITIES_SHOWN, Movers, top_and_bottom
from eventstudy.plan import ROLE_LABELS
from eventstudy.report.analyses import Analysis, AnalysisTables, event_analyses
from eventstudy.report.common import EXCHANGE_HOURS, exchange_name, fid, slug
from eventstudy.report.display import Cell, Table, display
from eventstudy.report.inputs import GroupView, ReportInput
from eventstudy.report.markdown import render_markdown
from eventstudy.report.regressions import regression_sections, regression_tables
from eventstudy.report.section import Section
from eventstudy.report.volume import volume_sections, volume_tables
from eventstudy.results import EventStudyResults
from eventstudy.verdict import Verdict

__all__ = ["Built", "EventSection", "Figure", "build_report"]

_TSE_CLOSE_MOVED = pd.Timestamp("2024-11-05")  # TSE close 15:00 -> 15:30 JST

#: Most events drawn side by side in the residual-correlation figure (one panel each).
MAX_CORRELATION_PANELS = 12

#: Titles of the robustness tables ``eventstudy run --simulate/--sensitivity`` adds.
TABLE_TITLES: dict[str, str] = {
    "simulate_verdicts": "Placebo simulation: size at 5% and power per test",
    "simulate_size_5pct": "Placebo simulation: rejection rate under the null at 5%, per window",
    "sensitivity_spec_summary": "Specification curve: share of specifications significant at 5%",
}


@dataclass
class Figure:
    """A figure of the report: stable id (fragment and image name), caption, the Plotly
    figure, and its ``<div>`` once serialised."""

    id: str
    title: str
    fig: go.Figure
    html: str = ""


@dataclass(frozen=True)
class TestCell:
    stat: str
    stars: str
    p: str
    sig: bool
    p_cal: str = ""
    sig_cal: bool = False
    unreachable: bool = False


@dataclass(frozen=True)
class TestRow:
    test: str
    label: str
    robust: bool
    cells: list[TestCell | None]
    size: str = ""


@dataclass(frozen=True)
class TestTable:
    """Tests of the mean CAR of one event: rows are tests, two columns per window (three
    when calibrated: the calibrated p-value too)."""

    windows: list[str]
    caar: list[float]
    rows: list[TestRow]
    calibrated: bool = False
    n_placebo: int = 0


@dataclass(frozen=True)
class FirmRow:
    firm: str
    symbol: str
    role: str
    cells: list[Cell]


@dataclass(frozen=True)
class FirmTable:
    """One event's firms: per measure (AR(0), CAR windows) estimate with stars, s.e., t, p.

    Above :data:`~eventstudy.movers.MAX_SECURITIES_SHOWN` firms, only the movers by the
    headline CAR, largest first; ``shown`` then says which (every firm is in
    ``tables/firms.csv``)."""

    measures: list[str]
    rows: list[FirmRow]
    shown: str = ""
    total: int = 0


@dataclass(frozen=True)
class TimingRow:
    exchange: str
    announced_utc: str
    announced_local: str
    session: str
    rule: str


@dataclass
class EventBlock:
    """One event as measured by one exchange's engine."""

    group: str
    name: str
    verdict: Verdict | None
    firms: FirmTable
    charts: list[Figure]
    prices: Figure | None
    tests: TestTable
    tests_figure: Figure | None


@dataclass
class EventSection:
    id: str
    anchor: str
    title: str
    date: str
    confidence: str
    dossier: Markup
    timing: list[TimingRow]
    blocks: list[EventBlock]
    analyses: list[Analysis]


@dataclass
class GroupSection:
    """What the report shows across the events of one exchange."""

    key: str
    name: str
    figures: list[Figure]
    diagnostics: list[Figure]
    excluded: list[list[str]]
    test_notes: list[list[str]]
    clustering: list[list[str]]


@dataclass
class Built:
    """Everything the writers serialise (see the module docstring)."""

    input: ReportInput
    events: list[EventSection]
    groups: list[GroupSection]
    pools: list[Verdict]
    figures: list[Figure]
    tables: dict[str, pd.DataFrame]
    extra: list[Figure] = field(default_factory=list)
    extra_tables: list[tuple[str, Table]] = field(default_factory=list)
    extra_text: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    formats: tuple[str, ...] = ()


class _Builder:
    def __init__(self, inp: ReportInput) -> None:
        self.inp = inp
        secs: set[str] = set()
        for g in inp.groups:
            secs.update(str(s) for s in g.results.events["security"])
        bench = {g.market for g in inp.groups if g.market}
        self.colors = figures.security_colors(secs, benchmarks=bench)
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        #: Each event's test table (``figures.tests_frame``) by (group, event id): the
        #: event's block and the tidy ``tests`` table read the same one.
        self.tests: dict[tuple[str, object], pd.DataFrame] = {}
        #: The analysis tables, firms and timing read out of pandas once for every event.
        self.analysis_tables = AnalysisTables(inp)

    def add(self, figure_id: str, title: str, fig: go.Figure) -> Figure:
        f = Figure(figure_id, title, fig)
        self.figures.append(f)
        return f

    # -- events
    def event(self, eid: str) -> EventSection:
        inp = self.inp
        info = inp.event(eid)
        blocks = []
        day0: pd.Timestamp | None = None
        for g in inp.groups:
            ev = g.results.events
            mine = ev[ev["event_id"].astype(str) == eid]
            verdict = next(
                (
                    v
                    for v in inp.verdicts
                    if v.kind == "event" and v.key == eid and v.exchange == g.key
                ),
                None,
            )
            if mine.empty:
                if verdict is not None:  # every firm-event excluded: the verdict says so
                    blocks.append(self._empty_block(g, verdict))
                continue
            first = pd.Timestamp(mine["event_date"].min())
            day0 = first if day0 is None or first < day0 else day0
            blocks.append(self._block(g, eid, mine, verdict))
        return EventSection(
            id=eid,
            anchor="event-" + slug(eid),
            title=info.title,
            date=f"{day0:%Y-%m-%d}" if day0 is not None else "",
            confidence=info.confidence,
            dossier=render_markdown(info.dossier),
            timing=self._timing_rows(eid),
            blocks=blocks,
            analyses=event_analyses(inp, eid, self.analysis_tables),
        )

    def _suffix(self, g: GroupView) -> str:
        return f" ({exchange_name(g.key)})" if self.inp.multi else ""

    def _empty_block(self, g: GroupView, verdict: Verdict) -> EventBlock:
        return EventBlock(
            group=g.key,
            name=exchange_name(g.key) if self.inp.multi else "",
            verdict=verdict,
            firms=FirmTable([], []),
            charts=[],
            prices=None,
            tests=TestTable([], [], []),
            tests_figure=None,
        )

    def _block(
        self, g: GroupView, eid: str, mine: pd.DataFrame, verdict: Verdict | None
    ) -> EventBlock:
        res, inp = g.results, self.inp
        raw_id = mine["event_id"].iloc[0]
        suffix = self._suffix(g)
        hw = inp.headline_window
        movers = self._movers(res, raw_id, mine)
        ar = self.add(
            fid("ar", g.key, eid),
            f"Abnormal returns{suffix}",
            figures.plot_ar(
                res,
                raw_id,
                timing=inp.timing,
                exchange=g.key or None,
                colors=self.colors,
                labels=inp.labels,
                rank_window=hw,
            ),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            car_fig = figures.plot_car(
                res,
                raw_id,
                start=inp.car_from,
                colors=self.colors,
                labels=inp.labels,
                rank_window=hw,
            )
        car = self.add(fid("car", g.key, eid), f"Cumulative abnormal returns{suffix}", car_fig)
        charts = [ar, car]
        if movers.capped:  # the distribution of every CAR first, then the movers' charts
            dist = self.add(
                fid("distribution", g.key, eid),
                f"Distribution of CAR{format_window(hw)}{suffix}",
                figures.plot_car_distribution(res, hw, raw_id),
            )
            charts = [dist, car, ar]
        price_fig = self._price_figure(g, raw_id, mine, movers)
        prices = (
            self.add(fid("prices", g.key, eid), f"Prices{suffix}", price_fig)
            if price_fig is not None
            else None
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            tests = self._tests_frame(g, raw_id)
            tests_fig = figures.plot_tests(res, inp.windows, event_id=raw_id, table=tests)
        tests_figure = self.add(
            fid("tests", g.key, eid), f"Tests of the mean CAR, event {eid}{suffix}", tests_fig
        )
        return EventBlock(
            group=g.key,
            name=exchange_name(g.key) if inp.multi else "",
            verdict=verdict,
            firms=self._firm_table(g, eid),
            charts=charts,
            prices=prices,
            tests=_test_table(tests),
            tests_figure=tests_figure,
        )

    def _tests_frame(self, g: GroupView, event_id: object) -> pd.DataFrame:
        """``figures.tests_frame`` of one event of group ``g``, computed once (a shallow copy:
        adding a column leaves the kept one as it is)."""
        key = (g.key, event_id)
        if key not in self.tests:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EventStudyWarning)
                self.tests[key] = figures.tests_frame(
                    g.results, self.inp.windows, event_id=event_id
                )
        return self.tests[key].copy(deep=False)

    def _movers(self, res: EventStudyResults, raw_id: object, mine: pd.DataFrame) -> Movers:
        """The securities of one event the figures draw (as ``figures`` chooses them)."""
        secs = list(dict.fromkeys(mine["security"].astype(str)))
        if len(secs) <= MAX_SECURITIES_SHOWN:
            return Movers(keys=secs, total=len(secs), capped=False, label="")
        hw = self.inp.headline_window
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventStudyWarning)
            car = res.car(hw)
        car = car[car["event_id"] == raw_id]
        values = pd.Series(car["car"].to_numpy(dtype=float), index=car["security"].astype(str))
        return top_and_bottom(values.reindex(secs), measure=f"CAR{format_window(hw)}")

    def _firm_table(self, g: GroupView, eid: str) -> FirmTable:
        firms = self.inp.firms
        if firms.empty:
            return FirmTable([], [])
        mine = firms[firms["event_id"].astype(str) == eid]
        if "exchange" in mine:
            mine = mine[mine["exchange"] == g.key]
        measures = [
            m
            for m in dict.fromkeys(mine["measure"])
            if m != "CAR(0,0)" or "AR(0)" not in set(mine["measure"])
        ]
        headline = "CAR" + format_window(self.inp.headline_window)
        n_firms = int(mine["security"].nunique())
        shown = ""
        if n_firms > MAX_SECURITIES_SHOWN:  # the movers by the headline CAR, largest first
            head = mine[mine["measure"] == headline]
            values = pd.Series(
                head["estimate"].to_numpy(dtype=float), index=head["security"].astype(str)
            )
            movers = top_and_bottom(values[~values.index.duplicated()], measure=headline)
            rank = {s: i for i, s in enumerate(movers.keys)}
            key = mine["security"].astype(str).map(rank)
            mine = mine[key.notna()].iloc[key.dropna().argsort(kind="stable")]
            shown = movers.label
        # one pass over the rows (a groupby and a .loc per cell cost milliseconds per event):
        # firms in order of first appearance, as groupby(sort=False), rows with a missing
        # key left out, as groupby does
        keys = ("security", "name", "role")
        values = ("estimate", "se", "t", "p_value")
        cols = {c: mine[c].to_numpy() for c in (*keys, "measure", *values, "stars")}
        by_firm: dict[tuple[object, ...], dict[object, int]] = {}
        for i in range(len(mine)):
            key = tuple(cols[k][i] for k in keys)
            if any(pd.isna(k) for k in key):
                continue
            by_firm.setdefault(key, {}).setdefault(cols["measure"][i], i)
        rows = []
        for (sec, name, role), at in by_firm.items():
            cells: list[Cell] = []
            for m in measures:
                if m not in at:
                    cells += [Cell("")] * 4
                    continue
                i = at[m]
                est, se, t, p = (float(cols[k][i]) for k in values)
                cells += [
                    _pct_cell(est, str(cols["stars"][i])),
                    Cell(f"{se * 100:.2f}%" if pd.notna(se) else "", "", _finite(se)),
                    Cell(f"{t:.2f}" if pd.notna(t) else "", "", _finite(t)),
                    Cell(f"{p:.4f}" if pd.notna(p) else "", "sig" if p < 0.05 else "", _finite(p)),
                ]
            rows.append(
                FirmRow(
                    firm=str(name),
                    symbol=str(sec),
                    role=ROLE_LABELS.get(str(role), str(role)),
                    cells=cells,
                )
            )
        return FirmTable(measures=measures, rows=rows, shown=shown, total=n_firms)

    def _timing_rows(self, eid: str) -> list[TimingRow]:
        t = self.inp.timing
        if t is None or not len(t):
            return []
        rows = []
        for r in t[t["event_id"].astype(str) == eid].itertuples(index=False):
            ex = str(r.exchange)
            tz = EXCHANGE_HOURS.get(ex, ("UTC",))[0]
            ann = pd.Timestamp(r.announced) if pd.notna(r.announced) else None
            if ann is not None and ann.tzinfo is None:
                ann = ann.tz_localize("UTC")
            rows.append(
                TimingRow(
                    exchange=exchange_name(ex),
                    announced_utc=f"{ann.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC" if ann else "",
                    announced_local=f"{ann.tz_convert(tz):%Y-%m-%d %H:%M %Z}" if ann else "",
                    session=f"{pd.Timestamp(r.session):%Y-%m-%d (%a)}"
                    if pd.notna(r.session)
                    else "",
                    rule=str(r.rule),
                )
            )
        return rows

    def _price_figure(
        self, g: GroupView, raw_id: object, mine: pd.DataFrame, movers: Movers
    ) -> go.Figure | None:
        inp = self.inp
        if not inp.prices:
            return None
        symbols = [s for s in movers.keys if s in inp.prices]
        bench = [g.market] if g.market and g.market in inp.prices else []
        if not symbols:
            return None
        day0 = pd.Timestamp(mine["event_date"].iloc[0])
        announced = None
        t = inp.timing
        if t is not None and len(t):
            rows = t[t["event_id"].astype(str) == str(raw_id)]
            if g.key and (rows["exchange"].astype(str) == g.key).any():
                rows = rows[rows["exchange"].astype(str) == g.key]
            if len(rows) and pd.notna(rows["announced"].iloc[0]):
                announced = rows["announced"].iloc[0]
        key = g.key or "XTKS"
        tz, open_t, close_t, name = EXCHANGE_HOURS.get(key, ("UTC", "00:00", "23:59", key))
        if key == "XTKS" and day0 < _TSE_CLOSE_MOVED:
            close_t = "15:00"
        try:
            return figures.plot_prices(
                {s: inp.prices[s] for s in [*symbols, *bench]},
                day0,
                announced,
                benchmarks=bench,
                exchange_tz=tz,
                open_time=open_t,
                close_time=close_t,
                exchange=name,
                colors=self.colors,
                labels=inp.labels,
                title=f"Prices around event {raw_id}, rebased to 100 at day -1",
                note=f"shown: {movers.label}" if movers.capped else "",
            )
        except ReportError as exc:
            self.notes.append(f"price chart of event {raw_id} left out: {exc}")
            return None

    # -- across events
    def group(self, g: GroupView) -> GroupSection:
        res, inp = g.results, self.inp
        suffix = self._suffix(g)
        hw = inp.headline_window
        figs = [
            self.add(
                fid("heatmap", g.key),
                f"CAR{format_window(hw)} heatmap{suffix}",
                figures.plot_heatmap(res, hw, labels=inp.labels),
            ),
            self.add(
                fid("forest", g.key),
                f"CAR{format_window(hw)} forest plot{suffix}",
                figures.plot_forest(res, hw, colors=self.colors, labels=inp.labels),
            ),
        ]
        diagnostics = [
            self.add(
                fid("diagnostics", g.key),
                f"Estimation diagnostics{suffix}",
                figures.plot_diagnostics(res, colors=self.colors, labels=inp.labels),
            ),
        ]
        n_events = res.events["event_id"].nunique()
        if n_events <= MAX_CORRELATION_PANELS:
            diagnostics.append(
                self.add(
                    fid("residual-correlation", g.key),
                    f"Residual correlation{suffix}",
                    figures.plot_residual_correlation(res, labels=inp.labels, rank_window=hw),
                )
            )
        else:  # one panel per event in one row: unreadable, and Plotly refuses past 26
            self.notes.append(
                f"residual correlation{suffix} of {n_events} events is not drawn (one panel "
                f"per event, at most {MAX_CORRELATION_PANELS}): see tables/clustering.csv"
            )
        return GroupSection(
            key=g.key,
            name=exchange_name(g.key) if inp.multi else "",
            figures=figs,
            diagnostics=diagnostics,
            excluded=_rows(res.excluded, ["event_id", "security", "reason"]),
            test_notes=_rows(res.test_notes, ["event_id", "test", "reason"]),
            clustering=_rows(res.clustering, ["event_id", "n_securities", "rbar", "design_effect"]),
        )

    # -- tidy tables
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables of every group (an ``exchange`` column for a study run)."""
        inp = self.inp
        parts: dict[str, list[pd.DataFrame]] = {}

        def put(name: str, frame: pd.DataFrame, g: GroupView) -> None:
            frame = frame.copy()
            if inp.from_study:
                frame.insert(0, "exchange", g.key)
            parts.setdefault(name, []).append(frame)

        for g in inp.groups:
            res = g.results
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EventStudyWarning)
                put("abnormal_returns", res.abnormal_returns, g)
                cars = []
                for w in inp.windows:
                    c = res.car(w).copy()
                    c.insert(0, "window", format_window(w))
                    cars.append(c)
                put("car", pd.concat(cars, ignore_index=True), g)
                put("car_paths", res.car_paths(), g)
                per_event = []
                for eid in dict.fromkeys(res.events["event_id"]):
                    t = self._tests_frame(g, eid)
                    t.insert(0, "event_id", eid)
                    per_event.append(t)
                put("tests", pd.concat(per_event, ignore_index=True), g)
                lo, hi = res.window
                put("aar_tests", res.aar_tests((int(lo), int(hi)), by="event_id"), g)
                put("params", res.params, g)
                put("excluded", res.excluded, g)
                notes = res.test_notes
                if len(notes):
                    put("test_notes", notes, g)
                put("clustering", res.clustering, g)
        tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
        if len(inp.firms):
            tables["firms"] = inp.firms.copy()
        if inp.verdicts:
            tables["verdicts"] = pd.DataFrame(
                [
                    {k: (", ".join(v) if isinstance(v, list) else v) for k, v in r.items()}
                    for r in (x.as_record() for x in inp.verdicts)
                ]
            )
        if inp.timing is not None:
            tables["timing"] = inp.timing.copy()
        for name, frame in inp.analyses.items():
            tables[name] = frame.copy()
        return tables


def _finite(x: float) -> float | None:
    return float(x) if pd.notna(x) else None


def _pct_cell(value: float, stars: str) -> Cell:
    if pd.isna(value):
        return Cell("")
    return Cell(f"{value * 100:+.2f}%{stars}", "", float(value))


def _rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[str]]:
    cols = [c for c in columns if c in frame]
    out = []
    for rec in frame[cols].itertuples(index=False, name=None):
        row = []
        for v in rec:
            if isinstance(v, float):
                row.append("" if pd.isna(v) else f"{v:.4g}")
            elif isinstance(v, pd.Timestamp):
                row.append(f"{v:%Y-%m-%d}")
            else:
                row.append(str(v))
        out.append(row)
    return out


def _test_table(tests: pd.DataFrame) -> TestTable:
    if tests.empty:
        return TestTable([], [], [])
    records = tests.to_dict("records")
    calibrated = "p_calibrated" in tests.columns
    windows = list(dict.fromkeys(r["window"] for r in records))
    caar: dict[str, float] = {}
    cell: dict[tuple[str, str], dict] = {}
    for r in records:
        caar.setdefault(r["window"], r["caar"])
        cell[(r["test"], r["window"])] = r
    rows = []
    for name in dict.fromkeys(r["test"] for r in records):
        cells: list[TestCell | None] = []
        sizes = []
        for w in windows:
            r = cell.get((name, w))
            if r is None:
                cells.append(None)
                continue
            p = float(r["p_value"])
            pc = float(r["p_calibrated"]) if calibrated else math.nan
            min_p = float(r.get("min_p", math.nan))
            if calibrated:
                sizes.append(float(r["size_5pct"]))
            cells.append(
                TestCell(
                    stat=figures._num(r["statistic"], 3),
                    stars=r["stars"],
                    p=figures._num(p, 4),
                    sig=p < 0.05,
                    p_cal=figures._num(pc, 3) if calibrated else "",
                    sig_cal=pc < 0.05,
                    unreachable=math.isfinite(min_p) and min_p > 0.05,
                )
            )
        finite = [x for x in sizes if math.isfinite(x)]
        if finite:
            lo, hi = min(finite), max(finite)
            size = f"{lo:.1%}" if abs(hi - lo) < 0.0005 else f"{lo:.1%}–{hi:.1%}"
        else:
            size = ""
        rows.append(
            TestRow(
                test=name,
                label=figures.TEST_LABELS.get(name, name),
                robust=bool(
                    all(bool(cell[(name, w)]["robust"]) for w in windows if (name, w) in cell)
                ),
                cells=cells,
                size=size,
            )
        )
    n = int(tests["n_placebo"].min()) if calibrated and len(tests) else 0
    return TestTable(
        windows=windows,
        caar=[caar[w] for w in windows],
        rows=rows,
        calibrated=calibrated,
        n_placebo=n,
    )


def build_report(
    inp: ReportInput,
    *,
    extra_figures: Mapping[str, go.Figure] | None = None,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    extra_text: Sequence[str] = (),
    formats: Sequence[str] = (),
) -> Built:
    """Compute every figure, section and table of the report of ``inp``.

    ``formats`` are the extra table formats to write (``xlsx``: one workbook of every table).
    """
    b = _Builder(inp)
    events = [b.event(ev.id) for ev in inp.events]
    groups = [b.group(g) for g in inp.groups]
    tables = b.tables()
    sections = volume_sections(inp, b.add) + regression_sections(inp, b.add)
    tables.update(volume_tables(inp))
    tables.update(regression_tables(inp))
    built = Built(
        input=inp,
        events=events,
        groups=groups,
        pools=[v for v in inp.verdicts if v.kind == "pool"],
        figures=b.figures,
        tables=tables,
        sections=sections,
        formats=tuple(formats),
    )
    for caption, fig in (extra_figures or {}).items():
        if not isinstance(fig, go.Figure):
            raise ReportError(
                detail=f"extra figure {caption!r} is a {type(fig).__name__}",
                fix="pass plotly.graph_objects.Figure objects",
            )
        built.extra.append(b.add(fid("extra", caption), str(caption), fig))
    for name, frame in (extra_tables or {}).items():
        if not isinstance(frame, pd.DataFrame):
            raise ReportError(
                detail=f"extra table {name!r} is a {type(frame).__name__}",
                fix="pass pandas DataFrames",
            )
        key = slug(name).replace("-", "_")
        built.tables[key] = frame
        built.extra_tables.append((TABLE_TITLES.get(key, str(name)), display(frame)))
    built.extra_text = [str(t) for t in extra_text]
    if b.notes:
        built.input = dataclasses.replace(inp, notes=(*inp.notes, *b.notes))
    return built
