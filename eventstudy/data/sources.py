"""The ``PriceSource`` protocol and helpers every source shares.

Every source returns, per symbol, the **Prices** shape of ``docs/architecture.md``: a
DataFrame indexed by a tz-naive ``DatetimeIndex`` named ``date`` holding the session
dates of the symbol's own exchange (sorted, unique), with float columns ``close`` and
``adj_close`` (index levels without an adjusted close repeat ``close``) and a provenance
dict in ``df.attrs["provenance"]``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from eventstudy.exceptions import DataError, SuspectedSplitWarning, format_warning

__all__ = [
    "PRICE_COLUMNS",
    "PriceSource",
    "check_splits",
    "finalize_prices",
    "make_provenance",
    "resolve_symbol",
    "to_timestamp",
    "versions",
]

#: Columns every Prices frame carries.
PRICE_COLUMNS = ("close", "adj_close")

#: Day-over-day price ratios beyond these bounds, close to a whole split factor, are
#: flagged as a suspected unadjusted split.
_SPLIT_FACTORS = np.array([1.5, 2, 3, 4, 5, 8, 10, 20, 25, 50, 100], dtype=float)
_SPLIT_TOLERANCE = 0.06  # relative distance to a split factor
_SPLIT_MIN_RATIO = 1.45  # smaller moves are never flagged


@runtime_checkable
class PriceSource(Protocol):
    """Anything that returns daily prices for one symbol at a time.

    Attributes
    ----------
    name : str
        Short source name (``"yahoo"``, ``"csv"``, ``"simulated"``); used for aliases,
        provenance and as the cache folder.
    remote : bool
        True when :meth:`get` touches the network (the cache is then used by default
        and ``offline=True`` never calls :meth:`get`).
    """

    name: str
    remote: bool

    def get(
        self,
        symbol: str,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Return the Prices frame of ``symbol`` between ``start`` and ``end`` (inclusive)."""
        ...  # pragma: no cover


def resolve_symbol(symbol: str, aliases: Mapping[str, str] | None, source_name: str) -> str:
    """Return the symbol to ask ``source_name`` for, given a study symbol's aliases.

    Parameters
    ----------
    symbol : str
        The symbol as the study names it (e.g. ``"TOPIX"``).
    aliases : mapping of str to str, optional
        Per-source symbols, keyed by source name (e.g. ``{"yahoo": "1306.T"}``).
        Keys match the source name case-insensitively; a class-style key such as
        ``"YahooSource"`` also matches ``"yahoo"``.
    source_name : str
        ``PriceSource.name`` of the source that will be asked.

    Returns
    -------
    str
        The alias for this source, or ``symbol`` itself when there is none.

    Examples
    --------
    >>> resolve_symbol("TOPIX", {"yahoo": "1306.T"}, "yahoo")
    '1306.T'
    >>> resolve_symbol("TOPIX", {"yahoo": "1306.T"}, "csv")
    'TOPIX'
    """
    if not aliases:
        return symbol
    wanted = source_name.lower()
    for key, alias in aliases.items():
        k = str(key).lower()
        if k == wanted or k.removesuffix("source") == wanted:
            alias = str(alias).strip()
            if not alias:
                raise DataError(
                    symbol=symbol,
                    detail=f"empty alias for source {source_name!r}",
                    fix="give the symbol this source uses, or remove the alias",
                )
            return alias
    return symbol


def versions(**extra: str) -> dict[str, str]:
    """Versions recorded in provenance: eventstudy, pandas, numpy, plus ``extra``."""
    from eventstudy import __version__

    out = {"eventstudy": __version__, "pandas": pd.__version__, "numpy": np.__version__}
    out.update(extra)
    return out


def make_provenance(source: str, symbol: str, **extra: Any) -> dict[str, Any]:
    """Return a provenance dict: ``source``, ``symbol``, ``fetched_at`` (ISO UTC), ``versions``."""
    prov: dict[str, Any] = {
        "source": source,
        "symbol": symbol,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    prov.update(extra)
    return prov


def to_timestamp(value: Any, what: str = "date") -> pd.Timestamp | None:
    """Parse a user date (str, date, Timestamp or None) to a tz-naive midnight Timestamp."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(
            symbol=what, detail=f"cannot read date {value!r} ({exc})", fix="use YYYY-MM-DD"
        ) from None
    if ts is pd.NaT:
        raise DataError(symbol=what, detail=f"date {value!r} is empty", fix="use YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def finalize_prices(
    df: pd.DataFrame,
    symbol: str,
    provenance: Mapping[str, Any],
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Bring a frame to the Prices contract and attach provenance.

    The index becomes a tz-naive, normalised ``DatetimeIndex`` named ``date``; rows are
    sorted and restricted to ``[start, end]``; ``close`` and ``adj_close`` are float64
    (``adj_close`` falls back to ``close`` where missing). Rows without any price are
    dropped.

    Raises
    ------
    DataError
        If the index has duplicate dates or a column is missing.
    """
    out = df.copy()
    idx = pd.DatetimeIndex(out.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    out.index = idx.normalize().as_unit("ns").rename("date")
    if "close" not in out.columns and "adj_close" not in out.columns:
        raise DataError(
            symbol=symbol,
            detail="no close or adjusted close column",
            fix="provide a Close and/or Adj Close column",
        )
    if "close" not in out.columns:
        out["close"] = out["adj_close"]
    if "adj_close" not in out.columns:
        out["adj_close"] = out["close"]
    for col in out.columns:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    out["adj_close"] = out["adj_close"].fillna(out["close"])
    out = out[out["adj_close"].notna()]
    if not out.index.is_monotonic_increasing:
        out = out.sort_index(kind="stable")
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise DataError(
            symbol=symbol,
            detail=f"duplicate date {dup.date()} in the prices",
            fix="keep one row per date",
        )
    if start is not None:
        out = out[out.index >= start]
    if end is not None:
        out = out[out.index <= end]
    cols = ["close", "adj_close"] + [c for c in out.columns if c not in PRICE_COLUMNS]
    out = out[cols]
    # no freq: a frame fresh from a source and the same frame from the cache are equal
    out.index = pd.DatetimeIndex(out.index.to_numpy(), name="date")
    out.columns.name = None
    out.attrs = {"provenance": dict(provenance)}
    return out


def check_splits(
    prices: pd.Series, symbol: str, *, stacklevel: int = 3
) -> list[tuple[pd.Timestamp, float]]:
    """Warn about one-day price ratios that look like an unadjusted split.

    A day is flagged when the ratio of consecutive prices (or its inverse) is at least
    1.45 and within 6% of a usual split factor (3:2, 2, 3, 4, 5, 8, 10, 20, 25, 50, 100).
    Real one-day moves of that size are rare enough to deserve a look.

    Returns
    -------
    list of (Timestamp, float)
        The flagged dates with their ratio (price / previous price).
    """
    s = prices.dropna()
    if len(s) < 2:
        return []
    values = s.to_numpy(dtype="float64")
    ratio = values[1:] / values[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        big = np.maximum(ratio, 1.0 / ratio)
    flagged: list[tuple[pd.Timestamp, float]] = []
    for i in np.flatnonzero(big >= _SPLIT_MIN_RATIO):
        rel = np.abs(_SPLIT_FACTORS - big[i]) / _SPLIT_FACTORS
        if rel.min() <= _SPLIT_TOLERANCE:
            date = s.index[i + 1]
            r = float(ratio[i])
            flagged.append((date, r))
            warnings.warn(
                format_warning(
                    SuspectedSplitWarning, symbol=symbol, ratio=r, date=f"{date.date()}"
                ),
                stacklevel=stacklevel,
            )
    return flagged


def is_finite_positive(x: float) -> bool:
    """True for a finite, strictly positive number."""
    return math.isfinite(x) and x > 0
