"""``PriceCache``: one parquet file per (source, symbol), atomic, locked, incremental.

Layout under the cache root (``EVENTSTUDY_CACHE`` or ``platformdirs.user_cache_dir(
"eventstudy")``)::

    <root>/.eventstudy-cache                marker: this folder is an eventstudy cache
    <root>/<source>/<symbol>.parquet        prices + metadata (coverage, checksum, provenance)
    <root>/<source>/<symbol>.parquet.lock   per-symbol lock (filelock)
    <root>/yfinance/                        yfinance's own time-zone and cookie caches

Guarantees
----------
* **Atomic**: a file is written to a temporary name in the same folder, flushed to disk
  and renamed over the old one (``os.replace``); a crash leaves the old file or the new
  one, never half of one. Orphaned temporary files are removed by the next writer.
* **Locked**: fetch-and-write of one symbol happens under its lock, so two processes
  fetching the same symbol at once fetch it once and both read the same file.
* **Verified**: each file carries its row count, date range and a SHA-256 of its
  values; a file that cannot be read or does not match is reported
  (:class:`~eventstudy.exceptions.CacheWarning`), deleted and refetched, never used.
* **Incremental**: the file records which date range it covers; only missing ranges
  are fetched and merged. Newer data is fetched with an overlap of a few sessions: if
  the source's adjusted closes changed on the overlap (a new dividend or split was
  applied backwards), the whole range is refetched so the series stays consistent.
* **Clears only its own files**: the first write leaves the marker file
  ``.eventstudy-cache`` in the root. :meth:`PriceCache.clear` deletes a parquet file
  only when it is provably the cache's: its footer carries the ``eventstudy`` metadata,
  or (a corrupt file) it sits in a marked cache beside the lock the cache took to
  write it. Anything else is kept (with a :class:`~eventstudy.exceptions.CacheKeptFilesWarning`),
  and a folder without the marker that holds parquet files the cache did not write
  (``EVENTSTUDY_CACHE`` pointed at a folder of one's own data) is refused: nothing is
  deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from eventstudy.data.sources import to_timestamp
from eventstudy.exceptions import (
    CacheError,
    CacheKeptFilesWarning,
    CacheWarning,
    DataError,
    DataWarning,
    NotCached,
    PartialHistoryWarning,
    UnknownSymbol,
    format_warning,
)

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.data.sources import PriceSource

__all__ = ["FORMAT_VERSION", "MARKER", "PriceCache", "default_cache_dir", "write_atomic"]

FORMAT_VERSION = 1
_META_KEY = b"eventstudy"
#: File in the cache root that marks the folder as an eventstudy cache.
MARKER = ".eventstudy-cache"
_MARKER_TEXT = (
    "This folder is an eventstudy price cache. 'eventstudy cache clear' deletes only the\n"
    "parquet files eventstudy wrote here (they carry eventstudy metadata).\n"
)
#: A history that starts/ends within this many calendar days of the requested bounds is
#: complete (holidays such as Golden Week or New Year can close an exchange ~10 days).
TOLERANCE_DAYS = 10
#: At the end, only a long weekend is forgiven: a history ending earlier is cached but
#: not marked complete, so the next run asks for the rest again (one cheap request).
END_TOLERANCE_DAYS = 4
#: Newer data is fetched starting this many calendar days before the covered end.
OVERLAP_DAYS = 10
#: Relative difference of adjusted closes on the overlap that triggers a full refetch.
ADJUSTMENT_RTOL = 1e-6


class _Corrupt(Exception):
    """A cache file that must not be used."""


def default_cache_dir() -> Path:
    """``$EVENTSTUDY_CACHE`` if set, else ``platformdirs.user_cache_dir("eventstudy")``."""
    env = os.environ.get("EVENTSTUDY_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("eventstudy"))


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file whole or not at all.

    ``write(fh)`` fills a temporary file beside ``path`` (``.<name>.<random>.tmp``), which
    is flushed to disk and renamed over ``path``; the rename is then made durable. A reader
    sees the old file or the new one, never a part; a crash leaves at most the temporary
    file, which is removed whenever Python can.

    Raises
    ------
    CacheError
        Naming ``path``: the folder or the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CacheError(path=str(path), detail=f"cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CacheError(
                path=str(path), detail=f"cannot write ({exc.strerror or exc})"
            ) from None
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _checksum(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(pd.DatetimeIndex(df.index).as_unit("ns").asi8).tobytes())
    for col in df.columns:
        h.update(str(col).encode())
        h.update(np.ascontiguousarray(df[col].to_numpy(dtype="float64")).tobytes())
    return h.hexdigest()


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else f"{ts.date()}"


def _today() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC).date())


class PriceCache:
    """Local parquet cache of Prices frames.

    Parameters
    ----------
    root : str or Path, optional
        Cache folder; default :func:`default_cache_dir`.
    lock_timeout : float, default 600
        Seconds to wait for another process holding a symbol's lock.

    Examples
    --------
    >>> cache = PriceCache("/tmp/es-cache")  # doctest: +SKIP
    >>> df = cache.get(YahooSource(), "7203.T", "2024-01-01", "2025-12-31")  # doctest: +SKIP
    >>> cache.list()  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | None = None, *, lock_timeout: float = 600.0):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.lock_timeout = float(lock_timeout)

    def __repr__(self) -> str:
        return f"PriceCache({str(self.root)!r})"

    # ------------------------------------------------------------------ paths
    @staticmethod
    def _source_key(source: PriceSource | str) -> str:
        if isinstance(source, str):
            return source
        return str(getattr(source, "cache_key", None) or source.name)

    def path(self, symbol: str, source: PriceSource | str) -> Path:
        """File holding ``symbol`` from ``source``."""
        key = quote(self._source_key(source), safe="._-")
        return self.root / key / f"{quote(symbol, safe='._-')}.parquet"

    @contextlib.contextmanager
    def lock(self, path: Path) -> Iterator[None]:
        """Hold the per-file lock of ``path`` (raises ``CacheError`` on timeout)."""
        import filelock

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                path=str(path.parent), detail=f"cannot create the folder ({exc.strerror or exc})"
            ) from None
        lk = filelock.FileLock(str(path) + ".lock", timeout=self.lock_timeout)
        try:
            lk.acquire()
        except filelock.Timeout:
            raise CacheError(
                path=str(path),
                detail=f"locked by another process for more than {self.lock_timeout:.0f} s",
                fix="wait for the other eventstudy process to finish, or remove the .lock file",
            ) from None
        except OSError as exc:
            raise CacheError(
                path=str(path), detail=f"cannot lock ({exc.strerror or exc})"
            ) from None
        try:
            yield
        finally:
            lk.release()

    # ------------------------------------------------------------------ read / write
    def read(self, path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Read and verify one cache file; raises ``_Corrupt`` when it must not be used."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except PermissionError as exc:
            raise CacheError(
                path=str(path), detail=f"cannot read ({exc.strerror or exc})"
            ) from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _Corrupt(f"{type(exc).__name__}: {str(exc)[:120]}") from None
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise _Corrupt("no eventstudy metadata")
        try:
            meta = json.loads(raw)
        except ValueError:
            raise _Corrupt("unreadable metadata") from None
        if meta.get("format") != FORMAT_VERSION:
            raise _Corrupt(f"format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        try:
            df = table.to_pandas()
        except (pa.ArrowException, ValueError, TypeError) as exc:  # pragma: no cover
            raise _Corrupt(f"{type(exc).__name__}: {str(exc)[:120]}") from None
        if not isinstance(df.index, pd.DatetimeIndex) or not {"close", "adj_close"} <= set(
            df.columns
        ):
            raise _Corrupt("unexpected columns or index")
        df.index = pd.DatetimeIndex(df.index, name="date")
        if len(df) != meta.get("rows"):
            raise _Corrupt(f"{len(df)} rows, metadata says {meta.get('rows')}")
        if not (df.index.is_monotonic_increasing and df.index.is_unique):
            raise _Corrupt("dates not sorted and unique")
        if _checksum(df) != meta.get("checksum"):
            raise _Corrupt("checksum mismatch")
        df.attrs = {"provenance": meta.get("provenance", {})}
        return df, meta

    def write(self, path: Path, df: pd.DataFrame, meta: dict[str, Any]) -> None:
        """Write ``df`` with ``meta`` atomically (temp file in the same folder + rename)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        df = df.copy()
        df.attrs = {}
        df.index = pd.DatetimeIndex(df.index, name="date")
        for col in df.columns:
            df[col] = df[col].astype("float64")
        meta = dict(meta)
        meta.update(
            format=FORMAT_VERSION,
            rows=len(df),
            first=_iso(df.index[0]) if len(df) else None,
            last=_iso(df.index[-1]) if len(df) else None,
            checksum=_checksum(df),
            written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        table = pa.Table.from_pandas(df, preserve_index=True)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(meta, default=str).encode()
        table = table.replace_schema_metadata(schema_meta)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._mark()
        except OSError as exc:
            raise CacheError(
                path=str(path), detail=f"cannot write ({exc.strerror or exc})"
            ) from None
        write_atomic(path, lambda fh: pq.write_table(table, fh))

    def _mark(self) -> None:
        """Leave the marker file in the root (once; concurrent writers are fine)."""
        marker = self.root / MARKER
        if marker.exists():
            return
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_MARKER_TEXT)

    @property
    def marked(self) -> bool:
        """True when the root carries the marker of an eventstudy cache."""
        return (self.root / MARKER).is_file()

    def written_by_cache(self, file: Path) -> bool:
        """True when ``file`` is provably one the cache wrote (see the module notes)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.read_schema(file).metadata or {}
        except (pa.ArrowException, OSError, ValueError):
            meta = {}
        if _META_KEY in meta:
            return True
        # a corrupt or truncated file: the cache's own when it wrote it under its lock
        return self.marked and Path(f"{file}.lock").exists()

    @staticmethod
    def _remove_orphans(path: Path) -> None:
        """Delete temporary files a crashed writer of ``path`` left behind (call under lock)."""
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _load_verified(self, path: Path, symbol: str, offline: bool) -> tuple[Any, Any]:
        if not path.exists():
            return None, None
        try:
            return self.read(path)
        except _Corrupt as exc:
            warnings.warn(
                format_warning(CacheWarning, path=str(path), detail=str(exc)), stacklevel=4
            )
            with contextlib.suppress(OSError):
                path.unlink()
            if offline:
                raise CacheError(
                    path=str(path),
                    detail=f"the cached prices of {symbol} were corrupt ({exc}) and were deleted",
                    fix="run again without --offline to refetch them, or use --prices DIR",
                ) from None
            return None, None

    # ------------------------------------------------------------------ main entry
    def get(
        self,
        source: PriceSource,
        symbol: str,
        start: Any = None,
        end: Any = None,
        *,
        refresh: bool = False,
        offline: bool = False,
    ) -> pd.DataFrame:
        """Prices of ``symbol`` from ``source`` through the cache.

        Parameters
        ----------
        source : PriceSource
            Where missing data comes from.
        symbol : str
            Symbol to fetch (already resolved for this source).
        start, end : date-like, optional
            Inclusive bounds; ``None`` means from the first available date / up to today.
        refresh : bool, default False
            Ignore the cached file and refetch the whole range.
        offline : bool, default False
            Never call ``source.get``; serve what the cache holds.

        Returns
        -------
        DataFrame
            The Prices frame restricted to ``[start, end]``; ``attrs["provenance"]`` is
            the source's, plus ``cache`` (path, hit, fetched ranges).

        Raises
        ------
        DataError
            Offline and nothing cached for the range.
        CacheError
            Offline and the cached file was corrupt; or the cache cannot be written.
        """
        s, e = to_timestamp(start, "start"), to_timestamp(end, "end")
        path = self.path(symbol, source)
        with self.lock(path):
            self._remove_orphans(path)
            cached, meta = self._load_verified(path, symbol, offline)
            if offline:
                return self._serve_offline(cached, meta, path, symbol, s, e)
            if refresh:
                cached, meta = None, None
            df, meta, fetched = self._update(source, symbol, s, e, cached, meta, path)
        out = df
        if s is not None:
            out = out[out.index >= s]
        if e is not None:
            out = out[out.index <= e]
        prov = dict(meta.get("provenance", {}))
        prov["cache"] = {"path": str(path), "hit": not fetched, "fetched": fetched}
        out = out.copy()
        out.index = pd.DatetimeIndex(out.index.to_numpy(), name="date")
        out.attrs = {"provenance": prov}
        return out

    def _serve_offline(
        self,
        cached: pd.DataFrame | None,
        meta: dict[str, Any] | None,
        path: Path,
        symbol: str,
        s: pd.Timestamp | None,
        e: pd.Timestamp | None,
    ) -> pd.DataFrame:
        fix = "run 'eventstudy fetch CONFIG' once without --offline, or use --prices DIR"
        if cached is None or meta is None:
            raise NotCached(symbol=symbol, detail=f"no cached prices (offline) in {path}", fix=fix)
        out = cached
        if s is not None:
            out = out[out.index >= s]
        if e is not None:
            out = out[out.index <= e]
        rng = f"{_iso(s) or 'start'} .. {_iso(e) or 'today'}"
        if len(out) == 0:
            raise NotCached(
                symbol=symbol,
                detail=f"the cache holds {meta.get('first')} .. {meta.get('last')}, nothing in {rng}",
                fix=fix,
            )
        if self._missing_ranges(s, e, meta, settled_only=True):
            warnings.warn(
                DataWarning(
                    f"{symbol}: offline, the cache covers only {meta.get('covered_start') or 'start'}"
                    f" .. {meta.get('covered_end')} of {rng}"
                ),
                stacklevel=4,
            )
        prov = dict(meta.get("provenance", {}))
        prov["cache"] = {"path": str(path), "hit": True, "fetched": [], "offline": True}
        out = out.copy()
        out.attrs = {"provenance": prov}
        return out

    @staticmethod
    def _missing_ranges(
        s: pd.Timestamp | None,
        e: pd.Timestamp | None,
        meta: dict[str, Any] | None,
        *,
        settled_only: bool = False,
    ) -> list[tuple[pd.Timestamp | None, pd.Timestamp | None]]:
        """Date ranges of ``[s, e]`` the cached file does not cover.

        Today is never covered (its bar may still change), so a request running to today
        (or open-ended) always has a newer gap. With ``settled_only`` (used offline, to
        decide whether to warn) only days up to yesterday count, and an open end none.
        """
        if meta is None:
            return [(s, e)]
        cs = to_timestamp(meta.get("covered_start"))
        ce = to_timestamp(meta.get("covered_end"))
        if settled_only:
            e_eff = None if e is None else min(e, _today() - pd.Timedelta(days=1))
        else:
            e_eff = min(e, _today()) if e is not None else _today()
        out: list[tuple[pd.Timestamp | None, pd.Timestamp | None]] = []
        if meta.get("covered_start") is not None and (s is None or (cs is not None and s < cs)):
            assert cs is not None
            out.append((s, cs - pd.Timedelta(days=1)))
        if e_eff is not None and (ce is None or e_eff > ce):
            lo = None if ce is None else ce + pd.Timedelta(days=1)
            if lo is None or e is None or lo <= e:
                out.append((lo, e))
        return out

    def _update(
        self,
        source: PriceSource,
        symbol: str,
        s: pd.Timestamp | None,
        e: pd.Timestamp | None,
        cached: pd.DataFrame | None,
        meta: dict[str, Any] | None,
        path: Path,
    ) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
        gaps = self._missing_ranges(s, e, meta)
        if not gaps:
            assert cached is not None and meta is not None
            return cached, meta, []
        if cached is None or meta is None:
            df = source.get(symbol, s, e)
            cov = _coverage(df, s, e)
            meta = {"symbol": symbol, "source": self._source_key(source), **cov}
            meta["provenance"] = dict(df.attrs.get("provenance", {}))
            self.write(path, df, meta)
            return df, meta, [f"{_iso(s) or 'start'}..{_iso(e) or 'today'}"]
        merged = cached
        cs, ce = meta.get("covered_start"), meta.get("covered_end")
        fetched: list[str] = []
        prov = dict(meta.get("provenance", {}))
        for lo, hi in gaps:
            newer = lo is not None and ce is not None and lo > to_timestamp(ce)
            ask_lo = lo - pd.Timedelta(days=OVERLAP_DAYS) if newer and lo is not None else lo
            try:
                new = source.get(symbol, ask_lo, hi)
            except UnknownSymbol:
                # nothing in this range although the source knows the symbol
                new = cached.iloc[:0]
                if newer:
                    # the overlap alone should have returned rows: do not trust the
                    # silence, keep the coverage as it was (the next run asks again)
                    fetched.append(f"{_iso(ask_lo)}..{_iso(hi) or 'today'} (no answer)")
                    warnings.warn(
                        format_warning(
                            PartialHistoryWarning,
                            symbol=symbol,
                            source=getattr(source, "name", "the source"),
                            first=meta.get("first"),
                            last=meta.get("last"),
                            start=_iso(s) or "start",
                            end=_iso(e) or "today",
                        ),
                        stacklevel=4,
                    )
                    continue
            fetched.append(f"{_iso(ask_lo) or 'start'}..{_iso(hi) or 'today'}")
            settled = merged if ce is None else merged[merged.index <= to_timestamp(ce)]
            if len(new) and _adjustment_changed(settled, new):
                # the source re-based its adjusted closes: refetch everything we need
                lo_all = None if (s is None or cs is None) else min(s, to_timestamp(cs))
                hi_all = None if e is None else max(e, to_timestamp(ce) or e)
                df = source.get(symbol, lo_all, hi_all)
                cov = _coverage(df, lo_all, hi_all)
                meta = {"symbol": symbol, "source": self._source_key(source), **cov}
                meta["provenance"] = dict(df.attrs.get("provenance", {}))
                self.write(path, df, meta)
                fetched.append(
                    f"{_iso(lo_all) or 'start'}..{_iso(hi_all) or 'today'} (re-adjusted)"
                )
                return df, meta, fetched
            if len(new):
                merged = pd.concat([merged[~merged.index.isin(new.index)], new]).sort_index()
                prov = dict(new.attrs.get("provenance", prov))
            cov = _coverage(new, ask_lo, hi, empty_ok=True)
            cs, ce = _merge_coverage(cs, ce, cov["covered_start"], cov["covered_end"])
        merged = merged[~merged.index.duplicated(keep="last")]
        meta = dict(meta, covered_start=cs, covered_end=ce, provenance=prov)
        self.write(path, merged, meta)
        return merged, meta, fetched

    # ------------------------------------------------------------------ inspection
    def list(self) -> pd.DataFrame:
        """One row per cached file: source, symbol, first, last, rows, covered range,
        fetched_at, size (bytes), status (``ok`` or why it is unusable)."""
        rows = []
        if self.root.is_dir():
            for file in sorted(self.root.glob("*/*.parquet")):
                row: dict[str, Any] = {
                    "source": unquote(file.parent.name),
                    "symbol": unquote(file.name.removesuffix(".parquet")),
                }
                try:
                    df, meta = self.read(file)
                    prov = meta.get("provenance", {})
                    row.update(
                        first=meta.get("first"),
                        last=meta.get("last"),
                        rows=len(df),
                        covered=f"{meta.get('covered_start') or 'start'}..{meta.get('covered_end')}",
                        fetched_at=prov.get("fetched_at"),
                        status="ok",
                    )
                except _Corrupt as exc:
                    row.update(status=f"corrupt ({exc})")
                row["size"] = file.stat().st_size
                rows.append(row)
        cols = [
            "source",
            "symbol",
            "first",
            "last",
            "rows",
            "covered",
            "fetched_at",
            "size",
            "status",
        ]
        return pd.DataFrame(rows, columns=cols)

    def clear(self, symbol: str | None = None, source: str | None = None) -> int:
        """Delete cached files (all, or one symbol, or one source); return how many.

        Only files the cache wrote are deleted (see the module notes); others are kept
        with a :class:`~eventstudy.exceptions.CacheKeptFilesWarning`.

        Raises
        ------
        CacheError
            The root has no cache marker and holds parquet files the cache did not
            write (nothing is deleted), or a file cannot be deleted.
        """
        if not self.root.is_dir():
            return 0
        removed = 0
        pattern = f"{quote(symbol, safe='._-')}.parquet" if symbol else "*.parquet"
        folder = quote(source, safe="._-") if source else "*"
        files = sorted(p for p in self.root.glob(f"{folder}/{pattern}") if p.is_file())
        mine = {f: self.written_by_cache(f) for f in files}
        ours = [f for f in files if mine[f]]
        foreign = [f for f in files if not mine[f]]
        if foreign:
            shown = ", ".join(str(f.relative_to(self.root)) for f in foreign[:3])
            more = f" (+{len(foreign) - 3} more)" if len(foreign) > 3 else ""
            if not self.marked:
                raise CacheError(
                    path=str(self.root),
                    detail=(
                        f"not an eventstudy cache (no {MARKER} marker) and it holds "
                        f"{len(foreign)} parquet file(s) eventstudy did not write: "
                        f"{shown}{more}; nothing was deleted"
                    ),
                    fix="point EVENTSTUDY_CACHE at the eventstudy cache folder",
                )
            warnings.warn(
                format_warning(
                    CacheKeptFilesWarning,
                    path=str(self.root),
                    count=len(foreign),
                    files=shown + more,
                ),
                stacklevel=2,
            )
        for file in ours:
            with self.lock(file):
                try:
                    file.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise CacheError(
                        path=str(file), detail=f"cannot delete ({exc.strerror or exc})"
                    ) from None
                self._remove_orphans(file)
            # lock files stay: deleting one another process is waiting on would let
            # two processes "hold" the same lock
        return removed


def _coverage(
    df: pd.DataFrame, s: pd.Timestamp | None, e: pd.Timestamp | None, *, empty_ok: bool = False
) -> dict[str, Any]:
    """The date range a fetch of ``[s, e]`` that returned ``df`` proves complete.

    The start counts as covered when the data begins within ``TOLERANCE_DAYS`` of it,
    the end when the data reaches within ``END_TOLERANCE_DAYS`` of it (an empty answer
    in a gap of a known symbol covers the whole gap). Today and later are never
    covered: today's bar may still change.
    """
    tol = pd.Timedelta(days=TOLERANCE_DAYS)
    yesterday = _today() - pd.Timedelta(days=1)
    e_eff = yesterday if e is None else min(e, yesterday)
    if len(df) == 0:
        if not empty_ok:  # pragma: no cover - sources raise on empty answers
            raise DataError(detail="empty answer")
        return {"covered_start": _iso(s), "covered_end": _iso(e_eff)}
    first, last = df.index[0], df.index[-1]
    if s is None:
        cs = None
    elif first <= s + tol:
        cs = _iso(s)
    else:
        cs = _iso(first)
    end_tol = pd.Timedelta(days=END_TOLERANCE_DAYS)
    ce = _iso(e_eff) if last >= e_eff - end_tol else _iso(min(last, e_eff))
    return {"covered_start": cs, "covered_end": ce}


def _merge_coverage(
    cs: str | None, ce: str | None, ns: str | None, ne: str | None
) -> tuple[str | None, str | None]:
    """Union of the covered interval ``[cs, ce]`` and a new one ``[ns, ne]``.

    ``None`` as a start means "since the first available date". Intervals that neither
    overlap nor touch are not merged (that would claim the hole between them is
    cached): the old interval is kept and the hole is fetched again next time.
    """
    lo_old = pd.Timestamp.min if cs is None else to_timestamp(cs)
    lo_new = pd.Timestamp.min if ns is None else to_timestamp(ns)
    hi_old, hi_new = to_timestamp(ce), to_timestamp(ne)
    if hi_old is None or hi_new is None or lo_old is None or lo_new is None:
        return cs, ce
    one = pd.Timedelta(days=1)
    if lo_new > hi_old + one or hi_new < lo_old - one:
        return cs, ce
    start = None if (cs is None or ns is None) else min(cs, ns)
    return start, max(ce, ne) if ce and ne else ce


def _adjustment_changed(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    common = old.index.intersection(new.index)
    if len(common) == 0:
        return False
    a = old.loc[common, "adj_close"].to_numpy(dtype="float64")
    b = new.loc[common, "adj_close"].to_numpy(dtype="float64")
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return False
    return bool(np.any(np.abs(a[ok] - b[ok]) > ADJUSTMENT_RTOL * np.abs(a[ok])))
