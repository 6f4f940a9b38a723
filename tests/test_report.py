"""The report folder: files, escaping, plotly.js handling, atomic replacement, clear errors."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from test_figures import EVENT_DATES, SECURITIES, simulated_results

from eventstudy import report
from eventstudy.exceptions import ReportError
from eventstudy.runner import StudyRun

PLOTLYJS_MARK = f"* plotly.js v{plotly.offline.get_plotlyjs_version()}"
EVIL = "<script>alert('pwned')</script>"


def make_prices(symbols) -> dict[str, pd.DataFrame]:
    idx = pd.bdate_range("2025-10-01", "2025-12-31", name="date")
    rng = np.random.default_rng(11)
    out = {}
    for sym in symbols:
        close = 1000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(idx))))
        frame = pd.DataFrame({"close": close, "adj_close": close}, index=idx)
        frame.attrs["provenance"] = {
            "source": "csv",
            "symbol": sym,
            "fetched_at": "2026-11-25T06:00:00Z",
            "path": f"../shared/data/prices/{sym}.csv",
        }
        out[sym] = frame
    return out


def make_run(results=None, *, title: str = "Kei cars & US policy") -> StudyRun:
    """A StudyRun as the runner hands it to the report."""
    results = results if results is not None else simulated_results()
    timing = pd.DataFrame(
        {
            "event_id": ["kei_cafe", "kei_cafe", "tinycars", "tinycars"],
            "announced": pd.to_datetime(["2025-12-03T19:30Z"] * 2 + ["2025-12-05T14:50Z"] * 2),
            "exchange": ["XTKS", "XNYS", "XTKS", "XNYS"],
            "session": pd.to_datetime(["2025-12-04", "2025-12-03", "2025-12-08", "2025-12-05"]),
            "rule": ["before open", "during session", "non-trading day", "during session"],
        }
    )
    config = SimpleNamespace(
        title=title,
        events=[
            SimpleNamespace(id="kei_cafe", title=f"CAFE rollback {EVIL}"),
            SimpleNamespace(id="tinycars", title="TINY CARS post"),
        ],
        securities=[SimpleNamespace(symbol="7203.T", name="Toyota")],
    )
    return StudyRun(
        config=config,
        config_path=Path("configs/kei_cars.yaml"),
        config_hash="0123456789ab",
        timing=timing,
        prices=make_prices([*SECURITIES, "TOPIX"]),
        returns={},
        results={"XTKS": results},
        market={"XTKS": "TOPIX"},
        dossiers={
            "kei_cafe": "# What happened\nThe President **authorized** kei cars. "
            f"{EVIL}\n\n- source: https://example.org/a?b=1&c=2\n- time: 14:30 ET",
        },
        provenance={  # as runner._provenance writes it
            "versions": {"oem-eventstudy": "0.1.0", "yfinance": "0.2.54"},
            "sources": {"TOPIX": {"source": "csv", "first": "2025-10-01", "last": "2025-12-31"}},
            "config_file": "configs/kei_cars.yaml",
            "config_hash": "0123456789ab",
            "run_started": "2026-11-25T06:29:58+00:00",
            "run_finished": "2026-11-25T06:30:00+00:00",
        },
        notes=["a note from the run"],
    )


FIGURE_IDS = [
    "ar-xtks-kei-cafe",
    "car-xtks-kei-cafe",
    "prices-xtks-kei-cafe",
    "ar-xtks-tinycars",
    "car-xtks-tinycars",
    "prices-xtks-tinycars",
    "heatmap-xtks",
    "forest-xtks",
    "diagnostics-xtks",
    "residual-correlation-xtks",
]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "kei_cars"
    path = report.write(make_run(), out)
    assert path == out / "index.html"
    return out


def test_report_folder_holds_index_fragments_tables_and_json(written):
    assert (written / "index.html").is_file()
    fragments = {p.stem for p in (written / "fragments").glob("*.html")}
    assert set(FIGURE_IDS) <= fragments
    assert "tests-xtks" in fragments
    tables = {p.name for p in (written / "tables").iterdir()}
    for name in (
        "abnormal_returns.csv",
        "car.csv",
        "tests.csv",
        "aar_tests.csv",
        "params.csv",
        "excluded.csv",
        "clustering.csv",
        "timing.csv",
        "car_paths.csv",
        "tests.md",
        "tests.tex",
    ):
        assert name in tables
    assert not list(written.parent.glob(".kei_cars.*")), "temporary folders left behind"


def test_csv_and_json_carry_the_tidy_tables(written):
    res = simulated_results()
    ar = pd.read_csv(written / "tables" / "abnormal_returns.csv")
    assert list(ar.columns) == ["exchange", "event_id", "security", "rel_day", "date", "ar"]
    np.testing.assert_allclose(ar["ar"], res.abnormal_returns["ar"])
    doc = json.loads((written / "results.json").read_text())
    assert len(doc["abnormal_returns"]) == len(res.abnormal_returns)
    assert doc["abnormal_returns"][0]["date"] == "2025-11-20"
    car01 = [r for r in doc["car"] if r["window"] == "(0,+1)"]
    expected = res.car((0, 1))
    np.testing.assert_allclose([r["car"] for r in car01], expected["car"])
    assert {r["test"] for r in doc["tests"]} >= {"portfolio", "grank", "t_test"}
    assert {"beta", "sigma", "r2"} <= set(doc["params"][0])
    assert doc["excluded"][0]["security"] == "7269.T"
    assert "estimation observations" in doc["excluded"][0]["reason"]
    assert doc["provenance"]["config_hash"] == "0123456789ab"
    assert doc["provenance"]["versions"]["yfinance"] == "0.2.54"


def test_index_embeds_plotlyjs_once_and_every_figure_without_it(written):
    html = (written / "index.html").read_text()
    assert html.count(PLOTLYJS_MARK) == 1
    head, body = html.split("</head>", 1)
    assert PLOTLYJS_MARK in head
    for fid in FIGURE_IDS:
        assert f'id="{fid}"' in body
    assert 'id="tests-xtks"' not in body  # the test table is an HTML table in the page
    for frag in (written / "fragments").glob("*.html"):
        text = frag.read_text()
        assert PLOTLYJS_MARK not in text
        assert f'<div id="{frag.stem}" class="plotly-graph-div"' in text
        assert len(text) < 200_000


def test_index_has_sections_timing_tests_excluded_and_provenance(written):
    html = (written / "index.html").read_text()
    for anchor in ("main-tests", "event-kei-cafe", "event-tinycars", "across", "excluded"):
        assert f'id="{anchor}"' in html
    assert "2025-12-04 (Thu)" in html and "before open" in html
    assert "2025-12-04 04:30 JST" in html  # announced, in Tokyo time
    assert "58 estimation observations" in html
    assert "◆ Portfolio, equal-weighted" in html
    assert "0123456789ab" in html and "configs/kei_cars.yaml" in html
    assert "2026-11-25T06:00:00Z" in html  # fetch time of a price series
    assert "run finished 2026-11-25T06:30:00+00:00" in html
    assert "2025-10-01 to 2025-12-31" in html  # the data range of a series
    assert "a note from the run" in html
    assert f"plotly {plotly.__version__}" in html
    # robust tests lead the main table
    main = html.split('id="main-tests"', 1)[1].split("</table>", 1)[0]
    order = [main.index(f'data-test="{t}"') for t in ("portfolio", "kolari_pynnonen", "t_test")]
    assert order == sorted(order)


def test_text_from_configs_and_dossiers_is_escaped(written):
    html = (written / "index.html").read_text()
    assert EVIL not in html
    assert "CAFE rollback &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    # the dossier's Markdown is rendered, its HTML is not
    assert "<strong>authorized</strong>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2"' in html


def test_markdown_and_latex_test_tables(written):
    md = (written / "tables" / "tests.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith("| Test | CAR(0,0) | p | CAR(0,+1) | p |")
    assert lines[3].startswith("| **Portfolio, equal-weighted** † |")
    tex = (written / "tables" / "tests.tex").read_text()
    assert r"\begin{tabular}{lrrrrrrrr}" in tex and r"\toprule" in tex
    assert r"Portfolio, equal-weighted$^\dagger$" in tex
    assert r"Kolari-Pynn\"onen" in tex


def test_a_failed_run_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "kei_cars"
    report.write(simulated_results(), out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_write_json", boom)  # fails after fragments and tables
    with pytest.raises(ReportError, match="previous report is unchanged"):
        report.write(make_run(), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kei_cars"]


def test_a_second_run_replaces_the_report_whole(tmp_path):
    out = tmp_path / "r"
    report.write(make_run(), out)
    assert (out / "fragments" / "prices-xtks-kei-cafe.html").exists()
    report.write(simulated_results(), out)  # no prices this time
    assert not (out / "fragments" / "prices-xtks-kei-cafe.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_write_accepts_a_results_object_directly(tmp_path):
    import eventstudy as es

    path = es.report.write(simulated_results(), tmp_path / "nb")  # as in a notebook
    assert report.write_results(simulated_results(), tmp_path / "nb2").is_file()
    html = path.read_text()
    assert "ar-kei-cafe" in html and "Event study" in html
    assert (tmp_path / "nb" / "fragments" / "heatmap.html").is_file()


@pytest.mark.parametrize(
    ("mode", "inline", "cdn"),
    [("inline", True, False), (None, True, False), ("cdn", False, True), ("none", False, False)],
)
def test_plotlyjs_modes(tmp_path, mode, inline, cdn):
    html = report.write(simulated_results(), tmp_path / "r", plotlyjs=mode).read_text()
    assert (PLOTLYJS_MARK in html) is inline
    src = f"https://cdn.plot.ly/plotly-{plotly.offline.get_plotlyjs_version()}.min.js"
    assert (src in html) is cdn


def test_bad_arguments_raise_one_clear_error(tmp_path):
    with pytest.raises(ReportError, match="use 'inline', 'cdn' or 'none'"):
        report.write(simulated_results(), tmp_path / "r", plotlyjs="embed")
    with pytest.raises(ReportError, match="unknown image format"):
        report.write(simulated_results(), tmp_path / "r", images=("gif",))
    with pytest.raises(ReportError, match="StudyRun"):
        report.write(object(), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_images_without_kaleido_name_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_kaleido(name, *args, **kwargs):
        if name == "kaleido" or name.startswith("kaleido."):
            raise ImportError("No module named 'kaleido'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_kaleido)
    with pytest.raises(ReportError) as err:
        report.write(simulated_results(), tmp_path / "r", images=("png",))
    assert 'pip install "oem-eventstudy[image]"' in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "r").exists()


def test_images_without_a_browser_name_the_fix(tmp_path, monkeypatch):
    pytest.importorskip("kaleido", reason="the image extra (kaleido) is not installed")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    with pytest.raises(ReportError, match="apt-get install chromium"):
        report.write(simulated_results(), tmp_path / "r", images="png,svg")
    with pytest.raises(ReportError, match="/nonexistent/chrome"):
        report.find_browser("/nonexistent/chrome")


def test_render_markdown_is_safe_and_simple():
    out = str(
        report.render_markdown(
            "---\nsource: White House\n---\n## Facts\n"
            "Text with `code` and *emphasis* <b>raw</b>.\n\n1. one\n2. two\n\n"
            "[link](javascript:alert(1)) [ok](https://a.example/x)"
        )
    )
    assert "<dt>source</dt><dd>White House</dd>" in out
    assert "<h4>Facts</h4>" in out
    assert "<code>code</code>" in out and "<em>emphasis</em>" in out
    assert "&lt;b&gt;raw&lt;/b&gt;" in out
    assert "<ol>\n<li>one</li>\n<li>two</li>\n</ol>" in out
    assert 'href="javascript' not in out
    assert '<a href="https://a.example/x" rel="noopener noreferrer">ok</a>' in out
    assert str(report.render_markdown(None)) == ""


def test_report_on_several_exchanges_keeps_groups_apart(tmp_path):
    run = make_run()
    us = simulated_results(seed=5)
    run = StudyRun(**{**run.__dict__, "results": {"XTKS": run.results["XTKS"], "XNYS": us}})
    out = tmp_path / "multi"
    html = report.write(run, out).read_text()
    assert 'id="ar-xtks-kei-cafe"' in html and 'id="ar-xnys-kei-cafe"' in html
    tests = pd.read_csv(out / "tables" / "tests.csv")
    assert set(tests["exchange"]) == {"XTKS", "XNYS"}
    assert "NYSE: " in (out / "tables" / "tests.md").read_text()
    assert set(EVENT_DATES) == {"kei_cafe", "tinycars"}


def test_extra_figures_get_a_section_and_a_fragment(tmp_path):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), layout={"title": {"text": "Robustness"}})
    html = report.write(
        simulated_results(), tmp_path / "r", extra_figures={"Estimation window choices": fig}
    ).read_text()
    assert 'id="further"' in html and 'id="extra-estimation-window-choices"' in html
    assert (tmp_path / "r" / "fragments" / "extra-estimation-window-choices.html").is_file()
    with pytest.raises(ReportError, match="Figure objects"):
        report.write(simulated_results(), tmp_path / "s", extra_figures={"x": {"data": []}})
