"""What the benchmarks with ``--baseline COMMIT`` share: the package as of another commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def extract(commit: str, folder: Path) -> Path:
    """The ``eventstudy`` package as of ``commit`` (``git archive``) in ``folder``."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, "eventstudy"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
