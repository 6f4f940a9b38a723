"""Packaging: one version source, the licence, and dependency bounds that CI tests.

``pyproject.toml`` is read with ``tomllib`` and the installed metadata with
``importlib.metadata``: the values come from the files, not from the package's code.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import metadata, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import eventstudy as es

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
DIST = PROJECT["name"]
LOWEST = ROOT / ".ci" / "lowest-constraints.txt"


def lower_bound(req: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in req.specifier if s.operator == ">="]
    return max(bounds) if bounds else None


def lowest_run_requirements() -> list[Requirement]:
    """The requirements the lowest-versions CI run installs: core, test and image."""
    extras = PROJECT["optional-dependencies"]
    return [Requirement(r) for r in [*PROJECT["dependencies"], *extras["test"], *extras["image"]]]


def pins() -> dict[str, Version]:
    out = {}
    for line in LOWEST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, pin = line.split("==")
            out[canonical(name)] = Version(pin)
    return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_version_is_read_from_the_installed_metadata(monkeypatch):
    assert es.__version__ == version(DIST) == PROJECT["version"]
    assert "__version__" in dir(es)
    # nothing hard-coded: the attribute is whatever the metadata says
    import importlib.metadata

    monkeypatch.delitem(vars(es), "__version__")
    monkeypatch.setattr(importlib.metadata, "version", lambda name: f"{name} 9.9.9")
    assert es.__version__ == f"{DIST} 9.9.9"


def test_the_changelog_opens_with_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## \[(?P<v>[^\]]+)\]", text, re.MULTILINE)
    assert first is not None, "CHANGELOG.md has no release section"
    assert Version(first["v"]) == Version(Version(PROJECT["version"]).base_version)


def test_the_mit_licence_ships_with_the_distribution():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    meta = metadata(DIST)
    assert meta["License-Expression"] == PROJECT["license"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_every_dependency_has_a_lower_bound_and_the_lowest_run_pins_it():
    pinned = pins()
    reqs = lowest_run_requirements()
    for req in reqs:
        bound = lower_bound(req)
        assert bound is not None, f"{req} has no lower bound"
        assert pinned.get(canonical(req.name)) == bound, (
            f"{req}: .ci/lowest-constraints.txt pins {pinned.get(canonical(req.name))}"
        )
    assert set(pinned) == {canonical(r.name) for r in reqs}, "a pin without a requirement"


@pytest.mark.parametrize("extra", ["docs"])
def test_other_extras_have_lower_bounds(extra):
    for req in map(Requirement, PROJECT["optional-dependencies"][extra]):
        assert lower_bound(req) is not None, f"{req} has no lower bound"
