"""Universe scale: chunks of whole events on every backend give the one-process answer.

- ``collect="arrays"`` (default): every table is identical, to the last bit, whether the
  events are fitted here in one pass, chunk by chunk, in a process pool or on a Dask
  cluster;
- ``collect="summary"``: per-firm tables identical; per-event and pooled tests from merged
  sufficient statistics equal to the one-pass engine up to the order of additions, and the
  pooled t and BMP tests equal to scipy's on the per-firm CARs;
- ``simulate``: the same seed gives the same tables whatever the number of workers.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import eventstudy.study as study_module
from eventstudy import stats as st
from eventstudy.exceptions import ClusteredEventWarning, ConfigError, DataError
from eventstudy.parallel import split_clusters
from eventstudy.results import EngineData
from eventstudy.simulate import simulate, synthetic_returns
from eventstudy.study import event_study
from eventstudy.summary import SummaryResults

WINDOW = (-5, 5)
CAR_WINDOWS = [(0, 1), (-1, 1)]
WINDOWS = [WINDOW, *CAR_WINDOWS]
POOLS = {"E0": "early", "E1": "early", "E3": "late", "E4": "late"}


def _study(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """24 correlated securities around 6 events of 1 to 24 securities, with missing returns,
    a security with no variance, one not in the panel and an event too late to study."""
    rng = np.random.default_rng(seed)
    r = synthetic_returns(24, 900, common=0.3, seed=seed)
    r.iloc[100:140, 2] = np.nan  # a gap in some estimation windows
    r.iloc[rng.choice(900, 40, replace=False), 5] = np.nan  # scattered missing days
    r.iloc[592, 7] = np.nan  # a missing window day of event E3
    r["FLAT"] = 0.001  # no residual variance: dropped by the fit
    secs = [f"S{i}" for i in range(24)]
    rows = []
    for e, (day, n) in enumerate([(320, 24), (410, 1), (500, 9), (590, 17), (680, 5), (770, 12)]):
        for s in rng.choice(secs, n, replace=False):
            rows.append((s, r.index[day], f"E{e}"))
    rows += [("FLAT", r.index[410], "E1"), ("NOPE", r.index[500], "E2")]
    rows += [(s, r.index[897], "LATE") for s in secs[:3]]  # window past the last session
    return r, pd.DataFrame(rows, columns=["security", "event_date", "event_id"])


def _run(returns: pd.DataFrame, events: pd.DataFrame, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusteredEventWarning)
        return event_study(
            returns,
            events,
            market="MKT",
            estimation=(-250, -11),
            window=WINDOW,
            min_estimation_obs=150,
            **kw,
        )


def _tables(res: Any, arrays: bool = True) -> dict[str, pd.DataFrame]:
    out = {
        "events": res.events,
        "excluded": res.excluded,
        "params": res.params,
        "clustering": res.clustering,
        "test_notes": res.test_notes,
        "aar_tests": res.aar_tests(),
        "aar_tests by event": res.aar_tests(by="event_id"),
    }
    for w in WINDOWS:
        out[f"car{w}"] = res.car(w)
        out[f"portfolio_car{w}"] = res.portfolio_car(w)
        out[f"caar_tests{w}"] = res.caar_tests(w)
        out[f"caar_tests{w} by event"] = res.caar_tests(w, by="event_id")
    if arrays:
        out["caar_tests pools"] = res.caar_tests((0, 1), by=POOLS)
        out["abnormal_returns"] = res.abnormal_returns
        out["car_paths"] = res.car_paths()
    return out


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _study()


@pytest.fixture(scope="module", params=["textbook", "estudy2"])
def reference(request, data) -> tuple[str, dict[str, pd.DataFrame]]:
    convention = request.param
    return convention, _tables(_run(*data, convention=convention))


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A LocalCluster of 2 single-threaded worker processes (CI has 2 cores), closed at the
    end of this module (a session-wide cluster coincided with a hang in a later test)."""
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


def test_the_fixture_study_has_what_the_chunks_must_carry(reference):
    _, t = reference
    reasons = " ".join(t["excluded"]["reason"])
    assert "not a column of returns" in reasons
    assert "runs after the last session" in reasons
    assert "residual variance" in reasons
    assert (t["clustering"]["n_securities"] == 1).any()  # a one-security event
    assert t["test_notes"]["test"].str.startswith("sur_wald").any()  # E3's missing day


# ----------------------------------------------------------------------------- arrays


def _assert_identical(got: dict[str, pd.DataFrame], ref: dict[str, pd.DataFrame]) -> None:
    assert got.keys() == ref.keys()
    for name in ref:
        pd.testing.assert_frame_equal(got[name], ref[name], check_exact=True, obj=name)


@pytest.mark.parametrize(
    "compute",
    [{"chunk_events": 2}, {"backend": "processes", "workers": 2, "chunk_events": 1}],
    ids=["chunks in process", "processes"],
)
def test_chunked_fits_give_every_table_identical(data, reference, compute):
    convention, ref = reference
    _assert_identical(_tables(_run(*data, convention=convention, **compute)), ref)


def test_dask_local_cluster_gives_every_table_identical(data, reference, dask_client):
    convention, ref = reference
    res = _run(*data, convention=convention, backend="dask", scheduler=dask_client, chunk_events=2)
    _assert_identical(_tables(res), ref)


def test_dask_by_scheduler_address(data, reference, dask_client):
    convention, ref = reference
    if convention != "textbook":
        pytest.skip("one convention is enough to check the address path")
    address = dask_client.scheduler.address
    res = _run(*data, convention=convention, backend="dask", scheduler=address)
    _assert_identical(_tables(res), ref)


def test_every_engine_data_field_is_classified():
    """A new EngineData field must be declared per firm-event (concatenated by a chunked
    fit, taken by ``EventStudyResults.select``), rebuilt, shared, or a setting: otherwise
    chunked fits and selections would drop it."""
    rebuilt = {"events", "sec_code", "excluded"}
    shared = {"returns", "R", "market", "factors"}
    settings = {
        "model", "convention", "estimation", "window", "market_name", "factor_names",
        "dimson_lags", "param_names", "rel_est", "rel_win", "k",
    }  # fmt: skip
    fields = {f.name for f in dataclasses.fields(EngineData)}
    assert fields == set(EngineData.ROW_FIELDS) | rebuilt | shared | settings


def test_split_clusters_keeps_every_event_whole(data):
    _, events = data
    ev = events.sort_values(["event_id", "security"], kind="stable").reset_index(drop=True)
    for chunks in (split_clusters(ev, 2), split_clusters(ev, None, target_rows=10)):
        pd.testing.assert_frame_equal(pd.concat(chunks), ev)
        seen = [set(c["event_id"]) for c in chunks]
        assert all(a.isdisjoint(b) for i, a in enumerate(seen) for b in seen[i + 1 :])
    assert [c["event_id"].nunique() for c in split_clusters(ev, 2)] == [2, 2, 2, 1]
    # by rows: events are added until a chunk holds at least 10 firm-events; the events
    # hold E0 24, E1 1 + FLAT, E2 9 + NOPE, E3 17, E4 5, E5 12, LATE 3 rows
    sizes = [len(c) for c in split_clusters(ev, None, target_rows=10)]
    assert sizes == [24, 2 + 10, 17, 5 + 12, 3]


def test_a_worker_error_comes_back_as_the_same_one_line_error(data):
    returns, events = data
    bad = returns.copy()
    bad["S3"] = bad["S3"].astype(object)
    bad.iloc[0, bad.columns.get_loc("S3")] = "n/a"
    with pytest.raises(DataError) as here:
        _run(bad, events)
    with pytest.raises(DataError) as there:
        _run(bad, events, backend="processes", workers=1, chunk_events=3)
    assert "returns are not numeric" in str(there.value)
    assert "\n" not in str(there.value)
    assert str(here.value) == str(there.value)


def test_nothing_to_study_is_the_same_error_chunked(data):
    returns, events = data
    late = events[events["event_id"] == "LATE"]
    for kw in ({}, {"chunk_events": 1}, {"collect": "summary", "chunk_events": 1}):
        with pytest.raises(DataError, match="no firm-event can be studied"):
            _run(returns, late, **kw)
    flat = events[events["security"] == "FLAT"]
    for kw in ({}, {"chunk_events": 1}):
        with pytest.raises(DataError, match="every firm-event was excluded"):
            _run(returns, flat, **kw)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"backend": "spark"}, "backend"),
        ({"backend": "processes", "workers": 0}, "workers"),
        ({"workers": 2}, "workers"),
        ({"backend": "processes", "scheduler": "tcp://127.0.0.1:8786"}, "scheduler"),
        ({"chunk_events": 0}, "chunk_events"),
        ({"collect": "everything"}, "collect"),
        ({"car_windows": [(0, 1)]}, "car_windows"),
        ({"collect": "summary", "car_windows": [(0, 9)]}, "car_windows"),
        ({"collect": "summary", "tests": ["t_tset"]}, "tests"),
        ({"collect": "summary", "calibrate": 10}, "calibrate"),
    ],
)
def test_bad_compute_options_are_one_line_config_errors(data, kw, field):
    with pytest.raises(ConfigError) as err:
        _run(*data, **kw)
    assert field in str(err.value)
    assert "\n" not in str(err.value)


def test_dask_not_installed_is_a_config_error_naming_the_extra(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(ConfigError, match=r"oem-eventstudy\[dask\]"):
        _run(*data, backend="dask")


def test_in_process_path_imports_no_parallel_machinery():
    """``backend=None`` never imports Dask, a process pool or multiprocessing (pandas itself
    imports ``concurrent.futures`` for its threads)."""
    code = textwrap.dedent(
        """
        import sys, warnings
        import eventstudy as es
        from eventstudy.simulate import synthetic_returns
        import pandas as pd
        r = synthetic_returns(4, 400, seed=1)
        ev = pd.DataFrame({"security": ["S0", "S1", "S2"], "event_date": r.index[380]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es.event_study(r, ev, market="MKT", estimation=(-250, -11)).caar_tests()
        bad = ("dask", "distributed", "concurrent.futures.process", "multiprocessing")
        print(sorted(m for m in sys.modules if m in bad or m.startswith(("dask.", "distributed."))))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- summary


def _assert_close(got: pd.DataFrame, ref: pd.DataFrame, name: str, rtol: float) -> None:
    """Same rows, columns and labels; floats equal to ``rtol`` with the same NaNs."""
    assert list(got.columns) == list(ref.columns), name
    assert len(got) == len(ref), name
    for col in ref.columns:
        a, b = got[col], ref[col]
        if pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(
                a.to_numpy(float),
                b.to_numpy(float),
                rtol=rtol,
                atol=1e-300,
                err_msg=f"{name}.{col}",
            )
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{name}.{col}"


def _check_summary(res: SummaryResults, ref: dict[str, pd.DataFrame]) -> None:
    assert isinstance(res, SummaryResults)
    got = _tables(res, arrays=False)
    exact = {"events", "excluded", "params"} | {f"car{w}" for w in WINDOWS}
    for name, table in got.items():
        # per-firm tables come from the same rows; the rest sums in another order
        _assert_close(table, ref[name], name, 0.0 if name in exact else 1e-9)


@pytest.mark.parametrize(
    "compute",
    [{"chunk_events": 2}, {"backend": "processes", "workers": 2, "chunk_events": 3}],
    ids=["chunks in process", "processes"],
)
def test_summary_equals_the_one_pass_engine(data, reference, compute):
    convention, ref = reference
    res = _run(*data, convention=convention, collect="summary", car_windows=CAR_WINDOWS, **compute)
    _check_summary(res, ref)
    assert res.n_chunks == (4 if compute["chunk_events"] == 2 else 3)


def test_summary_on_dask_equals_the_one_pass_engine(data, reference, dask_client):
    convention, ref = reference
    res = _run(
        *data, convention=convention, collect="summary", car_windows=CAR_WINDOWS,
        backend="dask", scheduler=dask_client, chunk_events=2,
    )  # fmt: skip
    _check_summary(res, ref)


def test_summary_pooled_t_and_bmp_are_scipys_on_the_firm_cars(data):
    """Independent check of the merged moments: the pooled t test is the one-sample t test
    of the per-firm CARs, BMP the one of the standardized CARs (scipy)."""
    res = _run(*data, collect="summary", car_windows=CAR_WINDOWS, chunk_events=1)
    for w in WINDOWS:
        car = res.car(w)
        tests = res.caar_tests(w).set_index("test")
        for name, x in (("t_test", car["car"]), ("bmp", car["car"] / car["se"])):
            ref = sps.ttest_1samp(x.to_numpy(), 0.0)
            assert tests.at[name, "statistic"] == pytest.approx(ref.statistic, rel=1e-12)
            assert tests.at[name, "p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert tests.at["t_test", "caar"] == pytest.approx(car["car"].mean(), rel=1e-12)
        assert tests.at["t_test", "n"] == len(car)


def test_summary_without_grank_needs_one_pass(data, monkeypatch):
    def second_pass(*args: Any) -> None:
        raise AssertionError("the grank pass ran")

    monkeypatch.setattr(study_module, "_grank_chunk", second_pass)
    few = ["portfolio", "adjusted_patell", "t_test", "wilcoxon"]
    res = _run(*data, collect="summary", car_windows=[(0, 1)], tests=few, chunk_events=2)
    full = _run(*data)
    for got, ref in (
        (res.caar_tests((0, 1)), full.caar_tests((0, 1))),
        (res.aar_tests(by="event_id"), full.aar_tests(by="event_id")),
    ):
        assert list(got["test"].unique()) == few
        _assert_close(got, ref[ref["test"].isin(few)].reset_index(drop=True), "few", 1e-9)


def test_summary_says_what_it_did_not_compute(data):
    res = _run(*data, collect="summary", car_windows=[(0, 1)], chunk_events=3)
    with pytest.raises(ConfigError, match=r"car_windows"):
        res.car((0, 2))
    with pytest.raises(ConfigError, match="event window"):
        res.aar_tests((0, 1))
    with pytest.raises(ConfigError, match="pools"):
        res.caar_tests((0, 1), by=POOLS)  # type: ignore[arg-type]
    assert "firm-events" in str(res) and "chunk" in repr(res)
    assert "CAAR tests" in res._repr_html_()


def test_moments_merge_equals_numpy_on_the_union():
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, (60, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    blocks = st.Blocks.from_sizes([25, 35])
    cuts = [(0, 10), (10, 25), (25, 26), (26, 60)]  # chunks never straddle a block
    parts = []
    for a, b in cuts:
        codes = blocks.index[a:b]
        sub = st.Blocks.from_codes(codes - codes[0])
        m = st.Moments.of(x[a:b], sub)
        pad = [np.zeros((2, 3)) for _ in range(3)]  # the block the chunk does not touch
        for full, part in zip(pad, (m.n, m.total, m.m2), strict=True):
            full[codes[0] : codes[0] + len(sub)] = part
        parts.append(st.Moments(*pad))
    merged = st.Moments.merge(parts)
    for i, (a, b) in enumerate([(0, 25), (25, 60)]):
        np.testing.assert_allclose(merged.mean[i], np.nanmean(x[a:b], axis=0), rtol=1e-13)
        np.testing.assert_allclose(merged.sd()[i], np.nanstd(x[a:b], axis=0, ddof=1), rtol=1e-12)
        np.testing.assert_array_equal(merged.n[i], np.isfinite(x[a:b]).sum(axis=0))


# ----------------------------------------------------------------------------- simulate


def test_simulate_same_seed_same_answer_whatever_the_workers(dask_client):
    r = synthetic_returns(6, 900, common=0.3, seed=3)
    events = pd.DataFrame({"security": [f"S{i}" for i in range(6)], "event_date": r.index[850]})
    kw = {
        "market": "MKT", "draws": 48, "injected": (0.01,), "power_draws": 20, "seed": 7,
        "window": (-5, 5), "estimation": (-200, -11), "min_estimation_obs": 150,
        "car_windows": [(0, 1)],
    }  # fmt: skip
    one_call = simulate(r, events, **kw)
    runs = {
        "in process, chunks of 10": simulate(r, events, **kw, chunk_draws=10),
        "1 process": simulate(r, events, **kw, backend="processes", workers=1, chunk_draws=10),
        "2 processes": simulate(r, events, **kw, backend="processes", workers=2, chunk_draws=10),
        "dask, 2 workers": simulate(
            r, events, **kw, backend="dask", scheduler=dask_client, chunk_draws=10
        ),
    }
    first = runs["in process, chunks of 10"].pvalues
    for name, sim in runs.items():
        for table in ("size", "power", "verdicts"):
            pd.testing.assert_frame_equal(
                getattr(sim, table), getattr(one_call, table), obj=f"{name} {table}"
            )
        pd.testing.assert_frame_equal(sim.pvalues, first, check_exact=True, obj=name)
        pd.testing.assert_frame_equal(sim.pvalues, one_call.pvalues, rtol=1e-12, obj=name)
        pd.testing.assert_frame_equal(sim.draws, one_call.draws, obj=name)


def test_no_security_among_the_returns_names_them_and_the_fix(data):
    returns, events = data
    wrong = events.assign(security=events["security"].str.lower() + "x")
    with pytest.raises(DataError) as err:
        _run(returns, wrong)
    text = str(err.value)
    named = re.search(
        r"security is not a column of returns: (\w+), (\w+), (\w+) and (\d+) more", text
    )
    assert named is not None, text
    assert set(named.groups()[:3]) <= set(wrong["security"])
    assert int(named.group(4)) == wrong["security"].nunique() - 3
    assert "columns of returns" in text and "spelling" in text
    assert "\n" not in text
