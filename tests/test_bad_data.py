"""Bad price data through ``eventstudy run`` (issue 6): exit code, one stderr line, no debris.

Two catalogues, both run as ``eventstudy run configs/kei_cars.yaml --prices DIR --out OUT``
on a copy of the real prices (``../shared/data/prices``, copied into ``tmp_path`` only):

* ``tests/bad_data/*.csv`` -- small malformed files, each put in place of ``7201.T.csv``
  (missing columns, unparseable/empty/ambiguous/duplicate dates, zero, negative, infinite
  or textual prices, empty files ...). Each must exit 3 with ONE ``error:`` line naming the
  symbol, the file, the line/column or value, and the fix; no traceback; no report folder.
* data that reads fine but cannot be studied as is, generated from the real prices:
  shuffled rows (must give the same numbers), an unadjusted split (a warning with date and
  size), constant prices, a short history, a missing day 0, histories ending before or
  starting after the events. Each must exit 0 with the firm-event in ``tables/excluded.csv``
  (reason given) or exit 3 naming the dates -- never a NaN table.

A CSV-reader fuzz (random line edits and random bytes) checks that any file gives either a
frame or a :class:`DataError`, never another exception.
"""

from __future__ import annotations

import random
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy import cli
from eventstudy.data.csv_source import CsvSource, read_price_csv
from eventstudy.exceptions import DataError, EventStudyError

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "configs" / "kei_cars.yaml"
BAD_DATA = Path(__file__).resolve().parent / "bad_data"
SECURITIES = ["7203.T", "7267.T", "7201.T", "7211.T", "7269.T", "7270.T", "7261.T"]
BENCHMARKS = ["TOPIX", "^N225", "JPY=X"]
VICTIM = "7201.T"

# file in tests/bad_data -> fragments the single error line must hold (besides symbol/file)
FILE_CASES: dict[str, tuple[str, ...]] = {
    "missing_close_column.csv": ("no Close or Adj Close column", "add a Close column"),
    "missing_date_column.csv": ("no date column", "name the first column Date"),
    "empty_first_line.csv": ("no Close or Adj Close column", "add a Close column"),
    "empty_file.csv": ("no date column", "name the first column Date"),
    "unparseable_date.csv": ("line 4", "column 'Date'", "'2025-12-33'", "YYYY-MM-DD"),
    "empty_date.csv": ("line 2", "column 'Date'", "empty date", "YYYY-MM-DD"),
    "ambiguous_dates.csv": ("'01/02/2025'", "ambiguous", "YYYY-MM-DD"),
    "duplicate_dates.csv": ("lines 3, 4", "duplicate date 2025-12-02", "keep one row per date"),
    "duplicate_column.csv": ("'Close' appears twice", "distinct name"),
    "zero_price.csv": ("line 3", "column 'Close'", "'0' is zero", "prices must be positive"),
    "negative_price.csv": ("line 3", "'-101' is negative", "prices must be positive"),
    "infinite_price.csv": ("line 3", "'inf' is not finite", "use finite prices"),
    "text_in_price.csv": ("line 3", "cannot read price '1O1.5'", "use plain numbers"),
    "header_only.csv": ("column 'Close'", "no prices", "check the file"),
    "no_prices.csv": ("column 'Close'", "no prices", "check the file"),
    # issue 15: rows wider than the header (the extra cell used to be dropped silently:
    # 3,624.00 was read as 3), quotes that never close, and time stamps
    "unquoted_thousands.csv": (
        "line 3",
        "'2025-12-02,3,624.00' has 3 cells but the header has 2",
        'quote a number that has a thousands separator ("3,624.00")',
    ),
    "too_many_cells.csv": ("line 3", "has 4 cells but the header has 2", "thousands separator"),
    "first_row_too_wide.csv": ("line 2", "has 4 cells but the header has 2", "extra separator"),
    "extra_cell_without_date.csv": ("line 3", "',,101' has 3 cells", "extra separator"),
    "unbalanced_quote.csv": ("line 3", "never closed", "close the quote"),
    "mixed_time_zones.csv": (
        "line 3",
        "column 'Date'",
        "'2025-12-02' has no time zone",
        "all time stamps with their offset",
    ),
    "stamps_in_another_zone.csv": (
        "line 3",
        "'2025-12-05 10:00:00-05:00' is Saturday 2025-12-06 in XTKS local time (Asia/Tokyo)",
        "not in the zone they claim",
    ),
    "impossible_time_stamp.csv": ("line 3", "cannot read date '2025-12-03 25:00:00+09:00'"),
    "date_out_of_range.csv": ("line 3", "'9999-12-31' is out of range", "YYYY-MM-DD"),
}


def copy_prices(prices_dir: Path, folder: Path) -> Path:
    """Copy the CSVs the kei-car study reads into ``folder`` (tmp) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SECURITIES + BENCHMARKS:
        shutil.copyfile(prices_dir / f"{name}.csv", folder / f"{name}.csv")
    return folder


def edit(folder: Path, symbol: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = folder / f"{symbol}.csv"
    frame = pd.read_csv(path, dtype={"Date": str})
    change(frame).to_csv(path, index=False)


def run_cli(prices: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli.main,
        ["run", str(KEI), "--prices", str(prices), "--out", str(out), "--offline"],
        catch_exceptions=False,
    )
    return result.exit_code, result.stderr


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_no_debris(out: Path, *, report: bool) -> None:
    """Only the finished report folder (or nothing) in ``out``: no temp or old folders."""
    names = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert names == (["kei_cars"] if report else []), names


def test_every_catalogue_file_has_an_expectation():
    assert sorted(p.name for p in BAD_DATA.glob("*.csv")) == sorted(FILE_CASES)


@pytest.mark.parametrize("name", sorted(FILE_CASES), ids=lambda n: n.removesuffix(".csv"))
def test_malformed_csv_exits_3_with_one_line(tmp_path: Path, prices_dir: Path, name: str):
    folder = copy_prices(prices_dir, tmp_path / "prices")
    shutil.copyfile(BAD_DATA / name, folder / f"{VICTIM}.csv")
    code, err = run_cli(folder, tmp_path / "out")
    line = one_error_line(err)
    assert code == 3, err
    assert line.startswith(f"error: {VICTIM}: ") and str(folder / f"{VICTIM}.csv") in line
    for fragment in FILE_CASES[name]:
        assert fragment in line, (fragment, line)
    assert_no_debris(tmp_path / "out", report=False)


def test_a_price_file_that_is_a_named_pipe_is_refused_at_once(tmp_path: Path, prices_dir: Path):
    """A FIFO in place of a price file used to block the run forever (issue 15)."""
    import os

    folder = copy_prices(prices_dir, tmp_path / "prices")
    (folder / f"{VICTIM}.csv").unlink()
    os.mkfifo(folder / f"{VICTIM}.csv")
    code, err = run_cli(folder, tmp_path / "out")  # returns: nothing opens the pipe
    line = one_error_line(err)
    assert code == 3 and "is a named pipe, not a regular file" in line, err
    assert_no_debris(tmp_path / "out", report=False)


def test_unreadable_bytes_exit_3_not_an_internal_error(tmp_path: Path, prices_dir: Path):
    """Random bytes (an empty second line made the reader raise IndexError: exit 1)."""
    folder = copy_prices(prices_dir, tmp_path / "prices")
    (folder / f"{VICTIM}.csv").write_bytes(bytes(range(256)) * 4)
    code, err = run_cli(folder, tmp_path / "out")
    line = one_error_line(err)
    assert code == 3 and VICTIM in line and "name the first column Date" in line, err


# ----------------------------------------------------------------------------- semantic cases

CONSTANT, SHORT, SPLIT, SHUFFLED, DAY0_GONE, ENDS_EARLY, STARTS_LATE = SECURITIES


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory, prices_dir: Path) -> tuple[int, str, Path, Path]:
    """ONE run with a different defect in every security (one run keeps the suite short).

    A firm-event's abnormal returns under the market model depend only on its own series
    and the market, so each defect is checked on its own security.
    """
    tmp = tmp_path_factory.mktemp("damaged")
    folder = copy_prices(prices_dir, tmp / "prices")
    const = ["Open", "High", "Low", "Close"]
    edit(folder, CONSTANT, lambda f: f.assign(**{c: 1234.0 for c in const}))
    edit(folder, SHORT, lambda f: f[f["Date"] >= "2025-09-01"])  # ~55 estimation sessions
    edit(  # an unadjusted 1:3 split on 2025-09-01: earlier closes three times higher
        folder,
        SPLIT,
        lambda f: f.assign(Close=f["Close"].where(f["Date"] >= "2025-09-01", f["Close"] * 3)),
    )
    edit(folder, SHUFFLED, lambda f: f.sample(frac=1.0, random_state=7))
    edit(folder, DAY0_GONE, lambda f: f[f["Date"] != "2025-12-04"])
    edit(folder, ENDS_EARLY, lambda f: f[f["Date"] < "2025-11-01"])
    edit(folder, STARTS_LATE, lambda f: f[f["Date"] > "2025-12-20"])
    out = tmp / "out"
    code, err = run_cli(folder, out)
    return code, err, out / "kei_cars", folder


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, prices_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("clean")
    folder = copy_prices(prices_dir, tmp / "prices")
    code, err = run_cli(folder, tmp / "out")
    assert code == 0, err
    return tmp / "out" / "kei_cars"


def test_utc_stamped_prices_give_the_same_abnormal_returns(
    tmp_path: Path, prices_dir: Path, clean_run: Path
):
    """Nissan's closes stamped in UTC (midnight Tokyo = 15:00 the day before): converted to
    Tokyo dates, every AR is the original's; the date part alone put each price one
    session early and flipped day 0 of the kei-car event from +1.87% to -1.85% (issue 15)."""
    folder = copy_prices(prices_dir, tmp_path / "prices")
    frame = pd.read_csv(folder / f"{VICTIM}.csv", dtype={"Date": str})
    stamps = pd.to_datetime(frame["Date"]).dt.tz_localize("Asia/Tokyo").dt.tz_convert("UTC")
    frame["Date"] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    assert frame["Date"].iloc[0].endswith(" 15:00:00+00:00")
    frame.to_csv(folder / f"{VICTIM}.csv", index=False)
    code, err = run_cli(folder, tmp_path / "out")
    assert code == 0, err
    cols = ["event_id", "security", "rel_day", "ar"]
    got = pd.read_csv(tmp_path / "out" / "kei_cars" / "tables" / "abnormal_returns.csv")
    want = pd.read_csv(clean_run / "tables" / "abnormal_returns.csv")
    got = got[got["security"] == VICTIM][cols].reset_index(drop=True)
    want = want[want["security"] == VICTIM][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, rtol=1e-12)
    kei_day0 = want[want["event_id"].str.startswith("kei") & (want["rel_day"] == 0)]
    # the figure the issue quotes for the original file (+1.87%)
    assert len(kei_day0) == 1 and round(float(kei_day0["ar"].iloc[0]), 4) == 0.0187


def excluded(report: Path) -> pd.DataFrame:
    return pd.read_csv(report / "tables" / "excluded.csv")


def reasons(report: Path, security: str) -> list[str]:
    table = excluded(report)
    return table.loc[table["security"] == security, "reason"].tolist()


def test_damaged_run_still_writes_a_report(damaged_run):
    code, err, report, _ = damaged_run
    assert code == 0, err
    assert "Traceback" not in err and "error:" not in err
    assert_no_debris(report.parent, report=True)


def test_shuffled_rows_give_the_same_numbers(damaged_run, clean_run):
    _, _, report, _ = damaged_run
    cols = ["event_id", "security", "rel_day", "ar"]
    got = pd.read_csv(report / "tables" / "abnormal_returns.csv")
    want = pd.read_csv(clean_run / "tables" / "abnormal_returns.csv")
    got = got[got["security"] == SHUFFLED][cols].reset_index(drop=True)
    want = want[want["security"] == SHUFFLED][cols].reset_index(drop=True)
    assert len(got) == 42
    pd.testing.assert_frame_equal(got, want, rtol=1e-12)


def test_unadjusted_split_is_one_warning_with_date_and_size(damaged_run):
    _, err, report, _ = damaged_run
    lines = [line for line in err.splitlines() if SPLIT in line and "split" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("warning: ") and "2025-09-01" in lines[0]
    assert "price ratio 0.3" in lines[0] and "split-adjusted" in lines[0]  # 1:3 and a real move
    assert reasons(report, SPLIT) == []  # the run continues with the series


def test_constant_prices_are_excluded_with_the_reason(damaged_run):
    got = reasons(damaged_run[2], CONSTANT)
    assert len(got) == 2 and all("zero or undefined residual variance" in r for r in got), got


def test_short_history_is_excluded_with_the_count(damaged_run):
    got = reasons(damaged_run[2], SHORT)
    assert len(got) == 2 and all("< min_estimation_obs=100" in r for r in got), got


def test_history_ending_before_the_events_is_excluded(damaged_run):
    got = reasons(damaged_run[2], ENDS_EARLY)
    assert len(got) == 2 and all("no return inside the event window" in r for r in got), got


def test_history_starting_after_the_events_is_excluded(damaged_run):
    got = reasons(damaged_run[2], STARTS_LATE)
    assert len(got) == 2 and all("0 estimation observations" in r for r in got), got


def test_no_nan_in_the_tables_of_included_firm_events(damaged_run):
    """Every CAR row of an included firm-event has a number (no silent NaN table)."""
    report = damaged_run[2]
    car = pd.read_csv(report / "tables" / "car.csv")
    gone = set(map(tuple, excluded(report)[["event_id", "security"]].to_numpy()))
    keep = [(e, s) not in gone for e, s in zip(car["event_id"], car["security"], strict=True)]
    kept = car[keep]
    assert set(kept["security"]) >= {SPLIT, SHUFFLED}
    assert not kept[["car", "se"]].isna().any().any()
    tests = pd.read_csv(report / "tables" / "tests.csv")
    assert np.isfinite(tests["caar"]).all()


def test_missing_day0_is_excluded_with_the_date(damaged_run):
    """Day 0 is the reaction measured: a firm-event without it is excluded (issue 6), the
    reason names the date, and stderr says so; no NaN CAR row is left for it."""
    _, err, report, _ = damaged_run
    got = reasons(report, DAY0_GONE)
    kei = [r for r in got if "2025-12-04" in r]
    assert len(kei) == 1 and "no return on day 0" in kei[0], got
    assert any(DAY0_GONE in line and "excluded" in line for line in err.splitlines()), err
    car = pd.read_csv(report / "tables" / "car.csv")
    row = car[(car["security"] == DAY0_GONE) & car["event_id"].str.startswith("kei_cafe")]
    assert row.empty


def test_exclusions_are_announced_on_stderr(damaged_run):
    _, err, _, _ = damaged_run
    assert any(CONSTANT in line and "excluded" in line for line in err.splitlines()), err


def _truncate_all(folder: Path, keep: Callable[[pd.DataFrame], pd.Series]) -> None:
    for name in SECURITIES + BENCHMARKS:
        edit(folder, name, lambda f: f[keep(f)])


@pytest.mark.parametrize(
    ("case", "keep", "fragments"),
    [
        ("data_end_before_events", lambda f: f["Date"] < "2025-11-01", ("2025-12-04",)),
        ("data_end_inside_window", lambda f: f["Date"] < "2025-12-10", ("runs after the last",)),
        ("data_start_after_events", lambda f: f["Date"] > "2025-12-20", ("2025-12-04",)),
    ],
)
def test_events_outside_the_data_exit_3_naming_the_dates(
    tmp_path: Path, prices_dir: Path, case: str, keep, fragments
):
    folder = copy_prices(prices_dir, tmp_path / "prices")
    _truncate_all(folder, keep)
    code, err = run_cli(folder, tmp_path / "out")
    line = one_error_line(err)
    assert code == 3, err
    for fragment in fragments:
        assert fragment in line, line
    assert_no_debris(tmp_path / "out", report=False)


def test_events_after_the_data_name_the_last_price_date(tmp_path: Path, prices_dir: Path):
    folder = copy_prices(prices_dir, tmp_path / "prices")
    _truncate_all(folder, lambda f: f["Date"] < "2025-11-01")
    _, err = run_cli(folder, tmp_path / "out")
    line = one_error_line(err)
    assert "2025-10-31" in line and line.count("is not a session") <= 1, line


# ----------------------------------------------------------------------------- reader fuzz

_TOKENS = [
    "", ",", ";", "\t", "|", '"', "\x00", "nan", "-1", "0", "1e308", "1e-320", "inf",
    "2025-02-30", "Date", "Close", "Adj Close", "\ufeff", "\r", "13/13/2025", "01/02/2025",
    "1,234.5", "1.234,5", "#N/A", "é", "\\", " ", "Symbol", "Ticker",
]  # fmt: skip


def mutate_csv(rng: random.Random, base: list[str]) -> bytes:
    """A random edit of a real price file (or, rarely, random bytes)."""
    if rng.random() < 0.05:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    lines = list(base[: rng.randint(0, len(base))])
    for _ in range(rng.randint(0, 6)):
        if not lines:
            lines.append("")
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.2:
            del lines[i]
        elif op < 0.4:
            cells = lines[i].split(",")
            cells[rng.randrange(len(cells))] = rng.choice(_TOKENS)
            lines[i] = ",".join(cells)
        elif op < 0.5:
            lines.insert(i, lines[i])
        elif op < 0.6:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op < 0.7:
            rng.shuffle(lines)
        elif op < 0.8:
            lines[i] = lines[i].replace(",", rng.choice([";", "\t", "|", ",,"]))
        else:
            lines.insert(i, "".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 5))))
    return "\n".join(lines).encode("utf-8")


def read_any(path: Path, rng: random.Random) -> pd.DataFrame | None:
    """Read ``path`` as a per-symbol file or as a single-file source; DataError -> None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if rng.random() < 0.5:
                return read_price_csv(path, "X")
            return CsvSource(path).get("fz")
        except DataError as err:
            assert "\n" not in str(err)
            return None


def test_csv_reader_fuzz_gives_a_frame_or_a_data_error(tmp_path: Path, prices_dir: Path):
    base = (prices_dir / "7203.T.csv").read_text(encoding="utf-8").splitlines()[:120]
    path = tmp_path / "fz.csv"
    outcomes = {"frame": 0, "error": 0}
    for seed in range(200):
        rng = random.Random(seed)
        path.write_bytes(mutate_csv(rng, base))
        try:
            frame = read_any(path, rng)
        except EventStudyError:  # UnknownSymbol for a file named differently, etc.
            frame = None
        if frame is None:
            outcomes["error"] += 1
            continue
        outcomes["frame"] += 1
        assert frame.index.is_monotonic_increasing and frame.index.is_unique
        price = frame["adj_close" if "adj_close" in frame else "close"].dropna()
        assert (price > 0).all() and np.isfinite(price).all()
    assert outcomes["frame"] > 25 and outcomes["error"] > 25, outcomes


def test_a_malformed_benchmark_file_is_an_error_not_a_silent_fallback(
    tmp_path: Path, prices_dir: Path
):
    """TOPIX.csv that exists but cannot be read must not be skipped for ^N225 quietly."""
    folder = copy_prices(prices_dir, tmp_path / "prices")
    (folder / "TOPIX.csv").write_text("Date,Close\n2025-01-06,abc\n2025-01-07,-5\n")
    code, err = run_cli(folder, tmp_path / "out")
    line = one_error_line(err)
    assert code == 3 and "TOPIX" in line, err
