"""``CsvSource``: prices from a folder of per-symbol CSV files or from one CSV file.

Accepted layouts
----------------
* a **folder** with one file per symbol, named ``<symbol>.csv`` (e.g. ``7203.T.csv``,
  ``^N225.csv``), each with a date column plus ``Close`` and/or ``Adj Close``;
* one **wide** CSV: a date column and one column of (adjusted) closes per symbol, the
  usual shape of a Bloomberg or Refinitiv export;
* one **long** CSV: date, symbol (``Symbol``/``Ticker``/``RIC``) and price columns;
* one per-symbol CSV given directly (its symbol is the file name without ``.csv``).

Column names are matched ignoring case, spaces and punctuation: ``Date``, ``Dates``,
``Exchange Date``, ``Close``, ``PX_LAST``, ``TRDPRC_1``, ``Adj Close``, ``adj_close``,
``Adjusted Close`` ... Delimiters ``,``, ``;``, tab and ``|`` are detected, as are
thousands separators, decimal commas (with ``;``) and metadata lines above the header.

Every problem is one line naming the file, the line, the column, the value and the fix
(:class:`~eventstudy.exceptions.DataError`). Rows in descending or shuffled order are
sorted silently; duplicate dates are an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.sources import check_splits, finalize_prices, make_provenance, to_timestamp
from eventstudy.exceptions import DataError, UnknownSymbol

__all__ = ["CsvSource", "read_price_csv"]

_DATE_KEYS = {
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
_CLOSE_KEYS = {
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
_ADJ_KEYS = {
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
_SYMBOL_KEYS = {"symbol", "ticker", "ric", "security", "instrument", "code"}
_OTHER_PRICE_KEYS = {
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
_MISSING = {"", "null", "nan", "na", "n/a", "#n/a", "#n/a n/a", "-", "none", "#value!"}
_DATE_FORMATS = (
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
_ISO_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def _key(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _fmt_path(path: Path) -> str:
    return str(path)


class _Table:
    """A CSV read as strings, with the line number of every row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            text = path.read_text(encoding="latin-1")
        except OSError as exc:
            raise DataError(
                symbol=path.stem,
                detail=f"{path}: cannot read the file ({exc.strerror or exc})",
                fix="check the path and its permissions",
            ) from None
        lines = text.splitlines()
        # header: the first line (within the first 30) that names a date column
        header_at = None
        sep = ","
        for i, line in enumerate(lines[:30]):
            cand = max((",", ";", "\t", "|"), key=line.count)
            cells = [_key(c) for c in next(csv.reader([line], delimiter=cand), [])]
            if any(c in _DATE_KEYS for c in cells):
                header_at, sep = i, cand
                break
        unnamed_date = False
        if header_at is None and len(lines) >= 2:
            # a frame saved with an unnamed date index (pandas' to_csv): ",AAA,BBB"
            cand = max((",", ";", "\t", "|"), key=lines[0].count)
            # an empty line parses as [] (not as [""]): fall back to one empty cell
            head = next(csv.reader([lines[0]], delimiter=cand), None) or [""]
            first_cell = (next(csv.reader([lines[1]], delimiter=cand), None) or [""])[0].strip()
            if _key(head[0]) in ("", "unnamed0", "index") and re.match(
                r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$", first_cell
            ):
                header_at, sep, unnamed_date = 0, cand, True
        if header_at is None:
            first = lines[0] if lines else ""
            raise DataError(
                symbol=path.stem,
                detail=f"{path}: no date column in the header {first[:80]!r}",
                fix="name the first column Date (dates as YYYY-MM-DD)",
            )
        self.sep = sep
        self.header_line = header_at + 1
        rows = list(csv.reader(io.StringIO("\n".join(lines[header_at:])), delimiter=sep))
        header = [c.strip() for c in rows[0]] if rows else []
        if unnamed_date:
            header = ["Date", *header[1:]]
        body: list[list[str]] = []
        line_no: list[int] = []
        for j, row in enumerate(rows[1:], start=header_at + 2):
            if not row or all(not c.strip() for c in row):
                continue
            row = [c.strip() for c in row]
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            body.append(row[: len(header)])
            line_no.append(j)
        if len(set(header)) != len(header):
            dup = next(h for h in header if header.count(h) > 1)
            raise DataError(
                symbol=path.stem,
                detail=f"{path}: column {dup!r} appears twice in the header",
                fix="give every column a distinct name",
            )
        self.header = header
        self.keys = [_key(h) for h in header]
        self.frame = pd.DataFrame(body, columns=header, dtype=object)
        self.lines = np.asarray(line_no, dtype=int)

    def find(self, keys: set[str]) -> str | None:
        for name, key in zip(self.header, self.keys, strict=True):
            if key in keys:
                return name
        return None

    def error(self, row: int | None, column: str, detail: str, fix: str, symbol: str) -> DataError:
        where = f"{self.path}"
        if row is not None:
            where += f", line {int(self.lines[row])}"
        where += f", column {column!r}"
        return DataError(symbol=symbol, detail=f"{where}: {detail}", fix=fix)


def _parse_dates(table: _Table, column: str, symbol: str) -> pd.DatetimeIndex:
    raw = table.frame[column].astype(str).str.strip()
    empty = raw.str.lower().isin(_MISSING)
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise table.error(i, column, "empty date", "give every row a date (YYYY-MM-DD)", symbol)
    iso = raw.str.extract(_ISO_PREFIX, expand=False)
    if iso.notna().all():
        parsed = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise table.error(
                i,
                column,
                f"cannot read date {raw.iloc[i]!r}",
                "use real calendar dates as YYYY-MM-DD",
                symbol,
            )
        return pd.DatetimeIndex(parsed)
    candidates: list[tuple[int, str, pd.Series]] = []
    for fmt in _DATE_FORMATS:
        parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
        candidates.append((int(parsed.isna().sum()), fmt, parsed))
    full = [c for c in candidates if c[0] == 0]
    if not full:
        _nbad, _fmt, parsed = min(candidates, key=lambda c: c[0])
        # report the first row no format reads, or the first failure of the best one
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        if iso.notna().sum() > len(raw) // 2:
            i = int(np.flatnonzero(iso.isna().to_numpy())[0])
        raise table.error(
            i, column, f"cannot read date {raw.iloc[i]!r}", "write dates as YYYY-MM-DD", symbol
        )
    distinct = {tuple(p.to_numpy()) for _, _, p in full}
    if len(distinct) > 1:
        monotone = [c for c in full if c[2].is_monotonic_increasing or c[2].is_monotonic_decreasing]
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
            raise table.error(
                None,
                column,
                f"dates such as {raw.iloc[0]!r} are ambiguous ({fmts})",
                "write dates as YYYY-MM-DD",
                symbol,
            )
    return pd.DatetimeIndex(full[0][2])


def _parse_prices(
    table: _Table, column: str, symbol: str, rows: np.ndarray | None = None
) -> np.ndarray:
    raw = table.frame[column].astype(str).str.strip().to_numpy()
    sel = np.arange(len(raw)) if rows is None else rows
    out = np.full(len(sel), np.nan)
    for k, i in enumerate(sel.tolist()):
        text = raw[i]
        if text.lower() in _MISSING:
            continue
        t = text.replace(" ", "").replace("\u00a0", "")
        if _THOUSANDS.match(t):
            t = t.replace(",", "")
        elif table.sep == ";" and _DECIMAL_COMMA.match(t):
            t = t.replace(",", ".")
        try:
            v = float(t)
        except ValueError:
            raise table.error(
                i,
                column,
                f"cannot read price {text!r}",
                "use plain numbers (leave the cell empty when there is no price)",
                symbol,
            ) from None
        if not np.isfinite(v):
            raise table.error(
                i, column, f"price {text!r} is not finite", "use finite prices", symbol
            )
        if v <= 0:
            raise table.error(
                i,
                column,
                f"price {text!r} is {'zero' if v == 0 else 'negative'}",
                "prices must be positive; remove the row or fix the value",
                symbol,
            )
        out[k] = v
    return out


def _series_frame(
    table: _Table,
    dates: pd.DatetimeIndex,
    columns: dict[str, str],
    symbol: str,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build the price frame of one symbol from ``table`` (optionally a subset of rows)."""
    sel = np.arange(len(table.frame)) if rows is None else rows
    data = {}
    for target, col in columns.items():
        data[target] = _parse_prices(table, col, symbol, sel)
    df = pd.DataFrame(data, index=dates[sel])
    has_price = np.zeros(len(df), dtype=bool)
    for target in columns:
        has_price |= ~np.isnan(df[target].to_numpy())
    keep = has_price
    df = df[keep]
    lines = table.lines[sel][keep]
    if len(df) == 0:
        col = next(iter(columns.values()))
        raise DataError(
            symbol=symbol,
            detail=f"{table.path}, column {col!r}: no prices",
            fix="check the file holds this symbol's closes",
        )
    dup = df.index.duplicated(keep=False)
    if dup.any():
        where = np.flatnonzero(dup)
        first = df.index[where[0]]
        same = [int(lines[k]) for k in where if df.index[k] == first]
        raise DataError(
            symbol=symbol,
            detail=(
                f"{table.path}, lines {', '.join(map(str, same))}, column "
                f"{table.frame.columns[0]!r}: duplicate date {first.date()}"
            ),
            fix="keep one row per date",
        )
    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="stable")
    return df


def read_price_csv(path: str | Path, symbol: str | None = None) -> pd.DataFrame:
    """Read one per-symbol CSV (date plus ``Close`` and/or ``Adj Close``).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    symbol : str, optional
        Symbol for messages and provenance; defaults to the file name without ``.csv``.

    Returns
    -------
    DataFrame
        Columns ``close``, ``adj_close`` (plus ``open``, ``high``, ``low``, ``volume``
        when present), sorted by date; no provenance.

    Raises
    ------
    DataError
        One line naming the file, line, column, value and fix.
    """
    path = Path(path)
    symbol = symbol or path.name.removesuffix(".csv")
    table = _Table(path)
    date_col = table.find(_DATE_KEYS)
    assert date_col is not None  # _Table guarantees a date column
    cols: dict[str, str] = {}
    close = table.find(_CLOSE_KEYS)
    adj = table.find(_ADJ_KEYS)
    if close is None and adj is None:
        raise DataError(
            symbol=symbol,
            detail=f"{path}: no Close or Adj Close column (columns: {', '.join(table.header)})",
            fix="add a Close column (or Adj Close) with the daily closing prices",
        )
    if close is not None:
        cols["close"] = close
    if adj is not None:
        cols["adj_close"] = adj
    for extra in ("open", "high", "low", "volume"):
        name = table.find({extra, f"px{extra}", f"{extra}price"})
        if name is not None and name not in cols.values():
            cols[extra] = name
    dates = _parse_dates(table, date_col, symbol)
    price_cols = {k: v for k, v in cols.items() if k in ("close", "adj_close")}
    df = _series_frame(table, dates, price_cols, symbol)
    for extra in ("open", "high", "low", "volume"):
        if extra in cols:
            raw = table.frame[cols[extra]].astype(str).str.replace(",", "", regex=False)
            vals = pd.to_numeric(raw, errors="coerce").to_numpy()
            s = pd.Series(vals, index=dates)
            s = s[~s.index.duplicated()]
            df[extra] = s.reindex(df.index).to_numpy()
    return df


class CsvSource:
    """Prices from CSV files: a folder of per-symbol files, or one wide/long CSV.

    Parameters
    ----------
    path : str or Path
        A folder (``<symbol>.csv`` per symbol, e.g. ``../shared/data/prices``) or one
        CSV file (wide: date x symbols; long: date, symbol, price; or one symbol).
    name : str, default "csv"
        Source name (used for aliases and in provenance).
    check_split : bool, default True
        Warn (:class:`~eventstudy.exceptions.SuspectedSplitWarning`) on one-day price
        ratios that look like an unadjusted split.

    Notes
    -----
    Files are read in place and never copied. Index levels and FX rates without an
    adjusted close get ``adj_close = close``; a file with only ``Close`` is taken to be
    adjusted already (as the shared snapshot is).

    Examples
    --------
    >>> src = CsvSource("../shared/data/prices")  # doctest: +SKIP
    >>> src.get("7203.T", "2025-07-01", "2025-07-31").loc["2025-07-23", "close"]  # doctest: +SKIP
    """

    remote = False

    def __init__(self, path: str | Path, *, name: str = "csv", check_split: bool = True):
        self.path = Path(path).expanduser()
        self.name = name
        self.check_split = check_split
        if not self.path.exists():
            raise DataError(
                symbol="prices",
                detail=f"{self.path} does not exist",
                fix="give --prices a folder of <symbol>.csv files or one CSV file",
            )
        self._memo: dict[tuple[str, int, int], Any] = {}

    @property
    def cache_key(self) -> str:
        """Folder name used by :class:`PriceCache` (CSV sources are normally not cached)."""
        digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:10]
        return f"csv-{digest}"

    def __repr__(self) -> str:
        return f"CsvSource({str(self.path)!r})"

    # ------------------------------------------------------------------ discovery
    def symbols(self) -> list[str]:
        """Symbols this source holds (file names of a folder, columns of a wide CSV)."""
        if self.path.is_dir():
            return sorted(p.name.removesuffix(".csv") for p in self.path.glob("*.csv"))
        kind, payload = self._single()
        if kind == "one":
            return [payload[0]]
        return sorted(payload)

    def _file_for(self, symbol: str) -> Path:
        return self._inside(self._find_file(symbol), symbol)

    def _inside(self, file: Path, symbol: str) -> Path:
        """Refuse a file (a symlink) that resolves outside the prices folder given."""
        if not file.resolve().is_relative_to(self.path.resolve()):
            raise DataError(
                symbol=symbol,
                detail=f"{file} links outside the prices folder {self.path}",
                fix="copy the file into the folder, or point --prices at the folder it is in",
            )
        return file

    def _find_file(self, symbol: str) -> Path:
        exact = self.path / f"{symbol}.csv"
        if exact.is_file():
            return exact
        wanted = _key(symbol)
        matches = [
            p
            for p in self.path.glob("*.csv")
            if p.name.removesuffix(".csv").lower() == symbol.lower()
            or _key(p.name.removesuffix(".csv")) == wanted
        ]
        if len(matches) == 1:
            return matches[0]
        have = ", ".join(self.symbols()[:12]) or "no .csv files"
        raise UnknownSymbol(symbol=symbol, source=f"CSV folder {self.path} (has {have})")

    def _single(self) -> tuple[str, Any]:
        """Parse a single CSV file once (memoised on path, size and mtime)."""
        st = self.path.stat()
        memo_key = (str(self.path), st.st_size, st.st_mtime_ns)
        if memo_key in self._memo:
            return self._memo[memo_key]
        table = _Table(self.path)
        date_col = table.find(_DATE_KEYS)
        assert date_col is not None
        sym_col = table.find(_SYMBOL_KEYS)
        close = table.find(_CLOSE_KEYS)
        adj = table.find(_ADJ_KEYS)
        result: tuple[str, Any]
        if sym_col is not None and (close is not None or adj is not None):
            result = ("long", {"table": table, "date": date_col, "symbol": sym_col})
        elif close is not None or adj is not None:
            result = ("one", (self.path.name.removesuffix(".csv"),))
        else:
            others = [
                h
                for h, k in zip(table.header, table.keys, strict=True)
                if h != date_col and k not in _OTHER_PRICE_KEYS
            ]
            if not others:
                raise DataError(
                    symbol="prices",
                    detail=f"{self.path}: no price columns besides {date_col!r}",
                    fix="one column per symbol (wide) or Close/Adj Close columns",
                )
            result = ("wide", {h: {"table": table, "date": date_col} for h in others})
        self._memo = {memo_key: result}
        return result

    # ------------------------------------------------------------------ get
    def get(
        self,
        symbol: str,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Return the Prices frame of ``symbol`` between ``start`` and ``end`` (inclusive).

        Raises
        ------
        UnknownSymbol
            If no file or column holds ``symbol``.
        DataError
            If the file is malformed (one line: file, line, column, value, fix).
        """
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        if self.path.is_dir():
            file = self._file_for(symbol)
            df = read_price_csv(file, symbol)
            extra: dict[str, Any] = {"path": str(file), "layout": "folder"}
        else:
            file = self.path
            df, extra = self._get_single(symbol)
        st = file.stat()
        extra["file_sha256"] = _sha256(file)
        extra["file_modified"] = pd.Timestamp(st.st_mtime, unit="s", tz="UTC").isoformat()
        if self.check_split:
            check_splits(df["adj_close" if "adj_close" in df else "close"], symbol, stacklevel=3)
        extra["columns"] = [c for c in ("close", "adj_close") if c in df.columns]
        prov = make_provenance(self.name, symbol, **extra)
        out = finalize_prices(df, symbol, prov, start=t0, end=t1)
        if len(out) == 0:
            raise DataError(
                symbol=symbol,
                detail=(
                    f"{extra['path']} has no prices between {start} and {end} "
                    f"(it covers {df.index[0].date()} .. {df.index[-1].date()})"
                ),
                fix="choose study dates inside the file's range or extend the file",
            )
        return out

    def _get_single(self, symbol: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        kind, payload = self._single()
        extra: dict[str, Any] = {"path": str(self.path), "layout": kind}
        if kind == "one":
            if symbol.lower() != payload[0].lower() and _key(symbol) != _key(payload[0]):
                raise UnknownSymbol(
                    symbol=symbol, source=f"CSV file {self.path} (holds {payload[0]} only)"
                )
            return read_price_csv(self.path, symbol), extra
        if kind == "wide":
            col = _match(symbol, payload)
            if col is None:
                have = ", ".join(sorted(payload)[:12])
                raise UnknownSymbol(symbol=symbol, source=f"CSV file {self.path} (has {have})")
            table = payload[col]["table"]
            dates = _parse_dates(table, payload[col]["date"], symbol)
            extra["column"] = col
            return _series_frame(table, dates, {"close": col}, symbol), extra
        table = payload["table"]
        sym = table.frame[payload["symbol"]].astype(str).str.strip()
        col = _match(symbol, sym.unique().tolist())
        if col is None:
            have = ", ".join(sorted(sym.unique().tolist())[:12])
            raise UnknownSymbol(symbol=symbol, source=f"CSV file {self.path} (has {have})")
        rows = np.flatnonzero((sym == col).to_numpy())
        dates = _parse_dates(table, payload["date"], symbol)
        cols: dict[str, str] = {}
        close = table.find(_CLOSE_KEYS)
        adj = table.find(_ADJ_KEYS)
        if close is not None:
            cols["close"] = close
        if adj is not None:
            cols["adj_close"] = adj
        return _series_frame(table, dates, cols, symbol, rows=rows), extra


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _match(symbol: str, names: Iterable[str]) -> str | None:
    names = list(names)
    if symbol in names:
        return symbol
    for n in names:
        if n.strip().lower() == symbol.strip().lower():
            return n
    for n in names:
        if _key(n) == _key(symbol):
            return n
    return None
