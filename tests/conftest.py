"""Shared fixtures. Reference data is read in place from ``../shared`` (never copied)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``../shared`` folder; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference data folder {SHARED} is absent (CI always has it)")
    return SHARED


@pytest.fixture(scope="session")
def prices_dir(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "prices"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own price cache folder, never the user's."""
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """One LocalCluster of 2 single-threaded worker processes for the whole run (CI has 2
    cores): started and closed once, not per module."""
    distributed = pytest.importorskip(
        "distributed", reason='Dask is an optional extra: pip install -e ".[dask]"'
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client
