"""Where the engine's chunks run: here, in a pool of processes, or on a Dask cluster.

A universe-scale study (thousands of securities around tens of events) is split into
**chunks of whole events**: every firm-event of an event (a cluster, the securities sharing
an ``event_id``) lands in the same chunk, because every dependence correction of the tests
lives inside a cluster (the portfolio, SUR, the mean residual correlation ``rbar``). Each
chunk runs the same engine code on its events; the caller combines the chunks' outputs in
chunk order, so the answer never depends on which worker ran what, nor on their number:

- ``event_study(..., backend=...)`` (``collect="arrays"``): each chunk returns its rows of
  the engine arrays, the client concatenates them into one ``EngineData`` and every table
  is computed from it as in one process: results identical to ``backend=None``
  (:meth:`eventstudy.study.EventStudy.fit`).
- ``event_study(..., collect="summary")``: each chunk returns its per-firm and per-event
  tables and the per-block sufficient statistics of the pooled tests; memory per worker is
  bounded by the chunk size (:mod:`eventstudy.summary`).
- ``simulate(..., backend=...)``: chunks of placebo draws (:mod:`eventstudy.simulate`).

Backends (``backend=``):

``None``
    Chunks run one after the other in this process (no chunking at all for the default
    ``collect="arrays"``). Nothing from ``concurrent.futures``, ``multiprocessing`` or Dask
    is imported.
``"processes"``
    A ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes (default: the
    machine's cores) started with ``forkserver`` (``spawn`` where there is none): a fresh
    interpreter, safe with threads in the parent.
``"dask"``
    A ``distributed.Client``: ``scheduler="tcp://host:8786"`` connects to a running
    cluster, a ``Client`` is used as given (and left open), ``None`` starts a
    ``LocalCluster`` of ``workers`` single-threaded worker processes for the call and
    closes it afterwards. Needs the optional extra: ``pip install "oem-eventstudy[dask]"``.

How the returns panel travels
-----------------------------
The shared part of the work (the study's specification with its returns panel, market and
factor columns; the placebo lab's panel) travels **once per worker**, never once per chunk;
each task carries only its chunk (a few thousand rows of events):

- processes: the specification is pickled once in the parent and handed to every worker as
  the pool's ``initializer`` argument; the worker unpickles it once into a module global
  that every task of that pool reads;
- Dask: ``client.scatter(spec, broadcast=True)`` copies it to every worker once and returns
  a future; every task receives that future (Dask passes the worker's local copy), and the
  future is released when the call ends.

Only the columns the events use travel (``EventStudy._for_workers``). At most two tasks per
worker are in flight, so neither the workers nor the client pile up pending results, and the
results are consumed in chunk order.

Pointing a study at an existing cluster
---------------------------------------
Start a scheduler and workers where the data can be reached (the workers need this package
installed, the same version as the client)::

    $ dask scheduler                               # on host A: tcp://10.0.0.5:8786
    $ dask worker tcp://10.0.0.5:8786 --nthreads 1 --memory-limit 2GB   # on each host

then, from a notebook or script::

    import eventstudy as es

    res = es.event_study(
        returns, events, market="SPY", window=(-5, 5),
        backend="dask", scheduler="tcp://10.0.0.5:8786",
    )                                   # the same EventStudyResults as backend=None
    big = es.event_study(
        returns, events, market="SPY", window=(-5, 5),
        backend="dask", scheduler="tcp://10.0.0.5:8786",
        collect="summary", car_windows=[(0, 1), (-1, 1)], chunk_events=20,
    )                                   # bounded memory per worker: SummaryResults
    big.caar_tests((0, 1))              # pooled tests from the sufficient statistics

A ``distributed.Client`` already connected (``Client("tcp://10.0.0.5:8786")``) can be passed
as ``scheduler=client`` to reuse it across studies. One thread per worker suits the engine:
its linear algebra is many small products (set ``OPENBLAS_NUM_THREADS=1`` for the workers;
Dask's nanny does so by default, and this module does it for its own processes when the
variable is unset).
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

from eventstudy.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd
    from distributed import Client

__all__ = [
    "BACKENDS",
    "CHUNK_FIRM_EVENTS",
    "Backend",
    "Executor",
    "Scheduler",
    "check_available",
    "check_compute",
    "executor",
    "split_clusters",
]

Backend = Literal["processes", "dask"]
#: The backends :func:`executor` knows (``None`` is the in-process path).
BACKENDS: tuple[str, ...] = ("processes", "dask")
#: A Dask scheduler address (``"tcp://host:8786"``) or a connected ``distributed.Client``.
Scheduler: TypeAlias = "str | Client"

#: Firm-events per chunk when ``chunk_events`` is not given: the engine needs about 25 KB
#: per firm-event at its peak (``benchmarks/bench_engine.py``), so a chunk stays near 0.5 GB.
CHUNK_FIRM_EVENTS = 20_000

C = TypeVar("C")
R = TypeVar("R")

_DASK_EXTRA = 'the optional extra: pip install "oem-eventstudy[dask]"'


def split_clusters(
    events: pd.DataFrame,
    chunk_events: int | None = None,
    *,
    key: str = "event_id",
    target_rows: int = CHUNK_FIRM_EVENTS,
) -> list[pd.DataFrame]:
    """Consecutive chunks of whole clusters of ``events`` (rows sorted by ``key``).

    Parameters
    ----------
    events : DataFrame
        Rows sorted so that each cluster (equal ``key``) is contiguous.
    chunk_events : int, optional
        Clusters per chunk. Default: clusters are added to a chunk until it holds at least
        ``target_rows`` rows (a cluster larger than that is a chunk of its own).
    key : str
        The cluster column.
    target_rows : int
        Rows per chunk when ``chunk_events`` is not given.

    Returns
    -------
    list of DataFrame
        The chunks, in order; concatenated they are ``events``.
    """
    if chunk_events is not None and (
        isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1
    ):
        raise ConfigError(
            field="chunk_events", value=chunk_events, expected="a number of events >= 1, or None"
        )
    import numpy as np

    codes = events[key].to_numpy()
    n = len(codes)
    if n == 0:
        return []
    change = [0, *(np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist(), n]
    starts, ends = change[:-1], change[1:]
    bounds: list[tuple[int, int]] = []
    if chunk_events is not None:
        for i in range(0, len(starts), chunk_events):
            bounds.append((starts[i], ends[min(i + chunk_events, len(starts)) - 1]))
    else:
        lo = 0
        for end in ends:
            if end - lo >= target_rows:
                bounds.append((lo, end))
                lo = end
        if lo < n:
            bounds.append((lo, n))
    return [events.iloc[a:b] for a, b in bounds]


class Executor:
    """Runs ``fn(shared, chunk)`` for every chunk; ``shared`` was sent once to every worker
    when the executor started (:func:`executor`). :meth:`map` yields the results in chunk
    order and can be called several times (the passes of a summary run)."""

    #: Workers running tasks at once (1 in process).
    workers: int = 1

    def __init__(self, shared: Any = None) -> None:
        self.shared = shared

    def map(self, fn: Callable[[Any, C], R], chunks: Sequence[C]) -> Iterator[R]:
        """``fn(shared, chunk)`` for each chunk, in order."""
        for chunk in chunks:
            yield fn(self.shared, chunk)


def _ordered(
    submit: Callable[[C], Any],
    chunks: Iterable[C],
    window: int,
    cancel: Callable[[list[Any]], None],
) -> Iterator[Any]:
    """Results of ``submit(chunk).result()`` in chunk order, at most ``window`` in flight."""
    it = iter(chunks)
    pending: deque[Any] = deque(submit(c) for c in islice(it, window))
    try:
        while pending:
            result = pending.popleft().result()
            for c in islice(it, 1):
                pending.append(submit(c))
            yield result
    finally:
        if pending:
            cancel(list(pending))


# ----------------------------------------------------------------------------- processes

_SHARED: Any = None


def _install_shared(payload: bytes) -> None:
    """Pool initializer: the shared specification, unpickled once per worker process."""
    global _SHARED
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # before numpy loads, when it has not yet
    _SHARED = pickle.loads(payload)


def _call_shared(fn: Callable[[Any, C], R], chunk: C) -> R:
    return fn(_SHARED, chunk)


class _Processes(Executor):
    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self.pool = pool
        self.workers = workers

    def map(self, fn: Callable[[Any, C], R], chunks: Sequence[C]) -> Iterator[R]:
        def cancel(futures: list[Any]) -> None:
            for f in futures:
                f.cancel()

        pool = self.pool
        yield from _ordered(
            lambda c: pool.submit(_call_shared, fn, c), chunks, 2 * self.workers, cancel
        )


@contextmanager
def _process_pool(shared: Any, workers: int) -> Iterator[_Processes]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)  # pickled once
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_install_shared, initargs=(payload,)
    ) as pool:
        del payload
        yield _Processes(pool, workers)


# ----------------------------------------------------------------------------- dask


class _Dask(Executor):
    def __init__(self, client: Client, shared: Any) -> None:
        self.client = client
        info = client.scheduler_info()["workers"]
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))
        # once per worker: every task gets this future, resolved to the worker's copy
        [self.shared] = client.scatter([shared], broadcast=True, hash=False)

    def map(self, fn: Callable[[Any, C], R], chunks: Sequence[C]) -> Iterator[R]:
        client = self.client
        yield from _ordered(
            lambda c: client.submit(fn, self.shared, c, pure=False),
            chunks,
            2 * self.workers,
            lambda futures: client.cancel(futures),
        )

    def release(self) -> None:
        self.shared.release()


def _dask_client(scheduler: Scheduler | None, workers: int | None) -> tuple[Client, Any]:
    """The client for ``scheduler`` and what to close afterwards (a local cluster)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(field="backend", value="dask", expected=_DASK_EXTRA) from None
    if isinstance(scheduler, Client):
        if workers is not None:
            raise ConfigError(
                field="workers", value=workers, expected="None with a running Dask cluster"
            )
        return scheduler, None
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise ConfigError(
                field="scheduler",
                value=type(scheduler).__name__,
                expected="an address such as tcp://10.0.0.5:8786, or a distributed.Client",
            )
        if workers is not None:
            raise ConfigError(
                field="workers", value=workers, expected="None with a scheduler address"
            )
        try:
            client = Client(scheduler, set_as_default=False)
        except OSError as err:
            raise ConfigError(
                field="scheduler",
                value=scheduler,
                expected=f"the address of a running Dask scheduler ({err})",
            ) from None
        return client, client
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        dashboard_address=":0",  # any free port (None still binds 8787: a warning if taken)
    )
    client = Client(cluster, set_as_default=False)
    return client, _Closing(client, cluster)


class _Closing:
    def __init__(self, *objs: Any) -> None:
        self.objs = objs

    def close(self) -> None:
        for o in self.objs:
            o.close()


def check_compute(
    backend: Backend | None, scheduler: Scheduler | None, workers: int | None
) -> None:
    """Raise a one-line :class:`ConfigError` for compute options that do not go together."""
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(field="backend", value=backend, expected="None, 'processes' or 'dask'")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ConfigError(field="workers", value=workers, expected="a number of workers >= 1")
    if scheduler is not None and backend != "dask":
        raise ConfigError(field="scheduler", value=str(scheduler), expected="backend='dask'")
    if backend is None and workers is not None:
        raise ConfigError(field="workers", value=workers, expected="None unless backend is set")


def check_available(backend: Backend | None) -> None:
    """Raise a one-line :class:`ConfigError` when ``backend`` cannot run in this
    environment (``"dask"`` without the optional extra), without importing it."""
    import importlib.util

    if backend == "dask" and importlib.util.find_spec("distributed") is None:
        raise ConfigError(field="backend", value="dask", expected=_DASK_EXTRA)


@contextmanager
def executor(
    backend: Backend | None,
    shared: Any,
    *,
    scheduler: Scheduler | None = None,
    workers: int | None = None,
) -> Iterator[Executor]:
    """An :class:`Executor` for ``backend`` holding ``shared``, released when the ``with``
    block ends.

    Parameters
    ----------
    backend : {None, "processes", "dask"}
        See the module notes.
    shared : object
        What every task receives as its first argument: pickled once and installed in
        every worker process (``"processes"``), or scattered to every Dask worker once.
    scheduler : str or distributed.Client, optional
        Dask only: a scheduler address or a connected client (default: a local cluster).
    workers : int, optional
        Processes of the pool, or workers of the local Dask cluster (default: the cores).

    Raises
    ------
    ConfigError
        An unknown backend, options that do not apply to it, Dask not installed, or a
        scheduler that cannot be reached.
    """
    check_compute(backend, scheduler, workers)
    if backend is None:
        yield Executor(shared)
        return
    if backend == "processes":
        with _process_pool(shared, workers or os.cpu_count() or 1) as ex:
            yield ex
        return
    client, owned = _dask_client(scheduler, workers)
    try:
        dask_ex = _Dask(client, shared)
        try:
            yield dask_ex
        finally:
            dask_ex.release()
    finally:
        if owned is not None:
            owned.close()
