"""``YahooSource``: daily prices from Yahoo Finance through yfinance.

One symbol at a time with ``yf.Ticker(symbol).history(start, end, auto_adjust=False,
actions=True)``; never ``yf.download`` (its MultiIndex columns and its habit of turning
every failure into a silent empty frame). yfinance is imported on first use.

Failure mapping
---------------
=========================================================  ===============================
what yfinance raises                                       what we raise
=========================================================  ===============================
``YFRateLimitError`` or an HTTP 429                        bounded retries with exponential
                                                           backoff, then ``RateLimited``
``YFTzMissingError``, ``YFPricesMissingError`` (and other  ``UnknownSymbol``
``YFTickerMissingError``), or an empty frame
connection errors, DNS failures, timeouts                  ``NetworkError`` (hint: --offline
(``requests``/``curl_cffi`` exceptions, ``OSError``),      or --prices)
HTTP 5xx, "Yahoo is down", an HTML answer
prices for another symbol, or in another exchange's        ``DataError``
time zone
less history than asked for                                ``PartialHistoryWarning``
=========================================================  ===============================

yfinance hides most exceptions by default (it logs them and returns an empty frame); we
switch ``yf.config.debug.hide_exceptions`` off around each call so a network failure is
never mistaken for an unknown symbol.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy.data.sources import check_splits, finalize_prices, make_provenance, to_timestamp
from eventstudy.exceptions import (
    DataError,
    NetworkError,
    PartialHistoryWarning,
    RateLimited,
    UnknownSymbol,
    format_warning,
)

__all__ = ["YAHOO_COLUMNS", "YahooSource", "configure_yfinance_cache", "session_dates"]

#: yfinance's column names -> ours.
YAHOO_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
    "Dividends": "dividends",
    "Stock Splits": "splits",
    "Capital Gains": "capital_gains",
}
#: Exchange time zone implied by a Yahoo symbol suffix (used to catch foreign answers).
SUFFIX_TZ = {
    ".T": "Asia/Tokyo",
    ".HK": "Asia/Hong_Kong",
    ".KS": "Asia/Seoul",
    ".L": "Europe/London",
    ".DE": "Europe/Berlin",
    ".PA": "Europe/Paris",
    ".TO": "America/Toronto",
    ".AX": "Australia/Sydney",
}
#: First/last date within this many days of the requested bounds = complete history.
PARTIAL_TOLERANCE_DAYS = 10
_EARLIEST = pd.Timestamp("1970-01-02")

_configured_cache: str | None = None


def configure_yfinance_cache(folder: str | Path | None = None) -> Path:
    """Point yfinance's own caches (time zones, cookies, ISINs) into our cache folder.

    yfinance 1.x keeps them in SQLite files under ``py-yfinance`` in the user cache dir;
    ``yf.set_tz_cache_location`` (an alias of ``yf.cache.set_cache_location``) moves all
    three. Called by :class:`YahooSource` before each fetch; cheap when unchanged.
    """
    global _configured_cache
    from eventstudy.data.cache import default_cache_dir

    target = Path(folder) if folder is not None else default_cache_dir() / "yfinance"
    if _configured_cache != str(target):
        import yfinance as yf

        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from eventstudy.exceptions import CacheError

            raise CacheError(
                path=str(target), detail=f"cannot create the folder ({exc.strerror or exc})"
            ) from None
        setter = getattr(yf, "set_tz_cache_location", None)
        if setter is None:  # pragma: no cover - very old or future yfinance
            setter = yf.cache.set_cache_location
        setter(str(target))
        _configured_cache = str(target)
    return target


def session_dates(index: pd.Index) -> pd.DatetimeIndex:
    """Session dates of a yfinance daily index.

    yfinance labels a daily bar with midnight of the session day in the exchange's time
    zone (e.g. ``2025-07-23 00:00:00+09:00`` for Tokyo). The session date is that local
    wall-clock date: we drop the time zone *without* converting to UTC (converting would
    move every Tokyo session to the previous calendar day).
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx.normalize().as_unit("ns").rename("date")


@contextlib.contextmanager
def _yf_raising(yf: Any) -> Iterator[None]:
    """Let yfinance raise instead of logging and returning an empty frame."""
    debug = yf.config.debug
    old = debug.hide_exceptions
    debug.hide_exceptions = False
    try:
        yield
    finally:
        debug.hide_exceptions = old


def _status_code(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    code = getattr(resp, "status_code", None) or getattr(exc, "status_code", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _classify(exc: BaseException, yfe: Any) -> str:
    """One of 'rate', 'unknown', 'network', 'other'."""
    if isinstance(exc, yfe.YFRateLimitError):
        return "rate"
    code = _status_code(exc)
    if code == 429:
        return "rate"
    if isinstance(exc, yfe.YFTickerMissingError):
        return "unknown"
    if isinstance(exc, yfe.YFDataException):
        return "network"  # "Yahoo Finance is currently down" and similar
    if isinstance(exc, json.JSONDecodeError):
        return "network"  # an HTML error or consent page instead of JSON
    if code is not None and code == 404:
        return "unknown"
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        # socket.gaierror (DNS), TimeoutError, and every requests / curl_cffi error
        return "network"
    return "other"


def _raised_inside_yfinance(exc: BaseException) -> bool:
    """True when the innermost frame of ``exc`` is yfinance's code (not ours, not a fake)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    filename = last.tb_frame.f_code.co_filename.replace("\\", "/")
    return "/yfinance/" in filename


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 140:
        text = text[:137] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class YahooSource:
    """Daily prices from Yahoo Finance (yfinance), one symbol at a time.

    Parameters
    ----------
    retries : int, default 4
        Retries after a rate limit (HTTP 429) before raising ``RateLimited``; the
        total number of attempts is ``retries + 1``.
    backoff : float, default 2.0
        First wait in seconds; doubles after each rate-limited attempt.
    max_backoff : float, default 60.0
        Longest single wait.
    timeout : float, default 15.0
        Per-request timeout passed to yfinance.
    sleep : callable, default time.sleep
        Waiting function (tests inject a recorder).
    ticker_factory : callable, optional
        ``symbol -> object with .history(**kwargs)``; default ``yfinance.Ticker``.
        Tests pass a fake that returns yfinance's exact frame shape.
    cache_dir : str or Path, optional
        Where yfinance keeps its own caches; default ``<eventstudy cache>/yfinance``.
    check_split : bool, default True
        Warn on adjusted-close jumps that look like an unadjusted split.

    Examples
    --------
    >>> YahooSource().get("7203.T", "2025-07-01", "2025-07-31")  # doctest: +SKIP
    """

    name = "yahoo"
    remote = True

    def __init__(
        self,
        *,
        retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        ticker_factory: Callable[[str], Any] | None = None,
        cache_dir: str | Path | None = None,
        check_split: bool = True,
    ) -> None:
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.timeout = float(timeout)
        self.sleep = sleep
        self.ticker_factory = ticker_factory
        self.cache_dir = cache_dir
        self.check_split = check_split

    def __repr__(self) -> str:
        return f"YahooSource(retries={self.retries}, backoff={self.backoff})"

    # ------------------------------------------------------------------ fetching
    def _history(self, yf: Any, symbol: str, kwargs: dict[str, Any]) -> tuple[pd.DataFrame, Any]:
        import yfinance.exceptions as yfe

        factory = self.ticker_factory or yf.Ticker
        attempt = 0
        while True:
            attempt += 1
            try:
                with _yf_raising(yf):
                    ticker = factory(symbol)
                    raw = ticker.history(**kwargs)
                return raw, ticker
            except Exception as exc:
                kind = _classify(exc, yfe)
                if kind == "rate":
                    if attempt <= self.retries:
                        self.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
                        continue
                    raise RateLimited(symbol=symbol, attempts=attempt) from None
                if kind == "unknown":
                    raise UnknownSymbol(symbol=symbol, source="Yahoo Finance") from None
                if kind == "network":
                    code = _status_code(exc)
                    detail = _describe(exc) if code is None else f"HTTP {code}"
                    raise NetworkError(detail=f"{symbol}: {detail}") from None
                if _raised_inside_yfinance(exc):
                    # yfinance choked on an answer it did not expect
                    raise DataError(
                        symbol=symbol,
                        detail=f"yfinance could not read Yahoo's answer ({_describe(exc)})",
                        fix="retry later, update yfinance, or use --prices DIR",
                    ) from exc
                raise

    def get(
        self,
        symbol: str,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Return the Prices frame of ``symbol`` between ``start`` and ``end`` (inclusive).

        Raises
        ------
        RateLimited
            Yahoo kept answering HTTP 429 after ``retries`` retries.
        UnknownSymbol
            Yahoo has no data for the symbol.
        NetworkError
            Yahoo cannot be reached (connection, DNS, timeout, outage).
        DataError
            The answer is for another symbol or exchange, or has an unexpected shape.

        Warns
        -----
        PartialHistoryWarning
            The answer starts later or ends earlier than asked (by more than 10 days).
        SuspectedSplitWarning
            An adjusted-close jump looks like an unadjusted split.
        """
        import yfinance as yf

        configure_yfinance_cache(self.cache_dir)
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        kwargs: dict[str, Any] = {
            "start": f"{(t0 or _EARLIEST).date()}",
            # yfinance's end is exclusive
            "end": None if t1 is None else f"{(t1 + pd.Timedelta(days=1)).date()}",
            "interval": "1d",
            "auto_adjust": False,
            "actions": True,
            "timeout": self.timeout,
        }
        raw, ticker = self._history(yf, symbol, kwargs)
        if raw is None or len(raw) == 0 or "Close" not in getattr(raw, "columns", ()):
            if raw is not None and len(raw) and "Close" not in raw.columns:
                raise DataError(
                    symbol=symbol,
                    detail=f"Yahoo Finance answered without a Close column ({list(raw.columns)})",
                    fix="update yfinance, or use --prices DIR",
                )
            raise UnknownSymbol(symbol=symbol, source="Yahoo Finance")
        meta = self._metadata(ticker)
        self._check_identity(symbol, raw, meta)
        df = raw.rename(columns=YAHOO_COLUMNS)
        df = df[[c for c in YAHOO_COLUMNS.values() if c in df.columns]]
        df.index = session_dates(raw.index)
        # yfinance may repeat the latest session (live row + daily row): keep the last
        df = df[~df.index.duplicated(keep="last")]
        df = df[df["close"].notna()]
        if len(df) == 0:
            raise UnknownSymbol(symbol=symbol, source="Yahoo Finance")
        tz = str(
            getattr(pd.DatetimeIndex(raw.index), "tz", None) or meta.get("exchangeTimezoneName")
        )
        complete = self._check_partial(symbol, df, t0, t1)
        prov = make_provenance(
            self.name,
            symbol,
            timezone=tz,
            exchange=meta.get("exchangeName") or meta.get("fullExchangeName"),
            currency=meta.get("currency"),
            auto_adjust=False,
            requested=[
                None if t0 is None else f"{t0.date()}",
                None if t1 is None else f"{t1.date()}",
            ],
            complete=complete,
        )
        prov["versions"]["yfinance"] = str(getattr(yf, "__version__", "unknown"))
        if self.check_split:
            adj = df["adj_close"] if "adj_close" in df else df["close"]
            check_splits(adj, symbol, stacklevel=3)
        return finalize_prices(df, symbol, prov, start=t0, end=t1)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _metadata(ticker: Any) -> dict[str, Any]:
        try:
            meta = ticker.history_metadata
        except Exception:  # metadata is a bonus; never fail a fetch on it
            return {}
        return dict(meta) if isinstance(meta, dict) else {}

    @staticmethod
    def _check_identity(symbol: str, raw: pd.DataFrame, meta: dict[str, Any]) -> None:
        got = meta.get("symbol")
        if got and str(got).upper() != symbol.upper():
            raise DataError(
                symbol=symbol,
                detail=f"Yahoo Finance answered with prices for {got!r}",
                fix="check the symbol (or its alias) and retry; nothing was cached",
            )
        idx = pd.DatetimeIndex(raw.index)
        tz = str(idx.tz) if idx.tz is not None else meta.get("exchangeTimezoneName")
        for suffix, want in SUFFIX_TZ.items():
            if symbol.upper().endswith(suffix.upper()) and tz and str(tz) != want:
                raise DataError(
                    symbol=symbol,
                    detail=(
                        f"Yahoo Finance answered with prices in time zone {tz}, not {want} "
                        f"of the {suffix} exchange (looks like another symbol's data)"
                    ),
                    fix="check the symbol and retry; nothing was cached",
                )

    @staticmethod
    def _check_partial(
        symbol: str, df: pd.DataFrame, t0: pd.Timestamp | None, t1: pd.Timestamp | None
    ) -> bool:
        tol = pd.Timedelta(days=PARTIAL_TOLERANCE_DAYS)
        first, last = df.index[0], df.index[-1]
        today = pd.Timestamp.now("UTC").tz_localize(None).normalize()
        end_eff = None if t1 is None else min(t1, today - pd.Timedelta(days=1))
        late_start = t0 is not None and first > t0 + tol
        early_end = end_eff is not None and last < end_eff - tol
        if late_start or early_end:
            warnings.warn(
                format_warning(
                    PartialHistoryWarning,
                    symbol=symbol,
                    source="Yahoo Finance",
                    first=f"{first.date()}",
                    last=f"{last.date()}",
                    start="start" if t0 is None else f"{t0.date()}",
                    end="today" if t1 is None else f"{t1.date()}",
                ),
                stacklevel=3,
            )
            return False
        return True
