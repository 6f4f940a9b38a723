"""Price data: sources, the local cache, and returns.

==========================  ==========================================================
name                        what
==========================  ==========================================================
``PriceSource``             protocol: ``name``, ``remote``, ``get(symbol, start, end)``
``YahooSource``             Yahoo Finance via yfinance (``Ticker.history``), typed errors
``CsvSource``               a folder of per-symbol CSVs, or one wide/long CSV (parsed
                            once; ``panel()`` gives many symbols as one frame)
``CsvChain``                several CSV sources searched in order (first holding wins)
``CsvTable``                the vectorised CSV reader and its rules (``csv_table``)
``SimulatedSource``         seeded factor model with injected abnormal returns
``PriceCache``              parquet per symbol, atomic, locked, incremental, verified
``load_prices``             several symbols through the cache (first failure raised)
``fetch_prices``            many symbols: bounded threads, resumable through the cache,
                            per-symbol failures collected (``PriceBatch``), progress
                            on a terminal
``compute_returns``         simple/log returns aligned on one exchange's sessions
``resolve_symbol``          per-source aliases (``TOPIX`` in CSVs, ``1306.T`` on Yahoo)
==========================  ==========================================================

yfinance is imported only when a ``YahooSource`` fetches.
"""

from __future__ import annotations

from eventstudy.data.cache import PriceCache, default_cache_dir
from eventstudy.data.csv_source import CsvChain, CsvSource, read_price_csv
from eventstudy.data.csv_table import CsvTable
from eventstudy.data.loading import PriceBatch, fetch_prices, load_prices
from eventstudy.data.returns import compute_returns, returns_from_panel
from eventstudy.data.simulated import SimulatedSource
from eventstudy.data.sources import PriceSource, check_splits, resolve_symbol
from eventstudy.data.yahoo import YahooSource

__all__ = [
    "CsvChain",
    "CsvSource",
    "CsvTable",
    "PriceBatch",
    "PriceCache",
    "PriceSource",
    "SimulatedSource",
    "YahooSource",
    "check_splits",
    "compute_returns",
    "default_cache_dir",
    "fetch_prices",
    "load_prices",
    "read_price_csv",
    "resolve_symbol",
    "returns_from_panel",
]
