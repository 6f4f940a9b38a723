"""Shared fixtures. Reference data is read in place from ``../shared`` (never copied)."""

from __future__ import annotations

from pathlib import Path

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
