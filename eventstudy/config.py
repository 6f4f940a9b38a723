"""Study configuration: pydantic v2 models, a trap-free YAML loader, the JSON schema.

A study is a YAML file (see ``configs/``) validated into :class:`StudyConfig`. Every problem
becomes one :class:`~eventstudy.exceptions.ConfigError` line naming the file, the field path
(e.g. ``events[1].announced``), the value found and what is expected.

YAML traps
----------
:func:`load_config` reads YAML 1.2 with ruamel.yaml's safe loader (no Python tags; merge
keys ``<<: *anchor`` whose keys the mapping may override), with scalars narrowed so that the
classic traps do not silently change a study:

- ``yes``/``no``/``on``/``off``/``NO`` stay text (only ``true``/``false`` are booleans);
  a symbol ``ON`` or a tag ``NO`` keeps its letters.
- ``0123`` stays the text ``"0123"`` (YAML 1.1 reads octal 83); a number field given it
  is rejected rather than read as 83 or 123.
- Timestamps stay text and are parsed here: a naive time, an impossible date or an
  unknown time zone is an error, never a silent guess.
- A ticker written as a number (``symbol: 7203``) is rejected with the hint to write
  ``"7203.T"``; text written as a float (``title: 1.10``) is rejected with the hint to
  quote it (YAML would read ``1.1``).
- A key given twice in one mapping is an error naming its line and column (YAML would
  keep the last one silently); a key overriding one merged in with ``<<`` is not a
  duplicate.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import BaseResolver

from eventstudy.exceptions import ConfigError
from eventstudy.parallel import Backend, check_compute
from eventstudy.vocabulary import (  # noqa: F401 (re-exported)
    CLUSTER_ROBUST_TESTS,
    FACTOR_HOME_EXCHANGE,
    FACTOR_PRESET_NAMES,
    MODEL_NAMES,
    TEST_NAMES,
    Convention,
    FactorPreset,
    ModelName,
    TestName,
)

__all__ = [
    "ANNOUNCED_PATTERN",
    "DEFAULT_CAR_WINDOWS",
    "DEFAULT_MARKETS",
    "EXCHANGE_BY_SUFFIX",
    "EXCHANGE_BY_SYMBOL",
    "FIGURE_NAMES",
    "MODEL_NAMES",
    "SOURCE_NAMES",
    "TEST_NAMES",
    "ComputeConfig",
    "CrossSectionConfig",
    "Event",
    "Factor",
    "FamaFrenchConfig",
    "InjectedAR",
    "MarketIndex",
    "OutputConfig",
    "Pool",
    "PriceColumns",
    "Regression",
    "SecuritiesFile",
    "Security",
    "SourceConfig",
    "StudyConfig",
    "Variant",
    "VolumeConfig",
    "find_root",
    "load_config",
    "load_yaml",
    "merge_variant",
    "parse_config",
    "schema_json",
    "suffix_of",
    "write_schema",
]

# ----------------------------------------------------------------------------- exchanges

#: Exchange of whole symbols (indexes, proxies) that carry no suffix telling it.
EXCHANGE_BY_SYMBOL: dict[str, str] = {
    "TOPIX": "XTKS",
    "^TOPX": "XTKS",
    "^N225": "XTKS",
    "^GSPC": "XNYS",
    "^DJI": "XNYS",
    "^IXIC": "XNYS",
}

#: Exchange by Yahoo-style suffix; ``""`` (no suffix) means New York. Extend as needed.
EXCHANGE_BY_SUFFIX: dict[str, str] = {
    "": "XNYS",
    ".T": "XTKS",
    ".L": "XLON",
    ".DE": "XETR",
    ".F": "XFRA",
    ".PA": "XPAR",
    ".AS": "XAMS",
    ".MI": "XMIL",
    ".HK": "XHKG",
    ".KS": "XKRX",
    ".SS": "XSHG",
    ".TW": "XTAI",
    ".TO": "XTSE",
    ".AX": "XASX",
    ".SI": "XSES",
}


#: The exchange codes of the two maps above (each a code exchange-calendars knows).
_MAPPED_EXCHANGES: frozenset[str] = frozenset(
    [*EXCHANGE_BY_SYMBOL.values(), *EXCHANGE_BY_SUFFIX.values()]
)


def suffix_of(symbol: str) -> str:
    """The Yahoo-style exchange suffix of ``symbol`` (``".T"`` for ``7203.T``; ``""`` if none)."""
    head, dot, tail = symbol.rpartition(".")
    if not dot or not head or symbol.startswith("^"):
        return ""
    return "." + tail


def _default_exchange(symbol: str) -> str | None:
    if symbol in EXCHANGE_BY_SYMBOL:
        return EXCHANGE_BY_SYMBOL[symbol]
    return EXCHANGE_BY_SUFFIX.get(suffix_of(symbol))


_CALENDAR_NAMES: frozenset[str] | None = None


def _calendar_names() -> frozenset[str]:
    global _CALENDAR_NAMES
    if _CALENDAR_NAMES is None:
        import exchange_calendars as xc  # 0.15 s to import: only for a code not in the maps

        _CALENDAR_NAMES = frozenset(xc.get_calendar_names(include_aliases=True))
    return _CALENDAR_NAMES


def _known_exchange(code: str) -> bool:
    """Whether ``code`` is an exchange-calendars code (alias included).

    The codes of :data:`EXCHANGE_BY_SYMBOL` and :data:`EXCHANGE_BY_SUFFIX` are such codes (a
    test checks each against exchange-calendars), so a study naming one does not import
    exchange-calendars to validate it; any other code is looked up in its list of names.
    """
    return code in _MAPPED_EXCHANGES or code in _calendar_names()


# ----------------------------------------------------------------------------- vocabularies

SourceName = Literal["yahoo", "csv", "simulated"]
SOURCE_NAMES: tuple[str, ...] = get_args(SourceName)
Role = Literal["oem", "peer", "benchmark", "other"]
Confidence = Literal["exact", "scheduled-start", "approx", "date-only"]
ReturnsKind = Literal["simple", "log"]


def format_window(window: Sequence[int]) -> str:
    """``(0, 1)`` -> ``"(0,+1)"``: the way event-study papers write a window (one format for
    tables, figures and reports)."""
    start, end = (f"+{int(d)}" if int(d) > 0 else str(int(d)) for d in window)
    return f"({start},{end})"


OutputFormat = Literal["html", "csv", "json", "md", "xlsx"]
_DEFAULT_FORMATS: tuple[OutputFormat, ...] = ("html", "csv")
PlotlyJs = Literal["inline", "cdn", "none"]
FigureName = Literal[
    "ar_bars",
    "car_paths",
    "price_paths",
    "test_table",
    "car_heatmap",
    "car_forest",
    "diagnostics",
    "residual_correlation",
]
FIGURE_NAMES: tuple[str, ...] = get_args(FigureName)
ImageFormat = Literal["png", "svg", "pdf", "webp"]

DEFAULT_CAR_WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (-1, 1), (0, 5))

#: Longest study name and event id: both become file and folder names (255 bytes at most,
#: with prefixes such as ``prices-xtks-`` and suffixes such as ``.old-1a2b3c4d``).
MAX_NAME_LENGTH = 100
#: Farthest relative trading day a window may reach (about 40 years of sessions; the exchange
#: calendars start in 2000, which the run's preflight checks exactly).
MAX_RELATIVE_DAY = 10_000
#: Dates a study may name (pandas represents 1677-2262; the calendars cover far less).
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)
#: Largest dossier read into the report.
MAX_DOSSIER_BYTES = 1_000_000
#: Most events one study may hold: the report draws four figures per event (and each reads
#: every event's rows). 500 events on consecutive days took 8 minutes of CPU and 1.3 GB and
#: wrote an 85 MB page of 2,000 figures (``benchmarks/bench_many_events.py``); split larger
#: sets into studies.
MAX_EVENTS = 100


def file_key(text: str) -> str:
    """The form an id takes in file names and page anchors: lower-case letters, digits and
    dashes (``Kei_Cafe.1`` -> ``kei-cafe-1``); two ids with one key would share files."""
    return re.sub(r"[^0-9a-zA-Z]+", "-", text).strip("-").lower() or "x"


# ----------------------------------------------------------------------------- field types


class _Invalid(ValueError):
    """Raised inside validators: carries what is expected (and optionally field and value).

    ``field`` is relative to the location pydantic reports (a model validator names the
    offending sub-field); ``value`` replaces pydantic's input when given.
    """

    _UNSET: Any = object()

    def __init__(self, expected: str, *, field: str = "", value: Any = _UNSET) -> None:
        super().__init__(expected)
        self.expected = expected
        self.field = field
        self.value = value


class _YamlInt(int):
    """An int read from YAML that remembers how it was written."""

    raw: str

    def __repr__(self) -> str:
        return self.raw


class _YamlFloat(float):
    """A float read from YAML that remembers how it was written (``1.10`` is not ``1.1``)."""

    raw: str

    def __repr__(self) -> str:
        return self.raw


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_SYMBOL_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9^=._&-]*$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _symbol(value: Any, *, primary: bool = True) -> str:
    if _is_number(value):
        raw = repr(value)
        hint = f'"{raw}.T"' if isinstance(value, int) else f'"{raw}"'
        raise _Invalid(
            f"a ticker as text; YAML read {raw} as a number: write {hint} "
            "(Tokyo listings end in .T)"
        )
    if value is None:
        raise _Invalid("a ticker (the field is empty), e.g. 7203.T")
    if not isinstance(value, str):
        raise _Invalid("a ticker as text, e.g. 7203.T, ^N225 or JPY=X")
    text = value.strip()
    if not _SYMBOL_RE.match(text):
        raise _Invalid(
            "a ticker of letters, digits and ^ = . _ - & (no spaces or slashes), e.g. 7203.T"
        )
    if primary and text.isdigit():
        raise _Invalid(f'a ticker with its exchange suffix, e.g. "{text}.T" for Tokyo')
    return text


def _alias_symbol(value: Any) -> str:
    return _symbol(value, primary=False)


Symbol = Annotated[
    str,
    BeforeValidator(_symbol),
    Field(pattern=_SYMBOL_RE.pattern, description="Yahoo-style ticker, e.g. 7203.T"),
]
AliasSymbol = Annotated[
    str,
    BeforeValidator(_alias_symbol),
    Field(pattern=_SYMBOL_RE.pattern, description="the symbol under a given data source"),
]


def _text(value: Any) -> str:
    if _is_number(value):
        raw = repr(value)
        raise _Invalid(f'text; YAML read {raw} as a number: quote it, e.g. "{raw}"')
    if isinstance(value, bool):
        raise _Invalid(f'text; YAML read {value} as a boolean: quote it, e.g. "{value}"')
    if value is None:
        raise _Invalid("a value (the field is empty; write text or remove the key)")
    if isinstance(value, list | tuple):
        raise _Invalid("text, not a list")
    if isinstance(value, Mapping):
        raise _Invalid("text, not a mapping (check the indentation)")
    if not isinstance(value, str):
        raise _Invalid("text")
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _slug(value: Any) -> str:
    text = _text(value).strip()
    if len(text) > MAX_NAME_LENGTH:
        raise _Invalid(
            f"an identifier of at most {MAX_NAME_LENGTH} characters (it is part of file "
            f"names; this one has {len(text)})",
            value=_Shown(repr(text[:40] + "...")),
        )
    if not _SLUG_RE.match(text):
        raise _Invalid(
            "an identifier of letters, digits, '_', '-' and '.' (starting with a letter or "
            "digit), e.g. kei_cafe_2025-12-03"
        )
    return text


Slug = Annotated[str, BeforeValidator(_slug), Field(pattern=_SLUG_RE.pattern)]


def _study_name(value: Any) -> str:
    text = _text(value).strip()
    if len(text) > MAX_NAME_LENGTH:
        raise _Invalid(
            f"a name of at most {MAX_NAME_LENGTH} characters (it names the report folder; "
            f"this one has {len(text)})",
            value=_Shown(repr(text[:40] + "...")),
        )
    if not _NAME_RE.match(text):
        raise _Invalid(
            "a lower-case folder name of letters, digits, '_' and '-', e.g. kei_cars "
            "(it names the report folder)"
        )
    return text


StudyName = Annotated[str, BeforeValidator(_study_name), Field(pattern=_NAME_RE.pattern)]


def _exchange(value: Any) -> str:
    text = _text(value).strip()
    if not _known_exchange(text):
        close = difflib.get_close_matches(text.upper(), sorted(_calendar_names()), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _Invalid(f"an exchange-calendars code such as XTKS (Tokyo) or XNYS (New York){hint}")
    return text


Exchange = Annotated[str, BeforeValidator(_exchange), Field(description="e.g. XTKS, XNYS")]


def _zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _Invalid("an IANA time zone such as America/New_York, Asia/Tokyo or UTC") from exc


def _time_zone(value: Any) -> str:
    text = _text(value).strip()
    _zone(text)
    return text


TimeZone = Annotated[str, BeforeValidator(_time_zone), Field(description="IANA time zone")]

_NAIVE_HINT = (
    "a time-zone-aware timestamp: add the UTC offset, e.g. 2025-12-03T14:30:00-05:00, "
    "or a zone name, e.g. 2025-12-03 14:30 America/New_York"
)


def _announced(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _Invalid(_NAIVE_HINT)
        return value
    if isinstance(value, date):
        raise _Invalid(_NAIVE_HINT)
    text = _text(value).strip()
    zone: ZoneInfo | None = None
    head, _, tail = text.rpartition(" ")
    if head and ("/" in tail or tail == "UTC"):
        zone = _zone(tail)
        text = head.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        detail = str(exc)
        if "range" in detail or "must be in" in detail:
            raise _Invalid(f"a real date and time ({detail})") from exc
        raise _Invalid("an ISO 8601 timestamp with offset, e.g. 2025-12-03T14:30:00-05:00") from exc
    if len(text) <= 10:  # a bare date
        raise _Invalid(
            _NAIVE_HINT + "; for a date-only event choose a documented time and set "
            "timing_confidence: date-only"
        )
    if zone is not None:
        if parsed.tzinfo is not None:
            raise _Invalid("either a UTC offset or a zone name, not both")
        parsed = parsed.replace(tzinfo=zone)
    if parsed.tzinfo is None:
        raise _Invalid(_NAIVE_HINT)
    _in_date_range(parsed.date())
    return parsed


def _in_date_range(day: date) -> None:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise _Invalid(
            f"a date from {EARLIEST_DATE.year} to {LATEST_DATE.year} (prices and exchange "
            "calendars exist for no other), e.g. 2025-12-03"
        )


ANNOUNCED_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
    r"(Z|[+-]\d{2}:?\d{2}| (UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+)+))$"
)

Announced = Annotated[
    datetime,
    BeforeValidator(_announced),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ANNOUNCED_PATTERN,
            "description": (
                "when the news became public, time-zone aware: ISO 8601 with UTC offset "
                "(2025-12-03T14:30:00-05:00) or 'YYYY-MM-DD HH:MM Area/City'"
            ),
        }
    ),
]


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = _text(value).strip()
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            detail = str(exc)
            if "range" in detail or "must be in" in detail:
                raise _Invalid(f"a real calendar date YYYY-MM-DD ({detail})") from exc
            raise _Invalid("a calendar date YYYY-MM-DD, e.g. 2025-12-03") from exc
    _in_date_range(day)
    return day


Day = Annotated[date, BeforeValidator(_day)]


def _window(value: Any) -> tuple[int, int]:
    expected = "a [start, end] pair of relative trading days, e.g. [-10, 10]"
    if isinstance(value, Mapping) and set(value) == {"start", "end"}:
        value = [value["start"], value["end"]]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _Invalid(expected)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            shown = _bounded_repr(v)
            raise _Invalid(f"{expected}; {shown} is not a whole number (no quotes, no leading 0)")
    start, end = int(value[0]), int(value[1])
    if max(abs(start), abs(end)) > MAX_RELATIVE_DAY:
        raise _Invalid(
            f"relative trading days within ±{MAX_RELATIVE_DAY} (about 40 years; the exchange "
            "calendars start in 2000), e.g. [-250, -11]"
        )
    if end < start:
        raise _Invalid(f"[start, end] with start <= end (wrong order: try [{end}, {start}])")
    return (start, end)


Window = Annotated[
    tuple[int, int],
    BeforeValidator(_window),
    Field(description="[start, end] relative trading days, inclusive"),
]


def _rel_path(value: Any) -> str:
    text = _text(value).strip()
    if not text:
        raise _Invalid("a relative path")
    posix, win = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or win.is_absolute() or win.drive or text.startswith("~"):
        raise _Invalid("a path relative to the project folder (absolute paths are not allowed)")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Invalid("a path inside the project folder (no '..')")
    return "/".join(parts) or "."


RelPath = Annotated[str, BeforeValidator(_rel_path)]


class _Shorthand:
    """JSON schema: also accept the shorthand form validated by a BeforeValidator."""

    def __init__(self, alternative: dict[str, Any]) -> None:
        self.alternative = alternative

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: Callable[[Any], JsonSchemaValue]
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(core_schema), self.alternative]}


def _tests(value: Any) -> Any:
    if value == "all" or value is None:
        return list(TEST_NAMES)
    if isinstance(value, str):
        return [value]
    return value


Tests = Annotated[
    list[TestName],
    BeforeValidator(_tests),
    _Shorthand({"const": "all"}),
]

# ----------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


#: A firm characteristic: a number, a category (text), or ``None`` when unknown.
Characteristic = float | str | None


class Security(_Model):
    """A security studied (or used as a benchmark row).

    ``exchange`` defaults from the symbol: ``.T`` -> XTKS, no suffix -> XNYS.
    ``aliases`` maps a data source to the symbol it uses, e.g. ``{yahoo: 1306.T}``.
    ``characteristics`` holds firm characteristics (``{us_sales_share: 0.42}``) that the
    study's ``cross_section:`` regressions read when it names no ``data`` file.
    """

    symbol: Symbol
    name: Text | None = None
    exchange: Exchange | None = None
    role: Role = "other"
    aliases: dict[SourceName, AliasSymbol] = Field(default_factory=dict)
    characteristics: dict[Text, Characteristic] = Field(
        default_factory=dict,
        description="firm characteristics for cross_section (numbers or categories); a "
        "securities file's further columns land here",
    )

    @model_validator(mode="after")
    def _fill_exchange(self) -> Security:
        if self.exchange is None:
            ex = _default_exchange(self.symbol)
            if ex is None:
                raise _Invalid(
                    f"an explicit exchange for {self.symbol} (unknown suffix "
                    f"{suffix_of(self.symbol)!r}), e.g. exchange: XTKS",
                    field="exchange",
                    value=_Nothing(),
                )
            object.__setattr__(self, "exchange", ex)
        return self

    def symbol_for(self, source: str) -> str:
        """The symbol to ask ``source`` for (its alias, else :attr:`symbol`)."""
        return self.aliases.get(source, self.symbol)  # type: ignore[call-overload]


# ----------------------------------------------------------------------------- securities files

#: Columns of a securities file that are not characteristics.
SECURITIES_FILE_COLUMNS: tuple[str, ...] = ("symbol", "name", "exchange", "role")
#: Largest securities file read (a list of a whole market is well under 10 MB).
MAX_SECURITIES_FILE_BYTES = 50_000_000
_DELIMITERS = (",", ";", "\t", "|")


class SecuritiesFile(_Model):
    """Securities listed in a CSV file: ``securities: {from: universe.csv}``.

    The file has a header line with the columns ``symbol`` and ``name`` (an empty name is
    allowed), optionally ``exchange`` and ``role``; every further column is a firm
    characteristic kept in :attr:`Security.characteristics` (a column with a number in it
    is numeric: every other non-empty cell must be a number; else it is a category).
    ``exchange`` and ``role`` here are the defaults of rows that leave them out. The path
    is relative to the project folder, like every path of a study.
    """

    from_: Text = Field(
        alias="from", description="CSV file: symbol, name[, exchange, role, characteristics...]"
    )
    exchange: Exchange | None = Field(
        default=None, description="exchange of rows without one (default: from the symbol)"
    )
    role: Role = Field(default="other", description="role of rows without one")


class PriceColumns(_Model):
    """Every symbol column of a wide price CSV: ``securities: {all_columns_of: prices.csv}``.

    The header line is read (the first column is the dates); ``exclude`` drops columns
    such as the market index kept in the same file. ``exchange`` and ``role`` apply to
    every security. The path is relative to the project folder.
    """

    all_columns_of: Text = Field(description="wide CSV: a date column, then one per symbol")
    exclude: list[AliasSymbol] = Field(default_factory=list, description="columns to leave out")
    exchange: Exchange | None = Field(
        default=None, description="exchange of every security (default: from each symbol)"
    )
    role: Role = "other"


_FILE_KEYS = ("from", "all_columns_of")


class _Origin:
    """Where an expanded security came from, for duplicate messages."""

    def __init__(self, text: str, line: int | None = None) -> None:
        self.text, self.line = text, line

    def __str__(self) -> str:
        return self.text if self.line is None else f"{self.text}, line {self.line}"


def _file_problem(item: int, key: str, where: str, value: Any, expected: str) -> _Invalid:
    """One line naming the securities entry, the file (and line, column), value and fix."""
    return _Invalid(expected, field=f"[{item}].{key}", value=_Shown(f"{where}: {value!r}"))


def _open_text(path: Path, shown: str, item: int, key: str, *, limit: int) -> str:
    if not path.exists():
        raise _file_problem(
            item,
            key,
            shown,
            str(path),
            "an existing CSV file (paths are relative to the "
            "project folder, the one holding seeds/ and pyproject.toml)",
        )
    if not path.is_file():
        raise _file_problem(item, key, shown, str(path), "a regular CSV file, not a folder or pipe")
    if limit == 0:
        return ""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise _file_problem(
            item, key, shown, str(path), f"a readable file ({exc.strerror})"
        ) from None
    if len(data) > limit:
        raise _file_problem(
            item,
            key,
            shown,
            f"{path.stat().st_size:,} bytes",
            f"a securities file of at most {limit:,} bytes",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_problem(
            item, key, shown, f"byte {exc.start}", "a UTF-8 text file (save it as CSV UTF-8)"
        ) from None
    return text


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a CSV text with their 1-based line numbers (delimiter detected
    from the first non-blank line among , ; tab |)."""
    import csv
    import io

    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max(_DELIMITERS, key=first.count) if first else ","
    if first.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = []
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                out.append((start, [cell.strip() for cell in row]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num}: {exc}") from None
    return out


def _header(
    rows: list[tuple[int, list[str]]], shown: str, item: int, key: str
) -> tuple[int, list[str]]:
    if not rows:
        raise _file_problem(
            item, key, shown, "an empty file", "a header line, then one row per security"
        )
    line, names = rows[0]
    for j, name in enumerate(names):
        if not name:
            raise _file_problem(
                item,
                key,
                f"{shown}, line {line}, column {j + 1}",
                name,
                "a name for every column of the header",
            )
        if name in names[:j]:
            raise _file_problem(
                item,
                key,
                f"{shown}, line {line}, column {j + 1}",
                name,
                f"each column once (already column {names.index(name) + 1})",
            )
    return line, names


def _row_security(data: dict[str, Any], where: str, item: int, key: str) -> Security:
    try:
        return Security.model_validate(data)
    except ValidationError as exc:
        err = _convert(exc, None)
        column = str(err.fields.get("field", "")).split(".")[0].split("[")[0] or "symbol"
        column = column if column in SECURITIES_FILE_COLUMNS else "symbol"
        raise _file_problem(
            item, key, f"{where}, column {column}", data.get(column), str(err.fields["expected"])
        ) from None


def _characteristics(
    names: list[str], rows: list[tuple[int, list[str]]], shown: str, item: int
) -> dict[str, list[Characteristic]]:
    """Each further column as numbers (a column with any number in it) or categories."""
    out: dict[str, list[Characteristic]] = {}
    for j, name in enumerate(names):
        if name.lower() in SECURITIES_FILE_COLUMNS:
            continue
        cells = [row[j] for _, row in rows]
        parsed: list[float | None] = []
        bad: int | None = None
        for k, cell in enumerate(cells):
            try:
                value = float(cell) if cell else None
            except ValueError:
                value = None
                bad = k if bad is None else bad
            if value is not None and not math.isfinite(value):
                value, bad = None, (k if bad is None else bad)
            parsed.append(value)
        if any(v is not None for v in parsed):
            if bad is not None:
                raise _file_problem(
                    item,
                    "from",
                    f"{shown}, line {rows[bad][0]}, column {name}",
                    cells[bad],
                    "a finite number (the column holds numbers; write a dot for decimals, no "
                    "thousands separator) or an empty cell when unknown",
                )
            out[name] = list(parsed)
        else:
            out[name] = [c or None for c in cells]
    return out


def _securities_from(
    spec: SecuritiesFile, path: Path, item: int, origins: dict[str, _Origin]
) -> list[Security]:
    shown = spec.from_
    text = _open_text(path, shown, item, "from", limit=MAX_SECURITIES_FILE_BYTES)
    try:
        rows = _csv_rows(text)
    except ValueError as exc:
        raise _file_problem(item, "from", shown, str(exc), "a well-formed CSV file") from None
    head_line, names = _header(rows, shown, item, "from")
    lower = [n.lower() for n in names]
    for needed in ("symbol", "name"):
        if needed not in lower:
            raise _file_problem(
                item,
                "from",
                f"{shown}, line {head_line}",
                ",".join(names),
                f"a column {needed!r} in the header (columns: symbol, name, optional exchange "
                "and role, then any firm characteristics)",
            )
    body = rows[1:]
    if not body:
        raise _file_problem(
            item,
            "from",
            shown,
            f"a header only (line {head_line})",
            "at least one security row under the header",
        )
    for line, cells in body:
        if len(cells) != len(names):
            raise _file_problem(
                item,
                "from",
                f"{shown}, line {line}",
                f"{len(cells)} cells",
                f"{len(names)} cells per row, as in the header (quote a cell holding the "
                "delimiter)",
            )
    col = {n: lower.index(n) for n in SECURITIES_FILE_COLUMNS if n in lower}
    chars = _characteristics(names, body, shown, item)
    out = []
    for k, (line, cells) in enumerate(body):
        where = f"{shown}, line {line}"
        data: dict[str, Any] = {
            "symbol": cells[col["symbol"]],
            "name": cells[col["name"]] or None,
            "role": spec.role,
            "characteristics": {n: values[k] for n, values in chars.items()},
        }
        if "role" in col and cells[col["role"]]:
            data["role"] = cells[col["role"]]
        if "exchange" in col and cells[col["exchange"]]:
            data["exchange"] = cells[col["exchange"]]
        elif spec.exchange is not None:
            data["exchange"] = spec.exchange
        if not data["symbol"]:
            raise _file_problem(
                item, "from", f"{where}, column symbol", "", "a ticker in every row"
            )
        sec = _row_security(data, where, item, "from")
        _once(sec.symbol, _Origin(shown, line), origins, item, "from", "the row")
        out.append(sec)
    return out


def _first_line(path: Path, shown: str, item: int) -> tuple[int, str]:
    """The first non-blank line of a (large) file and its number, read alone."""
    key = "all_columns_of"
    _open_text(path, shown, item, key, limit=0)  # exists, regular, readable
    with path.open("rb") as fh:
        for number, raw in enumerate(iter(lambda: fh.readline(16_000_000), b""), start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise _file_problem(
                    item,
                    key,
                    f"{shown}, line {number}",
                    f"byte {exc.start}",
                    "a UTF-8 text file (save it as CSV UTF-8)",
                ) from None
            if line.strip():
                return number, line
    raise _file_problem(
        item,
        key,
        shown,
        "an empty file",
        "a wide price CSV: a date column, then one column per symbol",
    )


def _price_columns(
    spec: PriceColumns, path: Path, item: int, origins: dict[str, _Origin]
) -> list[Security]:
    shown = spec.all_columns_of
    number, line = _first_line(path, shown, item)
    try:
        rows = _csv_rows(line)
    except ValueError as exc:
        raise _file_problem(
            item, "all_columns_of", f"{shown}, line {number}", str(exc), "a well-formed CSV header"
        ) from None
    head_line, names = _header([(number, rows[0][1])], shown, item, "all_columns_of")
    symbols = names[1:]
    excluded = set(spec.exclude)
    for sym in spec.exclude:
        if sym not in symbols:
            raise _Invalid(
                f"a column of {shown} (it has {', '.join(symbols[:8])}"
                f"{', ...' if len(symbols) > 8 else ''})",
                field=f"[{item}].exclude",
                value=sym,
            )
    kept = [s for s in symbols if s not in excluded]
    if not kept:
        raise _file_problem(
            item,
            "all_columns_of",
            f"{shown}, line {head_line}",
            ",".join(names[:6]),
            "a date column followed by at least one symbol column (not excluded)",
        )
    out = []
    for j, sym in enumerate(names):
        if j == 0 or sym in excluded:
            continue
        data: dict[str, Any] = {"symbol": sym, "role": spec.role}
        if spec.exchange is not None:
            data["exchange"] = spec.exchange
        where = f"{shown}, line {head_line}"
        sec = _row_security(data, f"{where}, column {j + 1}", item, "all_columns_of")
        _once(
            sec.symbol,
            _Origin(f"{shown} column {j + 1}"),
            origins,
            item,
            "all_columns_of",
            "the column",
        )
        out.append(sec)
    return out


def _once(
    symbol: str, origin: _Origin, origins: dict[str, _Origin], item: int, key: str, what: str
) -> None:
    if symbol in origins:
        raise _file_problem(
            item,
            key,
            str(origin),
            symbol,
            f"each symbol once ({symbol} is already in {origins[symbol]}): remove {what} "
            "or the other entry",
        )
    origins[symbol] = origin


def _securities(value: Any, info: ValidationInfo) -> Any:
    """Expand ``{from: file}`` and ``{all_columns_of: file}`` entries of ``securities``
    (the whole field or items of its list) into securities, checking each file."""
    if isinstance(value, Mapping):
        if not any(k in value for k in _FILE_KEYS):
            raise _Invalid(
                "a list of securities, {from: universe.csv} or {all_columns_of: prices.csv}"
            )
        value = [value]
    if not isinstance(value, list) or not any(
        isinstance(v, Mapping) and any(k in v for k in _FILE_KEYS) for v in value
    ):
        return value
    context = info.context or {}
    root = Path(context["root"]) if context.get("root") is not None else Path.cwd()
    origins: dict[str, _Origin] = {}
    out: list[Any] = []
    for i, item in enumerate(value):
        if isinstance(item, Mapping) and any(k in item for k in _FILE_KEYS):
            spec: SecuritiesFile | PriceColumns
            model = SecuritiesFile if "from" in item else PriceColumns
            try:
                spec = model.model_validate(item)
            except ValidationError as exc:
                err = _convert(exc, None)
                raise _Invalid(
                    str(err.fields["expected"]),
                    field=f"[{i}].{err.fields['field']}",
                    value=err.fields["value"],
                ) from None
            if isinstance(spec, SecuritiesFile):
                out += _securities_from(spec, _resolve_under(root, spec.from_), i, origins)
            else:
                out += _price_columns(spec, _resolve_under(root, spec.all_columns_of), i, origins)
            continue
        sym = item.get("symbol") if isinstance(item, Mapping) else None
        if isinstance(sym, str):
            origin = _Origin(f"securities[{i}]")
            if sym.strip() in origins:
                raise _Invalid(
                    f"each symbol once (already in {origins[sym.strip()]})",
                    field=f"[{i}].symbol",
                    value=sym,
                )
            origins[sym.strip()] = origin
        out.append(item)
    return out


def _resolve_under(root: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else root / path


class _SecuritiesSchema:
    """JSON schema of ``securities``: a list whose items are securities or file entries,
    or one file entry."""

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: Callable[[Any], JsonSchemaValue]
    ) -> JsonSchemaValue:
        listed = dict(handler(core_schema))
        files = [
            model.model_json_schema(mode="validation", by_alias=True)
            for model in (SecuritiesFile, PriceColumns)
        ]
        listed["items"] = {"anyOf": [listed["items"], *files]}
        return {
            "anyOf": [listed, *files],
            "description": "the securities: a list (items may be files), or one file",
        }


Securities = Annotated[
    list[Security],
    BeforeValidator(_securities),
    Field(min_length=1),
    _SecuritiesSchema(),
]


class MarketIndex(_Model):
    """The market benchmark of one exchange.

    ``candidates(source)`` lists what to try in order: the source's alias (or ``symbol``),
    then ``fallbacks``. For Tokyo: TOPIX where the source has it, else ``^N225`` or the
    ETF ``1306.T``.
    """

    symbol: Symbol
    name: Text | None = None
    aliases: dict[SourceName, AliasSymbol] = Field(default_factory=dict)
    fallbacks: list[AliasSymbol] = Field(default_factory=list)

    def candidates(self, source: str) -> list[str]:
        first = self.aliases.get(source, self.symbol)  # type: ignore[call-overload]
        return list(dict.fromkeys([first, *self.fallbacks]))


def _market_shorthand(value: Any) -> Any:
    if isinstance(value, str) or _is_number(value):
        return {"symbol": value}
    return value


MarketEntry = Annotated[
    MarketIndex,
    BeforeValidator(_market_shorthand),
    _Shorthand({"type": "string", "description": "symbol only"}),
]

#: Benchmarks used when a study names none for an exchange its securities trade on.
DEFAULT_MARKETS: dict[str, MarketIndex] = {}


class Factor(_Model):
    """An extra risk factor series for ``model: factor`` (e.g. USD/JPY ``JPY=X``)."""

    symbol: Symbol
    name: Text | None = None
    aliases: dict[SourceName, AliasSymbol] = Field(default_factory=dict)

    def symbol_for(self, source: str) -> str:
        return self.aliases.get(source, self.symbol)  # type: ignore[call-overload]


class Event(_Model):
    """One announcement.

    ``announced`` is time-zone aware (an offset or a zone name is required); ``tz`` is an
    optional IANA zone the time was reported in: when given, the written offset must be that
    zone's offset at that instant (catches daylight-saving slips).
    """

    id: Slug
    title: Text
    announced: Announced
    tz: TimeZone | None = None
    timing_confidence: Confidence = "exact"
    dossier: RelPath | None = Field(
        default=None, description="Markdown dossier under seeds/, e.g. seeds/x.md"
    )
    tags: list[Text] = Field(default_factory=list)
    securities: list[Symbol] | None = Field(
        default=None, description="subset of the study's securities (default: all)"
    )

    @field_validator("dossier")
    @classmethod
    def _under_seeds(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("seeds/") or not value.endswith(".md")):
            raise _Invalid("a Markdown file under seeds/, e.g. seeds/kei_cafe_2025-12-03.md")
        return value

    @model_validator(mode="after")
    def _offset_matches_zone(self) -> Event:
        if self.tz is None:
            return self
        zone = ZoneInfo(self.tz)
        written = self.announced.utcoffset()
        actual = self.announced.astimezone(zone).utcoffset()
        if written != actual:
            raise _Invalid(
                f"an offset matching {self.tz} on {self.announced.date()} "
                f"({_fmt_offset(actual)}), or drop tz",
                field="announced",
                value=self.announced.isoformat(),
            )
        return self

    @property
    def local(self) -> datetime:
        """``announced`` in ``tz`` (or as written)."""
        return self.announced.astimezone(ZoneInfo(self.tz)) if self.tz else self.announced


def _fmt_offset(delta: timedelta | None) -> str:
    if delta is None:
        return "?"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class InjectedAR(_Model):
    """An abnormal return added by the simulated source (``source.kind: simulated``)."""

    event: Slug
    security: Symbol | Literal["*"] = Field(default="*", description="a symbol, or * for all")
    day: StrictInt = Field(default=0, description="relative trading day")
    ar: float = Field(description="simple abnormal return, e.g. 0.03 for +3%")

    @field_validator("ar")
    @classmethod
    def _plausible(cls, value: float) -> float:
        if not -0.95 < value < 5.0:
            raise _Invalid("a simple return between -0.95 and 5 (0.03 means +3%)")
        return value


class SourceConfig(_Model):
    """Where prices come from. The CLI's ``--prices DIR`` switches any study to ``csv``."""

    kind: SourceName = "yahoo"
    prices: Text | list[Text] | None = Field(
        default=None,
        description="csv: folder of per-symbol CSVs or one wide CSV, or a list of them "
        "searched in order (a symbol is read from the first that holds it)",
    )
    seed: StrictInt | None = Field(default=None, description="simulated: RNG seed")
    start: Day | None = Field(default=None, description="simulated: first session")
    end: Day | None = Field(default=None, description="simulated: last session")
    betas: float | dict[str, float] | None = None
    idio_vol: float | None = None
    market_vol: float | None = None
    industry_vol: float | None = None
    injected: list[InjectedAR] = Field(default_factory=list)

    @model_validator(mode="after")
    def _per_kind(self) -> SourceConfig:
        sim_only = ("seed", "start", "end", "betas", "idio_vol", "market_vol", "industry_vol")
        if self.kind != "simulated":
            for name in (*sim_only, "injected"):
                val = getattr(self, name)
                if val not in (None, []):
                    raise _Invalid(
                        f"no {name} for source kind {self.kind} (only for kind: simulated)",
                        field=name,
                        value=val,
                    )
        if self.kind != "csv" and self.prices is not None:
            raise _Invalid(
                f"no prices for source kind {self.kind} (only for kind: csv)",
                field="prices",
                value=self.prices,
            )
        if isinstance(self.prices, list) and not self.prices:
            raise _Invalid("at least one folder or CSV file", field="prices", value=self.prices)
        if self.kind == "csv" and self.prices is None:
            raise _Invalid(
                "a prices folder or CSV file for kind: csv, e.g. prices: ../shared/data/prices",
                field="prices",
                value=None,
            )
        if self.kind == "simulated":
            for name in ("start", "end"):
                if getattr(self, name) is None:
                    raise _Invalid(
                        f"a {name} date for the simulated prices, e.g. 2024-01-04",
                        field=name,
                        value=None,
                    )
            assert self.start is not None and self.end is not None
            if self.end <= self.start:
                raise _Invalid(
                    f"an end after start ({self.start})", field="end", value=str(self.end)
                )
            for name in ("idio_vol", "market_vol", "industry_vol"):
                val = getattr(self, name)
                if val is not None and not 0 <= val < 1:
                    raise _Invalid("a daily volatility in [0, 1)", field=name, value=val)
        return self


def _source_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"kind": value}
    return value


Source = Annotated[
    SourceConfig,
    BeforeValidator(_source_shorthand),
    _Shorthand({"enum": list(SOURCE_NAMES)}),
]


FragmentMode = Literal["sibling", "inline", "div"]


class OutputConfig(_Model):
    """What the run writes, under ``<dir>/<study name>/`` (``dir`` stays inside the project).

    ``fragments`` says how each ``fragments/<figure>.html`` finds plotly.js: ``sibling`` (a
    ``<script src="plotly.min.js">`` to the copy written beside the fragments; each opens
    alone), ``inline`` (each fragment carries plotly.js: large, fully self-contained) or
    ``div`` (bare ``<div>``s for a page that loads plotly.js itself). ``car_from`` is the
    relative day the CAR chart cumulates from (default -1: the day before the reacting
    session).
    """

    dir: RelPath = "reports"
    formats: list[OutputFormat] = Field(default_factory=lambda: list(_DEFAULT_FORMATS))
    plotlyjs: PlotlyJs = "inline"
    fragments: FragmentMode = "sibling"
    car_from: StrictInt | None = Field(
        default=None,
        description="relative day the CAR chart cumulates from (inside event_window; "
        "default -1, or the event window's first day when it starts later)",
    )
    images: list[FigureName] = Field(default_factory=list)
    image_format: ImageFormat = "png"


class Variant(_Model):
    """A named alternative specification for ``eventstudy compare`` (fields override)."""

    name: Slug
    title: Text | None = None
    model: ModelName | FactorPreset | None = None
    returns: ReturnsKind | None = None
    convention: Convention | None = None
    estimation: Window | None = None
    event_window: Window | None = None
    car_windows: list[Window] | None = None
    min_estimation_obs: StrictInt | None = None
    market: dict[Exchange, MarketEntry] | None = None
    tests: Tests | None = None


class Pool(_Model):
    """Events pooled into one answer (only when a study asks for it).

    A pool names its events (``events``) or a tag they carry (``tag``), never both; it
    needs at least two events. Its verdict is labelled as a pool of these events.
    """

    name: Slug | None = Field(default=None, description="default: pool_<tag> or pool<i>")
    title: Text | None = None
    events: list[Slug] | None = Field(default=None, description="event ids pooled")
    tag: Text | None = Field(default=None, description="pool every event with this tag")


def _pool_shorthand(value: Any) -> Any:
    """``pool: [id, id]`` is one pool of these events; ``pool: {tag: x}`` one pool by tag."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [{"events": value}]
    if isinstance(value, Mapping):
        return [value]
    return value


Pools = Annotated[
    list[Pool],
    BeforeValidator(_pool_shorthand),
    _Shorthand(
        {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "description": "one pool of these event ids",
                },
                {"type": "object", "description": "one pool: {events: [ids]} or {tag: name}"},
            ]
        }
    ),
]


_VARIANT_FIELDS = (
    "model",
    "returns",
    "convention",
    "estimation",
    "event_window",
    "car_windows",
    "min_estimation_obs",
    "market",
    "tests",
)


def _window_problems(
    estimation: tuple[int, int],
    event_window: tuple[int, int],
    car_windows: list[tuple[int, int]],
    min_obs: int,
) -> _Invalid | None:
    est_lo, est_hi = estimation
    ev_lo, ev_hi = event_window
    if est_hi >= ev_lo:
        return _Invalid(
            f"an estimation window ending before the event window starts (day {ev_lo}), "
            f"e.g. [{min(est_lo, ev_lo - 240)}, {ev_lo - 1}]",
            field="estimation",
            value=list(estimation),
        )
    for i, (lo, hi) in enumerate(car_windows):
        if lo < ev_lo or hi > ev_hi:
            return _Invalid(
                f"a CAR window inside the event window [{ev_lo}, {ev_hi}]",
                field=f"car_windows[{i}]",
                value=[lo, hi],
            )
    length = est_hi - est_lo + 1
    if min_obs > length:
        return _Invalid(
            f"at most the estimation window length ({length} days)",
            field="min_estimation_obs",
            value=min_obs,
        )
    if min_obs < 10:
        return _Invalid(
            "at least 10 estimation observations", field="min_estimation_obs", value=min_obs
        )
    dupes = [w for i, w in enumerate(car_windows) if w in car_windows[:i]]
    if dupes:
        return _Invalid(
            "each CAR window once",
            field=f"car_windows[{car_windows.index(dupes[0], car_windows.index(dupes[0]) + 1)}]",
            value=list(dupes[0]),
        )
    return None


def _dossier_problem(root: Path, seeds: Path, dossier: str) -> _Invalid | None:
    """A dossier must be a UTF-8 file of at most :data:`MAX_DOSSIER_BYTES` inside the
    project's own ``seeds/`` (a ``seeds`` that links out of the project counts as outside)."""
    if not seeds.is_relative_to(root.resolve()):
        return _Invalid(
            f"a dossier inside the project's seeds/ folder (seeds/ links out of the project, "
            f"to {seeds}: make it a real folder)",
            value=dossier,
        )
    path = (root / dossier).resolve()
    if not path.is_relative_to(seeds):
        return _Invalid("a dossier inside the project's seeds/ folder", value=dossier)
    if not path.is_file():
        return _Invalid(f"an existing file under {seeds} (write the dossier first)", value=dossier)
    size = path.stat().st_size
    if size > MAX_DOSSIER_BYTES:
        return _Invalid(
            f"a dossier of at most {MAX_DOSSIER_BYTES // 1000} kB (this one has {size // 1000} kB)",
            value=dossier,
        )
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Invalid(
            f"a UTF-8 text file (byte {exc.start} is not UTF-8: save it as UTF-8)", value=dossier
        )
    return None


def _pool_problem(pools: Sequence[Pool], events: Sequence[Event]) -> _Invalid | None:
    ids = [ev.id for ev in events]
    names: dict[str, int] = {}
    for i, pool in enumerate(pools):
        where = f"pool[{i}]"
        if (pool.events is None) == (pool.tag is None):
            return _Invalid(
                "either events: [ids] or tag: <tag> (one of them)",
                field=where,
                value=pool.model_dump(exclude_none=True),
            )
        if pool.events is not None:
            for j, eid in enumerate(pool.events):
                if eid not in ids:
                    close = difflib.get_close_matches(eid, ids, n=1)
                    hint = f" (did you mean {close[0]}?)" if close else ""
                    return _Invalid(
                        f"an event id of this study{hint}", field=f"{where}.events[{j}]", value=eid
                    )
                if eid in pool.events[:j]:
                    return _Invalid("each event once", field=f"{where}.events[{j}]", value=eid)
            members = list(pool.events)
        else:
            members = [ev.id for ev in events if pool.tag in ev.tags]
        if len(members) < 2:
            what = "tag" if pool.tag is not None else "events"
            return _Invalid(
                "at least two events (one event is answered on its own)"
                + (f"; {len(members)} event(s) carry this tag" if pool.tag is not None else ""),
                field=f"{where}.{what}",
                value=pool.tag if pool.tag is not None else pool.events,
            )
        name = pool.name or (f"pool_{pool.tag}" if pool.tag else f"pool{i + 1}")
        if name in names:
            return _Invalid(
                f"a unique pool name (already pool[{names[name]}])",
                field=f"{where}.name",
                value=name,
            )
        names[name] = i
    return None


FactorRegion = Literal["us", "japan"]


class FamaFrenchConfig(_Model):
    """Where the published Fama-French factors of ``model: ff3 | ff5 | carhart`` come from.

    ``region`` names the factors' market for every exchange (``japan``, ``us``) or per
    exchange (``{XTKS: japan}``); by default each exchange takes its own market's factors
    (XTKS: Japan, XNYS: US). ``dir`` is a folder holding the library's files under their
    names (``Japan_3_Factors_Daily_CSV.zip``); datasets not there are fetched from Kenneth
    French's data library and cached (``--offline`` uses the cache only).
    """

    region: FactorRegion | dict[Exchange, FactorRegion] | None = None
    dir: Text | None = Field(
        default=None, description="folder of the library's <name>_CSV.zip files (optional)"
    )

    @field_validator("region", mode="before")
    @classmethod
    def _known_region(cls, value: Any) -> Any:
        known = get_args(FactorRegion)
        for v in value.values() if isinstance(value, Mapping) else [value]:
            if v is not None and v not in known:
                raise _Invalid(
                    f"a factor region, one of {', '.join(known)} (or a mapping exchange -> "
                    "region, e.g. {XTKS: japan})",
                    value=v,
                )
        return value


VolumeMeasure = Literal["log_volume", "log_turnover"]


class VolumeConfig(_Model):
    """Abnormal trading volume and volatility around each event (Campbell & Wasley 1996).

    ``measure``: ``log_volume`` (``ln(1 + shares traded)``) or ``log_turnover``
    (``ln(100 volume / shares outstanding + 0.000255)``, which needs ``shares_outstanding``
    per security). ``windows`` default to the study's ``car_windows``.
    """

    measure: VolumeMeasure = "log_volume"
    windows: list[Window] | None = None
    shares_outstanding: dict[Symbol, float] = Field(default_factory=dict)


RegressionWeights = Literal["ols", "wls"]
RegressionCov = Literal["auto", "hc3", "cluster"]


class Regression(_Model):
    """One cross-sectional regression of the firm-events' CARs on characteristics.

    ``formula`` in statsmodels/patsy notation with ``car`` (or ``bhar``, ``scar``) on the
    left, e.g. ``car ~ us_sales_share + log_mcap``; ``weights: wls`` weighs each firm-event
    by ``1 / se(CAR)^2``; ``cov``: ``hc3``, ``cluster`` (by event date) or ``auto`` (cluster
    by event date when firm-events share dates and there are several dates, else HC3).
    """

    name: Slug | None = None
    title: Text | None = None
    formula: Text
    window: Window = (0, 1)
    weights: RegressionWeights = "ols"
    cov: RegressionCov = "auto"


class CrossSectionConfig(_Model):
    """Regressions of CARs on firm characteristics.

    ``data``: a CSV with a ``security`` column (the study's symbols), optionally
    ``event_id`` (characteristics that differ per event), and one column per characteristic.
    Without ``data`` the characteristics of the securities are used (their
    ``characteristics``, e.g. the further columns of ``securities: {from: file.csv}``).
    """

    data: Text | None = Field(
        default=None,
        description="CSV of characteristics: security[, event_id], columns... (default: the "
        "securities' characteristics)",
    )
    regressions: list[Regression] = Field(min_length=1)


ComputeBackend = Backend
_SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


def _address(value: Any) -> str:
    text = _text(value).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in _SCHEDULER_SCHEMES or not rest:
        raise _Invalid("a Dask scheduler address such as tcp://10.0.0.5:8786")
    return text


class ComputeConfig(_Model):
    """Where the engine's chunks of whole events run (see ``docs/scale.md``).

    ``backend``: none (in this process, the default), ``processes`` (a local pool of
    ``workers`` processes) or ``dask`` (``address`` of a running scheduler, else a local
    cluster of ``workers``). ``chunk_events``: events per chunk (default: about 20,000
    firm-events a chunk). The CLI's ``--backend``/``--scheduler``/``--workers`` override
    these. The results are identical whatever the backend.
    """

    backend: ComputeBackend | None = None
    address: Annotated[str, BeforeValidator(_address)] | None = Field(
        default=None, description="dask: scheduler address, e.g. tcp://10.0.0.5:8786"
    )
    workers: StrictInt | None = Field(default=None, description="processes or local workers")
    chunk_events: StrictInt | None = Field(default=None, description="events per chunk")

    @model_validator(mode="after")
    def _coherent(self) -> ComputeConfig:
        if self.chunk_events is not None and self.chunk_events < 1:
            raise _Invalid("a number of events >= 1", field="chunk_events", value=self.chunk_events)
        if self.address is not None and self.backend != "dask":
            raise _Invalid(
                "backend: dask with a scheduler address (or drop address)",
                field="backend",
                value=self.backend,
            )
        if self.address is not None and self.workers is not None:
            raise _Invalid(
                "no workers with a scheduler address (the cluster has its own)",
                field="workers",
                value=self.workers,
            )
        try:
            check_compute(self.backend, self.address, self.workers)
        except ConfigError as err:
            raise _Invalid(
                str(err.fields["expected"]) + " (compute.backend: processes or dask)",
                field=str(err.fields["field"]).replace("scheduler", "address"),
                value=err.fields["value"],
            ) from None
        return self


class StudyConfig(_Model):
    """A complete event study, as read from ``configs/*.yaml``.

    Attributes
    ----------
    name : str
        Lower-case slug; names the report folder ``<output.dir>/<name>/``.
    securities : list of Security
        At least one; unique symbols.
    market : dict exchange -> MarketIndex
        Benchmarks; filled from :data:`DEFAULT_MARKETS` for exchanges not named.
    events : list of Event
        At least one; unique ids.
    estimation, event_window : (int, int)
        Relative trading days, inclusive; the estimation window ends before the event window.
    car_windows : list of (int, int)
        Inside the event window.
    tests : list of str
        Test names (``"all"`` in YAML expands to :data:`TEST_NAMES`).
    headline_window : (int, int), optional
        The CAR window of each event's verdict; one of ``car_windows`` (default ``(0, 1)``
        when listed, else the first CAR window).
    pool : list of Pool
        Events pooled into one labelled answer (default: none; every event is answered
        on its own).

    Notes
    -----
    The study is data: what it means for a run (exchanges and their securities, merged
    variants, dossier paths, the report folder) is resolved once by
    :func:`eventstudy.plan.plan_study`.
    """

    name: StudyName
    title: Text | None = None
    description: Text = ""
    securities: Securities
    market: dict[Exchange, MarketEntry] = Field(default_factory=dict)
    factors: list[Factor] = Field(default_factory=list)
    events: list[Event] = Field(min_length=1)
    estimation: Window = (-250, -11)
    event_window: Window = (-10, 10)
    car_windows: list[Window] = Field(
        default_factory=lambda: list(DEFAULT_CAR_WINDOWS), min_length=1
    )
    model: ModelName | FactorPreset = "market"
    returns: ReturnsKind = "simple"
    min_estimation_obs: StrictInt = 100
    convention: Convention = "textbook"
    tests: Tests = Field(default_factory=lambda: list(cast("tuple[TestName, ...]", TEST_NAMES)))
    headline_window: Window | None = None
    pool: Pools = Field(default_factory=list)
    source: Source = Field(default_factory=SourceConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    data_start: Day | None = None
    data_end: Day | None = None
    variants: list[Variant] = Field(default_factory=list)
    fama_french: FamaFrenchConfig = Field(default_factory=FamaFrenchConfig)
    volume: VolumeConfig | None = None
    cross_section: CrossSectionConfig | None = None
    compute: ComputeConfig = Field(default_factory=ComputeConfig)

    _file: Path | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> StudyConfig:
        problem = self._problem(info.context or {})
        if problem is not None:
            raise problem
        if self.title is None:
            object.__setattr__(self, "title", self.name)
        markets = dict(self.market)
        for ex in self.exchanges:
            if ex not in markets and ex in DEFAULT_MARKETS:
                markets[ex] = DEFAULT_MARKETS[ex]
        object.__setattr__(self, "market", markets)
        return self

    def _problem(self, context: Mapping[str, Any]) -> _Invalid | None:
        seen: dict[str, int] = {}
        for i, sec in enumerate(self.securities):
            if sec.symbol in seen:
                return _Invalid(
                    f"each symbol once (already securities[{seen[sec.symbol]}])",
                    field=f"securities[{i}].symbol",
                    value=sec.symbol,
                )
            seen[sec.symbol] = i
        if len(self.events) > MAX_EVENTS:
            return _Invalid(
                f"at most {MAX_EVENTS} events per study (the report draws four figures per "
                "event): split them into several study files, e.g. by year or by tag, and set "
                "them side by side with eventstudy compare",
                field="events",
                value=_Shown(f"{len(self.events)} events"),
            )
        ids: dict[str, int] = {}
        keys: dict[str, int] = {}
        for i, ev in enumerate(self.events):
            if ev.id in ids:
                return _Invalid(
                    f"a unique event id (already events[{ids[ev.id]}])",
                    field=f"events[{i}].id",
                    value=ev.id,
                )
            ids[ev.id] = i
            key = file_key(ev.id)
            if key in keys:
                other = self.events[keys[key]].id
                return _Invalid(
                    f"an id that differs from events[{keys[key]}] ({other}) in more than case "
                    f"and punctuation (both would write the files of '{key}')",
                    field=f"events[{i}].id",
                    value=ev.id,
                )
            keys[key] = i
            for j, sym in enumerate(ev.securities or []):
                if sym not in seen:
                    return _Invalid(
                        "a symbol listed under securities",
                        field=f"events[{i}].securities[{j}]",
                        value=sym,
                    )
        fseen: set[str] = set()
        for i, fac in enumerate(self.factors):
            if fac.symbol in fseen or fac.symbol in seen:
                return _Invalid(
                    "a factor symbol not used elsewhere in the study",
                    field=f"factors[{i}].symbol",
                    value=fac.symbol,
                )
            fseen.add(fac.symbol)
        for i, name in enumerate(self.tests):
            if name in self.tests[:i]:
                return _Invalid("each test once", field=f"tests[{i}]", value=name)
        problem = _window_problems(
            self.estimation, self.event_window, self.car_windows, self.min_estimation_obs
        )
        if problem is not None:
            return problem
        if self.model == "factor" and not self.factors:
            return _Invalid(
                "at least one factor for model: factor (e.g. factors: [{symbol: JPY=X}])",
                field="factors",
                value=[],
            )
        if self.model != "constant_mean":
            for ex in self.exchanges:
                if ex not in self.market and ex not in DEFAULT_MARKETS:
                    return _Invalid(
                        f"a market benchmark for {ex} (market: {{{ex}: {{symbol: ...}}}})",
                        field="market",
                        value=sorted(self.market),
                    )
        for i, inj in enumerate(self.source.injected):
            if inj.event not in ids:
                return _Invalid(
                    "an event id of this study",
                    field=f"source.injected[{i}].event",
                    value=inj.event,
                )
            if inj.security != "*" and inj.security not in seen:
                return _Invalid(
                    "a symbol listed under securities, or *",
                    field=f"source.injected[{i}].security",
                    value=inj.security,
                )
        if self.data_start and self.data_end and self.data_end <= self.data_start:
            return _Invalid(
                f"a data_end after data_start ({self.data_start})",
                field="data_end",
                value=str(self.data_end),
            )
        for i, ev in enumerate(self.events):
            day = ev.announced.date()
            if self.data_start and day < self.data_start:
                return _Invalid(
                    f"an announcement on or after data_start ({self.data_start})",
                    field=f"events[{i}].announced",
                    value=ev.announced.isoformat(),
                )
            if self.data_end and day > self.data_end:
                return _Invalid(
                    f"an announcement on or before data_end ({self.data_end})",
                    field=f"events[{i}].announced",
                    value=ev.announced.isoformat(),
                )
        root = context.get("root")
        if root is not None:
            out = (Path(root) / self.output.dir).resolve()
            if not out.is_relative_to(Path(root).resolve()):
                # lexically inside (no '..', not absolute) but a symlink leads elsewhere
                return _Invalid(
                    f"a folder inside the project folder (it resolves to {out})",
                    field="output.dir",
                    value=self.output.dir,
                )
            seeds = (Path(root) / "seeds").resolve()
            for i, ev in enumerate(self.events):
                if ev.dossier is None:
                    continue
                problem = _dossier_problem(Path(root), seeds, ev.dossier)
                if problem is not None:
                    problem.field = f"events[{i}].dossier"
                    return problem
        if self.headline_window is not None and self.headline_window not in self.car_windows:
            return _Invalid(
                "one of car_windows (add it there too), e.g. "
                + ", ".join(f"[{a}, {b}]" for a, b in self.car_windows[:3]),
                field="headline_window",
                value=list(self.headline_window),
            )
        lo, hi = self.event_window
        if self.output.car_from is not None and not lo <= self.output.car_from <= hi:
            return _Invalid(
                f"a relative day inside the event window [{lo}, {hi}], e.g. {min(max(-1, lo), hi)}",
                field="output.car_from",
                value=self.output.car_from,
            )
        problem = _pool_problem(self.pool, self.events)
        if problem is not None:
            return problem
        names: dict[str, int] = {}
        for i, var in enumerate(self.variants):
            if var.name in names:
                return _Invalid(
                    f"a unique variant name (already variants[{names[var.name]}])",
                    field=f"variants[{i}].name",
                    value=var.name,
                )
            names[var.name] = i
            merged = merge_variant(self, var)
            problem = _window_problems(
                merged["estimation"],
                merged["event_window"],
                merged["car_windows"],
                merged["min_estimation_obs"],
            )
            if problem is not None:
                problem.field = f"variants[{i}].{problem.field}"
                return problem
            if merged["model"] == "factor" and not self.factors:
                return _Invalid(
                    "model: factor only when the study lists factors",
                    field=f"variants[{i}].model",
                    value="factor",
                )
        return None

    @model_validator(mode="after")
    def _check_measures(self) -> StudyConfig:
        """The fields of published factors, volume and cross-sections (issue 14)."""
        presets = [self.model, *(v.model for v in self.variants)]
        if any(m in FACTOR_PRESET_NAMES for m in presets):
            region = self.fama_french.region
            homes = set(FACTOR_HOME_EXCHANGE.values())
            for ex in self.exchanges:
                named = isinstance(region, str) or (isinstance(region, dict) and ex in region)
                if not named and ex not in homes:
                    raise _Invalid(
                        f"the factor region of {ex} (japan or us), e.g. "
                        f"fama_french: {{region: {{{ex}: us}}}}",
                        field="fama_french.region",
                        value=region,
                    )
        if self.volume is not None:
            lo, hi = self.event_window
            for i, (a, b) in enumerate(self.volume.windows or []):
                if a < lo or b > hi:
                    raise _Invalid(
                        f"a window inside the event window [{lo}, {hi}]",
                        field=f"volume.windows[{i}]",
                        value=[a, b],
                    )
            symbols = {s.symbol for s in self.securities}
            for sym, n in self.volume.shares_outstanding.items():
                if sym not in symbols:
                    raise _Invalid(
                        "a symbol listed under securities",
                        field="volume.shares_outstanding",
                        value=sym,
                    )
                if not n > 0:
                    raise _Invalid(
                        "a positive number of shares",
                        field=f"volume.shares_outstanding.{sym}",
                        value=n,
                    )
            if self.volume.measure == "log_turnover":
                lacking = sorted(symbols - set(self.volume.shares_outstanding))
                if lacking:
                    raise _Invalid(
                        "shares outstanding of every security for log_turnover (or measure: "
                        "log_volume)",
                        field="volume.shares_outstanding",
                        value=lacking,
                    )
        if self.cross_section is not None:
            if self.cross_section.data is None and not any(
                s.characteristics for s in self.securities
            ):
                raise _Invalid(
                    "a data file of characteristics, or securities with characteristics "
                    "(securities: {from: universe.csv} with further columns)",
                    field="cross_section.data",
                    value=None,
                )
            lo, hi = self.event_window
            names: dict[str, int] = {}
            for i, reg in enumerate(self.cross_section.regressions):
                a, b = reg.window
                if a < lo or b > hi:
                    raise _Invalid(
                        f"a window inside the event window [{lo}, {hi}]",
                        field=f"cross_section.regressions[{i}].window",
                        value=[a, b],
                    )
                lhs, tilde, rhs = reg.formula.partition("~")
                if not tilde or lhs.strip() not in ("car", "bhar", "scar") or not rhs.strip():
                    raise _Invalid(
                        "a formula 'car ~ x1 + x2' (left side car, bhar or scar)",
                        field=f"cross_section.regressions[{i}].formula",
                        value=reg.formula,
                    )
                name = reg.name or f"regression{i + 1}"
                if name in names:
                    raise _Invalid(
                        f"a unique regression name (already regressions[{names[name]}])",
                        field=f"cross_section.regressions[{i}].name",
                        value=name,
                    )
                names[name] = i
        return self

    # ---------------------------------------------------------------- where it came from

    @property
    def exchanges(self) -> list[str]:
        """Exchanges of the securities, in order of first appearance."""
        return list(dict.fromkeys(str(s.exchange) for s in self.securities))

    @property
    def file(self) -> Path | None:
        """The YAML file this study was read from (``None`` if built in Python)."""
        return self._file

    @property
    def root(self) -> Path:
        """The project folder: dossiers and relative paths resolve against it."""
        return self._root if self._root is not None else Path.cwd()


def merge_variant(study: StudyConfig, variant: Variant) -> dict[str, Any]:
    """The engine fields of ``study`` with ``variant``'s overrides (its ``market`` entries
    replace the study's per exchange). What a variant means, in one place: the validator
    checks it and :func:`eventstudy.plan.plan_study` builds the variant's study from it."""
    out = {name: getattr(study, name) for name in _VARIANT_FIELDS}
    for name in _VARIANT_FIELDS:
        val = getattr(variant, name)
        if val is not None:
            out[name] = {**study.market, **val} if name == "market" else val
    return out


# ----------------------------------------------------------------------------- defaults

DEFAULT_MARKETS.update(
    {
        "XTKS": MarketIndex(
            symbol="TOPIX",
            name="TOPIX",
            aliases={"csv": "TOPIX", "yahoo": "1306.T", "simulated": "TOPIX"},
            fallbacks=["^N225", "1306.T"],
        ),
        "XNYS": MarketIndex(symbol="^GSPC", name="S&P 500"),
    }
)

# ----------------------------------------------------------------------------- YAML


class _Resolver(BaseResolver):
    """YAML 1.2 core-schema scalars, minus two traps (see the module docstring).

    Only ``true``/``false`` are booleans; an integer is plain decimal without a leading zero
    (YAML 1.2 reads ``0123`` as 123, YAML 1.1 as 83: here it stays the text ``"0123"``); no
    implicit timestamps (the models parse dates and times, refusing naive ones). Whatever
    ``%YAML`` directive a file carries, these rules apply.
    """

    def __init__(self, version: Any = None, loader: Any = None, loadumper: Any = None) -> None:
        super().__init__(loader if loader is not None else loadumper)

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
):
    _Resolver.add_implicit_resolver_base(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )


class _DuplicateKey(MarkedYAMLError):
    """A key given twice in one mapping (the key, and where its second use starts)."""

    def __init__(self, key: Any, mark: Any) -> None:
        super().__init__(problem=f"duplicate key {_bounded_repr(key)}", problem_mark=mark)
        self.key = key


class _Constructor(SafeConstructor):
    """ruamel.yaml's safe constructor (no Python tags; merge keys as YAML 1.2 has them),
    with numbers that remember how they were written (``1.10`` is not ``1.1``)."""

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        # ruamel's own check formats the value into its message: an alias bomb would be
        # expanded in full. Keys merged in by ``<<`` are not checked (a key may override them).
        if key in mapping:
            raise _DuplicateKey(key, key_node.start_mark)
        return True

    def flatten_mapping(self, node: Any) -> Any:
        # ruamel.yaml checks no key of a mapping that merges another: check its own keys
        own = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        if len(own) < len(node.value):
            seen: set[Any] = set()
            for key_node in own:
                if isinstance(key_node, ScalarNode):
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark)
                    seen.add(key)
        return super().flatten_mapping(node)

    def construct_yaml_int(self, node: Any) -> int:
        text = str(self.construct_scalar(node))
        try:
            out = _YamlInt(
                int(text.replace("_", ""), 0 if text.lower().startswith(("0x", "0o", "0b")) else 10)
            )
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"cannot read {text!r} as an integer", node.start_mark
            ) from exc
        out.raw = text
        return out

    def construct_yaml_float(self, node: Any) -> float:
        out = _YamlFloat(SafeConstructor.construct_yaml_float(self, node))
        out.raw = str(self.construct_scalar(node))
        return out


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)


def load_yaml(text: str, file: str | None = None) -> Any:
    """Parse YAML text with ruamel.yaml's safe loader and the trap-free scalars of
    :class:`_Resolver`; every error becomes one :class:`ConfigError` line with its line and
    column."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _Resolver
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except _DuplicateKey as exc:
        raise ConfigError(
            field=_mark(exc.problem_mark),
            value=_Shown(_bounded_repr(exc.key)),
            expected="each key once per mapping (YAML would silently keep only the last; "
            "a key may override one merged in with <<)",
            file=file,
        ) from None
    except MarkedYAMLError as exc:
        raise ConfigError(
            field=_mark(exc.problem_mark or exc.context_mark),
            value=str(exc.problem or exc.context or "syntax error"),
            expected="valid YAML (check indentation, colons and quotes)",
            file=file,
        ) from None
    except YAMLError as exc:
        raise ConfigError(
            field="YAML", value=" ".join(str(exc).split()), expected="valid YAML", file=file
        ) from None


def _mark(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"


# ----------------------------------------------------------------------------- errors


class _Nothing:
    def __repr__(self) -> str:
        return "nothing"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 3, 10, 10, 10
_REPR.maxstring = _REPR.maxother = 100


def _bounded_repr(value: Any, limit: int = 200) -> str:
    """``repr`` of at most a few levels and items (YAML aliases can nest billions)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Shown:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose field the last element of ``loc`` names (for suggestions)."""
    model: Any = StudyConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = (
            model.model_fields.get(part)
            if isinstance(model, type) and issubclass(model, BaseModel)
            else None
        )
        if field is None:  # a dict key such as market.XTKS: keep the value model found
            continue
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    stack = [annotation]
    while stack:
        ann = stack.pop()
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        stack.extend(get_args(ann))
    return None


_EXPECTED_BY_TYPE = {
    "int_type": "a whole number (no quotes, no leading zero)",
    "int_parsing": "a whole number (no quotes, no leading zero)",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number (e.g. 0.03)",
    "bool_type": "true or false (yes/no/on/off are read as text)",
    "bool_parsing": "true or false (yes/no/on/off are read as text)",
    "list_type": "a list (YAML '- item' lines or [a, b])",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "tuple_type": "a list",
    "string_type": "text",
    "date_type": "a calendar date YYYY-MM-DD",
    "datetime_type": "a timestamp with offset",
    "frozen_instance": "an unchanged value",
}


def _convert(err: ValidationError, file: str | None) -> ConfigError:
    errors = err.errors()
    # the most specific problem first: our own messages, then the deepest location
    first = errors[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    value: Any = first.get("input")
    ctx = first.get("ctx") or {}
    field = _format_loc(loc)
    exc = ctx.get("error")
    if isinstance(exc, _Invalid):
        expected = exc.expected
        if exc.field:
            sep = "" if exc.field.startswith("[") else "."
            field = f"{field}{sep}{exc.field}" if field else exc.field
        if exc.value is not _Invalid._UNSET:
            value = exc.value
    elif kind == "extra_forbidden":
        model = _model_at(loc)
        key = str(loc[-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        expected = f"no field {key!r} here; {hint}allowed: {', '.join(allowed)}"
    elif kind == "missing":
        value = _Nothing()
        expected = "a value (this field is required)"
    elif kind in ("literal_error", "enum"):
        expected = f"one of {ctx.get('expected', '')}"
        if loc and loc[-1] == "[key]":
            expected = f"a key that is one of {ctx.get('expected', '')}"
    elif kind == "too_short":
        n = ctx.get("min_length", 1)
        expected = f"at least {n} item{'s' if n != 1 else ''}"
        if field == "securities":
            expected += " (a security: {symbol: 7203.T, name: Toyota})"
        if field == "events":
            expected += " (an event: id, title, announced)"
    else:
        expected = _EXPECTED_BY_TYPE.get(kind, first.get("msg", "a valid value"))
        if kind == "string_type" and _is_number(value):
            expected = f'text; YAML read {value!r} as a number: quote it, e.g. "{value!r}"'
    if isinstance(value, Mapping | list):
        text = _bounded_repr(value)  # never repr() a YAML alias bomb in full
        if len(text) > 80:
            value = _Shown(text[:77] + "...")
    extra = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    if len(errors) > 1:
        expected += extra
    return ConfigError(field=field or "(top level)", value=value, expected=expected, file=file)


# ----------------------------------------------------------------------------- loading


def find_root(path: str | Path) -> Path:
    """The project folder of a study file: the nearest parent with ``pyproject.toml``,
    ``.git`` or ``seeds/``; else the parent of a ``configs/`` folder; else its folder."""
    start = Path(path).resolve().parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
        if (folder / "seeds").is_dir():
            return folder
    return start.parent if start.name == "configs" else start


def parse_config(
    data: Any, *, file: str | Path | None = None, root: str | Path | None = None
) -> StudyConfig:
    """Validate a parsed mapping into :class:`StudyConfig`.

    Errors become one-line :class:`ConfigError`. With ``root`` the dossiers are checked
    to exist under ``root/seeds/``.
    """
    shown = str(file) if file is not None else None
    if not isinstance(data, Mapping):
        raise ConfigError(
            field="(top level)",
            value=_Shown(type(data).__name__ if data is not None else "an empty file"),
            expected="a mapping of study fields (name, securities, events, ...)",
            file=shown,
        )
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(
                field="(top level)",
                value=key,
                expected="field names as text (name, securities, events, ...)",
                file=shown,
            )
    context = {"root": Path(root)} if root is not None else {}
    try:
        config = StudyConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise _convert(exc, shown) from None
    config._file = Path(file) if file is not None else None
    config._root = Path(root) if root is not None else None
    return config


def load_config(path: str | Path, *, root: str | Path | None = None) -> StudyConfig:
    """Read and validate a study YAML file.

    Parameters
    ----------
    path : path-like
        The YAML file (``configs/kei_cars.yaml``).
    root : path-like, optional
        Project folder for dossiers and relative paths; default :func:`find_root`.

    Raises
    ------
    ConfigError
        One line naming the file, field path, value and what is expected.
    """
    path = Path(path)
    shown = str(path)
    if path.exists() and not path.is_dir() and not path.is_file():
        # a named pipe or device would block the read forever, or never end
        raise ConfigError(
            field="(file)",
            value=shown,
            expected="a regular YAML file, not a pipe or device",
            file=shown,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            field="(file)", value=shown, expected="an existing study YAML file", file=shown
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            field="(file)", value=shown, expected="a YAML file, not a folder", file=shown
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            field="(file)", value=shown, expected="a UTF-8 text file", file=shown
        ) from None
    data = load_yaml(text, file=shown)
    return parse_config(data, file=shown, root=root if root is not None else find_root(path))


# ----------------------------------------------------------------------------- schema


def schema_json() -> str:
    """The JSON schema of :class:`StudyConfig` as text (what ``configs/schema.json`` holds)."""
    schema = StudyConfig.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/oem-eventstudy/configs/schema.json",
        **schema,
        "title": "eventstudy study configuration",
    }
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schema(path: str | Path) -> Path:
    """Write the JSON schema of :class:`StudyConfig` to ``path`` (``configs/schema.json``)."""
    path = Path(path)
    path.write_text(schema_json(), encoding="utf-8")
    return path
