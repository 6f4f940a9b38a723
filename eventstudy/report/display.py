"""Tables shaped for the HTML template: header labels and rows of formatted cells.

Every number is formatted here once (percent for returns, four decimals for p-values, a
shaded cell below 0.05), and every cell keeps its raw value for sorting.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["HEADERS", "Cell", "Table", "cell", "display", "display_rows"]

#: Display names of the columns of the analysis and robustness tables.
HEADERS: dict[str, str] = {
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
    "subset": "Portfolio",
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


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, CSS class (``sig``: p below 0.05; ``text``) and the value
    it sorts by (``None``: sorts last)."""

    text: str
    cls: str = ""
    sort: float | str | None = None


@dataclass(frozen=True)
class Table:
    """A table for the template."""

    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def cell(column: str, value: Any) -> Cell:
    """Format one value of column ``column``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Cell("")
    if isinstance(value, bool | np.bool_):
        return Cell("yes" if value else "no", "" if value else "sig", int(bool(value)))
    if isinstance(value, pd.Timestamp | _dt.date):
        text = f"{pd.Timestamp(value):%Y-%m-%d}"
        return Cell(text, "", text)
    if (
        column in ("size", "power", "rejection_rate")
        or column.startswith("share_")
        or column.endswith(("_ci_low", "_ci_high"))
    ):
        return Cell(f"{float(value) * 100:.1f}%", "", _num(value))
    if column == "se":
        return Cell(f"{float(value) * 100:.2f}%", "", _num(value))
    if column in ("caar", "car", "ci_low", "ci_high") or column.endswith("_car"):
        return Cell(f"{float(value) * 100:+.2f}%", "", _num(value))
    if column.startswith("p_") or column == "p_value":
        p = float(value)
        return Cell(f"{p:.4f}", "sig" if p < 0.05 else "", _num(p))
    if isinstance(value, float | np.floating):
        v = float(value)
        return Cell(f"{v:.3f}" if abs(v) < 1e4 else f"{v:.4g}", "", _num(v))
    if isinstance(value, int | np.integer):
        return Cell(str(value), "", float(value))
    return Cell(str(value), "text", str(value))


def display(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> Table:
    """``frame`` (its ``columns``, in order, those present) as a :class:`Table`."""
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    return display_rows(cols, frame[cols].itertuples(index=False, name=None))


def display_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """Rows of values of ``columns`` (as ``itertuples`` yields them) as a :class:`Table`."""
    cols = list(columns)
    return Table(
        header=[HEADERS.get(c, c) for c in cols],
        rows=[[cell(c, v) for c, v in zip(cols, rec, strict=True)] for rec in rows],
    )
