"""The report folder: the answer first, files, escaping, plotly.js handling, atomic
replacement, clear errors."""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_figures import EVENT_DATES, SECURITIES, simulated_results

from eventstudy import report, runner
from eventstudy.config import StudyConfig, parse_config
from eventstudy.exceptions import ReportError
from eventstudy.plan import plan_study
from eventstudy.runner import Provenance, SourceRecord, StudyRun

PLOTLYJS_MARK = f"* plotly.js v{plotly.offline.get_plotlyjs_version()}"
EVIL = "<script>alert('pwned')</script>"
ROLES = {"7203.T": "oem", "7267.T": "oem", "7201.T": "oem", "7211.T": "peer", "7269.T": "peer"}
NAMES = {"7203.T": "Toyota", "7267.T": "Honda", "7201.T": "Nissan", "7211.T": "Mitsubishi"}


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


def make_config(title: str = "Kei cars & US policy", **extra) -> StudyConfig:
    """The study the simulated results stand for (3 named OEMs, 2 peers)."""
    return parse_config(
        {
            "name": "kei_cars",
            "title": title,
            "securities": [
                {"symbol": s, "role": ROLES[s], **({"name": NAMES[s]} if s in NAMES else {})}
                for s in [*SECURITIES, "7269.T"]
            ],
            "events": [
                {
                    "id": "kei_cafe",
                    "title": f"CAFE rollback {EVIL}",
                    "announced": "2025-12-03T14:30:00-05:00",
                    "timing_confidence": "scheduled-start",
                },
                {
                    "id": "tinycars",
                    "title": "TINY CARS post",
                    "announced": "2025-12-05T09:00:00-05:00",
                    "timing_confidence": "date-only",
                },
            ],
            "market": {"XTKS": "TOPIX"},
            "estimation": [-260, -11],
            **extra,
        }
    )


def make_run(results=None, *, title: str = "Kei cars & US policy", **extra) -> StudyRun:
    """A StudyRun as the runner hands it to the report (real plan, real engine results)."""
    results = results if results is not None else simulated_results()
    plan = plan_study(make_config(title, **extra))
    timing = pd.DataFrame(
        {
            "event_id": ["kei_cafe", "kei_cafe", "tinycars", "tinycars"],
            "announced": pd.to_datetime(["2025-12-03T19:30Z"] * 2 + ["2025-12-05T14:50Z"] * 2),
            "exchange": ["XTKS", "XNYS", "XTKS", "XNYS"],
            "session": pd.to_datetime(["2025-12-04", "2025-12-03", "2025-12-08", "2025-12-05"]),
            "rule": ["before open", "during session", "non-trading day", "during session"],
        }
    )
    verdicts, firms = runner.verdicts_and_firms(plan, {"XTKS": results})
    return StudyRun(
        plan=plan,
        timing=timing,
        prices=make_prices([*SECURITIES, "TOPIX"]),
        returns={},
        results={"XTKS": results},
        market={"XTKS": "TOPIX"},
        dossiers={
            "kei_cafe": "# What happened\nThe President **authorized** kei cars. "
            f"{EVIL}\n\n- source: https://example.org/a?b=1&c=2\n- time: 14:30 ET",
        },
        provenance=Provenance(
            versions={"oem-eventstudy": "0.1.0", "yfinance": "0.2.54"},
            sources={
                "TOPIX": SourceRecord("csv", "TOPIX", None, "2025-10-01", "2025-12-31"),
            },
            config_file="configs/kei_cars.yaml",
            config_hash="0123456789ab",
            run_started="2026-11-25T06:29:58+00:00",
            run_finished="2026-11-25T06:30:00+00:00",
        ),
        verdicts=verdicts,
        firms=firms,
        notes=["a note from the run"],
    )


def _visible(html: str) -> str:
    """The text a reader sees (tags dropped, entities decoded)."""
    import html as _html

    return _html.unescape(re.sub(r"<[^>]+>", "", html))


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
def run() -> StudyRun:
    return make_run()


@pytest.fixture(scope="module")
def written(tmp_path_factory, run) -> Path:
    out = tmp_path_factory.mktemp("rep") / "kei_cars"
    path = report.write(run, out)
    assert path == out / "index.html"
    return out


def test_report_folder_holds_index_verdict_fragments_tables_and_json(written):
    assert (written / "index.html").is_file() and (written / "verdict.json").is_file()
    fragments = {p.stem for p in (written / "fragments").glob("*.html")}
    assert set(FIGURE_IDS) <= fragments
    assert {"tests-xtks-kei-cafe", "tests-xtks-tinycars"} <= fragments  # one per event
    assert (written / "fragments" / "plotly.min.js").is_file()
    tables = {p.name for p in (written / "tables").iterdir()}
    for name in (
        "verdicts.csv",
        "firms.csv",
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


def test_csv_and_json_carry_the_tidy_tables(written, run):
    res = simulated_results()
    ar = pd.read_csv(written / "tables" / "abnormal_returns.csv")
    assert list(ar.columns) == ["exchange", "event_id", "security", "rel_day", "date", "ar"]
    np.testing.assert_allclose(ar["ar"], res.abnormal_returns["ar"])
    doc = json.loads((written / "results.json").read_text())
    assert len(doc["abnormal_returns"]) == len(res.abnormal_returns)
    assert doc["abnormal_returns"][0]["date"] == "2025-11-20"
    car01 = [r for r in doc["car"] if r["window"] == "(0,+1)"]
    np.testing.assert_allclose([r["car"] for r in car01], res.car((0, 1))["car"])
    assert {r["test"] for r in doc["tests"]} >= {"portfolio", "grank", "t_test"}
    assert {"beta", "sigma", "r2"} <= set(doc["params"][0])
    assert doc["excluded"][0]["security"] == "7269.T"
    assert "estimation observations" in doc["excluded"][0]["reason"]
    assert doc["provenance"]["config_hash"] == "0123456789ab"
    assert doc["provenance"]["versions"]["yfinance"] == "0.2.54"
    assert [v["sentence"] for v in doc["verdict"]] == [v.sentence for v in run.verdicts]


def test_tests_are_per_event_never_pooled(written):
    """Every test row belongs to one event: the pooled table of all events is gone."""
    tests = pd.read_csv(written / "tables" / "tests.csv")
    assert tests["event_id"].notna().all()
    assert set(tests["event_id"]) == set(EVENT_DATES)
    res = simulated_results()
    mine = res.caar_tests((0, 1), by="event_id").set_index(["event_id", "test"])
    got = tests[tests["window"] == "(0,+1)"].set_index(["event_id", "test"])
    np.testing.assert_allclose(
        got["p_value"], mine.loc[got.index, "p_value"], rtol=1e-12, equal_nan=True
    )
    html = (written / "index.html").read_text()
    assert 'id="main-tests"' not in html and "pooled in event time" not in html


def test_the_answer_comes_first_in_the_words_of_the_verdicts(written, run):
    html = (written / "index.html").read_text()
    body = html.split("<main>", 1)[1]
    answer = body.index('id="answer"')
    first_event = body.index('id="event-kei-cafe"')
    assert answer < first_event
    text = _visible(body[answer:first_event])
    for v in run.verdicts:
        assert v.sentence in text, v.sentence
    assert "equal-weighted portfolio test: valid when the firms share the event date" in text
    kei = next(v for v in run.verdicts if v.key == "kei_cafe")
    tiny = next(v for v in run.verdicts if v.key == "tinycars")
    assert kei.headline == "Abnormal reaction detected"  # +3% injected on 2025-12-04
    assert tiny.headline == "No abnormal reaction detected"
    assert 'data-verdict="kei_cafe" data-status="reaction"' in html
    assert 'data-verdict="tinycars" data-status="no reaction"' in html


def test_verdict_json_holds_each_event_and_the_test_with_its_reason(written, run):
    doc = json.loads((written / "verdict.json").read_text())
    assert doc["window"] == "(0,+1)" and doc["pooled"] is False
    assert [t["test"] for t in doc["tests"]] == ["portfolio"]
    assert "portfolio's own estimation-window variance" in doc["tests"][0]["why"]
    assert [v["key"] for v in doc["verdicts"]] == ["kei_cafe", "tinycars"]
    for got, v in zip(doc["verdicts"], run.verdicts, strict=True):
        assert got["sentence"] == v.sentence and got["session"] == f"{v.session}"
        assert got["mean_car"] == pytest.approx(v.estimate)
        assert got["ci_low"] == pytest.approx(v.ci_low) and got["ci_high"] == pytest.approx(
            v.ci_high
        )
        assert got["p_value"] == pytest.approx(v.p_value) and got["test"] == "portfolio"


def test_firm_table_lists_every_firm_of_every_role_with_its_numbers(written):
    firms = pd.read_csv(written / "tables" / "firms.csv")
    res = simulated_results()
    kept = set(res.events["security"])
    for eid in EVENT_DATES:
        mine = firms[firms["event_id"] == eid]
        assert set(mine["security"]) == kept  # named OEMs and peers, firm by firm
        assert set(mine["measure"]) == {"AR(0)", "CAR(0,0)", "CAR(0,+1)", "CAR(-1,+1)", "CAR(0,+5)"}
    assert list(dict.fromkeys(firms["role"])) == ["oem", "peer"]  # OEMs listed first
    car = res.car((0, 1)).set_index(["event_id", "security"])
    got = firms[firms["measure"] == "CAR(0,+1)"].set_index(["event_id", "security"])
    for col, src in (("estimate", "car"), ("se", "se"), ("t", "statistic"), ("p_value", "p_value")):
        np.testing.assert_allclose(got[col], car.loc[got.index, src], rtol=1e-12)
    day0 = res.car((0, 0)).set_index(["event_id", "security"])
    ar0 = firms[firms["measure"] == "AR(0)"].set_index(["event_id", "security"])
    np.testing.assert_allclose(ar0["estimate"], day0.loc[ar0.index, "car"], rtol=1e-12)
    # the page shows the table, sortable, one row per firm, with names
    html = (written / "index.html").read_text()
    table = html.split('data-firms="kei_cafe"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-security=") == len(kept)
    assert "Toyota <span" in table and "named OEM" in table and "peer" in table
    assert 'th data-col="2"' in table and "table.sortable" in html


def test_index_embeds_plotlyjs_once_and_fragments_open_alone(written):
    html = (written / "index.html").read_text()
    assert html.count(PLOTLYJS_MARK) == 1
    head, body = html.split("</head>", 1)
    assert PLOTLYJS_MARK in head
    for fid in FIGURE_IDS:
        assert f'id="{fid}"' in body
    assert 'id="tests-xtks-kei-cafe"' not in body  # the test table is an HTML table
    sibling = (written / "fragments" / "plotly.min.js").read_text()
    assert PLOTLYJS_MARK in sibling
    for frag in (written / "fragments").glob("*.html"):
        text = frag.read_text()
        assert PLOTLYJS_MARK not in text
        assert '<script charset="utf-8" src="plotly.min.js"></script>' in text
        assert text.index("plotly.min.js") < text.index(f'<div id="{frag.stem}"')
        assert len(text) < 200_000


@pytest.mark.parametrize(
    ("mode", "carries_js", "loads_sibling"), [("inline", True, False), ("div", False, False)]
)
def test_fragment_modes(tmp_path, mode, carries_js, loads_sibling):
    out = tmp_path / "r"
    report.write(simulated_results(), out, fragments=mode, plotlyjs="none")
    frag = (out / "fragments" / "car-kei-cafe.html").read_text()
    assert (PLOTLYJS_MARK in frag) is carries_js
    assert ('src="plotly.min.js"' in frag) is loads_sibling
    assert not (out / "fragments" / "plotly.min.js").exists()
    assert '<div id="car-kei-cafe" class="plotly-graph-div"' in frag


def test_page_sections_timing_excluded_and_provenance(written):
    html = (written / "index.html").read_text()
    for anchor in ("answer", "event-kei-cafe", "event-tinycars", "across", "excluded"):
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
    # robust tests lead each event's table
    tests = html.split('id="event-kei-cafe"', 1)[1].split('class="data tests"', 1)[1]
    tests = tests.split("</table>", 1)[0]
    order = [tests.index(f'data-test="{t}"') for t in ("portfolio", "kolari_pynnonen", "t_test")]
    assert order == sorted(order)


def test_shading_rule_outranks_the_robust_row_background(written):
    """The shaded p-value shows on the robust (grey) rows too (it never did: ``tr.robust td``
    outranked ``td.sig``); the browser test checks the computed colour."""
    css = (written / "index.html").read_text().split("<style>", 1)[1].split("</style>", 1)[0]
    grey = css.index("table.tests tr.robust td {")
    shade = css.index("table.tests tr.robust td.sig")
    assert shade > grey and "var(--sig)" in css[shade : css.index("}", shade)]


def test_text_from_configs_and_dossiers_is_escaped(written):
    html = (written / "index.html").read_text()
    assert EVIL not in html
    assert "CAFE rollback &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    # the dossier's Markdown is rendered, its HTML is not
    assert "<strong>authorized</strong>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2"' in html


def test_markdown_and_latex_test_tables_per_event(written):
    md = (written / "tables" / "tests.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith("### Event kei_cafe: CAFE rollback")
    assert lines[2].startswith("| Test | CAR(0,0) | p | CAR(0,+1) | p |")
    assert lines[5].startswith("| **Portfolio, equal-weighted** † |")
    assert "### Event tinycars: TINY CARS post" in md
    tex = (written / "tables" / "tests.tex").read_text()
    assert tex.count(r"\begin{tabular}{lrrrrrrrr}") == 2 and r"\toprule" in tex
    assert r"Portfolio, equal-weighted$^\dagger$" in tex
    assert r"Kolari-Pynn\"onen" in tex


def test_role_note_counts_the_named_oems(tmp_path):
    """ "the four named OEMs" was printed whatever the count: this study has three."""
    run = make_run()
    roles = pd.DataFrame(
        [
            {"exchange": "XTKS", "event_id": "kei_cafe", "role": r, "subset": f"{r} ({n})",
             "window": "(0,0)", "n": n, "caar": c, "t_portfolio": 1.0, "p_portfolio": 0.3}
            for r, n, c in (("oem", 3, 0.02), ("peer", 1, 0.01))
        ]
    )  # fmt: skip
    firms = run.firms.copy()
    day0 = (firms["measure"] == "AR(0)") & (firms["event_id"] == "kei_cafe")
    firms.loc[day0 & (firms["security"] == "7211.T"), "estimate"] = -0.02  # a peer fell
    run = StudyRun(**{**run.__dict__, "analyses": {"roles": roles}, "firms": firms})
    html = report.write(run, tmp_path / "r", plotlyjs="none").read_text()
    assert "the named OEMs (3)" in html and "moved against the 3 named OEMs" in html
    assert "four" not in html


def test_a_failed_run_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "kei_cars"
    report.write(simulated_results(), out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.tables, "write_json", boom)  # after fragments and tables
    with pytest.raises(ReportError, match="previous report is unchanged"):
        report.write(make_run(), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kei_cars"]


def test_writers_of_one_report_serialise_on_a_filelock(tmp_path, monkeypatch):
    """The folder lock is filelock's (locks on Windows too; it was fcntl, unlocked there):
    while another writer holds it, a second waits, then gives up with one clear line."""
    from eventstudy.report import atomic

    out = tmp_path / "r"
    monkeypatch.setattr(atomic, "LOCK_TIMEOUT", 0.3)
    with atomic.report_lock(out):
        with pytest.raises(ReportError, match=r"another run has been writing .*; wait for it"):
            report.write(simulated_results(), out)
    assert not out.exists()
    report.write(simulated_results(), out)  # released: the next writer goes ahead
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no lock file beside it
    assert atomic.report_lock(tmp_path / "." / "r").lock_file == atomic.report_lock(out).lock_file


def test_a_report_folder_that_is_a_symlink_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "theirs"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    (tmp_path / "r").symlink_to(target, target_is_directory=True)
    with pytest.raises(ReportError, match=r"report folder .*r is a symlink \(to .*theirs\)"):
        report.write(simulated_results(), tmp_path / "r")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "theirs"]


def test_a_second_run_replaces_the_report_whole(tmp_path):
    out = tmp_path / "r"
    report.write(make_run(), out)
    assert (out / "fragments" / "prices-xtks-kei-cafe.html").exists()
    report.write(simulated_results(), out)  # no prices this time
    assert not (out / "fragments" / "prices-xtks-kei-cafe.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_write_accepts_a_results_object_directly(tmp_path):
    import eventstudy as es

    res = simulated_results()
    path = es.report.write(res, tmp_path / "nb")  # as in a notebook
    assert report.write_results(res, tmp_path / "nb2").is_file()
    html = path.read_text()
    assert "ar-kei-cafe" in html and "Event study" in html
    assert (tmp_path / "nb" / "fragments" / "heatmap.html").is_file()
    for sentence in (line for line in str(res.summary()).splitlines()[:2]):
        assert sentence in _visible(html)  # the summary's verdicts, in the same words
    firms = pd.read_csv(tmp_path / "nb" / "tables" / "firms.csv")
    assert "exchange" not in firms and set(firms["event_id"]) == set(EVENT_DATES)


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
    with pytest.raises(ReportError, match="use 'sibling', 'inline' or 'div'"):
        report.write(simulated_results(), tmp_path / "r", fragments="iframe")
    with pytest.raises(ReportError, match="unknown image format"):
        report.write(simulated_results(), tmp_path / "r", images=("gif",))
    with pytest.raises(ReportError, match="StudyRun"):
        report.write(object(), tmp_path / "r")  # type: ignore[arg-type]
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
    assert 'pip install -e ".[image]"' in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "r").exists()


def test_images_without_a_browser_name_the_fix(tmp_path, monkeypatch):
    pytest.importorskip("kaleido", reason="the image extra (kaleido) is not installed")
    from eventstudy.report import images

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
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


def test_render_markdown_survives_control_characters():
    """A dossier with NUL or other C0 characters used to raise IndexError (issue 15)."""
    out = str(report.render_markdown("# T\x00itle\n\nA \x01 b \x1b[31m c\x7f **d\x00**\r\ne"))
    assert "<h3>T\ufffditle</h3>" in out
    assert "<strong>d\ufffd</strong>" in out
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", out)


def test_render_markdown_links_only_web_and_mail_and_loads_no_image():
    out = str(
        report.render_markdown(
            "![t](https://tracker.example/p.png) [r](notes.md) [d](data:text/html,x) "
            "[m](mailto:a@b.example) see https://a.example/x. and www.b.example"
        )
    )
    assert "<img" not in out
    assert out.count("<a ") == 3, out  # the image's own text link, mailto, the bare URL
    assert 'href="notes.md"' not in out and 'href="data:' not in out
    assert '<a href="https://a.example/x" rel="noopener noreferrer">' in out
    assert "www.b.example</p>" in out  # no scheme, no link


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_render_markdown_never_crashes_nor_lets_markup_through(text):
    out = str(report.render_markdown(text + "\n<script>x</script>"))
    assert "<script" not in out and "<img" not in out
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", out)
    assert not re.search(r"href=\"(?!https?://|mailto:)", out)


def test_report_on_several_exchanges_keeps_groups_apart(tmp_path):
    base = make_run()
    us = simulated_results(seed=5)
    results = {"XTKS": base.results["XTKS"], "XNYS": us}
    verdicts, firms = runner.verdicts_and_firms(base.plan, {"XTKS": results["XTKS"]})
    v_us, f_us = runner.verdicts_and_firms(base.plan, {"XTKS": us})
    v_us = tuple(type(v)(**{**v.__dict__, "exchange": "XNYS"}) for v in v_us)
    f_us = f_us.assign(exchange="XNYS")
    run = StudyRun(
        **{
            **base.__dict__,
            "results": results,
            "verdicts": verdicts + v_us,
            "firms": pd.concat([firms, f_us], ignore_index=True),
        }
    )
    out = tmp_path / "multi"
    html = report.write(run, out).read_text()
    assert 'id="ar-xtks-kei-cafe"' in html and 'id="ar-xnys-kei-cafe"' in html
    assert html.count('data-verdict="kei_cafe"') == 2 and 'data-exchange="XNYS"' in html
    tests = pd.read_csv(out / "tables" / "tests.csv")
    assert set(tests["exchange"]) == {"XTKS", "XNYS"}
    assert "### Event kei_cafe (NYSE)" in (out / "tables" / "tests.md").read_text()


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


# ----------------------------------------------------------------------------- template cache


def test_compiled_templates_are_cached_and_a_damaged_entry_is_compiled_again(tmp_path, monkeypatch):
    """The report template is compiled once per cache folder: a later environment loads
    it without compiling; a truncated entry is ignored, compiled again and replaced."""
    import jinja2

    from eventstudy.report import html

    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path / "cache"))
    first = html.environment().get_template("report.html.j2")
    entries = list((tmp_path / "cache" / "templates").iterdir())
    assert len(entries) == 1 and entries[0].stat().st_size > 1000
    assert not [p for p in entries if p.name.endswith(".tmp")]

    def no_compile(*a, **k):
        raise AssertionError("compiled although the cache holds the template")

    with monkeypatch.context() as m:
        m.setattr(jinja2.Environment, "compile", no_compile)
        again = html.environment().get_template("report.html.j2")
    assert again.root_render_func.__code__.co_code == first.root_render_func.__code__.co_code

    whole = entries[0].read_bytes()
    entries[0].write_bytes(whole[: len(whole) // 3])  # a write cut short
    rebuilt = html.environment().get_template("report.html.j2")
    assert rebuilt.blocks.keys() == first.blocks.keys()
    assert entries[0].read_bytes() == whole  # compiled again and written whole


def test_firm_table_cells_are_the_firms_rows_formatted_and_blank_where_a_measure_is_missing():
    """The page's firm table (one pass over firms.csv's rows): per firm and measure the
    estimate with stars, s.e., t and p as the rows hold them; a firm without a measure gets
    four blank cells, and a row with a missing name is left out, as a groupby leaves it."""
    from eventstudy.report.build import build_report
    from eventstudy.report.inputs import ReportInput

    run = make_run()
    firms = run.firms.copy()
    mine = firms["event_id"] == "kei_cafe"
    lone = str(firms.loc[mine, "security"].iloc[-1])
    firms = firms[~(mine & (firms["security"] == lone) & (firms["measure"] == "CAR(0,+5)"))]
    nameless = str(firms.loc[mine, "security"].iloc[0])
    firms.loc[mine & (firms["security"] == nameless), "name"] = None
    run = StudyRun(**{**run.__dict__, "firms": firms})
    built = build_report(ReportInput.from_run(run))
    event = next(ev for ev in built.events if ev.id == "kei_cafe")
    table = event.blocks[0].firms
    rows = {r.symbol: r for r in table.rows}
    expected = firms[(firms["event_id"] == "kei_cafe") & firms["name"].notna()]
    assert list(rows) == list(dict.fromkeys(expected["security"].astype(str)))
    assert nameless not in rows
    for sec, row in rows.items():
        assert row.firm == str(expected.loc[expected["security"] == sec, "name"].iloc[0])
        for k, m in enumerate(table.measures):
            cells = row.cells[4 * k : 4 * k + 4]
            rec = expected[(expected["security"] == sec) & (expected["measure"] == m)]
            if rec.empty:
                assert (sec, m) == (lone, "CAR(0,+5)")
                assert [c.text for c in cells] == [""] * 4
                continue
            r = rec.iloc[0]
            assert cells[0].text == f"{r['estimate'] * 100:+.2f}%{r['stars']}"
            assert cells[1].text == f"{r['se'] * 100:.2f}%"
            assert cells[2].text == f"{r['t']:.2f}"
            assert cells[3].text == f"{r['p_value']:.4f}"
            assert cells[3].cls == ("sig" if r["p_value"] < 0.05 else "")
            assert cells[3].sort == pytest.approx(r["p_value"])


def test_role_note_day0_return_skips_missing_closes_as_the_gapless_series_does():
    """The close-to-close return the role note quotes: day 0's close over the last close
    before it, missing closes skipped; none without a close on day 0 or before it."""
    from types import SimpleNamespace

    from eventstudy.report.analyses import _raw_day0

    idx = pd.bdate_range("2025-12-01", periods=6)
    close = pd.Series([100.0, 104.0, np.nan, np.nan, 99.0, np.nan], index=idx)
    inp = SimpleNamespace(
        prices={
            "A": pd.DataFrame({"close": close, "adj_close": close / 2}),
            "B": pd.DataFrame({"close": close.to_numpy()[::-1]}, index=idx),
        }
    )

    def by_hand(series: pd.Series, day: pd.Timestamp) -> float | None:
        s = series.dropna()
        if day not in s.index or s.index.get_loc(day) == 0:
            return None
        return float(s.loc[day] / s[s.index < day].iloc[-1] - 1.0)

    for day in idx:
        assert _raw_day0(inp, day, "A") == by_hand(close / 2, day)  # adjusted close first
        assert _raw_day0(inp, day, "B") == by_hand(inp.prices["B"]["close"], day)
    assert _raw_day0(inp, idx[4], "A") == pytest.approx(99.0 / 104.0 - 1.0, rel=1e-15)
    assert _raw_day0(inp, idx[5], "A") is None  # no close on day 0
    assert _raw_day0(inp, idx[0], "A") is None  # nothing before it
    assert _raw_day0(inp, pd.Timestamp("2026-01-05"), "A") is None  # not a session
    assert _raw_day0(inp, idx[4], "C") is None and _raw_day0(inp, None, "A") is None
