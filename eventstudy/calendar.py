"""Exchange sessions and event timing on real exchange calendars.

An announcement is a time-zone-aware instant. Each exchange first reacts to it in one
session (day 0 of the event study on that exchange):

=====================  ===============================================  ===================
announced ...          reacting session                                 ``rule``
=====================  ===============================================  ===================
before the open        that day's session                               ``before open``
during the session     that session                                     ``during session``
in the lunch break     that session (Tokyo's 11:30-12:30 break)         ``lunch break``
at/after the close     the next session (the close is exclusive)        ``after close``
weekend or holiday     the next session                                 ``non-trading day``
=====================  ===============================================  ===================

Open and close times come from `exchange_calendars`, so changes such as the Tokyo Stock
Exchange's move of the close from 15:00 to 15:30 JST on 2024-11-05 are honoured.

Relative event time is counted in sessions of the security's own exchange
(:func:`relative_sessions`, :func:`window_sessions`); a window that runs past the calendar or
the data raises :class:`~eventstudy.exceptions.DataError` naming the dates.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from eventstudy.config import EXCHANGE_BY_SUFFIX, EXCHANGE_BY_SYMBOL, suffix_of
from eventstudy.data.factors import HOME_EXCHANGE, AlignRule
from eventstudy.exceptions import CacheError, ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import exchange_calendars as xc

__all__ = [
    "EXCHANGE_BY_SUFFIX",
    "EXCHANGE_BY_SYMBOL",
    "RULES",
    "Rule",
    "Schedule",
    "event_timing",
    "exchange_for_symbol",
    "factor_rule",
    "get_calendar",
    "reacting_session",
    "reacting_session_rule",
    "relative_day",
    "relative_sessions",
    "schedule",
    "session_offset",
    "sessions",
    "window_sessions",
]

Rule = Literal["before open", "during session", "lunch break", "after close", "non-trading day"]
RULES: tuple[Rule, ...] = (
    "before open",
    "during session",
    "lunch break",
    "after close",
    "non-trading day",
)

#: Earliest date we ask exchange_calendars to cover (later if the calendar cannot go back so far).
CALENDAR_START = pd.Timestamp("2000-01-01")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence pandas deprecation noise raised inside exchange_calendars (not ours to fix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def exchange_for_symbol(symbol: str, override: str | None = None) -> str:
    """Return the exchange-calendars code of the exchange a symbol trades on.

    Parameters
    ----------
    symbol : str
        A Yahoo-style ticker: ``7203.T`` -> ``XTKS``, ``AAPL`` or ``^GSPC`` -> ``XNYS``.
    override : str, optional
        An explicit exchange code (from the config); returned after validation.

    Raises
    ------
    ConfigError
        The override is not an exchange-calendars code, or the suffix is unknown.

    Notes
    -----
    The maps :data:`EXCHANGE_BY_SYMBOL` (whole symbols such as ``^N225``) and
    :data:`EXCHANGE_BY_SUFFIX` (``.T``, ``.L``, ...) are plain dicts and may be extended.
    """
    if override is not None:
        schedule(override)  # validates the code
        return override
    if symbol in EXCHANGE_BY_SYMBOL:
        return EXCHANGE_BY_SYMBOL[symbol]
    suffix = suffix_of(symbol)
    if suffix in EXCHANGE_BY_SUFFIX:
        return EXCHANGE_BY_SUFFIX[suffix]
    raise ConfigError(
        field="exchange",
        value=symbol,
        expected=(
            f"a known suffix ({', '.join(sorted(k for k in EXCHANGE_BY_SUFFIX if k))}) "
            "or an explicit exchange code such as XTKS or XNYS"
        ),
    )


def _store(path: Path, write: Callable[[BinaryIO], object], earlier: str) -> None:
    """Write a cache file of the ``calendars/`` folder whole or not at all, then remove the
    files of its folder matching ``earlier`` (earlier days' and versions' files). A cache
    that cannot be written (read-only, full) is not an error: the run goes on without it."""
    from eventstudy.data.cache import write_atomic

    try:
        write_atomic(path, write)
    except CacheError:
        return
    for old in path.parent.glob(earlier):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


@functools.lru_cache(maxsize=32)
def get_calendar(exchange: str) -> xc.ExchangeCalendar:
    """The exchange-calendars calendar for ``exchange``, covering 2000 (or its first date) on.

    Raises :class:`ConfigError` for an unknown exchange code.

    Notes
    -----
    Building a calendar costs 0.3-0.5 s of CPU (exchange-calendars computes every holiday
    rule over the rule's whole history with pandas' holiday machinery), a large part of a
    command-line run. The built calendar is kept in ``<eventstudy cache>/calendars`` (see
    :func:`_stored_calendar`), one file per exchange, range and library versions, and read
    back in about 0.05 s.
    """
    import exchange_calendars as xc

    names = _calendar_names()
    if exchange not in names:
        raise ConfigError(
            field="exchange",
            value=exchange,
            expected="an exchange-calendars code such as XTKS (Tokyo) or XNYS (New York)",
        )
    dispatcher = xc.calendar_utils.global_calendar_dispatcher
    name = dispatcher.resolve_alias(exchange)
    factory = dispatcher._calendar_factories.get(name)
    start = CALENDAR_START
    bound = factory.bound_min() if factory is not None else None
    if bound is not None and bound > start:
        start = bound
    if factory is None:  # a calendar registered without a factory: not ours to store
        with _quiet():
            return xc.get_calendar(exchange, start=start)
    end = factory.default_end()
    return _stored_calendar(name, start, end, factory)


#: Version of the stored-calendar format (part of every file name).
_STORE_FORMAT = 1


def _stored_calendar(
    name: str, start: pd.Timestamp, end: pd.Timestamp, factory: Any
) -> xc.ExchangeCalendar:
    """The calendar ``name`` over ``[start, end]``, read from the cache or built and stored.

    A file is used only if it unpickles to an ``ExchangeCalendar`` of that name and range
    built by the same exchange-calendars, pandas and Python (all in its name); anything
    else (missing, truncated, damaged, another library version) is built again and the
    file replaced, written to a temporary file and renamed into place. A cache that cannot
    be written is not an error: the calendar is then built in every run. The files are
    written and read by eventstudy only (pickle executes what it reads: the cache folder
    must be as private as the user's own files, as Python's ``__pycache__`` is).
    """
    import pickle

    import exchange_calendars as xc

    from eventstudy.data.cache import default_cache_dir

    folder = default_cache_dir() / "calendars"
    versions = _versions()
    stem = f"{name}_{start:%Y%m%d}_{end:%Y%m%d}_{versions}_v{_STORE_FORMAT}"
    path = folder / f"{stem}.pickle"
    try:
        with open(path, "rb") as fh:
            cal = pickle.load(fh)
        if (
            isinstance(cal, xc.ExchangeCalendar)
            and cal.name == name
            and cal.first_session >= start
            and cal.last_session <= end
            and len(cal.sessions) > 0
        ):
            return cal
    except Exception:  # missing or damaged: build it again
        pass
    with _quiet():
        cal = factory(start=start, end=end)
    _store(
        path,
        lambda fh: pickle.dump(cal, fh, protocol=pickle.HIGHEST_PROTOCOL),
        f"{name}_*.pickle",
    )
    return cal


def _versions() -> str:
    """The library versions a stored calendar depends on (part of its file name)."""
    import sys
    from importlib.metadata import version

    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    return f"xc{version('exchange-calendars')}-pd{pd.__version__}-py{py}"


@functools.lru_cache(maxsize=1)
def _calendar_names() -> frozenset[str]:
    import exchange_calendars as xc

    return frozenset(xc.get_calendar_names(include_aliases=True))


# ----------------------------------------------------------------------------- schedules


@dataclass(frozen=True, eq=False)
class Schedule:
    """An exchange's sessions with their open, close and lunch break, as plain arrays.

    What the event timing and the session counting read of an exchange calendar (the
    calendar of :func:`get_calendar`, the same range), without the calendar object: a run
    whose schedules are stored (:func:`schedule`) neither imports exchange-calendars (0.15 s)
    nor unpickles its calendars (0.05 s each, most of it their holiday offsets).

    Attributes
    ----------
    name : str
        The exchange-calendars name (``XTKS``).
    tz : str
        The exchange's time zone (``Asia/Tokyo``).
    weekmask : str
        Its weekmask (``"1111100"``).
    days : ndarray of datetime64[ns]
        The sessions (tz-naive dates), sorted.
    opens, closes, break_starts, break_ends : ndarray of datetime64[ns]
        Per session, the UTC instants (tz-naive); ``NaT`` where a session has no break.
    """

    name: str
    tz: str
    weekmask: str
    days: np.ndarray
    opens: np.ndarray
    closes: np.ndarray
    break_starts: np.ndarray
    break_ends: np.ndarray

    @functools.cached_property
    def sessions(self) -> pd.DatetimeIndex:
        """Every session (tz-naive dates)."""
        return pd.DatetimeIndex(self.days)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone as an object (``ts.tz_convert(schedule.zone)``)."""
        return ZoneInfo(self.tz)

    @property
    def first_session(self) -> pd.Timestamp:
        """The first session (tz-naive)."""
        return pd.Timestamp(self.days[0])

    @property
    def last_session(self) -> pd.Timestamp:
        """The last session (tz-naive)."""
        return pd.Timestamp(self.days[-1])

    def position(self, day: pd.Timestamp) -> int:
        """Index of the first session on or after ``day`` (a tz-naive date)."""
        return int(np.searchsorted(self.days, np.datetime64(day.asm8, "ns")))

    def is_session(self, day: pd.Timestamp) -> bool:
        """Whether ``day`` (a tz-naive date) is a session."""
        i = self.position(day)
        return i < len(self.days) and self.days[i] == np.datetime64(day.asm8, "ns")

    def session(self, i: int) -> pd.Timestamp:
        """The ``i``-th session (tz-naive)."""
        return pd.Timestamp(self.days[i])

    @staticmethod
    def _utc(value: np.datetime64) -> pd.Timestamp:
        return pd.Timestamp(value).tz_localize("UTC")  # NaT stays NaT

    def open_at(self, i: int) -> pd.Timestamp:
        """The ``i``-th session's open (UTC)."""
        return self._utc(self.opens[i])

    def close_at(self, i: int) -> pd.Timestamp:
        """The ``i``-th session's close (UTC)."""
        return self._utc(self.closes[i])

    def break_at(self, i: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The ``i``-th session's lunch break (UTC start, end; ``NaT`` without one)."""
        return self._utc(self.break_starts[i]), self._utc(self.break_ends[i])

    def sessions_in_range(self, lo: pd.Timestamp, hi: pd.Timestamp) -> np.ndarray:
        """The sessions from ``lo`` to ``hi`` (tz-naive dates, both inclusive)."""
        a = np.searchsorted(self.days, np.datetime64(lo.asm8, "ns"), side="left")
        b = np.searchsorted(self.days, np.datetime64(hi.asm8, "ns"), side="right")
        return self.days[a:b]

    @classmethod
    def of(cls, cal: xc.ExchangeCalendar) -> Schedule:
        """The schedule of an exchange-calendars calendar."""

        def instants(nanos: np.ndarray) -> np.ndarray:
            return np.asarray(nanos, dtype=np.int64).view("datetime64[ns]")

        return cls(
            name=str(cal.name),
            tz=str(cal.tz),
            weekmask=str(cal.weekmask),
            days=np.asarray(
                cal.sessions.tz_localize(None) if cal.sessions.tz else cal.sessions
            ).astype("datetime64[ns]"),
            opens=instants(cal.opens_nanos),
            closes=instants(cal.closes_nanos),
            break_starts=instants(cal.break_starts_nanos),
            break_ends=instants(cal.break_ends_nanos),
        )

    def _valid(self) -> bool:
        """Whether the arrays make a schedule (one length, datetime64[ns], sorted dates)."""
        n = len(self.days)
        return (
            n > 0
            and all(
                len(a) == n for a in (self.opens, self.closes, self.break_starts, self.break_ends)
            )
            and all(
                a.dtype == np.dtype("datetime64[ns]")
                for a in (self.days, self.opens, self.closes, self.break_starts, self.break_ends)
            )
            and bool((self.days[1:] > self.days[:-1]).all())
            and not np.isnat(self.opens).any()
            and not np.isnat(self.closes).any()
        )


_ARRAYS = ("days", "opens", "closes", "break_starts", "break_ends")
#: Version of the stored-schedule format (part of every file name).
_SCHEDULE_FORMAT = 1


@functools.lru_cache(maxsize=32)
def schedule(exchange: str) -> Schedule:
    """The sessions, opens, closes and breaks of ``exchange`` (:class:`Schedule`), over the
    range of :func:`get_calendar`.

    Raises :class:`ConfigError` for an unknown exchange code (as :func:`get_calendar`).

    Notes
    -----
    Read from ``<eventstudy cache>/calendars/<code>_<day>_<versions>_s1.npz`` (plain arrays,
    read without pickle in about 1 ms), one file per exchange, day (the calendar's range ends
    a year after the day it is built, as exchange-calendars' default end) and library
    versions; else built from :func:`get_calendar` and stored (written to a temporary file
    and renamed into place). A file that is missing, damaged or inconsistent is built again;
    a cache that cannot be written is not an error. Only a code that was built once has a
    file, so a stored schedule is a valid code.
    """
    from eventstudy.data.cache import default_cache_dir

    folder = default_cache_dir() / "calendars"
    day = pd.Timestamp.now().floor("D")  # exchange-calendars' default end: a year from today
    path = folder / f"{exchange}_{day:%Y%m%d}_{_versions()}_s{_SCHEDULE_FORMAT}.npz"
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            code = str(npz["code"])
            stored = Schedule(
                name=str(npz["name"]),
                tz=str(npz["tz"]),
                weekmask=str(npz["weekmask"]),
                **{k: npz[k] for k in _ARRAYS},
            )
        if code == exchange and stored._valid():
            return stored
    except Exception:  # missing or damaged: build it again
        pass
    built = Schedule.of(get_calendar(exchange))

    def write(fh: Any) -> None:
        np.savez(
            fh,
            code=np.array(exchange),
            name=np.array(built.name),
            tz=np.array(built.tz),
            weekmask=np.array(built.weekmask),
            **{k: getattr(built, k) for k in _ARRAYS},
        )

    _store(path, write, f"{exchange}_*.npz")
    return built


#: Years a timestamp may fall in (nanosecond pandas timestamps span 1677-2262).
_YEARS = (1678, 2261)


def _as_aware(announced: pd.Timestamp | datetime | str, what: str = "announced") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(announced)
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        ts = None
    if ts is not None and not pd.isna(ts) and not _YEARS[0] <= ts.year <= _YEARS[1]:
        ts = None  # pandas holds year 9999 in microseconds, but .date() and offsets fail
    if ts is None or ts is pd.NaT or pd.isna(ts):
        raise ConfigError(
            field=what,
            value=str(announced),
            expected=f"a time-zone-aware timestamp from {_YEARS[0]} to {_YEARS[1]}",
        )
    if ts.tzinfo is None:
        raise ConfigError(
            field=what,
            value=str(announced),
            expected=(
                "a time-zone-aware timestamp with an offset, e.g. 2025-12-03T14:30:00-05:00 "
                "(naive times are ambiguous)"
            ),
        )
    return ts


def _check_in_calendar(cal: Schedule, date: pd.Timestamp, exchange: str) -> None:
    if date < cal.first_session or date >= cal.last_session:
        raise DataError(
            symbol=exchange,
            detail=(
                f"{date.date()} is outside the {exchange} calendar "
                f"({cal.first_session.date()} .. {cal.last_session.date()})"
            ),
            fix="choose dates the exchange calendar covers",
        )


def reacting_session_rule(
    announced: pd.Timestamp | datetime | str, exchange: str
) -> tuple[pd.Timestamp, Rule]:
    """Return the first session of ``exchange`` that can react, and the rule applied.

    Parameters
    ----------
    announced : Timestamp
        When the news became public; must be time-zone aware.
    exchange : str
        exchange-calendars code, e.g. ``XTKS`` or ``XNYS``.

    Returns
    -------
    session : Timestamp
        tz-naive session date.
    rule : str
        One of :data:`RULES`.

    Notes
    -----
    The open is inclusive and the close exclusive: at 15:30 JST (the TSE close since
    2024-11-05) the announcement reacts in the next session; at 15:29 in the same one.
    """
    ts = _as_aware(announced)
    cal = schedule(exchange)
    local = ts.tz_convert(cal.zone)
    day = pd.Timestamp(local.date())
    _check_in_calendar(cal, day, exchange)
    i = cal.position(day)
    if not cal.is_session(day):
        return cal.session(i), "non-trading day"
    utc = ts.tz_convert("UTC")
    if utc < cal.open_at(i):
        return day, "before open"
    if utc >= cal.close_at(i):
        return cal.session(i + 1), "after close"
    break_start, break_end = cal.break_at(i)
    if not pd.isna(break_start) and break_start <= utc < break_end:
        return day, "lunch break"
    return day, "during session"


def reacting_session(announced: pd.Timestamp | datetime | str, exchange: str) -> pd.Timestamp:
    """Return the tz-naive date of the first session of ``exchange`` able to react.

    See :func:`reacting_session_rule` (which also returns the rule applied).

    Examples
    --------
    >>> reacting_session(pd.Timestamp("2025-12-03 14:30", tz="America/New_York"), "XTKS")
    Timestamp('2025-12-04 00:00:00')
    """
    return reacting_session_rule(announced, exchange)[0]


def _iter_events(events: Any) -> list[tuple[str, pd.Timestamp]]:
    if isinstance(events, pd.DataFrame):
        id_col = "event_id" if "event_id" in events.columns else "id"
        return [(str(i), a) for i, a in zip(events[id_col], events["announced"], strict=True)]
    if isinstance(events, Mapping):
        return [(str(k), v) for k, v in events.items()]
    out = []
    for ev in events:
        if isinstance(ev, tuple):
            out.append((str(ev[0]), ev[1]))
        else:
            out.append((str(ev.id), ev.announced))
    return out


def event_timing(events: Any, exchanges: Iterable[str]) -> pd.DataFrame:
    """Map each event to its reacting session on each exchange.

    Parameters
    ----------
    events : sequence of Event, DataFrame, mapping or (id, announced) pairs
        Config events (objects with ``id`` and ``announced``), a DataFrame with
        ``event_id`` (or ``id``) and ``announced`` columns, or ``{event_id: announced}``.
    exchanges : iterable of str
        Exchange codes, e.g. ``["XTKS", "XNYS"]`` (duplicates are dropped, order kept).

    Returns
    -------
    DataFrame
        One row per (event, exchange), events in the order given: ``event_id``,
        ``announced`` (tz-aware, converted to UTC so the column has one dtype whatever
        offsets the events were written with), ``exchange``, ``session`` (tz-naive date)
        and ``rule`` (one of :data:`RULES`).
    """
    exch = list(dict.fromkeys(exchanges))
    rows = []
    for event_id, announced in _iter_events(events):
        ts = _as_aware(announced, what=f"events[{event_id}].announced")
        for ex in exch:
            session, rule = reacting_session_rule(ts, ex)
            rows.append(
                {
                    "event_id": event_id,
                    "announced": ts.tz_convert("UTC"),
                    "exchange": ex,
                    "session": session,
                    "rule": rule,
                }
            )
    frame = pd.DataFrame(rows, columns=["event_id", "announced", "exchange", "session", "rule"])
    frame["announced"] = pd.to_datetime(frame["announced"], utc=True)
    frame["session"] = pd.to_datetime(frame["session"])
    return frame


def sessions(
    exchange: str, start: pd.Timestamp | str | datetime, end: pd.Timestamp | str | datetime
) -> pd.DatetimeIndex:
    """Sessions of ``exchange`` from ``start`` to ``end`` (both inclusive), tz-naive.

    Raises :class:`DataError` when the range runs past the calendar.
    """
    cal = schedule(exchange)
    lo, hi = _naive_day(start), _naive_day(end)
    if hi < lo:
        raise DataError(
            symbol=exchange,
            detail=f"session range ends ({hi.date()}) before it starts ({lo.date()})",
            fix="swap the dates",
        )
    for d in (lo, hi):
        if d < cal.first_session or d > cal.last_session:
            _check_in_calendar(cal, d, exchange)
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi), name="date")


def _naive_day(value: pd.Timestamp | str | datetime) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def window_sessions(
    index: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    day0: pd.Timestamp | str | datetime,
    start: int,
    end: int,
    *,
    symbol: str = "data",
) -> pd.DatetimeIndex:
    """The sessions from relative day ``start`` to ``end`` around ``day0`` in ``index``.

    Parameters
    ----------
    index : DatetimeIndex
        Sorted unique session dates: a price frame's index or :func:`sessions` output.
    day0 : date
        The event's reacting session; must be in ``index``.
    start, end : int
        Relative days (inclusive), e.g. ``-250, -11`` or ``-10, 10``.
    symbol : str
        Named in the error message (a ticker or an exchange code).

    Raises
    ------
    DataError
        ``day0`` is not a session of ``index`` or the window runs past its first or last
        date; the message names the dates.
    """
    idx = pd.DatetimeIndex(index)
    d0 = _naive_day(day0)
    if end < start:
        raise DataError(
            symbol=symbol,
            detail=f"relative window ({start}, {end}) ends before it starts",
            fix="write windows as (start, end) with start <= end",
        )
    pos = idx.get_indexer([d0])[0]
    if pos < 0:
        span = f"{idx[0].date()} .. {idx[-1].date()}" if len(idx) else "no sessions"
        raise DataError(
            symbol=symbol,
            detail=f"event day {d0.date()} is not a session in the data ({span})",
            fix="check the event date and the exchange of the security",
        )
    lo, hi = pos + start, pos + end
    if lo < 0 or hi >= len(idx):
        first, last = idx[0].date(), idx[-1].date()
        need = []
        if lo < 0:
            need.append(f"{-lo} session(s) before {first}")
        if hi >= len(idx):
            need.append(f"{hi - len(idx) + 1} session(s) after {last}")
        raise DataError(
            symbol=symbol,
            detail=(
                f"window ({start:+d}, {end:+d}) around {d0.date()} needs "
                f"{' and '.join(need)} (available {first} .. {last})"
            ),
            fix="extend the data range or shorten the window",
        )
    return pd.DatetimeIndex(idx[lo : hi + 1], name="date")


def relative_sessions(
    exchange: str,
    day0: pd.Timestamp | str | datetime,
    start: int,
    end: int,
) -> pd.DatetimeIndex:
    """Sessions of ``exchange`` from relative day ``start`` to ``end`` around ``day0``.

    ``day0`` must be a session of the exchange. Counting is in the exchange's own
    trading days (holidays skipped). Raises :class:`DataError` past the calendar.
    """
    cal = schedule(exchange)
    d0 = _naive_day(day0)
    if not cal.is_session(d0):
        raise DataError(
            symbol=exchange,
            detail=f"{d0.date()} is not a {exchange} session",
            fix="use reacting_session() to map the announcement to a session",
        )
    return window_sessions(cal.sessions, d0, start, end, symbol=exchange)


def session_offset(exchange: str, day0: pd.Timestamp | str | datetime, n: int) -> pd.Timestamp:
    """The session ``n`` trading days after (``n < 0``: before) session ``day0``."""
    return relative_sessions(exchange, day0, min(n, 0), max(n, 0))[0 if n < 0 else -1]


def relative_day(
    index: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    day0: pd.Timestamp | str | datetime,
    date: pd.Timestamp | str | datetime,
) -> int:
    """Number of sessions of ``index`` from ``day0`` to ``date`` (negative before day 0)."""
    idx = pd.DatetimeIndex(index)
    days = [_naive_day(day0), _naive_day(date)]
    pos = idx.get_indexer(days)
    if (pos < 0).any():
        missing = [str(d.date()) for d, p in zip(days, pos, strict=True) if p < 0]
        raise DataError(detail=f"not sessions of the index: {', '.join(missing)}")
    return int(pos[1] - pos[0])


def factor_rule(region: str, exchange: str) -> AlignRule:
    """How ``region``'s published factors are matched to ``exchange``'s sessions.

    ``"same_date"`` when the factors' home exchange (:data:`eventstudy.data.factors.HOME_EXCHANGE`:
    XNYS for the US factors, XTKS for Japan's) is ``exchange`` or closes no later than it on
    most of their last 250 common sessions (UTC); ``"next_session"`` when it closes later, as
    New York does after Tokyo: a US factor dated ``d`` is then known only after Tokyo's
    session ``d`` has closed, so it belongs to the next one (no look-ahead). See
    :func:`eventstudy.data.factors.align_factors`.
    """
    home = HOME_EXCHANGE.get(region)
    if home is None:
        raise ConfigError(
            field="fama_french.region",
            value=region,
            expected="one of " + ", ".join(HOME_EXCHANGE),
        )
    if home == exchange:
        return "same_date"
    a, b = schedule(home), schedule(exchange)
    recent = np.intersect1d(a.days, b.days)[-250:]
    if not len(recent):
        return "same_date"
    later = (
        a.closes[np.searchsorted(a.days, recent)] > b.closes[np.searchsorted(b.days, recent)]
    ).mean()
    return "next_session" if later > 0.5 else "same_date"
