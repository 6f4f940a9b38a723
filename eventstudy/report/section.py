"""A report section beyond the CAR (volume, a cross-sectional regression): its title, short
paragraphs, tables, figures and preformatted text, rendered by one block of the template."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import plotly.graph_objects as go

from eventstudy.report.display import Cell, Table

__all__ = ["AddFigure", "Section", "num_cell", "p_cell", "pct_cell"]

#: Registers a figure with the report (fragment, image) and returns it: ``(id, title, fig)``.
AddFigure = Callable[[str, str, go.Figure], object]


@dataclass
class Section:
    """One section of the page (see the module docstring)."""

    id: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)
    figures: list[object] = field(default_factory=list)
    pre: str = ""
    pre_title: str = ""


def num_cell(value: float, digits: int = 2, signed: bool = False) -> Cell:
    """A number with ``digits`` decimals (blank when not finite)."""
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        return Cell("")
    return Cell(f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}", "", v)


def pct_cell(value: float, digits: int = 2) -> Cell:
    """A fraction as a signed percent."""
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        return Cell("")
    return Cell(f"{v * 100:+.{digits}f}%", "", v)


def p_cell(value: float) -> Cell:
    """A p-value, shaded below 0.05."""
    v = float(value)
    if v != v:
        return Cell("")
    return Cell(f"{v:.4f}", "sig" if v < 0.05 else "", v)
