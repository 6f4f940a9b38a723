"""The clean-file reader of ``CsvTable`` (``_read_clean``): which files take it, and that
it changes nothing.

A clean file (the date first, plain numbers, strictly increasing ``YYYY-MM-DD`` dates) is
read in one cheap pass; every other file returns ``None`` there and goes through the full
reader. The tests show (1) the shared price files take the clean path and give what
``pandas.read_csv`` reads, bit for bit; (2) each kind of oddity the clean reader does not
handle sends the file to the full reader, with the outcome the full reader gives (the
frame, or the error word for word); (3) on generated files, clean or messy, reading with
the clean path gives the same frames, errors and warnings as the full reader alone.
"""

from __future__ import annotations

import calendar
import datetime
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from test_csv_fuzz import PriceFile, price_files

from eventstudy.data import CsvSource, read_price_csv
from eventstudy.data import csv_table as ct
from eventstudy.data.csv_table import CsvTable
from eventstudy.exceptions import DataError, UnknownSymbol


@contextmanager
def full_reader_only() -> Iterator[None]:
    """Read without the clean path (every file through the full reader)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CsvTable, "_read_clean", lambda self: None)
        yield


def takes_clean_path(path: Path, symbol: str = "AAA") -> bool:
    return CsvTable(path, symbol)._read_clean() is not None


Outcome = tuple[str, object, list[str]]


def outcome(read: Callable[[], pd.DataFrame]) -> Outcome:
    """``("frame", frame, warnings)`` or ``("error", "Type: message", warnings)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame: object = read()
            kind = "frame"
        except (DataError, UnknownSymbol) as err:
            frame, kind = f"{type(err).__name__}: {err}", "error"
    return kind, frame, [f"{w.category.__name__}: {w.message}" for w in caught]


def assert_same_outcome(got: Outcome, want: Outcome) -> None:
    """The same frame (values bit for bit, dtypes, index, attrs but the fetch time) or the
    same error message, and the same warnings."""
    assert got[0] == want[0], (got, want)
    assert got[2] == want[2]
    if got[0] == "error":
        assert got[1] == want[1]
        return
    a, b = got[1], want[1]
    assert isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    np.testing.assert_array_equal(
        a.to_numpy(dtype="float64").view(np.uint64), b.to_numpy(dtype="float64").view(np.uint64)
    )
    pa, pb = dict(a.attrs.get("provenance", {})), dict(b.attrs.get("provenance", {}))
    pa.pop("fetched_at", None), pb.pop("fetched_at", None)
    assert pa == pb
    assert set(a.attrs) == set(b.attrs)


def both_ways(read: Callable[[], pd.DataFrame]) -> Outcome:
    """Read with the clean path and with the full reader alone; they must agree."""
    got = outcome(read)
    with full_reader_only():
        want = outcome(read)
    assert_same_outcome(got, want)
    return got


# ----------------------------------------------------------------------------- shared files


def pandas_prices(path: Path, start: str, end: str) -> pd.DataFrame:
    """A shared file as ``pd.read_csv`` reads it, in the Prices frame's shape: close,
    adj_close (= close: the snapshot has no Adj Close), then open, high, low, volume."""
    raw = pd.read_csv(path)
    raw.columns = [c.lower() for c in raw.columns]
    dates = pd.to_datetime(raw.pop("date"), format="%Y-%m-%d")
    index = pd.DatetimeIndex(dates, name="date").as_unit("ns")  # the package's unit
    cols = {"close": raw["close"], "adj_close": raw["close"]}
    cols |= {c: raw[c] for c in ("open", "high", "low", "volume") if c in raw.columns}
    frame = pd.DataFrame({k: v.to_numpy(dtype="float64") for k, v in cols.items()}, index=index)
    return frame.loc[start:end]


def test_the_shared_price_files_take_the_clean_path_and_give_what_pandas_reads(
    prices_dir: Path,
):
    files = sorted(prices_dir.glob("*.csv"))
    assert len(files) >= 10
    for path in files:
        symbol = path.name.removesuffix(".csv")
        assert takes_clean_path(path, symbol), path
        kind, got, _ = both_ways(lambda s=symbol: CsvSource(prices_dir).get(s, "2015-01-01"))
        assert kind == "frame", got
        assert isinstance(got, pd.DataFrame)
        want = pandas_prices(path, "2015-01-01", "2262-01-01")
        pd.testing.assert_frame_equal(got, want, check_exact=True, check_freq=False)
        assert got.attrs["provenance"]["path"] == str(path)
        # the table's own answers too: the date column's texts and the parsed dates
        fast = CsvTable(path, symbol)
        with full_reader_only():
            full = CsvTable(path, symbol)
            full_text, full_dates = full.text("Date"), full.dates()
        for got_a, want_a in (
            *zip(fast.text("Date"), full_text, strict=True),
            (fast.dates().codes, full_dates.codes),
            (fast.dates().texts, full_dates.texts),
            (fast.dates().fixed, full_dates.fixed),
        ):
            assert got_a.dtype == want_a.dtype and got_a.tolist() == want_a.tolist()


# ----------------------------------------------------------------------------- oddities

WIDE17 = (
    "Date,"
    + ",".join(f"S{i:02d}" for i in range(17))
    + "\n"
    + "".join(
        f"2024-01-0{k}," + ",".join(str(10 + i + k) for i in range(17)) + "\n" for k in (2, 3)
    )
)

#: Each oddity the clean reader leaves to the full reader: the file, how it is read, and
#: what the full reader makes of it (a frame's closes, or the error's words).
ODDITIES = {
    "date column not first": ("Close,Date\n10,2024-01-02\n11,2024-01-03\n", "one", [10, 11]),
    "unnamed column (separator ending the header)": (
        "Date,Close,\n2024-01-02,10,\n2024-01-03,11,\n",
        "one",
        [10, 11],
    ),
    "symbol column (a long file with numeric codes)": (
        "Date,Code,Close\n2024-01-02,7203,10\n2024-01-03,7203,11\n",
        "long",
        [10, 11],
    ),
    "more than 16 price columns": (WIDE17, "wide", [28, 29]),
    "only a date column": ("Date\n2024-01-02\n", "one", "no Close or Adj Close column"),
    "no body": ("Date,Close\n", "one", "column 'Close': no prices"),
    "empty cells": ("Date,Close,Adj Close\n2024-01-02,10,\n2024-01-03,,11\n", "one", [10, None]),
    "missing-value tokens": (
        "Date,Close\n2024-01-02,10\n2024-01-03,-\n2024-01-04,NA\n2024-01-05,12\n",
        "one",
        [10, 12],
    ),
    "a cell that is not a number": (
        "Date,Close\n2024-01-02,10\n2024-01-03,1-2\n",
        "one",
        "line 3, column 'Close': cannot read price '1-2'",
    ),
    "an infinite price": (
        "Date,Close\n2024-01-02,10\n2024-01-03,inf\n",
        "one",
        "line 3, column 'Close': price 'inf' is not finite",
    ),
    "quoted thousands": (
        'Date,Close\n2024-01-02,"2,745.50"\n2024-01-03,2750\n',
        "one",
        [2745.5, 2750],
    ),
    "CRLF line ends": ("Date,Close\r\n2024-01-02,10\r\n2024-01-03,11\r\n", "one", [10, 11]),
    "CR line ends": ("Date,Close\r2024-01-02,10\r2024-01-03,11\r", "one", [10, 11]),
    "a blank line": ("Date,Close\n2024-01-02,10\n\n2024-01-03,11\n", "one", [10, 11]),
    "a wide row (unquoted thousands)": (
        "Date,Close\n2024-01-02,10\n2024-01-03,3,624.00\n",
        "one",
        "line 3: '2024-01-03,3,624.00' has 3 cells but the header has 2 ('Date,Close')",
    ),
    "a short row": ("Date,Close,Adj Close\n2024-01-02,10,9\n2024-01-03,11\n", "one", [10, 11]),
    "padded cells": ("Date,Close\n2024-01-02, 10 \n2024-01-03,11\n", "one", [10, 11]),
    "decimal commas": ("Date;Close\n2024-01-02;10,5\n2024-01-03;11\n", "one", [10.5, 11]),
    "a non-ASCII byte (Latin-1 no-break space)": (
        "Date,Close\n2024-01-02,10\n2024-01-03,\xa011\n",
        "one",
        [10, 11],
    ),
    "day-first dates": ("Date,Close\n13/07/2021,10\n14/07/2021,11\n", "one", [10, 11]),
    "time stamps": (
        "Date,Close\n2024-01-02 15:00:00+00:00,10\n2024-01-03 15:00:00+00:00,11\n",
        "one",
        [10, 11],
    ),
    "a date without leading zeros": (
        "Date,Close\n2024-01-02,10\n2024-1-03,11\n",
        "one",
        "column 'Date': cannot read date",
    ),
    "an impossible date": (
        "Date,Close\n2024-01-02,10\n2023-02-30,11\n",
        "one",
        "line 3, column 'Date': cannot read date '2023-02-30'",
    ),
    "a date out of range": (
        "Date,Close\n1600-01-03,10\n1600-01-04,11\n",
        "one",
        "line 2, column 'Date': date '1600-01-03' is out of range",
    ),
    "descending dates": ("Date,Close\n2024-01-03,11\n2024-01-02,10\n", "one", [10, 11]),
    "a duplicated date": (
        "Date,Close\n2024-01-02,10\n2024-01-03,11\n2024-01-03,12\n",
        "one",
        "lines 3, 4, column 'Date': duplicate date 2024-01-03",
    ),
    "an integer beyond int64": (
        "Date,Close,Volume\n2024-01-02,10,99999999999999999999\n2024-01-03,11,5\n",
        "one",
        [10, 11],
    ),
}


def read_as(path: Path, how: str) -> Callable[[], pd.DataFrame]:
    if how == "long":
        return lambda: CsvSource(path).get("7203")
    if how == "wide":
        return lambda: CsvSource(path).get("S16")
    return lambda: read_price_csv(path, "AAA")


@pytest.mark.parametrize("name", list(ODDITIES))
def test_each_oddity_is_left_to_the_full_reader(tmp_path: Path, name: str):
    text, how, expected = ODDITIES[name]
    path = tmp_path / "AAA.csv"
    path.write_bytes(text.encode("latin-1"))
    assert not takes_clean_path(path)
    kind, got, _ = both_ways(read_as(path, how))
    if isinstance(expected, str):
        assert kind == "error" and f"{path}" in str(got) and expected in str(got), got
    else:
        assert kind == "frame", got
        assert isinstance(got, pd.DataFrame)
        want = np.array([np.nan if v is None else v for v in expected], dtype="float64")
        np.testing.assert_array_equal(got["close"].to_numpy(), want)


def test_bodies_over_the_size_or_cell_limit_are_left_to_the_full_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "AAA.csv"
    path.write_text("Date,Close\n2024-01-02,10\n2024-01-03,11\n2024-01-04,12\n")
    assert takes_clean_path(path)
    with monkeypatch.context() as mp:
        mp.setattr(ct, "_CLEAN_MAX_BYTES", 32)  # the body is 39 bytes
        assert not takes_clean_path(path)
    with monkeypatch.context() as mp:
        mp.setattr(ct, "_CLEAN_MAX_CELLS", 8)  # 3 rows x (2 + 1) cells = 9
        assert not takes_clean_path(path)
        kind, got, _ = both_ways(lambda: read_price_csv(path, "AAA"))
        assert kind == "frame" and isinstance(got, pd.DataFrame)
        assert list(got["close"]) == [10.0, 11.0, 12.0]


# ----------------------------------------------------------------------------- clean files

#: Clean files in the forms exports take, each with its closes (by hand) or its error.
CLEAN = {
    "OHLCV": (
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1.5,2,1,1.75,100\n"
        "2024-01-03,1.75,2.5,1.5,2.25,0\n",
        [1.75, 2.25],
    ),
    "semicolons": ("Date;Close;Adj Close\n2024-01-02;10.5;10\n2024-01-03;11;10.5\n", [10.5, 11]),
    "tabs": ("Date\tClose\n2024-01-02\t10.5\n2024-01-03\t11\n", [10.5, 11]),
    "pipes": ("Date|Close\n2024-01-02|10.5\n2024-01-03|11\n", [10.5, 11]),
    "a byte-order mark": ("\ufeffDate,Close\n2024-01-02,10.5\n2024-01-03,11\n", [10.5, 11]),
    "metadata above the header": (
        "Security,AAA Equity\nExported by terminal\nDate,Close\n2024-01-02,10.5\n2024-01-03,11\n",
        [10.5, 11],
    ),
    "no line end at the end": ("Date,Close\n2024-01-02,10.5\n2024-01-03,11", [10.5, 11]),
    "an unnamed date index (pandas' to_csv)": (
        ",Close\n2024-01-02,10.5\n2024-01-03,11\n",
        [10.5, 11],
    ),
    "exponents and signs": ("Date,Close\n2024-01-02,1.05e1\n2024-01-03,+11\n", [10.5, 11]),
    "a zero price": (
        "Date,Close\n2024-01-02,10\n2024-01-03,0\n",
        "line 3, column 'Close': price '0' is zero",
    ),
    "a negative price": (
        "Date,Close\n2024-01-02,10\n2024-01-03,-5.5\n",
        "line 3, column 'Close': price '-5.5' is negative",
    ),
}


@pytest.mark.parametrize("name", list(CLEAN))
def test_clean_files_take_the_clean_path_with_the_full_readers_outcome(tmp_path: Path, name: str):
    text, expected = CLEAN[name]
    path = tmp_path / "AAA.csv"
    path.write_text(text, encoding="utf-8")
    assert takes_clean_path(path)
    kind, got, _ = both_ways(read_as(path, "one"))
    if isinstance(expected, str):
        assert kind == "error" and expected in str(got), got
    else:
        assert kind == "frame" and isinstance(got, pd.DataFrame), got
        np.testing.assert_array_equal(got["close"].to_numpy(), np.array(expected, dtype=float))
        assert list(got.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]


def test_a_wide_file_takes_the_clean_path_and_serves_every_symbol_and_the_panel(tmp_path: Path):
    path = tmp_path / "w.csv"
    path.write_text("Date,AAA,BBB\n2024-01-02,1.5,20\n2024-01-03,1.25,21\n")
    assert takes_clean_path(path, "w")
    for sym, want in (("AAA", [1.5, 1.25]), ("BBB", [20.0, 21.0])):
        kind, got, _ = both_ways(lambda s=sym: CsvSource(path).get(s))
        assert kind == "frame" and isinstance(got, pd.DataFrame)
        assert list(got["close"]) == want
    kind, panel, _ = both_ways(lambda: CsvSource(path).panel())
    assert isinstance(panel, pd.DataFrame) and panel.to_numpy().tolist() == [[1.5, 20], [1.25, 21]]


def test_iso_days_read_exactly_the_calendar_dates():
    """The clean reader's dates against the standard library's calendar: every month
    00..13 and day 00..32 of leap, common and century years."""
    texts, want = [], []
    for year in (1678, 1900, 2000, 2023, 2024, 2261):
        for month in range(14):
            for day in range(33):
                texts.append(f"{year:04d}-{month:02d}-{day:02d}")
                real = 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
                want.append(datetime.date(year, month, day) if real else None)
    for text, date in zip(texts, want, strict=True):
        got = ct._iso_days(np.array([text.encode()], dtype="S10"))
        if date is None:
            assert got is None, text
        else:
            assert got is not None and got[0] == np.datetime64(date, "D"), text
    real = np.array([t.encode() for t, d in zip(texts, want, strict=True) if d], dtype="S10")
    days = ct._iso_days(real)
    assert days is not None
    assert days.tolist() == [d for d in want if d]


# ----------------------------------------------------------------------------- properties

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY
@given(case=price_files())
def test_any_generated_file_reads_the_same_with_and_without_the_clean_path(case: PriceFile):
    """The fuzz files (every separator, line end, quote, token, stamp and fault): the same
    frames, errors and warnings, word for word, as the full reader alone."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{case.symbol}.csv"
        path.write_bytes(("\ufeff" if case.bom else "").encode() + case.text.encode())
        both_ways(lambda: read_price_csv(path, case.symbol))


@hs.composite
def clean_files(draw: hs.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    """A clean file: increasing dates, 1 to 5 columns of plain numbers (integers,
    decimals up to 17 digits, exponents, signs; sometimes zero or negative)."""
    n = draw(hs.integers(1, 40))
    days = sorted(draw(hs.lists(hs.integers(0, 20_000), min_size=n, max_size=n, unique=True)))
    dates = [f"{np.datetime64('1990-01-01') + d}" for d in days]
    names = draw(hs.sampled_from([["Close"], ["Close", "Adj Close"], ["Open", "Close", "Volume"]]))

    def number() -> str:
        kind = draw(hs.sampled_from(["int", "dec", "dec", "long", "exp", "plus", "bad"]))
        if kind == "int":
            return str(draw(hs.integers(1, 10**12)))
        if kind == "dec":
            return f"{draw(hs.integers(1, 10**7))}.{draw(hs.integers(0, 9999)):04d}"
        if kind == "long":
            return f"{draw(hs.integers(0, 999))}.{draw(hs.integers(10**13, 10**14 - 1))}"
        if kind == "exp":
            return f"{draw(hs.integers(1, 999))}e{draw(hs.integers(-3, 3))}"
        if kind == "plus":
            return f"+{draw(hs.integers(1, 999))}.5"
        return draw(hs.sampled_from(["0", "-1.5", "0.0"]))

    rows = [[number() for _ in names] for _ in dates]
    return draw(hs.sampled_from([",", ";", "\t", "|"])), names, [dates, *zip(*rows, strict=True)]


@PROPERTY
@given(spec=clean_files())
def test_clean_files_give_what_pandas_reads_bit_for_bit(spec):
    """Generated clean files take the clean path; a frame holds exactly what
    ``pandas.read_csv`` reads from the same text, and an error (a zero or negative price)
    is the full reader's, word for word."""
    import tempfile

    sep, names, columns = spec
    text = sep.join(["Date", *names]) + "\n"
    text += "".join(sep.join(cells) + "\n" for cells in zip(*columns, strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "AAA.csv"
        path.write_text(text)
        assert takes_clean_path(path), text
        kind, got, _ = both_ways(lambda: read_price_csv(path, "AAA"))
        raw = pd.read_csv(path, sep=sep)
    if kind == "error":
        assert "line " in str(got) and ("is zero" in str(got) or "is negative" in str(got))
        return
    assert isinstance(got, pd.DataFrame)
    for name in names:
        target = {"Adj Close": "adj_close"}.get(name, name.lower())
        np.testing.assert_array_equal(
            got[target].to_numpy().view(np.uint64),
            raw[name].to_numpy(dtype="float64").view(np.uint64),
            err_msg=text,
        )
    assert list(got.index.strftime("%Y-%m-%d")) == list(raw["Date"])
