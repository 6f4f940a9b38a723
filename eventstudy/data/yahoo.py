"""``YahooSource``: daily prices from Yahoo Finance through yfinance.

One symbol at a time with ``yf.Ticker(symbol).history(start, end, auto_adjust=False,
actions=True)``; never ``yf.download`` (its MultiIndex columns and its habit of turning
every failure into a silent empty frame). yfinance is imported on first use and talks to
Yahoo through its own session (``curl_cffi`` impersonating Chrome); we never hand it one.

Failure mapping (what yfinance 1.x raises through its own session):

| what yfinance raises | what we raise |
|---|---|
| ``YFRateLimitError`` (Yahoo answered HTTP 429 twice), or an HTTP error whose status is 429 | bounded retries with exponential backoff, then ``RateLimited`` |
| ``YFTzMissingError``, ``YFPricesMissingError`` (any ``YFTickerMissingError``), an HTTP 404, or an empty frame | ``UnknownSymbol`` |
| ``curl_cffi`` errors (refused or dropped connection, timeout, TLS failure; all ``OSError``), ``requests`` errors, HTTP 5xx (``YFDataException`` "Yahoo is down"), an HTML answer where JSON was expected (``JSONDecodeError``) | ``NetworkError`` (hint: --offline or --prices) |
| any other exception raised inside yfinance (an answer it cannot parse) | ``DataError`` (one line, the cause chained) |
| prices for another symbol, or in another exchange's time zone | ``DataError`` |
| less history than asked for | ``PartialHistoryWarning`` |

yfinance hides most exceptions by default (it logs them and returns an empty frame); we
switch ``yf.config.debug.hide_exceptions`` off around each call so a network failure is
never mistaken for an unknown symbol, and keep its log lines ("continuing without
crumb" and the like) off the terminal unless the user set up yfinance's logging.

yfinance memoises answers for past date ranges in-process (``YfData.cache_get``, an
``lru_cache``). Our parquet cache is the cache: ``YahooSource.get`` is only called
to fetch, so it forgets that memo first, and ``--refresh`` (or a retry after a failure)
always sees Yahoo's current answer.

Many symbols at once: :func:`eventstudy.data.load_prices` runs ``get`` from a bounded
pool of threads (yfinance's ``YfData`` shares one session and guards its cookie and crumb
with a lock, as its own threaded ``download`` relies on). One ``YahooSource`` holds one
:class:`RateGate`: a 429 on any thread pauses every thread until the backoff has passed,
so a rate limit slows the whole pool instead of N threads retrying on their own. We do not
use ``yf.download`` for the batch: it keeps a failure only as text (``shared._ERRORS``),
so a rate limit, an unknown symbol and an outage could not be told apart or retried.

``repair=False`` (yfinance's default) is kept on purpose: price repair rewrites prices
with heuristics that change between yfinance releases; to rebuild a bad row (a 100x
error, a missing price) it fetches finer intervals (hourly data reach back only two
years) and needs scikit-learn, which yfinance does not install; and it adds a
``Repaired?`` column. We keep Yahoo's data as published, record ``repair: False`` in the
provenance, and flag split-like jumps, 100x included, ourselves
(``eventstudy.data.sources.check_splits``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol

import pandas as pd

from eventstudy.data.sources import check_splits, finalize_prices, make_provenance, to_timestamp
from eventstudy.exceptions import (
    CacheError,
    DataError,
    NetworkError,
    NoDataInRange,
    PartialHistoryWarning,
    RateLimited,
    UnknownSymbol,
    format_warning,
)

__all__ = [
    "YAHOO_COLUMNS",
    "RateGate",
    "YahooSource",
    "configure_yfinance_cache",
    "session_dates",
]

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
#: Longest text of a third-party error kept in our one-line message.
_MAX_DETAIL = 140

_Kind = Literal["rate", "unknown", "range", "network", "other"]

_configured_cache: str | None = None
_cache_lock = threading.Lock()
#: guards yfinance's global switches while any thread is inside ``_yf_raising``
_raising_lock = threading.Lock()
_raising_depth = 0
_raising_saved: tuple[bool, bool] = (True, False)


class RateGate:
    """A pause shared by every thread that fetches through one source.

    A thread that gets a rate limit calls :meth:`pause` with its backoff and sleeps it;
    every other thread calls :meth:`wait` before its next request and sleeps until the
    pause is over. So one 429 slows the whole pool, instead of each thread hammering
    Yahoo on its own schedule.

    Parameters
    ----------
    clock : callable, default time.monotonic
        Seconds, for the deadline.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        """Hold every thread back for ``seconds`` from now (the longer pause wins)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)
            self.pauses += 1

    def remaining(self) -> float:
        """Seconds until the current pause is over (0 when there is none)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def wait(self, sleep: Callable[[float], None]) -> None:
        """Sleep (with ``sleep``) until the current pause is over, if there is one."""
        left = self.remaining()
        if left > 0:
            sleep(left)


class YahooTicker(Protocol):
    """What ``YahooSource`` needs of ``yfinance.Ticker`` (and test doubles)."""

    def history(self, **kwargs: Any) -> pd.DataFrame: ...

    @property
    def history_metadata(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class YahooMeta:
    """The chart metadata fields we use (``Ticker.history_metadata``), all optional."""

    symbol: str | None = None
    timezone: str | None = None
    exchange: str | None = None
    currency: str | None = None

    @classmethod
    def read(cls, ticker: YahooTicker) -> YahooMeta:
        """Read the fields one key at a time.

        yfinance 1.x returns a lazy ``Mapping`` (``HistoryMetadata``), not a dict;
        iterating it (``dict(meta)``) would fetch intraday trading periods over the
        network, so only the keys we need are looked up. Metadata is a bonus: a
        failure to read it never fails a fetch.
        """
        try:
            meta = ticker.history_metadata
            if not isinstance(meta, Mapping):
                return cls()

            def text(key: str) -> str | None:
                value = meta.get(key)
                return str(value) if value else None

            return cls(
                symbol=text("symbol"),
                timezone=text("exchangeTimezoneName"),
                exchange=text("exchangeName") or text("fullExchangeName"),
                currency=text("currency"),
            )
        except Exception:
            return cls()


def configure_yfinance_cache(folder: str | Path | None = None) -> Path:
    """Point yfinance's own caches (time zones, cookies, ISINs) into our cache folder.

    yfinance 1.x keeps them in SQLite files under ``py-yfinance`` in the user cache dir;
    ``yf.set_tz_cache_location`` moves all three. Called by ``YahooSource`` before
    each fetch; cheap when unchanged.

    Raises
    ------
    CacheError
        The folder cannot be created.
    """
    global _configured_cache
    from eventstudy.data.cache import default_cache_dir

    target = Path(folder) if folder is not None else default_cache_dir() / "yfinance"
    with _cache_lock:
        if _configured_cache != str(target):
            import yfinance as yf

            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(
                    path=str(target), detail=f"cannot create the folder ({exc.strerror or exc})"
                ) from None
            yf.set_tz_cache_location(str(target))
            _open_yfinance_caches()
            _configured_cache = str(target)
    return target


def _open_yfinance_caches() -> None:
    """Create and open yfinance's SQLite caches once, in the calling thread.

    yfinance opens its time-zone and cookie databases lazily, on the first lookup, and
    that first opening is not guarded: worker threads of :func:`fetch_prices` starting
    together each connect and switch the new file to WAL mode, and one of them can fail
    with ``sqlite3.OperationalError: database is locked`` (seen on a loaded machine).
    Opening them here, under our lock and before any worker starts, leaves the workers
    only reads and writes, which SQLite serialises. A cache that cannot be opened is
    left to yfinance, which then runs without it.
    """
    import yfinance.cache as yfc

    for get in (yfc.get_tz_cache, yfc.get_cookie_cache):
        with contextlib.suppress(Exception):
            get().initialise()


def forget_yfinance_memo() -> None:
    """Empty yfinance's in-process memo of past-range answers (``YfData.cache_get``).

    Without this, a second fetch of the same past range in one process (``--refresh``
    in a notebook, a retry after a failure) gets yfinance's remembered answer, not
    Yahoo's current one.
    """
    import yfinance.data as yfd

    with contextlib.suppress(AttributeError):  # a yfinance without the memo: nothing to do
        yfd.YfData.cache_get.cache_clear()


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
def _yf_raising(yf: ModuleType) -> Iterator[None]:
    """Let yfinance raise instead of logging and returning an empty frame.

    Its log lines are kept quiet meanwhile (we raise one typed error instead), unless
    the user configured the ``yfinance`` logger (a level or a handler of their own).
    Both switches are global: with several threads inside, the first one in sets them
    and the last one out puts them back.
    """
    global _raising_depth, _raising_saved
    debug = yf.config.debug
    logger = logging.getLogger("yfinance")
    with _raising_lock:
        if _raising_depth == 0:
            quiet = logger.level == logging.NOTSET and not logger.handlers
            _raising_saved = (debug.hide_exceptions, quiet)
            debug.hide_exceptions = False
            if quiet:
                logger.setLevel(logging.CRITICAL)
        _raising_depth += 1
    try:
        yield
    finally:
        with _raising_lock:
            _raising_depth -= 1
            if _raising_depth == 0:
                old, quiet = _raising_saved
                debug.hide_exceptions = old
                if quiet:
                    logger.setLevel(logging.NOTSET)


def _status_code(exc: BaseException) -> int | None:
    """The HTTP status of an HTTP error (curl_cffi's and requests' share no base class)."""
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    # curl_cffi errors without an answer carry a response whose status is 0
    return code if isinstance(code, int) and code >= 100 else None


def _classify(exc: BaseException) -> _Kind:
    """Sort an exception raised by ``Ticker.history`` into what we do about it."""
    import yfinance.exceptions as yfe

    code = _status_code(exc)
    if isinstance(exc, yfe.YFRateLimitError) or code == 429:
        return "rate"
    if isinstance(exc, yfe.YFPricesMissingError):
        return "range"  # the time zone is known: no prices in the range asked
    if isinstance(exc, yfe.YFTickerMissingError) or code == 404:
        return "unknown"
    if isinstance(exc, yfe.YFDataException):
        return "network"  # "Yahoo Finance is currently down" (an HTTP 5xx page)
    if isinstance(exc, json.JSONDecodeError):
        return "network"  # an HTML error or consent page instead of JSON
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        # socket errors, and every curl_cffi / requests error (both derive from OSError)
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


def _short(text: object) -> str | None:
    """A third party's text on one line, at most ``_MAX_DETAIL`` characters."""
    if not text:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


def _describe(exc: BaseException) -> str:
    """One short line: the error's class and its message without curl's boilerplate."""
    text = " ".join(str(exc).split())
    text = text.removeprefix("Failed to perform, ")
    text = text.split(" See https://curl.se/", 1)[0].rstrip(".")
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
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
    workers : int, default 8
        Threads :func:`~eventstudy.data.load_prices` fetches with at most (the cache
        serves what it holds without a request); 1 fetches one symbol after the other.
    sleep : callable, default time.sleep
        Waiting function (tests inject a recorder).
    ticker_factory : callable, optional
        ``symbol -> object with .history(**kwargs) and .history_metadata``; default
        ``yfinance.Ticker`` (with yfinance's own session).
    cache_dir : str or Path, optional
        Where yfinance keeps its own caches; default ``<eventstudy cache>/yfinance``.
    check_split : bool, default True
        Warn on adjusted-close jumps that look like an unadjusted split.

    Notes
    -----
    Rate limits: after the ``k``-th 429 in a row for one symbol the source waits
    ``min(backoff * 2**(k-1), max_backoff)`` seconds, and every other thread fetching
    through this source waits with it (:class:`RateGate`); after ``retries`` retries the
    symbol fails with ``RateLimited``.

    Examples
    --------
    >>> YahooSource().get("7203.T", "2025-07-01", "2025-07-31")  # doctest: +SKIP
    """

    name = "yahoo"
    remote = True
    #: default number of threads of a batch fetch
    DEFAULT_WORKERS = 8

    def __init__(
        self,
        *,
        retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        timeout: float = 15.0,
        workers: int = DEFAULT_WORKERS,
        sleep: Callable[[float], None] = time.sleep,
        ticker_factory: Callable[[str], YahooTicker] | None = None,
        cache_dir: str | Path | None = None,
        check_split: bool = True,
    ) -> None:
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.timeout = float(timeout)
        self.workers = max(1, int(workers))
        self.sleep = sleep
        self.gate = RateGate()
        self.ticker_factory = ticker_factory
        self.cache_dir = cache_dir
        self.check_split = check_split

    def __repr__(self) -> str:
        return (
            f"YahooSource(retries={self.retries}, backoff={self.backoff}, workers={self.workers})"
        )

    # ------------------------------------------------------------------ fetching
    def _history(
        self, yf: ModuleType, symbol: str, kwargs: dict[str, Any]
    ) -> tuple[pd.DataFrame | None, YahooTicker]:
        factory: Callable[[str], YahooTicker] = self.ticker_factory or yf.Ticker
        attempt = 0
        waited = False  # this thread just slept its own backoff: no second wait
        while True:
            attempt += 1
            if not waited:
                self.gate.wait(self.sleep)  # another thread's rate limit holds us too
            waited = False
            try:
                with _yf_raising(yf):
                    ticker = factory(symbol)
                    raw = ticker.history(**kwargs)
                return raw, ticker
            except Exception as exc:
                kind = _classify(exc)
                if kind == "rate":
                    if attempt <= self.retries:
                        delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
                        self.gate.pause(delay)
                        self.sleep(delay)
                        waited = True
                        continue
                    raise RateLimited(symbol=symbol, attempts=attempt) from None
                if kind == "range":
                    said = getattr(exc, "yahoo_reason", None)  # yfinance >= 1.3 keeps it
                    raise NoDataInRange(
                        symbol=symbol, source="Yahoo Finance", reason=_short(said)
                    ) from None
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

        Always asks Yahoo (yfinance's in-process memo is emptied first); the price cache
        decides when to call this.

        Raises
        ------
        RateLimited
            Yahoo kept answering HTTP 429 after ``retries`` retries.
        UnknownSymbol
            Yahoo does not know the symbol (``NoDataInRange``, a subclass: it has no
            prices in the range asked).
        NetworkError
            Yahoo cannot be reached (connection, TLS, timeout, outage).
        DataError
            The answer is for another symbol or exchange, or has an unexpected shape.
        CacheError
            yfinance's cache folder cannot be created.

        Warns
        -----
        PartialHistoryWarning
            The answer starts later or ends earlier than asked (by more than 10 days).
        SuspectedSplitWarning
            An adjusted-close jump looks like an unadjusted split.
        """
        import yfinance as yf

        configure_yfinance_cache(self.cache_dir)
        forget_yfinance_memo()
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        kwargs: dict[str, Any] = {
            "start": f"{(t0 or _EARLIEST).date()}",
            # yfinance's end is exclusive
            "end": None if t1 is None else f"{(t1 + pd.Timedelta(days=1)).date()}",
            "interval": "1d",
            "auto_adjust": False,
            "actions": True,
            "repair": False,
            "timeout": self.timeout,
        }
        raw, ticker = self._history(yf, symbol, kwargs)
        if raw is None or len(raw) == 0:
            raise NoDataInRange(symbol=symbol, source="Yahoo Finance")
        if "Close" not in raw.columns:
            raise DataError(
                symbol=symbol,
                detail=f"Yahoo Finance answered without a Close column ({list(raw.columns)})",
                fix="update yfinance, or use --prices DIR",
            )
        meta = YahooMeta.read(ticker)
        self._check_identity(symbol, raw, meta)
        df = raw.rename(columns=YAHOO_COLUMNS)
        df = df[[c for c in YAHOO_COLUMNS.values() if c in df.columns]]
        df.index = session_dates(raw.index)
        # yfinance may repeat the latest session (live row + daily row): keep the last
        df = df[~df.index.duplicated(keep="last")]
        df = df[df["close"].notna()]
        if len(df) == 0:
            raise NoDataInRange(symbol=symbol, source="Yahoo Finance")
        raw_tz = pd.DatetimeIndex(raw.index).tz
        complete = self._check_partial(symbol, df, t0, t1)
        prov = make_provenance(
            self.name,
            symbol,
            timezone=str(raw_tz) if raw_tz is not None else meta.timezone,
            exchange=meta.exchange,
            currency=meta.currency,
            auto_adjust=False,
            repair=False,
            requested=[
                None if t0 is None else f"{t0.date()}",
                None if t1 is None else f"{t1.date()}",
            ],
            complete=complete,
        )
        prov["versions"]["yfinance"] = str(yf.__version__)
        if self.check_split:
            adj = df["adj_close"] if "adj_close" in df else df["close"]
            check_splits(adj, symbol, stacklevel=3)
        return finalize_prices(df, symbol, prov, start=t0, end=t1)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_identity(symbol: str, raw: pd.DataFrame, meta: YahooMeta) -> None:
        if meta.symbol and meta.symbol.upper() != symbol.upper():
            raise DataError(
                symbol=symbol,
                detail=f"Yahoo Finance answered with prices for {meta.symbol!r}",
                fix="check the symbol (or its alias) and retry; nothing was cached",
            )
        idx = pd.DatetimeIndex(raw.index)
        tz = str(idx.tz) if idx.tz is not None else meta.timezone
        for suffix, want in SUFFIX_TZ.items():
            if symbol.upper().endswith(suffix.upper()) and tz and tz != want:
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
