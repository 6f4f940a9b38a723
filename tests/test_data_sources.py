"""CsvSource, SimulatedSource, resolve_symbol and the Prices shape contract."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.data import (
    CsvSource,
    PriceSource,
    SimulatedSource,
    compute_returns,
    load_prices,
    resolve_symbol,
)
from eventstudy.exceptions import (
    ConfigError,
    DataError,
    SuspectedSplitWarning,
    UnknownSymbol,
)

# From ../shared/data/README.md ("Known facts to check results against").
SHARED_README_TOYOTA_2025_07_23 = 0.143
SHARED_README_SESSIONS_2024_2025 = 488


def assert_prices_shape(df: pd.DataFrame, symbol: str) -> None:
    """The Prices contract of docs/architecture.md."""
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index.name == "date"
    assert df.index.tz is None
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert (df.index == df.index.normalize()).all()
    assert {"close", "adj_close"} <= set(df.columns)
    assert df["close"].dtype == np.float64 and df["adj_close"].dtype == np.float64
    prov = df.attrs["provenance"]
    assert {"source", "symbol", "fetched_at", "versions"} <= set(prov)
    assert prov["symbol"] == symbol
    assert prov["fetched_at"].endswith("+00:00")
    assert "pandas" in prov["versions"]


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- shared data


def test_csv_folder_on_shared_prices_has_the_contract_shape(prices_dir):
    src = CsvSource(prices_dir)
    assert isinstance(src, PriceSource)
    assert {"7203.T", "TOPIX", "^N225", "JPY=X"} <= set(src.symbols())
    for sym in ("7203.T", "TOPIX", "^N225", "JPY=X"):
        df = src.get(sym, "2024-01-01", "2025-12-31")
        assert_prices_shape(df, sym)
        assert df.index[0] >= pd.Timestamp("2024-01-01")
        assert df.index[-1] <= pd.Timestamp("2025-12-31")
    # index level without Adj Close: adj_close repeats close
    topix = src.get("TOPIX")
    assert (topix["adj_close"] == topix["close"]).all()


def test_toyota_2025_07_23_matches_a_hand_computation_from_the_raw_csv(prices_dir):
    with open(prices_dir / "7203.T.csv", newline="") as fh:
        raw = {row["Date"]: float(row["Close"]) for row in csv.DictReader(fh)}
    by_hand = raw["2025-07-23"] / raw["2025-07-22"] - 1.0
    assert round(by_hand, 3) == SHARED_README_TOYOTA_2025_07_23

    prices = CsvSource(prices_dir).get("7203.T", "2025-07-01", "2025-07-31")
    assert prices.loc["2025-07-23", "adj_close"] == raw["2025-07-23"]
    r = compute_returns({"7203.T": prices}, prices.index)
    assert r.loc["2025-07-23", "7203.T"] == pytest.approx(by_hand, rel=1e-12)


def test_shared_stocks_and_topix_share_the_488_tse_sessions_of_2024_2025(prices_dir):
    src = CsvSource(prices_dir)
    idx = {s: src.get(s, "2024-01-01", "2025-12-31").index for s in ("7203.T", "7201.T", "TOPIX")}
    assert all(len(i) == SHARED_README_SESSIONS_2024_2025 for i in idx.values())
    assert idx["7203.T"].equals(idx["TOPIX"])


def test_shared_files_raise_no_suspected_split(prices_dir):
    src = CsvSource(prices_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuspectedSplitWarning)
        for sym in src.symbols():
            src.get(sym)


def test_load_prices_from_shared_folder_with_alias(prices_dir):
    src = CsvSource(prices_dir)
    out = load_prices(
        ["7203.T", "MARKET"],
        src,
        "2025-07-01",
        "2025-07-31",
        aliases={"MARKET": {"csv": "TOPIX", "yahoo": "1306.T"}},
        progress=False,
    )
    assert list(out) == ["7203.T", "MARKET"]
    prov = out["MARKET"].attrs["provenance"]
    assert prov["requested_symbol"] == "MARKET" and prov["symbol"] == "TOPIX"
    assert prov["path"].endswith("TOPIX.csv")


# ----------------------------------------------------------------------------- layouts


def test_per_symbol_file_with_adj_close_uses_it_and_is_sorted_silently(tmp_path):
    write(
        tmp_path / "AAA.csv",
        """
Date,Open,Close,Adj Close,Volume
2025-01-08,10,11,5.5,100
2025-01-06,10,10,5.0,100
2025-01-07,10,12,6.0,100
""",
    )
    df = CsvSource(tmp_path).get("AAA")
    assert_prices_shape(df, "AAA")
    assert list(df.index.strftime("%Y-%m-%d")) == ["2025-01-06", "2025-01-07", "2025-01-08"]
    assert list(df["adj_close"]) == [5.0, 6.0, 5.5]
    assert list(df["close"]) == [10.0, 12.0, 11.0]


def test_symbol_lookup_is_tolerant_of_case(tmp_path):
    write(tmp_path / "topix.csv", "date,close\n2025-01-06,2700\n2025-01-07,2710\n")
    assert CsvSource(tmp_path).get("TOPIX")["close"].iloc[-1] == 2710.0


def test_bloomberg_style_export_with_header_block_and_thousands(tmp_path):
    write(
        tmp_path / "7203 JT Equity.csv",
        """
Security,7203 JT Equity
Field,PX_LAST
,
Dates,PX_LAST
01/06/2025,"2,745.50"
01/07/2025,"2,760.00"
01/08/2025,"2,701.25"
""",
    )
    df = CsvSource(tmp_path).get("7203 JT Equity")
    assert list(df["close"]) == [2745.5, 2760.0, 2701.25]
    assert df.index[0] == pd.Timestamp("2025-01-06")


def test_refinitiv_style_export_semicolons_decimal_commas_descending(tmp_path):
    write(
        tmp_path / "7203.T.csv",
        """
Exchange Date;Close;Net;%Chg
08-Jan-2025;2701,25;-58,75;-2,13%
07-Jan-2025;2760,00;14,50;0,53%
06-Jan-2025;2745,50;;
""",
    )
    df = CsvSource(tmp_path).get("7203.T")
    assert list(df.index.day) == [6, 7, 8]
    assert list(df["close"]) == [2745.5, 2760.0, 2701.25]


def test_wide_csv_gives_each_symbol_its_own_dates(tmp_path):
    f = write(
        tmp_path / "wide.csv",
        """
Date,7203.T,TOPIX,JPY=X
2025-01-03,,,157.2
2025-01-06,2745.5,2700.1,157.6
2025-01-07,2760,2710.2,158.0
""",
    )
    src = CsvSource(f)
    assert src.symbols() == ["7203.T", "JPY=X", "TOPIX"]
    toyota = src.get("7203.T")
    assert_prices_shape(toyota, "7203.T")
    assert len(toyota) == 2
    assert len(src.get("jpy=x")) == 3
    assert toyota.attrs["provenance"]["layout"] == "wide"


def test_long_csv(tmp_path):
    f = write(
        tmp_path / "long.csv",
        """
date,ticker,adj_close
2025-01-06,AAA,10
2025-01-06,BBB,20
2025-01-07,AAA,11
2025-01-07,BBB,-1
""",
    )
    src = CsvSource(f)
    assert list(src.get("AAA")["adj_close"]) == [10.0, 11.0]
    with pytest.raises(DataError, match=r"line 5.*-1"):
        src.get("BBB")


def test_single_per_symbol_file(tmp_path):
    f = write(tmp_path / "^N225.csv", "Date,Close\n2025-01-06,39000\n2025-01-07,39100\n")
    src = CsvSource(f)
    assert src.symbols() == ["^N225"]
    assert len(src.get("^N225")) == 2
    with pytest.raises(UnknownSymbol, match="holds \\^N225 only"):
        src.get("TOPIX")


def test_suspected_split_is_flagged_with_date_and_ratio(tmp_path):
    write(
        tmp_path / "7203.T.csv",
        "Date,Close\n2021-09-27,10000\n2021-09-28,10100\n2021-09-29,2030\n2021-09-30,2050\n",
    )
    with pytest.warns(SuspectedSplitWarning, match=r"7203.T: price ratio 0.201 on 2021-09-29"):
        df = CsvSource(tmp_path).get("7203.T")
    assert len(df) == 4  # flagged, not dropped


def test_large_real_move_is_not_flagged_as_split(tmp_path):
    write(tmp_path / "X.csv", "Date,Close\n2024-12-17,100\n2024-12-18,123.7\n2024-12-19,130\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuspectedSplitWarning)
        CsvSource(tmp_path).get("X")


# ----------------------------------------------------------------------------- bad inputs

BAD_CSVS = [
    # (id, file text, expected fragments of the one-line message)
    ("no-close-column", "Date,Open,Volume\n2025-01-06,1,2\n", ["no Close or Adj Close column"]),
    ("no-date-column", "Day of trade,Close\n2025-01-06,1\n", ["no date column", "Date"]),
    (
        "impossible-iso-date",
        "Date,Close\n2025-01-06,1\n2025-13-01,2\n",
        ["line 3", "'Date'", "'2025-13-01'", "YYYY-MM-DD"],
    ),
    (
        "garbage-date",
        "Date,Close\n01/06/2025,1\nyesterday,2\n",
        ["line 3", "'yesterday'", "YYYY-MM-DD"],
    ),
    ("empty-date", "Date,Close\n2025-01-06,1\n,2\n", ["line 3", "empty date"]),
    (
        "duplicate-date",
        "Date,Close\n2025-01-06,1\n2025-01-07,2\n2025-01-07,3\n",
        ["lines 3, 4", "duplicate date 2025-01-07", "one row per date"],
    ),
    (
        "zero-price",
        "Date,Close\n2025-01-06,1\n2025-01-07,0\n",
        ["line 3", "'Close'", "'0'", "zero"],
    ),
    (
        "negative-price",
        "Date,Close\n2025-01-06,1\n2025-01-07,-5.2\n",
        ["line 3", "'-5.2'", "negative"],
    ),
    ("text-price", "Date,Close\n2025-01-06,1\n2025-01-07,abc\n", ["line 3", "'abc'", "numbers"]),
    ("infinite-price", "Date,Close\n2025-01-06,1\n2025-01-07,inf\n", ["line 3", "not finite"]),
    ("header-only", "Date,Close\n", ["no prices"]),
    ("duplicate-column", "Date,Close,Close\n2025-01-06,1,1\n", ["'Close' appears twice"]),
    (
        "ambiguous-dates",
        "Date,Close\n01/02/2025,1\n03/04/2025,2\n",
        ["ambiguous", "YYYY-MM-DD"],
    ),
    (
        "negative-adj-close",
        "Date,Close,Adj Close\n2025-01-06,1,1\n2025-01-07,2,-2\n",
        ["'Adj Close'", "negative"],
    ),
    ("all-empty-prices", "Date,Close\n2025-01-06,\n2025-01-07,null\n", ["no prices"]),
    # issue 15: wider rows, time stamps, impossible dates (the CLI catalogue is
    # tests/bad_data; these are the reader's own one-line messages)
    (
        "unquoted-thousands",
        "Date,Close\n2025-12-02,3601\n2025-12-03,3,624.00\n",
        ["line 3", "3 cells but the header has 2", "quote a number"],
    ),
    (
        "extra-empty-cell",
        "Date,Close,Adj Close\n2025-12-03,3,624.00,\n",
        ["line 2", "4 cells but the header has 3"],
    ),
    (
        "mixed-time-zones",
        "Date,Close\n2025-12-02 06:00:00+00:00,1\n2025-12-03,2\n",
        ["line 3", "'2025-12-03' has no time zone", "same form"],
    ),
    (
        "stamp-on-a-tokyo-sunday",
        "Date,Close\n2025-12-06 16:00:00+00:00,1\n",
        ["line 2", "Sunday 2025-12-07 in XTKS local time", "not in the zone they claim"],
    ),
    ("date-out-of-range", "Date,Close\n1066-10-14,1\n", ["line 2", "out of range"]),
    ("unclosed-quote", 'Date,Close\n2025-12-02,"1\n2025-12-03,2\n', ["line 2", "never closed"]),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_CSVS], ids=[c[0] for c in BAD_CSVS]
)
def test_bad_csv_gives_one_line_error_naming_file_and_fix(tmp_path, text, fragments):
    f = write(tmp_path / "7203.T.csv", text)
    with pytest.raises(DataError) as info:
        CsvSource(tmp_path).get("7203.T")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("7203.T: ")
    assert str(f) in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert info.value.exit_code == 3


def test_missing_folder_and_unknown_symbol_are_clear(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        CsvSource(tmp_path / "nope")
    write(tmp_path / "AAA.csv", "Date,Close\n2025-01-06,1\n")
    with pytest.raises(UnknownSymbol, match=r"ZZZ: CSV folder .* \(has AAA\)"):
        CsvSource(tmp_path).get("ZZZ")
    wide = write(tmp_path / "w.csv", "Date,AAA\n2025-01-06,1\n")
    with pytest.raises(UnknownSymbol, match="has AAA"):
        CsvSource(wide).get("BBB")


def test_range_outside_the_file_is_a_data_error(tmp_path):
    write(tmp_path / "AAA.csv", "Date,Close\n2025-01-06,1\n2025-01-07,1.01\n")
    with pytest.raises(DataError, match=r"no prices between 2020-01-01 and 2020-12-31.*2025-01-06"):
        CsvSource(tmp_path).get("AAA", "2020-01-01", "2020-12-31")


def test_bad_start_date_is_a_data_error(tmp_path):
    write(tmp_path / "AAA.csv", "Date,Close\n2025-01-06,1\n")
    with pytest.raises(DataError, match="cannot read date 'soon'"):
        CsvSource(tmp_path).get("AAA", "soon")


# ----------------------------------------------------------------------------- aliases


def test_resolve_symbol():
    aliases = {"csv": "TOPIX", "YahooSource": "1306.T"}
    assert resolve_symbol("TOPIX", None, "yahoo") == "TOPIX"
    assert resolve_symbol("MKT", aliases, "csv") == "TOPIX"
    assert resolve_symbol("MKT", aliases, "yahoo") == "1306.T"
    assert resolve_symbol("MKT", aliases, "simulated") == "MKT"
    with pytest.raises(DataError, match="empty alias"):
        resolve_symbol("MKT", {"csv": " "}, "csv")


# ----------------------------------------------------------------------------- simulated


def make_sim(**kw):
    base = dict(
        seed=7,
        start="2024-01-01",
        end="2024-12-31",
        symbols=["AAA", "BBB", "CCC"],
        market_symbol="MKT",
        betas={"AAA": 1.2, "BBB": 0.8},
    )
    base.update(kw)
    return SimulatedSource(**base)


def test_simulated_source_is_seeded_and_has_the_contract_shape():
    a, b = make_sim(), make_sim()
    assert isinstance(a, PriceSource) and not a.remote
    df = a.get("AAA")
    assert_prices_shape(df, "AAA")
    assert df.attrs["provenance"]["seed"] == 7
    pd.testing.assert_frame_equal(df, b.get("AAA"), check_like=False)
    assert not np.allclose(df["close"], make_sim(seed=8).get("AAA")["close"])
    assert (df["close"] == df["adj_close"]).all()
    assert len(a.get("MKT")) == len(pd.bdate_range("2024-01-01", "2024-12-31"))
    sub = a.get("AAA", "2024-03-01", "2024-03-31")
    assert sub.index[0] == pd.Timestamp("2024-03-01") and sub.index[-1] == pd.Timestamp(
        "2024-03-29"
    )


def test_simulated_prices_give_back_the_simulated_returns():
    src = make_sim()
    prices = {s: src.get(s) for s in ["MKT", "AAA", "BBB", "CCC"]}
    r = compute_returns(prices, src.sessions)
    np.testing.assert_allclose(
        r.iloc[1:].to_numpy(), src.returns.iloc[1:].to_numpy(), rtol=1e-9, atol=1e-12
    )


def test_injected_abnormal_return_appears_exactly_on_its_date():
    plain = make_sim()
    shocked = make_sim(injected={("AAA", "2024-06-03"): 0.08, ("BBB", "2024-06-03"): -0.05})
    diff = shocked.returns - plain.returns
    assert diff.loc["2024-06-03", "AAA"] == pytest.approx(0.08)
    assert diff.loc["2024-06-03", "BBB"] == pytest.approx(-0.05)
    assert (diff.drop(pd.Timestamp("2024-06-03")).abs() < 1e-15).all().all()
    assert list(shocked.abnormal["abnormal_return"]) == [0.08, -0.05]


def test_industry_factor_creates_cross_correlation_of_residuals():
    src = make_sim(symbols=[f"S{i}" for i in range(5)], betas=1.0, industry_vol=0.012)
    resid = src.returns[src.symbols].sub(src.returns["MKT"], axis=0)
    corr = resid.corr().to_numpy()
    rbar = corr[np.triu_indices(5, 1)].mean()
    # loading^2 sigma_f^2 / (sigma_f^2 + sigma_e^2) = 0.012^2 / (0.012^2 + 0.015^2) ~ 0.39
    assert 0.25 < rbar < 0.55
    indep = make_sim(symbols=[f"S{i}" for i in range(5)], betas=1.0)
    r2 = indep.returns[indep.symbols].sub(indep.returns["MKT"], axis=0).corr().to_numpy()
    assert abs(r2[np.triu_indices(5, 1)].mean()) < 0.1


def test_simulated_on_a_given_session_calendar():
    sessions = pd.bdate_range("2025-04-25", "2025-05-12").drop(
        pd.to_datetime(["2025-04-29", "2025-05-05", "2025-05-06"])
    )
    src = make_sim(start="2025-04-25", end="2025-05-12", sessions=sessions)
    assert src.get("AAA").index.equals(pd.DatetimeIndex(sessions, name="date"))
    with pytest.raises(ConfigError, match="simulated session"):
        make_sim(
            start="2025-04-25",
            end="2025-05-12",
            sessions=sessions,
            injected={("AAA", "2025-05-05"): 0.1},
        )


def test_simulated_bad_arguments():
    with pytest.raises(UnknownSymbol, match="ZZZ"):
        make_sim().get("ZZZ")
    with pytest.raises(ConfigError, match="betas"):
        make_sim(betas={"NOPE": 1.0})
    with pytest.raises(ConfigError, match="injected"):
        make_sim(injected={("NOPE", "2024-06-03"): 0.1})
    with pytest.raises(ConfigError, match="on or after"):
        make_sim(start="2024-12-31", end="2024-01-01")
    with pytest.raises(ConfigError, match="distinct"):
        make_sim(symbols=["MKT", "AAA"])


def test_csv_saved_from_yfinance_history_reads_back_as_session_dates(tmp_path):
    from fixtures.fake_sources import yahoo_frame

    raw = yahoo_frame("7203.T", "2025-07-18", "2025-07-25")
    raw.to_csv(tmp_path / "7203.T.csv")  # dates like 2025-07-23 00:00:00+09:00
    df = CsvSource(tmp_path).get("7203.T")
    assert list(df.index.strftime("%Y-%m-%d")) == [
        "2025-07-18",
        "2025-07-21",
        "2025-07-22",
        "2025-07-23",
        "2025-07-24",
    ]
    assert list(df["adj_close"]) == list(raw["Adj Close"])


def test_excel_csv_with_byte_order_mark_and_padded_names(tmp_path):
    (tmp_path / "AAA.csv").write_bytes(
        "\ufeff Date , Adj. Close \r\n2025-01-06, 10.5 \r\n2025-01-07,10.6\r\n".encode()
    )
    df = CsvSource(tmp_path).get("AAA")
    assert list(df["adj_close"]) == [10.5, 10.6]


def test_wide_frame_saved_by_pandas_with_unnamed_index(tmp_path):
    frame = pd.DataFrame(
        {"7203.T": [2745.5, 2760.0], "TOPIX": [2700.1, 2710.2]},
        index=pd.to_datetime(["2025-01-06", "2025-01-07"]),
    )
    frame.to_csv(tmp_path / "panel.csv")  # header ",7203.T,TOPIX"
    src = CsvSource(tmp_path / "panel.csv")
    assert src.symbols() == ["7203.T", "TOPIX"]
    assert list(src.get("TOPIX")["close"]) == [2700.1, 2710.2]


def test_csv_provenance_pins_the_file(tmp_path):
    import hashlib

    f = write(tmp_path / "AAA.csv", "Date,Close\n2025-01-06,10\n2025-01-07,10.1\n")
    prov = CsvSource(tmp_path).get("AAA").attrs["provenance"]
    assert prov["file_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert prov["file_modified"].endswith("+00:00")
