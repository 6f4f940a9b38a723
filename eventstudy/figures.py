"""Every Plotly figure of ``eventstudy``, built from the results object's tidy DataFrames.

The functions are duck-typed on the results object: they read only the documented
tables (``abnormal_returns``, ``car(window)``, ``car_paths()``, ``caar_tests(window)``,
``params``, ``clustering``, ``residual_correlation(event_id)``, ``events``), so they work
on an :class:`~eventstudy.results.EventStudyResults` and on any stand-in that carries
the same shapes. Each returns a :class:`plotly.graph_objects.Figure` and never shows it.

Conventions shared by every figure:

* returns are drawn in **percent** (the tables hold fractions);
* one colour per security everywhere (:func:`security_colors`); the equal-weighted
  portfolio is black, benchmarks are grey;
* hover shows the date, the relative day and the value;
* one clean template (:data:`TEMPLATE`), applied per figure (the global Plotly default
  is left alone);
* each figure is written out as plain data (trace dicts, one layout with its axes, shapes
  and annotations) and validated once by ``go.Figure`` (:mod:`eventstudy.figures_spec`):
  Plotly's incremental API (``make_subplots``, ``add_trace``, ``update_layout``...) costs
  several times more for the same figure.

The architecture document's names (``ar_bars``, ``car_paths``, ...) are aliases of the
``plot_*`` functions.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from eventstudy.config import format_window
from eventstudy.exceptions import ReportError
from eventstudy.figures_spec import Grid, Spec, figure, grid, hline, on, refs, vline, vrect
from eventstudy.movers import MAX_SECURITIES_SHOWN, Movers, top_and_bottom
from eventstudy.verdict import stars as _stars
from eventstudy.vocabulary import CLUSTER_ROBUST_TESTS, TEST_NAMES

__all__ = [
    "BENCHMARK_COLOR",
    "DEFAULT_WINDOWS",
    "MAX_SECURITIES_SHOWN",
    "PALETTE",
    "PORTFOLIO",
    "PORTFOLIO_COLOR",
    "ROBUST_TESTS",
    "TEMPLATE",
    "TEST_LABELS",
    "TEST_ORDER",
    "format_window",
    "plot_ar",
    "plot_car",
    "plot_car_distribution",
    "plot_compare_forest",
    "plot_compare_heatmap",
    "plot_diagnostics",
    "plot_forest",
    "plot_heatmap",
    "plot_prices",
    "plot_residual_correlation",
    "plot_tests",
    "security_colors",
    "significance_stars",
    "static_figure",
    "tests_frame",
    "use_notebook_renderer",
]

# ----------------------------------------------------------------------------- style

#: The CAR chart's subtitle line about the legend, which a picture leaves out.
_CLICK_HINT = "<br>click a firm in the legend to hide it"
#: Height of a subtitle line (12 px type), px.
_LINE_PX = 22

#: Tableau 10: distinguishable, print-safe, familiar from research notes.
PALETTE: tuple[str, ...] = (
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
PORTFOLIO = "portfolio"
PORTFOLIO_COLOR = "#1A1A1A"
BENCHMARK_COLOR = "#7F7F7F"
_REACT_COLOR = "#F2C14E"
_ANNOUNCE_COLOR = "#C0392B"
_FONT = "Inter, 'Helvetica Neue', Helvetica, Arial, sans-serif"


#: Where a legend or a colour bar sits: across the bottom of the chart, left-aligned with
#: the plot area (``yref="container"``: the bottom margin grows to hold it below the axis
#: titles, at any width), nothing at the right edge, where the toolbar is.
_AT_BOTTOM: dict[str, Any] = {
    "orientation": "h",
    "x": 0.0,
    "xanchor": "left",
    "y": 0.0,
    "yref": "container",
    "yanchor": "bottom",
}
#: Every figure's legend.
_BOTTOM_LEGEND: dict[str, Any] = {
    **_AT_BOTTOM,
    "font": {"size": 12},
    "bgcolor": "rgba(255,255,255,0)",
}


def _colorbar(title: str, **more: Any) -> Spec:
    """A heatmap's colour bar, placed like the legend, its title to its left; the 360 px
    hold both."""
    return {
        **_AT_BOTTOM,
        "lenmode": "pixels",
        "len": 360,
        "thickness": 14,
        "title": {"text": title, "side": "right"},
        **more,
    }


#: Panel titles of the diagnostics charts (short: the third stays clear of the toolbar in a
#: 700 px chart; the x-axis titles carry the units in full).
_DIAGNOSTICS_TITLES = ("Market beta", "R² (%)", "Residual σ (%/day)")
#: Toolbar buttons left out (names of plotly.js; a name a version does not know is ignored).
_MODEBAR_REMOVE = (
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "select2d",
    "lasso2d",
    "toggleSpikelines",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
    "sendChartToCloud",
)


def _make_template() -> go.layout.Template:
    """A small template (layout only): cheap to attach to every figure and to serialise."""
    axis = {
        "showgrid": True,
        "gridcolor": "#ECECEC",
        "showline": True,
        "linecolor": "#555555",
        "ticks": "outside",
        "tickcolor": "#555555",
        "zeroline": False,
        "zerolinecolor": "#555555",
        "title": {"font": {"size": 13}, "standoff": 12},
        "automargin": True,
    }
    return go.layout.Template(
        layout={
            "font": {"family": _FONT, "size": 13, "color": "#222222"},
            "title": {
                "font": {"size": 17, "color": "#111111"},
                "x": 0.0,
                "xanchor": "left",
                "xref": "container",
                "y": 1.0,
                "yref": "container",
                "yanchor": "top",
                "pad": {"t": 14, "l": 16},
            },
            "colorway": list(PALETTE),
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "margin": {"l": 70, "r": 30, "t": 85, "b": 60},
            # the legend runs across the bottom of the chart, under the axis titles (the
            # bottom margin grows to fit it): the plot keeps the chart's width in a narrow
            # column, and nothing sits at the right edge, where the toolbar is
            "legend": _BOTTOM_LEGEND,
            "hoverlabel": {"font": {"family": _FONT, "size": 12}, "align": "left"},
            # the toolbar down the right edge, clear of a long title in a narrow chart, and
            # short: the buttons an event-study chart uses (zoom, pan, reset, download as
            # PNG); no select/lasso, and no upload to Plotly's cloud (plotly.js 4 shows it)
            "modebar": {"orientation": "v", "remove": list(_MODEBAR_REMOVE)},
            "hovermode": "closest",
            "bargap": 0.15,
            "bargroupgap": 0.05,
            "xaxis": axis,
            "yaxis": axis,
        }
    )


#: The template every figure uses (white, light grid, readable sans-serif).
TEMPLATE: go.layout.Template = _make_template()

#: Tests that stay valid when securities share an event date; listed first everywhere
#: (one list for the whole package: ``config.CLUSTER_ROBUST_TESTS``).
ROBUST_TESTS: tuple[str, ...] = CLUSTER_ROBUST_TESTS
#: Display order of every test of the battery (robust tests first).
TEST_ORDER: tuple[str, ...] = TEST_NAMES
TEST_LABELS: dict[str, str] = {
    "portfolio": "Portfolio, equal-weighted",
    "sur_wald": "SUR Wald, all CARs = 0 (Binder 1985)",
    "sur_wald_mean": "SUR Wald, mean CAR = 0",
    "adjusted_patell": "Adjusted Patell (Kolari-Pynnönen 2010)",
    "kolari_pynnonen": "Adjusted BMP (Kolari-Pynnönen 2010)",
    "grank": "GRANK (Kolari-Pynnönen 2011)",
    "t_test": "Cross-sectional t",
    "brown_warner_1980": "Brown-Warner 1980",
    "brown_warner_1985": "Brown-Warner 1985",
    "lamb": "Lamb 1995",
    "patell": "Patell 1976",
    "bmp": "BMP (Boehmer et al. 1991)",
    "sign": "Sign",
    "generalized_sign": "Generalized sign (Cowan 1992)",
    "corrado_sign": "Corrado-Zivney sign 1992",
    "corrado_rank": "Corrado rank 1989",
    "modified_rank": "Modified rank",
    "wilcoxon": "Wilcoxon signed-rank (V)",
}
#: CAR windows of the test table when none are given (kept when inside the computed window).
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (-1, 1), (0, 5))

_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def security_colors(securities: Iterable[str], *, benchmarks: Iterable[str] = ()) -> dict[str, str]:
    """Map each security to its colour, the same in every figure.

    Securities are sorted before the palette is dealt out, so the mapping depends only
    on the set of securities, not on the order a table lists them in. The portfolio is
    black and benchmarks grey.

    Parameters
    ----------
    securities : iterable of str
        Every security of the study (pass all of them, across exchanges, so that a
        figure showing a subset still uses the study-wide colours).
    benchmarks : iterable of str, optional
        Market or factor series, drawn in grey.
    """
    bench = set(benchmarks)
    names = sorted({str(s) for s in securities} - bench - {PORTFOLIO})
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    colors.update(dict.fromkeys(sorted(bench), BENCHMARK_COLOR))
    colors[PORTFOLIO] = PORTFOLIO_COLOR
    return colors


def significance_stars(p: float | None) -> str:
    """``***`` for p < 0.01, ``**`` for p < 0.05, ``*`` for p < 0.10, else ``""``."""
    return _stars(p)


# ----------------------------------------------------------------------------- notebooks

#: Renderers whose output keeps the figure when a notebook is saved and exported to HTML
#: (plotly.js in the notebook itself, or a static image).
EMBEDDING_RENDERERS: frozenset[str] = frozenset(
    {"notebook", "notebook_connected", "iframe", "iframe_connected", "colab", "kaggle",
     "png", "jpeg", "jpg", "svg", "pdf"}
)  # fmt: skip
_RENDERER_DECIDED = False


def _in_kernel() -> bool:
    """Running inside a Jupyter kernel (not a plain Python or IPython terminal)."""
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def use_notebook_renderer(*, only_in_kernel: bool = False) -> str:
    """Make notebook figures survive ``jupyter nbconvert --to html``.

    Plotly's default renderer in JupyterLab and VS Code saves only the plotly mimetype,
    which an exported HTML file does not draw. This adds plotly's ``notebook`` renderer
    (plotly.js embedded once in the notebook, every figure also saved as HTML), keeping the
    mimetype for live use: ``plotly_mimetype+notebook``. A renderer that already embeds
    (``notebook``, ``iframe``, ``png``...) is left alone, and so is the choice of
    ``EVENTSTUDY_PLOTLY_RENDERER=keep``.

    ``res.plot_*()`` call this once with ``only_in_kernel=True`` (a no-op outside a
    Jupyter kernel); call it yourself to decide earlier. Returns the renderer in use.
    """
    global _RENDERER_DECIDED
    if only_in_kernel and (_RENDERER_DECIDED or not _in_kernel()):
        return str(pio.renderers.default)
    _RENDERER_DECIDED = True
    current = str(pio.renderers.default or "")
    parts = [x for x in current.split("+") if x]
    if os.environ.get("EVENTSTUDY_PLOTLY_RENDERER", "").lower() == "keep":
        return current
    if any(x in EMBEDDING_RENDERERS for x in parts):
        return current
    kept = [x for x in parts if x == "plotly_mimetype"] or ["plotly_mimetype"]
    pio.renderers.default = "+".join([*kept, "notebook"])
    return str(pio.renderers.default)


def _num(value: Any, digits: int) -> str:
    """A number for a table cell; ``n/a`` when the test could not be computed."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:.{digits}f}" if np.isfinite(v) else "n/a"


def _signed(day: int) -> str:
    return f"+{day}" if day > 0 else str(day)


# ----------------------------------------------------------------------------- helpers


def _frame(obj: Any, name: str) -> pd.DataFrame:
    """Read a documented table from the results object, as a DataFrame."""
    try:
        value = getattr(obj, name)
    except AttributeError as exc:
        raise ReportError(
            detail=f"the results object has no '{name}' table",
            fix="pass an EventStudyResults (from eventstudy.event_study) or an object "
            "with the same tables",
        ) from exc
    value = value() if callable(value) else value
    return value if isinstance(value, pd.DataFrame) else pd.DataFrame(value)


def _study_colors(results: Any, colors: Mapping[str, str] | None) -> dict[str, str]:
    if colors is not None:
        out = dict(colors)
        out.setdefault(PORTFOLIO, PORTFOLIO_COLOR)
        return out
    return security_colors(_securities(results))


def _securities(results: Any) -> list[str]:
    events = _frame(results, "events")
    if "security" in events:
        return sorted(events["security"].astype(str).unique())
    ar = _frame(results, "abnormal_returns")
    return sorted(ar["security"].astype(str).unique())


def _color(colors: Mapping[str, str], security: str) -> str:
    if security in colors:
        return colors[security]
    # a security the mapping does not know: deal it a stable colour from its name
    return PALETTE[sum(map(ord, security)) % len(PALETTE)]


def _label(security: str, labels: Mapping[str, str] | None) -> str:
    if security == PORTFOLIO:
        return "Portfolio (equal-weighted)"
    if labels and security in labels and labels[security] != security:
        return f"{labels[security]} ({security})"
    return str(security)


def _event_ids(results: Any, event_id: Any = None) -> list[Any]:
    events = _frame(results, "events")
    if "event_id" in events and len(events):
        order = (
            events.sort_values("event_date")["event_id"]
            if "event_date" in events
            else events["event_id"]
        )
        ids = list(dict.fromkeys(order.tolist()))
    else:
        ids = list(dict.fromkeys(_frame(results, "abnormal_returns")["event_id"].tolist()))
    if event_id is None:
        return ids
    if event_id not in ids:
        raise ReportError(
            detail=f"event {event_id!r} is not in the results",
            fix=f"use one of {', '.join(map(str, ids))}",
        )
    return [event_id]


def _day0_dates(results: Any) -> dict[Any, str]:
    """event_id -> day 0 as YYYY-MM-DD (the earliest when securities differ)."""
    events = _frame(results, "events")
    if not {"event_id", "event_date"} <= set(events.columns):
        return {}
    first = events.groupby("event_id", sort=False)["event_date"].min()
    return {k: pd.Timestamp(v).strftime("%Y-%m-%d") for k, v in first.items()}


def _date_str(values: Iterable[Any]) -> list[str]:
    """Each value as ``YYYY-MM-DD`` ("" when missing); naive datetimes in one numpy call."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        days = np.datetime_as_string(arr.astype("datetime64[D]"), unit="D")
        return ["" if d == "NaT" else str(d) for d in days]
    return [pd.Timestamp(v).strftime("%Y-%m-%d") if pd.notna(v) else "" for v in arr]


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _layout(title: str, *, subtitle: str = "", height: int | None = None, **rest: Any) -> Spec:
    """A figure's layout: the house template, the title (with its grey subtitle), the
    height and the rest as given."""
    text = f"{title}<br><span style='font-size:12px;color:#666'>{subtitle}</span>"
    out: Spec = {"template": TEMPLATE, "title": {"text": text if subtitle else title}, **rest}
    if height is not None:
        out["height"] = height
    return out


_DAY_AXIS_TITLE = "Trading days relative to the reacting session (day 0)"


def _day_ticks(days: Sequence[int]) -> Spec:
    """Relative-day ticks (``+1``, ``-1``) for an x axis."""
    return {
        "tickmode": "array",
        "tickvals": list(days),
        "ticktext": [_signed(int(d)) for d in days],
        "zeroline": False,
    }


def _panel_axes(grid: Grid | None, x: Spec, y: Spec, *, x_title: str | None = None) -> Spec:
    """The axes of a figure: ``x`` on every x axis and ``y`` on every y axis (of the grid, or
    of a figure without subplots), and ``x_title`` under the bottom panel only."""
    if grid is None:
        axes = {"xaxis": dict(x), "yaxis": dict(y)}
        bottom = "xaxis"
    else:
        axes = grid.with_axes(x, y)
        bottom = grid.axis("x", grid.rows, 1)
    if x_title is not None:
        axes[bottom]["title"] = {"text": x_title}
    return axes


def _event_movers(
    results: Any, event_id: Any, securities: Sequence[str], window: tuple[int, int], cap: int | None
) -> Movers:
    """The securities of one event a figure draws: all up to ``cap``, else the movers by
    CAR over ``window`` (:func:`eventstudy.movers.top_and_bottom`)."""
    if cap is None or len(securities) <= cap:
        return Movers(keys=list(securities), total=len(securities), capped=False, label="")
    car = results.car(window)
    mine = car[(car["event_id"] == event_id) & (car["security"].astype(str) != PORTFOLIO)]
    values = pd.Series(mine["car"].to_numpy(dtype=float), index=mine["security"].astype(str))
    values = values[~values.index.duplicated()].reindex(list(securities))
    return top_and_bottom(values, measure=f"CAR{format_window(window)}", cap=cap)


def _legend_room(movers: Sequence[Movers]) -> int:
    """Extra height (px) for the bottom legend of the movers (two names a row), 0 when
    every security is drawn: a capped figure keeps its plot above 20 legend entries."""
    if not any(m.capped for m in movers):
        return 0
    names = len({k for m in movers for k in m.keys})
    return 22 * math.ceil(names / 2)


def _shown(movers: Sequence[Movers]) -> str:
    """The subtitle line saying which securities are drawn ("" when all are)."""
    labels = list(dict.fromkeys(m.label for m in movers if m.capped))
    return ("<br>shown: " + "; ".join(labels)) if labels else ""


class _Columns:
    """The abnormal-returns table as arrays (event_id, security, rel_day, date, ar), read
    once per figure: rows of one event by a boolean mask, not a pandas filter per event."""

    def __init__(self, ar: pd.DataFrame) -> None:
        self.event_id = ar["event_id"].to_numpy()
        self.security = ar["security"].astype(str).to_numpy()
        self.rel_day = ar["rel_day"].to_numpy()
        self.date = ar["date"].to_numpy()
        self.ar = ar["ar"].to_numpy()

    def rows(self, event_id: Any) -> np.ndarray:
        """Positions of the event's rows, in table order."""
        return np.flatnonzero(self.event_id == event_id)

    def by_security(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``rows`` split by security (sorted by name), each sorted by relative day."""
        rows = rows[np.argsort(self.rel_day[rows], kind="stable")]
        rows = rows[np.argsort(self.security[rows].astype(str), kind="stable")]
        secs = self.security[rows]
        cuts = np.flatnonzero(secs[1:] != secs[:-1]) + 1
        return {
            str(secs[idx[0]]): rows[idx] for idx in np.split(np.arange(len(rows)), cuts) if len(idx)
        }


# ----------------------------------------------------------------------------- AR bars


def _spacing(n: int, wanted: float) -> float:
    """Gap between ``n`` stacked panels: ``wanted``, or less when ``n`` panels would not fit
    (Plotly refuses a gap above ``1 / (n - 1)``; a study of 20 events drew no AR panel)."""
    return wanted if n < 2 else min(wanted, 0.5 / (n - 1))


def plot_ar(
    results: Any,
    event_id: Any = None,
    *,
    window: tuple[int, int] = (-10, 10),
    timing: pd.DataFrame | None = None,
    exchange: str | None = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
    rank_window: tuple[int, int] = (0, 1),
) -> go.Figure:
    """Daily abnormal returns (%) of each security around an event, as grouped bars.

    One trace per security (one panel per event when ``event_id`` is None and the study
    has several); above ``cap`` securities in an event, only its movers: the
    :data:`~eventstudy.movers.MOVERS_SHOWN` largest and smallest CARs over ``rank_window``
    (said in the subtitle). The reacting session is shaded and labelled: from ``timing``
    (``calendar.event_timing`` rows: event_id, exchange, session, rule) when given, else
    day 0; the other exchanges' reacting sessions are listed in a note.

    Parameters
    ----------
    results : EventStudyResults
        Reads ``abnormal_returns`` (event_id, security, rel_day, date, ar) and ``events``.
    event_id : optional
        The event to draw; all events (one panel each) when None.
    window : (int, int)
        Relative days shown, inclusive.
    timing : DataFrame, optional
        Event timing, to mark each exchange's reacting session.
    exchange : str, optional
        The securities' exchange (e.g. ``"XTKS"``); default: the timing row whose
        session is day 0.
    colors, labels : mapping, optional
        Security -> colour (default :func:`security_colors` over the study) and
        security -> display name.
    cap : int or None
        Most securities drawn per event (default :data:`MAX_SECURITIES_SHOWN`; None: all).
    rank_window : (int, int)
        The CAR window that ranks the movers above the cap.
    """
    ar = _frame(results, "abnormal_returns")
    ids = _event_ids(results, event_id)
    colors = _study_colors(results, colors)
    lo, hi = window
    days = list(range(lo, hi + 1))
    many = len(ids) > 1
    panels = (
        grid(
            len(ids),
            1,
            shared_xaxes=True,
            vertical_spacing=_spacing(len(ids), 0.08),
            subplot_titles=[f"Event {e}" for e in ids],
        )
        if many
        else None
    )
    data: list[Spec] = []
    shapes: list[Spec] = []
    notes: list[Spec] = list(panels.titles) if panels is not None else []
    shown: set[str] = set()
    chosen: list[Movers] = []
    cols = _Columns(ar)
    for k, eid in enumerate(ids, start=1):
        rows = cols.rows(eid)
        rows = rows[(cols.rel_day[rows] >= lo) & (cols.rel_day[rows] <= hi)]
        groups = cols.by_security(rows)
        movers = _event_movers(results, eid, list(groups), rank_window, cap)
        chosen.append(movers)
        for sec in movers.keys:
            g = groups[sec]
            data.append(
                {
                    "type": "bar",
                    "x": cols.rel_day[g],
                    "y": cols.ar[g].astype(float) * 100.0,
                    "name": _label(sec, labels),
                    "legendgroup": sec,
                    "showlegend": sec not in shown,
                    "marker": {"color": _color(colors, sec), "line": {"width": 0}},
                    "customdata": np.array(_date_str(cols.date[g]), dtype=object)[:, None],
                    "hovertemplate": (
                        "<b>%{fullData.name}</b><br>%{customdata[0]} · day %{x}"
                        "<br>AR %{y:+.2f}%<extra></extra>"
                    ),
                    **(on(k) if many else {}),
                }
            )
            shown.add(sec)
        # on a panel without bars, make_subplots' add_vrect(row=) draws no shading
        shade = not many or bool(movers.keys)
        _mark_sessions(shapes, notes, cols, eid, timing, exchange, k, shade=shade)
    room = _legend_room(chosen)
    axes = _panel_axes(
        panels,
        # the range is the window: labels of the reacting session must not stretch it
        {**_day_ticks(days), "range": [lo - 0.5, hi + 0.5], "autorange": False},
        {"title": {"text": "Abnormal return (%)"}, "ticksuffix": "%", "zeroline": True},
        x_title=_DAY_AXIS_TITLE,
    )
    head = title or (
        f"Daily abnormal returns around event {ids[0]}"
        if len(ids) == 1
        else "Daily abnormal returns around each event"
    )
    layout = _layout(
        head,
        subtitle="Abnormal return = return minus the expected return of the estimation model"
        "<br>shaded: the first session able to react" + _shown(chosen),
        height=max(480, 380 * len(ids)) + room,
        barmode="group",
        margin={"t": 130 if room else 100},
        shapes=shapes,
        annotations=notes,
        **axes,
    )
    return figure(data, layout, panels)


def _mark_sessions(
    shapes: list[Spec],
    notes: list[Spec],
    cols: _Columns,
    event_id: Any,
    timing: pd.DataFrame | None,
    exchange: str | None,
    k: int,
    *,
    shade: bool = True,
) -> None:
    """Shade and label the reacting session; list the other exchanges' sessions (on
    subplot ``k``; the shading only with ``shade``).

    The bars count sessions of the securities' own exchange, so only that exchange's
    reacting session has a place on the axis (shaded). Sessions of other exchanges (a US
    session after the Tokyo close of the same date, say) are named in a note, not drawn
    on a Tokyo day they did not belong to.
    """
    rows = cols.rows(event_id)
    _, first = np.unique(cols.rel_day[rows], return_index=True)  # each day's first row
    rows = rows[np.sort(first)]
    day_of = {
        pd.Timestamp(d).normalize(): int(r)
        for r, d in zip(cols.rel_day[rows], cols.date[rows], strict=True)
    }
    day0 = next((d for d, r in day_of.items() if r == 0), None)
    own: list[tuple[float, str]] = []
    others: list[str] = []
    if timing is not None and len(timing) and "event_id" in timing:
        of_event = timing[timing["event_id"].astype(str) == str(event_id)]
        for t in _records(of_event, ["session", "rule", "exchange"]):
            session = pd.Timestamp(t["session"]).normalize()
            rule = f" ({t['rule']})" if "rule" in t and pd.notna(t["rule"]) else ""
            ex = str(t.get("exchange", ""))
            text = f"{ex} reacting session: {session:%Y-%m-%d}{rule}"
            mine = ex == exchange if exchange is not None else session == day0
            if mine and session in day_of:
                own.append((float(day_of[session]), text))
            else:
                others.append(text)
    if not own:
        label = f"{day0:%Y-%m-%d}" if day0 is not None else ""
        own.append((0.0, f"reacting session (day 0) {label}".strip()))
    xref, yref = refs(k)
    for i, (x, text) in enumerate(sorted(own)):
        if shade:
            shapes.append(
                vrect(
                    x - 0.5,
                    x + 0.5,
                    k,
                    fillcolor=_REACT_COLOR,
                    opacity=0.22,
                    line={"width": 0},
                    layer="below",
                )
            )
        notes.append(
            {
                "x": x + 0.55,
                "y": 1.0 - 0.16 * i,
                "xref": xref,
                "yref": f"{yref} domain",
                # two lines: the label stays narrow beside the band in a half-width chart
                "text": text.replace(": ", ":<br>", 1),
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "align": "left",
                "font": {"size": 11, "color": "#6B5200"},
                "bgcolor": "rgba(255,255,255,0.75)",
            }
        )
    if others:
        notes.append(
            {
                "x": 0.0,
                "y": 1.0,
                "xref": f"{xref} domain",
                "yref": f"{yref} domain",
                "text": "<br>".join(others),
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "align": "left",
                "font": {"size": 11, "color": "#666666"},
                "bgcolor": "rgba(255,255,255,0.75)",
            }
        )


# ----------------------------------------------------------------------------- CAR paths


def _column(table: pd.DataFrame, name: str, n: int) -> np.ndarray:
    """Column ``name`` of a day x security table as floats (NaN when absent)."""
    if name not in table.columns:
        return np.full(n, np.nan)
    return table[name].to_numpy(dtype=float)


def _t_quantile(df: float, level: float) -> float:
    """The two-sided ``level`` quantile of Student t with ``df`` degrees of freedom (normal
    when ``df`` is NaN), as :func:`eventstudy.verdict.bounds` uses."""
    from eventstudy.verdict import bounds

    low, _ = bounds(0.0, 1.0, df, level)
    return -low


def plot_car(
    results: Any,
    event_id: Any = None,
    *,
    start: int | None = -1,
    level: float = 0.95,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
    rank_window: tuple[int, int] = (0, 1),
) -> go.Figure:
    """Cumulative abnormal returns (%) from ``start``, with the portfolio's confidence band.

    One thin line per security and the equal-weighted portfolio (black, thick) with its
    ``level`` band; the band is the portfolio test's interval (the portfolio's own
    estimation-window variance, valid when the securities share the event date). Firms are
    toggled from the legend or the "All firms" / "Portfolio only" buttons; their own
    intervals are in the hover, not drawn (seven overlapping bands say nothing). With
    ``event_id=None`` and several events, one panel per event.

    Parameters
    ----------
    results : EventStudyResults
        Reads ``car_paths()`` and ``car_paths(start)`` (the CARs from ``start``), and
        ``portfolio_car((start, end))`` for the portfolio test's degrees of freedom.
    event_id : optional
        The event to draw; every event (one panel each) when None.
    start : int or None
        Relative day the CARs cumulate from (default -1, the day before the reacting
        session); None: the first day of the computed window.
    level : float
        Confidence level of the band and the hover intervals.
    cap : int or None
        Most firm lines drawn per event (default :data:`MAX_SECURITIES_SHOWN`; None: all);
        above it, the event's movers by CAR over ``rank_window`` (the
        :data:`~eventstudy.movers.MOVERS_SHOWN` largest and smallest, said in the
        subtitle). The portfolio is always that of every security of the event.
    rank_window : (int, int)
        The CAR window that ranks the movers above the cap.
    """
    paths = _frame(results, "car_paths")
    ids = _event_ids(results, event_id)
    colors = _study_colors(results, colors)
    all_days = sorted(int(d) for d in paths["rel_day"].unique())
    first, last = all_days[0], all_days[-1]
    a = first if start is None else min(max(int(start), first), last)
    days = [d for d in all_days if d >= a]
    n = len(days)
    q = _z(level)
    many = len(ids) > 1
    panels = (
        grid(
            len(ids),
            1,
            shared_xaxes=True,
            vertical_spacing=_spacing(len(ids), 0.08),
            subplot_titles=[f"Event {e}" for e in ids],
        )
        if many
        else None
    )
    # every CAR from day a in one table (car_paths(a)); the portfolio test's df per event
    from_a = paths if a == first else pd.DataFrame(results.car_paths(a))
    by_event = dict(tuple(from_a.groupby("event_id", sort=False)))
    pf = pd.DataFrame(results.portfolio_car((a, last)))
    pf_df = dict(zip(pf["event_id"], pf["df"].astype(float), strict=True))
    hover = (
        "<b>%{fullData.name}</b><br>%{customdata[0]} · day %{x}"
        f"<br>CAR from day {_signed(a)}: %{{y:+.2f}}%  ["
        "%{customdata[1]:.2f}%, %{customdata[2]:.2f}%]<extra></extra>"
    )
    data: list[Spec] = []
    shapes: list[Spec] = []
    shown: set[str] = set()
    firm_traces: list[int] = []
    chosen: list[Movers] = []
    for k, eid in enumerate(ids, start=1):
        where = on(k) if many else {}
        mine = by_event.get(eid, from_a.iloc[:0])
        sec_col = mine["security"].astype(str)
        secs = sorted(s for s in sec_col.unique() if s != PORTFOLIO)
        movers = _event_movers(results, eid, secs, rank_window, cap)
        chosen.append(movers)
        secs = list(movers.keys)
        dates = mine[sec_col == PORTFOLIO].set_index("rel_day")["date"].reindex(days)
        date_text = np.array(_date_str(dates), dtype=object)
        mine = mine[sec_col.isin([*secs, PORTFOLIO])]  # the lines drawn
        car_of = mine.pivot(index="rel_day", columns="security", values="car").reindex(days)
        se_of = mine.pivot(index="rel_day", columns="security", values="se").reindex(days)
        car_w = {sec: _column(car_of, sec, n) for sec in secs}
        se_w = {sec: _column(se_of, sec, n) for sec in secs}
        for sec in secs:
            car = car_w[sec] * 100.0
            half = q * (se_w[sec] * 100.0)
            firm_traces.append(len(data))
            data.append(
                {
                    "type": "scatter",
                    "x": days,
                    "y": car,
                    "mode": "lines+markers",
                    "name": _label(sec, labels),
                    "legendgroup": sec,
                    "showlegend": sec not in shown,
                    "line": {"color": _color(colors, sec), "width": 1.4},
                    "marker": {"size": 3},
                    "opacity": 0.85,
                    "customdata": np.column_stack([date_text, car - half, car + half]),
                    "hovertemplate": hover,
                    **where,
                }
            )
            shown.add(sec)
        pf_car, pf_se = _column(car_of, PORTFOLIO, n), _column(se_of, PORTFOLIO, n)
        half = _t_quantile(pf_df.get(eid, math.nan), level) * pf_se
        car, lo, hi = pf_car * 100.0, (pf_car - half) * 100.0, (pf_car + half) * 100.0
        ok = np.isfinite(lo) & np.isfinite(hi)
        x = np.array(days)[ok]
        name = _label(PORTFOLIO, labels)
        data.append(
            {
                "type": "scatter",
                "x": np.concatenate([x, x[::-1]]),
                "y": np.concatenate([hi[ok], lo[ok][::-1]]),
                "fill": "toself",
                "fillcolor": _rgba(PORTFOLIO_COLOR, 0.14),
                "line": {"width": 0},
                "mode": "lines",
                "name": f"{name}: {level:.0%} band",
                "legendgroup": PORTFOLIO,
                "showlegend": False,
                "hoverinfo": "skip",
                **where,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": days,
                "y": car,
                "mode": "lines+markers",
                "name": name,
                "legendgroup": PORTFOLIO,
                "showlegend": PORTFOLIO not in shown,
                "line": {"color": _color(colors, PORTFOLIO), "width": 3.2},
                "marker": {"size": 5},
                "customdata": np.column_stack([date_text, lo, hi]),
                "hovertemplate": hover,
                **where,
            }
        )
        shown.add(PORTFOLIO)
        shapes.append(vline(0, {"color": "#888888", "width": 1, "dash": "dot"}, k))
    every = [True] * len(data)
    only_pf = [i not in firm_traces for i in range(len(data))]
    buttons = {
        "type": "buttons",
        "direction": "right",
        "showactive": True,
        "x": 1.0,
        "xanchor": "right",
        "y": 1.0,
        "yanchor": "bottom",
        "pad": {"b": 6},
        "font": {"size": 11},
        "buttons": [
            {"label": "All firms", "method": "restyle", "args": [{"visible": every}]},
            {"label": "Portfolio only", "method": "restyle", "args": [{"visible": only_pf}]},
        ],
    }
    axes = _panel_axes(
        panels,
        _day_ticks(days),
        {"title": {"text": "Cumulative abnormal return (%)"}, "ticksuffix": "%", "zeroline": True},
        x_title=_DAY_AXIS_TITLE,
    )
    head = title or (
        f"Cumulative abnormal returns, event {ids[0]}"
        if len(ids) == 1
        else "Cumulative abnormal returns by event"
    )
    room = _legend_room(chosen)
    layout = _layout(
        head,
        subtitle=f"Cumulated from day {_signed(a)}; black: equal-weighted portfolio with its "
        f"{level:.0%} band (portfolio test){_CLICK_HINT}"
        + (_shown(chosen) + " (the portfolio: all)" if _shown(chosen) else ""),
        height=max(480, 390 * len(ids)) + room,
        updatemenus=[buttons],
        margin={"t": 130 if room else 100},
        shapes=shapes,
        **({"annotations": panels.titles} if panels is not None else {}),
        **axes,
    )
    return figure(data, layout, panels)


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ----------------------------------------------------------------------------- prices


def plot_prices(
    prices: Mapping[str, Any] | pd.DataFrame,
    event_date: Any,
    announced: Any = None,
    *,
    window: tuple[int, int] = (-10, 10),
    benchmarks: Iterable[str] = (),
    exchange_tz: str = "Asia/Tokyo",
    open_time: str = "09:00",
    close_time: str = "15:30",
    exchange: str = "TSE",
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    note: str = "",
) -> go.Figure:
    """Prices rebased to 100 at day -1, with the announcement drawn where it fell.

    The x axis counts the exchange's sessions relative to ``event_date`` (day 0); each
    point is a session's close. Between the closes of days k-1 and k, the first half of
    the gap stands for the time the market is shut and the second half for session k's
    trading hours (day 0's are shaded). The announcement is drawn at its share of the
    part it fell in, so a line left of the shading came before day 0's open and a line
    inside it came during the session.

    Parameters
    ----------
    prices : dict[str, DataFrame or Series] or DataFrame
        Symbol -> price frame (``adj_close`` preferred, else ``close``), or a wide frame
        of price levels with one column per symbol. Indexed by session dates.
    event_date : date-like
        Day 0, the first session able to react.
    announced : timestamp, optional
        When the news came out (tz-aware; naive means UTC).
    window : (int, int)
        Sessions shown relative to day 0, inclusive.
    benchmarks : iterable of str
        Symbols drawn as grey dashed lines (the market index, a sector ETF).
    exchange_tz, open_time, close_time, exchange : str
        The exchange whose sessions the index holds (Tokyo by default).
    note : str
        A further subtitle line, e.g. which securities of a larger study are drawn.
    """
    wide = _wide_prices(prices)
    if wide.empty:
        raise ReportError(detail="no prices to draw", fix="pass at least one price series")
    day0 = pd.Timestamp(event_date).normalize()
    index = wide.index
    pos = int(index.searchsorted(day0))
    if pos >= len(index) or index[pos] != day0:
        raise ReportError(
            detail=f"event date {day0:%Y-%m-%d} is not a session of the price index",
            fix="pass the reacting session (a date the prices have) as event_date",
        )
    lo, hi = window
    if pos - 1 < 0:
        raise ReportError(
            detail=f"no session before {day0:%Y-%m-%d} to rebase on",
            fix="load prices that start before the event",
        )
    start, stop = max(pos + lo, 0), min(pos + hi, len(index) - 1)
    part = wide.iloc[start : stop + 1]
    rel = np.arange(start - pos, stop - pos + 1)
    base = wide.iloc[:pos].ffill().iloc[-1]
    rebased = part.ffill().div(base) * 100.0
    bench = set(benchmarks)
    colors = dict(colors) if colors is not None else security_colors(wide.columns, benchmarks=bench)
    dates = np.array(_date_str(part.index), dtype=object)
    data: list[Spec] = []
    order = [c for c in wide.columns if c not in bench] + [c for c in wide.columns if c in bench]
    for sym in order:
        is_bench = sym in bench
        data.append(
            {
                "type": "scatter",
                "x": rel,
                "y": rebased[sym].to_numpy(dtype=float),
                "mode": "lines+markers",
                "name": _label(str(sym), labels) + (" (benchmark)" if is_bench else ""),
                "legendgroup": str(sym),
                "line": {
                    "color": BENCHMARK_COLOR if is_bench else _color(colors, str(sym)),
                    "width": 2.4 if is_bench else 1.8,
                    "dash": "dash" if is_bench else "solid",
                },
                "marker": {"size": 4},
                "customdata": dates[:, None],
                "hovertemplate": (
                    "<b>%{fullData.name}</b><br>%{customdata[0]} close · day %{x}"
                    "<br>%{y:.2f} (day -1 = 100)<extra></extra>"
                ),
            }
        )
    shapes = [
        hline(100, {"color": "#AAAAAA", "width": 1}),
        # between two closes, the second half of the gap is the later session's trading hours
        vrect(-0.5, 0.0, fillcolor=_REACT_COLOR, opacity=0.3, line={"width": 0}, layer="below"),
    ]
    notes: list[Spec] = [
        {
            "x": 0.02,
            "y": 0.0,
            "xref": "x",
            "yref": "y domain",
            "text": f"day-0 session<br>{day0:%Y-%m-%d}",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 11, "color": "#6B5200"},
        }
    ]
    subtitle = f"Closes on {exchange} sessions, rebased to 100 at the close of day -1"
    if announced is not None:
        x_ann, text = _announcement_position(
            announced, index, pos, exchange_tz, open_time, close_time, exchange
        )
        shapes.append(vline(x_ann, {"color": _ANNOUNCE_COLOR, "width": 1.5, "dash": "dash"}))
        notes.append(
            {
                "x": x_ann,
                "y": 1.0,
                "xref": "x",
                "yref": "y domain",
                "text": text,
                "showarrow": False,
                "xanchor": "right",
                "xshift": -6,
                "yanchor": "top",
                "align": "right",
                "font": {"size": 11, "color": _ANNOUNCE_COLOR},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
        subtitle += "; dashed red: the announcement"
    if note:
        subtitle += f"<br>{note}"
    layout = _layout(
        title or f"Prices around the event, day 0 = {day0:%Y-%m-%d}",
        subtitle=subtitle,
        height=460,
        shapes=shapes,
        annotations=notes,
        xaxis={
            **_day_ticks(list(rel)),
            "title": {"text": f"{exchange} sessions relative to the reacting session (day 0)"},
        },
        yaxis={"title": {"text": "Price (day -1 close = 100)"}},
    )
    return figure(data, layout)


def _wide_prices(prices: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(prices, pd.DataFrame):
        wide = prices.copy()
    else:
        cols = {}
        for sym, frame in prices.items():
            if isinstance(frame, pd.Series):
                cols[str(sym)] = frame
            elif "adj_close" in frame:
                cols[str(sym)] = frame["adj_close"]
            elif "close" in frame:
                cols[str(sym)] = frame["close"]
            else:
                raise ReportError(
                    detail=f"prices of {sym} have no 'adj_close' or 'close' column",
                    fix="pass price frames as the data sources return them",
                )
        wide = pd.DataFrame(cols)
    wide.index = pd.DatetimeIndex(wide.index).tz_localize(None).normalize()
    wide = wide[~wide.index.duplicated(keep="last")].sort_index()
    return wide.astype(float)


def _announcement_position(
    announced: Any,
    index: pd.DatetimeIndex,
    pos: int,
    tz: str,
    open_time: str,
    close_time: str,
    exchange: str,
) -> tuple[float, str]:
    """Where an announcement falls on the session axis, and its label."""
    ts = pd.Timestamp(announced)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    local = ts.tz_convert(tz).tz_localize(None)
    close = pd.Timedelta(close_time + ":00")
    opening = pd.Timedelta(open_time + ":00")
    closes = index + close
    k = int(closes.searchsorted(local, side="left"))  # first close at or after the news
    if k == 0:
        x = float(-pos) - 0.75
    elif k >= len(closes):
        x = float(len(closes) - 1 - pos) + 0.25
    else:
        # close k-1 sits at x = k-1-pos, close k at k-pos; the night before session k maps
        # to the first half of the gap, session k's trading hours to the second half
        session_open = index[k] + opening
        if local < session_open:
            span = (session_open - closes[k - 1]).total_seconds()
            frac = 0.5 * (local - closes[k - 1]).total_seconds() / span if span > 0 else 0.25
        else:
            span = (closes[k] - session_open).total_seconds()
            frac = 0.5 + 0.5 * (local - session_open).total_seconds() / span if span > 0 else 0.75
        x = float(k - 1 - pos) + float(np.clip(frac, 0.01, 0.99))
    if k < len(index):
        session_open = index[k] + opening
        when = (
            "during the session"
            if local >= session_open
            else ("before the open" if local.normalize() == index[k] else "before the session")
        )
        where = f"{when} of {index[k]:%Y-%m-%d}"
    else:
        where = "after the last session shown"
    zone = pd.Timestamp(local).tz_localize(tz).strftime("%Z")
    text = f"announced {local:%Y-%m-%d %H:%M} {zone} ({ts.tz_convert('UTC'):%H:%M} UTC),<br>{where}"
    return x, text


# ----------------------------------------------------------------------------- tests


def tests_frame(
    results: Any,
    windows: Iterable[tuple[int, int]] | None = None,
    *,
    event_id: Any = None,
) -> pd.DataFrame:
    """The CAR test table in tidy form: one row per window and test.

    Columns: ``window`` (e.g. "(0,+1)"), ``start``, ``end``, ``test``, ``label``,
    ``robust`` (read these first: with calibrated results, whether the test's size measured
    on the study's placebos contains 5%; without, whether it is built for event-date
    clustering), ``statistic``, ``p_value``, ``stars``, ``caar`` (mean CAR over firm-events,
    fraction), ``min_p`` (the smallest p-value a discrete test can reach here); calibrated
    results add ``p_calibrated``, ``size_5pct``, ``size_ci_low``, ``size_ci_high`` and
    ``n_placebo``. Robust tests come first in :data:`TEST_ORDER`; unknown tests follow
    alphabetically.

    Parameters
    ----------
    results : EventStudyResults
        Reads ``caar_tests(window)`` (and ``caar_tests(window, by="event_id")`` for one
        event) and ``car(window)``.
    windows : iterable of (int, int), optional
        CAR windows; default :data:`DEFAULT_WINDOWS` inside the computed window.
    event_id : optional
        Restrict to one event (its own cross-section); pooled over all events when None.
    """
    wins = _windows(results, windows)
    rows = []
    for w in wins:
        picked: Sequence[int] | None = None  # the event's rows (positions), or every row
        if event_id is None:
            tests = results.caar_tests(w)
        else:  # picked by position: a boolean filter copies the table, per window and event
            tests = results.caar_tests(w, by="event_id")
            picked = np.flatnonzero(tests["event_id"].to_numpy() == event_id).tolist()
        n_rows = len(tests) if picked is None else len(picked)
        if "caar" in tests and n_rows:
            caar = float(tests["caar"].iloc[0 if picked is None else picked[0]])
        else:  # mean CAR over the firm-events tested
            car = results.car(w)
            if event_id is not None:
                car = car[car["event_id"] == event_id]
            car = car[car["security"].astype(str) != PORTFOLIO]
            caar = float(car["car"].mean()) if len(car) else math.nan
        measured = _MEASURED <= set(tests.columns)
        for rec in _records(tests, ["test", "p_value", "statistic", "min_p", *_MEASURED], picked):
            name, p = str(rec["test"]), float(rec["p_value"])
            row: dict[str, Any] = {
                "window": format_window(w),
                "start": int(w[0]),
                "end": int(w[1]),
                "test": name,
                "label": TEST_LABELS.get(name, name),
                "robust": name in ROBUST_TESTS,
                "statistic": float(rec["statistic"]),
                "p_value": p,
                "stars": significance_stars(p),
                "caar": caar,
                "min_p": float(rec.get("min_p", math.nan)),
            }
            if measured:
                lo, hi = float(rec["size_ci_low"]), float(rec["size_ci_high"])
                known = int(rec["n_placebo"]) > 0 and math.isfinite(lo)
                row.update(
                    {
                        # valid here: its size measured on the study's placebos contains 5%
                        "robust": bool(known and lo <= 0.05 <= hi),
                        "p_calibrated": float(rec["p_calibrated"]),
                        "size_5pct": float(rec["size_5pct"]),
                        "size_ci_low": lo,
                        "size_ci_high": hi,
                        "n_placebo": int(rec["n_placebo"]),
                    }
                )
            rows.append(row)
    rank = {name: i for i, name in enumerate(TEST_ORDER)}
    order = {format_window(w): i for i, w in enumerate(wins)}
    rows.sort(key=lambda r: (order[r["window"]], rank.get(r["test"], len(rank)), r["test"]))
    columns = ["window", "start", "end", "test", "label", "robust"]
    columns += ["statistic", "p_value", "stars", "caar", "min_p"]
    if rows and "p_calibrated" in rows[0]:
        columns += ["p_calibrated", "size_5pct", "size_ci_low", "size_ci_high", "n_placebo"]
    return pd.DataFrame(rows, columns=columns)


def _records(
    frame: pd.DataFrame, columns: Iterable[Any] | None = None, rows: Sequence[int] | None = None
) -> list[dict[Any, Any]]:
    """The rows of ``frame`` (those at positions ``rows``, default all) as dicts of numpy
    scalars (only ``columns``, those ``frame`` has), read column by column: pandas'
    ``to_dict("records")`` walks the rows and costs milliseconds per table."""
    names = frame.columns if columns is None else [c for c in columns if c in frame.columns]
    cols = {c: frame[c].to_numpy() for c in names}
    return [
        {c: v[i] for c, v in cols.items()} for i in (range(len(frame)) if rows is None else rows)
    ]


#: The columns a calibrated test table carries (:mod:`eventstudy.calibration`).
_MEASURED = frozenset({"p_calibrated", "size_5pct", "size_ci_low", "size_ci_high", "n_placebo"})


def _windows(results: Any, windows: Iterable[tuple[int, int]] | None) -> list[tuple[int, int]]:
    if windows is not None:
        return [(int(a), int(b)) for a, b in windows]
    days = _frame(results, "abnormal_returns")["rel_day"]
    lo, hi = int(days.min()), int(days.max())
    return [w for w in DEFAULT_WINDOWS if lo <= w[0] and w[1] <= hi]


def plot_tests(
    results: Any,
    windows: Iterable[tuple[int, int]] | None = None,
    *,
    event_id: Any = None,
    title: str | None = None,
    table: pd.DataFrame | None = None,
) -> go.Figure:
    """The CAR test table as a figure: every test's statistic and p-value per window.

    Rows are tests, clustering-robust tests first (marked ◆); for each window two
    columns, the statistic with significance stars and its p-value (shaded when below
    0.05). The statistic's header carries the window and the mean CAR in percent.

    Parameters
    ----------
    results : EventStudyResults
    windows : iterable of (int, int), optional
        Default :data:`DEFAULT_WINDOWS` inside the computed window.
    event_id : optional
        One event's cross-section instead of the pooled sample.
    title : str, optional
        Default "Tests of the mean CAR (event ...)" or "(all firm-events pooled)".
    table : DataFrame, optional
        ``tests_frame(results, windows, event_id=event_id)`` when the caller has it already
        (the report reads it for its own tables too); computed here otherwise.
    """
    if table is None:
        table = tests_frame(results, windows, event_id=event_id)
    by_window: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in _records(table, ["window", "test", "statistic", "p_value", "stars", "caar"]):
        by_window.setdefault(rec["window"], {}).setdefault(rec["test"], rec)
    tests = list(dict.fromkeys(table["test"]))
    header = ["Test"]
    columns: list[list[str]] = [
        [("◆ " if t in ROBUST_TESTS else "") + TEST_LABELS.get(t, t) for t in tests]
    ]
    fills: list[list[str]] = [["#F6F6F6" if t in ROBUST_TESTS else "white" for t in tests]]
    for w, part in by_window.items():
        caar = next(iter(part.values()))["caar"]
        header += [f"CAR{w}<br>CAAR {caar * 100:+.2f}%", "p-value"]
        stat_col, p_col, p_fill = [], [], []
        for t in tests:
            if t in part:
                r = part[t]
                stat_col.append(_num(r["statistic"], 3) + r["stars"])
                p_col.append(_num(r["p_value"], 4))
                p_fill.append("#FCE8C8" if r["p_value"] < 0.05 else "white")
            else:
                stat_col.append("")
                p_col.append("")
                p_fill.append("white")
        columns += [stat_col, p_col]
        fills += [fills[0], p_fill]
    cell_table = {
        "type": "table",
        "columnwidth": [3.2] + [1.1] * (len(header) - 1),
        "header": {
            "values": [f"<b>{h}</b>" for h in header],
            "fill": {"color": "#EAEAEA"},
            "align": ["left"] + ["center"] * (len(header) - 1),
            "font": {"size": 12, "family": _FONT},
            "height": 40,
        },
        "cells": {
            "values": columns,
            "fill": {"color": fills},
            "align": ["left"] + ["right"] * (len(header) - 1),
            "font": {"size": 12, "family": _FONT},
            "height": 28,
        },
    }
    scope = f"event {event_id}" if event_id is not None else "all firm-events pooled"
    layout = _layout(
        title or f"Tests of the mean CAR ({scope})",
        subtitle="◆ valid when securities share the event date; "
        "* p<0.10, ** p<0.05, *** p<0.01 (two-sided)",
        height=160 + 29 * len(tests),
        margin={"l": 20, "r": 20, "t": 80, "b": 10},
    )
    return figure([cell_table], layout)


# ----------------------------------------------------------------------------- across events


def plot_heatmap(
    results: Any,
    window: tuple[int, int] = (0, 1),
    *,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
) -> go.Figure:
    """CAR over ``window`` (%) for every security (rows) and event (columns).

    A diverging scale centred on zero; each cell shows the CAR with significance stars
    of its own test (``car(window)["p_value"]``). Above ``cap`` securities (default
    :data:`MAX_SECURITIES_SHOWN`; None: all), the rows are the movers: the
    :data:`~eventstudy.movers.MOVERS_SHOWN` securities with the largest and the smallest
    CAR averaged over their events, largest first (said in the subtitle).
    """
    car = results.car(window)
    car = car[car["security"].astype(str) != PORTFOLIO]
    ids = [e for e in _event_ids(results) if (car["event_id"] == e).any()]
    secs = sorted(car["security"].astype(str).unique())
    movers = Movers(keys=secs, total=len(secs), capped=False, label="")
    if cap is not None and len(secs) > cap:
        mean = car.assign(security=car["security"].astype(str)).groupby("security")["car"].mean()
        what = (
            f"CAR{format_window(window)}"
            if len(ids) == 1
            else (f"mean CAR{format_window(window)} over their events")
        )
        movers = top_and_bottom(mean.reindex(secs), measure=what, cap=cap)
        secs = list(movers.keys)
    cells: dict[tuple[str, Any], tuple[float, float]] = {}
    for s, e, c, p in zip(
        car["security"].astype(str), car["event_id"], car["car"], car["p_value"], strict=True
    ):
        cells.setdefault((s, e), (c, p))
    z = np.full((len(secs), len(ids)), np.nan)
    text = np.full((len(secs), len(ids)), "", dtype=object)
    pvals = np.full((len(secs), len(ids)), np.nan)
    day0 = _day0_dates(results)
    for i, s in enumerate(secs):
        for j, e in enumerate(ids):
            if (s, e) in cells:
                c, p = cells[(s, e)]
                z[i, j] = float(c) * 100.0
                pvals[i, j] = float(p)
                text[i, j] = f"{z[i, j]:+.2f}{significance_stars(pvals[i, j])}"
    bound = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    heat = {
        "type": "heatmap",
        "z": z,
        "x": [str(e) for e in ids],
        "y": [_label(s, labels) for s in secs],
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": 12},
        "customdata": np.dstack(
            [pvals, np.array([[day0.get(e, "") for e in ids]] * len(secs), dtype=object)]
        ),
        "colorscale": "RdBu",
        "zmid": 0.0,
        "zmin": -bound,
        "zmax": bound,
        "xgap": 2,
        "ygap": 2,
        "colorbar": _colorbar(f"CAR{format_window(window)} (%)", ticksuffix="%"),
        "hovertemplate": (
            "<b>%{y}</b><br>event %{x} · day 0 %{customdata[1]}"
            "<br>CAR %{z:+.2f}%  (p = %{customdata[0]:.3f})"
            "<extra></extra>"
        ),
    }
    layout = _layout(
        title or f"CAR{format_window(window)} by security and event",
        subtitle="Percent; * p<0.10, ** p<0.05, *** p<0.01 (each firm-event's own test)"
        + _shown([movers]),
        height=max(360, 120 + 44 * len(secs)),
        xaxis={"title": {"text": "Event"}, "showgrid": False, "type": "category"},
        yaxis={
            "title": {"text": "Security"},
            "showgrid": False,
            "autorange": "reversed",
            "type": "category",
        },
    )
    return figure([heat], layout)


def plot_forest(
    results: Any,
    window: tuple[int, int] = (0, 1),
    *,
    level: float = 0.95,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
) -> go.Figure:
    """Forest plot: each firm-event's CAR over ``window`` (%) with its interval.

    Rows grouped by event (a two-level axis: event, security); the interval is
    ``car ± z·se`` from ``results.car(window)``. One trace per security (so the legend
    and the colours match the other figures). Above ``cap`` securities (default
    :data:`MAX_SECURITIES_SHOWN`; None: all), only the
    :data:`~eventstudy.movers.MOVERS_SHOWN` largest and smallest firm-event CARs of the
    study (said in the subtitle).
    """
    car = results.car(window)
    car = car.assign(security=car["security"].astype(str))
    car = car[car["security"] != PORTFOLIO].reset_index(drop=True)
    movers = Movers(keys=list(car.index), total=len(car), capped=False, label="")
    if cap is not None and car["security"].nunique() > cap:
        movers = top_and_bottom(
            car["car"].astype(float),
            measure=f"CAR{format_window(window)}",
            noun="firm-events",
            cap=0,
        )
        car = car.loc[movers.keys]
    colors = _study_colors(results, colors)
    z = _z(level)
    ids = [e for e in _event_ids(results) if (car["event_id"] == e).any()]
    rank = {e: i for i, e in enumerate(ids)}
    car = car.assign(_r=car["event_id"].map(rank)).sort_values(["_r", "security"])
    day0 = _day0_dates(results)
    data: list[Spec] = []
    for sec, g in car.groupby("security", sort=True):
        val = g["car"].to_numpy(dtype=float) * 100.0
        half = z * g["se"].to_numpy(dtype=float) * 100.0
        data.append(
            {
                "type": "scatter",
                "x": val,
                "y": [[str(e) for e in g["event_id"]], [_label(str(sec), labels)] * len(g)],
                "mode": "markers",
                "name": _label(str(sec), labels),
                "legendgroup": str(sec),
                "marker": {"color": _color(colors, str(sec)), "size": 9, "symbol": "square"},
                "error_x": {
                    "type": "data",
                    "array": half,
                    "color": _color(colors, str(sec)),
                    "thickness": 1.6,
                    "width": 0,
                },
                "customdata": np.column_stack(
                    [
                        val - half,
                        val + half,
                        g["p_value"].to_numpy(dtype=float),
                        np.array([day0.get(e, "") for e in g["event_id"]], dtype=object),
                    ]
                ),
                "hovertemplate": (
                    "<b>%{fullData.name}</b><br>event %{y} · day 0 %{customdata[3]}"
                    "<br>CAR %{x:+.2f}%  "
                    "[%{customdata[0]:.2f}%, %{customdata[1]:.2f}%]"
                    "<br>p = %{customdata[2]:.3f}<extra></extra>"
                ),
            }
        )
    layout = _layout(
        title or f"CAR{format_window(window)} with {level:.0%} intervals",
        subtitle=f"Each firm-event; interval ± {z:.2f} standard errors of the CAR"
        + _shown([movers]),
        height=max(380, 140 + 30 * len(car)),
        shapes=[vline(0, {"color": "#888888", "width": 1})],
        xaxis={"title": {"text": f"CAR{format_window(window)} (%)"}, "ticksuffix": "%"},
        yaxis={"autorange": "reversed", "showgrid": False},
    )
    return figure(data, layout)


# ----------------------------------------------------------------------------- comparison


def plot_compare_heatmap(
    cars: pd.DataFrame,
    *,
    window: str = "(0,+1)",
    title: str | None = None,
) -> go.Figure:
    """CAR over one window (%) of every security (columns) in every event of several studies
    (rows), with the event's mean (``portfolio`` column) first.

    Parameters
    ----------
    cars : DataFrame
        ``label`` (row: study and event), ``security`` (column label, ``"portfolio"`` for the
        mean), ``window`` (e.g. ``"(0,+1)"``), ``car``, ``p_value``.
    window : str
        The window shown.
    """
    d = cars[cars["window"] == window]
    rows = list(dict.fromkeys(d["label"]))
    cols = list(dict.fromkeys(d["security"]))
    if PORTFOLIO in cols:
        cols = [PORTFOLIO, *[c for c in cols if c != PORTFOLIO]]
    z = np.full((len(rows), len(cols)), np.nan)
    pv = np.full((len(rows), len(cols)), np.nan)
    text = np.full((len(rows), len(cols)), "", dtype=object)
    ri = {r: i for i, r in enumerate(rows)}
    ci = {c: j for j, c in enumerate(cols)}
    for r in d.itertuples(index=False):
        i, j = ri[r.label], ci[r.security]
        z[i, j] = float(r.car) * 100.0
        pv[i, j] = float(r.p_value)
        text[i, j] = f"{z[i, j]:+.2f}{significance_stars(pv[i, j])}"
    bound = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    heat = {
        "type": "heatmap",
        "z": z,
        "x": ["mean (portfolio)" if c == PORTFOLIO else c for c in cols],
        "y": rows,
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": 11},
        "customdata": pv,
        "colorscale": "RdBu",
        "zmid": 0.0,
        "zmin": -bound,
        "zmax": bound,
        "xgap": 2,
        "ygap": 2,
        "colorbar": _colorbar(f"CAR{window} (%)", ticksuffix="%"),
        "hovertemplate": "<b>%{y}</b><br>%{x}<br>CAR %{z:+.2f}%  (p = %{customdata:.3f})"
        "<extra></extra>",
    }
    layout = _layout(
        title or f"CAR{window} by event and security, across studies",
        subtitle="Percent; the mean column's stars are the portfolio test's, the others each "
        "firm's own CAR test; * p<0.10, ** p<0.05, *** p<0.01",
        height=max(380, 160 + 40 * len(rows)),
        margin={"l": 320},
        xaxis={"showgrid": False, "type": "category", "side": "top"},
        yaxis={"showgrid": False, "autorange": "reversed", "type": "category"},
    )
    return figure([heat], layout)


def _window_name(window: str) -> str:
    return f"CAR{window}" if str(window).startswith("(") else str(window)


def plot_compare_forest(
    table: pd.DataFrame,
    *,
    windows: Sequence[str] | None = None,
    level: float = 0.95,
    title: str | None = None,
) -> go.Figure:
    """Forest plot of each event's mean CAR (%) with its portfolio-test interval, across
    studies: one row per event (and combined window), one marker colour per CAR window.

    Parameters
    ----------
    table : DataFrame
        ``label``, ``window``, ``caar``, ``ci_low``, ``ci_high``, ``p_portfolio``.
    """
    wins = list(windows) if windows else list(dict.fromkeys(table["window"]))
    labels = list(dict.fromkeys(table["label"]))
    data: list[Spec] = []
    for k, w in enumerate(wins):
        g = table[table["window"] == w].set_index("label").reindex(labels).dropna(subset=["caar"])
        if g.empty:
            continue
        val = g["caar"].to_numpy(dtype=float) * 100.0
        lo = g["ci_low"].to_numpy(dtype=float) * 100.0
        hi = g["ci_high"].to_numpy(dtype=float) * 100.0
        color = PALETTE[k % len(PALETTE)]
        data.append(
            {
                "type": "scatter",
                "x": val,
                "y": [list(g.index), [_window_name(w)] * len(g)],
                "mode": "markers",
                "name": _window_name(w),
                "marker": {"color": color, "size": 9, "symbol": "square"},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": hi - val,
                    "arrayminus": val - lo,
                    "color": color,
                    "thickness": 1.6,
                    "width": 0,
                },
                "customdata": np.column_stack([lo, hi, g["p_portfolio"].to_numpy(dtype=float)]),
                "hovertemplate": "<b>%{y}</b><br>mean CAR %{x:+.2f}%  "
                "[%{customdata[0]:.2f}%, %{customdata[1]:.2f}%]"
                "<br>portfolio p = %{customdata[2]:.3f}<extra></extra>",
            }
        )
    layout = _layout(
        title or "Mean CAR per event with portfolio-test intervals, across studies",
        subtitle=f"{level:.0%} interval of the equal-weighted portfolio's CAR (valid when the "
        "firms share the date)",
        height=max(420, 140 + 22 * len(labels) * len(wins)),
        margin={"l": 420},
        shapes=[vline(0, {"color": "#888888", "width": 1})],
        xaxis={"title": {"text": "Mean CAR of the event's securities (%)"}, "ticksuffix": "%"},
        yaxis={"autorange": "reversed", "showgrid": False},
    )
    return figure(data, layout)


# ----------------------------------------------------------------------------- diagnostics


def plot_diagnostics(
    results: Any,
    *,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
) -> go.Figure:
    """Estimation diagnostics per security: beta, R² (%) and residual sigma (% per day).

    Three panels from ``results.params`` sharing the security axis; one bar per event
    for each security (its colour; later events lighter). Each trace holds one event's
    values of one field for every security; its ``meta`` is ``[field, event_id]``.
    Above ``cap`` securities (default :data:`MAX_SECURITIES_SHOWN`; None: all), one
    histogram per panel over every firm-event instead (its ``meta`` is ``[field]``).
    """
    params = _frame(results, "params").copy()
    params["security"] = params["security"].astype(str)
    colors = _study_colors(results, colors)
    ids = [e for e in _event_ids(results) if (params["event_id"] == e).any()]
    secs = sorted(params["security"].unique())
    if cap is not None and len(secs) > cap:
        return _diagnostics_distribution(params, len(secs), len(ids), title)
    panels = grid(
        1,
        3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=list(_DIAGNOSTICS_TITLES),
    )
    fields = [("beta", 1.0, ".2f"), ("r2", 100.0, ".1f"), ("sigma", 100.0, ".2f")]
    opacities = [1.0, 0.55, 0.3, 0.8, 0.45]
    data: list[Spec] = []
    for k, eid in enumerate(ids):
        p = params[params["event_id"] == eid].set_index("security")
        present = [sec for sec in secs if sec in p.index]
        opacity = opacities[k % len(opacities)]
        n_obs = p["n_obs"].reindex(present).to_numpy() if "n_obs" in p else None
        names = [_label(sec, labels) for sec in present]
        shades = [_color(colors, sec) for sec in present]
        for col, (name, scale, fmt) in enumerate(fields, start=1):
            if name not in p:
                continue
            data.append(
                {
                    "type": "bar",
                    "x": p[name].reindex(present).to_numpy(dtype=float) * scale,
                    "y": list(names),
                    "orientation": "h",
                    "name": f"event {eid}",
                    "meta": [name, str(eid)],
                    "offsetgroup": str(eid),
                    "legendgroup": str(eid),
                    "showlegend": False,
                    "marker": {"color": list(shades), "opacity": opacity, "line": {"width": 0}},
                    "customdata": n_obs,
                    "hovertemplate": (
                        f"<b>%{{y}}</b><br>event {eid}<br>%{{x:{fmt}}}"
                        + ("<br>%{customdata} estimation days" if n_obs is not None else "")
                        + "<extra></extra>"
                    ),
                    **on(col),
                }
            )
        if len(ids) > 1:  # a grey legend key per event, showing its shade
            data.append(
                {
                    "type": "bar",
                    "x": [None],
                    "y": [None],
                    "orientation": "h",
                    "name": f"event {eid}",
                    "legendgroup": str(eid),
                    "marker": {"color": f"rgba(90,90,90,{opacity})"},
                    "hoverinfo": "skip",
                    **on(1),
                }
            )
    axes = panels.with_axes({}, {"autorange": "reversed", "showgrid": False, "type": "category"})
    axes["xaxis"].update(title={"text": "beta"}, rangemode="tozero")
    axes["xaxis2"].update(title={"text": "R² (%)"}, ticksuffix="%", rangemode="tozero")
    axes["xaxis3"].update(
        title={"text": "σ of residuals (% per day)"}, ticksuffix="%", rangemode="tozero"
    )
    layout = _layout(
        title or "Estimation diagnostics by security",
        subtitle="Expected-return model fitted on the estimation window; "
        "one bar per event (later events lighter)",
        height=max(380, 150 + 22 * len(secs) * max(len(ids), 1)),
        barmode="group",
        showlegend=len(ids) > 1,
        annotations=panels.titles,
        **axes,
    )
    return figure(data, layout, panels)


def _diagnostics_distribution(
    params: pd.DataFrame, n_securities: int, n_events: int, title: str | None
) -> go.Figure:
    """Beta, R² and residual sigma of every firm-event as three histograms.

    Binned here (``numpy.histogram``, ``bins="auto"``) and drawn as bars: the page carries
    the counts, not 40,000 values per panel.
    """
    panels = grid(
        1,
        3,
        horizontal_spacing=0.06,
        subplot_titles=list(_DIAGNOSTICS_TITLES),
    )
    axes = panels.with_axes({}, {})
    fields = [
        ("beta", 1.0, "beta", ""),
        ("r2", 100.0, "R² (%)", "%"),
        ("sigma", 100.0, "σ (%)", "%"),
    ]
    data: list[Spec] = []
    for col, (name, scale, axis, suffix) in enumerate(fields, start=1):
        if name not in params:
            continue
        values = params[name].to_numpy(dtype=float) * scale
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        counts, edges = np.histogram(values, bins="auto")
        data.append(
            {
                "type": "bar",
                "x": (edges[:-1] + edges[1:]) / 2.0,
                "y": counts,
                "width": np.diff(edges),
                "name": axis,
                "meta": [name],
                "marker": {"color": PALETTE[0], "line": {"width": 0}},
                "showlegend": False,
                "customdata": np.column_stack([edges[:-1], edges[1:]]),
                "hovertemplate": f"{axis} %{{customdata[0]:.3g}} to %{{customdata[1]:.3g}}"
                "<br>%{y} firm-events<extra></extra>",
                **on(col),
            }
        )
        axes[panels.axis("x", 1, col)].update(title={"text": axis}, ticksuffix=suffix)
    axes["yaxis"]["title"] = {"text": "firm-events"}
    layout = _layout(
        title or "Estimation diagnostics: distribution over firm-events",
        subtitle=f"{n_securities:,} securities x {n_events} events: too many for one bar each "
        f"(at most {MAX_SECURITIES_SHOWN}); every firm-event's value is counted",
        height=400,
        annotations=panels.titles,
        **axes,
    )
    return figure(data, layout, panels)


def plot_car_distribution(
    results: Any,
    window: tuple[int, int] = (0, 1),
    event_id: Any = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """The distribution of the firms' CARs over ``window`` (%) in each event, as a histogram.

    What a reader of a study of hundreds or thousands of securities sees instead of one
    line per firm: a histogram of every firm-event's CAR (``results.car(window)``), the
    mean (solid) and the median (dashed) of those CARs, and zero (dotted: no abnormal
    return). One panel per event when ``event_id`` is None and the study has several. Each
    histogram's ``meta`` is ``[event_id, mean, median]`` (percent).

    Parameters
    ----------
    results : EventStudyResults
        Reads ``car(window)`` and ``events``.
    window : (int, int)
        The CAR window (the study's headline window in the report).
    event_id : optional
        The event to draw; every event (one panel each) when None.
    """
    car = results.car(window)
    car = car[car["security"].astype(str) != PORTFOLIO]
    ids = [e for e in _event_ids(results, event_id) if (car["event_id"] == e).any()]
    many = len(ids) > 1
    panels = (
        grid(
            len(ids),
            1,
            vertical_spacing=_spacing(len(ids), 0.1),
            subplot_titles=[f"Event {e}" for e in ids],
        )
        if many
        else None
    )
    label = f"CAR{format_window(window)}"
    notes = []
    data: list[Spec] = []
    shapes: list[Spec] = []
    for k, eid in enumerate(ids, start=1):
        values = car.loc[car["event_id"] == eid, "car"].to_numpy(dtype=float) * 100.0
        values = values[np.isfinite(values)]
        mean = float(values.mean()) if len(values) else math.nan
        median = float(np.median(values)) if len(values) else math.nan
        data.append(
            {
                "type": "histogram",
                "x": values,
                "name": f"{label}, event {eid}",
                "meta": [str(eid), mean, median],
                "marker": {"color": PALETTE[0], "line": {"width": 0}},
                "opacity": 0.85,
                "showlegend": False,
                "hovertemplate": f"{label} %{{x}}<br>%{{y}} firms<extra></extra>",
                **(on(k) if many else {}),
            }
        )
        lines = [
            (0.0, {"color": "#888888", "width": 1, "dash": "dot"}),
            (mean, {"color": PORTFOLIO_COLOR, "width": 2}),
            (median, {"color": PORTFOLIO_COLOR, "width": 1.5, "dash": "dash"}),
        ]
        shapes += [vline(x, line, k) for x, line in lines if math.isfinite(x)]
        notes.append(
            f"{eid}: {len(values):,} firms, mean {mean:+.2f}%, median {median:+.2f}%"
            if len(values)
            else f"{eid}: no firm"
        )
    axes = _panel_axes(
        panels,
        {"title": {"text": f"{label} (%)"}, "ticksuffix": "%"},
        {"title": {"text": "firms"}},
    )
    layout = _layout(
        title
        or (
            f"Distribution of the firms' {label}, event {ids[0]}"
            if len(ids) == 1
            else f"Distribution of the firms' {label} by event"
        ),
        subtitle="solid: mean, dashed: median, dotted: zero (no abnormal return)<br>"
        + "; ".join(notes[:3])
        + ("; ..." if len(notes) > 3 else ""),
        height=max(420, 300 * len(ids)),
        margin={"t": 110},
        shapes=shapes,
        **({"annotations": panels.titles} if panels is not None else {}),
        **axes,
    )
    return figure(data, layout, panels)


def plot_residual_correlation(
    results: Any,
    event_id: Any = None,
    *,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    cap: int | None = MAX_SECURITIES_SHOWN,
    rank_window: tuple[int, int] = (0, 1),
) -> go.Figure:
    """Correlation of estimation-window residuals across securities, with r̄ and design effect.

    High mean pairwise correlation (r̄) on a shared event date inflates the variance of a
    cross-sectional mean by the design effect ``1 + (N-1) r̄``: tests that assume
    independence over-reject. One panel per event when ``event_id`` is None. Above ``cap``
    securities in an event (default :data:`MAX_SECURITIES_SHOWN`; None: all), the matrix
    of its movers by CAR over ``rank_window`` (said in the subtitle); r̄ and the design
    effect in the panel titles are always those of every security.
    """
    ids = _event_ids(results, event_id)
    clustering = _frame(results, "clustering")
    mats = {eid: results.residual_correlation(eid) for eid in ids}
    chosen = []
    for eid, m in mats.items():
        movers = _event_movers(results, eid, [str(c) for c in m.index], rank_window, cap)
        chosen.append(movers)
        if movers.capped:
            keep = [c for c in m.index if str(c) in set(movers.keys)]
            order = sorted(keep, key=lambda c: movers.keys.index(str(c)))
            mats[eid] = m.loc[order, order]
    first = next(iter(mats.values()))
    shared = all(list(m.index) == list(first.index) for m in mats.values())
    # above the cap: symbols as labels, values in the hover only (20 x 20 cells of text and
    # each panel's own names do not fit side by side)
    big = any(m.capped for m in chosen)
    panels = grid(
        1,
        len(ids),
        shared_yaxes=shared,
        horizontal_spacing=(
            _spacing(len(ids), 0.04 if shared else (0.08 if big else 0.14)) if len(ids) > 1 else 0.0
        ),
        subplot_titles=[_cluster_caption(clustering, e) for e in ids],
    )
    data: list[Spec] = []
    for k, eid in enumerate(ids, start=1):
        corr = mats[eid]
        values = corr.to_numpy(dtype=float).copy()
        np.fill_diagonal(values, np.nan)  # a security with itself says nothing
        data.append(
            {
                "type": "heatmap",
                "z": values,
                "x": [str(c) for c in corr.columns],  # symbols below, names on the left
                "y": [str(c) if big else _label(str(c), labels) for c in corr.index],
                "zmin": -1.0,
                "zmax": 1.0,
                "zmid": 0.0,
                "colorscale": "RdBu_r",
                "showscale": k == len(ids),
                "text": None
                if big
                else np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(values),
                "texttemplate": None if big else "%{text}",
                "textfont": {"size": 11},
                "xgap": 2,
                "ygap": 2,
                "colorbar": _colorbar("correlation"),
                "hovertemplate": f"event {eid}<br>%{{y}} × %{{x}}: %{{z:.3f}}<extra></extra>",
                **on(k),
            }
        )
    axes = panels.with_axes(
        {"showgrid": False, "tickangle": -35, "type": "category"},
        {"showgrid": False, "autorange": "reversed", "type": "category"},
    )
    head = title or (
        f"Residual correlation, event {ids[0]}"
        if len(ids) == 1
        else "Residual correlation across securities, by event"
    )
    layout = _layout(
        head,
        subtitle="Pairwise correlation of estimation-window residuals (diagonal left blank); "
        "design effect = 1 + (N-1)·r̄" + _shown(chosen),
        height=max(440, 190 + 44 * max(len(m) for m in mats.values())),
        margin={"t": 120},
        annotations=[{**t, "font": {"size": 13}} for t in panels.titles],
        **axes,
    )
    return figure(data, layout, panels)


def _cluster_caption(clustering: pd.DataFrame, event_id: Any) -> str:
    if "event_id" not in clustering:
        return f"Event {event_id}"
    row = clustering[clustering["event_id"] == event_id]
    if len(row) == 0:
        return f"Event {event_id}"
    r = row.iloc[0]
    rbar = float(r["rbar"])
    if not np.isfinite(rbar):
        return f"Event {event_id}<br>N = {int(r['n_securities'])}: no pair to correlate"
    return (
        f"Event {event_id}<br>N = {int(r['n_securities'])} · r̄ = {rbar:.3f} · "
        f"design effect = {float(r['design_effect']):.2f}"
    )


# ----------------------------------------------------------------------------- aliases

#: Names used in ``docs/architecture.md``.
ar_bars = plot_ar
car_paths = plot_car
price_paths = plot_prices
test_table = plot_tests
car_heatmap = plot_heatmap
car_forest = plot_forest
diagnostics = plot_diagnostics
residual_correlation = plot_residual_correlation

#: Plotly ``config`` used for HTML output (no logo, responsive).
PLOT_CONFIG = _PLOT_CONFIG


def static_figure(fig: go.Figure) -> go.Figure:
    """The figure as a picture (PNG, SVG): without what only works in a browser, its
    buttons (``updatemenus``, such as the CAR chart's "Portfolio only") and the subtitle
    line that says to click the legend. ``fig`` itself is not changed."""
    title = fig.layout.title.text or ""
    if not fig.layout.updatemenus and _CLICK_HINT not in title:
        return fig
    static = go.Figure(fig)
    static.layout.updatemenus = ()  # update_layout(updatemenus=[]) would keep them
    if _CLICK_HINT in title:  # one subtitle line less: the plot moves up by its height
        static.layout.title.text = title.replace(_CLICK_HINT, "")
        top, least = fig.layout.margin.t, TEMPLATE.layout.margin.t
        if top is not None and least is not None:
            static.layout.margin.t = max(least, top - _LINE_PX)
    return static
