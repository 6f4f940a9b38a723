"""The report of a study of hundreds of securities stays readable and bounded.

A simulated study of 300 Tokyo stocks around two events (``SimulatedSource``, a few stocks
with an injected abnormal return) is run once and written once. Checked:

- every per-security figure of the page and of the fragments draws at most
  ``MAX_SECURITIES_SHOWN`` securities (traces, heatmap rows, matrix sides);
- the movers drawn and listed are the true 10 largest and 10 smallest CAR(0,+1), against
  CARs summed from the abnormal returns with pandas (not the engine's ``car``);
- the distribution figure's data are every firm's CAR, its mean and median those of numpy;
- the per-firm tables on the page hold the movers only, the CSVs every firm-event;
- a study under the cap is drawn exactly as without one.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_figures import simulated_results

from eventstudy import figures, report
from eventstudy.config import parse_config
from eventstudy.movers import MAX_SECURITIES_SHOWN, MOVERS_SHOWN, top_and_bottom
from eventstudy.runner import StudyRun, headline, run_study

N_SECURITIES = 300
SYMBOLS = [f"{1000 + i}.T" for i in range(N_SECURITIES)]
EVENTS = {"e00": "2025-03-05T14:30:00-05:00", "e01": "2025-09-10T14:30:00-05:00"}
INJECTED = {("e00", "1000.T"): 0.09, ("e00", "1001.T"): -0.07, ("e01", "1002.T"): 0.06}
#: Height of the page of two events of 300 securities in a 1400 px window: 7,600 px when
#: written (the kei-car page's bound is 6,000 px; each event here adds the distribution
#: and 20 movers' rows).
MAX_PAGE_HEIGHT = 9000
#: Figures that draw securities one by one (their id prefix).
PER_SECURITY = ("ar-", "car-", "prices-", "heatmap", "forest", "diagnostics", "residual")


def scale_config(n: int = N_SECURITIES) -> dict:
    return {
        "name": "scale",
        "title": "Report at scale",
        "securities": [
            {"symbol": s, "name": f"Company {s}", "role": "oem" if i < 4 else "peer"}
            for i, s in enumerate(SYMBOLS[:n])
        ],
        "market": {"XTKS": "TOPIX"},
        "events": [{"id": k, "title": f"Event {k}", "announced": ts} for k, ts in EVENTS.items()],
        "estimation": [-250, -11],
        "event_window": [-10, 10],
        "car_windows": [[0, 0], [0, 1], [-1, 1], [0, 5]],
        "source": {
            "kind": "simulated",
            "seed": 3,
            "start": "2024-01-04",
            "end": "2025-12-30",
            "industry_vol": 0.004,
            "injected": [{"event": e, "security": s, "ar": a} for (e, s), a in INJECTED.items()],
        },
    }


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> StudyRun:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVENTSTUDY_CACHE", str(tmp_path_factory.mktemp("cache")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_study(parse_config(scale_config()), quiet=True)


@pytest.fixture(scope="module")
def scale_report(scale_run: StudyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report.write(scale_run, tmp_path_factory.mktemp("scale") / "r").parent


def independent_car(run: StudyRun, window: tuple[int, int] = (0, 1)) -> pd.DataFrame:
    """CAR per firm-event: the abnormal returns summed over the window, with pandas."""
    ar = run.results["XTKS"].abnormal_returns
    inside = ar[ar["rel_day"].between(*window)]
    return (
        inside.groupby(["event_id", "security"])["ar"]
        .sum(min_count=window[1] - window[0] + 1)
        .rename("car")
        .reset_index()
    )


def true_movers(cars: pd.DataFrame, event_id: str) -> set[str]:
    mine = cars[cars["event_id"] == event_id].set_index("security")["car"]
    return set(mine.nlargest(MOVERS_SHOWN).index) | set(mine.nsmallest(MOVERS_SHOWN).index)


def plotly_figures(text: str) -> dict[str, tuple[list, dict]]:
    """Every ``Plotly.newPlot`` of an HTML text: div id -> (data, layout)."""
    out = {}
    decoder = json.JSONDecoder()
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"([^\"]+)\",\s*", text):
        data, end = decoder.raw_decode(text, m.end())
        rest = text[end:].lstrip(", \n")
        layout, _ = decoder.raw_decode(rest)
        out[m.group(1)] = (data, layout)
    return out


def array(x: list | dict) -> np.ndarray:
    """A trace's numbers as plotly.js reads them (plain list or base64 typed array)."""
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"]))
    return np.asarray(x, dtype=float)


def drawn_securities(data: list) -> set[str]:
    """Securities drawn by a figure's traces (``legendgroup``), the portfolio aside."""
    return {
        t["legendgroup"]
        for t in data
        if t.get("legendgroup") and t["legendgroup"] != figures.PORTFOLIO
    }


def check_caps(figs: dict[str, tuple[list, dict]]) -> None:
    per = {k: v for k, v in figs.items() if k.startswith(PER_SECURITY)}
    assert {k.split("-")[0] for k in per} >= {"ar", "car", "prices", "heatmap", "forest"}
    for fid, (data, _) in per.items():
        assert len(drawn_securities(data)) <= MAX_SECURITIES_SHOWN, fid
        assert len(data) <= MAX_SECURITIES_SHOWN, (fid, len(data))
        for t in data:
            if t["type"] == "heatmap":
                assert len(t["y"]) <= MAX_SECURITIES_SHOWN, fid


def test_every_per_security_figure_of_the_page_draws_at_most_the_cap(scale_report):
    check_caps(plotly_figures((scale_report / "index.html").read_text(encoding="utf-8")))


def test_every_fragment_obeys_the_same_cap(scale_report):
    figs: dict[str, tuple[list, dict]] = {}
    for frag in (scale_report / "fragments").glob("*.html"):
        figs.update(plotly_figures(frag.read_text(encoding="utf-8")))
    page = plotly_figures((scale_report / "index.html").read_text(encoding="utf-8"))
    assert set(page) <= set(figs)
    check_caps(figs)


def test_the_movers_drawn_and_listed_are_the_true_largest_and_smallest(scale_run, scale_report):
    cars = independent_car(scale_run)
    text = (scale_report / "index.html").read_text(encoding="utf-8")
    figs = plotly_figures(text)
    for eid in EVENTS:
        expected = true_movers(cars, eid)
        assert len(expected) == 2 * MOVERS_SHOWN
        for kind in ("ar", "car", "prices"):
            data, layout = figs[f"{kind}-xtks-{eid}"]
            drawn = drawn_securities(data) - {"TOPIX"}
            assert drawn == expected, (kind, eid)
            assert (
                f"the 10 largest and 10 smallest CAR(0,+1) of {N_SECURITIES}"
                in (layout["title"]["text"])
            )
        # the firm table lists the same firms, largest CAR first
        table = re.search(rf'<table class="data firms sortable" data-firms="{eid}">(.*?)</table>',
                          text, re.S).group(1)  # fmt: skip
        listed = re.findall(r'<tr data-security="([^"]+)">', table)
        assert set(listed) == expected
        mine = cars[cars["event_id"] == eid].set_index("security")["car"]
        assert list(mine.loc[listed]) == sorted(mine.loc[listed], reverse=True)
        assert f"of {N_SECURITIES} securities, largest first" in text
    # the injected movers are among them
    assert "1000.T" in true_movers(cars, "e00") and "1001.T" in true_movers(cars, "e00")


def test_the_distribution_figure_holds_every_car(scale_run, scale_report):
    cars = independent_car(scale_run)
    figs = plotly_figures((scale_report / "index.html").read_text(encoding="utf-8"))
    for eid in EVENTS:
        data, layout = figs[f"distribution-xtks-{eid}"]
        (hist,) = data
        assert hist["type"] == "histogram"
        expected = cars.loc[cars["event_id"] == eid, "car"].dropna().to_numpy() * 100
        drawn = array(hist["x"])
        assert len(drawn) == len(expected) == N_SECURITIES
        np.testing.assert_allclose(np.sort(drawn), np.sort(expected), rtol=1e-12)
        _, mean, median = hist["meta"]
        assert mean == pytest.approx(np.mean(expected), rel=1e-12)
        assert median == pytest.approx(np.median(expected), rel=1e-12)
        lines = sorted(s["x0"] for s in layout["shapes"] if s["type"] == "line")
        assert lines == pytest.approx(sorted([0.0, np.mean(expected), np.median(expected)]))


def test_the_full_tables_stay_in_the_csvs(scale_run, scale_report):
    firms = pd.read_csv(scale_report / "tables" / "firms.csv")
    head = firms[firms["measure"] == "CAR(0,+1)"]
    assert head.groupby("event_id")["security"].nunique().to_dict() == {
        e: N_SECURITIES for e in EVENTS
    }
    cars = independent_car(scale_run)
    merged = head.merge(cars, on=["event_id", "security"])
    np.testing.assert_allclose(merged["estimate"], merged["car"], rtol=1e-9, atol=1e-12)
    assert "tables/firms.csv" in (scale_report / "index.html").read_text(encoding="utf-8")


def test_the_page_stays_small(scale_report):
    """Without plotly.js (4.7 MB, once in head) the page of 600 firm-events is small."""
    text = (scale_report / "index.html").read_text(encoding="utf-8")
    script = re.search(r"<script type=\"text/javascript\">.*?</script>", text, re.S)
    assert script is not None
    rest = len(text.encode()) - len(script.group(0).encode())
    assert rest < 1_500_000, rest
    assert text.count("<tr") < 300


def test_the_terminal_prints_the_movers_only(scale_run):
    text = headline(scale_run)
    cars = independent_car(scale_run)
    for eid in EVENTS:
        block = text.split(f"Firms, {eid}")[1].split("\n\n")[0]
        assert f"the 10 largest and 10 smallest CAR(0,+1) of {N_SECURITIES}" in block
        printed = set(re.findall(r"\b(1\d{3}\.T)\b", block))
        assert printed == true_movers(cars, eid)


def test_top_and_bottom_against_pandas():
    rng = np.random.default_rng(4)
    values = pd.Series(rng.normal(size=200), index=[f"S{i}" for i in range(200)])
    values.iloc[[3, 50]] = np.nan
    m = top_and_bottom(values, measure="CAR(0,+1)")
    assert m.capped and m.total == 200
    assert m.keys[:10] == list(values.nlargest(10).index)
    assert m.keys[10:] == list(values.nsmallest(10).index[::-1])
    assert m.label == "the 10 largest and 10 smallest CAR(0,+1) of 200 securities"
    small = values.iloc[:MAX_SECURITIES_SHOWN]
    kept = top_and_bottom(small, measure="CAR(0,+1)")
    assert not kept.capped and kept.keys == list(small.index) and kept.label == ""
    assert top_and_bottom(values, measure="x", cap=None).keys == list(values.index)


def test_a_study_under_the_cap_is_drawn_as_without_a_cap():
    res = simulated_results()
    pairs = [
        (figures.plot_ar(res, "kei_cafe"), figures.plot_ar(res, "kei_cafe", cap=None)),
        (figures.plot_car(res, "kei_cafe"), figures.plot_car(res, "kei_cafe", cap=None)),
        (figures.plot_heatmap(res), figures.plot_heatmap(res, cap=None)),
        (figures.plot_forest(res), figures.plot_forest(res, cap=None)),
        (figures.plot_diagnostics(res), figures.plot_diagnostics(res, cap=None)),
        (
            figures.plot_residual_correlation(res),
            figures.plot_residual_correlation(res, cap=None),
        ),
    ]
    for capped, full in pairs:
        assert capped.to_json() == full.to_json()
        assert "shown:" not in capped.layout.title.text


def test_a_lowered_cap_draws_the_movers_of_a_small_study():
    """The cap is a parameter: a few firms above a cap of 3 are drawn as movers (fewer than
    twice ``MOVERS_SHOWN``: the largest and the smallest half)."""
    res = simulated_results()
    car = res.car((0, 1))
    mine = car[car["event_id"] == "kei_cafe"].set_index("security")["car"].dropna()
    assert len(mine) > 3
    k = len(mine) // 2
    fig = figures.plot_car(res, "kei_cafe", cap=3)
    top = top_and_bottom(mine, measure="CAR(0,+1)", cap=3)
    largest = list(mine.sort_values(ascending=False).index[:k])
    smallest = list(mine.sort_values().index[:k][::-1])
    assert top.keys == largest + smallest
    assert drawn_securities(fig.to_plotly_json()["data"]) == set(top.keys)
    assert f"the {k} largest and {k} smallest CAR(0,+1) of {len(mine)}" in fig.layout.title.text


def test_the_results_summary_prints_the_movers_only(scale_run):
    res = scale_run.results["XTKS"]
    summary = res.summary()
    (title, firms), *_ = summary.tables
    cars = independent_car(scale_run)
    assert f"its {MOVERS_SHOWN} largest and {MOVERS_SHOWN} smallest CAR(0,+1)" in title
    for eid in EVENTS:
        mine = firms[firms["event_id"] == eid]
        assert set(mine["security"]) == true_movers(cars, eid)
    assert len(res.firm_table((0, 1))) == N_SECURITIES * len(EVENTS)


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_renders_in_a_browser_with_the_answer_first(scale_run, scale_report, tmp_path):
    """Headless Chromium: every figure of the 300-security page draws, nothing logs an error,
    the verdicts are on the first screen and the page stays short."""
    from test_browser import FIRST_SCREEN, _console_messages, _rendered, measure

    numbers, dom, stderr = measure(scale_report / "index.html", tmp_path / "profile")
    shown = {v["key"]: v for v in numbers["verdicts"]}
    for v in scale_run.verdicts:
        assert 0 <= shown[v.key]["top"] and shown[v.key]["bottom"] <= FIRST_SCREEN[1]
    ids = plotly_figures((scale_report / "index.html").read_text(encoding="utf-8"))
    missing = [fid for fid in ids if not _rendered(dom, fid)]
    assert not missing, missing
    assert not _console_messages(stderr), _console_messages(stderr)
    assert numbers["height"] < MAX_PAGE_HEIGHT, numbers["height"]


def test_the_diagnostics_are_counts_of_every_firm_event(scale_run, scale_report):
    """Above the cap, beta, R² and sigma are histograms; each bar counts the firm-events whose
    value is inside it (counted here with pandas), and every firm-event is counted once."""
    params = scale_run.results["XTKS"].params
    figs = plotly_figures((scale_report / "index.html").read_text(encoding="utf-8"))
    data, _ = figs["diagnostics-xtks"]
    by_field = {t["meta"][0]: t for t in data}
    assert set(by_field) == {"beta", "r2", "sigma"}
    for name, scale in (("beta", 1.0), ("r2", 100.0), ("sigma", 100.0)):
        bars = by_field[name]
        counts = array(bars["y"])
        centers, widths = array(bars["x"]), array(bars["width"])
        values = params[name] * scale
        assert counts.sum() == len(values) == N_SECURITIES * len(EVENTS)
        last = len(counts) - 1
        for k, (c, w, n) in enumerate(zip(centers, widths, counts, strict=True)):
            # [lo, hi), the last bin [lo, hi]; edges rebuilt from centre and width, to 1e-9 w
            lo, hi = c - w / 2 - 1e-9 * w, c + w / 2 + (1e-9 if k == last else -1e-9) * w
            inside = values.between(lo, hi, inclusive="left")
            assert int(inside.sum()) == int(n), (name, lo, hi)


def test_the_role_note_names_at_most_the_movers_against_the_oems(scale_run, scale_report):
    text = (scale_report / "index.html").read_text(encoding="utf-8")
    firms = pd.read_csv(scale_report / "tables" / "firms.csv")
    roles = pd.read_csv(scale_report / "tables" / "roles.csv")
    for eid in EVENTS:
        oem = roles[(roles["event_id"] == eid) & (roles["window"] == "(0,0)")]
        oem_ar = float(oem.loc[oem["role"] == "oem", "caar"].iloc[0])
        ar0 = firms[(firms["event_id"] == eid) & (firms["measure"] == "AR(0)")]
        against = ar0[(ar0["role"] != "oem") & (np.sign(ar0["estimate"]) != np.sign(oem_ar))]
        assert len(against) > MOVERS_SHOWN
        section = text.split(f'id="event-{eid}"')[1].split('data-analysis="roles"')[1]
        note = section.split("</p>")[0]
        assert note.count("moved against the 4 named OEMs on day 0") == MOVERS_SHOWN
        assert f"{len(against) - MOVERS_SHOWN:,} more firms moved against" in note
        largest = against.loc[against["estimate"].abs().nlargest(MOVERS_SHOWN).index, "security"]
        assert all(f"{s} moved against" in note for s in largest)
