"""The report folder is replaced whole: filled beside the old one, then renamed into place.

A failed run leaves the previous report intact; a killed run is recovered by the next one
(under an ``flock`` on the parent folder, so concurrent writers of one report serialise).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from eventstudy.exceptions import ReportError

__all__ = ["atomic_dir"]


def atomic_dir(out: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh temp folder beside ``out`` and rename it into place."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = _lock_folder(parent)
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
        if lock is not None:
            os.close(lock)  # releases the flock


def _lock_folder(parent: Path) -> int | None:
    """Exclusive flock on the report's parent folder (no lock file); None off POSIX."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: recovery still runs, unlocked
        return None
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        raise
    return fd


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
