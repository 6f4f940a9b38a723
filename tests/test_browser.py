"""Open the report offline in headless Chromium: every figure renders, no console errors.

Chromium is the Debian package (``apt-get install chromium``; ``.ci/run`` installs it).
The page is loaded from a file URL with networking features off; ``--dump-dom`` prints the
DOM after plotly.js has drawn, and ``--enable-logging=stderr`` prints console messages.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_figures import simulated_results
from test_report import FIGURE_IDS, make_run

from eventstudy import report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"


def _chromium() -> str:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"headless Chromium not found at {CHROMIUM}: apt-get install chromium "
            "(or set BROWSER_PATH)"
        )
    return CHROMIUM


def _dump_dom(page: Path, profile: Path) -> tuple[str, str]:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        "--virtual-time-budget=15000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _rendered(dom: str, fid: str) -> bool:
    """The figure's div got plotly's class and holds an SVG plot."""
    start = dom.find(f'id="{fid}"')
    if start < 0:
        return False
    head = dom[max(0, dom.rfind("<", 0, start)) : start + 200]
    if "js-plotly-plot" not in head:
        return False
    end = dom.find("</figure>", start)
    return 'class="main-svg"' in dom[start:end]


def test_report_renders_every_figure_offline_without_console_errors(tmp_path):
    _chromium()
    out = tmp_path / "kei_cars"
    index = report.write(make_run(), out)
    dom, stderr = _dump_dom(index, tmp_path / "profile")
    assert "<h1>" in dom, "the page did not load"
    missing = [fid for fid in FIGURE_IDS if not _rendered(dom, fid)]
    assert not missing, f"figures not rendered: {missing}"
    graphs = re.findall(r'class="plotly-graph-div js-plotly-plot"', dom)
    assert len(graphs) == len(FIGURE_IDS)
    assert dom.count('class="main-svg"') >= len(FIGURE_IDS)
    assert not _console_messages(stderr), _console_messages(stderr)
    errors = re.search(r'<pre id="eventstudy-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    # the escaped title shows as text, not as a script that ran
    assert "CAFE rollback &lt;script&gt;" in dom


def test_a_script_error_would_be_caught(tmp_path):
    """The check above can fail: a page whose plotly.js is missing is reported."""
    _chromium()
    index = report.write(simulated_results(), tmp_path / "r", plotlyjs="none")
    dom, stderr = _dump_dom(index, tmp_path / "profile")
    assert not _rendered(dom, "ar-kei-cafe")
    assert any("Plotly is not defined" in m for m in _console_messages(stderr))


def test_static_images_use_one_browser_for_the_run(tmp_path, monkeypatch):
    kaleido = pytest.importorskip("kaleido", reason="the image extra (kaleido) is not installed")
    browser = _chromium()
    started = []
    real_init = kaleido.Kaleido.__init__

    def counting_init(self, *args, **kwargs):
        started.append(kwargs.get("path"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(kaleido.Kaleido, "__init__", counting_init)
    out = tmp_path / "img"
    report.write(simulated_results(), out, images=("png", "svg"), browser_path=browser)
    assert started == [browser]  # one browser, the one we named, for every image
    pngs = sorted(p.stem for p in (out / "images").glob("*.png"))
    svgs = sorted(p.stem for p in (out / "images").glob("*.svg"))
    assert pngs == svgs and "ar-kei-cafe" in pngs and "tests" in pngs
    assert (out / "images" / "ar-kei-cafe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "images" / "heatmap.svg").read_text()[:500]
