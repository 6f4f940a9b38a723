"""YahooSource offline: a fake Ticker with yfinance's exact output, and HTTP replay.

Nothing here touches the network: the fake ``ticker_factory`` answers in-process, and
the replay tests hand real ``yfinance.Ticker`` objects a ``requests`` session whose
traffic ``responses`` intercepts (unregistered URLs fail like an unplugged cable).
"""

from __future__ import annotations

import json
import re
import socket

import numpy as np
import pandas as pd
import pytest
import requests
import responses
import yfinance as yf
import yfinance.exceptions as yfe
from curl_cffi.requests import exceptions as curl_exc
from fixtures.fake_sources import FakeYahoo, yahoo_frame

from eventstudy.data import PriceCache, YahooSource, load_prices
from eventstudy.data.yahoo import session_dates
from eventstudy.exceptions import (
    DataError,
    NetworkError,
    PartialHistoryWarning,
    RateLimited,
    UnknownSymbol,
)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(script=None, **kw) -> tuple[YahooSource, FakeYahoo, Sleeps]:
    fake = FakeYahoo(script)
    sleeps = Sleeps()
    return YahooSource(ticker_factory=fake, sleep=sleeps, **kw), fake, sleeps


# ----------------------------------------------------------------------------- shape


def test_fake_matches_yfinance_exact_shape():
    raw = yahoo_frame("7203.T", "2025-07-18", "2025-07-25")
    assert list(raw.columns) == [
        "Open",
        "High",
        "Low",
        "Close",
        "Adj Close",
        "Volume",
        "Dividends",
        "Stock Splits",
    ]
    assert raw.index.name == "Date"
    assert str(raw.index.tz) == "Asia/Tokyo"
    assert (raw.index == raw.index.normalize()).all()
    assert raw["Volume"].dtype == np.int64


def test_tokyo_history_becomes_tokyo_session_dates():
    src, _, _ = make()
    df = src.get("7203.T", "2025-07-18", "2025-07-24")
    # midnight JST is the previous day in UTC: the session date must stay the JST date
    assert list(df.index.strftime("%Y-%m-%d")) == [
        "2025-07-18",
        "2025-07-21",
        "2025-07-22",
        "2025-07-23",
        "2025-07-24",
    ]
    assert df.index.name == "date" and df.index.tz is None
    assert {"close", "adj_close", "volume", "dividends", "splits"} <= set(df.columns)
    raw = yahoo_frame("7203.T", "2025-07-18", "2025-07-25")
    np.testing.assert_array_equal(df["adj_close"], raw["Adj Close"])
    np.testing.assert_array_equal(df["close"], raw["Close"])
    prov = df.attrs["provenance"]
    assert prov["source"] == "yahoo" and prov["symbol"] == "7203.T"
    assert prov["timezone"] == "Asia/Tokyo" and prov["exchange"] == "JPX"
    assert prov["versions"]["yfinance"] == yf.__version__
    assert prov["auto_adjust"] is False and prov["complete"] is True


def test_history_is_called_one_symbol_at_a_time_unadjusted_with_actions():
    src, fake, _ = make()
    src.get("7203.T", "2025-07-01", "2025-07-31")
    ((sym, kwargs),) = fake.calls
    assert sym == "7203.T"
    assert kwargs["auto_adjust"] is False and kwargs["actions"] is True
    assert kwargs["start"] == "2025-07-01"
    assert kwargs["end"] == "2025-08-01"  # yfinance's end is exclusive
    assert kwargs["interval"] == "1d"


def test_new_york_symbol():
    src, _, _ = make()
    df = src.get("^GSPC", "2025-07-01", "2025-07-10")
    assert df.attrs["provenance"]["timezone"] == "America/New_York"
    assert df.index[0] == pd.Timestamp("2025-07-01")


def test_session_dates_drop_the_zone_without_converting():
    idx = pd.DatetimeIndex(["2025-07-23 00:00"], name="Date").tz_localize("Asia/Tokyo")
    assert session_dates(idx)[0] == pd.Timestamp("2025-07-23")
    assert idx.tz_convert("UTC")[0].date() == pd.Timestamp("2025-07-22").date()


def test_repeated_last_row_is_kept_once():
    def dup(symbol, kwargs):
        f = yahoo_frame(symbol, kwargs["start"], kwargs["end"])
        return pd.concat([f, f.iloc[[-1]]])

    src, _, _ = make({"7203.T": [dup]})
    df = src.get("7203.T", "2025-07-01", "2025-07-10")
    assert df.index.is_unique


def test_yfinance_caches_live_in_our_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path / "c"))
    src, _, _ = make()
    src.get("7203.T", "2025-07-01", "2025-07-10")
    from yfinance import cache as yfcache

    assert yfcache._TzDBManager.get_location() == str(tmp_path / "c" / "yfinance")
    assert (tmp_path / "c" / "yfinance").is_dir()


# ----------------------------------------------------------------------------- failures


def test_rate_limit_then_success_backs_off_exponentially():
    src, fake, sleeps = make({"7203.T": [yfe.YFRateLimitError, yfe.YFRateLimitError]})
    df = src.get("7203.T", "2025-07-01", "2025-07-10")
    assert len(df) == 8
    assert sleeps == [2.0, 4.0]
    assert len(fake.calls) == 3


def test_rate_limit_forever_gives_rate_limited_after_bounded_retries():
    src, fake, sleeps = make({"7203.T": [yfe.YFRateLimitError] * 10}, retries=3, max_backoff=5)
    with pytest.raises(RateLimited) as info:
        src.get("7203.T", "2025-07-01", "2025-07-10")
    assert len(fake.calls) == 4
    assert sleeps == [2.0, 4.0, 5.0]
    msg = str(info.value)
    assert "4 attempts for 7203.T" in msg and "--offline" in msg
    assert info.value.exit_code == 4


def test_http_429_error_counts_as_rate_limit():
    resp = requests.Response()
    resp.status_code = 429
    err = requests.HTTPError("429 Client Error: Too Many Requests", response=resp)
    src, _, sleeps = make({"7203.T": [err] * 9}, retries=1)
    with pytest.raises(RateLimited, match="2 attempts"):
        src.get("7203.T", "2025-07-01", "2025-07-10")
    assert sleeps == [2.0]


@pytest.mark.parametrize(
    "exc",
    [
        yfe.YFTzMissingError("NOPE.T"),
        yfe.YFPricesMissingError("NOPE.T", "(1d 2025-07-01 -> 2025-07-10)"),
        yfe.YFTickerMissingError("NOPE.T", "no data"),
        {"empty": True},
    ],
    ids=["tz-missing", "prices-missing", "ticker-missing", "empty-frame"],
)
def test_unknown_symbol(exc):
    src, _, _ = make({"NOPE.T": [exc]})
    with pytest.raises(UnknownSymbol) as info:
        src.get("NOPE.T", "2025-07-01", "2025-07-10")
    assert str(info.value).startswith("NOPE.T: Yahoo Finance has no data for this symbol")
    assert info.value.exit_code == 3


NETWORK_FAULTS = [
    curl_exc.ConnectionError("Failed to connect to query2.finance.yahoo.com port 443"),
    curl_exc.DNSError("Could not resolve host: query2.finance.yahoo.com"),
    curl_exc.Timeout("Operation timed out after 15001 milliseconds"),
    requests.ConnectionError("Max retries exceeded (NewConnectionError)"),
    requests.ReadTimeout("Read timed out. (read timeout=15)"),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    TimeoutError("timed out"),
    yfe.YFDataException("*** YAHOO! FINANCE IS CURRENTLY DOWN! ***"),
    json.JSONDecodeError("Expecting value", "<html>", 0),
]


@pytest.mark.parametrize("exc", NETWORK_FAULTS, ids=lambda e: type(e).__name__)
def test_network_failures_are_network_errors_with_the_offline_hint(exc):
    src, fake, sleeps = make({"7203.T": [exc]})
    with pytest.raises(NetworkError) as info:
        src.get("7203.T", "2025-07-01", "2025-07-10")
    msg = str(info.value)
    assert not isinstance(info.value, RateLimited)
    assert "7203.T" in msg and "--offline" in msg and "--prices" in msg
    assert "\n" not in msg
    assert info.value.exit_code == 4
    assert sleeps == [] and len(fake.calls) == 1


def test_http_5xx_is_a_network_error():
    resp = requests.Response()
    resp.status_code = 503
    src, _, _ = make({"7203.T": [requests.HTTPError("503", response=resp)]})
    with pytest.raises(NetworkError, match="HTTP 503"):
        src.get("7203.T", "2025-07-01", "2025-07-10")


def test_programming_errors_are_not_disguised():
    src, _, _ = make({"7203.T": [KeyError("chart")]})
    with pytest.raises(KeyError):
        src.get("7203.T", "2025-07-01", "2025-07-10")


def test_hide_exceptions_is_restored():
    before = yf.config.debug.hide_exceptions
    src, _, _ = make({"7203.T": [TimeoutError("x")]})
    with pytest.raises(NetworkError):
        src.get("7203.T", "2025-07-01", "2025-07-10")
    assert yf.config.debug.hide_exceptions == before


def test_frame_for_another_symbol_is_rejected():
    src, _, _ = make({"7203.T": [{"symbol": "7267.T"}]})
    with pytest.raises(DataError, match=r"7203.T: Yahoo Finance answered with prices for '7267.T'"):
        src.get("7203.T", "2025-07-01", "2025-07-10")


def test_frame_from_another_exchange_is_rejected():
    src, _, _ = make({"7203.T": [{"tz": "America/New_York"}]})
    with pytest.raises(DataError, match="time zone America/New_York, not Asia/Tokyo"):
        src.get("7203.T", "2025-07-01", "2025-07-10")


def test_partial_history_warns_and_is_marked_incomplete():
    src, _, _ = make({"7203.T": [{"last": "2025-05-01"}]})
    with pytest.warns(PartialHistoryWarning, match=r"7203.T: .* 2025-01-06 .. 2025-04-30"):
        df = src.get("7203.T", "2025-01-06", "2025-06-30")
    assert df.attrs["provenance"]["complete"] is False


def test_frame_without_close_column_is_a_data_error():
    src, _, _ = make({"7203.T": [lambda s, k: pd.DataFrame({"Open": [1.0]})]})
    with pytest.raises(DataError, match="without a Close column"):
        src.get("7203.T", "2025-07-01", "2025-07-10")


def test_yahoo_through_the_cache_and_load_prices():
    src, fake, _ = make()
    out = load_prices(["7203.T", "7267.T"], src, "2025-01-01", "2025-06-30", progress=False)
    assert len(fake.calls) == 2
    load_prices(["7203.T", "7267.T"], src, "2025-01-01", "2025-06-30", progress=False)
    assert len(fake.calls) == 2  # served by the default cache
    assert sorted(PriceCache().list()["symbol"]) == ["7203.T", "7267.T"]
    assert out["7203.T"].attrs["provenance"]["source"] == "yahoo"


# ----------------------------------------------------------------------------- HTTP replay

CHART = re.compile(r"https://query\d\.finance\.yahoo\.com/v8/finance/chart/.*")


def chart_json(symbol: str, days: list[str], closes: list[float], tz: str = "Asia/Tokyo"):
    """A Yahoo v8 chart answer: daily bars stamped at the exchange's open (09:00 JST)."""
    stamps = [
        int(pd.Timestamp(f"{d} 09:00").tz_localize(tz).tz_convert("UTC").timestamp()) for d in days
    ]
    return {
        "chart": {
            "result": [
                {
                    "meta": {
                        "currency": "JPY",
                        "symbol": symbol,
                        "exchangeName": "JPX",
                        "fullExchangeName": "Tokyo",
                        "instrumentType": "EQUITY",
                        "gmtoffset": 32400,
                        "timezone": "JST",
                        "exchangeTimezoneName": tz,
                        "regularMarketPrice": closes[-1],
                        "priceHint": 2,
                        "dataGranularity": "1d",
                        "range": "",
                        "validRanges": ["1d", "5d", "1mo", "1y", "max"],
                    },
                    "timestamp": stamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": closes,
                                "high": closes,
                                "low": closes,
                                "close": closes,
                                "volume": [1000] * len(closes),
                            }
                        ],
                        "adjclose": [{"adjclose": [c * 0.97 for c in closes]}],
                    },
                }
            ],
            "error": None,
        }
    }


def replay_source() -> YahooSource:
    session = requests.Session()
    return YahooSource(ticker_factory=lambda s: yf.Ticker(s, session=session), sleep=Sleeps())


@responses.activate
def test_replay_real_yfinance_parses_into_session_dates():
    days = ["2025-07-18", "2025-07-22", "2025-07-23", "2025-07-24"]
    closes = [2400.0, 2422.6, 2770.0, 2800.0]
    responses.add(responses.GET, CHART, json=chart_json("7211.T", days, closes))
    df = replay_source().get("7211.T", "2025-07-18", "2025-07-24")
    assert list(df.index.strftime("%Y-%m-%d")) == days
    assert df.loc["2025-07-23", "close"] == 2770.0
    assert df.loc["2025-07-23", "adj_close"] == pytest.approx(2770.0 * 0.97)
    assert df.attrs["provenance"]["timezone"] == "Asia/Tokyo"


@responses.activate
def test_replay_http_429_is_rate_limited():
    responses.add(responses.GET, CHART, status=429, body="Too Many Requests")
    with pytest.raises(RateLimited):
        replay_source().get("7261.T", "2025-06-02", "2025-06-13")


@responses.activate
def test_replay_no_network_is_a_network_error_not_an_unknown_symbol():
    # nothing registered: every request fails with a ConnectionError
    with pytest.raises(NetworkError) as info:
        replay_source().get("7269.T", "2025-05-01", "2025-05-09")
    assert not isinstance(info.value, RateLimited)


@responses.activate
def test_replay_yahoo_not_found_is_an_unknown_symbol():
    responses.add(
        responses.GET,
        re.compile(r"https://query\d\.finance\.yahoo\.com/.*"),
        status=404,
        json={
            "chart": {
                "result": None,
                "error": {
                    "code": "Not Found",
                    "description": "No data found, symbol may be delisted",
                },
            }
        },
    )
    with pytest.raises(UnknownSymbol, match=r"ZZZZ\.T"):
        replay_source().get("ZZZZ.T", "2025-04-01", "2025-04-10")


def test_unwritable_yfinance_cache_folder_is_a_cache_error(monkeypatch, tmp_path):
    from eventstudy.exceptions import CacheError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(blocker))
    src, _, _ = make()
    with pytest.raises(CacheError, match="cannot create the folder"):
        src.get("7203.T", "2025-07-01", "2025-07-10")


@responses.activate
def test_replay_malformed_answer_is_a_data_error_not_a_traceback():
    body = chart_json("7270.T", ["2025-03-03"], [2500.0])
    del body["chart"]["result"][0]["indicators"]["quote"]
    responses.add(responses.GET, CHART, json=body)
    with pytest.raises(DataError, match=r"yfinance could not read Yahoo's answer \(KeyError"):
        replay_source().get("7270.T", "2025-03-03", "2025-03-07")
