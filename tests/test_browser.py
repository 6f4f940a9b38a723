"""Open the report offline in headless Chromium: the answer is on the first screen, shaded
cells show, every figure renders, each fragment renders alone, no console errors.

Chromium is the Debian package (``apt-get install chromium``; ``.ci/run`` installs it).
Pages are loaded from file URLs with networking features off; ``--dump-dom`` prints the DOM
after plotly.js has drawn, and ``--enable-logging=stderr`` prints console messages. To read
positions and colours, the test writes a copy of ``index.html`` (or of a fragment) beside it
with a small script that measures the laid-out page (1400 x 1000 window; also 1310 px, the
narrowest with two charts a row, and 1100 and 700 px for fragments) and writes the numbers into the
DOM; the report itself carries no test code. Every chart's toolbar must be clear of its
title, legend, colour bar, buttons and notes, and no legend may cover axis labels.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest
from test_figures import simulated_results
from test_report import FIGURE_IDS, make_run

from eventstudy import report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("BROWSER_PATH") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHADE = "rgb(252, 232, 200)"  # --sig in templates/report.html.j2
FIRST_SCREEN = (1400, 1000)
#: The narrowest window that still sets two charts a row (the report's CSS: above 1300 px).
TWO_NARROW = (1310, 1000)
#: A fragment pasted into a research note's column, px wide.
NOTE_COLUMN = 700
MAX_HEIGHT = 6000  # px, for a two-event study

MEASURE = """
<script>
window.addEventListener("load", function () { setTimeout(function () {
  var out = {height: document.documentElement.scrollHeight, width: window.innerWidth,
             verdicts: [], sig: [], visibleSig: 0};
  document.querySelectorAll("article.verdict").forEach(function (a) {
    var r = a.getBoundingClientRect();
    out.verdicts.push({key: a.getAttribute("data-verdict"), top: r.top, bottom: r.bottom,
                       text: a.innerText});
  });
  document.querySelectorAll("td.sig").forEach(function (td) {
    out.sig.push(getComputedStyle(td).backgroundColor);
    if (td.offsetParent !== null && td.getBoundingClientRect().height > 0) { out.visibleSig++; }
  });
  // a chart's toolbar (modebar) drawn over its title, legend, colour bar, buttons or a note
  // would spoil every pasted screenshot; so would a legend over the axis labels
  out.charts = 0; out.toolbarOver = []; out.legendOverAxis = [];
  function boxes(g, sel) {
    return Array.prototype.map.call(g.querySelectorAll(sel), function (e) {
      return e.getBoundingClientRect();
    }).filter(function (r) { return r.width > 0 && r.height > 0; });
  }
  function meet(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  document.querySelectorAll(".js-plotly-plot").forEach(function (g) {
    var m = g.querySelector(".modebar");
    if (!m) { return; }
    out.charts++;
    var mb = m.getBoundingClientRect();
    var parts = {title: ".gtitle", legend: ".legend", colorbar: ".colorbar",
                 buttons: ".updatemenu-container", note: ".annotation"};
    Object.keys(parts).forEach(function (what) {
      boxes(g, parts[what]).forEach(function (b) {
        if (meet(mb, b)) { out.toolbarOver.push(g.id + ": " + what); }
      });
    });
    var legend = g.querySelector(".legend");
    if (legend) {
      var lb = legend.getBoundingClientRect();
      boxes(g, "[class*='xtitle'], .xtick text").forEach(function (b) {
        if (meet(lb, b)) { out.legendOverAxis.push(g.id); }
      });
    }
  });
  var pre = document.createElement("pre");
  pre.id = "measured"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>
"""


def _chromium() -> str:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"headless Chromium not found at {CHROMIUM}: apt-get install chromium "
            "(or set BROWSER_PATH)"
        )
    return CHROMIUM


def _dump_dom(page: Path, profile: Path, size: tuple[int, int] = (1280, 2000)) -> tuple[str, str]:
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
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
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


def _rendered(dom: str, fid: str, end_tag: str = "</figure>") -> bool:
    """The figure's div got plotly's class and holds an SVG plot."""
    start = dom.find(f'id="{fid}"')
    if start < 0:
        return False
    head = dom[max(0, dom.rfind("<", 0, start)) : start + 200]
    if "js-plotly-plot" not in head:
        return False
    end = dom.find(end_tag, start)
    return 'class="main-svg"' in dom[start : end if end > 0 else None]


def measure(
    index: Path, profile: Path, size: tuple[int, int] = FIRST_SCREEN
) -> tuple[dict, str, str]:
    """Lay out ``index`` (or a fragment) in a window of ``size``: positions, shading,
    height, the charts' toolbars and legends."""
    probe = index.with_name("measure-" + index.name)
    text = index.read_text()
    probe.write_text(
        text.replace("</body>", MEASURE + "</body>") if "</body>" in text else text + MEASURE
    )
    try:
        dom, stderr = _dump_dom(probe, profile, size)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, stderr[-2000:]
    import html

    return json.loads(html.unescape(found.group(1))), dom, stderr


def check_first_screen(numbers: dict, verdicts) -> None:
    shown = {v["key"]: v for v in numbers["verdicts"]}
    for v in verdicts:
        box = shown[v.key]
        assert 0 <= box["top"] and box["bottom"] <= FIRST_SCREEN[1], (v.key, box)
        assert v.headline in box["text"]
    assert numbers["sig"] and set(numbers["sig"]) == {SHADE}, numbers["sig"]
    assert numbers["visibleSig"] > 0
    assert numbers["height"] < MAX_HEIGHT, numbers["height"]
    check_charts(numbers)


def check_charts(numbers: dict) -> None:
    """Every chart drew its toolbar, clear of everything else; no legend on axis labels."""
    assert numbers["charts"] > 0
    assert not numbers["toolbarOver"], numbers["toolbarOver"]
    assert not numbers["legendOverAxis"], numbers["legendOverAxis"]


def test_report_answers_on_the_first_screen_and_renders_every_figure(tmp_path):
    _chromium()
    run = make_run()
    index = report.write(run, tmp_path / "kei_cars")
    numbers, dom, stderr = measure(index, tmp_path / "profile")
    check_first_screen(numbers, run.verdicts)
    missing = [fid for fid in FIGURE_IDS if not _rendered(dom, fid)]
    assert not missing, f"figures not rendered: {missing}"
    graphs = re.findall(r'class="plotly-graph-div js-plotly-plot"', dom)
    assert len(graphs) == len(FIGURE_IDS)
    assert not _console_messages(stderr), _console_messages(stderr)
    errors = re.search(r'<pre id="eventstudy-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    # the escaped title shows as text, not as a script that ran
    assert "CAFE rollback &lt;script&gt;" in dom
    check_charts(measure(index, tmp_path / "profile", TWO_NARROW)[0])


def test_every_fragment_renders_when_opened_alone(tmp_path):
    _chromium()
    out = tmp_path / "kei_cars"
    report.write(make_run(), out, plotlyjs="none")  # the page's plotly.js is not needed
    fragments = sorted((out / "fragments").glob("*.html"))
    assert len(fragments) == len(FIGURE_IDS) + 2  # and one test table per event
    for frag in fragments:
        numbers, dom, stderr = measure(frag, tmp_path / "profile", (1100, 700))
        assert _rendered(dom, frag.stem, end_tag="</body>"), frag.name
        assert not _console_messages(stderr), (frag.name, _console_messages(stderr))
        check_charts(numbers)
        # pasted into a narrower note column (700 px): still clear
        check_charts(measure(frag, tmp_path / "profile", (NOTE_COLUMN, 700))[0])


def test_the_kei_car_report_answers_on_the_first_screen(tmp_path, prices_dir):
    """The README's first command: the real two-event study, first screen and height."""
    _chromium()
    from eventstudy.runner import run_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_study(ROOT / "configs" / "kei_cars.yaml", prices=prices_dir, offline=True)
    index = report.write(run, tmp_path / "kei_cars")
    numbers, _, stderr = measure(index, tmp_path / "profile")
    check_first_screen(numbers, run.verdicts)
    assert not _console_messages(stderr), _console_messages(stderr)
    check_charts(measure(index, tmp_path / "profile", TWO_NARROW)[0])


def test_a_script_error_would_be_caught(tmp_path):
    """The checks above can fail: a page whose plotly.js is missing is reported."""
    _chromium()
    index = report.write(simulated_results(), tmp_path / "r", plotlyjs="none")
    dom, stderr = _dump_dom(index, tmp_path / "profile")
    assert not _rendered(dom, "ar-kei-cafe")
    assert any("Plotly is not defined" in m for m in _console_messages(stderr))
    frag = tmp_path / "r" / "fragments" / "ar-kei-cafe.html"
    (tmp_path / "r" / "fragments" / "plotly.min.js").unlink()  # a fragment without its js
    dom, stderr = _dump_dom(frag, tmp_path / "profile")
    assert not _rendered(dom, "ar-kei-cafe", end_tag="</body>")


def test_static_images_use_one_browser_for_the_run(tmp_path, monkeypatch):
    kaleido = pytest.importorskip("kaleido", reason="the image extra (kaleido) is not installed")
    browser = _chromium()
    started = []
    real_init = kaleido.Kaleido.__init__

    def counting_init(self, *args, **kwargs):
        started.append(kwargs.get("path"))
        real_init(self, *args, **kwargs)

    real_write = kaleido.Kaleido.write_fig_from_object
    buttons: dict[str, int] = {}

    async def recording_write(self, specs, *args, **kwargs):
        for spec in specs:
            layout = spec["fig"].layout
            buttons[Path(spec["path"]).name] = len(layout.updatemenus) + (
                "click" in (layout.title.text or "")
            )
        return await real_write(self, specs, *args, **kwargs)

    monkeypatch.setattr(kaleido.Kaleido, "__init__", counting_init)
    monkeypatch.setattr(kaleido.Kaleido, "write_fig_from_object", recording_write)
    out = tmp_path / "img"
    res = simulated_results()
    car = res.plot_car("kei_cafe").layout
    assert car.updatemenus and "click a firm" in car.title.text  # buttons and a hint ...
    report.write(res, out, images=("png", "svg"), browser_path=browser)
    assert started == [browser]  # one browser, the one we named, for every image
    # ... which a picture leaves out
    assert buttons["car-kei-cafe.png"] == buttons["car-kei-cafe.svg"] == 0, buttons
    pngs = sorted(p.stem for p in (out / "images").glob("*.png"))
    svgs = sorted(p.stem for p in (out / "images").glob("*.svg"))
    assert pngs == svgs and "ar-kei-cafe" in pngs and "tests-kei-cafe" in pngs
    assert (out / "images" / "ar-kei-cafe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "images" / "heatmap.svg").read_text()[:500]
