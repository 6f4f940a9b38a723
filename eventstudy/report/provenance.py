"""Where the numbers came from: versions, the source of every price series, the study file,
the run and report times (the report's footer and ``results.json``)."""

from __future__ import annotations

import datetime as _dt
import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from eventstudy.report.inputs import ReportInput

__all__ = ["ProvenanceView", "SourceLine", "provenance", "versions"]

_DEPENDENCIES = (
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "plotly",
    "jinja2",
    "exchange-calendars",
    "yfinance",
    "pydantic",
    "kaleido",
)


@functools.cache
def _version(dist: str) -> str:
    try:
        found = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        if dist == "oem-eventstudy":
            from eventstudy import __version__

            return __version__
        return ""
    return _header_version(found) or found.version


def _header_version(dist: metadata.Distribution) -> str | None:
    """The ``Version`` header of ``dist``'s metadata, read as a plain ``Version: x`` line
    (``Distribution.version`` parses the whole file as e-mail headers: ten times slower);
    None when the header is not that plain (then ``Distribution.version`` reads it)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():  # the end of the headers
            return None
        if line.startswith("Version:"):
            value = line[len("Version:") :]
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if value.startswith(" ") and value[1:] == value.strip() and value.strip():
                if not following.startswith((" ", "\t")):  # not folded onto the next line
                    return value[1:]
            return None
    return None


def versions(recorded: Mapping[str, str] | None = None) -> dict[str, str]:
    """This package's and its dependencies' versions; what the run recorded wins."""
    out = {"eventstudy": _version("oem-eventstudy"), "python": sys.version.split()[0]}
    for name in _DEPENDENCIES:
        v = _version(name)
        if v:
            out[name] = v
    for k, v in (recorded or {}).items():
        out["eventstudy" if k == "oem-eventstudy" else str(k)] = str(v)
    return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class SourceLine:
    symbol: str
    source: str
    fetched_at: str
    detail: str


@dataclass(frozen=True)
class ProvenanceView:
    """The footer's facts, ready for the template and JSON."""

    versions: dict[str, str]
    sources: list[SourceLine] = field(default_factory=list)
    config_path: str | None = None
    config_hash: str | None = None
    run_at: str | None = None
    run_started: str | None = None
    report_written_at: str = ""


def _short(key: str, value: Any) -> str:
    text = str(value)
    if key.endswith(("sha256", "sha1", "hash")):
        return text[:12]
    if key in ("path", "file") and "/" in text:
        return text.rsplit("/", 1)[-1]
    return text if len(text) <= 60 else text[:57] + "..."


def provenance(inp: ReportInput) -> ProvenanceView:
    """The provenance of the report of ``inp`` (written now)."""
    written = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    run = inp.provenance
    recorded = run.sources if run is not None else {}
    lines = []
    for symbol in dict.fromkeys([*inp.prices, *recorded]):
        frame = inp.prices.get(symbol)
        attrs: dict[str, Any] = (
            dict(frame.attrs.get("provenance", {}) or {}) if frame is not None else {}
        )
        rec = recorded.get(symbol)
        detail = []
        if rec is not None and rec.first and rec.last:
            detail.append(f"{rec.first} to {rec.last}")
        elif frame is not None and len(frame):
            detail.append(f"{frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}")
        for k, v in attrs.items():
            if k in ("source", "symbol", "fetched_at", "versions") or v in (None, ""):
                continue
            if k == "requested_symbol" and v == symbol:
                continue
            if isinstance(v, str | int | float):
                detail.append(f"{k}={_short(k, v)}")
        lines.append(
            SourceLine(
                symbol=str(symbol),
                source=str(attrs.get("source") or (rec.source if rec else "") or ""),
                fetched_at=str(attrs.get("fetched_at") or (rec.fetched_at if rec else "") or ""),
                detail=", ".join(detail),
            )
        )
    for failed in run.failures if run is not None else ():
        lines.append(
            SourceLine(
                symbol=failed.symbol,
                source="not fetched: left out of the study",
                fetched_at="",
                detail=f"{failed.reason}: {failed.message}",
            )
        )
    return ProvenanceView(
        versions=versions(run.versions if run is not None else None),
        sources=lines,
        config_path=run.config_file if run is not None else None,
        config_hash=run.config_hash if run is not None else None,
        run_at=run.run_finished if run is not None else None,
        run_started=run.run_started if run is not None else None,
        report_written_at=written,
    )
