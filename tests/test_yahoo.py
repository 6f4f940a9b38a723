"""YahooSource: through yfinance's own transport against a fake Yahoo, and with a fake Ticker.

The first part drives the real ``yfinance.Ticker`` with the session yfinance makes
itself (``curl_cffi`` impersonating Chrome), pointed at a fake Yahoo on 127.0.0.1
(``fixtures/yahoo_server.py``) that serves our recorded chart answers
(``fixtures/yahoo/``) and scripted failures: what yfinance 1.x raises from them must
become our typed errors, in one line. Nothing leaves the machine.

The second part uses ``FakeYahoo`` (an in-process ``ticker_factory``) for the logic
that needs no transport: call arguments, retries, partial histories, the cache.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import trustme
import yfinance as yf
import yfinance.exceptions as yfe
from click.testing import CliRunner
from fixtures.fake_sources import FakeYahoo, yahoo_frame
from fixtures.yahoo_server import (
    BAD_GATEWAY,
    COOKIE,
    CRUMB,
    DROPPED,
    RATE_LIMITED,
    SERVICE_UNAVAILABLE,
    Answer,
    FakeYahooServer,
    new_yfinance_session,
    not_found_body,
    recorded_chart,
    slow,
)

from eventstudy import cli
from eventstudy.data import PriceCache, YahooSource, load_prices
from eventstudy.data.yahoo import configure_yfinance_cache, session_dates
from eventstudy.exceptions import (
    DataError,
    NetworkError,
    PartialHistoryWarning,
    RateLimited,
    SuspectedSplitWarning,
    UnknownSymbol,
)

ROOT = Path(__file__).resolve().parents[1]
TOYOTA = ("7203.T", "2021-09-21", "2021-10-08")  # the recorded answer's sessions


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# ============================================================================ fake Yahoo


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def yahoo(ca, tmp_path, monkeypatch):
    """A fake Yahoo that yfinance's own session reaches through a proxy setting.

    The CA bundle and proxy are what a user behind a TLS-inspecting proxy sets; yfinance
    builds its curl_cffi session itself, as for every user.
    """
    pem = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pem))
    new_yfinance_session()
    configure_yfinance_cache()  # this test's cache folder (conftest), as YahooSource does
    with FakeYahooServer(ca) as server:
        yf.config.network.proxy = {"http": server.url, "https": server.url}
        try:
            yield server
        finally:
            yf.config.network.proxy = None
            new_yfinance_session()


def test_yfinance_caches_are_opened_before_any_worker_thread(tmp_path):
    """Regression (CI, loaded machine): worker threads opening yfinance's new SQLite
    caches together raced to switch them to WAL mode ("database is locked"). The
    configuration opens both in the calling thread, so the files exist in WAL mode
    before any fetch starts."""
    import sqlite3

    new_yfinance_session()
    try:
        folder = configure_yfinance_cache(tmp_path / "yf")
        for name in ("tkr-tz.db", "cookies.db"):
            with contextlib.closing(sqlite3.connect(folder / name)) as db:
                assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",), name
    finally:
        new_yfinance_session()


def source(**kw) -> YahooSource:
    kw.setdefault("sleep", Sleeps())
    return YahooSource(**kw)


def recorded_sessions(symbol: str) -> pd.DatetimeIndex:
    """Session dates of a recorded answer: its UTC stamps read on the exchange clock."""
    res = recorded_chart(symbol)["chart"]["result"][0]
    tz = res["meta"]["exchangeTimezoneName"]
    stamps = pd.to_datetime(res["timestamp"], unit="s", utc=True).tz_convert(tz)
    return pd.DatetimeIndex(stamps.tz_localize(None).normalize())


def test_yfinance_own_session_fetches_through_the_fake_yahoo(yahoo):
    df = source().get(*TOYOTA)
    res = recorded_chart("7203.T")["chart"]["result"][0]
    quote = res["indicators"]["quote"][0]
    assert list(df.index) == list(recorded_sessions("7203.T"))
    np.testing.assert_array_equal(df["close"], quote["close"])
    np.testing.assert_array_equal(df["adj_close"], res["indicators"]["adjclose"][0]["adjclose"])
    np.testing.assert_array_equal(df["volume"], quote["volume"])
    # the ex-date carries the 24-yen dividend and the 5:1 split of the recorded events
    assert df.loc["2021-09-29", "dividends"] == 24.0
    assert df.loc["2021-09-29", "splits"] == 5.0
    assert df["dividends"].drop(pd.Timestamp("2021-09-29")).eq(0).all()
    prov = df.attrs["provenance"]
    assert prov["timezone"] == "Asia/Tokyo" and prov["exchange"] == "JPX"
    assert prov["currency"] == "JPY" and prov["repair"] is False
    assert prov["versions"]["yfinance"] == yf.__version__
    # the transport users get: curl_cffi impersonating Chrome, with cookie and crumb
    (history,) = yahoo.chart_requests("7203.T")
    assert history.tls and "Chrome" in history.headers["sec-ch-ua"]
    assert "python-requests" not in history.headers["user-agent"]
    assert history.query["crumb"] == [CRUMB] and COOKIE in history.headers["cookie"]
    assert history.query["events"] == ["div,splits,capitalGains"]


def test_new_york_bars_stamped_at_the_open_become_new_york_dates(yahoo):
    df = source().get("^GSPC", "2025-06-30", "2025-07-08")
    assert list(df.index) == list(recorded_sessions("^GSPC"))
    assert pd.Timestamp("2025-07-04") not in df.index
    assert df.attrs["provenance"]["timezone"] == "America/New_York"


def test_fake_ticker_frame_has_the_shape_yfinance_parses(yahoo):
    """FakeYahoo (used by the offline tests) against the installed yfinance's parsing."""
    yf.config.debug.hide_exceptions = False
    try:
        real = yf.Ticker("7203.T").history(
            start="2021-09-21", end="2021-10-09", auto_adjust=False, actions=True
        )
    finally:
        yf.config.debug.hide_exceptions = True
    fake = yahoo_frame("7203.T", "2021-09-21", "2021-10-09", holidays=["2021-09-23"])
    assert list(fake.columns) == list(real.columns)
    assert fake.dtypes.to_dict() == real.dtypes.to_dict()
    assert fake.index.dtype == real.index.dtype and fake.index.name == real.index.name
    assert list(fake.index) == list(real.index)
    # and both come out of YahooSource alike
    via_fake = YahooSource(ticker_factory=FakeYahoo()).get(*TOYOTA)
    via_yahoo = source().get(*TOYOTA)
    assert list(via_fake.columns) == list(via_yahoo.columns)
    assert via_fake.dtypes.to_dict() == via_yahoo.dtypes.to_dict()
    assert via_fake.index.dtype == via_yahoo.index.dtype


# ---------------------------------------------------------------------------- failures


def test_http_429_is_retried_with_backoff_then_served(yahoo):
    # yfinance asks twice per attempt (a second time with its other cookie strategy)
    yahoo.script("7203.T", [RATE_LIMITED] * 4)
    sleeps = Sleeps()
    df = source(sleep=sleeps).get(*TOYOTA)
    assert len(df) == 13
    assert sleeps == [2.0, 4.0]
    assert len(yahoo.chart_requests("7203.T")) == 5


def test_http_429_forever_is_rate_limited_after_bounded_retries(yahoo):
    yahoo.outage(RATE_LIMITED)
    sleeps = Sleeps()
    with pytest.raises(RateLimited) as info:
        source(sleep=sleeps, retries=2, max_backoff=3).get(*TOYOTA)
    assert sleeps == [2.0, 3.0]
    msg = str(info.value)
    assert "3 attempts for 7203.T" in msg and "--offline" in msg and "\n" not in msg
    assert info.value.exit_code == 4


@pytest.mark.parametrize(
    ("answer", "probe"),
    [
        (SERVICE_UNAVAILABLE, False),  # yfinance: YFDataException "YAHOO! FINANCE IS DOWN"
        (SERVICE_UNAVAILABLE, True),  # the time-zone probe: JSONDecodeError on the HTML
        (BAD_GATEWAY, False),
        (Answer(200, b"<html><body>consent</body></html>", "text/html"), False),
        (DROPPED, False),  # curl: empty reply from server
    ],
    ids=["503-history", "503-probe", "502", "html-200", "dropped"],
)
def test_outages_are_network_errors_in_one_line(yahoo, answer, probe):
    yahoo.script("7203.T", [answer] * 2, probe=probe)
    sleeps = Sleeps()
    with pytest.raises(NetworkError) as info:
        source(sleep=sleeps).get(*TOYOTA)
    msg = str(info.value)
    assert not isinstance(info.value, RateLimited)
    assert msg.startswith("Yahoo Finance: cannot reach the network (7203.T: ")
    assert "--offline" in msg and "--prices" in msg and "\n" not in msg
    assert "curl.se" not in msg and len(msg) < 300
    assert sleeps == []


def test_timeout_is_a_network_error(yahoo):
    yahoo.script("7203.T", [slow(2.0)])
    with pytest.raises(NetworkError, match=r"7203\.T: Timeout: curl: \(28\)"):
        source(timeout=0.3).get(*TOYOTA)


def test_refused_connection_is_a_network_error_not_an_unknown_symbol(yahoo):
    yahoo.stop()  # the proxy port now refuses connections
    with pytest.raises(NetworkError, match=r"7203\.T: ConnectionError: curl: \(7\)") as info:
        source().get(*TOYOTA)
    assert not isinstance(info.value, UnknownSymbol | RateLimited)


def test_untrusted_certificate_is_a_network_error(yahoo, monkeypatch, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    new_yfinance_session()
    with pytest.raises(NetworkError, match=r"7203\.T: CertificateVerifyError"):
        source().get(*TOYOTA)


def test_unknown_symbol_is_yahoos_404(yahoo):
    with pytest.raises(UnknownSymbol) as info:
        source().get("ZZZZ.T", "2025-04-01", "2025-04-10")
    assert str(info.value).startswith("ZZZZ.T: Yahoo Finance has no data for this symbol")
    assert info.value.exit_code == 3
    assert json.loads(not_found_body())["chart"]["error"]["code"] == "Not Found"


def test_not_found_after_a_known_time_zone_is_an_unknown_symbol(yahoo):
    # the probe succeeds, the history answers 404: yfinance raises YFPricesMissingError
    yahoo.script("7203.T", [Answer(404, not_found_body())] * 2)
    with pytest.raises(UnknownSymbol, match=r"^7203\.T: "):
        source().get(*TOYOTA)


def test_range_without_sessions_is_an_unknown_symbol(yahoo):
    with pytest.raises(UnknownSymbol):
        source().get("7203.T", "2021-10-09", "2021-10-10")  # a weekend


def test_malformed_answer_is_a_data_error_not_a_traceback(yahoo):
    body = recorded_chart("7203.T")
    del body["chart"]["result"][0]["indicators"]["quote"]
    yahoo.script("7203.T", [Answer(200, json.dumps(body).encode())])
    with pytest.raises(DataError, match=r"yfinance could not read Yahoo's answer \(KeyError"):
        source().get(*TOYOTA)


def test_answer_for_another_symbol_is_rejected(yahoo):
    yahoo.set_chart("7267.T", recorded_chart("7203.T"))  # meta.symbol says 7203.T
    with pytest.raises(DataError, match=r"7267\.T: Yahoo Finance answered with prices for '7203"):
        source().get("7267.T", *TOYOTA[1:])


def test_answer_from_another_exchange_is_rejected(yahoo):
    chart = recorded_chart("^GSPC")
    chart["chart"]["result"][0]["meta"]["symbol"] = "7211.T"
    yahoo.set_chart("7211.T", chart)
    with pytest.raises(DataError, match="time zone America/New_York, not Asia/Tokyo"):
        source().get("7211.T", "2025-06-30", "2025-07-08")


def test_yfinance_log_lines_stay_quiet_unless_the_user_asked(yahoo, caplog):
    import logging

    before = yf.config.debug.hide_exceptions
    yahoo.stop()  # yfinance logs its requests, and (1.x) "... continuing without crumb"
    with caplog.at_level(logging.DEBUG), pytest.raises(NetworkError):
        source().get(*TOYOTA)
    assert [r for r in caplog.records if r.name.startswith("yfinance")] == []
    assert yf.config.debug.hide_exceptions == before
    assert logging.getLogger("yfinance").level == logging.NOTSET
    # a user who set yfinance's log level keeps its lines
    with caplog.at_level(logging.DEBUG, logger="yfinance"), pytest.raises(NetworkError):
        source().get(*TOYOTA)
    assert any(r.name.startswith("yfinance") for r in caplog.records)


def test_cli_fetch_during_an_outage_prints_one_line_and_exits_4(yahoo):
    yahoo.outage(SERVICE_UNAVAILABLE)
    result = CliRunner().invoke(
        cli.main, ["--quiet", "fetch", str(ROOT / "configs" / "kei_cars.yaml")]
    )
    assert result.exit_code == 4, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Yahoo Finance: cannot reach"), lines
    assert "Traceback" not in result.stderr


def test_a_100x_price_error_is_flagged_not_repaired(yahoo):
    """repair=False: a one-day 100x error stays as Yahoo published it, with a warning."""
    chart = recorded_chart("7203.T")
    res = chart["chart"]["result"][0]
    res["indicators"]["adjclose"][0]["adjclose"][7] *= 100  # 2021-10-01
    yahoo.set_chart("7203.T", chart)
    # recorded, not pytest.warns: that would re-raise yfinance's own deprecation warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SuspectedSplitWarning)
        df = source().get(*TOYOTA)
    flagged = [str(w.message) for w in caught if w.category is SuspectedSplitWarning]
    assert [m.split(" on ")[1][:10] for m in flagged] == ["2021-10-01", "2021-10-04"]
    assert df.loc["2021-10-01", "adj_close"] == res["indicators"]["adjclose"][0]["adjclose"][7]
    assert "Repaired?" not in df.columns and df.attrs["provenance"]["repair"] is False


# ------------------------------------------------------------------- memo and refresh


def _restated(symbol: str, factor: float) -> dict:
    """The recorded answer with every price multiplied (Yahoo restating its history)."""
    chart = recorded_chart(symbol)
    res = chart["chart"]["result"][0]
    quote = res["indicators"]["quote"][0]
    for key in ("open", "high", "low", "close"):
        quote[key] = [v * factor for v in quote[key]]
    res["indicators"]["adjclose"][0]["adjclose"] = [
        v * factor for v in res["indicators"]["adjclose"][0]["adjclose"]
    ]
    return chart


def test_yfinance_memoises_past_ranges_in_process(yahoo):
    """What the next test defeats: plain yfinance asks Yahoo once for a repeated range."""
    for _ in range(2):
        yf.Ticker("7203.T").history(start="2021-09-21", end="2021-10-09", auto_adjust=False)
    assert len(yahoo.chart_requests("7203.T")) == 1


def test_every_fetch_asks_yahoo_afresh(yahoo):
    src = source()
    first = src.get(*TOYOTA)
    yahoo.set_chart("7203.T", _restated("7203.T", 1.5))
    second = src.get(*TOYOTA)
    assert len(yahoo.chart_requests("7203.T")) == 2
    np.testing.assert_allclose(second["close"], first["close"] * 1.5)


def test_refresh_refetches_what_the_cache_and_yfinance_remember(yahoo):
    src = source()
    first = load_prices(["7203.T"], src, *TOYOTA[1:], progress=False)["7203.T"]
    yahoo.set_chart("7203.T", _restated("7203.T", 2.0))
    cached = load_prices(["7203.T"], src, *TOYOTA[1:], progress=False)["7203.T"]
    assert len(yahoo.chart_requests("7203.T")) == 1  # served by our cache
    np.testing.assert_array_equal(cached["close"], first["close"])
    fresh = load_prices(["7203.T"], src, *TOYOTA[1:], progress=False, refresh=True)["7203.T"]
    assert len(yahoo.chart_requests("7203.T")) == 2
    np.testing.assert_allclose(fresh["close"], first["close"] * 2.0)


# ============================================================================ fake Ticker


def make(script=None, **kw) -> tuple[YahooSource, FakeYahoo, Sleeps]:
    fake = FakeYahoo(script)
    sleeps = Sleeps()
    return YahooSource(ticker_factory=fake, sleep=sleeps, **kw), fake, sleeps


def test_history_is_called_one_symbol_at_a_time_unadjusted_with_actions():
    src, fake, _ = make()
    src.get("7203.T", "2025-07-01", "2025-07-31")
    ((sym, kwargs),) = fake.calls
    assert sym == "7203.T"
    assert kwargs["auto_adjust"] is False and kwargs["actions"] is True
    assert kwargs["repair"] is False
    assert kwargs["start"] == "2025-07-01"
    assert kwargs["end"] == "2025-08-01"  # yfinance's end is exclusive
    assert kwargs["interval"] == "1d"


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


def test_rate_limit_backoff_is_capped():
    src, fake, sleeps = make({"7203.T": [yfe.YFRateLimitError] * 10}, retries=3, max_backoff=5)
    with pytest.raises(RateLimited, match=r"4 attempts for 7203\.T"):
        src.get("7203.T", "2025-07-01", "2025-07-10")
    assert len(fake.calls) == 4
    assert sleeps == [2.0, 4.0, 5.0]


def test_programming_errors_are_not_disguised():
    src, _, _ = make({"7203.T": [KeyError("chart")]})
    with pytest.raises(KeyError):
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


def test_unwritable_yfinance_cache_folder_is_a_cache_error(monkeypatch, tmp_path):
    from eventstudy.exceptions import CacheError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(blocker))
    src, _, _ = make()
    with pytest.raises(CacheError, match="cannot create the folder"):
        src.get("7203.T", "2025-07-01", "2025-07-10")
