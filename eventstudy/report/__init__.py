"""The study report: one offline HTML file that answers first, fragments, tables, JSON, images.

:func:`write` takes a :class:`~eventstudy.runner.StudyRun` (what ``eventstudy run``
produces) or an :class:`~eventstudy.results.EventStudyResults` (from a notebook) and
writes a folder::

    out_dir/
      index.html          the verdict of every event first; plotly.js once in <head>
      verdict.json        the verdicts, in the words of the page and the terminal
      results.json        the verdicts, the tidy tables and the provenance, as JSON
      fragments/*.html    one figure each, for research notes (open alone by default:
      fragments/plotly.min.js   they load this copy of plotly.js; see ``fragments``)
      tables/*.csv        verdicts, firms, ARs, CARs, tests per event, params, exclusions...
      tables/tests.md     each event's tests of the mean CAR in Markdown ...
      tables/tests.tex    ... and LaTeX (booktabs)
      images/*.png|svg    static figures, when asked (kaleido + a system Chromium)

Everything is written to a temporary folder beside ``out_dir`` and renamed into place
at the end, so a failed run leaves the previous report as it was.

The package is split along its concerns: :mod:`~eventstudy.report.inputs` (the one typed
input), :mod:`~eventstudy.report.build` (figures and sections, computed once),
:mod:`~eventstudy.report.analyses` and :mod:`~eventstudy.report.display` (tables for the
page), :mod:`~eventstudy.report.tables` (CSV, JSON, Markdown, LaTeX),
:mod:`~eventstudy.report.provenance`, :mod:`~eventstudy.report.html` (Jinja, fragments),
:mod:`~eventstudy.report.images` and :mod:`~eventstudy.report.atomic` (the folder swap).
Text from configs and dossiers is escaped (Jinja2 autoescape); dossiers are rendered by
markdown-it-py with raw HTML and images off, links to http(s) and mail only
(:func:`render_markdown`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup

from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError, ReportError
from eventstudy.movers import MAX_SECURITIES_SHOWN
from eventstudy.report import atomic, html, tables
from eventstudy.report.build import Built, build_report
from eventstudy.report.common import exchange_name, slug
from eventstudy.report.display import display
from eventstudy.report.images import (
    IMAGE_FORMATS,
    find_browser,
    image_formats,
    require_kaleido,
    write_images,
)
from eventstudy.report.inputs import ReportInput
from eventstudy.report.markdown import render_markdown
from eventstudy.report.provenance import ProvenanceView, provenance, versions
from eventstudy.report.tables import write_csv
from eventstudy.results import EventStudyResults
from eventstudy.runner import StudyRun

__all__ = [
    "IMAGE_FORMATS",
    "MAX_SECURITIES_SHOWN",
    "TABLE_FORMATS",
    "ReportInput",
    "check_formats",
    "find_browser",
    "render_markdown",
    "write",
    "write_page",
    "write_results",
]


def write(
    run: StudyRun | EventStudyResults,
    out_dir: str | os.PathLike[str],
    *,
    plotlyjs: str | None = "inline",
    fragments: str | None = "sibling",
    images: Iterable[str] = (),
    windows: Iterable[tuple[int, int]] | None = None,
    title: str | None = None,
    extra_figures: Mapping[str, go.Figure] | None = None,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    extra_text: Sequence[str] = (),
    browser_path: str | os.PathLike[str] | None = None,
    image_scale: float = 2.0,
    formats: Iterable[str] = (),
) -> Path:
    """Write the full report of a study run (or of one results object) to ``out_dir``.

    Parameters
    ----------
    run : StudyRun or EventStudyResults
        A run from :func:`eventstudy.runner.run_study`, or results from
        :func:`eventstudy.event_study` (then the report has no prices, timing or dossiers,
        and the verdicts are on CAR(0,+1) when the computed window holds it).
    out_dir : path
        The report folder; replaced as a whole when the new report is complete.
    plotlyjs : {"inline", "cdn", "none"}
        How ``index.html`` carries plotly.js: embedded once in ``<head>`` (offline, the
        default), a ``<script src>`` to the CDN of the same version, or not at all (the
        page that embeds the report provides it).
    fragments : {"sibling", "inline", "div"}
        How each ``fragments/<figure>.html`` finds plotly.js: ``sibling`` (default) loads
        ``fragments/plotly.min.js`` written beside it, so a fragment opens alone;
        ``inline`` carries plotly.js in every fragment; ``div`` writes bare ``<div>``s for
        a page that loads plotly.js once itself.
    images : iterable of str
        Static image formats to write for every figure, e.g. ``("png", "svg")``; needs
        the ``image`` extra (kaleido) and a Chromium. One browser serves the whole run.
    windows : iterable of (int, int), optional
        CAR windows of the tables (default: the study's ``car_windows``; for a results
        object (0,0), (0,+1), (-1,+1), (0,+5) inside its window).
    title : str, optional
        Report title (default: the study's title, or "Event study").
    extra_figures : mapping of str to Figure, optional
        Further figures (e.g. robustness or simulation charts), keyed by caption; shown in
        a "Further figures" section, with fragments and images like the others.
    extra_tables : mapping of str to DataFrame, optional
        Further tables (e.g. the size table of ``eventstudy simulate``), keyed by a short
        name: shown in the same section and written to ``tables/<name>.csv``.
    extra_text : sequence of str
        Plain-text paragraphs shown at the top of that section.
    browser_path : path, optional
        The Chromium for images (default: ``BROWSER_PATH``, then ``chromium`` on PATH).
    image_scale : float
        Pixel density of raster images.
    formats : iterable of str
        Table formats besides those always written (HTML, CSV, JSON, Markdown, LaTeX):
        ``xlsx`` adds ``tables/tables.xlsx``, every table in one workbook
        (:mod:`eventstudy.report.xlsx`).

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
    mode, frag = html.check_modes(plotlyjs, fragments)
    table_formats = check_formats(formats)
    formats = image_formats(images)
    browser = None
    if formats:  # check before any work, so a missing extra fails in a second
        require_kaleido()
        browser = find_browser(browser_path)
    wins = tuple((int(a), int(b)) for a, b in windows) if windows is not None else None
    if isinstance(run, StudyRun):
        inp = ReportInput.from_run(run, title=title, windows=wins)
    elif isinstance(run, EventStudyResults):
        inp = ReportInput.from_results(run, title=title, windows=wins)
    else:
        raise ReportError(
            detail=f"cannot report on a {type(run).__name__}",
            fix="pass a StudyRun (eventstudy.runner.run_study) or an EventStudyResults "
            "(eventstudy.event_study)",
        )
    built = build_report(
        inp,
        extra_figures=extra_figures,
        extra_tables=extra_tables,
        extra_text=extra_text,
        formats=table_formats,
    )
    out = Path(out_dir)

    def fill(folder: Path) -> None:
        _write_folder(folder, built, mode, frag)
        if formats:
            write_images(
                folder / "images", [(f.id, f.fig) for f in built.figures], formats, browser,
                image_scale,
            )  # fmt: skip

    atomic.atomic_dir(out, fill)
    return out / "index.html"


#: Table formats a report writes (``html``, ``csv``, ``json``, ``md`` always; ``xlsx`` on request).
TABLE_FORMATS: tuple[str, ...] = ("html", "csv", "json", "md", "xlsx")


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The table formats asked for (``"xlsx"`` or ``["csv", "xlsx"]``), checked."""
    items = [formats] if isinstance(formats, str) else list(formats)
    out = tuple(
        dict.fromkeys(x.strip().lower() for f in items for x in str(f).split(",") if x.strip())
    )
    bad = [f for f in out if f not in TABLE_FORMATS]
    if bad:
        raise ConfigError(
            field="formats",
            value=", ".join(bad),
            expected="some of " + ", ".join(TABLE_FORMATS) + " (e.g. --formats xlsx)",
        )
    return out


def write_results(
    results: EventStudyResults, out_dir: str | os.PathLike[str], **kwargs: Any
) -> Path:
    """Write the report of one :class:`EventStudyResults` (same as :func:`write`)."""
    return write(results, out_dir, **kwargs)


def _write_folder(folder: Path, built: Built, mode: str, frag: str) -> None:
    divs = html.figure_divs([(f.id, f.fig) for f in built.figures])
    for f in built.figures:
        f.html = divs[f.id]
    html.write_fragments(folder / "fragments", divs, {f.id: f.title for f in built.figures}, frag)
    columns = {name: tables.table_columns(frame) for name, frame in built.tables.items()}
    tables.write_tables(folder / "tables", built, columns)  # the columns read out once
    prov = provenance(built.input)
    tables.write_json(folder / "results.json", built, prov, columns)
    tables.write_verdict_json(folder / "verdict.json", built)
    _write_index(folder / "index.html", built, prov, mode)


def _write_index(path: Path, built: Built, prov: ProvenanceView, mode: str) -> None:
    inp = built.input
    n_secs = len({str(s) for g in inp.groups for s in g.results.events["security"]})
    verdicts = list(inp.verdicts)
    choice = verdicts[0].test if verdicts else None
    text = (
        html.environment()
        .get_template("report.html.j2")
        .render(
            title=inp.title,
            head_js=html.head_js_mark(mode),
            plotlyjs_mode=mode,
            plotlyjs_version=plotly.offline.get_plotlyjs_version(),
            n_events=len(inp.events),
            n_securities=n_secs,
            exchanges=[exchange_name(g.key) for g in inp.groups if g.key],
            multi=inp.multi,
            verdicts=verdicts,
            anchors={ev.id: ev.anchor for ev in built.events},
            choice=choice,
            pooled=inp.pooled,
            window=f"CAR{format_window(inp.headline_window)}",
            events=built.events,
            groups=built.groups,
            notes=list(inp.notes),
            prov=prov,
            extra=built.extra,
            extra_tables=built.extra_tables,
            extra_text=built.extra_text,
            sections=built.sections,
            cap=MAX_SECURITIES_SHOWN,
        )
    )
    html.write_page_bytes(path, text)


def write_page(
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    text: Sequence[str] = (),
    figures: Mapping[str, go.Figure] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    shown: Sequence[str] | None = None,
    plotlyjs: str | None = "inline",
    fragments: str | None = "sibling",
    subtitle: str = "",
) -> Path:
    """Write a one-page report (text, tables, figures) atomically to ``out_dir``.

    The folder holds ``index.html``, ``fragments/<figure>.html`` (opening alone, as in
    :func:`write`), ``tables/<name>.csv`` and ``summary.txt`` (the text). Used by
    ``eventstudy simulate``, ``sensitivity`` and ``compare``. ``shown`` names the tables
    displayed in the page (default: those of at most 60 rows); every table is written as CSV.
    """
    mode, frag = html.check_modes(plotlyjs, fragments)
    figs: list[tuple[str, str, go.Figure]] = []
    for caption, fig in (figures or {}).items():
        if not isinstance(fig, go.Figure):
            raise ReportError(
                detail=f"figure {caption!r} is a {type(fig).__name__}",
                fix="pass plotly.graph_objects.Figure objects",
            )
        figs.append((slug(caption), str(caption), fig))
    tabs = {
        slug(k).replace("-", "_"): v
        for k, v in (tables or {}).items()
        if isinstance(v, pd.DataFrame)
    }
    names = {slug(k).replace("-", "_"): str(k) for k in (tables or {})}
    show = (
        [slug(k).replace("-", "_") for k in shown]
        if shown is not None
        else [k for k, v in tabs.items() if len(v) <= 60]
    )

    def fill(folder: Path) -> None:
        divs = html.figure_divs([(fid, fig) for fid, _, fig in figs])
        html.write_fragments(
            folder / "fragments", divs, {fid: caption for fid, caption, _ in figs}, frag
        )
        (folder / "tables").mkdir()
        for name, frame in tabs.items():
            write_csv(frame, folder / "tables" / f"{name}.csv")
        (folder / "summary.txt").write_text("\n\n".join(text) + "\n", encoding="utf-8")
        page = (
            html.environment()
            .get_template("page.html.j2")
            .render(
                title=title,
                subtitle=subtitle,
                head_js=html.head_js_mark(mode),
                text=list(text),
                tables=[
                    {"name": names[k], "csv": k, "table": display(tabs[k])}
                    for k in show
                    if k in tabs
                ],
                csvs=list(tabs),
                figures=[
                    {"id": fid, "title": caption, "html": Markup(divs[fid])}
                    for fid, caption, _ in figs
                ],
                written=html.now_utc(),
                versions=versions(),
            )
        )
        html.write_page_bytes(folder / "index.html", page)

    out = Path(out_dir)
    atomic.atomic_dir(out, fill)
    return out / "index.html"
