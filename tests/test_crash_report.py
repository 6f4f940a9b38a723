"""Crash safety of the report (issue 6): ``kill -9`` of ``eventstudy run`` while it writes.

A real ``eventstudy run configs/kei_cars.yaml`` runs in a subprocess through a small
wrapper that makes one step of ``eventstudy.report`` signal (a file appears) and sleep;
the test then sends SIGKILL. Two moments:

* while the new report is being filled in its temporary folder beside the old one;
* inside the swap, after the old report was renamed aside and before the new one moved in.

After each: the previous report must be intact (byte for byte), the next run must succeed,
and no temporary folder may be left beside the report.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "configs" / "kei_cars.yaml"

# Runs the CLI with one report step slowed down. argv: moment, ready-file, cli args...
WRAPPER = r"""
import os, sys, time, types
from eventstudy.report import atomic, tables

moment, ready = sys.argv[1], sys.argv[2]

def pause():
    open(ready, "w").close()
    time.sleep(120)

if moment == "fill":
    original = tables.write_json
    def slow(*args, **kwargs):
        pause()  # fragments and tables are on disk, the rest is not
        return original(*args, **kwargs)
    tables.write_json = slow
elif moment == "swap":
    real_os = atomic.os
    def replace(src, dst):
        real_os.replace(src, dst)
        if os.path.basename(str(dst)).startswith("." + os.path.basename(str(src)) + ".old-"):
            pause()  # the old report is aside, the new one not yet in place
    atomic.os = types.SimpleNamespace(
        **{k: getattr(real_os, k) for k in dir(real_os) if not k.startswith("__")}
    )
    atomic.os.replace = replace

from eventstudy.cli import main
sys.exit(main(sys.argv[3:]))
"""


def cli_args(prices: Path, out: Path) -> list[str]:
    return ["--quiet", "run", str(KEI), "--prices", str(prices), "--offline", "--out", str(out)]


def run_ok(prices: Path, out: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "eventstudy.cli", *cli_args(prices, out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr


def debris(out: Path) -> list[str]:
    """Temporary or set-aside report folders beside the report (a lock file is fine)."""
    return sorted(p.name for p in out.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def kill_during(moment: str, prices: Path, out: Path, tmp: Path) -> None:
    ready = tmp / f"ready-{moment}"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, moment, str(ready), *cli_args(prices, out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not ready.exists():
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"the run ended before the {moment} step: {err}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run never reached the {moment} step")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def first_report(tmp_path_factory, prices_dir: Path) -> Path:
    """One finished report (copied as 'the previous report' by each scenario)."""
    out = tmp_path_factory.mktemp("first") / "out"
    run_ok(prices_dir, out)
    return out / "kei_cars"


def previous(first_report: Path, out: Path) -> None:
    shutil.copytree(first_report, out / "kei_cars")


@pytest.fixture(scope="module")
def killed_mid_fill(tmp_path_factory, prices_dir: Path, first_report: Path):
    tmp = tmp_path_factory.mktemp("crash_fill")
    out = tmp / "out"
    previous(first_report, out)
    before = snapshot(out / "kei_cars")
    kill_during("fill", prices_dir, out, tmp)
    return out, before


def test_kill_9_while_filling_keeps_the_previous_report(killed_mid_fill):
    out, before = killed_mid_fill
    assert snapshot(out / "kei_cars") == before
    leftovers = debris(out)
    assert leftovers and all(n.startswith(".kei_cars.tmp-") for n in leftovers), leftovers


def test_kill_9_while_filling_then_the_next_run_succeeds(killed_mid_fill, prices_dir: Path):
    out, before = killed_mid_fill
    run_ok(prices_dir, out)
    after = snapshot(out / "kei_cars")
    assert set(after) == set(before) and "index.html" in after


def test_next_run_cleans_up_what_a_killed_run_left(killed_mid_fill, prices_dir: Path):
    out, _ = killed_mid_fill
    run_ok(prices_dir, out)
    assert debris(out) == [] and (out / "kei_cars" / "index.html").exists()


@pytest.fixture(scope="module")
def killed_mid_swap(tmp_path_factory, prices_dir: Path, first_report: Path):
    tmp = tmp_path_factory.mktemp("crash_swap")
    out = tmp / "out"
    previous(first_report, out)
    before = snapshot(out / "kei_cars")
    kill_during("swap", prices_dir, out, tmp)
    return out, before


def test_kill_9_mid_swap_loses_no_report(killed_mid_swap):
    """The old report survives somewhere (renamed aside): nothing is lost, only misplaced."""
    out, before = killed_mid_swap
    olds = [p for p in out.iterdir() if p.name.startswith(".kei_cars.old-")]
    assert len(olds) == 1 and snapshot(olds[0]) == before


def test_kill_9_mid_swap_then_next_run_restores_or_replaces_cleanly(
    killed_mid_swap, prices_dir: Path
):
    out, _ = killed_mid_swap
    run_ok(prices_dir, out)
    assert debris(out) == [] and (out / "kei_cars" / "index.html").exists()
