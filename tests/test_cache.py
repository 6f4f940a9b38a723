"""PriceCache: location, atomic writes, incremental fetches, corruption, offline, list/clear."""

from __future__ import annotations

import io
import os
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from fixtures.fake_sources import CountingSource, DateSource

from eventstudy.data import PriceCache, SimulatedSource, load_prices
from eventstudy.data.cache import default_cache_dir
from eventstudy.exceptions import (
    CacheError,
    CacheWarning,
    DataError,
    DataWarning,
    PartialHistoryWarning,
)


@pytest.fixture
def cache(tmp_path) -> PriceCache:
    return PriceCache(tmp_path / "cache")


@pytest.fixture
def src() -> CountingSource:
    return CountingSource(DateSource())


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def test_location_follows_eventstudy_cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path / "here"))
    assert PriceCache().root == tmp_path / "here"
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("EVENTSTUDY_CACHE")
    assert default_cache_dir().name == "eventstudy"


def test_first_get_fetches_and_writes_second_is_a_hit(cache, src):
    a = cache.get(src, "7203.T", "2024-01-01", "2024-06-30")
    assert len(src.calls) == 1
    path = cache.path("7203.T", src)
    assert path.is_file() and path.parent.name == "dates"
    assert a.attrs["provenance"]["cache"]["hit"] is False
    b = cache.get(src, "7203.T", "2024-02-01", "2024-03-31")
    assert len(src.calls) == 1
    assert b.attrs["provenance"]["cache"]["hit"] is True
    assert b.attrs["provenance"]["source"] == "dates"
    pd.testing.assert_frame_equal(b, a.loc["2024-02-01":"2024-03-31"], check_freq=False)
    assert b.index.name == "date"


def test_incremental_fetches_only_the_missing_ranges(cache, src):
    cache.get(src, "X", "2024-03-01", "2024-06-30")
    out = cache.get(src, "X", "2024-01-01", "2024-09-30")
    assert len(src.calls) == 3
    _, s1, e1 = src.calls[1]
    _, s2, e2 = src.calls[2]
    assert (s1, e1) == (ts("2024-01-01"), ts("2024-02-29"))  # the earlier gap
    assert s2 == ts("2024-06-21") and e2 == ts("2024-09-30")  # newer gap, 10-day overlap
    expected = DateSource().get("X", "2024-01-01", "2024-09-30")
    pd.testing.assert_series_equal(out["adj_close"], expected["adj_close"], check_freq=False)
    cache.get(src, "X", "2024-01-15", "2024-09-15")
    assert len(src.calls) == 3  # fully covered now


def test_refresh_refetches(cache, src):
    cache.get(src, "X", "2024-01-01", "2024-03-31")
    cache.get(src, "X", "2024-01-01", "2024-03-31", refresh=True)
    assert len(src.calls) == 2


def test_adjustment_change_on_the_overlap_triggers_a_full_refetch(cache, tmp_path):
    old = CountingSource(DateSource(adj_factor=0.97))
    cache.get(old, "X", "2024-01-01", "2024-06-30")
    new = CountingSource(DateSource(adj_factor=0.95), name="dates")  # a dividend re-based all
    out = cache.get(new, "X", "2024-01-01", "2024-09-30")
    assert [(c[1], c[2]) for c in new.calls] == [
        (ts("2024-06-21"), ts("2024-09-30")),
        (ts("2024-01-01"), ts("2024-09-30")),
    ]
    ratio = out["adj_close"] / out["close"]
    assert ratio.round(4).nunique() == 1 and round(ratio.iloc[0], 2) == 0.95


def test_partial_history_is_not_covered_and_is_asked_again(cache):
    short = CountingSource(DateSource(last="2024-05-15"))
    cache.get(short, "X", "2024-01-01", "2024-06-28")
    full = CountingSource(DateSource(), name="dates")
    out = cache.get(full, "X", "2024-01-01", "2024-06-28")
    assert len(full.calls) == 1 and full.calls[0][1] == ts("2024-05-06")
    assert out.index[-1] == ts("2024-06-28")


def test_gap_before_listing_is_remembered(cache):
    # listed 2024-03-01: asking from 2024-01-01 fetches the empty gap once, then never
    listed = CountingSource(DateSource())
    listed.inner.get = _listed_from("2024-03-01", listed.inner.get)  # type: ignore[method-assign]
    cache.get(listed, "X", "2024-03-01", "2024-06-28")
    cache.get(listed, "X", "2024-01-01", "2024-06-28")
    cache.get(listed, "X", "2024-01-01", "2024-06-28")
    assert len(listed.calls) == 2


def _listed_from(first: str, get):
    def inner(symbol, start=None, end=None):
        s = max(pd.Timestamp(start or first), pd.Timestamp(first))
        return get(symbol, s, end)

    return inner


def test_offline_serves_the_cache_and_never_fetches(cache, src):
    cache.get(src, "X", "2024-01-01", "2024-06-30")
    out = cache.get(src, "X", "2024-02-01", "2024-02-29", offline=True)
    assert len(src.calls) == 1 and len(out) == 21
    assert out.attrs["provenance"]["cache"]["offline"] is True


def test_offline_without_cached_data_names_symbol_and_fix(cache, src):
    with pytest.raises(DataError) as info:
        cache.get(src, "7203.T", "2024-01-01", "2024-06-30", offline=True)
    msg = str(info.value)
    assert msg.startswith("7203.T: no cached prices (offline)")
    assert "eventstudy fetch" in msg and "--prices" in msg
    assert src.calls == []


def test_offline_with_partial_coverage_warns_and_outside_raises(cache, src):
    cache.get(src, "X", "2024-03-01", "2024-06-30")
    with pytest.warns(DataWarning, match=r"offline, the cache covers only 2024-03-01"):
        out = cache.get(src, "X", "2024-01-01", "2024-06-30", offline=True)
    assert out.index[0] == ts("2024-03-01")
    with pytest.raises(DataError, match="nothing in 2020-01-01"):
        cache.get(src, "X", "2020-01-01", "2020-06-30", offline=True)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garble(path: Path) -> None:
    path.write_bytes(b"not a parquet file at all")


def _tamper_values(path: Path) -> None:
    """Rewrite the file with one price changed but the original metadata (checksum)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    df = table.to_pandas()
    df.iloc[3, 0] *= 1.5
    import pyarrow as pa

    new = pa.Table.from_pandas(df, preserve_index=True).replace_schema_metadata(
        table.schema.metadata
    )
    pq.write_table(new, path)


def _drop_metadata(path: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"eventstudy"}
    pq.write_table(table.replace_schema_metadata(meta), path)


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


CORRUPTIONS = [_truncate, _garble, _tamper_values, _drop_metadata, _empty_file]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corrupt_file_is_reported_deleted_and_refetched(cache, src, corrupt):
    good = cache.get(src, "X", "2024-01-01", "2024-06-30")
    path = cache.path("X", src)
    corrupt(path)
    with pytest.warns(CacheWarning, match=r"cache file .*X.parquet was unreadable"):
        again = cache.get(src, "X", "2024-01-01", "2024-06-30")
    assert len(src.calls) == 2
    pd.testing.assert_series_equal(again["adj_close"], good["adj_close"])
    cache.read(path)  # the new file verifies


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corrupt_file_offline_is_a_cache_error(cache, src, corrupt):
    cache.get(src, "X", "2024-01-01", "2024-06-30")
    path = cache.path("X", src)
    corrupt(path)
    with pytest.warns(CacheWarning), pytest.raises(CacheError) as info:
        cache.get(src, "X", "2024-01-01", "2024-06-30", offline=True)
    assert "were corrupt" in str(info.value) and "without --offline" in str(info.value)
    assert "\n" not in str(info.value)
    assert not path.exists()
    assert len(src.calls) == 1


def test_failed_write_leaves_the_old_file_and_no_temp(cache, src, monkeypatch):
    cache.get(src, "X", "2024-01-01", "2024-03-31")
    path = cache.path("X", src)
    before = path.read_bytes()
    import pyarrow.parquet as pq

    real = pq.write_table

    def half_then_fail(table, where, **kw):
        where.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(CacheError, match="No space left on device"):
        cache.get(src, "X", "2024-01-01", "2024-06-30")
    monkeypatch.setattr(pq, "write_table", real)
    assert path.read_bytes() == before
    assert list(path.parent.glob("*.tmp")) == []


def test_orphaned_temp_files_are_removed_by_the_next_writer(cache, src):
    cache.get(src, "X", "2024-01-01", "2024-03-31")
    path = cache.path("X", src)
    orphan = path.parent / f".{path.name}.abc123.tmp"
    orphan.write_bytes(b"PAR1 half")
    cache.get(src, "X", "2024-01-01", "2024-03-31")
    assert not orphan.exists()
    assert list(cache.list()["status"]) == ["ok"]


def test_lock_timeout_is_a_cache_error(tmp_path, src):
    import filelock

    cache = PriceCache(tmp_path / "c", lock_timeout=0.2)
    path = cache.path("X", src)
    path.parent.mkdir(parents=True)
    holder = filelock.FileLock(str(path) + ".lock", is_singleton=False, thread_local=False)
    import threading

    got = threading.Event()
    release = threading.Event()

    def hold():
        with holder:
            got.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    got.wait(5)
    try:
        with pytest.raises(CacheError, match="locked by another process"):
            cache.get(src, "X", "2024-01-01", "2024-03-31")
    finally:
        release.set()
        t.join()


def test_symbols_with_special_characters_round_trip(cache, src):
    for sym in ("^N225", "JPY=X", "7203.T"):
        cache.get(src, sym, "2024-01-01", "2024-01-31")
    table = cache.list()
    assert sorted(table["symbol"]) == ["7203.T", "JPY=X", "^N225"]
    assert set(table["status"]) == {"ok"}
    assert (table["rows"] == 23).all()
    assert set(table.columns) >= {"source", "symbol", "first", "last", "rows", "status"}


def test_list_reports_corrupt_files_and_clear_removes(cache, src):
    for sym in ("A", "B", "C"):
        cache.get(src, sym, "2024-01-01", "2024-01-31")
    _garble(cache.path("B", src))
    table = cache.list().set_index("symbol")
    assert table.loc["A", "status"] == "ok"
    assert table.loc["B", "status"].startswith("corrupt")
    assert cache.clear("B") == 1
    assert sorted(cache.list()["symbol"]) == ["A", "C"]
    assert cache.clear() == 2
    assert len(cache.list()) == 0
    assert cache.clear() == 0
    assert PriceCache(cache.root / "nothing").list().empty


def _users_own_parquet(folder: Path) -> list[Path]:
    """Parquet files a user keeps in ``*/*.parquet`` (no eventstudy metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for rel in ("research/returns.parquet", "yahoo/mine.parquet"):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
        files.append(path)
    return files


def test_clear_refuses_a_folder_that_is_not_a_cache(monkeypatch, tmp_path):
    """EVENTSTUDY_CACHE pointed at a folder of one's own data: clear deletes nothing."""
    from click.testing import CliRunner

    from eventstudy import cli

    own = _users_own_parquet(tmp_path / "data")
    before = {p: p.read_bytes() for p in own}
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(tmp_path / "data"))
    with pytest.raises(CacheError, match=r"not an eventstudy cache.*nothing was deleted"):
        PriceCache().clear()
    result = CliRunner().invoke(cli.main, ["cache", "clear"])
    assert result.exit_code == 3
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "not an eventstudy cache" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in own} == before


def test_clear_in_a_marked_cache_keeps_files_it_did_not_write(tmp_path, src):
    """The user's folder became a cache (a run wrote into it): clear removes the cache's
    files only, keeps the user's with a warning naming them."""
    from eventstudy.data.cache import MARKER
    from eventstudy.exceptions import CacheKeptFilesWarning

    root = tmp_path / "data"
    own = _users_own_parquet(root)
    cache = PriceCache(root)
    cache.get(src, "7203.T", "2024-01-01", "2024-01-31")
    cache.get(src, "X", "2024-01-01", "2024-01-31")
    _garble(cache.path("X", src))  # a corrupt file of the cache's own is still removed
    assert (root / MARKER).is_file()
    with pytest.warns(CacheKeptFilesWarning, match=r"kept 2 file\(s\).*research/returns.parquet"):
        assert cache.clear() == 2
    assert all(p.is_file() for p in own)
    assert not cache.path("7203.T", src).exists() and not cache.path("X", src).exists()


def test_a_legacy_cache_without_marker_is_still_cleared(cache, src):
    """Files written before the marker existed carry eventstudy metadata: they are ours."""
    from eventstudy.data.cache import MARKER

    cache.get(src, "A", "2024-01-01", "2024-01-31")
    (cache.root / MARKER).unlink()
    assert cache.clear() == 1
    assert cache.list().empty


def test_unwritable_cache_is_a_cache_error(tmp_path, src):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        cache = PriceCache(blocker / "sub")  # a folder under a file cannot exist
    else:  # pragma: no cover
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        cache = PriceCache(ro / "sub")
    with pytest.raises(CacheError, match="cannot create the folder"):
        cache.get(src, "X", "2024-01-01", "2024-01-31")


# ----------------------------------------------------------------------------- load_prices


def test_load_prices_uses_a_default_cache_for_remote_sources(src):
    out = load_prices(["A", "B", "A"], src, "2024-01-01", "2024-03-31", progress=False)
    assert list(out) == ["A", "B"]
    assert len(src.calls) == 2
    load_prices(["A", "B"], src, "2024-01-01", "2024-03-31", progress=False)
    assert len(src.calls) == 2
    assert sorted(PriceCache().list()["symbol"]) == ["A", "B"]
    off = load_prices(["A"], src, "2024-01-01", "2024-03-31", offline=True, progress=False)
    assert off["A"].attrs["provenance"]["cache"]["offline"] is True


def test_load_prices_local_sources_bypass_the_cache():
    sim = SimulatedSource(1, "2024-01-01", "2024-03-31", ["A"], "M")
    out = load_prices(["A", "M"], sim, progress=False)
    assert set(out) == {"A", "M"}
    assert PriceCache().list().empty


def test_load_prices_offline_without_cache_for_remote_source(src):
    with pytest.raises(DataError, match="offline mode needs the cache"):
        load_prices(["A"], src, offline=True, cache=False, progress=False)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_load_prices_alias_and_progress_only_on_a_terminal(src, capsys, monkeypatch):
    out = load_prices(
        ["TOPIX", "7203.T"],
        src,
        "2024-01-01",
        "2024-01-31",
        aliases={"TOPIX": {"dates": "1306.T"}},
        progress=True,
    )
    prov = out["TOPIX"].attrs["provenance"]
    assert prov["requested_symbol"] == "TOPIX" and prov["symbol"] == "1306.T"
    assert [c[0] for c in src.calls] == ["1306.T", "7203.T"]
    assert capsys.readouterr().err == ""  # captured: not a terminal, so no bar
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    load_prices(["A", "B", "C"], src, "2024-01-01", "2024-01-31", progress=True)
    shown = term.getvalue()
    assert "prices from dates" in shown and "0/3" in shown and "3/3" in shown


def test_partial_history_warning_class_is_a_data_warning():
    assert issubclass(PartialHistoryWarning, DataWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PartialHistoryWarning.template.format(
            symbol="X", source="s", first="a", last="b", start="c", end="d"
        )


def test_offline_open_ended_request_does_not_warn(cache, src):
    cache.get(src, "X", "2024-01-01", "2024-06-28")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cache.get(src, "X", "2024-01-01", None, offline=True)
    assert out.index[-1] == ts("2024-06-28")


def test_simulated_sources_with_different_seeds_do_not_share_cache_files(cache):
    a = SimulatedSource(1, "2024-01-01", "2024-03-29", ["A"], "M")
    b = SimulatedSource(2, "2024-01-01", "2024-03-29", ["A"], "M")
    assert a.cache_key != b.cache_key
    assert a.cache_key == SimulatedSource(1, "2024-01-01", "2024-03-29", ["A"], "M").cache_key
    ra = cache.get(a, "A", "2024-01-01", "2024-03-29")
    rb = cache.get(b, "A", "2024-01-01", "2024-03-29")
    assert not ra["close"].equals(rb["close"])


# ----------------------------------------------------------------------------- property

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DAY0 = pd.Timestamp("2023-01-02")
request = st.tuples(st.integers(0, 700), st.integers(0, 120)).map(
    lambda t: (DAY0 + pd.Timedelta(days=t[0]), DAY0 + pd.Timedelta(days=t[0] + t[1]))
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(requests=st.lists(request, min_size=1, max_size=6), listed=st.integers(0, 400))
def test_any_sequence_of_requests_serves_exactly_what_the_source_has(
    tmp_path_factory, requests, listed
):
    """Whatever order ranges are asked in, the cache answers like the source itself."""
    cache = PriceCache(tmp_path_factory.mktemp("prop"))
    first = DAY0 + pd.Timedelta(days=listed)
    src = CountingSource(DateSource())
    src.inner.get = _listed_from(str(first.date()), src.inner.get)  # type: ignore[method-assign]
    direct = DateSource()
    for s, e in requests:
        if len(pd.bdate_range(max(s, first), e)) == 0:
            continue  # no session in range: the source itself would say UnknownSymbol
        got = cache.get(src, "X", s, e)
        want = direct.get("X", max(s, first), e)
        pd.testing.assert_series_equal(got["adj_close"], want["adj_close"], check_freq=False)
        # a repeat fetches at most once more (to confirm a late start is the listing
        # date, not a partial answer), and then never again
        cache.get(src, "X", s, e)
        n = len(src.calls)
        again = cache.get(src, "X", s, e)
        assert len(src.calls) == n
        pd.testing.assert_series_equal(again["adj_close"], got["adj_close"])
    assert set(cache.list()["status"]) <= {"ok"}


def test_unreadable_file_is_a_cache_error_not_corruption(cache, src, monkeypatch):
    cache.get(src, "X", "2024-01-01", "2024-01-31")
    import pyarrow.parquet as pq

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pq, "read_table", denied)
    with pytest.raises(CacheError, match="cannot read"):
        cache.get(src, "X", "2024-01-01", "2024-01-31")
    monkeypatch.undo()
    assert cache.path("X", src).exists()  # never deleted for a permission problem


def test_live_bar_of_today_is_replaced_without_a_full_refetch(cache, monkeypatch):
    """A provisional last bar differs from the final one: that is not a re-adjustment."""
    import eventstudy.data.cache as cache_mod

    monkeypatch.setattr(cache_mod, "_today", lambda: ts("2024-06-28"))
    live = CountingSource(DateSource())
    first = cache.get(live, "X", "2024-01-01", "2024-06-28")
    # the bar of 2024-06-28 was provisional: the final one differs
    final = DateSource()
    real_get = final.get

    def final_get(symbol, start=None, end=None):
        df = real_get(symbol, start, end)
        df.loc[df.index == ts("2024-06-28"), ["close", "adj_close"]] *= 1.01
        return df

    final.get = final_get  # type: ignore[method-assign]
    later = CountingSource(final, name="dates")
    monkeypatch.setattr(cache_mod, "_today", lambda: ts("2024-07-10"))
    out = cache.get(later, "X", "2024-01-01", "2024-07-09")
    assert len(later.calls) == 1  # only the tail, no full refetch
    assert later.calls[0][1] == ts("2024-06-18")
    assert out.loc["2024-06-28", "adj_close"] == pytest.approx(
        first.loc["2024-06-28", "adj_close"] * 1.01
    )
