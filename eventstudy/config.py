"""Study configuration: pydantic v2 models, a trap-free YAML loader, the JSON schema."""

from __future__ import annotations

#: Exchange of whole symbols (indexes, proxies) that carry no suffix telling it.
EXCHANGE_BY_SYMBOL: dict[str, str] = {
    "TOPIX": "XTKS",
    "^TOPX": "XTKS",
    "^N225": "XTKS",
    "^GSPC": "XNYS",
    "^DJI": "XNYS",
    "^IXIC": "XNYS",
}

#: Exchange by Yahoo-style suffix; ``""`` (no suffix) means New York.
EXCHANGE_BY_SUFFIX: dict[str, str] = {
    "": "XNYS",
    ".T": "XTKS",
}


def suffix_of(symbol: str) -> str:
    """The Yahoo-style exchange suffix of ``symbol`` (``".T"`` for ``7203.T``; ``""`` if none)."""
    head, dot, tail = symbol.rpartition(".")
    if not dot or not head or symbol.startswith("^"):
        return ""
    return "." + tail
