"""``--formats xlsx``: every table of the report in one Excel workbook, one sheet per table.

Numbers are written as numbers with a display format (returns and their standard errors as
percent, p-values with four decimals, counts as integers), dates as dates, ``NaN`` as an empty
cell, so a reader can compute with the cells. Text is always a text cell: a value that starts
with ``=``, ``+``, ``-`` or ``@`` (a title or a symbol from a study file) is stored as a string
with Excel's quote prefix, never as a formula, so opening the workbook runs nothing. The
workbook is written inside the report's temporary folder and renamed into place with it.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventstudy.exceptions import ReportError

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = ["FORMULA_PREFIXES", "number_format", "sheet_names", "write_workbook"]

#: A text cell starting with one of these would be read as a formula by a spreadsheet.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@")
#: Excel's limits.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")

#: Columns holding returns (fractions) in the return tables: shown as percent.
_PERCENT = {
    "ar",
    "car",
    "bhar",
    "caar",
    "se",
    "ci_low",
    "ci_high",
    "ar0",
    "se_ar0",
    "se_car",
    "estimate",
    "mean_car",
    "median_car",
    "min_car",
    "max_car",
    "pct_per_day",
    "ci_low_calibrated",
    "ci_high_calibrated",
}
#: Tables whose ``se``, ``estimate`` or ``ci_*`` are not returns (regression coefficients,
#: log volumes, variance ratios): their columns keep a plain number format.
_NOT_RETURNS = ("cross_section", "volume", "volatility")


def number_format(table: str, column: str, values: pd.Series) -> str:
    """The Excel number format of ``column`` of ``table``."""
    col = column.lower()
    returns_table = not table.startswith(_NOT_RETURNS)
    if col == "pct_per_day" or (returns_table and col in _PERCENT):
        return "0.00%"
    if col == "p_value" or col.startswith("p_") or col in ("min_p", "size_5pct", "p"):
        return "0.0000"
    if pd.api.types.is_integer_dtype(values.dtype) or col in (
        "n",
        "n_days",
        "n_obs",
        "df1",
        "n_sq",
    ):
        return "0"
    return "0.0000"


def sheet_names(names: list[str]) -> dict[str, str]:
    """Table name -> a valid, unique sheet name (31 characters, no ``[]:*?/\\``)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = _SHEET_BAD.sub("_", str(name)).strip("'") or "table"
        candidate = base[:31]
        k = 2
        while candidate.lower() in used:
            suffix = f"~{k}"
            candidate = base[: 31 - len(suffix)] + suffix
            k += 1
        used.add(candidate.lower())
        out[name] = candidate
    return out


def _text(value: str) -> str:
    text = _ILLEGAL.sub("\ufffd", value)  # control characters cannot be stored in XML
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def _cell(ws: WriteOnlyWorksheet, value: object, fmt: str) -> WriteOnlyCell | None:
    """One value as a number, date, boolean or text cell (text never a formula); ``None``
    for a missing value (an empty cell)."""
    from openpyxl.cell import WriteOnlyCell

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return WriteOnlyCell(ws, bool(value))
    if isinstance(value, int | np.integer):
        c = WriteOnlyCell(ws, int(value))
        c.number_format = "0"
        return c
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return None
        c = WriteOnlyCell(ws, v)
        c.number_format = fmt
        return c
    if isinstance(value, pd.Timestamp | _dt.datetime | _dt.date | np.datetime64):
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            return None
        if ts.tzinfo is not None:  # Excel has no time zones: the instant as ISO text
            return _cell(ws, ts.isoformat(), fmt)
        c = WriteOnlyCell(ws, ts.to_pydatetime())
        c.number_format = "yyyy-mm-dd" if ts == ts.normalize() else "yyyy-mm-dd hh:mm:ss"
        return c
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    text = _text(str(value))
    c = WriteOnlyCell(ws, text)
    c.data_type = "s"  # openpyxl reads "=..." as a formula: force a string
    if text.startswith(FORMULA_PREFIXES):
        c.quotePrefix = True  # and Excel keeps it text when the cell is edited
    return c


def write_workbook(
    path: Path, tables: Mapping[str, pd.DataFrame], *, title: str = "Event study"
) -> Path:
    """Write ``tables`` (name -> tidy DataFrame) to the workbook ``path``, one sheet each.

    Each sheet has the column names in its first row (bold, frozen, with a filter), then one
    row per record.

    Raises
    ------
    ReportError
        A table longer than Excel's 1,048,576 rows.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)  # streams rows: several times faster than cell by cell
    wb.properties.title = _text(title)[:255]
    wb.properties.creator = "eventstudy"
    names = sheet_names(list(tables))
    bold = Font(bold=True)
    for name, frame in tables.items():
        if len(frame) + 1 > MAX_ROWS:
            raise ReportError(
                detail=f"table {name} has {len(frame)} rows, more than an Excel sheet holds",
                fix=f"read tables/{name}.csv instead, or write the report without xlsx",
            )
        ws = wb.create_sheet(names[name])
        cols = [str(c) for c in frame.columns]
        # sheet settings come before the rows in a streamed sheet
        for j, col in enumerate(cols, start=1):
            sample = [str(v) for v in frame.iloc[:50, j - 1].tolist()]
            width = max([len(col), *(len(s) for s in sample)]) + 2
            ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 50)
        if cols:
            ws.freeze_panes = "A2"
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(len(frame) + 1, 1)}"
        head = []
        for col in cols:
            c = _cell(ws, col, "General")
            assert c is not None
            c.font = bold
            head.append(c)
        ws.append(head)
        formats = [number_format(name, c, frame[c]) for c in cols]
        for rec in frame.itertuples(index=False, name=None):
            ws.append([_cell(ws, v, f) for v, f in zip(rec, formats, strict=True)])
    if not tables:
        wb.create_sheet("empty")
    wb.save(path)
    return path
