"""``load_prices`` / ``fetch_prices``: many symbols through the cache, a bounded pool of
threads for remote sources, per-symbol failures, and a progress line on a terminal.

How a batch runs
----------------
* **Resumable.** Every symbol goes through :meth:`PriceCache.get`, which serves what the
  cache holds for the range without a request and writes each fetched symbol atomically
  as soon as it arrives. A run killed half way leaves whole files for the symbols it
  finished (and nothing for the others); the next run fetches only the rest.
* **Bounded concurrency.** A remote source (Yahoo) is fetched from at most ``workers``
  threads (``YahooSource.workers``, default 8); local sources (CSV, simulated) one symbol
  after the other. Rate limits go through the source's own retries and backoff, shared by
  every thread (:class:`~eventstudy.data.yahoo.RateGate`).
* **Failures per symbol.** With ``fetch_prices`` each symbol's typed error becomes a
  :class:`~eventstudy.exceptions.FetchFailure` (the reason and the error's one line) and
  the batch goes on; when every symbol fails, the first symbol's error is raised as it
  is. After ``max(2, workers)`` symbols in a row are rate limited after their retries, the
  symbols not yet asked for are not asked (they fail as ``rate limited``, "not asked"):
  the source is refusing, and a rerun resumes through the cache. ``load_prices`` stops
  at the first failure and raises it (what a study of a few named securities wants).
* **Progress** (stderr, only when it is a terminal): symbols done and failed out of the
  total, and the time left (click's progress bar).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy.data.cache import PriceCache
from eventstudy.data.simulated import SimulatedSource
from eventstudy.data.sources import PriceSource, resolve_symbol
from eventstudy.exceptions import (
    DataError,
    EventStudyError,
    FetchFailure,
    RateLimited,
)

if TYPE_CHECKING:  # pragma: no cover
    from click._termui_impl import ProgressBar

__all__ = ["PriceBatch", "fetch_prices", "load_prices"]


@dataclass(frozen=True)
class PriceBatch:
    """What a batch fetch got: the prices of the symbols that came, and why the others did not.

    Attributes
    ----------
    prices : dict of str to DataFrame
        Prices frames keyed by the study's symbol, in the order asked.
    failures : tuple of FetchFailure
        One per symbol that could not be fetched, in the order asked.
    requested : tuple of str
        Every symbol asked for (duplicates removed), in order.
    errors : dict of str to EventStudyError
        The typed error of each failed symbol (to raise one as it is).
    """

    prices: dict[str, pd.DataFrame]
    failures: tuple[FetchFailure, ...]
    requested: tuple[str, ...]
    errors: dict[str, EventStudyError] = field(default_factory=dict, repr=False, compare=False)

    @property
    def failed(self) -> list[str]:
        """The symbols that could not be fetched."""
        return [f.symbol for f in self.failures]


def _workers(source: PriceSource, workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    if not getattr(source, "remote", False):
        return 1  # local files and simulations: nothing to wait for
    from eventstudy.data.yahoo import YahooSource

    return source.workers if isinstance(source, YahooSource) else 1


def _store(source: PriceSource, cache: PriceCache | bool | None) -> PriceCache | None:
    if isinstance(cache, PriceCache):
        return cache
    if cache is True or (cache is None and getattr(source, "remote", False)):
        return PriceCache()
    return None


def _progress_bar(total: int, label: str) -> ProgressBar[Any] | None:
    """click's progress bar on stderr, or ``None`` when stderr is not a terminal."""
    stream = sys.stderr
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        tty = False
    if not tty:
        return None
    import click

    return click.progressbar(
        length=total,
        label=label,
        file=stream,
        show_pos=True,
        show_eta=True,
        item_show_func=lambda text: text,
    )


def fetch_prices(
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
    workers: int | None = None,
) -> PriceBatch:
    """Prices of many symbols; each symbol's failure is collected, not raised.

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
        Show a progress bar (stderr, only when it is a terminal) for more than one symbol.
    aliases : mapping symbol -> (mapping source name -> symbol), optional
        Per-source symbols, e.g. ``{"TOPIX": {"yahoo": "1306.T"}}``; see
        :func:`resolve_symbol`.
    workers : int, optional
        Threads to fetch with; default the source's (``YahooSource.workers``, 8) for a
        remote source, 1 for a local one.

    Returns
    -------
    PriceBatch
        ``prices`` (``attrs["provenance"]`` records ``requested_symbol``, the study's, and
        ``symbol``, the one fetched) and ``failures``.

    Raises
    ------
    DataError, UnknownSymbol, NetworkError, RateLimited, CacheError
        Only when no symbol could be fetched: the first symbol's error. An error that is
        not one of ours (a bug) is raised as it is.
    """
    wanted, fetched, got, errors = _run(
        symbols, source, start, end, cache, refresh, offline, progress, aliases, workers, False
    )
    failures = tuple(
        FetchFailure.from_error(sym, fetched[sym], errors[sym]) for sym in wanted if sym in errors
    )
    if wanted and not got and errors:
        raise errors[next(s for s in wanted if s in errors)]
    return PriceBatch(
        prices={s: got[s] for s in wanted if s in got},
        failures=failures,
        requested=tuple(wanted),
        errors={s: errors[s] for s in wanted if s in errors},
    )


def _run(
    symbols: Iterable[str],
    source: PriceSource,
    start: Any,
    end: Any,
    cache: PriceCache | bool | None,
    refresh: bool,
    offline: bool,
    progress: bool,
    aliases: Mapping[str, Mapping[str, str]] | None,
    workers: int | None,
    stop_at_first: bool,
) -> tuple[list[str], dict[str, str], dict[str, pd.DataFrame], dict[str, EventStudyError]]:
    """The batch: (symbols asked, symbol fetched for each, frames got, errors met)."""
    wanted = list(dict.fromkeys(symbols))
    remote = bool(getattr(source, "remote", False))
    store = _store(source, cache)
    if offline and remote and store is None:
        raise DataError(
            symbol=wanted[0] if wanted else "prices",
            detail=f"offline mode needs the cache to read {source.name} prices",
            fix="drop --offline, or use --prices DIR",
        )
    fetched = {sym: resolve_symbol(sym, (aliases or {}).get(sym), source.name) for sym in wanted}
    ready: dict[str, pd.DataFrame] = {}
    if store is None and isinstance(source, SimulatedSource):
        # one panel instead of a frame per symbol (the same frames); a symbol the
        # simulation lacks still goes to get(), which raises its UnknownSymbol
        known = [f for f in dict.fromkeys(fetched.values()) if f in source.returns.columns]
        ready = source.frames(known, start, end)[0]

    def one(sym: str) -> pd.DataFrame:
        fetch = fetched[sym]
        if store is not None:
            df = store.get(source, fetch, start, end, refresh=refresh, offline=offline)
        elif fetch in ready:
            df = ready[fetch].copy()  # (two study symbols may fetch the same one)
            df.attrs = {"provenance": dict(ready[fetch].attrs["provenance"])}
        else:
            df = source.get(fetch, start, end)
        prov = dict(df.attrs.get("provenance", {}))
        prov["requested_symbol"] = sym
        prov["symbol"] = fetch
        df.attrs["provenance"] = prov
        return df

    n_workers = min(_workers(source, workers), max(1, len(wanted)))
    bar = None
    if progress and len(wanted) > 1:
        bar = _progress_bar(len(wanted), f"prices from {source.name}")
    got: dict[str, pd.DataFrame] = {}
    errors: dict[str, EventStudyError] = {}
    batch = _Batch(one, wanted, n_workers, stop_at_first, bar)
    if bar is not None:
        with bar:
            batch.run(got, errors)
    else:
        batch.run(got, errors)
    return wanted, fetched, got, errors


class _Batch:
    """Runs ``one`` over the symbols: in this thread, or from a pool of threads."""

    def __init__(
        self,
        one: Callable[[str], pd.DataFrame],
        symbols: list[str],
        workers: int,
        stop_at_first: bool,
        bar: ProgressBar[Any] | None,
    ) -> None:
        self.one = one
        self.symbols = symbols
        self.workers = workers
        self.stop_at_first = stop_at_first
        self.bar = bar
        self.failed = 0
        self.refused_in_a_row = 0
        self.stopped: EventStudyError | None = None

    def _record(
        self,
        sym: str,
        df: pd.DataFrame | None,
        err: EventStudyError | None,
        got: dict[str, pd.DataFrame],
        errors: dict[str, EventStudyError],
    ) -> None:
        if err is None:
            assert df is not None
            got[sym] = df
            self.refused_in_a_row = 0
        else:
            errors[sym] = err
            self.failed += 1
            if self.stop_at_first:
                self.stopped = err
            if isinstance(err, RateLimited):
                self.refused_in_a_row += 1
                if self.refused_in_a_row >= max(2, self.workers):
                    self.stopped = err
            else:
                self.refused_in_a_row = 0
        if self.bar is not None:
            failed = f"{self.failed} failed, " if self.failed else ""
            self.bar.update(1, f"{failed}{sym}")

    def _not_asked(self, sym: str, errors: dict[str, EventStudyError]) -> None:
        """A symbol left out after the source kept refusing (or the first failure)."""
        stopped = self.stopped
        assert stopped is not None
        if isinstance(stopped, RateLimited):
            errors[sym] = RateLimited(
                f"{sym}: not asked: Yahoo Finance kept answering HTTP 429 (rate limited) "
                f"for {self.refused_in_a_row} symbols in a row, so the fetch stopped; wait "
                "a few minutes and run again (the cache keeps what came), or use --prices DIR"
            )

    def run(self, got: dict[str, pd.DataFrame], errors: dict[str, EventStudyError]) -> None:
        # warnings raised on worker threads go through the process's warning filters
        # (the CLI's and pytest's catch_warnings are process-wide), as on this thread
        if self.workers <= 1:
            self._sequential(got, errors)
        else:
            self._pool(got, errors)

    def _sequential(self, got: dict[str, pd.DataFrame], errors: dict[str, EventStudyError]) -> None:
        for sym in self.symbols:
            if self.stopped is not None:
                self._not_asked(sym, errors)
                continue
            try:
                df = self.one(sym)
            except EventStudyError as err:
                self._record(sym, None, err, got, errors)
            else:
                self._record(sym, df, None, got, errors)

    def _pool(self, got: dict[str, pd.DataFrame], errors: dict[str, EventStudyError]) -> None:
        queue = iter(self.symbols)
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="eventstudy-fetch")
        running: dict[Future[pd.DataFrame], str] = {}
        try:
            # never more symbols in flight than threads: a stop (the first failure, a
            # source that keeps refusing, Ctrl-C) leaves nothing queued behind it
            for sym in queue:
                running[pool.submit(self.one, sym)] = sym
                if len(running) >= self.workers:
                    break
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    sym = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        self._record(sym, fut.result(), None, got, errors)
                    elif isinstance(exc, EventStudyError):
                        self._record(sym, None, exc, got, errors)
                    else:
                        raise exc
                while self.stopped is None and len(running) < self.workers:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    running[pool.submit(self.one, nxt)] = nxt
            if self.stopped is not None:
                for sym in queue:
                    self._not_asked(sym, errors)
        finally:
            # on an exception (Ctrl-C, a bug) the threads finish their one symbol each
            pool.shutdown(wait=True, cancel_futures=True)


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
    workers: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Prices of every symbol, keyed by the study's symbol; the first failure is raised.

    The parameters are those of :func:`fetch_prices`. No symbol is asked for after the
    first failure (the ones in flight finish and are cached).

    Returns
    -------
    dict of str to DataFrame
        Prices frames; ``attrs["provenance"]`` records ``requested_symbol`` (the
        study's) and ``symbol`` (the one fetched).

    Raises
    ------
    DataError, UnknownSymbol, NetworkError, RateLimited, CacheError
        From the source or the cache, for the first symbol (in the order given) that
        failed.
    """
    wanted, _, got, errors = _run(
        symbols, source, start, end, cache, refresh, offline, progress, aliases, workers, True
    )
    if errors:
        raise errors[next(s for s in wanted if s in errors)]
    return {s: got[s] for s in wanted}
