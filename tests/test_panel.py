"""The panel path of price preparation equals the per-symbol path.

``SimulatedSource.panel``/``frames`` against ``get``, ``returns_from_panel`` against
``compute_returns`` (missing prices, a symbol without data, off-session prices, an as-of
series), and ``runner.prepare``/``run_study`` with and without the panel (a simulated
study and a CSV study on a small wide file), plus returns recomputed by hand.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy import calendar as cal
from eventstudy import runner
from eventstudy.data import SimulatedSource, compute_returns, returns_from_panel
from eventstudy.exceptions import DataError, UnknownSymbol
from eventstudy.plan import plan_study

SYMBOLS = [f"S{i:02d}" for i in range(30)]


def _sim() -> SimulatedSource:
    return SimulatedSource(
        11,
        "2024-01-02",
        "2024-12-31",
        SYMBOLS,
        market_symbol="^GSPC",
        industry_vol=0.004,
        betas={"S01": 1.4, "S02": 0.6},
        injected={("S03", "2024-06-03"): 0.05, ("S04", "2024-06-03"): -0.03},
    )


def _without_time(prov: dict) -> dict:
    return {k: v for k, v in prov.items() if k != "fetched_at"}


# ----------------------------------------------------------------------------- simulated


def test_the_simulated_panel_is_get_to_the_bit():
    src = _sim()
    panel = src.panel([*SYMBOLS, "^GSPC"], "2024-03-01", "2024-11-29")
    for sym in [*SYMBOLS, "^GSPC"]:
        one = src.get(sym, "2024-03-01", "2024-11-29")
        assert panel.index.equals(one.index)
        assert np.array_equal(panel[sym].to_numpy(), one["adj_close"].to_numpy())
    assert panel.index[0] == pd.Timestamp("2024-03-01")
    assert panel.index[-1] == pd.Timestamp("2024-11-29")
    frames, _ = src.frames(SYMBOLS, "2024-03-01", "2024-11-29")
    for sym in SYMBOLS:
        one = src.get(sym, "2024-03-01", "2024-11-29")
        pd.testing.assert_frame_equal(frames[sym], one, check_exact=True)
        assert _without_time(frames[sym].attrs["provenance"]) == _without_time(
            one.attrs["provenance"]
        )
    assert frames["S03"].attrs["provenance"]["injected"] == 1
    assert frames["S05"].attrs["provenance"]["injected"] == 0


def test_the_simulated_panel_compounds_the_returns_by_hand():
    src = _sim()
    panel = src.panel(["S01"])
    growth = 1.0
    for t, r in enumerate(src.returns["S01"]):
        growth *= 1.0 + r  # P_t = P_0 (1 + r_1) ... (1 + r_t), one product after another
        assert panel["S01"].iloc[t] == 100.0 * growth
    # the return of a day, from two prices by hand, is the simulated return
    d = src.sessions.get_loc(pd.Timestamp("2024-06-03"))
    p = panel["S01"].to_numpy()
    assert math.isclose(p[d] / p[d - 1] - 1.0, src.returns["S01"].iloc[d], abs_tol=1e-12)


def test_an_unknown_symbol_is_the_same_error_from_the_panel():
    src = _sim()
    with pytest.raises(UnknownSymbol) as one:
        src.get("NOPE")
    with pytest.raises(UnknownSymbol) as many:
        src.panel(["S01", "NOPE"])
    assert str(many.value) == str(one.value)


# ----------------------------------------------------------------------------- returns


def _messy_panel() -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    sessions = cal.sessions("XNYS", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-06-28"))
    rng = np.random.default_rng(5)
    n = len(sessions)
    data = {f"C{j}": 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n))) for j in range(6)}
    panel = pd.DataFrame(data, index=sessions)
    panel.iloc[10:13, 1] = np.nan  # three sessions without a price
    panel.iloc[:20, 2] = np.nan  # listed late
    panel.iloc[-15:, 3] = np.nan  # delisted early
    panel["EMPTY"] = np.nan  # a symbol with no data at all
    # one price on a Saturday (not a session) for C4, and an FX-like series every weekday
    sat = pd.Timestamp("2024-03-16")
    weekdays = pd.bdate_range(sessions[0], sessions[-1])
    fx = pd.Series(140 + np.cumsum(rng.normal(0, 0.3, len(weekdays))), index=weekdays)
    panel = panel.reindex(panel.index.union([sat]).union(weekdays))
    panel.loc[sat, "C4"] = 51.0
    panel["FX"] = fx
    panel.index.name = "date"
    return panel, sessions


def _frames(panel: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-symbol Prices frames holding each column's non-missing prices."""
    return {
        c: pd.DataFrame({"close": panel[c].dropna(), "adj_close": panel[c].dropna()})
        for c in panel.columns
    }


def _recorded(fn) -> tuple[pd.DataFrame, list[tuple[type, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("kind", ["simple", "log"])
def test_returns_from_a_panel_equal_the_per_symbol_returns(kind):
    panel, sessions = _messy_panel()
    per, per_warn = _recorded(
        lambda: compute_returns(_frames(panel), sessions, kind=kind, exchange="XNYS")
    )
    vec, vec_warn = _recorded(lambda: returns_from_panel(panel, sessions, kind, exchange="XNYS"))
    pd.testing.assert_frame_equal(vec, per, check_exact=True)
    assert vec.attrs == per.attrs
    assert vec_warn == per_warn
    # what the per-symbol path says, checked on its own
    texts = [m for _, m in per_warn]
    assert any(m.startswith("C1") and "3 session" in m for m in texts)
    assert any(m.startswith("C4: 1 price(s) on dates that are not sessions") for m in texts)
    assert vec.attrs["alignment"]["FX"] == "asof"
    assert vec.attrs["alignment"]["C0"] == "sessions"
    assert vec["EMPTY"].isna().all() and vec.attrs["missing"]["EMPTY"] == []
    assert len(vec.attrs["missing"]["C1"]) == 3
    # a return by hand from two prices, and NaN on and after a missing session
    p = panel["C0"]
    d0, d1 = sessions[40], sessions[41]
    hand = p[d1] / p[d0] - 1.0 if kind == "simple" else math.log(p[d1] / p[d0])
    assert math.isclose(vec.loc[d1, "C0"], hand, rel_tol=1e-12)
    assert np.isnan(vec.iloc[10:14, 1]).all() and not np.isnan(vec.iloc[14, 1])
    assert np.isnan(vec.iloc[0]).all()


def test_forced_as_of_and_default_sessions_match_too():
    panel, sessions = _messy_panel()
    for kw in ({"asof": ["C0"], "asof_side": "before"}, {"asof": []}):
        per, pw = _recorded(lambda kw=kw: compute_returns(_frames(panel), sessions, **kw))
        vec, vw = _recorded(lambda kw=kw: returns_from_panel(panel, sessions, **kw))
        pd.testing.assert_frame_equal(vec, per, check_exact=True)
        assert vec.attrs == per.attrs and vw == pw
    per, pw = _recorded(lambda: compute_returns(_frames(panel)))  # sessions: dates with a price
    vec, vw = _recorded(lambda: returns_from_panel(panel))
    pd.testing.assert_frame_equal(vec, per, check_exact=True)
    assert vec.attrs == per.attrs and vw == pw


def test_a_non_positive_price_is_the_same_error():
    panel, sessions = _messy_panel()
    panel.iloc[30, 2] = 0.0
    panel.iloc[50, 1] = -1.0
    with pytest.raises(DataError) as per:
        compute_returns(_frames(panel), sessions)
    with pytest.raises(DataError) as vec:
        returns_from_panel(panel, sessions)
    assert str(vec.value) == str(per.value)
    assert "C1" in str(vec.value) and str(panel.index[50].date()) in str(vec.value)


# ----------------------------------------------------------------------------- studies

EVENTS = """
events:
  - {id: e1, title: First, announced: "2024-06-12T16:30:00-04:00"}
  - {id: e2, title: Second, announced: "2024-09-11T16:30:00-04:00"}
  - {id: e3, title: Late, announced: "2024-12-11T16:30:00-05:00"}
estimation: [-120, -11]
event_window: [-3, 3]
car_windows: [[0, 0], [0, 1]]
"""


def _study(tmp_path: Path, securities: str, source: str) -> Path:
    (tmp_path / "seeds").mkdir(exist_ok=True)
    (tmp_path / "configs").mkdir(exist_ok=True)
    study = tmp_path / "configs" / "study.yaml"
    study.write_text(
        "name: panel\n"
        + securities
        + "\nmarket: {XNYS: ^GSPC}\n"
        + textwrap.dedent(EVENTS)
        + textwrap.dedent(source),
        encoding="utf-8",
    )
    return study


def _both(study: Path, monkeypatch: pytest.MonkeyPatch):
    """(prepared, warnings) with the panel path, then with the per-symbol path."""
    plan = plan_study(study)
    out = []
    for use_panel in (True, False):
        with monkeypatch.context() as mp:
            if not use_panel:
                mp.setattr(runner, "_security_panel", lambda *a, **k: None)
            else:
                calls = []
                real = runner._security_panel

                def spy(*a, _real=real, _calls=calls, **k):
                    got = _real(*a, **k)
                    _calls.append(got is not None)
                    return got

                mp.setattr(runner, "_security_panel", spy)
            prep, warned = _recorded(lambda: runner.prepare(plan))
            run, _ = _recorded(lambda prep=prep: runner.run_study(prep.plan, analyses=False))
            if use_panel:
                assert calls and all(calls)  # the panel path was taken
        out.append((prep, warned, run))
    return out


def _assert_same(panel_side, per_side) -> None:
    (p_prep, p_warn, p_run), (s_prep, s_warn, s_run) = panel_side, per_side
    assert p_warn == s_warn
    assert p_prep.notes == s_prep.notes
    assert p_prep.failures == s_prep.failures
    assert list(p_prep.prices) == list(s_prep.prices)
    for sym in s_prep.prices:
        pd.testing.assert_frame_equal(p_prep.prices[sym], s_prep.prices[sym], check_exact=True)
        assert _without_time(p_prep.prices[sym].attrs["provenance"]) == _without_time(
            s_prep.prices[sym].attrs["provenance"]
        )
    for ex, g in s_prep.groups.items():
        pg = p_prep.groups[ex]
        pd.testing.assert_frame_equal(pg.returns, g.returns, check_exact=True)
        assert pg.returns.attrs == g.returns.attrs
        pd.testing.assert_frame_equal(pg.events, g.events)
        assert pg.securities == g.securities and pg.market == g.market
        pr, sr = p_run.results[ex], s_run.results[ex]
        pd.testing.assert_frame_equal(pr.excluded, sr.excluded)
        pd.testing.assert_frame_equal(pr.car((0, 1)), sr.car((0, 1)), check_exact=True)
    assert p_run.notes == s_run.notes


def test_a_simulated_study_through_the_panel_equals_the_per_symbol_path(tmp_path, monkeypatch):
    inline = "securities:\n" + "".join(f"  - {{symbol: {s}, name: {s}}}\n" for s in SYMBOLS)
    study = _study(
        tmp_path,
        inline,
        """
        source:
          kind: simulated
          seed: 4
          start: 2023-11-01
          end: 2024-12-31
          industry_vol: 0.004
          injected: [{event: e1, security: "*", ar: 0.02}]
        """,
    )
    panel_side, per_side = _both(study, monkeypatch)
    _assert_same(panel_side, per_side)
    prep = panel_side[0]
    # the injected +2% is on e1's day 0 of every security (recomputed by hand from prices)
    day0 = prep.groups["XNYS"].events.query("event_id == 'e1'")["event_date"].iloc[0]
    prices = prep.prices["S07"]["adj_close"]
    i = prices.index.get_loc(day0)
    hand = prices.iloc[i] / prices.iloc[i - 1] - 1.0
    assert math.isclose(prep.groups["XNYS"].returns.loc[day0, "S07"], hand, rel_tol=1e-12)


def _wide_csv(path: Path) -> None:
    sessions = cal.sessions("XNYS", pd.Timestamp("2023-11-01"), pd.Timestamp("2024-12-31"))
    rng = np.random.default_rng(9)
    n = len(sessions)
    m = np.cumsum(rng.normal(0.0003, 0.01, n))
    cols = {"^GSPC": 4000 * np.exp(m)}
    for j in range(24):
        cols[f"W{j:02d}"] = 30 * np.exp(m * 0.9 + np.cumsum(rng.normal(0, 0.015, n)))
    frame = pd.DataFrame(cols, index=sessions.strftime("%Y-%m-%d"))
    text = frame.round(4).astype(object)
    text.iloc[150:153, 2] = ""  # W01: three missing prices in an estimation window
    text.iloc[:200, 3] = ""  # W02: listed after e1's estimation window began
    text.iloc[-40:, 4] = ""  # W03: gone before e3
    text.index.name = "Date"
    text.to_csv(path)


def test_a_csv_study_on_a_wide_file_through_the_panel_equals_the_per_symbol_path(
    tmp_path, monkeypatch
):
    _wide_csv(tmp_path / "wide.csv")
    names = [f"W{j:02d}" for j in range(24)] + ["NODATA"]  # NODATA: not in the file
    inline = "securities:\n" + "".join(f"  - {{symbol: {s}, name: {s}}}\n" for s in names)
    study = _study(tmp_path, inline, "source: {kind: csv, prices: wide.csv}\n")
    panel_side, per_side = _both(study, monkeypatch)
    _assert_same(panel_side, per_side)
    prep, warned, run = panel_side
    assert [f.symbol for f in prep.failures] == ["NODATA"]
    assert any("W01" in m and "3 session" in m for _, m in warned)
    excluded = set(run.results["XNYS"].excluded["security"])
    assert {"W02"} <= excluded  # too little estimation data for e1 (and e2? by the engine)
    # a return by hand from the file's two prices
    ret = prep.groups["XNYS"].returns
    raw = pd.read_csv(tmp_path / "wide.csv", index_col=0, parse_dates=True)["W05"]
    d0, d1 = raw.index[100], raw.index[101]
    assert math.isclose(ret.loc[d1, "W05"], raw[d1] / raw[d0] - 1.0, rel_tol=1e-12)


def test_warnings_point_at_the_caller_on_both_paths():
    panel, sessions = _messy_panel()
    for fn in (
        lambda: compute_returns(_frames(panel), sessions),
        lambda: returns_from_panel(panel, sessions),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        assert caught and {Path(w.filename).name for w in caught} == {"test_panel.py"}
