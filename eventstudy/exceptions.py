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
========================  =========  ==========================================

This module imports nothing heavy: the CLI imports it at start-up.
"""

from __future__ import annotations

from typing import Any

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
    """Base class of every warning ``eventstudy`` emits."""


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
    return cls(template.format(**fields))


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


class CacheKeptFilesWarning(CacheWarning):
    """``cache clear`` found parquet files the cache did not write, and kept them."""

    template = (
        "cache {path}: kept {count} file(s) eventstudy did not write ({files}); "
        "delete them yourself if they are not yours"
    )


__all__ += ["CacheKeptFilesWarning"]
