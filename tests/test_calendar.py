"""Event timing on real exchange calendars (issue 2's worked cases) and session counting."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.calendar import (
    event_timing,
    exchange_for_symbol,
    reacting_session,
    reacting_session_rule,
    relative_day,
    relative_sessions,
    session_offset,
    sessions,
    window_sessions,
)
from eventstudy.exceptions import ConfigError, DataError

NY = "America/New_York"
TOKYO = "Asia/Tokyo"

# (announced, time zone, exchange, expected session, expected rule), from issue 2 and
# ../shared/seeds/event-facts.csv (first_tse_day / first_us_day)
WORKED_CASES = [
    # Oval Office kei-car event: Tokyo is closed (04:30 JST on 12-04), New York is open
    ("2025-12-03 14:30", NY, "XTKS", "2025-12-04", "before open"),
    ("2025-12-03 14:30", NY, "XNYS", "2025-12-03", "during session"),
    # TINY CARS post, Friday morning ET = 23:00 JST Friday -> Monday in Tokyo
    ("2025-12-05 09:00", NY, "XTKS", "2025-12-08", "after close"),
    ("2025-12-05 09:00", NY, "XNYS", "2025-12-05", "before open"),
    # US-Japan deal post: 08:12 JST on 07-23, before the Tokyo open; after the NYSE close
    ("2025-07-22 19:12", NY, "XTKS", "2025-07-23", "before open"),
    ("2025-07-22 19:12", NY, "XNYS", "2025-07-23", "after close"),
    # Friday after the close before Golden Week (05-03..05-06 closed)
    ("2025-05-02 16:00", TOKYO, "XTKS", "2025-05-07", "after close"),
    # the close (15:30 JST since 2024-11-05) is exclusive
    ("2025-12-04 15:29", TOKYO, "XTKS", "2025-12-04", "during session"),
    ("2025-12-04 15:30", TOKYO, "XTKS", "2025-12-05", "after close"),
    ("2025-12-04 15:29:59.999", TOKYO, "XTKS", "2025-12-04", "during session"),
    # before the 15:30 close existed: 15:00 JST was the close
    ("2024-10-31 14:59", TOKYO, "XTKS", "2024-10-31", "during session"),
    ("2024-10-31 15:00", TOKYO, "XTKS", "2024-11-01", "after close"),
    ("2024-10-31 15:29", TOKYO, "XTKS", "2024-11-01", "after close"),
    # the open is inclusive
    ("2025-12-04 08:59", TOKYO, "XTKS", "2025-12-04", "before open"),
    ("2025-12-04 09:00", TOKYO, "XTKS", "2025-12-04", "during session"),
    # Tokyo's lunch break (11:30-12:30) belongs to the session
    ("2025-12-04 11:30", TOKYO, "XTKS", "2025-12-04", "lunch break"),
    ("2025-12-04 12:29", TOKYO, "XTKS", "2025-12-04", "lunch break"),
    ("2025-12-04 12:30", TOKYO, "XTKS", "2025-12-04", "during session"),
    # weekends and holidays
    ("2025-12-06 10:00", TOKYO, "XTKS", "2025-12-08", "non-trading day"),
    ("2025-05-05 10:00", TOKYO, "XTKS", "2025-05-07", "non-trading day"),
    ("2025-07-04 12:00", NY, "XNYS", "2025-07-07", "non-trading day"),
    # the other tariff events of configs/tariffs_2025.yaml
    ("2025-03-26 16:00", NY, "XTKS", "2025-03-27", "before open"),
    ("2025-03-26 16:00", NY, "XNYS", "2025-03-27", "after close"),
    ("2025-04-02 16:00", NY, "XTKS", "2025-04-03", "before open"),
    ("2025-04-02 16:00", NY, "XNYS", "2025-04-03", "after close"),
    ("2025-09-04 17:00", NY, "XTKS", "2025-09-05", "before open"),
    ("2025-09-04 17:00", NY, "XNYS", "2025-09-05", "after close"),
]


@pytest.mark.parametrize(("local", "tz", "exchange", "session", "rule"), WORKED_CASES)
def test_reacting_session_worked_cases(local, tz, exchange, session, rule):
    announced = pd.Timestamp(local, tz=tz)
    got, got_rule = reacting_session_rule(announced, exchange)
    assert got == pd.Timestamp(session)
    assert got.tzinfo is None
    assert got_rule == rule
    assert reacting_session(announced, exchange) == pd.Timestamp(session)


def test_same_instant_in_any_time_zone_gives_same_session():
    ny = pd.Timestamp("2025-12-03 14:30", tz=NY)
    for tz in ("UTC", TOKYO, "Europe/London"):
        assert reacting_session(ny.tz_convert(tz), "XTKS") == pd.Timestamp("2025-12-04")


def test_iso_string_with_offset_is_accepted():
    assert reacting_session("2025-12-03T14:30:00-05:00", "XTKS") == pd.Timestamp("2025-12-04")


def test_naive_timestamp_is_a_config_error():
    with pytest.raises(ConfigError, match="time-zone-aware") as err:
        reacting_session(pd.Timestamp("2025-12-03 14:30"), "XTKS")
    assert "\n" not in str(err.value)


def test_unknown_exchange_is_a_config_error():
    with pytest.raises(ConfigError, match="XTOKYO"):
        reacting_session(pd.Timestamp("2025-12-03 14:30", tz=NY), "XTOKYO")


def test_announcement_outside_the_calendar_is_a_data_error():
    with pytest.raises(DataError, match="outside the XTKS calendar"):
        reacting_session(pd.Timestamp("1990-01-05 10:00", tz=TOKYO), "XTKS")
    with pytest.raises(DataError, match="outside the XNYS calendar"):
        reacting_session(pd.Timestamp("2090-01-05 10:00", tz=NY), "XNYS")


@pytest.mark.parametrize(
    ("symbol", "override", "expected"),
    [
        ("7203.T", None, "XTKS"),
        ("1306.T", None, "XTKS"),
        ("AAPL", None, "XNYS"),
        ("^GSPC", None, "XNYS"),
        ("^N225", None, "XTKS"),
        ("TOPIX", None, "XTKS"),
        ("TM", None, "XNYS"),
        ("7203.T", "XNYS", "XNYS"),
    ],
)
def test_exchange_for_symbol(symbol, override, expected):
    assert exchange_for_symbol(symbol, override) == expected


def test_exchange_for_symbol_unknown_suffix_and_bad_override():
    with pytest.raises(ConfigError, match="suffix"):
        exchange_for_symbol("VOW3.ZZ")
    with pytest.raises(ConfigError, match="exchange-calendars code"):
        exchange_for_symbol("7203.T", "TSE-PRIME")


def test_event_timing_frame():
    events = {
        "kei_cafe_2025-12-03": pd.Timestamp("2025-12-03 14:30", tz=NY),
        "tinycars_truth_2025-12-05": pd.Timestamp("2025-12-05 09:00", tz=NY),
    }
    frame = event_timing(events, ["XTKS", "XNYS", "XTKS"])
    assert list(frame.columns) == ["event_id", "announced", "exchange", "session", "rule"]
    assert len(frame) == 4
    got = {(r.event_id, r.exchange): r.session for r in frame.itertuples()}
    assert got == {
        ("kei_cafe_2025-12-03", "XTKS"): pd.Timestamp("2025-12-04"),
        ("kei_cafe_2025-12-03", "XNYS"): pd.Timestamp("2025-12-03"),
        ("tinycars_truth_2025-12-05", "XTKS"): pd.Timestamp("2025-12-08"),
        ("tinycars_truth_2025-12-05", "XNYS"): pd.Timestamp("2025-12-05"),
    }
    assert str(frame["announced"].dtype).startswith("datetime64") and "UTC" in str(
        frame["announced"].dtype
    )
    assert frame["announced"].iloc[0] == pd.Timestamp("2025-12-03 19:30", tz="UTC")
    assert str(frame["session"].dtype).startswith("datetime64")
    assert set(frame["rule"]) <= {
        "before open",
        "during session",
        "lunch break",
        "after close",
        "non-trading day",
    }


def test_event_timing_accepts_frames_and_pairs():
    df = pd.DataFrame(
        {"event_id": ["deal"], "announced": [pd.Timestamp("2025-07-22 19:12", tz=NY)]}
    )
    a = event_timing(df, ["XTKS"])
    b = event_timing([("deal", pd.Timestamp("2025-07-22 19:12", tz=NY))], ["XTKS"])
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[0, "session"] == pd.Timestamp("2025-07-23")


def test_event_timing_empty():
    frame = event_timing({}, ["XTKS"])
    assert frame.empty
    assert list(frame.columns) == ["event_id", "announced", "exchange", "session", "rule"]


def test_sessions_skip_golden_week():
    got = sessions("XTKS", "2025-05-01", "2025-05-08")
    assert list(got.strftime("%Y-%m-%d")) == [
        "2025-05-01",
        "2025-05-02",
        "2025-05-07",
        "2025-05-08",
    ]
    assert got.tz is None


def test_sessions_errors():
    with pytest.raises(DataError, match="before it starts"):
        sessions("XTKS", "2025-05-08", "2025-05-01")
    with pytest.raises(DataError, match="outside the XTKS calendar"):
        sessions("XTKS", "2025-01-01", "2095-01-01")


def test_relative_sessions_count_exchange_days():
    window = relative_sessions("XTKS", "2025-05-07", -1, 1)
    assert list(window.strftime("%Y-%m-%d")) == ["2025-05-02", "2025-05-07", "2025-05-08"]
    assert session_offset("XTKS", "2025-05-02", 1) == pd.Timestamp("2025-05-07")
    assert session_offset("XTKS", "2025-05-07", -1) == pd.Timestamp("2025-05-02")
    assert session_offset("XNYS", "2025-07-03", 1) == pd.Timestamp("2025-07-07")
    assert session_offset("XTKS", "2025-05-07", 0) == pd.Timestamp("2025-05-07")


def test_relative_sessions_day0_must_be_a_session():
    with pytest.raises(DataError, match="2025-05-05 is not a XTKS session"):
        relative_sessions("XTKS", "2025-05-05", -1, 1)


def test_window_sessions_past_the_data_names_the_dates():
    idx = sessions("XTKS", "2025-01-06", "2025-03-31")
    ok = window_sessions(idx, "2025-01-10", -4, 2, symbol="7203.T")
    assert ok[0] == pd.Timestamp("2025-01-06")
    assert len(ok) == 7
    with pytest.raises(DataError) as err:
        window_sessions(idx, "2025-01-10", -250, -11, symbol="7203.T")
    msg = str(err.value)
    assert "7203.T" in msg
    assert "2025-01-06" in msg
    assert "2025-01-10" in msg
    assert "\n" not in msg
    with pytest.raises(DataError, match=r"after 2025-03-31"):
        window_sessions(idx, "2025-03-28", -10, 10, symbol="7203.T")
    with pytest.raises(DataError, match="not a session in the data"):
        window_sessions(idx, "2025-05-07", -1, 1)
    with pytest.raises(DataError, match="ends before it starts"):
        window_sessions(idx, "2025-01-10", 1, -1)


def test_relative_day():
    idx = sessions("XTKS", "2025-04-25", "2025-05-12")
    assert relative_day(idx, "2025-05-07", "2025-05-02") == -1
    assert relative_day(idx, "2025-05-02", "2025-05-12") == 4
    with pytest.raises(DataError, match="2025-05-05"):
        relative_day(idx, "2025-05-02", "2025-05-05")


def test_shared_prices_follow_the_xtks_calendar(prices_dir: Path):
    """Every Tokyo file in ../shared/data/prices holds exactly the XTKS sessions of 2024-2025."""
    expected = sessions("XTKS", "2024-01-01", "2025-12-31")
    assert len(expected) == 488
    files = ["7203.T", "7267.T", "7201.T", "7211.T", "7269.T", "7270.T", "7261.T", "TOPIX"]
    for name in files:
        frame = pd.read_csv(prices_dir / f"{name}.csv", parse_dates=["Date"])
        dates = pd.DatetimeIndex(frame["Date"])
        got = dates[(dates >= "2024-01-01") & (dates <= "2025-12-31")]
        extra = got.difference(expected)
        missing = expected.difference(got)
        assert extra.empty and missing.empty, (
            f"{name}: extra {list(extra.date)}, missing {list(missing.date)}"
        )


def test_shared_n225_and_sector_etf_against_xtks(prices_dir: Path):
    """^N225 follows XTKS in 2024-2025; 1622.T lacks 2025-10-24 (documented in the README)."""
    expected = sessions("XTKS", "2024-01-01", "2025-12-30")
    n225 = pd.DatetimeIndex(pd.read_csv(prices_dir / "^N225.csv", parse_dates=["Date"])["Date"])
    n225 = n225[(n225 >= "2024-01-01") & (n225 <= "2025-12-30")]
    assert n225.symmetric_difference(expected).empty
    etf = pd.DatetimeIndex(pd.read_csv(prices_dir / "1622.T.csv", parse_dates=["Date"])["Date"])
    etf = etf[(etf >= "2024-01-01") & (etf <= "2025-12-30")]
    assert list(expected.difference(etf).strftime("%Y-%m-%d")) == ["2025-10-24"]
    assert etf.difference(expected).empty


def test_event_timing_mixed_offsets_share_one_dtype():
    events = {
        "summer": pd.Timestamp("2025-07-22 19:12", tz=NY),  # -04:00
        "winter": pd.Timestamp("2025-12-03 14:30", tz=NY),  # -05:00
        "tokyo": pd.Timestamp("2025-12-04 15:30", tz=TOKYO),
    }
    frame = event_timing(events, ["XTKS"])
    assert str(frame["announced"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        frame["announced"].dtype
    )
    assert list(frame["session"].dt.strftime("%Y-%m-%d")) == [
        "2025-07-23",
        "2025-12-04",
        "2025-12-05",
    ]


# Rows in ../shared/data/prices on days XTKS did not trade: holiday filler rows (index files
# repeat the previous close; the ETF rows have volume 0). 2020-10-01 is the day of the TSE system failure (no trading).
KNOWN_NON_SESSION_ROWS = {
    "TOPIX": ["2020-10-01"],
    "^N225": ["2018-07-16"],
    "1622.T": [
        "2017-08-11", "2017-09-18", "2017-10-09", "2017-11-03", "2017-11-23", "2018-01-01",
        "2018-01-02", "2018-01-03", "2018-01-08", "2018-02-12", "2018-03-21", "2018-04-30",
        "2018-05-03", "2018-05-04", "2018-07-16", "2018-09-17", "2018-09-24", "2018-10-08",
        "2018-11-23", "2018-12-24", "2018-12-31",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KNOWN_NON_SESSION_ROWS))
def test_shared_files_known_rows_on_non_sessions(prices_dir: Path, name: str):
    """Documents the filler rows a CSV reader must drop (or warn about), found by XTKS."""
    frame = pd.read_csv(prices_dir / f"{name}.csv", parse_dates=["Date"]).set_index("Date")
    expected = sessions("XTKS", frame.index[0], frame.index[-1])
    extra = frame.index.difference(expected)
    assert list(extra.strftime("%Y-%m-%d")) == KNOWN_NON_SESSION_ROWS[name]
    if "Volume" in frame.columns:
        assert (frame.loc[extra, "Volume"] == 0).all()
    else:
        for day in extra:
            pos = frame.index.get_loc(day)
            assert frame["Close"].iloc[pos] == frame["Close"].iloc[pos - 1]


# ----------------------------------------------------------------------------- stored calendars


def _fresh(exchange: str):
    import eventstudy.calendar as cal_mod

    cal_mod.get_calendar.cache_clear()
    return cal_mod.get_calendar(exchange)


def _same_calendar(a, b) -> None:
    pd.testing.assert_index_equal(a.sessions, b.sessions)
    for attr in ("opens", "closes", "break_starts", "break_ends"):
        pd.testing.assert_series_equal(getattr(a, attr), getattr(b, attr))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "another object"])
def test_stored_calendar_equals_exchange_calendars_and_damage_is_rebuilt(
    tmp_path, monkeypatch, damage
):
    """The calendar read back from the cache is exchange-calendars' own (sessions, opens,
    closes, lunch breaks); a damaged file is built again and replaced."""
    import pickle

    import exchange_calendars as xc

    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path))
    built = _fresh("XTKS")
    (stored,) = (tmp_path / "calendars").glob("XTKS_*.pickle")
    with warnings.catch_warnings():  # pandas deprecation noise inside exchange_calendars
        warnings.simplefilter("ignore")
        reference = xc.get_calendar("XTKS", start="2000-01-01", end=built.last_session)
    _same_calendar(_fresh("XTKS"), reference)  # read from the file
    whole = stored.read_bytes()
    if damage == "truncated":
        stored.write_bytes(whole[: len(whole) // 2])
    elif damage == "garbage":
        stored.write_bytes(b"\x00not a pickle")
    else:
        stored.write_bytes(pickle.dumps({"name": "XTKS"}))
    _same_calendar(_fresh("XTKS"), reference)
    assert len(stored.read_bytes()) == len(whole)  # replaced by a whole file
    assert not list((tmp_path / "calendars").glob(".*.tmp"))


def test_a_cache_that_cannot_be_written_still_gives_the_calendar(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(blocker))
    cal = _fresh("XNYS")
    assert cal.is_session("2024-07-03") and not cal.is_session("2024-07-04")


# ----------------------------------------------------------------------------- stored schedules


def _fresh_schedule(exchange: str):
    import eventstudy.calendar as cal_mod

    cal_mod.schedule.cache_clear()
    cal_mod.get_calendar.cache_clear()
    return cal_mod.schedule(exchange)


def _utc_naive(series: pd.Series):
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _same_as_exchange_calendars(sch, ref) -> None:
    """Every array of the schedule is exchange-calendars' own, and its lookups answer as the
    calendar's methods do on days around every session boundary of two sample years."""
    import numpy as np

    assert (sch.tz, sch.weekmask) == (str(ref.tz), str(ref.weekmask))
    np.testing.assert_array_equal(sch.days, ref.sessions.to_numpy(dtype="datetime64[ns]"))
    for mine, theirs in (
        (sch.opens, ref.opens),
        (sch.closes, ref.closes),
        (sch.break_starts, ref.break_starts),
        (sch.break_ends, ref.break_ends),
    ):
        expected = _utc_naive(theirs)
        assert (np.isnat(mine) == np.isnat(expected)).all()
        np.testing.assert_array_equal(mine[~np.isnat(mine)], expected[~np.isnat(expected)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for day in pd.date_range("2004-12-20", "2005-01-12").append(
            pd.date_range("2025-04-25", "2025-05-12")
        ):
            assert sch.is_session(day) == ref.is_session(day)
            nxt = ref.date_to_session(day, direction="next")
            assert sch.session(sch.position(day)) == nxt
            if ref.is_session(day):
                i = sch.position(day)
                assert sch.open_at(i) == ref.session_open(day)
                assert sch.close_at(i) == ref.session_close(day)
                assert sch.session(i + 1) == ref.next_session(day)
                start, end = sch.break_at(i)
                assert (
                    start is pd.NaT
                    if pd.isna(ref.session_break_start(day))
                    else (
                        start == ref.session_break_start(day) and end == ref.session_break_end(day)
                    )
                )
    lo, hi = pd.Timestamp("2025-04-26"), pd.Timestamp("2025-05-10")
    np.testing.assert_array_equal(
        sch.sessions_in_range(lo, hi), ref.sessions_in_range(lo, hi).to_numpy("datetime64[ns]")
    )


@pytest.mark.parametrize("exchange", ["XTKS", "XNYS"])
def test_stored_schedule_is_the_exchange_calendars_calendar(tmp_path, monkeypatch, exchange):
    """The schedule read back from the cache holds exchange-calendars' sessions, opens,
    closes and lunch breaks over the range of get_calendar, and answers as its methods."""
    import exchange_calendars as xc

    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path))
    built = _fresh_schedule(exchange)
    assert len(list((tmp_path / "calendars").glob(f"{exchange}_*.npz"))) == 1
    read = _fresh_schedule(exchange)  # from the file
    assert read is not built
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = xc.get_calendar(exchange, start="2000-01-01", end=read.last_session)
    _same_as_exchange_calendars(read, reference)
    assert read.name == exchange and read.first_session == reference.first_session


@pytest.mark.parametrize("damage", ["truncated", "garbage", "another code", "unsorted"])
def test_a_damaged_stored_schedule_is_rebuilt(tmp_path, monkeypatch, damage):
    import io

    import numpy as np

    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path))
    good = _fresh_schedule("XTKS")
    (stored,) = (tmp_path / "calendars").glob("XTKS_*.npz")
    whole = stored.read_bytes()
    if damage == "truncated":
        stored.write_bytes(whole[: len(whole) // 2])
    elif damage == "garbage":
        stored.write_bytes(b"\x00not an npz")
    else:
        with np.load(io.BytesIO(whole)) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if damage == "another code":
            arrays["code"] = np.array("XNYS")
        else:
            arrays["days"] = arrays["days"][::-1].copy()
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        stored.write_bytes(buf.getvalue())
    again = _fresh_schedule("XTKS")
    np.testing.assert_array_equal(again.days, good.days)
    np.testing.assert_array_equal(again.closes, good.closes)
    assert stored.read_bytes() == whole  # replaced by the whole file
    assert not list((tmp_path / "calendars").glob(".*.tmp"))


def test_a_cache_that_cannot_be_written_still_gives_the_schedule(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(blocker))
    sch = _fresh_schedule("XNYS")
    assert sch.is_session(pd.Timestamp("2024-07-03"))
    assert not sch.is_session(pd.Timestamp("2024-07-04"))


def test_unknown_exchange_schedule_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="exchange-calendars code"):
        _fresh_schedule("XXXX")
    assert not list((tmp_path / "calendars").glob("XXXX_*"))


def test_stored_schedules_spare_the_exchange_calendars_import(tmp_path):
    """With the schedules stored, event timing and session counting do not import
    exchange-calendars, and give what the first process (which built them) gave."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from eventstudy.calendar import event_timing, sessions, session_offset\n"
        "t = event_timing({'a': '2025-12-03T14:30:00-05:00', 'b': '2025-05-02T16:00:00+09:00'},"
        " ['XTKS', 'XNYS'])\n"
        "print(t.to_csv(index=False), list(sessions('XTKS', '2025-04-25', '2025-05-12')),"
        " session_offset('XNYS', '2025-07-03', 1))\n"
        "print('exchange_calendars' in sys.modules)\n"
    )
    env = {**os.environ, "EVENTSTUDY_CACHE": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for _ in range(2)
    ]
    assert runs[0][-1] == "True" and runs[1][-1] == "False"
    assert runs[0][:-1] == runs[1][:-1]
    assert "a,2025-12-03 19:30:00+00:00,XTKS,2025-12-04,before open" in runs[1]
    assert "Timestamp('2025-05-07 00:00:00')" in runs[1][-2]  # Golden Week skipped
