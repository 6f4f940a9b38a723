"""Every typed error and warning of ``eventstudy``, each with its message template.

Errors carry the offending values as attributes and render one line that names what
went wrong, the value, and the fix. The CLI maps each class to an exit code:

========================  =========  ==========================================
class                     exit code  raised when
========================  =========  ==========================================
``ConfigError``           2          a study file or argument is invalid
``DataError``             3          prices are missing, malformed or too short
``UnknownSymbol``         3          a data source does not know a symbol
``CacheError``            3          the local cache cannot be read or written
``NetworkError``          4          a data source cannot be reached
``RateLimited``           4          a data source keeps refusing (HTTP 429)
``FetchFailed``           3 or 4     ``--strict``: some securities could not be
                                     fetched (4 when one failed on the network)
========================  =========  ==========================================

A fetch of many symbols collects each symbol's failure as a :class:`FetchFailure` (the
symbol, the reason, the error's one line) instead of stopping at the first; the runner
studies the others with a :class:`SkippedSecuritiesWarning`, or raises
:class:`FetchFailed` under ``--strict``. Both carry the per-symbol table in ``details``,
which the CLI prints under the one line.

This module imports nothing heavy: the CLI imports it at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CacheError",
    "CacheWarning",
    "ClusteredEventWarning",
    "ConfigError",
    "DataError",
    "DataWarning",
    "EventStudyError",
    "EventStudyWarning",
    "ExcludedEventWarning",
    "MissingSessionsWarning",
    "NetworkError",
    "NotCached",
    "RateLimited",
    "ReportError",
    "SuspectedSplitWarning",
    "UnknownSymbol",
]


class EventStudyError(Exception):
    """Base class of every error ``eventstudy`` raises on purpose.

    Subclasses set ``template`` (a ``str.format`` template over keyword arguments)
    and ``exit_code``. ``str(err)`` is a single line.
    """

    template: str = "{message}"
    exit_code: int = 1
    #: extra lines the CLI prints above the one-line message (e.g. a per-symbol table)
    details: tuple[str, ...] = ()

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.fields = fields
        if message is None:
            try:
                message = self.template.format(**fields)
            except (KeyError, IndexError):  # pragma: no cover - programming error
                message = f"{type(self).__name__}: {fields!r}"
        # one line, always
        self.message = " ".join(str(message).split())
        super().__init__(self.message)

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)


class ConfigError(EventStudyError, ValueError):
    """A study configuration (YAML file or function argument) is invalid.

    Parameters
    ----------
    field : str
        Dotted path of the offending field, e.g. ``events[2].announced``.
    value : object
        The value found.
    expected : str
        What is expected instead (the fix).
    file : str, optional
        The configuration file, when there is one.
    """

    template = "{where}{field}: got {value!r}; expected {expected}"
    exit_code = 2

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str = "",
        value: Any = None,
        expected: str = "",
        file: str | None = None,
        **extra: Any,
    ) -> None:
        where = f"{file}: " if file else ""
        super().__init__(
            message,
            where=where,
            field=field,
            value=value,
            expected=expected,
            file=file,
            **extra,
        )


class DataError(EventStudyError, ValueError):
    """Prices or returns are missing, malformed, or too short for the study.

    ``symbol`` names the series, ``detail`` says what is wrong and ``fix`` what to do.
    """

    template = "{symbol}: {detail}{fix_sep}{fix}"
    exit_code = 3

    def __init__(
        self,
        message: str | None = None,
        *,
        symbol: str = "data",
        detail: str = "",
        fix: str = "",
        **extra: Any,
    ) -> None:
        super().__init__(
            message,
            symbol=symbol,
            detail=detail,
            fix=fix,
            fix_sep="; " if fix else "",
            **extra,
        )


class UnknownSymbol(DataError):
    """A data source does not know the symbol (unknown, misspelt or delisted)."""

    template = (
        "{symbol}: {source} has no data for this symbol (unknown or delisted); "
        "check the ticker (Tokyo listings end in .T, e.g. 7203.T) or give an alias"
    )

    def __init__(self, message: str | None = None, *, symbol: str, source: str = "the source"):
        super().__init__(message, symbol=symbol, source=source)


class NoDataInRange(UnknownSymbol):
    """A data source knows the symbol (or cannot tell) but has no prices in the range asked."""

    template = (
        "{symbol}: {source} has no prices in the range asked for{said} (listed later, "
        "delisted earlier, or a range without sessions); check the symbol and the study's "
        "dates"
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        symbol: str,
        source: str = "the source",
        reason: str | None = None,
    ) -> None:
        said = f" ({source} says: {reason})" if reason else ""
        DataError.__init__(self, message, symbol=symbol, source=source, said=said)


class NotCached(DataError):
    """Offline, and the cache does not hold the prices asked for (nothing is malformed)."""


class CacheError(EventStudyError, OSError):
    """The local price cache cannot be read or written."""

    template = "cache {path}: {detail}; {fix}"
    exit_code = 3

    def __init__(
        self,
        message: str | None = None,
        *,
        path: str = "",
        detail: str = "",
        fix: str = "run 'eventstudy cache clear' or set EVENTSTUDY_CACHE to a writable folder",
    ) -> None:
        super().__init__(message, path=path, detail=detail, fix=fix)


class NetworkError(EventStudyError, ConnectionError):
    """A data source cannot be reached."""

    template = (
        "{source}: cannot reach the network ({detail}); use --offline to read only the "
        "cache, or --prices DIR to read CSV files"
    )
    exit_code = 4

    def __init__(
        self, message: str | None = None, *, source: str = "Yahoo Finance", detail: str = ""
    ) -> None:
        super().__init__(message, source=source, detail=detail)


class RateLimited(NetworkError):
    """The data source kept answering 'too many requests' after bounded retries."""

    template = (
        "{source}: rate limited (HTTP 429) after {attempts} attempts for {symbol}; wait a few "
        "minutes, or use --offline with the cache, or --prices DIR"
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        source: str = "Yahoo Finance",
        symbol: str = "",
        attempts: int = 0,
    ) -> None:
        EventStudyError.__init__(self, message, source=source, symbol=symbol, attempts=attempts)


class ReportError(EventStudyError, RuntimeError):
    """A report or image cannot be written."""

    template = "report: {detail}; {fix}"
    exit_code = 3

    def __init__(self, message: str | None = None, *, detail: str = "", fix: str = "") -> None:
        super().__init__(message, detail=detail, fix=fix)


# ----------------------------------------------------------------------------- warnings


class EventStudyWarning(UserWarning):
    """Base class of every warning ``eventstudy`` emits.

    ``fields`` holds the values its template was filled with (``symbol``, ``security``,
    ...; empty for a plain message), so a caller can summarise many warnings of one kind.
    """

    fields: dict[str, Any]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.fields = {}

    #: extra lines the CLI prints under the warning (e.g. a per-symbol table)
    details: tuple[str, ...] = ()


class DataWarning(EventStudyWarning):
    """Something in the prices deserves the analyst's attention."""


class MissingSessionsWarning(DataWarning):
    """A series lacks sessions its exchange held (listed, not forward-filled)."""

    template = "{symbol}: {count} session(s) of {exchange} have no price: {dates}"


class SuspectedSplitWarning(DataWarning):
    """A one-day price move looks like an unadjusted split or reverse split."""

    template = (
        "{symbol}: price ratio {ratio:.3g} on {date} looks like an unadjusted split; "
        "use split-adjusted prices (Adj Close)"
    )


class ClusteredEventWarning(EventStudyWarning):
    """Tests that assume cross-sectional independence are read on a shared event date."""

    template = (
        "event {event_id}: {n} securities share day 0 (mean residual correlation "
        "{rbar:.3f}, design effect {design_effect:.2f}); tests assuming independence "
        "({tests}) over-reject; read the portfolio test first, and measure every test's size "
        "on this data with 'eventstudy simulate'"
    )


class ExcludedEventWarning(EventStudyWarning):
    """A firm-event was left out of the study (see ``results.excluded``)."""

    template = "{event_id}/{security} excluded: {reason}"


class CacheWarning(EventStudyWarning):
    """A cache file was corrupt and has been discarded (it will be refetched)."""

    template = "cache file {path} was unreadable ({detail}); discarded and refetched"


def format_warning(cls: type[EventStudyWarning], **fields: Any) -> EventStudyWarning:
    """Return an instance of warning class ``cls`` with its template filled in."""
    template = getattr(cls, "template", "{message}")
    warning = cls(template.format(**fields))
    warning.fields = dict(fields)
    return warning


class PartialHistoryWarning(DataWarning):
    """A source returned less history than asked for (late start or early end)."""

    template = (
        "{symbol}: {source} returned {first} .. {last} but {start} .. {end} was asked for; "
        "the missing part is not cached as complete and will be asked for again"
    )


__all__ += ["PartialHistoryWarning"]


class PlaceboDatesWarning(EventStudyWarning):
    """A placebo simulation had to reuse pseudo-event dates (short price history)."""

    template = (
        "event {event_id}: only {eligible} sessions can serve as placebo day 0 for {draws} "
        "draws, so dates are reused and the draws are not independent; fetch a longer history "
        "(data_start in the study, or eventstudy.runner.prepare_history)"
    )


__all__ += ["PlaceboDatesWarning"]


class CalibrationBoundWarning(EventStudyWarning):
    """Calibration asked for more placebo firm-events than the run may hold in memory."""

    template = (
        "{exchange}: calibrating {firm_events:,} firm-events on {asked} placebo dates each "
        "would fit {placebo:,} placebo firm-events (over the bound of {bound:,}, about "
        "{gigabytes:.0f} GB); {action}. Pass --calibrate N (N x firm-events <= the bound) or "
        "0 to choose"
    )


__all__ += ["CalibrationBoundWarning"]


class CacheKeptFilesWarning(CacheWarning):
    """``cache clear`` found parquet files the cache did not write, and kept them."""

    template = (
        "cache {path}: kept {count} file(s) eventstudy did not write ({files}); "
        "delete them yourself if they are not yours"
    )


__all__ += ["CacheKeptFilesWarning"]


# ----------------------------------------------------------------------------- fetch failures

#: Why a symbol's prices could not be fetched (the ``reason`` of a :class:`FetchFailure`).
FailureReason = Literal[
    "unknown symbol",
    "no data in range",
    "rate limited",
    "network error",
    "not cached",
    "cache error",
    "bad data",
]


@dataclass(frozen=True)
class FetchFailure:
    """One symbol whose prices could not be fetched, and why.

    Attributes
    ----------
    symbol : str
        The study's symbol.
    fetched_symbol : str
        The symbol asked of the source (after aliases).
    reason : str
        One of :data:`FailureReason`: ``unknown symbol``, ``no data in range``, ``rate
        limited`` (after the retries), ``network error``, ``not cached`` (offline),
        ``cache error``, ``bad data``.
    message : str
        The error's one line.
    exit_code : int
        The error's exit code (3 data, 4 network).
    """

    symbol: str
    fetched_symbol: str
    reason: FailureReason
    message: str
    exit_code: int

    @classmethod
    def from_error(cls, symbol: str, fetched_symbol: str, err: EventStudyError) -> FetchFailure:
        """The failure of ``symbol`` from the typed error its fetch raised."""
        reason: FailureReason
        if isinstance(err, RateLimited):
            reason = "rate limited"
        elif isinstance(err, NetworkError):
            reason = "network error"
        elif isinstance(err, NoDataInRange):
            reason = "no data in range"
        elif isinstance(err, UnknownSymbol):
            reason = "unknown symbol"
        elif isinstance(err, NotCached):
            reason = "not cached"
        elif isinstance(err, CacheError):
            reason = "cache error"
        else:
            reason = "bad data"
        return cls(symbol, fetched_symbol, reason, str(err), err.exit_code)


def failure_lines(failures: Sequence[FetchFailure]) -> tuple[str, ...]:
    """The per-symbol table of ``failures``: a header, then one aligned line per symbol."""
    if not failures:
        return ()
    width = max(len("symbol"), *(len(f.symbol) for f in failures))
    rwidth = max(len("reason"), *(len(f.reason) for f in failures))
    lines = [f"{'symbol':<{width}}  {'reason':<{rwidth}}  error"]
    for f in failures:
        lines.append(f"{f.symbol:<{width}}  {f.reason:<{rwidth}}  {f.message}")
    return tuple(lines)


def _listing(failures: Sequence[FetchFailure], shown: int = 5) -> str:
    head = ", ".join(f"{f.symbol} ({f.reason})" for f in failures[:shown])
    more = len(failures) - shown
    return head + (f" and {more} more" if more > 0 else "")


class FetchFailed(EventStudyError):
    """``--strict``: some securities of a study could not be fetched.

    The exit code is the network one (4) when a symbol failed on the network (rate
    limits included), else the data one (3). ``details`` holds the per-symbol table.
    """

    template = (
        "{failed} of {total} securities could not be fetched: {listing}; --strict stops "
        "here (the table above says why for each): fix or drop them, or run without "
        "--strict to study the other {rest}"
    )

    def __init__(
        self, message: str | None = None, *, failures: Sequence[FetchFailure], total: int
    ) -> None:
        super().__init__(
            message,
            failed=len(failures),
            total=total,
            rest=total - len(failures),
            listing=_listing(failures),
        )
        self.failures = tuple(failures)
        self.exit_code = 4 if any(f.exit_code == 4 for f in failures) else 3
        self.details = failure_lines(failures)


class SkippedSecuritiesWarning(DataWarning):
    """Some securities could not be fetched; the study runs on the others.

    ``failures`` holds one :class:`FetchFailure` per symbol and ``details`` their table.
    """

    template = (
        "{failed} of {total} securities could not be fetched and are left out of the study: "
        "{listing} (the table below says why for each); --strict stops instead"
    )

    failures: tuple[FetchFailure, ...] = ()

    @classmethod
    def of(cls, failures: Sequence[FetchFailure], total: int) -> SkippedSecuritiesWarning:
        """The warning for ``failures`` out of ``total`` securities."""
        w = cls(cls.template.format(failed=len(failures), total=total, listing=_listing(failures)))
        w.failures = tuple(failures)
        w.details = failure_lines(failures)
        return w


__all__ += [
    "FailureReason",
    "FetchFailed",
    "FetchFailure",
    "NoDataInRange",
    "SkippedSecuritiesWarning",
    "failure_lines",
]
