"""The vectorised CSV reader (issues 15 and 16): time stamps, row width, special files,
one parse per file, and the numbers against a plain ``pandas.read_csv`` of the same data.

The bad-file catalogue run through the CLI is ``tests/bad_data`` (``test_bad_data.py``);
the property-based fuzz is ``test_csv_fuzz.py``.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy import cli
from eventstudy.data import CsvSource, read_price_csv
from eventstudy.exceptions import ConfigError, DataError, UnknownSymbol

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def quiet_get(src: CsvSource, symbol: str, *args) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # suspected splits in generated prices
        return src.get(symbol, *args)


# ----------------------------------------------------------------------------- time stamps


def stamped_copy(src: Path, dst: Path, zone: str, fmt: str, hour: int = 0) -> Path:
    """``src`` with each date D written as ``hour``:00 of D in ``zone``, shown in UTC."""
    frame = pd.read_csv(src, dtype={"Date": str})
    local = pd.to_datetime(frame["Date"]) + pd.Timedelta(hours=hour)
    frame["Date"] = local.dt.tz_localize(zone).dt.tz_convert("UTC").dt.strftime(fmt)
    frame.to_csv(dst, index=False)
    return dst


@pytest.mark.parametrize(
    ("symbol", "zone", "hour"),
    [
        ("7201.T", "Asia/Tokyo", 0),  # midnight Tokyo = 15:00 UTC the day before
        ("7203.T", "Asia/Tokyo", 15),  # the close, 06:00 UTC
        ("TOPIX", "Asia/Tokyo", 0),
        ("^GSPC", "America/New_York", 16),  # the NY close: 20:00 or 21:00 UTC (DST)
        ("^GSPC", "America/New_York", 0),  # midnight NY: 04:00 or 05:00 UTC
    ],
)
def test_utc_stamped_copy_reads_the_same_sessions_and_prices(
    tmp_path: Path, prices_dir: Path, symbol: str, zone: str, hour: int
):
    folder = tmp_path / "p"
    folder.mkdir()
    stamped_copy(
        prices_dir / f"{symbol}.csv",
        folder / f"{symbol}.csv",
        zone,
        "%Y-%m-%d %H:%M:%S+00:00",
        hour,
    )
    got = CsvSource(folder).get(symbol)
    want = CsvSource(prices_dir).get(symbol)
    pd.testing.assert_frame_equal(
        got.drop(columns="volume", errors="ignore"), want.drop(columns="volume", errors="ignore")
    )
    assert got.index.equals(want.index)


def test_iso_z_and_compact_offsets_are_read(tmp_path: Path):
    write(
        tmp_path / "7203.T.csv",
        "Date,Close\n2025-12-02T15:00:00Z,100\n2025-12-04T06:00:00.000+0000,101\n"
        "2025-12-05 09:30+09:00,102\n",
    )
    df = CsvSource(tmp_path).get("7203.T")
    assert list(df.index.strftime("%Y-%m-%d")) == ["2025-12-03", "2025-12-04", "2025-12-05"]
    assert list(df["close"]) == [100.0, 101.0, 102.0]


def test_two_utc_stamps_on_one_tokyo_date_are_a_duplicate(tmp_path: Path):
    f = write(
        tmp_path / "7203.T.csv",
        "Date,Close\n2025-12-02T15:00:00Z,100\n2025-12-03T06:00:00Z,101\n",
    )
    with pytest.raises(DataError, match=r"lines 2, 3, column 'Date': duplicate date 2025-12-03"):
        CsvSource(tmp_path).get("7203.T")
    assert f.exists()


def test_a_date_labelled_with_a_zone_keeps_its_date(tmp_path: Path):
    """pandas/yfinance write daily bars as midnight of their own zone (JPY=X: London):
    the date is kept whatever the symbol's exchange (New York for JPY=X)."""
    write(
        tmp_path / "JPY=X.csv",
        "Date,Close\n2025-07-23 00:00:00+01:00,146.5\n2025-07-24 00:00:00+01:00,146.9\n",
    )
    df = CsvSource(tmp_path).get("JPY=X")
    assert list(df.index.strftime("%Y-%m-%d")) == ["2025-07-23", "2025-07-24"]


def test_the_exchange_can_be_named_for_a_symbol_without_a_known_suffix(tmp_path: Path):
    """A Bloomberg-style name maps to New York (no suffix): Tokyo midnights in UTC then
    land on Sundays, which is refused; naming XTKS reads them right."""
    text = "Date,Close\n2025-12-07 15:00:00+00:00,2745.5\n2025-12-08 15:00:00+00:00,2760\n"
    write(tmp_path / "7203 JT Equity.csv", text)
    with pytest.raises(DataError, match=r"line 2.*Sunday 2025-12-07 in XNYS local time"):
        CsvSource(tmp_path).get("7203 JT Equity")
    src = CsvSource(tmp_path, exchanges={"7203 JT Equity": "XTKS"})
    df = src.get("7203 JT Equity")
    assert list(df.index.strftime("%Y-%m-%d")) == ["2025-12-08", "2025-12-09"]  # Mon, Tue
    assert list(df["close"]) == [2745.5, 2760.0]


def test_stamps_of_a_symbol_on_an_unknown_exchange_are_refused_with_the_fix(tmp_path: Path):
    write(tmp_path / "ABC.V.csv", "Date,Close\n2025-12-03 21:00:00+00:00,1.5\n")
    with pytest.raises(DataError) as info:
        CsvSource(tmp_path).get("ABC.V")
    msg = str(info.value)
    assert "line 2" in msg and "exchange of ABC.V is not known" in msg
    assert "exchanges={'ABC.V': 'XTKS'}" in msg and "\n" not in msg
    df = CsvSource(tmp_path, exchanges={"ABC.V": "XTSE"}).get("ABC.V")
    assert df.index[0] == pd.Timestamp("2025-12-03")
    with pytest.raises(DataError, match="unknown exchange code 'NOPE'"):
        CsvSource(tmp_path, exchanges={"ABC.V": "NOPE"}).get("ABC.V")
    # plain dates never need the exchange
    write(tmp_path / "ABC.V.csv", "Date,Close\n2025-12-03,1.5\n")
    assert len(CsvSource(tmp_path).get("ABC.V")) == 1


def test_a_wide_file_converts_one_stamp_per_symbols_exchange(tmp_path: Path):
    """16:00 UTC is 01:00 the next day in Tokyo and 11:00 the same day in New York."""
    f = write(
        tmp_path / "wide.csv",
        "Date,7203.T,AAPL\n2025-12-02 16:00:00+00:00,2745.5,280.1\n"
        "2025-12-03 16:00:00+00:00,2760,281.2\n",
    )
    src = CsvSource(f)
    assert list(src.get("7203.T").index.strftime("%m-%d")) == ["12-03", "12-04"]
    assert list(src.get("AAPL").index.strftime("%m-%d")) == ["12-02", "12-03"]
    panel = src.panel()
    assert list(panel.index.strftime("%m-%d")) == ["12-02", "12-03", "12-04"]
    assert panel.loc["2025-12-04", "7203.T"] == 2760.0 and np.isnan(panel.loc["2025-12-04", "AAPL"])


def test_read_price_csv_takes_the_exchange(tmp_path: Path):
    f = write(tmp_path / "X.csv", "Date,Close\n2025-12-02 16:00:00+00:00,1\n")
    assert read_price_csv(f, exchange="XTKS").index[0] == pd.Timestamp("2025-12-03")
    assert read_price_csv(f).index[0] == pd.Timestamp("2025-12-02")  # no suffix: XNYS


# ----------------------------------------------------------------------------- row width


def test_a_separator_ending_every_line_is_read_when_the_header_has_it_too(tmp_path: Path):
    write(tmp_path / "A.csv", "Date,Close,\n2025-01-06,10.5,\n2025-01-07,10.6,\n")
    assert list(CsvSource(tmp_path).get("A")["close"]) == [10.5, 10.6]


def test_a_trailing_separator_the_header_lacks_is_a_wide_row(tmp_path: Path):
    """The overflow of an unquoted thousands separator can end with the empty cell it
    pushed out (Close 3, Adj Close 624.00 from 3,624.00 and an empty Adj Close): a row
    wider than the header is refused even when its extra cell is empty."""
    write(tmp_path / "A.csv", "Date,Close,Adj Close\n2025-01-06,3,624.00,\n2025-01-07,3601,\n")
    with pytest.raises(
        DataError, match=r"line 2: '2025-01-06,3,624.00,' has 4 cells but the header has 3"
    ):
        CsvSource(tmp_path).get("A")


def test_with_a_trailing_header_separator_a_split_number_is_refused(tmp_path: Path):
    """Header and rows end with a separator, but one row lost it to an overflow: the
    number of cells cannot tell; the split number can."""
    write(
        tmp_path / "A.csv",
        "Date,Close,Adj Close,\n2025-01-06,3601.5,3600,\n2025-01-07,3,624.00,\n",
    )
    with pytest.raises(DataError, match=r"line 3: columns 'Close' and 'Adj Close' hold 3 and 624"):
        CsvSource(tmp_path).get("A")
    write(
        tmp_path / "A.csv",
        "Date,Close,Adj Close,\n2025-01-06,3601.5,3600,\n2025-01-07,3,624.00,9\n",
    )
    with pytest.raises(
        DataError, match=r"line 3: '2025-01-07,3,624.00,9' has 4 cells but the header names 3"
    ):
        CsvSource(tmp_path).get("A")


def test_a_short_row_has_missing_cells_never_zero_or_a_neighbours_value(tmp_path: Path):
    """Documented rule: cells a row lacks are empty; an empty price is no observation."""
    write(tmp_path / "A.csv", "Date,Close,Adj Close\n2025-01-06,10,5\n2025-01-07,12\n")
    df = CsvSource(tmp_path).get("A")
    # Adj Close missing on 01-07: the Prices contract falls back to that day's close
    assert list(df["close"]) == [10.0, 12.0] and list(df["adj_close"]) == [5.0, 12.0]
    wide = write(
        tmp_path / "w.csv", "Date,AAA,BBB\n2025-01-06,1,2\n2025-01-07,3\n2025-01-08,5,2.1\n"
    )
    src = CsvSource(wide)
    assert list(src.get("BBB").index.day) == [6, 8]
    assert list(src.get("BBB")["close"]) == [2.0, 2.1]


def test_line_numbers_count_metadata_blank_lines_and_quoted_line_breaks(tmp_path: Path):
    write(
        tmp_path / "7203.T.csv",
        "Security,7203 JT Equity\n"  # 1
        ",\n"  # 2
        "Dates,PX_LAST,Comment\n"  # 3 header
        "\n"  # 4 blank
        '01/06/2025,"2,745.50",ok\n'  # 5
        '01/07/2025,2760,"two\nlines"\n'  # 6-7
        "01/08/2025,abc,\n",  # 8
    )
    with pytest.raises(DataError, match=r"line 8, column 'PX_LAST': cannot read price 'abc'"):
        CsvSource(tmp_path).get("7203.T")


# ----------------------------------------------------------------------------- special files


@contextmanager
def unblock_after(fifo: Path, seconds: float = 20.0) -> Iterator[None]:
    """If a reader blocks on ``fifo`` (the bug), open and close its writing end after a
    while so that the test fails instead of hanging the suite."""
    done = threading.Event()

    def rescue() -> None:
        if not done.wait(seconds):
            with open(fifo, "wb"):
                pass

    t = threading.Thread(target=rescue, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()


def test_a_named_pipe_is_refused_as_a_price_file_and_as_a_single_file_source(tmp_path: Path):
    fifo = tmp_path / "7203.T.csv"
    os.mkfifo(fifo)
    with unblock_after(fifo):
        with pytest.raises(DataError, match=r"7203.T.csv is a named pipe, not a regular file"):
            CsvSource(tmp_path).get("7203.T")
        with pytest.raises(DataError, match="named pipe"):
            CsvSource(fifo).get("7203.T")
        with pytest.raises(DataError, match="named pipe"):
            read_price_csv(fifo)


def test_a_character_device_is_refused(tmp_path: Path):
    with pytest.raises(DataError, match=r"/dev/null is a character device"):
        CsvSource("/dev/null").get("null")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_config_that_is_a_named_pipe_is_refused(tmp_path: Path, command: str):
    fifo = tmp_path / "study.yaml"
    os.mkfifo(fifo)
    with unblock_after(fifo):
        result = CliRunner().invoke(cli.main, [command, str(fifo)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "a regular YAML file, not a pipe or device" in lines[0]
    from eventstudy.config import load_config

    with unblock_after(fifo), pytest.raises(ConfigError, match="not a pipe"):
        load_config(fifo)


# ----------------------------------------------------------------------------- parsed once


@pytest.fixture
def count_parses(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = pd.read_csv

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counting)
    return calls


def test_a_wide_file_is_parsed_once_for_all_its_symbols(tmp_path: Path, count_parses):
    f = write(tmp_path / "w.csv", "Date,AAA,BBB,CCC\n2025-01-06,1,2,3\n2025-01-07,1.1,2.1,3.1\n")
    src = CsvSource(f)
    for sym in ("AAA", "BBB", "CCC", "AAA"):
        src.get(sym)
    src.panel()
    assert len(count_parses) == 1
    os.utime(f, ns=(1, 1))  # a changed file is read again
    src.get("AAA")
    assert len(count_parses) == 2


def test_a_long_file_is_parsed_once_for_all_its_symbols(tmp_path: Path, count_parses):
    f = write(
        tmp_path / "l.csv",
        "date,ticker,close\n2025-01-06,AAA,1\n2025-01-06,BBB,2\n2025-01-07,AAA,1.1\n"
        "2025-01-07,BBB,2.2\n",
    )
    src = CsvSource(f)
    assert src.symbols() == ["AAA", "BBB"]
    assert list(src.get("BBB")["close"]) == [2.0, 2.2]
    assert list(src.get("AAA")["close"]) == [1.0, 1.1]
    assert len(count_parses) == 1


# ----------------------------------------------------------------------------- against pandas


def random_wide(rng: np.random.Generator, n_dates: int, n_sym: int) -> pd.DataFrame:
    dates = pd.bdate_range("2015-01-02", periods=n_dates)
    prices = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_dates, n_sym)), axis=0))
    prices = np.round(prices, 4)
    prices[rng.random(prices.shape) < 0.03] = np.nan
    return pd.DataFrame(
        prices, index=pd.Index(dates, name="Date"), columns=[f"S{i}" for i in range(n_sym)]
    )


def test_wide_file_gives_exactly_what_pandas_reads(tmp_path: Path):
    truth = random_wide(np.random.default_rng(1), 400, 60)
    f = tmp_path / "wide.csv"
    truth.to_csv(f)
    oracle = pd.read_csv(f, index_col=0, parse_dates=True)
    src = CsvSource(f)
    for sym in ("S0", "S17", "S59"):
        got = quiet_get(src, sym)["close"]
        want = oracle[sym].dropna()
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
        assert got.index.equals(pd.DatetimeIndex(want.index))
    panel = src.panel()
    np.testing.assert_array_equal(panel.to_numpy(), oracle.to_numpy())
    assert list(panel.columns) == list(oracle.columns)
    sub = src.panel(["s3", "S1"], "2015-03-02", "2015-03-31")  # names matched as get does
    assert list(sub.columns) == ["s3", "S1"]
    assert sub.index[0] == pd.Timestamp("2015-03-02") and sub.index[-1] == pd.Timestamp(
        "2015-03-31"
    )
    with pytest.raises(UnknownSymbol, match="ZZZ"):
        src.panel(["S1", "ZZZ"])


def test_long_file_gives_exactly_what_pandas_reads(tmp_path: Path):
    truth = random_wide(np.random.default_rng(2), 250, 30)
    long = truth.stack().dropna().rename("Adj Close").reset_index()
    long.columns = ["Date", "Symbol", "Adj Close"]
    long = long.sample(frac=1.0, random_state=3)  # any row order
    long["Close"] = long["Adj Close"] * 2
    f = tmp_path / "long.csv"
    long.to_csv(f, index=False)
    oracle = pd.read_csv(f, parse_dates=["Date"])
    src = CsvSource(f)
    for sym in ("S0", "S29"):
        want = oracle[oracle["Symbol"] == sym].sort_values("Date")
        got = quiet_get(src, sym)
        np.testing.assert_array_equal(got["adj_close"].to_numpy(), want["Adj Close"].to_numpy())
        np.testing.assert_array_equal(got["close"].to_numpy(), want["Close"].to_numpy())
        assert got.index.equals(pd.DatetimeIndex(want["Date"].to_numpy(), name="date"))
    panel = src.panel()
    pivot = oracle.pivot(index="Date", columns="Symbol", values="Adj Close")[panel.columns]
    np.testing.assert_array_equal(panel.to_numpy(), pivot.to_numpy())


def test_long_file_problems_belong_to_their_symbol(tmp_path: Path):
    f = write(
        tmp_path / "l.csv",
        "date,ticker,adj_close\n2025-01-06,AAA,10\n2025-01-06,BBB,abc\n2025-01-07,AAA,11\n"
        "2025-01-07, ,3\n",
    )
    with pytest.raises(DataError, match=r"line 5, column 'ticker': empty symbol"):
        CsvSource(f).get("AAA")
    write(f, "date,ticker,adj_close\n2025-01-06,AAA,10\n2025-01-06,BBB,abc\n2025-01-07,AAA,11\n")
    src = CsvSource(f)
    assert list(src.get("AAA")["adj_close"]) == [10.0, 11.0]
    with pytest.raises(DataError, match=r"line 3, column 'adj_close': cannot read price 'abc'"):
        src.get("BBB")


@pytest.fixture(scope="module")
def universe(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "universe"
    if not (path / "us_adj_close.csv").is_file():
        pytest.skip(f"{path} is absent")
    return path


# From ../shared/data/universe/README.md.
UNIVERSE_README_SYMBOLS = 3419
UNIVERSE_README_SESSIONS = 1305
UNIVERSE_README_MISSING_CELLS = 1197
UNIVERSE_README_MEDIAN_2020_03_16 = -0.1215


def test_the_shared_universe_loads_through_csvsource_as_pandas_reads_it(universe: Path):
    oracle = pd.read_csv(universe / "us_adj_close.csv", index_col=0, parse_dates=True)
    src = CsvSource(universe / "us_adj_close.csv")
    panel = src.panel()
    assert panel.shape == (UNIVERSE_README_SESSIONS, UNIVERSE_README_SYMBOLS)
    assert int(panel.isna().sum().sum()) == UNIVERSE_README_MISSING_CELLS
    np.testing.assert_array_equal(panel.to_numpy(), oracle[panel.columns].to_numpy())
    assert panel.index.equals(pd.DatetimeIndex(oracle.index, name="date"))
    median = (panel / panel.shift(1) - 1).loc["2020-03-16"].median()
    assert round(float(median), 4) == UNIVERSE_README_MEDIAN_2020_03_16
    tm = src.get("TM", "2020-01-01", "2020-12-31")
    np.testing.assert_array_equal(tm["adj_close"].to_numpy(), oracle.loc["2020", "TM"].dropna())


def test_the_shared_volumes_load_as_a_volume_panel_with_their_zeros(universe: Path):
    oracle = pd.read_csv(universe / "us_volume.csv", index_col=0, parse_dates=True)
    src = CsvSource(universe / "us_volume.csv")
    panel = src.panel(values="volume")
    np.testing.assert_array_equal(panel.to_numpy(), oracle[panel.columns].to_numpy(dtype=float))
    assert (panel == 0).to_numpy().sum() == (oracle == 0).to_numpy().sum() > 0
    with pytest.raises(DataError, match=r"price '0' is zero"):  # a volume is not a price
        src.panel(values="price")


def test_panel_needs_one_wide_or_long_file(tmp_path: Path):
    write(tmp_path / "A.csv", "Date,Close\n2025-01-06,1\n")
    with pytest.raises(DataError, match="is a folder"):
        CsvSource(tmp_path).panel()
    with pytest.raises(DataError, match="holds one symbol"):
        CsvSource(tmp_path / "A.csv").panel()


def test_the_block_scan_of_row_widths_agrees_with_the_csv_module(tmp_path: Path, monkeypatch):
    """The vectorised width scan (blocks of bytes, quotes tracked across blocks) finds a
    wide row exactly when Python's csv module does, whatever the block boundaries."""
    import random

    from eventstudy.data import csv_table

    rng = random.Random(5)
    cells = ["1", "2.5", '"2,745.50"', '""', '"a ""b"""', '"x\ny"', "", '12"', "3,624.00"]
    seen = {True: 0, False: 0}
    for i in range(120):
        monkeypatch.setattr(csv_table, "_BLOCK", rng.choice([1, 2, 3, 7, 64, 1 << 16]))
        n = rng.randint(2, 4)
        rows = [
            ",".join(rng.choice(cells) for _ in range(rng.choice([n - 1, n, n, n, n + 1])))
            for _ in range(rng.randint(1, 6))
        ]
        eol = rng.choice(["\n", "\r\n", "\r"])
        header = ",".join(["Date"] + [f"C{j}" for j in range(n - 1)])
        f = write(tmp_path / f"f{i}.csv", eol.join([header, *rows]) + eol)
        table = csv_table.CsvTable(f, "x")
        exact = table._has_wide_record(table._head)
        assert table._has_wide_row(table._head) == exact, (f.read_text(), exact)
        seen[exact] += 1
    assert min(seen.values()) > 20, seen


def test_frames_are_what_finalize_prices_makes_of_the_parsed_columns(tmp_path: Path):
    """CsvSource builds Prices frames directly (cheap for thousands of symbols); they are
    exactly the shared contract function's result on the same columns."""
    from eventstudy.data.sources import finalize_prices

    write(
        tmp_path / "A.csv",
        "Date,Open,Close,Adj Close,Volume\n2025-01-08,1,11,,100\n2025-01-06,1,10,5,100\n"
        "2025-01-07,1,,6,\n2025-01-09,1,,,7\n2025-01-10,2,12,6.5,8\n",
    )
    got = CsvSource(tmp_path).get("A", "2025-01-07", "2025-01-10")
    raw = read_price_csv(tmp_path / "A.csv")
    want = finalize_prices(
        raw,
        "A",
        got.attrs["provenance"],
        start=pd.Timestamp("2025-01-07"),
        end=pd.Timestamp("2025-01-10"),
    )
    pd.testing.assert_frame_equal(got, want)
    assert list(got.index.day) == [7, 8, 10]  # 01-09 has no price at all
    assert np.isnan(got.loc["2025-01-07", "close"]) and got.loc["2025-01-08", "adj_close"] == 11.0


@pytest.mark.parametrize(
    "texts",
    [
        ["2024-01-02", "2024-01-03", "2025-12-31"],
        ["2024-01-02"],
        [],
        ["2024-01-02", "NA"],
        ["2024-01-02", "2024-1-03"],
        ["2024-01-02", "2024-01-03 "],
        ["2024-01-02\n2024-01-03"],  # a quoted cell holding a line end: judged one by one
        ["2024-01-02\n2024-01-03", "x"],
        ["2024-01-02", ""],
        ["\u0662\u0660\u0662\u0664-01-02"],  # Arabic-Indic digits: re's \d matches them too
        ["2024-01-02T10:00:00"],
    ],
)
def test_one_pass_date_check_agrees_with_fullmatch_per_text(texts):
    import re

    from eventstudy.data.csv_table import _PLAIN_DATE, _all_match

    arr = np.array(texts, dtype=object)
    expected = bool(texts) and all(re.fullmatch(_PLAIN_DATE, t) is not None for t in texts)
    got = _all_match(arr, _PLAIN_DATE)
    if any("\n" in t for t in texts):
        assert got is False  # the caller falls back to the per-text check
    else:
        assert got is expected


def test_a_missing_date_token_among_plain_dates_is_still_refused(tmp_path):
    path = tmp_path / "AAA.csv"
    path.write_text("Date,Close\n2024-01-02,10\nNA,11\n2024-01-04,12\n")
    with pytest.raises(DataError, match=r"line 3, column 'Date': empty date"):
        read_price_csv(path, "AAA")
