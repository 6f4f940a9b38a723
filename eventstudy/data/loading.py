"""``load_prices``: prices of several symbols through the cache, with a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from eventstudy.data.cache import PriceCache
from eventstudy.data.sources import PriceSource, resolve_symbol
from eventstudy.exceptions import DataError

__all__ = ["load_prices"]


def load_prices(
    symbols: Iterable[str],
    source: PriceSource,
    start: Any = None,
    end: Any = None,
    *,
    cache: PriceCache | bool | None = None,
    refresh: bool = False,
    offline: bool = False,
    progress: bool = True,
    aliases: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Prices of every symbol, keyed by the study's symbol.

    Parameters
    ----------
    symbols : iterable of str
        The study's symbols (duplicates are fetched once).
    source : PriceSource
        Where prices come from.
    start, end : date-like, optional
        Inclusive bounds.
    cache : PriceCache, bool or None, default None
        ``None``: a default :class:`PriceCache` for remote sources (Yahoo), no cache for
        local ones (CSV, simulated); ``True``/``False`` force it on/off; or a
        :class:`PriceCache` to use.
    refresh : bool, default False
        Refetch even what is cached.
    offline : bool, default False
        Never touch the network: remote sources are served from the cache only.
    progress : bool, default True
        Show a progress bar (stderr) when fetching more than one symbol.
    aliases : mapping symbol -> (mapping source name -> symbol), optional
        Per-source symbols, e.g. ``{"TOPIX": {"yahoo": "1306.T"}}``; see
        :func:`resolve_symbol`.

    Returns
    -------
    dict of str to DataFrame
        Prices frames; ``attrs["provenance"]`` records ``requested_symbol`` (the
        study's) and ``symbol`` (the one fetched).

    Raises
    ------
    DataError, UnknownSymbol, NetworkError, RateLimited, CacheError
        From the source or the cache, for the first symbol that fails.
    """
    wanted = list(dict.fromkeys(symbols))
    remote = bool(getattr(source, "remote", False))
    store: PriceCache | None
    if isinstance(cache, PriceCache):
        store = cache
    elif cache is True or (cache is None and remote):
        store = PriceCache()
    else:
        store = None
    if offline and remote and store is None:
        raise DataError(
            symbol=wanted[0] if wanted else "prices",
            detail=f"offline mode needs the cache to read {source.name} prices",
            fix="drop --offline, or use --prices DIR",
        )
    out: dict[str, pd.DataFrame] = {}

    def one(sym: str) -> None:
        fetch = resolve_symbol(sym, (aliases or {}).get(sym), source.name)
        if store is not None:
            df = store.get(source, fetch, start, end, refresh=refresh, offline=offline)
        else:
            df = source.get(fetch, start, end)
        prov = dict(df.attrs.get("provenance", {}))
        prov["requested_symbol"] = sym
        prov["symbol"] = fetch
        df.attrs["provenance"] = prov
        out[sym] = df

    if progress and len(wanted) > 1:
        import click

        with click.progressbar(
            wanted,
            label=f"prices from {source.name}",
            file=sys.stderr,
            item_show_func=lambda s: s or "",
        ) as bar:
            for sym in bar:
                one(sym)
    else:
        for sym in wanted:
            one(sym)
    return out
