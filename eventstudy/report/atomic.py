"""The report folder is replaced whole: filled beside the old one, then renamed into place.

A failed run leaves the previous report intact; a killed run is recovered by the next one.
Concurrent writers of one report serialise on a :mod:`filelock` lock (POSIX and Windows
alike), whose file lives in the temporary folder (named by a hash of the report's path), so
nothing but the report is ever left beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import filelock

from eventstudy.exceptions import ReportError

__all__ = ["atomic_dir"]


def atomic_dir(out: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh temp folder beside ``out`` and rename it into place."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_symlink():  # the swap would leave the link's target, and the link aside
        raise ReportError(
            detail=f"the report folder {out} is a symlink (to {out.resolve()})",
            fix="remove the link, or write the report to another folder",
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = report_lock(out)
        lock.acquire(timeout=LOCK_TIMEOUT)
    except filelock.Timeout:
        raise ReportError(
            detail=f"another run has been writing {out} for {LOCK_TIMEOUT:.0f} s",
            fix="wait for it to finish, or choose another --out folder",
        ) from None
    except OSError as exc:
        raise ReportError(
            detail=f"cannot create the report folder beside {out} ({exc.strerror or exc})",
            fix="choose a writable --out folder",
        ) from exc
    try:
        _recover(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
        try:
            tmp.chmod(0o755)
            fill(tmp)
            _swap(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ReportError(
            detail=f"cannot write the report to {out} ({exc})",
            fix="check the folder is writable and has space; the previous report is unchanged",
        ) from exc
    finally:
        lock.release()


#: Seconds a writer waits for another writer of the same report folder.
LOCK_TIMEOUT = 600.0


def report_lock(out: Path) -> filelock.BaseFileLock:
    """The lock of report folder ``out``: one per resolved path, its file in the temporary
    folder (writable by every user, so two accounts writing one folder serialise too)."""
    key = hashlib.sha256(str(out.parent.resolve() / out.name).encode()).hexdigest()[:20]
    return filelock.FileLock(
        Path(tempfile.gettempdir()) / f"eventstudy-report-{key}.lock", mode=0o666
    )


def _recover(out: Path) -> None:
    """Undo what a killed run left beside ``out`` (called under the folder's lock).

    A kill between the two renames of :func:`_swap` leaves the previous report in
    ``.<name>.old-*`` and nothing at ``out``: put it back. Then remove stale temporary and
    old folders (no other writer owns them: we hold the lock).
    """
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not out.exists() and olds:
        os.replace(olds.pop(), out)
    for stale in [*olds, *out.parent.glob(f".{out.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _swap(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    if not out.is_dir():
        raise ReportError(
            detail=f"{out} exists and is not a folder", fix="choose another --out folder"
        )
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
