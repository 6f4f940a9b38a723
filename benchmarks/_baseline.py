"""What the benchmarks with ``--baseline COMMIT`` share: the package as of another commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Child code (after ``import gc, time``) that counts the CPU seconds spent in garbage
#: collections: ``collecting[1]`` so far (a ``gc.callbacks`` hook).
GC_CLOCK = """collecting = [0.0, 0.0]  # start of the running collection, CPU in collections so far

def on_gc(phase, info):
    now = time.process_time()
    if phase == "start":
        collecting[0] = now
    else:
        collecting[1] += now - collecting[0]

gc.callbacks.append(on_gc)
"""


def extract(commit: str, folder: Path, paths: tuple[str, ...] = ("eventstudy",)) -> Path:
    """The ``eventstudy`` package (and any other top-level ``paths``, such as ``configs``
    and ``seeds``) as of ``commit`` (``git archive``) in ``folder``."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, *paths], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def import_from(src: str) -> str:
    """The first line of a child's code: ``import eventstudy`` loads the package in
    ``src`` (a folder from :func:`extract`; ``""``: this checkout's install, nothing to do).

    The folder goes first on ``sys.path`` and the editable install's finder is dropped
    (it would answer first); the child checks where the package came from.
    """
    if not src:
        return ""
    return (
        f"import sys; sys.path.insert(0, {src!r}); sys.meta_path[:] = [f for f in "
        "sys.meta_path if 'editable' not in str(getattr(f, '__module__', ''))]; "
        f"import eventstudy; assert eventstudy.__file__.startswith({src!r})\n"
    )
