"""Figures written out as plain data and validated once: subplot grids, shapes, the figure.

Every figure of :mod:`eventstudy.figures`, :mod:`~eventstudy.figures_quant` and
:mod:`~eventstudy.figures_robustness` is assembled as trace dicts and one layout dict (its
axes, shapes and annotations written out) and turned into a
:class:`plotly.graph_objects.Figure` once, by :func:`figure`, with Plotly's full validation
(save the house template: a ``Template`` object, validated when it was made, is attached as
Plotly attaches its default template, without checking it again for every figure).
Plotly's incremental API (``make_subplots``, ``add_trace``, ``update_layout``,
``update_xaxes``, ``add_vline``...) validates and copies the figure again at every step: the
same figures cost about eight times more that way.

:func:`grid` lays subplots out exactly as :func:`plotly.subplots.make_subplots` does (the
same domains to the last bit, the same shared-axis links and subplot titles), and the figure
carries Plotly's grid reference, so ``fig.add_trace(..., row=, col=)``, ``add_vline(row=)``,
``update_xaxes(row=)`` and ``print_grid()`` work on it as on a figure of ``make_subplots``.
The shape helpers write what ``add_vline``, ``add_hline`` and ``add_vrect`` add.

Pure Plotly; imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly._subplots import SubplotRef

__all__ = ["Grid", "Spec", "figure", "grid", "hline", "on", "refs", "vline", "vrect"]

Spec = dict[str, Any]


def refs(k: int = 1) -> tuple[str, str]:
    """The x and y axis references of subplot ``k`` (1-based, row by row from the top left,
    as ``make_subplots`` numbers them; 1 for a figure without subplots)."""
    return ("x", "y") if k == 1 else (f"x{k}", f"y{k}")


def on(k: int) -> Spec:
    """The trace keys that put a trace on subplot ``k`` (what ``add_trace(row=, col=)`` sets)."""
    x, y = refs(k)
    return {"xaxis": x, "yaxis": y}


@dataclass(frozen=True)
class Grid:
    """Subplots of ``rows`` x ``cols`` single cells, laid out as ``make_subplots`` does.

    Attributes
    ----------
    rows, cols : int
    axes : dict
        Layout axes by name (``"xaxis"``, ``"yaxis"``, ``"xaxis2"``...): ``anchor``,
        ``domain`` and, on shared axes, ``matches`` and ``showticklabels``.
    titles : list of dict
        The subplot titles as paper annotations (none for an empty title).
    ref, text : list, str
        Plotly's grid reference and its printed form (``Figure.print_grid``).
    """

    rows: int
    cols: int
    axes: dict[str, Spec]
    titles: list[Spec]
    ref: list[list[tuple[Any, ...]]]
    text: str

    def axis(self, letter: str, row: int, col: int) -> str:
        """The layout key of the ``letter`` ("x" or "y") axis of the cell (row, col), 1-based."""
        return _name(letter, (row - 1) * self.cols + col)

    def with_axes(self, x: Spec, y: Spec) -> dict[str, Spec]:
        """Every axis of the grid with ``x`` (x axes) or ``y`` (y axes) added, as
        ``update_xaxes(**x)`` and ``update_yaxes(**y)`` do; fresh dicts."""
        return {name: {**spec, **(x if name[0] == "x" else y)} for name, spec in self.axes.items()}


def _check_spacing(n: int, spacing: float, name: str, what: str) -> None:
    """``make_subplots``'s limits on the spacing between ``n`` rows or columns."""
    if spacing < 0 or spacing > 1:
        raise ValueError(f"{name} spacing must be between 0 and 1.")
    if n > 1 and spacing > 1.0 / float(n - 1):
        raise ValueError(
            f"{name} spacing cannot be greater than (1 / ({what} - 1)) = "
            f"{1.0 / float(n - 1):f}.\nThe resulting plot would have {n} {what}s "
            f"({what}={n})."
        )


def grid(
    rows: int,
    cols: int,
    *,
    shared_xaxes: bool = False,
    shared_yaxes: bool = False,
    horizontal_spacing: float | None = None,
    vertical_spacing: float | None = None,
    subplot_titles: Sequence[str] | None = None,
    row_heights: Sequence[float] | None = None,
) -> Grid:
    """The layout of ``make_subplots(rows, cols, ...)`` with the same arguments, computed
    directly (``start_cell="top-left"``, one cell per subplot, no secondary y).

    Parameters
    ----------
    rows, cols : int
    shared_xaxes, shared_yaxes : bool
        Link the x axes of each column (tick labels on the bottom row only), the y axes of
        each row (tick labels on the first column only).
    horizontal_spacing, vertical_spacing : float, optional
        Space between columns and rows, a fraction of the plot (default ``0.2 / cols``,
        ``0.3 / rows``, as ``make_subplots``).
    subplot_titles : sequence of str, optional
        Row by row from the top left.
    row_heights : sequence of float, optional
        Relative heights, from the top.

    Notes
    -----
    Plotly's arithmetic, term by term (``plotly/_subplots.py``): each column is
    ``(1 - h (cols - 1)) / cols`` wide and starts at the sum of the widths before it plus
    ``c h``; rows are laid from the bottom (heights of ``row_heights`` reversed); a title sits
    at the middle of its cell's x domain, on top of its y domain, in a 16 px font.
    """
    hs = 0.2 / cols if horizontal_spacing is None else horizontal_spacing
    vs = 0.3 / rows if vertical_spacing is None else vertical_spacing
    _check_spacing(cols, hs, "Horizontal", "col")
    _check_spacing(rows, vs, "Vertical", "row")
    widths = [(1.0 - hs * (cols - 1)) / cols] * cols
    if row_heights is None:
        heights = [(1.0 - vs * (rows - 1)) / rows] * rows
    else:
        if len(row_heights) != rows:
            raise ValueError(f"row_heights must have {rows} values, got {len(row_heights)}")
        total = float(sum(row_heights))
        heights = [(1.0 - vs * (rows - 1)) * (h / total) for h in row_heights][::-1]
    x0 = [sum(widths[:c]) + c * hs for c in range(cols)]
    y0 = [sum(heights[:r]) + r * vs for r in range(rows)]  # from the bottom row up
    titles = list(subplot_titles or [])
    axes: dict[str, Spec] = {}
    notes: list[Spec] = []
    ref: list[list[tuple[Any, ...]]] = []
    cells: list[list[str]] = []
    for r in range(rows):  # from the top
        line, texts = [], []
        bottom = y0[rows - 1 - r]
        y_dom = [_clip(bottom), _clip(bottom + heights[-1 - r])]
        for c in range(cols):
            k = r * cols + c + 1
            x, y = refs(k)
            xname, yname = _name("x", k), _name("y", k)
            x_dom = [x0[c], x0[c] + widths[c]]
            axes[xname] = {"domain": x_dom, "anchor": y}
            axes[yname] = {"domain": y_dom, "anchor": x}
            line.append((SubplotRef("xy", (xname, yname), {"xaxis": x, "yaxis": y}),))
            texts.append(f"({r + 1},{c + 1}) {x},{y}")
            if k - 1 < len(titles) and titles[k - 1]:
                notes.append(
                    {
                        "y": y_dom[1],
                        "xref": "paper",
                        "x": sum(x_dom) / 2.0,
                        "yref": "paper",
                        "text": titles[k - 1],
                        "showarrow": False,
                        "font": {"size": 16},
                        "xanchor": "center",
                        "yanchor": "bottom",
                    }
                )
        ref.append(line)
        cells.append(texts)
    if shared_xaxes and rows > 1:  # each column follows its bottom row
        for c in range(cols):
            first = refs((rows - 1) * cols + c + 1)[0]
            for r in range(rows - 1):
                axes[_name("x", r * cols + c + 1)].update(matches=first, showticklabels=False)
    if shared_yaxes and cols > 1:  # each row follows its first column
        for r in range(rows):
            first = refs(r * cols + 1)[1]
            for c in range(1, cols):
                axes[_name("y", r * cols + c + 1)].update(matches=first, showticklabels=False)
    width = max(len(t) for row in cells for t in row) + 4
    text = "This is the format of your plot grid:\n" + "".join(
        "  ".join(("[ " + t).ljust(width - 2) + " ]" for t in row) + "\n" for row in cells
    )
    return Grid(rows=rows, cols=cols, axes=axes, titles=notes, ref=ref, text=text)


def _name(letter: str, k: int) -> str:
    return f"{letter}axis" if k == 1 else f"{letter}axis{k}"


def _clip(v: float) -> float:
    """``make_subplots`` rounds a domain end within 0.01 outside [0, 1] back onto it."""
    if -0.01 < v < 0.0:
        return 0.0
    if 1.0 < v < 1.01:
        return 1.0
    return v


def vline(x: Any, line: Spec, k: int = 1) -> Spec:
    """The shape ``add_vline(x, line=line)`` adds (on subplot ``k``)."""
    xr, yr = refs(k)
    return {"type": "line", "x0": x, "x1": x, "xref": xr, "y0": 0, "y1": 1,
            "yref": f"{yr} domain", "line": line}  # fmt: skip


def hline(y: Any, line: Spec, k: int = 1) -> Spec:
    """The shape ``add_hline(y, line=line)`` adds (on subplot ``k``)."""
    xr, yr = refs(k)
    return {"type": "line", "x0": 0, "x1": 1, "xref": f"{xr} domain", "y0": y, "y1": y,
            "yref": yr, "line": line}  # fmt: skip


def vrect(x0: Any, x1: Any, k: int = 1, **style: Any) -> Spec:
    """The shape ``add_vrect(x0, x1, **style)`` adds (on subplot ``k``)."""
    xr, yr = refs(k)
    return {"type": "rect", "x0": x0, "x1": x1, "xref": xr, "y0": 0, "y1": 1,
            "yref": f"{yr} domain", **style}  # fmt: skip


def figure(data: list[Spec], layout: Spec, grid: Grid | None = None) -> go.Figure:
    """The one ``go.Figure`` of a figure's data and layout, validated as usual; with
    ``grid``, the figure knows its subplots (``row=``/``col=`` arguments work on it).

    A ``layout["template"]`` that is a :class:`plotly.graph_objects.layout.Template` object
    was validated when it was made: it is attached without validating it again, as Plotly
    attaches its default template (a third of the cost of a report's figure was checking the
    same house template again). The figure is the same to the last key: the template sits
    where validation puts it (see :func:`_attach_template`). Every other property, and a
    template given as a dict or a name, is validated.
    """
    template = layout.get("template")
    given = isinstance(template, go.layout.Template)
    spec: Spec = {
        "data": data,
        "layout": {**layout, "template": _PLACEHOLDER} if given else layout,
    }
    if grid is not None:
        spec["_grid_ref"] = grid.ref
        spec["_grid_str"] = grid.text
    fig = go.Figure(spec)
    if given:
        _attach_template(fig, template)
    return fig


#: What holds the template's place in the layout while the figure is validated: a small
#: valid template, not empty (Plotly drops an empty one and attaches its default template at
#: the end of the layout), so the layout's keys keep Plotly's order.
_PLACEHOLDER: Spec = {"layout": {"hovermode": "closest"}}


def _attach_template(fig: go.Figure, template: go.layout.Template) -> None:
    """Put ``template`` (already validated) in place of the layout's template, unvalidated.

    What :meth:`plotly.basedatatypes.BaseFigure._initialize_layout_template` does for
    Plotly's default template: the layout's ``_validate`` flag off while it is set, so the
    layout stores ``template.to_plotly_json()`` (a copy) under the existing ``template`` key.
    """
    lay = fig.layout
    lay._validate = False
    try:
        lay.template = template
    finally:
        lay._validate = True
