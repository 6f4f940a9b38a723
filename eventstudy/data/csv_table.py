"""One price CSV read once, vectorised, with every problem named by its line.

:class:`CsvTable` is the reader behind :class:`~eventstudy.data.CsvSource` and
:func:`~eventstudy.data.read_price_csv`. It finds the header (the first of the first 30
lines that names a date column; metadata lines above it are skipped), reads the body
with pandas' C parser in one pass (dates and symbols as categories, prices as numbers),
and turns cells into dates and prices by whole columns, never cell by cell.

The common clean file (the date first as ``YYYY-MM-DD``, strictly increasing; then only
plain numbers, every cell filled, no quotes; up to 16 other columns) is recognised on its
bytes and read in one cheap pass: the numbers by the same C parser, the dates straight
from the bytes. Every other file goes through the full reader. Either way the frames are
the same, and every fault below is refused with the same message (a clean file can only
hold the faults found on the parsed columns, such as a zero or negative price).

Rules (each one closes a class of silently wrong numbers)
---------------------------------------------------------
* **Row width.** The header fixes the number of cells: a row with more cells than the
  header is an error naming the line (an unquoted thousands separator, ``2025-12-03,3,624.00``
  under ``Date,Close``, would otherwise shift or drop a number), even when the extra cell
  is empty (a shifted row can end with the empty cell it pushed out). A separator at the
  end of every line is fine when the header line ends with it too; a column the header
  leaves unnamed must then stay empty, and since a shifted row cannot be told by its
  number of cells there, neighbouring cells that read as one number split by a thousands
  separator (an integer 1..999 followed by a number in [100, 1000)) are refused. A row
  with *fewer* cells than the header is read with the missing cells empty, and an empty
  price is a missing price (no observation: never zero, never the neighbour's value).
* **Prices.** Plain numbers; quoted thousands separators (``"2,745.50"``), decimal
  commas in ``;``-separated files, spaces and the usual missing-value tokens (``#N/A``,
  ``null``, ``-`` ...) are understood. Anything else, and zero, negative or infinite
  prices, are errors naming the line, the column and the cell.
* **Dates.** ``YYYY-MM-DD`` (optionally with a time), or one of the day-first/month-first
  formats when every row reads with it (ambiguous files are refused unless the day-sized
  steps of daily prices settle it).
* **Time stamps with an offset** (``2025-12-03 15:00:00+00:00``) are instants: each is
  converted to the local date of the symbol's exchange (the exchange from
  :data:`~eventstudy.config.EXCHANGE_BY_SYMBOL`/:data:`~eventstudy.config.EXCHANGE_BY_SUFFIX`
  or given explicitly), so a UTC-stamped Tokyo file gives the same sessions as the
  original. A stamp at midnight of its own offset (``2025-07-23 00:00:00+09:00``, how
  pandas and yfinance write daily bars) is a date labelled with a zone: its date is
  kept whatever the exchange. A converted stamp that lands on a day the exchange never
  trades (a weekend) is an error: the stamps are not in the zone they claim. Stamps
  that need converting for a symbol whose exchange is unknown are refused with the fix,
  and a file mixing stamped and unstamped dates is an error naming the first line
  that differs.
* **Files.** A named pipe, device or socket is refused before anything is read (it
  would block forever); bytes that are not UTF-8 are read as Latin-1.

Line numbers are physical lines of the file (1-based), found by a second, streaming
pass only when an error has to be reported.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import io
import itertools
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from eventstudy.config import EXCHANGE_BY_SUFFIX, EXCHANGE_BY_SYMBOL, suffix_of
from eventstudy.exceptions import DataError

__all__ = [
    "ADJ_KEYS",
    "CLOSE_KEYS",
    "DATE_KEYS",
    "OTHER_PRICE_KEYS",
    "SYMBOL_KEYS",
    "CsvTable",
    "DateColumn",
    "NumberColumn",
    "default_exchange",
    "key",
    "open_regular",
]

DATE_KEYS = frozenset(
    {
        "date",
        "dates",
        "exchangedate",
        "tradedate",
        "tradingdate",
        "timestamp",
        "datetime",
        "day",
        "asof",
        "asofdate",
        "pricedate",
    }
)
CLOSE_KEYS = frozenset(
    {
        "close",
        "closeprice",
        "closingprice",
        "last",
        "lastprice",
        "pxlast",
        "price",
        "trdprc1",
        "officialclose",
        "cfclose",
    }
)
ADJ_KEYS = frozenset(
    {
        "adjclose",
        "adjustedclose",
        "adjclosingprice",
        "adjustedclosingprice",
        "adjustedcloseprice",
        "closeadj",
        "closeadjusted",
        "adjprice",
        "adjustedprice",
    }
)
SYMBOL_KEYS = frozenset({"symbol", "ticker", "ric", "security", "instrument", "code"})
OTHER_PRICE_KEYS = frozenset(
    {
        "open",
        "high",
        "low",
        "volume",
        "vol",
        "dividends",
        "stocksplits",
        "capitalgains",
        "openprice",
        "highprice",
        "lowprice",
        "pxopen",
        "pxhigh",
        "pxlow",
        "pxvolume",
        "change",
        "pctchange",
        "turnover",
    }
)
#: Cell texts that mean "no value" (compared case-insensitively, after stripping).
MISSING = frozenset({"", "null", "nan", "na", "n/a", "#n/a", "#n/a n/a", "-", "none", "#value!"})
#: The same tokens in the casings pandas is told about (it compares exactly); other
#: casings and padded tokens still reach the careful path, which lowercases and strips.
_NA_TOKENS = sorted({v for t in MISSING for v in (t, t.upper(), t.title(), t.capitalize())})

DATE_FORMATS = (
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
)
#: ISO date, optional time, optional zone (``Z``, ``UTC``, ``GMT`` or ``+hh[:mm]``).
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hh>\d{2}):(?P<mm>\d{2})(?::(?P<ss>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_ISO_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PLAIN_DATE = r"\d{4}-\d{2}-\d{2}"
_THOUSANDS = r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_DECIMAL_COMMA = r"^[-+]?\d+,\d+$"
_SEPARATORS = (",", ";", "\t", "|")
_HEAD_LINES = 30
_HEAD_MAX_BYTES = 16 << 20
_EXTRA = "__extra__"
#: Up to this many numeric columns are kept one array each (long and per-symbol files);
#: more (a wide file) as one float matrix.
_FEW_COLUMNS = 16
#: Bytes per block of the row-width scan.
_BLOCK = 1 << 22
#: Bodies up to this size are first tried as a clean file (:meth:`CsvTable._read_clean`).
_CLEAN_MAX_BYTES = 8 << 20
#: ... and up to this many cells (rows x (columns + 1)): pandas' C parser then reads the
#: body in one chunk (it takes about 2**20 / columns rows at a time, rounded down to a
#: power of two), for the clean reader as for the full one, so every column gets the
#: same type from both and hence the same numbers.
_CLEAN_MAX_CELLS = 1 << 19
#: The bytes a clean file's body may hold besides its separator (digits, signs, points,
#: exponents and line ends).
_CLEAN_BYTES = b"0123456789.+-eE\n"
#: Offsets of the digits and dashes of ``YYYY-MM-DD``.
_DATE_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9])
_DATE_DASHES = np.array([4, 7])

_PRICE_FIX = "use plain numbers (leave the cell empty when there is no price)"
_DATE_FIX = "write dates as YYYY-MM-DD"


def key(name: object) -> str:
    """A column name reduced to lowercase letters and digits (``"Adj. Close"`` -> ``adjclose``)."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def default_exchange(symbol: str) -> str | None:
    """The exchange the project maps ``symbol`` to (whole symbols first, then suffix)."""
    if symbol in EXCHANGE_BY_SYMBOL:
        return EXCHANGE_BY_SYMBOL[symbol]
    return EXCHANGE_BY_SUFFIX.get(suffix_of(symbol))


_KINDS = (
    (stat.S_ISFIFO, "named pipe"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISDIR, "folder"),
)


def open_regular(path: Path, symbol: str) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file at once.

    The file is opened non-blocking and checked on the open descriptor (``fstat``), so a
    named pipe never blocks and nothing can be swapped in between the check and the read.

    Raises
    ------
    DataError
        The file cannot be opened, or is a named pipe, device, socket or folder.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise DataError(
            symbol=symbol,
            detail=f"{path}: cannot read the file ({exc.strerror or exc})",
            fix="check the path and its permissions",
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
        raise DataError(
            symbol=symbol,
            detail=f"{path} is a {kind}, not a regular file",
            fix="give a regular CSV file (save the data to a file first)",
        )
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


@functools.lru_cache(maxsize=32)
def _exchange_zone(exchange: str) -> tuple[str, str]:
    """Time zone name and weekmask (``"1111100"``) of an exchange-calendars code."""
    import exchange_calendars as xc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            # zone and weekmask do not depend on the range: a short one is cheap to build
            cal = xc.get_calendar(exchange, start="2024-01-02", end="2024-01-31")
        except xc.errors.InvalidCalendarName:
            raise DataError(
                symbol=exchange,
                detail=f"unknown exchange code {exchange!r}",
                fix="use an exchange-calendars code such as XTKS or XNYS",
            ) from None
    return str(cal.tz), str(cal.weekmask)


# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class NumberColumn:
    """One price column as numbers.

    ``values`` holds the prices (``NaN`` where the cell is empty or unusable);
    ``problem`` is ``None`` when every cell is usable, else a code per row: 1 not a
    number, 2 not finite, 3 zero, 4 negative.
    """

    values: np.ndarray
    problem: np.ndarray | None


_PROBLEMS = {
    1: ("cannot read price {text!r}", _PRICE_FIX),
    2: ("price {text!r} is not finite", "use finite prices"),
    3: ("price {text!r} is zero", "prices must be positive; remove the row or fix the value"),
    4: ("price {text!r} is negative", "prices must be positive; remove the row or fix the value"),
}


@dataclass
class DateColumn:
    """The date column: one code per row into the distinct cell texts, parsed once.

    Attributes
    ----------
    codes : ndarray of int
        Per row, the index of its text in ``texts`` (``-1`` for an empty cell).
    texts : ndarray of str
        The distinct cell texts (stripped).
    fixed : ndarray of datetime64[ns]
        The date of each text when it does not depend on the exchange; ``NaT`` for the
        time stamps that must be converted (``instant``).
    utc : ndarray of datetime64[ns] or None
        The UTC instant of each text that must be converted (``NaT`` elsewhere);
        ``None`` when no text needs converting.
    """

    codes: np.ndarray
    texts: np.ndarray
    fixed: np.ndarray
    utc: np.ndarray | None
    _local: dict[str, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)

    def for_exchange(self, exchange: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Dates of every text on ``exchange``'s local calendar, and the texts that fall
        on days the exchange never trades (``None`` when there are none).

        ``exchange`` is only needed when some stamps must be converted; then ``None``
        raises in :meth:`CsvTable.dates_for`.
        """
        if self.utc is None:
            return self.fixed, None
        assert exchange is not None
        if exchange not in self._local:
            tz, weekmask = _exchange_zone(exchange)
            need = ~np.isnat(self.utc)
            local = (
                pd.DatetimeIndex(self.utc[need])
                .tz_localize("UTC")
                .tz_convert(tz)
                .tz_localize(None)
                .normalize()
                .as_unit("ns")
            )
            out = self.fixed.copy()
            out[need] = local.to_numpy()
            trades = np.array([c == "1" for c in weekmask])
            off = np.zeros(len(out), dtype=bool)
            off[need] = ~trades[np.asarray(local.day_of_week)]
            self._local[exchange] = (out, off if off.any() else None)
        return self._local[exchange]


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class _Body:
    """The body's cells: numeric columns as one float matrix, the others as Series."""

    rows: int
    numbers: dict[str, np.ndarray]  # header name -> float64 values of a numeric column
    others: dict[str, pd.Series]  # header name -> categorical or text column


@dataclass(frozen=True)
class _Head:
    """What the first lines tell: separator, header cells, where the body starts."""

    sep: str
    header: list[str]
    header_line: int  # 1-based physical line of the header
    body_offset: int  # byte offset of the first body line
    encoding: str


class CsvTable:
    """A price CSV parsed once: header, typed columns, dates, line-numbered errors.

    Parameters
    ----------
    path : Path
        The file (must be a regular file).
    symbol : str
        Names the series in error messages (the file's symbol, or ``"prices"``).

    Raises
    ------
    DataError
        No date column in the first 30 lines, duplicate column names, a row wider than
        the header, an unbalanced quote, or a file that is not a regular file.
    """

    def __init__(self, path: Path, symbol: str) -> None:
        self.path = path
        self.symbol = symbol
        with open_regular(path, symbol) as fh:
            try:
                head = self._read_head(fh, "utf-8")
            except UnicodeDecodeError:
                fh.seek(0)
                head = self._read_head(fh, "latin-1")
        self._head = head
        self.sep = head.sep
        self.header = head.header
        self.header_line = head.header_line
        self.keys = [key(h) for h in self.header]
        self._body: _Body | None = None
        self._pos: np.ndarray | None = None
        self._numbers: dict[str, NumberColumn] = {}
        self._dates: DateColumn | None = None

    @property
    def _columns(self) -> _Body:
        """The body, read on first use (the header alone answers layout questions)."""
        if self._body is None:
            clean = self._read_clean()
            if clean is not None:
                self._body, self._dates = clean
                return self._body
            if self._has_wide_row(self._head):
                raise self._wide_row_error(self._head, None)
            with open_regular(self.path, self.symbol) as fh:
                try:
                    frame = self._read_body(fh, self._head)
                except UnicodeDecodeError:
                    # the header lines were UTF-8, the body is not: read it as Latin-1
                    self._head = dataclasses.replace(self._head, encoding="latin-1")
                    frame = self._read_body(fh, self._head)
            self._body = self._split(frame)
        return self._body

    # ------------------------------------------------------------------ reading
    def _read_clean(self) -> tuple[_Body, DateColumn] | None:
        """The body and dates of a clean file in one cheap pass, or ``None``.

        A clean file is the common export (``Date,Open,High,Low,Close,Volume``): the
        date column first, every header cell named, no symbol column, at most 16 other
        columns; every body line a ``YYYY-MM-DD`` date then exactly one plain number per
        other column (bytes ``0-9 . + - e E`` and the separator only: no empty cell, no
        quote, no space, no carriage return, no blank line); the dates strictly
        increasing and inside the range a nanosecond index holds; a body of at most
        8 MB and 2**19 cells. Such a file holds none of the faults the full reader looks
        for (a wide or short row, an unbalanced quote, a missing-value token, a
        thousands separator, a blank row, an empty, unreadable, duplicated or
        out-of-range date, a time stamp), so its cells are taken directly: the numbers
        by the pandas C parser as the full reader reads them (the same values, bit for
        bit; a column that is not all numbers sends the file back), the dates from the
        bytes. Anything else returns ``None`` and the full reader runs, with every check
        and message; problems the clean reader cannot see (a zero or negative price, no
        prices) are found afterwards on its columns, as on the full reader's.
        """
        head = self._head
        n = len(head.header)
        if (
            n < 2
            or n - 1 > _FEW_COLUMNS
            or "" in head.header
            or self.keys[0] not in DATE_KEYS
            or any(k in SYMBOL_KEYS for k in self.keys)
        ):
            return None
        with open_regular(self.path, self.symbol) as fh:
            fh.seek(head.body_offset)
            body = fh.read(_CLEAN_MAX_BYTES + 1)
        if not body or len(body) > _CLEAN_MAX_BYTES:
            return None
        if not body.endswith(b"\n"):
            body += b"\n"
        sep = head.sep.encode()
        if body.translate(None, _CLEAN_BYTES + sep):
            return None  # a byte no plain number or date holds (a quote, a space, a letter)
        a = np.frombuffer(body, dtype=np.uint8)
        ends = np.flatnonzero(a == 10)
        if len(ends) > _CLEAN_MAX_CELLS // (n + 1):
            return None
        seps = np.flatnonzero(a == sep[0])
        if len(seps) != (n - 1) * len(ends):
            return None
        per_line = np.diff(np.searchsorted(seps, ends), prepend=0)
        if (per_line != n - 1).any():
            return None
        after = a[seps + 1]  # the body ends with a line end: never a separator
        if ((after == sep[0]) | (after == 10)).any():
            return None  # an empty cell (the first cell of a line is the date, below)
        starts = np.empty(len(ends), dtype=np.intp)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        # the first 11 bytes of every line: YYYY-MM-DD and the separator (a shorter line
        # holds its line end among them, which is none of these)
        first = np.concatenate([a, np.zeros(11, np.uint8)])[starts[:, None] + np.arange(11)]
        if not (
            ((first[:, _DATE_DIGITS] - 48) < 10).all()
            and (first[:, _DATE_DASHES] == 45).all()
            and (first[:, 10] == sep[0]).all()
        ):
            return None
        stamps = np.ascontiguousarray(first[:, :10]).view("S10").ravel()
        days = _iso_days(stamps)
        if days is None:
            return None
        if len(days) > 1 and not (days[1:] > days[:-1]).all():
            return None  # not strictly increasing: shuffled, descending or duplicated
        if days[0] < _FIRST_DAY.to_datetime64() or days[-1] > _LAST_DAY.to_datetime64():
            return None
        frame = pd.read_csv(
            io.BytesIO(body),
            sep=head.sep,
            header=None,
            names=range(n),
            usecols=range(1, n),
            index_col=False,
            na_filter=False,
            engine="c",
        )
        numbers: dict[str, np.ndarray] = {}
        for i, col in frame.items():
            if col.dtype not in (np.int64, np.float64):
                return None  # a cell that is not a number (1-2, a lone -)
            numbers[head.header[i]] = col.to_numpy(dtype="float64")
        texts = np.array([t.decode("ascii") for t in stamps.tolist()], dtype=object)
        codes = np.arange(len(texts), dtype=np.int32)
        body_ = _Body(
            rows=len(texts),
            numbers=numbers,
            others={head.header[0]: pd.Series(texts, dtype=object)},
        )
        dates = DateColumn(codes=codes, texts=texts, fixed=days.astype("datetime64[ns]"), utc=None)
        return body_, dates

    def _read_head(self, fh: BinaryIO, encoding: str) -> _Head:
        raw = b""
        while raw.count(b"\n") + raw.count(b"\r") <= 2 * _HEAD_LINES + 2:
            block = fh.read(1 << 16)
            if not block:
                break
            raw += block
            if len(raw) > _HEAD_MAX_BYTES:
                break
        bom = len(codecs.BOM_UTF8) if encoding == "utf-8" and raw.startswith(codecs.BOM_UTF8) else 0
        cut = max(raw.rfind(b"\n"), raw.rfind(b"\r"))
        if cut >= 0 and len(raw) < os.fstat(fh.fileno()).st_size:
            raw = raw[: cut + 1]  # whole lines only (a multi-byte character may be cut)
        text = raw[bom:].decode(encoding)
        # the first lines only (the block read may hold the whole file)
        found = ((m.start(), m.end()) for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n|$)", text))
        spans = list(itertools.islice((s for s in found if s[1] > s[0]), _HEAD_LINES + 2))
        lines = [text[a:b].rstrip("\r\n") for a, b in spans]

        header_at: int | None = None
        sep = ","
        for i, line in enumerate(lines[:_HEAD_LINES]):
            cand = max(_SEPARATORS, key=line.count)
            cells = [key(c) for c in next(csv.reader([line], delimiter=cand), [])]
            if any(c in DATE_KEYS for c in cells):
                header_at, sep = i, cand
                break
        unnamed_date = False
        if header_at is None and len(lines) >= 2:
            # a frame saved with an unnamed date index (pandas' to_csv): ",AAA,BBB"
            cand = max(_SEPARATORS, key=lines[0].count)
            head = next(csv.reader([lines[0]], delimiter=cand), None) or [""]
            first = (next(csv.reader([lines[1]], delimiter=cand), None) or [""])[0].strip()
            if key(head[0]) in ("", "unnamed0", "index") and re.match(
                r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$", first
            ):
                header_at, sep, unnamed_date = 0, cand, True
        if header_at is None:
            first_line = lines[0] if lines else ""
            raise DataError(
                symbol=self.symbol,
                detail=f"{self.path}: no date column in the header {first_line[:80]!r}",
                fix="name the first column Date (dates as YYYY-MM-DD)",
            )
        header = [c.strip() for c in next(csv.reader([lines[header_at]], delimiter=sep), [])]
        if unnamed_date:
            header = ["Date", *header[1:]]
        if len(set(header)) != len(header):
            dup = next(h for h in header if header.count(h) > 1)
            raise DataError(
                symbol=self.symbol,
                detail=f"{self.path}: column {dup!r} appears twice in the header",
                fix="give every column a distinct name",
            )
        end = spans[header_at][1]
        return _Head(
            sep=sep,
            header=header,
            header_line=header_at + 1,
            body_offset=bom + len(text[:end].encode(encoding)),
            encoding=encoding,
        )

    def _read_body(self, fh: BinaryIO, head: _Head) -> pd.DataFrame:
        n = len(head.header)
        names = [f"c{i}" for i in range(n)] + [_EXTRA]
        keys = [key(h) for h in head.header]
        date_i = next(i for i, k in enumerate(keys) if k in DATE_KEYS)
        has_price = any(k in CLOSE_KEYS or k in ADJ_KEYS for k in keys)
        sym_i = next((i for i, k in enumerate(keys) if k in SYMBOL_KEYS), None)
        categorical = {f"c{date_i}", _EXTRA}
        if has_price and sym_i is not None:
            categorical.add(f"c{sym_i}")
        na: list[str] | dict[str, list[str]] = _NA_TOKENS
        if has_price and sym_i is not None:
            na = {name: _NA_TOKENS for name in names}
            na[f"c{sym_i}"] = [""]  # a ticker may be spelt NA or NONE
        fh.seek(head.body_offset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = pd.read_csv(
                    fh,
                    sep=head.sep,
                    header=None,
                    names=names,
                    index_col=False,
                    dtype=dict.fromkeys(categorical, "category"),
                    keep_default_na=False,
                    na_values=na,
                    skip_blank_lines=False,
                    quotechar='"',
                    encoding=head.encoding,
                    engine="c",
                )
            except pd.errors.ParserError as exc:
                raise self._parser_error(head, str(exc)) from None
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            # pandas drops cells beyond the names when the FIRST row is too wide
            raise self._wide_row_error(head, None)
        return frame

    def _parser_error(self, head: _Head, message: str) -> DataError:
        text = " ".join(message.split()).removeprefix("Error tokenizing data. C error: ")
        m = re.search(r"Expected \d+ fields in line (\d+), saw (\d+)", text)
        if m:
            return self._wide_row_error(head, head.header_line + int(m.group(1)))
        m = re.search(r"EOF inside string starting at row (\d+)", text)
        if m:
            line = self._record_lines(head, [int(m.group(1))]).get(int(m.group(1)))
            where = f", line {line}" if line else ""
            return DataError(
                symbol=self.symbol,
                detail=f'{self.path}{where}: a quote (") opens a cell that is never closed',
                fix='close the quote or remove it (quote whole cells: "2,745.50")',
            )
        return DataError(
            symbol=self.symbol,
            detail=f"{self.path}: cannot parse the file ({text})",
            fix="save it as a plain CSV file with one header line",
        )

    def _has_wide_row(self, head: _Head) -> bool:
        """True when a body row has more cells than the header, counted exactly.

        pandas fills a short row's missing cells with the same value as an empty one, so
        it cannot tell ``3,624.00,`` (4 cells, the last empty) under a 3-column header
        from ``3624.00,`` (3 cells). The body is scanned in blocks: separators and line
        ends outside quotes are counted per line (vectorised). Quotes that do not sit at
        cell boundaries (``a""b`` inside a quoted cell, ``12"``) make the block scan
        unsure: then the csv module counts the cells of every record instead.
        """
        n = len(head.header)
        sep = ord(head.sep)
        carry = 0  # separators of the line that runs into the next block
        parity = 0  # inside a quoted cell at the end of the previous block
        prev = 10  # the byte before the block (a line end at the start of the body)
        leftover = b""
        with open_regular(self.path, self.symbol) as fh:
            fh.seek(head.body_offset)
            while True:
                block = fh.read(_BLOCK)
                data = leftover + block
                if not data:
                    return False
                last = not block
                if not last:  # keep one byte back: a quote's next byte must be known
                    data, leftover = data[:-1], data[-1:]
                a = np.frombuffer(data, dtype=np.uint8)
                if len(a) == 0:
                    if last:
                        return False
                    continue
                line_end = (a == 10) | (a == 13) if b"\r" in data else a == 10
                at_sep = a == sep
                if parity or b'"' in data:
                    quote = a == 34
                    before = np.concatenate([[prev], a[:-1]])
                    after = np.concatenate([a[1:], [leftover[0] if leftover else 10]])
                    edge = (before == sep) | (before == 10) | (before == 13) | (before == 34)
                    edge_after = (after == sep) | (after == 10) | (after == 13) | (after == 34)
                    ordinal = np.cumsum(quote) + parity  # this quote included
                    opening = quote & (ordinal % 2 == 1)
                    closing = quote & (ordinal % 2 == 0)
                    if not (edge[opening].all() and edge_after[closing].all()):
                        # a quote inside a cell (12"): pandas reads it as text
                        return self._has_wide_record(head)
                    inside = (ordinal % 2).astype(bool)
                    parity = int((parity + quote.sum()) % 2)
                    line_end &= ~inside
                    at_sep &= ~inside
                # separators per line: how many separators lie before each line end
                seps = np.flatnonzero(at_sep)
                ends = np.flatnonzero(line_end)
                before_end = np.searchsorted(seps, ends)
                if len(ends):
                    per_line = np.diff(before_end, prepend=0)
                    per_line[0] += carry
                    if per_line.max() >= n:
                        return True
                    carry = len(seps) - int(before_end[-1])
                else:
                    carry += len(seps)
                if carry >= n:
                    return True
                prev = int(a[-1])
                if last:
                    return False

    def _has_wide_record(self, head: _Head) -> bool:
        n = len(head.header)
        return any(len(cells) > n for _rec, _line, cells in self._records(head))

    def _wide_row_error(self, head: _Head, fallback_line: int | None) -> DataError:
        """The first row with more non-empty cells than the header (a streaming pass)."""
        n = len(head.header)
        for _rec, line, cells in self._records(head):
            if len(cells) > n:
                return self._wide_error(head, line, cells)
        return self._wide_error(head, fallback_line, [])  # pragma: no cover - csv agrees

    def _wide_error(self, head: _Head, line: int | None, cells: list[str]) -> DataError:
        n = len(head.header)
        named = sum(1 for h in head.header if h)
        where = f", line {line}" if line is not None else ""
        shown = f" {head.sep.join(cells)[:80]!r}" if cells else " a row"
        count = f"{len(cells)} cells" if cells else "more cells"
        has = f"has {n}" if named == n else f"names {named}"
        return DataError(
            symbol=self.symbol,
            detail=(
                f"{self.path}{where}:{shown} has {count} but the header {has} "
                f"({head.sep.join(head.header)[:60]!r})"
            ),
            fix=(
                'quote a number that has a thousands separator ("3,624.00") or write it '
                "without one (3624.00), and remove any extra separator"
            ),
        )

    # ------------------------------------------------------------------ records and lines
    def _records(self, head: _Head | None = None) -> Iterator[tuple[int, int, list[str]]]:
        """Stream the body again: (record index, first physical line, cells)."""
        head = head or self._head
        with open_regular(self.path, self.symbol) as fh:
            fh.seek(head.body_offset)
            text = io.TextIOWrapper(fh, encoding=head.encoding, errors="replace", newline="")
            reader = csv.reader(text, delimiter=head.sep)
            prev = 0
            try:
                for rec, cells in enumerate(reader):
                    yield rec, head.header_line + prev + 1, cells
                    prev = reader.line_num
            except csv.Error:  # pragma: no cover - only for input pandas already refused
                return

    def _record_lines(self, head: _Head, records: list[int]) -> dict[int, int]:
        wanted = set(records)
        out: dict[int, int] = {}
        if not wanted:
            return out
        last = max(wanted)
        for rec, line, _ in self._records(head):
            if rec in wanted:
                out[rec] = line
            if rec >= last:
                break
        return out

    def lines(self, rows: np.ndarray | list[int]) -> list[int]:
        """Physical line numbers of table rows (a streaming pass; for messages only)."""
        recs = [int(self._pos[r]) if self._pos is not None else int(r) for r in rows]
        found = self._record_lines(self._head, recs)
        return [found.get(r, self.header_line + 1 + r) for r in recs]

    def cell(self, row: int, column: str) -> tuple[int, str]:
        """Line number and raw (stripped) text of one cell, read back from the file."""
        rec = int(self._pos[row]) if self._pos is not None else int(row)
        col = self.header.index(column)
        for r, line, cells in self._records():
            if r == rec:
                return line, (cells[col].strip() if col < len(cells) else "")
            if r > rec:
                break
        return self.header_line + 1 + rec, ""  # pragma: no cover - pandas and csv agree

    def error(self, row: int | None, column: str, detail: str, fix: str, symbol: str) -> DataError:
        """A :class:`DataError` naming the file, the line of ``row`` and ``column``."""
        where = f"{self.path}"
        if row is not None:
            where += f", line {self.lines([row])[0]}"
        where += f", column {column!r}"
        return DataError(symbol=symbol, detail=f"{where}: {detail}", fix=fix)

    # ------------------------------------------------------------------ rows
    def _split(self, frame: pd.DataFrame) -> _Body:
        """Refuse a row wider than the header, forget blank rows (every cell empty), and
        keep the numeric columns as one float matrix (a column is a contiguous slice)."""
        # a cell beyond the header (even an empty one: a shifted row may end with the
        # empty cell it pushed out), or a value under a column the header leaves unnamed
        extra = frame[_EXTRA].notna().to_numpy().copy()
        for name, head in zip(frame.columns[:-1], self.header, strict=True):
            if head == "":
                extra |= _present(frame[name])
        if extra.any():
            row = int(np.flatnonzero(extra)[0])
            for rec, line, cells in self._records():
                if rec == row:
                    raise self._wide_error(self._head, line, cells)
            raise self._wide_error(self._head, self.header_line + 1 + row, [])  # pragma: no cover
        names = list(frame.columns[:-1])
        dtypes = frame.dtypes
        numeric = [
            (name, head)
            for name, head in zip(names, self.header, strict=True)
            if pd.api.types.is_numeric_dtype(dtypes[name])
            and not pd.api.types.is_bool_dtype(dtypes[name])
        ]
        numeric_names = {name for name, _ in numeric}
        others = {
            head: frame[name]
            for name, head in zip(names, self.header, strict=True)
            if name not in numeric_names
        }
        present = np.zeros(len(extra), dtype=bool)
        if len(numeric) > _FEW_COLUMNS:
            # a wide file: one float matrix, each column a contiguous (Fortran) slice
            matrix = np.asfortranarray(
                frame[[name for name, _ in numeric]].to_numpy(dtype="float64", na_value=np.nan)
            )
            del frame
            present |= ~np.isnan(matrix).all(axis=1)
            arrays = {head: matrix[:, j] for j, (_, head) in enumerate(numeric)}
        else:
            # a long or per-symbol file: column by column (no second copy of a big file)
            arrays = {
                head: frame[name].to_numpy(dtype="float64", na_value=np.nan)
                for name, head in numeric
            }
            del frame
            for vals in arrays.values():
                present |= ~np.isnan(vals)
        for col in others.values():
            present |= _present(col)
        if not present.all():
            self._pos = np.flatnonzero(present)
            arrays = {h: v[self._pos] for h, v in arrays.items()}
            others = {h: c.take(self._pos).reset_index(drop=True) for h, c in others.items()}
        if self.header and self.header[-1] == "":
            self._check_split_numbers(arrays, others)
        return _Body(rows=int(present.sum()), numbers=arrays, others=others)

    def _check_split_numbers(
        self, arrays: dict[str, np.ndarray], others: dict[str, pd.Series]
    ) -> None:
        """A header ending with a separator hides an overflow whose last cell is empty:
        refuse neighbouring cells that read as one number split by an unquoted thousands
        separator (an integer 1..999, then a number in [100, 1000))."""
        named = [h for h in self.header if h]
        values: dict[str, np.ndarray] = {}
        for h in named:
            if h in arrays:
                values[h] = arrays[h]
            elif not isinstance(others[h].dtype, pd.CategoricalDtype):
                values[h] = _careful_numbers(others[h], self.sep)[0]
        for left, right in itertools.pairwise(named):
            if left not in values or right not in values:
                continue
            a, b = values[left], values[right]
            with np.errstate(invalid="ignore"):
                split = (np.abs(a) >= 1) & (np.abs(a) <= 999) & (a == np.round(a))
                split &= (b >= 100) & (b < 1000)
            if split.any():
                row = int(np.flatnonzero(split)[0])
                line = self.lines([row])[0]
                raise DataError(
                    symbol=self.symbol,
                    detail=(
                        f"{self.path}, line {line}: columns {left!r} and {right!r} hold "
                        f"{a[row]:g} and {b[row]:g}, which may be one number split by an "
                        "unquoted thousands separator (the header ends with a separator, "
                        "so a shifted row cannot be told by its number of cells)"
                    ),
                    fix=(
                        'quote numbers that have a thousands separator ("3,624.00"), or '
                        "remove the separator at the end of the header line"
                    ),
                )

    def __len__(self) -> int:
        return self._columns.rows

    def find(self, keys: frozenset[str] | set[str]) -> str | None:
        """The first column whose :func:`key` is in ``keys``."""
        for name, k in zip(self.header, self.keys, strict=True):
            if k in keys:
                return name
        return None

    def _series(self, column: str) -> pd.Series:
        body = self._columns
        if column in body.numbers:
            return pd.Series(body.numbers[column])
        return body.others[column]

    def text(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """A text column as (codes per row, distinct stripped texts); code -1 = empty."""
        col = self._series(column)
        if not isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(str).where(col.notna()).astype("category")
        cats = pd.Index(col.cat.categories.astype(str)).str.strip()
        codes = col.cat.codes.to_numpy()
        uniq, inverse = np.unique(np.asarray(cats, dtype=object), return_inverse=True)
        remap = np.append(inverse, -1).astype(np.int32)
        codes = remap[codes.astype(np.int64)]
        return _drop_texts(codes, uniq, uniq == "")

    # ------------------------------------------------------------------ prices
    def numbers(self, column: str, *, volume: bool = False) -> NumberColumn:
        """A price column as numbers with a problem code per unusable cell.

        With ``volume=True`` zero is allowed (a day without trades).
        """
        memo = f"{column}\x00{volume}"
        if memo in self._numbers:
            return self._numbers[memo]
        body = self._columns
        problem: np.ndarray | None = None
        if column in body.numbers:
            values = body.numbers[column]
        else:
            values, problem = _careful_numbers(body.others[column], self.sep)
        with np.errstate(invalid="ignore"):
            codes = np.zeros(len(values), dtype=np.int8)
            codes[values < 0] = 4
            if not volume:
                codes[values == 0] = 3
            codes[np.isinf(values)] = 2
        if problem is not None:
            codes = np.where(problem, np.int8(1), codes)
        bad = codes != 0
        if bad.any():
            values = np.where(bad, np.nan, values)
            out = NumberColumn(values=values, problem=codes)
        else:
            out = NumberColumn(values=values, problem=None)
        self._numbers[memo] = out
        return out

    def loose_numbers(self, column: str) -> np.ndarray:
        """An extra column (open, high, low, volume) read leniently: unreadable -> NaN."""
        body = self._columns
        if column in body.numbers:
            return body.numbers[column]
        text, _ = _stripped(body.others[column])
        text = text.str.replace(",", "", regex=False)
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def price_error(self, row: int, column: str, code: int, symbol: str) -> DataError:
        """The error of one unusable price cell (text read back from the file)."""
        line, text = self.cell(row, column)
        detail, fix = _PROBLEMS[int(code)]
        return DataError(
            symbol=symbol,
            detail=f"{self.path}, line {line}, column {column!r}: {detail.format(text=text)}",
            fix=fix,
        )

    # ------------------------------------------------------------------ dates
    @property
    def date_column(self) -> str:
        """The date column's name (the first whose key is a date key)."""
        name = self.find(DATE_KEYS)
        assert name is not None  # the header was found by its date column
        return name

    def dates(self, symbol: str | None = None) -> DateColumn:
        """The date column parsed (once).

        Raises
        ------
        DataError
            An empty, unreadable, out-of-range or ambiguous date, or a file mixing dates
            with and without a time zone (named for ``symbol``).
        """
        if self._dates is None:
            _ = self._columns  # a clean file's dates come with its body
        if self._dates is None:
            self._dates = self._parse_dates(symbol or self.symbol)
        return self._dates

    def dates_for(self, symbol: str, exchange: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per distinct date text: its date for ``symbol`` on ``exchange``, and which
        texts fall on days the exchange never trades (see :class:`DateColumn`).

        Raises
        ------
        DataError
            Time stamps must be converted and ``exchange`` is ``None`` (or unknown).
        """
        dc = self.dates(symbol)
        if dc.utc is not None and exchange is None:
            k = int(np.flatnonzero(~np.isnat(dc.utc))[0])
            raise self.error(
                self._first_row(dc.codes, k),
                self.date_column,
                f"time stamp {dc.texts[k]!r} needs the exchange's time zone to give a date, "
                f"and the exchange of {symbol} is not known",
                "write dates as YYYY-MM-DD in the exchange's local time, or name the "
                f"exchange (CsvSource(path, exchanges={{{symbol!r}: 'XTKS'}}))",
                symbol,
            )
        return dc.for_exchange(exchange)

    def off_day_error(
        self, row: int, symbol: str, exchange: str, local: np.datetime64
    ) -> DataError:
        """A converted time stamp that lands on a day ``exchange`` never trades."""
        dc = self.dates(symbol)
        text = dc.texts[dc.codes[row]]
        day = pd.Timestamp(local)
        tz, _ = _exchange_zone(exchange)
        return self.error(
            row,
            self.date_column,
            f"time stamp {text!r} is {day:%A %Y-%m-%d} in {exchange} local time ({tz}), "
            "a day it never trades: the stamps are not in the zone they claim",
            f"write dates as YYYY-MM-DD, or give {symbol}'s exchange if it is not {exchange} "
            f"(CsvSource(path, exchanges={{{symbol!r}: CODE}}))",
            symbol,
        )

    @staticmethod
    def _first_row(codes: np.ndarray, k: int) -> int:
        return int(np.flatnonzero(codes == k)[0])

    def _parse_dates(self, symbol: str) -> DateColumn:
        column = self.date_column
        codes, texts = self.text(column)
        # the common case first: every text a plain YYYY-MM-DD date (then none is a
        # missing-value token)
        all_plain = _all_match(texts, _PLAIN_DATE)
        if not all_plain:
            lowered = np.array([t.lower() for t in texts], dtype=object)
            empty_text = np.isin(lowered, list(MISSING)) if len(texts) else np.zeros(0, bool)
            codes, texts = _drop_texts(codes, texts, empty_text)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise self.error(
                row, column, "empty date", "give every row a date (YYYY-MM-DD)", symbol
            )
        plain = pd.Series(texts, dtype=object)
        if all_plain or (len(texts) and plain.str.fullmatch(_PLAIN_DATE).all()):
            # the common case, plain YYYY-MM-DD dates: no time, no zone
            base = pd.to_datetime(plain, format="%Y-%m-%d", errors="coerce")
            if base.isna().any():
                k = int(np.flatnonzero(base.isna().to_numpy())[0])
                raise self.error(
                    self._first_row(codes, k),
                    column,
                    f"cannot read date {texts[k]!r}",
                    "use real calendar dates as YYYY-MM-DD",
                    symbol,
                )
            self._check_range(base, np.arange(len(texts)), codes, texts, symbol)
            fixed = base.to_numpy(dtype="datetime64[ns]")
            return DateColumn(codes=codes, texts=texts, fixed=fixed, utc=None)
        iso = plain.str.extract(_ISO)
        if len(texts) == 0 or not iso["date"].notna().all():
            fixed = self._parse_other_dates(codes, texts, iso["date"].notna().to_numpy(), symbol)
            return DateColumn(codes=codes, texts=texts, fixed=fixed, utc=None)
        base = pd.to_datetime(iso["date"], format="%Y-%m-%d", errors="coerce")
        part = {p: pd.to_numeric(iso[p], errors="coerce").fillna(0) for p in ("hh", "mm", "ss")}
        frac = pd.to_numeric("0." + iso["frac"].fillna("0"), errors="coerce")
        zone = iso["zone"]
        offset_min = zone.map(_zone_minutes)
        bad = base.isna() | (part["hh"] > 23) | (part["mm"] > 59) | (part["ss"] > 59)
        bad |= zone.notna() & offset_min.isna()
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise self.error(
                self._first_row(codes, k),
                column,
                f"cannot read date {texts[k]!r}",
                "use real calendar dates as YYYY-MM-DD (times as hh:mm:ss+hh:mm)",
                symbol,
            )
        self._check_range(base, np.arange(len(texts)), codes, texts, symbol)
        stamped = zone.notna().to_numpy()
        if stamped.any() and not stamped.all():
            first = bool(stamped[codes[0]])
            row = int(np.flatnonzero(stamped[codes] != first)[0])
            raise self.error(
                row,
                column,
                f"date {texts[codes[row]]!r} {'has no' if first else 'has a'} time zone but "
                f"the first date {texts[codes[0]]!r} {'has one' if first else 'has none'}",
                "give every date the same form: all plain dates YYYY-MM-DD, or all time "
                "stamps with their offset",
                symbol,
            )
        seconds = (part["hh"] * 3600 + part["mm"] * 60 + part["ss"] + frac).to_numpy()
        # a stamp at midnight of its own offset is a date labelled with a zone (pandas,
        # yfinance): its date is kept; any other stamp is an instant, converted later
        instant = stamped & (seconds > 0)
        fixed = base.to_numpy(dtype="datetime64[ns]").copy()
        utc: np.ndarray | None = None
        if instant.any():
            local = base + pd.to_timedelta(seconds, unit="s")
            at = local - pd.to_timedelta(offset_min.fillna(0.0), unit="min")
            utc = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]")
            utc[instant] = at.to_numpy(dtype="datetime64[ns]")[instant]
            fixed[instant] = np.datetime64("NaT")
        return DateColumn(codes=codes, texts=texts, fixed=fixed, utc=utc)

    def _check_range(
        self,
        parsed: pd.Series,
        which: np.ndarray,
        codes: np.ndarray,
        texts: np.ndarray,
        symbol: str,
    ) -> None:
        """Refuse dates a nanosecond index cannot hold (``parsed[j]`` is ``texts[which[j]]``)."""
        out = ((parsed < _FIRST_DAY) | (parsed > _LAST_DAY)).to_numpy()
        if out.any():
            k = int(which[np.flatnonzero(out)[0]])
            raise self.error(
                self._first_row(codes, k),
                self.date_column,
                f"date {texts[k]!r} is out of range",
                f"use dates between {_FIRST_DAY.date()} and {_LAST_DAY.date()} (YYYY-MM-DD)",
                symbol,
            )

    def _parse_other_dates(
        self, codes: np.ndarray, texts: np.ndarray, iso: np.ndarray, symbol: str
    ) -> np.ndarray:
        """Day-first/month-first formats; the texts are judged in order of first appearance."""
        column = self.date_column
        order = pd.unique(codes)  # distinct texts in the order the rows show them
        raw = pd.Series(texts[order], dtype=object)
        candidates: list[tuple[int, str, pd.Series]] = []
        for fmt in DATE_FORMATS:
            parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
            candidates.append((int(parsed.isna().sum()), fmt, parsed))
        full = [c for c in candidates if c[0] == 0]
        if not full:
            _nbad, _fmt, parsed = min(candidates, key=lambda c: c[0])
            # report the first row no format reads, or the first failure of the best one
            j = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            iso_o = iso[order]
            if iso_o.sum() > len(iso_o) // 2 and (~iso_o).any():
                j = int(np.flatnonzero(~iso_o)[0])
            k = int(order[j])
            hint = (
                "write dates as YYYY-MM-DD (time stamps as YYYY-MM-DD hh:mm:ss+hh:mm)"
                if _ISO_LIKE.match(texts[k])
                else _DATE_FIX
            )
            raise self.error(
                self._first_row(codes, k), column, f"cannot read date {texts[k]!r}", hint, symbol
            )
        distinct = {tuple(p.to_numpy()) for _, _, p in full}
        if len(distinct) > 1:
            monotone = [
                c for c in full if c[2].is_monotonic_increasing or c[2].is_monotonic_decreasing
            ]
            gaps = sorted(
                (float(np.median(np.abs(np.diff(p.to_numpy()) / np.timedelta64(1, "D")))), f, p)
                for _, f, p in monotone
                if len(p) > 1
            )
            if len({tuple(p.to_numpy()) for _, _, p in monotone}) == 1:
                full = monotone
            elif len(gaps) >= 2 and gaps[0][0] < gaps[1][0] and gaps[0][0] <= 7:
                # daily prices: the reading with day-sized steps is the right one
                full = [(0, gaps[0][1], gaps[0][2])]
            else:
                fmts = " or ".join(f for _, f, _ in full)
                raise self.error(
                    None,
                    column,
                    f"dates such as {texts[order[0]]!r} are ambiguous ({fmts})",
                    _DATE_FIX,
                    symbol,
                )
        chosen = full[0][2]
        self._check_range(chosen, order, codes, texts, symbol)
        out = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]")
        out[order] = chosen.to_numpy(dtype="datetime64[ns]")
        return out


_FIRST_DAY = pd.Timestamp("1678-01-01")
_LAST_DAY = pd.Timestamp("2261-12-31")


def _iso_days(stamps: np.ndarray) -> np.ndarray | None:
    """``YYYY-MM-DD`` dates (an ``S10`` array of ASCII digits and dashes) as
    ``datetime64[D]``, or ``None`` when one is no calendar date (``2023-02-30``).

    Cast through text (``U10``): numpy 1.26 crashes (a segmentation fault, not a
    ``ValueError``) casting an impossible date held as bytes straight to ``datetime64``.
    """
    try:
        return stamps.astype("U10").astype("datetime64[D]")
    except ValueError:
        return None


def _all_match(texts: np.ndarray, pattern: str) -> bool:
    """Whether every text matches ``pattern`` whole (``re.fullmatch``), in one pass of the
    regex engine over the texts joined by line ends; ``False`` for no texts, or when a text
    holds a line end itself (the caller then judges the texts one by one)."""
    if not len(texts):
        return False
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        return False
    return _joined_pattern(pattern).fullmatch(joined) is not None


@functools.cache
def _joined_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:(?:{pattern})\n)*(?:{pattern})")


def _drop_texts(
    codes: np.ndarray, texts: np.ndarray, dead: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Remove the ``dead`` texts; rows that pointed at one get code -1 (empty)."""
    if not dead.any():
        return codes, texts
    new = np.cumsum(~dead) - 1
    new[dead] = -1
    new = np.append(new, -1).astype(np.int32)  # code -1 stays -1
    return new[codes], texts[~dead]


def _zone_minutes(zone: object) -> float:
    """UTC offset in minutes of ``Z``/``UTC``/``GMT``/``+hh[:mm]`` (NaN if impossible)."""
    if not isinstance(zone, str):
        return np.nan
    if zone in ("Z", "UTC", "GMT"):
        return 0.0
    sign = -1.0 if zone[0] == "-" else 1.0
    digits = zone[1:].replace(":", "")
    hh, mm = int(digits[:2]), int(digits[2:] or 0)
    if hh > 18 or mm > 59:
        return np.nan
    return sign * (hh * 60 + mm)


def _stripped(col: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A text (or mixed) column as stripped strings ("" where empty) and its not-NA mask."""
    notna = col.notna().to_numpy()
    text = pd.Series(col.astype(str).to_numpy(dtype=object), dtype=object)
    text = text.where(notna, "").str.strip()
    return text, notna


def _present(col: pd.Series) -> np.ndarray:
    """Cells that hold something (not NaN, not only spaces)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = pd.Index(col.cat.categories.astype(str)).str.strip()
        keep = np.append(np.asarray(cats != ""), False)
        return keep[col.cat.codes.to_numpy().astype(np.int64)]
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.notna().to_numpy()
    text, notna = _stripped(col)
    return notna & (text != "").to_numpy()


def _careful_numbers(col: pd.Series, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Prices from a text column: spaces, quoted thousands, decimal commas, missing tokens.

    Returns the values (NaN for missing or unreadable cells) and the mask of unreadable
    cells.
    """
    s, _ = _stripped(col)
    missing = s.str.lower().isin(MISSING)
    t = s.str.replace(" ", "", regex=False).str.replace("\u00a0", "", regex=False)
    thousands = t.str.fullmatch(_THOUSANDS)
    t = t.where(~thousands, t.str.replace(",", "", regex=False))
    if sep == ";":
        decimal = t.str.fullmatch(_DECIMAL_COMMA)
        t = t.where(~decimal, t.str.replace(",", ".", regex=False))
    values = pd.to_numeric(t.where(~missing, None), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    # anything to_numeric could not read (or read as NaN: "-nan") and that is not a
    # missing token is unreadable
    unreadable = np.isnan(values) & ~missing.to_numpy()
    return values, unreadable
