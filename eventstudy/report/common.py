"""Small helpers shared by the report's modules: ids, exchange names, number formats."""

from __future__ import annotations

import math
from typing import Any

from eventstudy.config import file_key

__all__ = ["EXCHANGE_HOURS", "exchange_name", "fid", "is_nan", "slug"]

#: Exchange -> (time zone, open, close, short name) for the price chart and the timing table.
EXCHANGE_HOURS: dict[str, tuple[str, str, str, str]] = {
    "XTKS": ("Asia/Tokyo", "09:00", "15:30", "TSE"),
    "XNYS": ("America/New_York", "09:30", "16:00", "NYSE"),
    "XNAS": ("America/New_York", "09:30", "16:00", "Nasdaq"),
}


def exchange_name(key: str) -> str:
    """``XTKS`` -> ``TSE``; an exchange without a short name keeps its code."""
    return EXCHANGE_HOURS.get(key, ("", "", "", key))[3] if key else ""


def slug(value: Any) -> str:
    """Lower-case letters, digits and dashes (figure ids, anchors, file names): the rule by
    which the study checks that no two event ids share files (:func:`config.file_key`)."""
    return file_key(str(value))


def fid(*parts: Any) -> str:
    """A figure id from its parts (empty parts skipped): ``ar-xtks-kei-cafe``."""
    return "-".join(slug(p) for p in parts if p not in (None, ""))


def is_nan(value: Any) -> bool:
    """Missing or not a finite number."""
    try:
        return value is None or not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True
