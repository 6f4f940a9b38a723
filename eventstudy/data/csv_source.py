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

A wide or long file is parsed once (vectorised, :class:`~eventstudy.data.csv_table.CsvTable`)
and every symbol is served as a slice of it; :meth:`CsvSource.panel` returns many
symbols at once as one dates x symbols frame.

Every problem is one line naming the file, the line, the column, the value and the fix
(:class:`~eventstudy.exceptions.DataError`); the rules (row width, time stamps, missing
cells, non-regular files) are listed in :mod:`eventstudy.data.csv_table`. Rows in
descending or shuffled order are sorted silently; duplicate dates are an error.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy.data.csv_table import (
    ADJ_KEYS,
    CLOSE_KEYS,
    OTHER_PRICE_KEYS,
    SYMBOL_KEYS,
    CsvTable,
    default_exchange,
    key,
    open_regular,
)
from eventstudy.data.sources import check_splits, make_provenance, to_timestamp
from eventstudy.exceptions import DataError, UnknownSymbol

__all__ = ["CsvChain", "CsvSource", "read_price_csv"]

_EXTRAS = ("open", "high", "low", "volume")


# ----------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class _Series:
    """One symbol's prices as arrays: sorted unique dates and a column per field."""

    dates: np.ndarray  # datetime64[ns], sorted, unique
    columns: dict[str, np.ndarray]

    def frame(self) -> pd.DataFrame:
        return _frame(self.dates, self.columns)

    def series(self, name: str) -> pd.Series:
        return pd.Series(self.columns[name], index=pd.DatetimeIndex(self.dates, name="date"))


def _assemble(
    table: CsvTable,
    symbol: str,
    exchange: str | None,
    columns: Mapping[str, str],
    rows: np.ndarray | None = None,
    extras: Mapping[str, str] | None = None,
    *,
    volume: bool = False,
) -> _Series:
    """The price frame of ``symbol``: ``columns`` (target -> column) over ``rows``.

    Rows without any price are dropped; the result is sorted by date. Raises the first
    unusable price (in file order, column by column), "no prices", an off-day time
    stamp, or a duplicate date, each naming the line(s). ``volume=True`` reads volumes
    (zero allowed) instead of prices.
    """
    local, off = table.dates_for(symbol, exchange)
    codes = table.dates(symbol).codes
    if rows is not None:
        codes = codes[rows]
    values: dict[str, np.ndarray] = {}
    has = np.zeros(len(codes), dtype=bool)
    for target, column in columns.items():
        num = table.numbers(column, volume=volume)
        vals = num.values if rows is None else num.values[rows]
        if num.problem is not None:
            prob = num.problem if rows is None else num.problem[rows]
            bad = np.flatnonzero(prob)
            if len(bad):
                j = int(bad[0])
                row = j if rows is None else int(rows[j])
                raise table.price_error(row, column, int(prob[j]), symbol)
        values[target] = vals
        has |= ~np.isnan(vals)
    keep = np.flatnonzero(has)
    if len(keep) == 0:
        column = next(iter(columns.values()))
        raise DataError(
            symbol=symbol,
            detail=f"{table.path}, column {column!r}: no prices",
            fix="check the file holds this symbol's closes",
        )
    kept_codes = codes[keep]

    def file_row(j: int) -> int:
        return int(keep[j]) if rows is None else int(rows[keep[j]])

    dates = local[kept_codes]
    if off is not None and off[kept_codes].any():
        j = int(np.flatnonzero(off[kept_codes])[0])
        assert exchange is not None
        raise table.off_day_error(file_row(j), symbol, exchange, dates[j])
    order = np.argsort(dates, kind="stable")
    sorted_dates = dates[order]
    if len(sorted_dates) > 1 and (sorted_dates[1:] == sorted_dates[:-1]).any():
        index = pd.DatetimeIndex(dates)
        dup = np.flatnonzero(index.duplicated(keep=False))
        first = index[dup[0]]
        same = [file_row(int(j)) for j in dup if index[j] == first]
        lines = table.lines(same)
        raise DataError(
            symbol=symbol,
            detail=(
                f"{table.path}, lines {', '.join(map(str, lines))}, column "
                f"{table.date_column!r}: duplicate date {first.date()}"
            ),
            fix="keep one row per date",
        )
    data = {target: vals[keep][order] for target, vals in values.items()}
    for target, column in (extras or {}).items():
        vals = table.loose_numbers(column)
        vals = vals if rows is None else vals[rows]
        data[target] = vals[keep][order]
    return _Series(sorted_dates, data)


def _finish(
    series: _Series,
    provenance: Mapping[str, Any],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> pd.DataFrame:
    """The Prices frame of :func:`~eventstudy.data.sources.finalize_prices`, built
    directly from sorted unique arrays (it is called once per symbol: thousands of times
    for a universe).

    ``adj_close`` falls back to ``close`` where missing (and the other way round for a
    column that is absent); rows without an adjusted close are dropped; ``[start, end]``.
    """
    cols = series.columns
    close = cols.get("close")
    adj = cols.get("adj_close")
    if close is None:
        assert adj is not None
        close = adj
    if adj is None:
        adj = close
    adj = np.where(np.isnan(adj), close, adj)
    dates = series.dates
    keep = ~np.isnan(adj)
    if start is not None:
        keep &= dates >= start.to_datetime64()
    if end is not None:
        keep &= dates <= end.to_datetime64()
    data = {"close": close[keep], "adj_close": adj[keep]}
    for name, vals in cols.items():
        if name not in data:
            data[name] = vals[keep]
    out = _frame(dates[keep], data)
    out.attrs = {"provenance": dict(provenance)}
    return out


@functools.lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(names)


def _frame(dates: np.ndarray, columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """A float frame indexed by ``date`` from equal-length arrays (one block: building
    from a 2-D array is several times faster than from a dict, which matters for
    thousands of symbols)."""
    names = tuple(columns)
    values = (
        np.column_stack([np.asarray(columns[n], dtype="float64") for n in names])
        if names
        else np.empty((len(dates), 0))
    )
    return pd.DataFrame(
        values,
        index=pd.DatetimeIndex(dates, name="date"),
        columns=_column_index(names),
        copy=False,
    )


def _symbol_series(table: CsvTable, symbol: str, exchange: str | None) -> _Series:
    """A per-symbol file (date, Close and/or Adj Close, optional OHLC and volume)."""
    close = table.find(CLOSE_KEYS)
    adj = table.find(ADJ_KEYS)
    if close is None and adj is None:
        raise DataError(
            symbol=symbol,
            detail=(
                f"{table.path}: no Close or Adj Close column (columns: {', '.join(table.header)})"
            ),
            fix="add a Close column (or Adj Close) with the daily closing prices",
        )
    cols: dict[str, str] = {}
    if close is not None:
        cols["close"] = close
    if adj is not None:
        cols["adj_close"] = adj
    extras: dict[str, str] = {}
    for extra in _EXTRAS:
        name = table.find({extra, f"px{extra}", f"{extra}price"})
        if name is not None and name not in cols.values():
            extras[extra] = name
    table.dates(symbol)  # date errors come before price errors
    return _assemble(table, symbol, exchange, cols, extras=extras)


def read_price_csv(
    path: str | Path, symbol: str | None = None, *, exchange: str | None = None
) -> pd.DataFrame:
    """Read one per-symbol CSV (date plus ``Close`` and/or ``Adj Close``).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    symbol : str, optional
        Symbol for messages and provenance; defaults to the file name without ``.csv``.
    exchange : str, optional
        Exchange-calendars code whose local date time stamps are converted to; default
        the exchange the project maps ``symbol`` to (``.T`` -> XTKS, no suffix -> XNYS).

    Returns
    -------
    DataFrame
        Columns ``close`` and/or ``adj_close`` (plus ``open``, ``high``, ``low``,
        ``volume`` when present), indexed by date, sorted; no provenance.

    Raises
    ------
    DataError
        One line naming the file, line, column, value and fix.
    """
    path = Path(path)
    symbol = symbol or path.name.removesuffix(".csv")
    table = CsvTable(path, symbol)
    return _symbol_series(table, symbol, exchange or default_exchange(symbol)).frame()


# ----------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class _Wide:
    """A wide file: one column per symbol."""

    table: CsvTable
    columns: tuple[str, ...]

    @functools.cached_property
    def lookup(self) -> _Names:
        return _Names(self.columns)


@dataclass(frozen=True)
class _Long:
    """A long file: rows of every symbol, grouped once by symbol."""

    table: CsvTable
    symbol_column: str
    names: tuple[str, ...]  # distinct symbols, as written (stripped)
    order: np.ndarray  # rows sorted by symbol (stable: file order inside a symbol)
    starts: np.ndarray  # first position in ``order`` of each symbol, plus the end

    def rows(self, k: int) -> np.ndarray:
        return self.order[self.starts[k] : self.starts[k + 1]]

    @functools.cached_property
    def lookup(self) -> _Names:
        return _Names(self.names)

    @functools.cached_property
    def position(self) -> dict[str, int]:
        return {n: k for k, n in enumerate(self.names)}

    @property
    def prices(self) -> dict[str, str]:
        cols: dict[str, str] = {}
        close = self.table.find(CLOSE_KEYS)
        adj = self.table.find(ADJ_KEYS)
        if close is not None:
            cols["close"] = close
        if adj is not None:
            cols["adj_close"] = adj
        return cols


@dataclass(frozen=True)
class _One:
    """One per-symbol file given directly."""

    table: CsvTable
    symbol: str


_Layout = _Wide | _Long | _One


def _layout(path: Path) -> _Layout:
    """Parse a single CSV file once and tell its layout."""
    table = CsvTable(path, path.name.removesuffix(".csv"))
    date_col = table.date_column
    sym_col = table.find(SYMBOL_KEYS)
    has_price = table.find(CLOSE_KEYS) is not None or table.find(ADJ_KEYS) is not None
    if sym_col is not None and has_price:
        codes, names = table.text(sym_col)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise table.error(
                row, sym_col, "empty symbol", "give every row its symbol", table.symbol
            )
        order = np.argsort(codes, kind="stable").astype(np.int32)
        counts = np.bincount(codes, minlength=len(names))
        starts = np.concatenate([[0], np.cumsum(counts)])
        return _Long(table, sym_col, tuple(str(n) for n in names), order, starts)
    if has_price:
        return _One(table, path.name.removesuffix(".csv"))
    others = tuple(h for h in table.header if h != date_col and h != "")
    if all(key(h) in OTHER_PRICE_KEYS for h in others):
        # Open/High/Low/Volume without a close: not a wide file of symbols (a column
        # such as LOW among tickers, Lowe's, is a symbol)
        raise DataError(
            symbol="prices",
            detail=f"{path}: no price columns besides {date_col!r}",
            fix="one column per symbol (wide) or Close/Adj Close columns",
        )
    return _Wide(table, others)


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
    exchanges : mapping of str to str, optional
        Exchange-calendars code per symbol (as asked of this source), used only to turn
        time stamps with an offset into the exchange's local dates. Symbols not listed
        use the project's map (:data:`~eventstudy.config.EXCHANGE_BY_SYMBOL`, then
        :data:`~eventstudy.config.EXCHANGE_BY_SUFFIX`: ``.T`` -> XTKS, no suffix -> XNYS).

    Notes
    -----
    Files are read in place and never copied. Index levels and FX rates without an
    adjusted close get ``adj_close = close``; a file with only ``Close`` is taken to be
    adjusted already (as the shared snapshot is). A single file is parsed once (memoised
    on its size and modification time) and each symbol is a slice of it.

    Examples
    --------
    >>> src = CsvSource("../shared/data/prices")  # doctest: +SKIP
    >>> src.get("7203.T", "2025-07-01", "2025-07-31").loc["2025-07-23", "close"]  # doctest: +SKIP
    """

    remote = False

    def __init__(
        self,
        path: str | Path,
        *,
        name: str = "csv",
        check_split: bool = True,
        exchanges: Mapping[str, str] | None = None,
    ):
        self.path = Path(path).expanduser()
        self.name = name
        self.check_split = check_split
        self.exchanges = dict(exchanges or {})
        if not self.path.exists():
            raise DataError(
                symbol="prices",
                detail=f"{self.path} does not exist",
                fix="give --prices a folder of <symbol>.csv files or one CSV file",
            )
        self._memo: dict[tuple[str, int, int], _Layout] = {}
        self._digests: dict[tuple[str, int, int], dict[str, str]] = {}

    @property
    def cache_key(self) -> str:
        """Folder name used by :class:`PriceCache` (CSV sources are normally not cached)."""
        digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:10]
        return f"csv-{digest}"

    def __repr__(self) -> str:
        return f"CsvSource({str(self.path)!r})"

    def exchange_of(self, symbol: str) -> str | None:
        """The exchange whose local dates ``symbol``'s time stamps are converted to."""
        return self.exchanges.get(symbol) or default_exchange(symbol)

    # ------------------------------------------------------------------ discovery
    def symbols(self) -> list[str]:
        """Symbols this source holds (file names of a folder, columns of a wide CSV)."""
        if self.path.is_dir():
            return sorted(p.name.removesuffix(".csv") for p in self.path.glob("*.csv"))
        layout = self._single()
        if isinstance(layout, _One):
            return [layout.symbol]
        if isinstance(layout, _Wide):
            return sorted(layout.columns)
        return sorted(layout.names)

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
        if exact.exists():
            return exact
        wanted = key(symbol)
        matches = [
            p
            for p in self.path.glob("*.csv")
            if p.name.removesuffix(".csv").lower() == symbol.lower()
            or key(p.name.removesuffix(".csv")) == wanted
        ]
        if len(matches) == 1:
            return matches[0]
        have = ", ".join(self.symbols()[:12]) or "no .csv files"
        raise UnknownSymbol(symbol=symbol, source=f"CSV folder {self.path} (has {have})")

    def _single(self) -> _Layout:
        """Parse the single CSV file once (memoised on path, size and mtime)."""
        st = self.path.stat()
        memo_key = (str(self.path), st.st_size, st.st_mtime_ns)
        if memo_key not in self._memo:
            self._memo = {memo_key: _layout(self.path)}
        return self._memo[memo_key]

    def _sha256(self, path: Path) -> str:
        return self._file_facts(path)["file_sha256"]

    def _file_facts(self, path: Path) -> dict[str, str]:
        """SHA-256 and modification time of a file (memoised on size and mtime)."""
        st = path.stat()
        memo_key = (str(path), st.st_size, st.st_mtime_ns)
        if memo_key not in self._digests:
            h = hashlib.sha256()
            with open_regular(path, path.name) as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            modified = pd.Timestamp(st.st_mtime, unit="s", tz="UTC").isoformat()
            self._digests[memo_key] = {"file_sha256": h.hexdigest(), "file_modified": modified}
        return dict(self._digests[memo_key])

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
            table = CsvTable(file, symbol)
            series = _symbol_series(table, symbol, self.exchange_of(symbol))
            extra: dict[str, Any] = {"path": str(file), "layout": "folder"}
        else:
            file = self.path
            series, extra = self._get_single(symbol)
        extra.update(self._file_facts(file))
        if self.check_split:
            field = "adj_close" if "adj_close" in series.columns else "close"
            check_splits(series.series(field), symbol, stacklevel=3)
        extra["columns"] = [c for c in ("close", "adj_close") if c in series.columns]
        out = _finish(series, make_provenance(self.name, symbol, **extra), t0, t1)
        if len(out) == 0:
            first, last = pd.Timestamp(series.dates[0]), pd.Timestamp(series.dates[-1])
            raise DataError(
                symbol=symbol,
                detail=(
                    f"{extra['path']} has no prices between {start} and {end} "
                    f"(it covers {first.date()} .. {last.date()})"
                ),
                fix="choose study dates inside the file's range or extend the file",
            )
        return out

    def _get_single(self, symbol: str) -> tuple[_Series, dict[str, Any]]:
        layout = self._single()
        extra: dict[str, Any] = {"path": str(self.path)}
        exchange = self.exchange_of(symbol)
        if isinstance(layout, _One):
            extra["layout"] = "one"
            if symbol.lower() != layout.symbol.lower() and key(symbol) != key(layout.symbol):
                raise UnknownSymbol(
                    symbol=symbol, source=f"CSV file {self.path} (holds {layout.symbol} only)"
                )
            return _symbol_series(layout.table, symbol, exchange), extra
        if isinstance(layout, _Wide):
            extra["layout"] = "wide"
            col = layout.lookup.match(symbol)
            if col is None:
                have = ", ".join(sorted(layout.columns)[:12])
                raise UnknownSymbol(symbol=symbol, source=f"CSV file {self.path} (has {have})")
            extra["column"] = col
            return _assemble(layout.table, symbol, exchange, {"close": col}), extra
        extra["layout"] = "long"
        name = layout.lookup.match(symbol)
        if name is None:
            have = ", ".join(sorted(layout.names)[:12])
            raise UnknownSymbol(symbol=symbol, source=f"CSV file {self.path} (has {have})")
        rows = layout.rows(layout.position[name])
        layout.table.dates(symbol)
        return _assemble(layout.table, symbol, exchange, layout.prices, rows=rows), extra

    # ------------------------------------------------------------------ panel
    def panel(
        self,
        symbols: Iterable[str] | None = None,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
        *,
        values: Literal["price", "volume"] = "price",
    ) -> pd.DataFrame:
        """Many symbols of one wide or long file at once: a dates x symbols frame.

        Parameters
        ----------
        symbols : iterable of str, optional
            Symbols to return (matched as :meth:`get` does); default every symbol, in the
            order of the file's columns (wide) or sorted (long).
        start, end : date-like, optional
            Inclusive bounds.
        values : {"price", "volume"}, default "price"
            ``"price"``: the cells of a wide file, or the adjusted close (else the close)
            of a long file; positive. ``"volume"``: the cells of a wide file of volumes
            (such as ``../shared/data/universe/us_volume.csv``), or the ``Volume`` column
            of a long file; zero allowed (a day without trades).

        Returns
        -------
        DataFrame
            Index: the dates where any returned symbol has a value (tz-naive, sorted,
            named ``date``); one float column per symbol, named as asked; ``NaN`` = no
            value (never filled). ``attrs["provenance"]`` as for :meth:`get`.

        Raises
        ------
        UnknownSymbol, DataError
            As :meth:`get`, for the first symbol (in the order asked) that fails.
        """
        if self.path.is_dir():
            raise DataError(
                symbol="prices",
                detail=f"{self.path} is a folder; a panel is read from one wide or long CSV",
                fix="call get(symbol) per file, or give one CSV file",
            )
        layout = self._single()
        if isinstance(layout, _One):
            raise DataError(
                symbol=layout.symbol,
                detail=f"{self.path} holds one symbol, not a panel",
                fix="call get(symbol)",
            )
        names = layout.columns if isinstance(layout, _Wide) else layout.names
        lookup = layout.lookup
        wanted = list(dict.fromkeys(symbols)) if symbols is not None else list(names)
        found: list[str] = []
        for sym in wanted:
            col = lookup.match(sym)
            if col is None:
                have = ", ".join(sorted(names)[:12])
                raise UnknownSymbol(symbol=sym, source=f"CSV file {self.path} (has {have})")
            found.append(col)
        exchanges = [self.exchange_of(sym) for sym in wanted]
        volume = values == "volume"
        if isinstance(layout, _Wide):
            out = _wide_panel(layout.table, found, wanted, exchanges, volume=volume)
        else:
            column = _long_value_column(layout, values)
            layout.table.dates(wanted[0] if wanted else "prices")
            series = {
                sym: _assemble(
                    layout.table,
                    sym,
                    ex,
                    {"v": column},
                    rows=layout.rows(layout.position[col]),
                    volume=volume,
                ).series("v")
                for sym, col, ex in zip(wanted, found, exchanges, strict=True)
            }
            out = _union_panel(series, wanted)
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        if t0 is not None:
            out = out[out.index >= t0]
        if t1 is not None:
            out = out[out.index <= t1]
        out.attrs = {
            "provenance": make_provenance(
                self.name,
                ",".join(wanted[:5]) + (" ..." if len(wanted) > 5 else ""),
                path=str(self.path),
                layout="wide" if isinstance(layout, _Wide) else "long",
                values=values,
                file_sha256=self._sha256(self.path),
            )
        }
        return out


def _long_value_column(layout: _Long, values: str) -> str:
    table = layout.table
    if values == "volume":
        name = table.find({"volume", "vol", "pxvolume"})
        if name is None:
            raise DataError(
                symbol="prices",
                detail=f"{table.path}: no Volume column (columns: {', '.join(table.header)})",
                fix="add a Volume column, or ask for values='price'",
            )
        return name
    prices = layout.prices
    return prices.get("adj_close") or prices["close"]


def _wide_panel(
    table: CsvTable,
    columns: list[str],
    names: list[str],
    exchanges: list[str | None],
    *,
    volume: bool,
) -> pd.DataFrame:
    """Columns of a wide file as one frame, with the checks :func:`_assemble` makes."""
    if not columns:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    codes = table.dates(names[0]).codes
    nums = []
    for column, sym in zip(columns, names, strict=True):
        num = table.numbers(column, volume=volume)
        if num.problem is not None:
            bad = np.flatnonzero(num.problem)
            raise table.price_error(int(bad[0]), column, int(num.problem[bad[0]]), sym)
        if np.isnan(num.values).all():
            raise DataError(
                symbol=sym,
                detail=f"{table.path}, column {column!r}: no prices",
                fix="check the file holds this symbol's closes",
            )
        nums.append(num.values)
    matrix = np.column_stack(nums)
    groups: dict[str | None, list[int]] = {}
    for j, ex in enumerate(exchanges):
        groups.setdefault(ex, []).append(j)
    parts = []
    for ex, js in groups.items():
        sub = matrix[:, js]
        local, off = table.dates_for(names[js[0]], ex)
        present = ~np.isnan(sub)
        keep = np.flatnonzero(present.any(axis=1))
        kept_codes = codes[keep]
        dates = local[kept_codes]

        def owner(j: int) -> str:
            """The first symbol (of this group) with a value on kept row ``j``."""
            return names[js[int(np.argmax(present[keep[j]]))]]  # noqa: B023 - used at once

        if off is not None and off[kept_codes].any():
            j = int(np.flatnonzero(off[kept_codes])[0])
            assert ex is not None
            raise table.off_day_error(int(keep[j]), owner(j), ex, dates[j])
        index = pd.DatetimeIndex(dates, name="date")
        if index.has_duplicates:
            dup = np.flatnonzero(index.duplicated(keep=False))
            first = index[dup[0]]
            same = [int(keep[j]) for j in dup if index[j] == first]
            raise DataError(
                symbol=owner(int(dup[0])),
                detail=(
                    f"{table.path}, lines {', '.join(map(str, table.lines(same)))}, column "
                    f"{table.date_column!r}: duplicate date {first.date()}"
                ),
                fix="keep one row per date",
            )
        order = np.argsort(dates, kind="stable")
        parts.append(
            pd.DataFrame(
                sub[keep][order],
                index=pd.DatetimeIndex(dates[order], name="date"),
                columns=[names[j] for j in js],
            )
        )
    out = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1, sort=True)
    out = out[names]
    out.index = pd.DatetimeIndex(out.index, name="date")
    out.columns.name = None
    return out


def _union_panel(series: Mapping[str, pd.Series], order: list[str]) -> pd.DataFrame:
    """Align per-symbol series on the union of their dates (no filling)."""
    if not series:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    stamps = np.unique(np.concatenate([series[s].index.to_numpy() for s in order]))
    matrix = np.full((len(stamps), len(order)), np.nan)
    for j, sym in enumerate(order):
        s = series[sym]
        matrix[np.searchsorted(stamps, s.index.to_numpy()), j] = s.to_numpy()
    return pd.DataFrame(matrix, index=pd.DatetimeIndex(stamps, name="date"), columns=order)


class _Names:
    """Lookup tables of a list of symbol names."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.exact = set(names)
        self.folded: dict[str, str] = {}
        self.keyed: dict[str, str] = {}
        for n in names:
            self.folded.setdefault(n.strip().lower(), n)
            self.keyed.setdefault(key(n), n)

    def match(self, symbol: str) -> str | None:
        if symbol in self.exact:
            return symbol
        return self.folded.get(symbol.strip().lower()) or self.keyed.get(key(symbol))


class CsvChain:
    """Several CSV sources searched in order (``source: {kind: csv, prices: [a, b]}``).

    A symbol is read from the first source that holds it (e.g. a wide file of a whole
    market, then a folder holding the index): a source that does not know the symbol
    (:class:`~eventstudy.exceptions.UnknownSymbol`) passes it to the next; any other
    problem of a file that holds it is raised as it is.

    Parameters
    ----------
    sources : sequence of CsvSource
        At least one, in the order searched.
    name : str, default "csv"
        Source name (aliases, provenance).
    """

    remote = False

    def __init__(self, sources: Iterable[CsvSource], *, name: str = "csv") -> None:
        self.sources = tuple(sources)
        if not self.sources:
            raise DataError(
                symbol="prices", detail="no CSV source given", fix="give one folder or CSV file"
            )
        self.name = name

    def __repr__(self) -> str:
        return f"CsvChain({[str(s.path) for s in self.sources]!r})"

    def get(
        self,
        symbol: str,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """The Prices frame of ``symbol`` from the first source that holds it.

        Raises
        ------
        UnknownSymbol
            If no source holds ``symbol``.
        DataError
            If the file holding it is malformed (as :meth:`CsvSource.get`).
        """
        for src in self.sources:
            try:
                return src.get(symbol, start, end)
            except UnknownSymbol:
                continue
        raise UnknownSymbol(
            symbol=symbol, source=" nor ".join(f"CSV {src.path}" for src in self.sources)
        )
