"""The study report: one offline HTML file, embeddable fragments, tables, JSON, images.

:func:`write` takes a :class:`~eventstudy.runner.StudyRun` (what ``eventstudy run``
produces) or an :class:`~eventstudy.results.EventStudyResults` (from a notebook) and
writes a folder::

    out_dir/
      index.html          self-contained: plotly.js once in <head>, every figure a <div>
      fragments/*.html    one <div> per figure (stable id, no plotly.js) for research notes
      tables/*.csv        tidy ARs, CARs, tests, params, exclusions, clustering, timing
      tables/tests.md     the main test table in Markdown ...
      tables/tests.tex    ... and LaTeX (booktabs)
      results.json        the tidy tables and the provenance, as JSON
      images/*.png|svg    static figures, when asked (kaleido + a system Chromium)

Everything is written to a temporary folder beside ``out_dir`` and renamed into place
at the end, so a failed run leaves the previous report as it was.

Text from configs and dossiers is escaped (Jinja2 autoescape); dossiers are rendered
from a small, safe subset of Markdown (:func:`render_markdown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import functools
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import jinja2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
from markupsafe import Markup, escape

from eventstudy import figures
from eventstudy import figures as figures_mod
from eventstudy.exceptions import ReportError

__all__ = [
    "IMAGE_FORMATS",
    "find_browser",
    "render_markdown",
    "write",
    "write_page",
    "write_results",
]

PlotlyJS = Literal["inline", "cdn", "none"]
#: Static image formats kaleido writes.
IMAGE_FORMATS: frozenset[str] = frozenset({"png", "svg", "pdf", "jpeg", "jpg", "webp"})
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_DEPENDENCIES = (
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "plotly",
    "jinja2",
    "exchange-calendars",
    "yfinance",
    "pydantic",
    "kaleido",
)
#: Exchange -> (time zone, open, close, short name) for the price chart.
_EXCHANGE_HOURS: dict[str, tuple[str, str, str, str]] = {
    "XTKS": ("Asia/Tokyo", "09:00", "15:30", "TSE"),
    "XNYS": ("America/New_York", "09:30", "16:00", "NYSE"),
    "XNAS": ("America/New_York", "09:30", "16:00", "Nasdaq"),
}
_TSE_CLOSE_MOVED = pd.Timestamp("2024-11-05")  # TSE close 15:00 -> 15:30 JST


# ----------------------------------------------------------------------------- public API


def write(
    run: Any,
    out_dir: str | os.PathLike[str],
    *,
    plotlyjs: PlotlyJS | None = "inline",
    images: Iterable[str] = (),
    windows: Iterable[tuple[int, int]] | None = None,
    heatmap_window: tuple[int, int] = (0, 1),
    title: str | None = None,
    extra_figures: Mapping[str, go.Figure] | None = None,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    extra_text: Sequence[str] = (),
    browser_path: str | os.PathLike[str] | None = None,
    image_scale: float = 2.0,
) -> Path:
    """Write the full report of a study run (or of one results object) to ``out_dir``.

    Parameters
    ----------
    run : StudyRun or EventStudyResults
        A run from :func:`eventstudy.runner.run_study`, or results from
        :func:`eventstudy.event_study` (then the report has no prices, timing or dossiers).
    out_dir : path
        The report folder; replaced as a whole when the new report is complete.
    plotlyjs : {"inline", "cdn", "none"}
        How ``index.html`` carries plotly.js: embedded once in ``<head>`` (offline, the
        default), a ``<script src>`` to the CDN of the same version, or not at all (the
        page that embeds the report provides it). Fragments never carry it.
    images : iterable of str
        Static image formats to write for every figure, e.g. ``("png", "svg")``; needs
        the ``image`` extra (kaleido) and a Chromium. One browser serves the whole run.
    windows : iterable of (int, int), optional
        CAR windows of the test tables (default :data:`figures.DEFAULT_WINDOWS` inside
        the computed window).
    heatmap_window : (int, int)
        The CAR window of the heatmap and the forest plot.
    title : str, optional
        Report title (default: the study's title or name).
    extra_figures : mapping of str to Figure, optional
        Further figures (e.g. robustness or simulation charts), keyed by caption; shown in
        a "Further figures" section, with fragments and images like the others.
    extra_tables : mapping of str to DataFrame, optional
        Further tables (e.g. the size table of ``eventstudy simulate``), keyed by a short
        name: shown in the same section and written to ``tables/<name>.csv``.
    extra_text : sequence of str
        Plain-text paragraphs shown at the top of that section (e.g. verdict summaries).
    browser_path : path, optional
        The Chromium for images (default: ``BROWSER_PATH``, then ``chromium`` on PATH).
    image_scale : float
        Pixel density of raster images.

    Returns
    -------
    Path
        ``out_dir/index.html``.

    Raises
    ------
    ReportError
        Bad arguments, images without kaleido or a browser, or a folder that cannot be
        written (the previous report is then left intact).
    """
    mode = plotlyjs or "inline"
    if mode not in ("inline", "cdn", "none"):
        raise ReportError(detail=f"plotlyjs={plotlyjs!r}", fix="use 'inline', 'cdn' or 'none'")
    formats = _image_formats(images)
    browser = None
    if formats:  # check before any work, so a missing extra fails in a second
        _require_kaleido()
        browser = find_browser(browser_path)
    study = _Study.from_input(run, title=title)
    out = Path(out_dir)
    build = _Builder(study, windows=windows, heatmap_window=heatmap_window)
    build.run()
    for caption, fig in (extra_figures or {}).items():
        if not isinstance(fig, go.Figure):
            raise ReportError(
                detail=f"extra figure {caption!r} is a {type(fig).__name__}",
                fix="pass plotly.graph_objects.Figure objects",
            )
        build.extra.append(build._add(build._fid("extra", caption), str(caption), fig))
    for name, frame in (extra_tables or {}).items():
        if not isinstance(frame, pd.DataFrame):
            raise ReportError(
                detail=f"extra table {name!r} is a {type(frame).__name__}",
                fix="pass pandas DataFrames",
            )
        key = _slug(name).replace("-", "_")
        build.tables[key] = frame
        build.extra_tables.append(
            {"name": _TABLE_TITLES.get(key, str(name)), "table": _display(frame)}
        )
    build.extra_text = [str(t) for t in extra_text]

    def write_into(folder: Path) -> None:
        _write_folder(folder, study, build, mode)
        if formats:
            _write_images(folder / "images", build.figures, formats, browser, image_scale)

    _atomic_dir(out, write_into)
    return out / "index.html"


def write_results(results: Any, out_dir: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write the report of one :class:`EventStudyResults` (same as :func:`write`)."""
    return write(results, out_dir, **kwargs)


def write_page(
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    text: Sequence[str] = (),
    figures: Mapping[str, go.Figure] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    shown: Sequence[str] | None = None,
    plotlyjs: PlotlyJS | None = "inline",
    subtitle: str = "",
) -> Path:
    """Write a one-page report (text, tables, figures) atomically to ``out_dir``.

    The folder holds ``index.html``, ``fragments/<figure>.html``, ``tables/<name>.csv`` and
    ``summary.txt`` (the text). Used by ``eventstudy simulate``, ``sensitivity`` and
    ``compare``. ``shown`` names the tables displayed in the page (default: those of at most
    60 rows); every table is written as CSV.
    """
    mode = plotlyjs or "inline"
    if mode not in ("inline", "cdn", "none"):
        raise ReportError(detail=f"plotlyjs={plotlyjs!r}", fix="use 'inline', 'cdn' or 'none'")
    figs = []
    for caption, fig in (figures or {}).items():
        if not isinstance(fig, go.Figure):
            raise ReportError(
                detail=f"figure {caption!r} is a {type(fig).__name__}",
                fix="pass plotly.graph_objects.Figure objects",
            )
        figs.append(_Figure(_slug(caption), str(caption), fig))
    tabs = {
        _slug(k).replace("-", "_"): v
        for k, v in (tables or {}).items()
        if isinstance(v, pd.DataFrame)
    }
    names = {_slug(k).replace("-", "_"): str(k) for k in (tables or {})}
    show = (
        [_slug(k).replace("-", "_") for k in shown]
        if shown is not None
        else [k for k, v in tabs.items() if len(v) <= 60]
    )

    def fill(folder: Path) -> None:
        for f in figs:
            f.html = pio.to_html(
                f.fig,
                full_html=False,
                include_plotlyjs=False,
                div_id=f.id,
                config=figures_mod.PLOT_CONFIG,
                validate=False,
            )
        (folder / "fragments").mkdir()
        for f in figs:
            (folder / "fragments" / f"{f.id}.html").write_text(
                f'<div class="eventstudy-figure" id="{f.id}-container">\n{f.html}\n</div>\n',
                encoding="utf-8",
            )
        (folder / "tables").mkdir()
        for name, frame in tabs.items():
            frame.to_csv(folder / "tables" / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        (folder / "summary.txt").write_text("\n\n".join(text) + "\n", encoding="utf-8")
        version = plotly.offline.get_plotlyjs_version()
        head_js = {
            "inline": _inline_plotlyjs(),
            "cdn": Markup(
                f'<script src="https://cdn.plot.ly/plotly-{version}.min.js" '
                'charset="utf-8"></script>'
            ),
        }.get(mode, Markup(""))
        page = (
            _environment()
            .get_template("page.html.j2")
            .render(
                title=title,
                subtitle=subtitle,
                head_js=head_js,
                text=list(text),
                tables=[
                    {"name": names[k], "csv": k, "table": _display(tabs[k])}
                    for k in show
                    if k in tabs
                ],
                csvs=list(tabs),
                figures=[{"id": f.id, "title": f.title, "html": Markup(f.html)} for f in figs],
                written=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                versions=_versions(),
            )
        )
        (folder / "index.html").write_text(page, encoding="utf-8")

    out = Path(out_dir)
    _atomic_dir(out, fill)
    return out / "index.html"


def find_browser(path: str | os.PathLike[str] | None = None) -> str:
    """The Chromium/Chrome executable for static images.

    Looks at ``path``, then the ``BROWSER_PATH`` environment variable, then
    ``chromium``/``google-chrome`` on ``PATH``.

    Raises
    ------
    ReportError
        When no browser is found (naming the fix).
    """
    candidates = [str(path)] if path else []
    if os.environ.get("BROWSER_PATH"):
        candidates.append(os.environ["BROWSER_PATH"])
    candidates += [p for name in _BROWSERS if (p := shutil.which(name))]
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ReportError(
        detail="static images need a Chromium or Chrome browser and none was found"
        + (f" at {path}" if path else ""),
        fix="install one (Debian/Ubuntu: apt-get install chromium) or set BROWSER_PATH "
        "to its executable; or drop --images",
    )


# ----------------------------------------------------------------------------- Markdown


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")
_BARE_URL = re.compile(r"(?<![\"=>])\b(https?://[^\s<]+[^\s<.,;:)\]])")


def _inline(text: str) -> str:
    """Inline Markdown on already escaped text."""
    codes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _INLINE_CODE.sub(keep, text)
    links: list[str] = []

    def link(m: re.Match[str]) -> str:
        links.append(f'<a href="{m.group(2)}" rel="noopener noreferrer">{m.group(1)}</a>')
        return f"\x01{len(links) - 1}\x01"

    out = _LINK.sub(link, out)
    out = _BARE_URL.sub(
        lambda m: (
            links.append(f'<a href="{m.group(1)}" rel="noopener noreferrer">{m.group(1)}</a>')
            or f"\x01{len(links) - 1}\x01"
        ),
        out,
    )
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = re.sub("\x01(\\d+)\x01", lambda m: links[int(m.group(1))], out)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)


def render_markdown(text: str | None) -> Markup:
    """Render a small, safe subset of Markdown to HTML.

    Everything is escaped first; then headings (``#``), paragraphs, bullet and numbered
    lists, ``**bold**``, ``*italic*``, ``code``, ``[text](http...)`` links and bare
    http(s) URLs become HTML. Raw HTML in the text shows as text. A YAML front matter
    block (between ``---`` lines) becomes a small definition list.
    """
    if not text:
        return Markup("")
    lines = str(text).replace("\r\n", "\n").split("\n")
    out: list[str] = []
    if lines and lines[0].strip() == "---" and "---" in (s.strip() for s in lines[1:]):
        end = next(i for i, s in enumerate(lines[1:], start=1) if s.strip() == "---")
        pairs = [s.split(":", 1) for s in lines[1:end] if ":" in s]
        if pairs:
            out.append('<dl class="meta">')
            for key, value in pairs:
                out.append(
                    f"<dt>{escape(key.strip())}</dt><dd>{_inline(str(escape(value.strip())))}</dd>"
                )
            out.append("</dl>")
        lines = lines[end + 1 :]
    para: list[str] = []
    list_tag: str | None = None

    def flush_para() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in lines:
        line = str(escape(raw.rstrip()))
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        bullet = re.match(r"^[-*+]\s+(.*)$", stripped)
        numbered = re.match(r"^\d+[.)]\s+(.*)$", stripped)
        if not stripped:
            flush_para()
            close_list()
        elif heading:
            flush_para()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # dossier headings sit below h2
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            flush_para()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            item = (bullet or numbered).group(1)  # type: ignore[union-attr]
            out.append(f"<li>{_inline(item)}</li>")
        elif list_tag and raw.startswith(("  ", "\t")):
            out[-1] = out[-1][: -len("</li>")] + " " + _inline(stripped) + "</li>"
        else:
            close_list()
            para.append(stripped)
    flush_para()
    close_list()
    return Markup("\n".join(out))


# ----------------------------------------------------------------------------- the study


@dataclass
class _Group:
    """One engine run: the securities of one exchange."""

    key: str  # exchange code, or "" for a lone results object
    results: Any
    market: str | None = None


@dataclass
class _Study:
    title: str
    groups: list[_Group]
    timing: pd.DataFrame | None = None
    prices: dict[str, Any] = field(default_factory=dict)
    dossiers: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    config: Any = None
    config_path: Path | None = None
    config_hash: str | None = None
    analyses: dict[str, pd.DataFrame] = field(default_factory=dict)

    @classmethod
    def from_input(cls, run: Any, *, title: str | None) -> _Study:
        if hasattr(run, "abnormal_returns") and hasattr(run, "car"):
            return cls(
                title=title or "Event study",
                groups=[_Group("", run)],
                provenance={},
            )
        if not isinstance(getattr(run, "results", None), Mapping):
            raise ReportError(
                detail=f"cannot report on a {type(run).__name__}",
                fix="pass a StudyRun (eventstudy.runner.run_study) or an EventStudyResults "
                "(eventstudy.event_study)",
            )
        market = dict(getattr(run, "market", {}) or {})
        groups = [_Group(str(k), r, market.get(k)) for k, r in run.results.items()]
        if not groups:
            raise ReportError(detail="the run holds no results", fix="check the study's events")
        config = getattr(run, "config", None)
        timing = getattr(run, "timing", None)
        return cls(
            title=title or _config_title(config) or "Event study",
            groups=groups,
            timing=timing if isinstance(timing, pd.DataFrame) else None,
            prices=dict(getattr(run, "prices", {}) or {}),
            dossiers={str(k): v for k, v in (getattr(run, "dossiers", {}) or {}).items()},
            provenance=dict(getattr(run, "provenance", {}) or {}),
            notes=list(getattr(run, "notes", []) or []),
            config=config,
            config_path=getattr(run, "config_path", None),
            config_hash=getattr(run, "config_hash", None),
            analyses={
                str(k): v
                for k, v in (getattr(run, "analyses", {}) or {}).items()
                if isinstance(v, pd.DataFrame)
            },
        )

    @property
    def multi(self) -> bool:
        return len(self.groups) > 1


def _config_title(config: Any) -> str | None:
    for name in ("title", "name", "study"):
        value = getattr(config, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _config_events(config: Any) -> dict[str, Any]:
    events = getattr(config, "events", None) or []
    out = {}
    for ev in events:
        eid = getattr(ev, "id", None) or getattr(ev, "event_id", None)
        if eid is not None:
            out[str(eid)] = ev
    return out


def _event_title(ev: Any, event_id: str) -> str:
    for name in ("title", "name", "headline", "description", "label"):
        value = getattr(ev, name, None)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return event_id


def _security_labels(config: Any) -> dict[str, str]:
    labels: dict[str, str] = {}
    for sec in getattr(config, "securities", None) or []:
        if isinstance(sec, str):
            continue
        symbol = getattr(sec, "symbol", None)
        name = getattr(sec, "name", None)
        if isinstance(symbol, str) and isinstance(name, str) and name:
            labels[symbol] = name
    return labels


# ----------------------------------------------------------------------------- building


@dataclass
class _Figure:
    id: str
    title: str
    fig: go.Figure
    html: str = ""


@dataclass
class _EventBlock:
    group: str
    figures: list[_Figure]
    tests: pd.DataFrame


@dataclass
class _Event:
    id: str
    title: str
    date: pd.Timestamp | None
    dossier: Markup
    timing: list[dict[str, str]]
    blocks: list[_EventBlock]
    confidence: str = ""
    sections: list[dict[str, Any]] = field(default_factory=list)


class _Builder:
    """Compute every figure and table once; the writers only serialise them."""

    def __init__(
        self,
        study: _Study,
        *,
        windows: Iterable[tuple[int, int]] | None,
        heatmap_window: tuple[int, int],
    ) -> None:
        self.study = study
        self.windows_arg = None if windows is None else [tuple(w) for w in windows]
        self.heatmap_window = tuple(heatmap_window)
        self.labels = _security_labels(study.config)
        all_secs: set[str] = set()
        for g in study.groups:
            all_secs.update(figures._securities(g.results))
        benchmarks = {g.market for g in study.groups if g.market}
        self.colors = figures.security_colors(all_secs, benchmarks=benchmarks)
        self.figures: list[_Figure] = []
        self.events: list[_Event] = []
        self.across: list[dict[str, Any]] = []
        self.extra: list[_Figure] = []
        self.extra_tables: list[dict[str, Any]] = []
        self.extra_text: list[str] = []
        self.tables: dict[str, pd.DataFrame] = {}
        self.main_tests: pd.DataFrame = pd.DataFrame()

    # -- helpers
    def _fid(self, *parts: Any) -> str:
        return "-".join(_slug(p) for p in parts if p not in (None, ""))

    def _add(self, fid: str, title: str, fig: go.Figure) -> _Figure:
        f = _Figure(fid, title, fig)
        self.figures.append(f)
        return f

    def _windows(self, results: Any) -> list[tuple[int, int]]:
        return figures._windows(results, self.windows_arg)

    # -- the whole study
    def run(self) -> None:
        study = self.study
        cfg_events = _config_events(study.config)
        event_ids: dict[str, pd.Timestamp | None] = {}
        for g in study.groups:
            ev = figures._frame(g.results, "events")
            for eid, date in zip(ev["event_id"], ev["event_date"], strict=True):
                key = str(eid)
                d = pd.Timestamp(date)
                if key not in event_ids or (event_ids[key] is not None and d < event_ids[key]):
                    event_ids[key] = d
        order = sorted(event_ids, key=lambda e: (event_ids[e] or pd.Timestamp.max, e))
        for eid in order:
            self.events.append(self._event(eid, cfg_events.get(eid), event_ids[eid]))
        for g in study.groups:
            self._across(g)
        self._tables()

    def _event(self, eid: str, cfg: Any, date: pd.Timestamp | None) -> _Event:
        study = self.study
        timing = self._timing_rows(eid)
        blocks = []
        for g in study.groups:
            res = g.results
            ev = figures._frame(res, "events")
            ids = [e for e in dict.fromkeys(ev["event_id"]) if str(e) == eid]
            if not ids:
                continue
            raw_id = ids[0]
            figs = []
            title_g = f" ({_exchange_name(g.key)})" if study.multi else ""
            tim = study.timing
            figs.append(
                self._add(
                    self._fid("ar", g.key, eid),
                    f"Abnormal returns{title_g}",
                    figures.plot_ar(
                        res,
                        raw_id,
                        timing=tim,
                        exchange=g.key or None,
                        colors=self.colors,
                        labels=self.labels,
                    ),
                )
            )
            figs.append(
                self._add(
                    self._fid("car", g.key, eid),
                    f"Cumulative abnormal returns{title_g}",
                    figures.plot_car(res, raw_id, colors=self.colors, labels=self.labels),
                )
            )
            price_fig = self._price_figure(g, raw_id, ev)
            if price_fig is not None:
                figs.append(
                    self._add(self._fid("prices", g.key, eid), f"Prices{title_g}", price_fig)
                )
            try:
                tests = figures.tests_frame(res, self._windows(res), event_id=raw_id)
            except (KeyError, TypeError, ValueError):
                tests = pd.DataFrame()
            blocks.append(_EventBlock(g.key, figs, tests))
        dossier = study.dossiers.get(eid, "")
        return _Event(
            id=eid,
            title=_event_title(cfg, eid),
            date=date,
            dossier=render_markdown(dossier),
            timing=timing,
            blocks=blocks,
            confidence=str(getattr(cfg, "timing_confidence", "") or ""),
            sections=_event_sections(study, eid, self.labels),
        )

    def _timing_rows(self, eid: str) -> list[dict[str, str]]:
        t = self.study.timing
        if t is None or not len(t) or "event_id" not in t:
            return []
        rows = []
        for _, r in t[t["event_id"].astype(str) == eid].iterrows():
            ex = str(r.get("exchange", ""))
            tz = _EXCHANGE_HOURS.get(ex, ("UTC",))[0]
            ann = pd.Timestamp(r["announced"]) if pd.notna(r.get("announced")) else None
            if ann is not None and ann.tzinfo is None:
                ann = ann.tz_localize("UTC")
            rows.append(
                {
                    "exchange": _exchange_name(ex),
                    "announced_utc": f"{ann.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC" if ann else "",
                    "announced_local": f"{ann.tz_convert(tz):%Y-%m-%d %H:%M %Z}" if ann else "",
                    "session": f"{pd.Timestamp(r['session']):%Y-%m-%d (%a)}"
                    if pd.notna(r.get("session"))
                    else "",
                    "rule": str(r.get("rule", "")),
                }
            )
        return rows

    def _price_figure(self, g: _Group, raw_id: Any, ev: pd.DataFrame) -> go.Figure | None:
        study = self.study
        if not study.prices:
            return None
        sub = ev[ev["event_id"] == raw_id]
        symbols = [s for s in dict.fromkeys(sub["security"].astype(str)) if s in study.prices]
        bench = [g.market] if g.market and g.market in study.prices else []
        if not symbols:
            return None
        day0 = pd.Timestamp(sub["event_date"].iloc[0])
        announced = None
        t = study.timing
        if t is not None and len(t) and "event_id" in t:
            rows = t[t["event_id"].astype(str) == str(raw_id)]
            if g.key and "exchange" in rows:
                rows = (
                    rows[rows["exchange"].astype(str) == g.key]
                    if (rows["exchange"].astype(str) == g.key).any()
                    else rows
                )
            if len(rows) and pd.notna(rows["announced"].iloc[0]):
                announced = rows["announced"].iloc[0]
        tz, open_t, close_t, name = _EXCHANGE_HOURS.get(
            g.key or "XTKS", ("UTC", "00:00", "23:59", g.key or "exchange")
        )
        if (g.key or "XTKS") == "XTKS" and day0 < _TSE_CLOSE_MOVED:
            close_t = "15:00"
        try:
            return figures.plot_prices(
                {s: study.prices[s] for s in [*symbols, *bench]},
                day0,
                announced,
                benchmarks=bench,
                exchange_tz=tz,
                open_time=open_t,
                close_time=close_t,
                exchange=name,
                colors=self.colors,
                labels=self.labels,
                title=f"Prices around event {raw_id}, rebased to 100 at day -1",
            )
        except ReportError as exc:
            self.study.notes.append(f"price chart of event {raw_id} left out: {exc}")
            return None

    def _across(self, g: _Group) -> None:
        res = g.results
        suffix = f" ({_exchange_name(g.key)})" if self.study.multi else ""
        wins = self._windows(res)
        hw = self.heatmap_window
        block: dict[str, Any] = {"group": g.key, "name": _exchange_name(g.key), "figures": []}
        tests = figures.tests_frame(res, wins)
        block["tests"] = tests
        block["figures"].append(
            self._add(
                self._fid("heatmap", g.key),
                f"CAR{figures.format_window(hw)} heatmap{suffix}",
                figures.plot_heatmap(res, hw, labels=self.labels),
            )
        )
        block["figures"].append(
            self._add(
                self._fid("forest", g.key),
                f"CAR{figures.format_window(hw)} forest plot{suffix}",
                figures.plot_forest(res, hw, colors=self.colors, labels=self.labels),
            )
        )
        block["diagnostics"] = [
            self._add(
                self._fid("diagnostics", g.key),
                f"Estimation diagnostics{suffix}",
                figures.plot_diagnostics(res, colors=self.colors, labels=self.labels),
            ),
            self._add(
                self._fid("residual-correlation", g.key),
                f"Residual correlation{suffix}",
                figures.plot_residual_correlation(res, labels=self.labels),
            ),
        ]
        # the test table as a figure, for notes (fragment and image; not in index.html)
        self._add(
            self._fid("tests", g.key),
            f"Tests of the mean CAR{suffix}",
            figures.plot_tests(res, wins),
        )
        block["excluded"] = figures._frame(res, "excluded")
        notes = getattr(res, "test_notes", None)
        notes = notes() if callable(notes) else notes
        block["test_notes"] = notes if isinstance(notes, pd.DataFrame) else pd.DataFrame()
        block["clustering"] = figures._frame(res, "clustering")
        block["params"] = figures._frame(res, "params")
        self.across.append(block)

    def _tables(self) -> None:
        """The tidy tables of every group (an ``exchange`` column when there are several)."""
        parts: dict[str, list[pd.DataFrame]] = {}

        def put(name: str, frame: pd.DataFrame, g: _Group) -> None:
            frame = frame.copy()
            if self.study.multi or g.key:
                frame.insert(0, "exchange", g.key)
            parts.setdefault(name, []).append(frame)

        for g, block in zip(self.study.groups, self.across, strict=True):
            res = g.results
            wins = self._windows(res)
            put("abnormal_returns", figures._frame(res, "abnormal_returns"), g)
            cars = []
            for w in wins:
                c = res.car(w).copy()
                c.insert(0, "window", figures.format_window(w))
                cars.append(c)
            put("car", pd.concat(cars, ignore_index=True), g)
            put("car_paths", figures._frame(res, "car_paths"), g)
            put("tests", block["tests"], g)
            days = figures._frame(res, "abnormal_returns")["rel_day"]
            put("aar_tests", res.aar_tests((int(days.min()), int(days.max()))), g)
            put("params", block["params"], g)
            put("excluded", block["excluded"], g)
            if len(block["test_notes"]):
                put("test_notes", block["test_notes"], g)
            put("clustering", block["clustering"], g)
        self.tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
        if self.study.timing is not None:
            self.tables["timing"] = self.study.timing.copy()
        for name, frame in self.study.analyses.items():
            self.tables[name] = frame.copy()
        self.main_tests = self.tables["tests"]


# ----------------------------------------------------------------------------- analyses

#: Display names of the columns of the analysis tables.
_HEADERS: dict[str, str] = {
    "title": "Specification",
    "variant": "Variant",
    "window": "Window",
    "n": "N",
    "caar": "Mean CAR",
    "t_portfolio": "Portfolio t",
    "p_portfolio": "p portfolio",
    "p_adjusted_patell": "p adj. Patell",
    "p_kolari_pynnonen": "p adj. BMP (KP)",
    "p_grank": "p GRANK",
    "answer": "Answer (portfolio, 5%)",
    "same_answer": "Same as study?",
    "timing": "Timing",
    "day0": "Day 0",
    "subset": "Portfolio / security",
    "span": "Combined window",
    "start": "From",
    "end": "To",
    "label": "Event",
    "timing_confidence": "Timing confidence",
    "ci_low": "95% low",
    "ci_high": "95% high",
    "se": "s.e.",
    "size_ci_low": "size 95% low",
    "size_ci_high": "size 95% high",
    "share_significant": "significant",
    "share_significant_positive": "significant +",
    "share_significant_negative": "significant −",
    "share_positive": "CAR > 0",
    "median_car": "median CAR",
    "min_car": "min CAR",
    "max_car": "max CAR",
    "n_specs": "specifications",
}


def _cell(column: str, value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return {"text": "", "cls": ""}
    if isinstance(value, bool | np.bool_):
        return {"text": "yes" if value else "no", "cls": "" if value else "sig"}
    if isinstance(value, pd.Timestamp | _dt.date):
        return {"text": f"{pd.Timestamp(value):%Y-%m-%d}", "cls": ""}
    if (
        column in ("size", "power", "rejection_rate")
        or column.startswith("share_")
        or column.endswith(("_ci_low", "_ci_high"))
    ):
        return {"text": f"{float(value) * 100:.1f}%", "cls": ""}
    if column in ("caar", "car", "se", "ci_low", "ci_high") or column.endswith("_car"):
        return {"text": f"{float(value) * 100:+.2f}%", "cls": ""}
    if column.startswith("p_") or column == "p_value":
        p = float(value)
        return {"text": f"{p:.4f}", "cls": "sig" if p < 0.05 else ""}
    if isinstance(value, float | np.floating):
        return {"text": f"{float(value):.3f}" if abs(value) < 1e4 else f"{value:.4g}", "cls": ""}
    return {"text": str(value), "cls": "text"}


#: Titles of the robustness tables ``eventstudy run --simulate/--sensitivity`` adds.
_TABLE_TITLES: dict[str, str] = {
    "simulate_verdicts": "Placebo simulation: size at 5% and power per test",
    "simulate_size_5pct": "Placebo simulation: rejection rate under the null at 5%, per window",
    "sensitivity_spec_summary": "Specification curve: share of specifications significant at 5%",
}


def _display(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """A table for the template: header labels and rows of formatted cells."""
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    rows = [
        [_cell(c, v) for c, v in zip(cols, rec, strict=True)]
        for rec in frame[cols].itertuples(index=False, name=None)
    ]
    return {"header": [_HEADERS.get(c, c) for c in cols], "rows": rows}


_ROBUST_COLS = ("n", "caar", "t_portfolio", "p_portfolio", "p_adjusted_patell")
_ROBUST_COLS2 = ("p_kolari_pynnonen", "p_grank")


def _event_sections(study: _Study, eid: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The analysis tables of one event (variants, date-only shift, roles, overlaps)."""
    a = study.analyses
    out: list[dict[str, Any]] = []

    def rows_of(name: str, column: str = "event_id") -> pd.DataFrame:
        frame = a.get(name)
        if frame is None or column not in frame:
            return pd.DataFrame()
        return frame[frame[column].astype(str) == eid]

    multi = study.multi
    ex_col = ["exchange"] if multi else []
    shifted = rows_of("shifted")
    if len(shifted):
        out.append(
            {
                "id": "shifted",
                "title": "If the first reacting session were one session later",
                "note": "The announcement time is known only to the day, so day 0 may be one "
                "session late or early. The event is rerun with day 0 moved one session later "
                "(estimation window moved with it).",
                "table": _display(
                    shifted,
                    [*ex_col, "window", "timing", "day0", *_ROBUST_COLS, *_ROBUST_COLS2, "answer"],
                ),
            }
        )
    variants = rows_of("variants")
    if len(variants):
        changed = variants[variants["same_answer"] == False]  # noqa: E712
        note = (
            "Mean CAR of the event's securities and the p-values of the tests that stay "
            "valid when they share the date, under each specification. The answer is the "
            "sign of the mean CAR and whether the portfolio test rejects at 5%. "
        )
        note += (
            "The answer is the same under every variant."
            if changed.empty
            else "The answer changes in "
            + ", ".join(f"{r.variant} {r.window}" for r in changed.itertuples())
            + "."
        )
        out.append(
            {
                "id": "variants",
                "title": "Does the answer change? Benchmark, model and estimation window",
                "note": note,
                "table": _display(
                    variants,
                    [
                        *ex_col,
                        "title",
                        "window",
                        *_ROBUST_COLS,
                        *_ROBUST_COLS2,
                        "answer",
                        "same_answer",
                    ],
                ),
            }
        )
    roles = rows_of("roles")
    if len(roles):
        out.append(
            {
                "id": "roles",
                "title": "Named OEMs and peers apart",
                "note": _role_note(study, roles, eid, labels),
                "table": _display(
                    roles, [*ex_col, "subset", "window", *_ROBUST_COLS, *_ROBUST_COLS2]
                ),
            }
        )
    over = a.get("overlaps")
    if over is not None and len(over):
        mine = over[(over["first"].astype(str) == eid) | (over["second"].astype(str) == eid)]
        comb = a.get("combined", pd.DataFrame())
        if len(comb):
            comb = comb[(comb["event_id"].astype(str) == eid) | (comb["second"].astype(str) == eid)]
        close = mine[mine["event_windows_overlap"].astype(bool)]
        far = mine[~mine["event_windows_overlap"].astype(bool)]
        if len(close) or len(comb):
            out.append(
                {
                    "id": "combined",
                    "title": "Overlapping windows and the combined window",
                    "note": " ".join(close["statement"]),
                    "table": _display(
                        comb,
                        [*ex_col, "span", "window", "start", "end", *_ROBUST_COLS, *_ROBUST_COLS2],
                    )
                    if len(comb)
                    else None,
                }
            )
        if len(far):
            out.append(
                {
                    "id": "overlaps",
                    "title": "Other events inside the estimation window",
                    "note": " ".join(far["statement"]),
                    "table": None,
                }
            )
    return out


def _role_note(study: _Study, roles: pd.DataFrame, eid: str, labels: Mapping[str, str]) -> str:
    """Which single securities moved against the named OEMs on day 0 (e.g. Suzuki)."""
    day = roles[roles["window"] == "(0,0)"]
    oem = day[day["role"] == "oem"]
    parts = [
        "Equal-weighted portfolios of the four named OEMs and of the peers, and each peer "
        "alone (its own CAR t-test; a lone security has no cross-sectional test)."
    ]
    if oem.empty:
        return parts[0]
    oem_car = float(oem["caar"].iloc[0])
    singles = day[day["n"] == 1]
    for r in singles.itertuples(index=False):
        if np.sign(r.caar) == np.sign(oem_car) or not math.isfinite(r.caar):
            continue
        sym = str(r.subset).split()[-1]
        raw = _raw_day0(study, eid, sym)
        oem_raw = [
            _raw_day0(study, eid, s)
            for s in _role_members(study.config, "oem")
            if _raw_day0(study, eid, s) is not None
        ]
        text = f"{r.subset} moved against the named OEMs on day 0: AR {r.caar * 100:+.2f}%"
        if raw is not None and oem_raw:
            text += (
                f" (close-to-close {raw * 100:+.2f}%, while the named OEMs moved "
                f"{min(oem_raw) * 100:+.2f}% to {max(oem_raw) * 100:+.2f}%)"
            )
        text += f" against the named OEMs' mean AR of {oem_car * 100:+.2f}%."
        parts.append(text)
    return " ".join(parts)


def _role_members(config: Any, role: str) -> list[str]:
    return [
        str(s.symbol)
        for s in getattr(config, "securities", []) or []
        if getattr(s, "role", None) == role
    ]


def _raw_day0(study: _Study, eid: str, symbol: str) -> float | None:
    """Close-to-close return of ``symbol`` on the event's day 0 (adjusted close)."""
    frame = study.prices.get(symbol)
    t = study.timing
    if frame is None or t is None or not len(t):
        return None
    rows = t[t["event_id"].astype(str) == eid]
    if rows.empty:
        return None
    day0 = pd.Timestamp(rows["session"].iloc[0])
    col = "adj_close" if "adj_close" in frame else "close"
    series = frame[col].dropna()
    if day0 not in series.index:
        return None
    pos = series.index.get_loc(day0)
    if pos == 0:
        return None
    return float(series.iloc[pos] / series.iloc[pos - 1] - 1.0)


def _exchange_name(key: str) -> str:
    return _EXCHANGE_HOURS.get(key, ("", "", "", key))[3] if key else ""


def _slug(value: Any) -> str:
    text = re.sub(r"[^0-9a-zA-Z]+", "-", str(value)).strip("-").lower()
    return text or "x"


# ----------------------------------------------------------------------------- writing


def _write_folder(folder: Path, study: _Study, build: _Builder, mode: str) -> None:
    for f in build.figures:
        f.html = pio.to_html(
            f.fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f.id,
            config=figures.PLOT_CONFIG,
            validate=False,
        )
    _write_fragments(folder / "fragments", build)
    _write_tables(folder / "tables", build)
    _write_json(folder / "results.json", study, build)
    _write_index(folder / "index.html", study, build, mode)


def _write_fragments(folder: Path, build: _Builder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in build.figures:
        text = (
            f"<!-- eventstudy figure {f.id}: {html.escape(f.title)}; needs plotly.js "
            f"{plotly.offline.get_plotlyjs_version()} on the page -->\n"
            f'<div class="eventstudy-figure" id="{f.id}-container">\n{f.html}\n</div>\n'
        )
        (folder / f"{f.id}.html").write_text(text, encoding="utf-8")


def _write_tables(folder: Path, build: _Builder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in build.tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    (folder / "tests.md").write_text(_tests_markdown(build.main_tests), encoding="utf-8")
    (folder / "tests.tex").write_text(_tests_latex(build.main_tests), encoding="utf-8")


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp | _dt.datetime | _dt.date):
        ts = pd.Timestamp(v)
        if pd.isna(ts):
            return None
        if ts.tzinfo is None and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NaT or (not isinstance(v, str | bytes | bool | int | float) and pd.isna(v)):
        return None
    if isinstance(v, str | bool | int | float):
        return v
    return str(v)


def _json_table(frame: pd.DataFrame) -> str:
    """A table as a JSON array of records (dates as ISO strings, NaN as null), fast."""
    out = frame.copy(deep=False)
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            series.dtype
        ):
            naive = series.dt.tz is None
            if naive and (series.dropna() == series.dropna().dt.normalize()).all():
                out[col] = series.dt.strftime("%Y-%m-%d")
            else:
                out[col] = series.map(lambda v: v.isoformat() if pd.notna(v) else None)
        elif series.dtype == object:
            out[col] = series.map(_jsonable)
    return out.to_json(orient="records", double_precision=15, force_ascii=False)


def _write_json(path: Path, study: _Study, build: _Builder) -> None:
    head = {"title": study.title, "provenance": _provenance(study)}
    parts = [f"{json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in head.items()]
    parts += [f"{json.dumps(name)}: {_json_table(frame)}" for name, frame in build.tables.items()]
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")


def _tests_wide(
    tests: pd.DataFrame,
) -> tuple[list[str], list[str], list[tuple[str, bool, list[str]]]]:
    """The main test table, wide: windows, mean CAR per window, rows (label, robust, cells).

    ``cells`` holds, per window, the statistic with its stars and the p-value.
    """
    has_group = "exchange" in tests
    records = tests.to_dict("records")
    groups = list(dict.fromkeys(r["exchange"] for r in records)) if has_group else [None]
    windows = list(dict.fromkeys(r["window"] for r in records))
    first: dict[tuple[Any, str], float] = {}
    cell: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for r in records:
        g = r["exchange"] if has_group else None
        first.setdefault((g, r["window"]), r["caar"])
        cell[(g, r["test"], r["window"])] = r
    caar = [
        " / ".join(f"{first[(g, w)] * 100:+.2f}%" for g in groups if (g, w) in first)
        for w in windows
    ]
    rows = []
    for grp in groups:
        names = dict.fromkeys(r["test"] for r in records if not has_group or r["exchange"] == grp)
        for name in names:
            cells = []
            for w in windows:
                r = cell.get((grp, name, w))
                if r is not None:
                    cells += [
                        figures._num(r["statistic"], 3) + r["stars"],
                        figures._num(r["p_value"], 4),
                    ]
                else:
                    cells += ["", ""]
            label = figures.TEST_LABELS.get(name, name)
            if grp and len(groups) > 1:
                label = f"{_exchange_name(grp)}: {label}"
            rows.append((label, name in figures.ROBUST_TESTS, cells))
    return windows, caar, rows


def _tests_markdown(tests: pd.DataFrame) -> str:
    if tests.empty:
        return "No tests.\n"
    windows, caar, rows = _tests_wide(tests)
    head = ["Test"] + [x for w in windows for x in (f"CAR{w}", "p")]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
        "| Mean CAR (CAAR) | " + " | ".join(x for c in caar for x in (c, "")) + " |",
    ]
    for label, robust, cells in rows:
        name = f"**{label}** †" if robust else label
        lines.append(f"| {name} | " + " | ".join(c.replace("*", "\\*") for c in cells) + " |")
    lines += [
        "",
        "† valid when securities share the event date. Statistic and two-sided p-value; "
        "\\* p<0.10, \\*\\* p<0.05, \\*\\*\\* p<0.01.",
        "",
    ]
    return "\n".join(lines)


_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text).replace("ö", r"\"o")


def _tests_latex(tests: pd.DataFrame) -> str:
    if tests.empty:
        return "% no tests\n"
    windows, caar, rows = _tests_wide(tests)
    cols = "l" + "rr" * len(windows)
    head1 = " & ".join(
        [""] + [rf"\multicolumn{{2}}{{c}}{{CAR${_latex_escape(w)}$}}" for w in windows]
    )
    rules = " ".join(rf"\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(windows)))
    head2 = " & ".join(["Test"] + ["stat.", "$p$"] * len(windows))
    body = [
        " & ".join(
            ["Mean CAR (CAAR)"] + [rf"\multicolumn{{2}}{{c}}{{{_latex_escape(c)}}}" for c in caar]
        )
        + r" \\"
    ]
    for label, robust, cells in rows:
        cell_tex = []
        for c in cells:
            m = re.match(r"^(-?[\d.]+)(\**)$", c)
            cell_tex.append(f"{m.group(1)}$^{{{m.group(2)}}}$" if m and m.group(2) else c)
        name = _latex_escape(label) + (r"$^\dagger$" if robust else "")
        body.append(" & ".join([name, *cell_tex]) + r" \\")
    return "\n".join(
        [
            "% Tests of the mean CAR; needs \\usepackage{booktabs}",
            r"\begin{tabular}{" + cols + "}",
            r"\toprule",
            head1 + r" \\",
            rules,
            head2 + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\multicolumn{"
            + str(1 + 2 * len(windows))
            + r"}{l}{\footnotesize $^\dagger$ valid when securities share the event date; "
            r"$^{*}$ $p<0.10$, $^{**}$ $p<0.05$, $^{***}$ $p<0.01$ (two-sided).} \\",
            r"\end{tabular}",
            "",
        ]
    )


def _versions(extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    out = {"eventstudy": _version("oem-eventstudy"), "python": sys.version.split()[0]}
    for name in _DEPENDENCIES:
        v = _version(name)
        if v:
            out[name] = v
    for k, v in (extra or {}).items():  # what the run recorded wins over what is here now
        out[str(k)] = str(v)
    return {k: v for k, v in out.items() if v}


@functools.cache
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "oem-eventstudy":
            from eventstudy import __version__

            return __version__
        return ""


_RUN_TIME_KEYS = ("run_at", "run_time", "run_finished", "finished_at", "run_started", "started_at")


def _short(key: str, value: Any) -> str:
    text = str(value)
    if key.endswith(("sha256", "sha1", "hash")):
        return text[:12]
    if key in ("path", "file") and "/" in text:
        return text.rsplit("/", 1)[-1]
    return text if len(text) <= 60 else text[:57] + "..."


def _provenance(study: _Study) -> dict[str, Any]:
    """Versions, data source per symbol with fetch time, config, run time (for the footer)."""
    prov = dict(study.provenance)
    versions = prov.pop("versions", None)
    if isinstance(versions, Mapping) and "oem-eventstudy" in versions:
        versions = {("eventstudy" if k == "oem-eventstudy" else k): v for k, v in versions.items()}
    run_sources = prov.pop("sources", None)
    run_sources = run_sources if isinstance(run_sources, Mapping) else {}
    symbols = list(dict.fromkeys([*study.prices, *run_sources]))
    sources = []
    for symbol in symbols:
        frame = study.prices.get(symbol)
        p = dict(getattr(frame, "attrs", {}).get("provenance", {}) or {})
        r = run_sources.get(symbol, {})
        r = r if isinstance(r, Mapping) else {"source": r}
        detail = []
        if r.get("first") and r.get("last"):
            detail.append(f"{r['first']} to {r['last']}")
        elif frame is not None and len(frame):
            detail.append(f"{frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}")
        for k, v in p.items():
            if k in ("source", "symbol", "fetched_at", "versions") or v in (None, ""):
                continue
            if k == "requested_symbol" and v == symbol:
                continue
            if isinstance(v, str | int | float):
                detail.append(f"{k}={_short(k, v)}")
        sources.append(
            {
                "symbol": str(symbol),
                "source": str(p.get("source") or r.get("source") or ""),
                "fetched_at": str(p.get("fetched_at") or r.get("fetched_at") or ""),
                "detail": ", ".join(detail),
            }
        )
    handled = {*_RUN_TIME_KEYS, "config_file", "config_path", "config_hash"}
    return {
        "versions": _versions(versions if isinstance(versions, Mapping) else None),
        "sources": sources,
        "config_path": str(study.config_path or prov.get("config_file") or "") or None,
        "config_hash": study.config_hash or prov.get("config_hash"),
        "run_at": _first(prov, *_RUN_TIME_KEYS),
        "run_started": _first(prov, "run_started", "started_at"),
        "report_written_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "other": {
            str(k): _jsonable(v)
            for k, v in prov.items()
            if k not in handled and isinstance(v, str | int | float | bool)
        },
    }


def _first(d: Mapping[str, Any], *keys: str) -> str | None:
    for k in keys:
        if d.get(k):
            return str(d[k])
    return None


# ----------------------------------------------------------------------------- HTML


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = lambda v, d=2: "" if _nan(v) else f"{float(v) * 100:+.{d}f}%"
    env.filters["num"] = lambda v, d=3: "" if _nan(v) else f"{float(v):.{d}f}"
    env.filters["window"] = figures.format_window
    return env


def _nan(v: Any) -> bool:
    try:
        return v is None or not math.isfinite(float(v))
    except (TypeError, ValueError):
        return True


def _test_rows(tests: pd.DataFrame) -> dict[str, Any]:
    """A test table shaped for the template: windows, and rows of cells."""
    if tests is None or tests.empty:
        return {"windows": [], "rows": [], "caar": []}
    records = tests.to_dict("records")
    windows = list(dict.fromkeys(r["window"] for r in records))
    caar: dict[str, float] = {}
    cell: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        caar.setdefault(r["window"], r["caar"])
        cell[(r["test"], r["window"])] = r
    rows = []
    for name in dict.fromkeys(r["test"] for r in records):
        cells = []
        for w in windows:
            r = cell.get((name, w))
            if r is None:
                cells.append(None)
                continue
            p = float(r["p_value"])
            cells.append(
                {
                    "stat": figures._num(r["statistic"], 3),
                    "stars": r["stars"],
                    "p": figures._num(p, 4),
                    "sig": p < 0.05,
                }
            )
        rows.append(
            {
                "test": name,
                "label": figures.TEST_LABELS.get(name, name),
                "robust": name in figures.ROBUST_TESTS,
                "cells": cells,
            }
        )
    return {"windows": windows, "rows": rows, "caar": [caar[w] for w in windows]}


def _frame_rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[str]]:
    cols = [c for c in columns if c in frame]
    out = []
    for _, r in frame.iterrows():
        row = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                row.append("" if not math.isfinite(v) else f"{v:.4g}")
            elif isinstance(v, pd.Timestamp):
                row.append(f"{v:%Y-%m-%d}")
            else:
                row.append(str(v))
        out.append(row)
    return out


@functools.cache
def _inline_plotlyjs() -> Markup:
    js = plotly.offline.get_plotlyjs().replace("</script", "<\\/script")
    return Markup(f'<script type="text/javascript">{js}</script>')


def _write_index(path: Path, study: _Study, build: _Builder, mode: str) -> None:
    version = plotly.offline.get_plotlyjs_version()
    if mode == "inline":
        head_js = _inline_plotlyjs()
    elif mode == "cdn":
        head_js = Markup(
            f'<script src="https://cdn.plot.ly/plotly-{version}.min.js" charset="utf-8"></script>'
        )
    else:
        head_js = Markup("")
    prov = _provenance(study)
    n_secs = len({s for g in study.groups for s in figures._securities(g.results)})
    events = [
        {
            "id": ev.id,
            "anchor": "event-" + _slug(ev.id),
            "title": ev.title,
            "date": f"{ev.date:%Y-%m-%d}" if ev.date is not None else "",
            "dossier": ev.dossier,
            "timing": ev.timing,
            "confidence": ev.confidence,
            "sections": ev.sections,
            "blocks": [
                {
                    "name": _exchange_name(b.group) if study.multi else "",
                    "figures": [
                        {"id": f.id, "title": f.title, "html": Markup(f.html)} for f in b.figures
                    ],
                    "tests": _test_rows(b.tests),
                }
                for b in ev.blocks
            ],
        }
        for ev in build.events
    ]
    across = []
    for block in build.across:
        excluded = block["excluded"]
        clustering = block["clustering"]
        across.append(
            {
                "name": block["name"] if study.multi else "",
                "tests": _test_rows(block["tests"]),
                "figures": [
                    {"id": f.id, "title": f.title, "html": Markup(f.html)} for f in block["figures"]
                ],
                "diagnostics": [
                    {"id": f.id, "title": f.title, "html": Markup(f.html)}
                    for f in block["diagnostics"]
                ],
                "excluded": _frame_rows(excluded, ["event_id", "security", "reason"]),
                "test_notes": _frame_rows(block["test_notes"], ["event_id", "test", "reason"]),
                "clustering": _frame_rows(
                    clustering, ["event_id", "n_securities", "rbar", "design_effect"]
                ),
            }
        )
    html_text = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=study.title,
            head_js=head_js,
            plotlyjs_mode=mode,
            plotlyjs_version=version,
            n_events=len(build.events),
            n_securities=n_secs,
            exchanges=[_exchange_name(g.key) for g in study.groups if g.key],
            events=events,
            across=across,
            notes=study.notes,
            prov=prov,
            heatmap_window=figures.format_window(build.heatmap_window),
            extra=[{"id": f.id, "title": f.title, "html": Markup(f.html)} for f in build.extra],
            extra_tables=build.extra_tables,
            extra_text=build.extra_text,
        )
    )
    path.write_text(html_text, encoding="utf-8")


# ----------------------------------------------------------------------------- images


def _image_formats(images: Iterable[str] | str | None) -> list[str]:
    if not images:
        return []
    items = [images] if isinstance(images, str) else list(images)
    formats = []
    for item in items:
        for fmt in str(item).split(","):
            fmt = fmt.strip().lower().lstrip(".")
            if fmt and fmt not in formats:
                formats.append(fmt)
    bad = [f for f in formats if f not in IMAGE_FORMATS]
    if bad:
        raise ReportError(
            detail=f"unknown image format(s) {', '.join(bad)}",
            fix=f"use some of {', '.join(sorted(IMAGE_FORMATS))}",
        )
    return formats


def _require_kaleido() -> None:
    try:
        import kaleido  # noqa: F401
    except ImportError as exc:
        raise ReportError(
            detail="static images need the optional kaleido package, which is not installed",
            fix='install it with: pip install "oem-eventstudy[image]" (kaleido>=1.0, which '
            "also needs a Chromium: apt-get install chromium); or drop --images",
        ) from exc


def _write_images(
    folder: Path,
    figs: Sequence[_Figure],
    formats: Sequence[str],
    browser: str | None,
    scale: float,
) -> None:
    """Write every figure in every format with one browser for the whole run."""
    import kaleido

    folder.mkdir(parents=True, exist_ok=True)
    specs = [
        {
            "fig": f.fig,
            "path": str(folder / f"{f.id}.{fmt}"),
            "opts": {
                "format": fmt,
                "width": int(f.fig.layout.width or 1000),
                "height": int(f.fig.layout.height or 500),
                "scale": scale,
            },
        }
        for f in figs
        for fmt in formats
    ]

    async def render() -> None:
        async with kaleido.Kaleido(n=1, path=browser, mathjax=False, timeout=120) as k:
            await k.write_fig_from_object(specs, cancel_on_error=True)

    errors: list[BaseException] = []

    def thread_main() -> None:  # own event loop: works inside Jupyter's running loop too
        try:
            asyncio.run(render())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=thread_main, name="eventstudy-kaleido")
    worker.start()
    worker.join()
    if errors:
        exc = errors[0]
        raise ReportError(
            detail=f"static image export failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})",
            fix=f"check that {browser} starts headless (apt-get install chromium) or set "
            "BROWSER_PATH; or drop --images",
        ) from exc
    missing = [s["path"] for s in specs if not Path(s["path"]).is_file()]
    if missing:
        raise ReportError(
            detail=f"kaleido wrote no file for {len(missing)} image(s), e.g. {missing[0]}",
            fix="rerun with --debug; or drop --images",
        )


# ----------------------------------------------------------------------------- atomic folder


def _atomic_dir(out: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh temp folder beside ``out`` and rename it into place."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = _lock_folder(parent)
    except OSError as exc:
        raise ReportError(
            detail=f"cannot create the report folder beside {out} ({exc.strerror or exc})",
            fix="choose a writable --out folder",
        ) from exc
    try:
        _recover(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
        try:
            tmp.chmod(0o755)
            fill(tmp)
            _swap(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ReportError(
            detail=f"cannot write the report to {out} ({exc})",
            fix="check the folder is writable and has space; the previous report is unchanged",
        ) from exc
    finally:
        if lock is not None:
            os.close(lock)  # releases the flock


def _lock_folder(parent: Path) -> int | None:
    """Exclusive flock on the report's parent folder (no lock file); None off POSIX."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: recovery still runs, unlocked
        return None
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        raise
    return fd


def _recover(out: Path) -> None:
    """Undo what a killed run left beside ``out`` (called under the folder's lock).

    A kill between the two renames of :func:`_swap` leaves the previous report in
    ``.<name>.old-*`` and nothing at ``out``: put it back. Then remove stale temporary and
    old folders (no other writer owns them: we hold the lock).
    """
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not out.exists() and olds:
        os.replace(olds.pop(), out)
    for stale in [*olds, *out.parent.glob(f".{out.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _swap(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    if not out.is_dir():
        raise ReportError(
            detail=f"{out} exists and is not a folder", fix="choose another --out folder"
        )
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
