"""Fault injection (issue 6): network faults, bad answers, crashes and races lose nothing.

Every fault is injected through the fake yfinance ticker (``FakeYahoo``) or a
subprocess killed with SIGKILL. After each: the cache holds only complete, verifiable
files, a previously cached file is intact, and the next run succeeds.

Faults injected by this module (see ``FAULT_COUNT``):

* ``FAULTS`` (15 kinds) x 2 starting states (empty cache, cache with an older file) = 30
* ``kill -9`` of a process in the middle of a cache write (empty cache / existing file)
  and in the middle of a fetch while it holds the symbol's lock = 3
* concurrent processes on one cache: same symbol and range, overlapping ranges,
  three processes with several symbols = 3
* a DNS failure on the second symbol of a multi-symbol fetch = 1

Total: 37 (``FAULT_COUNT``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import requests
import yfinance.exceptions as yfe
from curl_cffi.requests import exceptions as curl_exc
from fixtures.fake_sources import FakeYahoo, yahoo_frame

from eventstudy.data import PriceCache, YahooSource, load_prices
from eventstudy.exceptions import (
    DataError,
    EventStudyError,
    NetworkError,
    PartialHistoryWarning,
    RateLimited,
    UnknownSymbol,
)

TESTS = Path(__file__).resolve().parent
SYMBOL = "7203.T"
OLD = ("2024-01-04", "2024-06-28")  # what a previous good run cached
NEW = ("2024-01-04", "2024-12-27")  # what the faulty run needs


def _http(status: int) -> requests.HTTPError:
    resp = requests.Response()
    resp.status_code = status
    return requests.HTTPError(f"{status} Server Error", response=resp)


# (id, script steps for the faulty run, expected error class or warning class)
FAULTS = [
    ("rate-limit-persistent", [yfe.YFRateLimitError] * 10, RateLimited),
    ("rate-limit-transient", [yfe.YFRateLimitError, yfe.YFRateLimitError], None),
    ("timeout-curl", [curl_exc.Timeout("Operation timed out after 15000 ms")], NetworkError),
    ("timeout-requests", [requests.ReadTimeout("Read timed out.")], NetworkError),
    ("dns-curl", [curl_exc.DNSError("Could not resolve host: query2")], NetworkError),
    ("dns-socket", [OSError(-3, "Temporary failure in name resolution")], NetworkError),
    ("connection-refused", [ConnectionRefusedError(111, "Connection refused")], NetworkError),
    (
        "yahoo-down",
        [yfe.YFDataException("*** YAHOO! FINANCE IS CURRENTLY DOWN! ***")],
        NetworkError,
    ),
    ("html-instead-of-json", [json.JSONDecodeError("Expecting value", "<html>", 0)], NetworkError),
    ("http-503", [_http(503)], NetworkError),
    ("empty-frame", [{"empty": True}], UnknownSymbol),
    ("wrong-symbol", [{"symbol": "7267.T"}], DataError),
    ("wrong-exchange", [{"tz": "America/New_York"}], DataError),
    ("partial-history-end", [{"last": "2024-09-02"}], PartialHistoryWarning),
    ("partial-history-start", [{"first": "2024-08-01"}], PartialHistoryWarning),
]
#: Where a fault's outcome depends on what is cached: with older data cached, an empty
#: answer for the newer range is a partial history, not an unknown symbol.
OUTCOME_WITH_CACHE = {"empty-frame": PartialHistoryWarning}


def assert_cache_holds_only_complete_files(cache: PriceCache) -> None:
    table = cache.list()
    assert set(table["status"]) <= {"ok"}, table
    assert list(cache.root.rglob("*.tmp")) == []
    for file in cache.root.rglob("*.parquet"):
        cache.read(file)  # raises if the file does not verify


def expected(start: str, end: str) -> pd.Series:
    raw = yahoo_frame(SYMBOL, start, pd.Timestamp(end) + pd.Timedelta(days=1))
    s = raw["Adj Close"].copy()
    s.index = raw.index.tz_localize(None).as_unit("ns").rename("date")
    return s.rename("adj_close")


@pytest.mark.parametrize("state", ["empty-cache", "cached-older-range"])
@pytest.mark.parametrize(("fault", "steps", "outcome"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_then_next_run_succeeds(tmp_path, fault, steps, outcome, state):
    cache = PriceCache(tmp_path / "cache")
    sleeps: list[float] = []
    fake = FakeYahoo()
    src = YahooSource(ticker_factory=fake, sleep=sleeps.append)
    path = cache.path(SYMBOL, src)
    before = None
    if state == "cached-older-range":
        cache.get(src, SYMBOL, *OLD)
        before = path.read_bytes()
        outcome = OUTCOME_WITH_CACHE.get(fault, outcome)

    # the faulty run
    fake.scripts[SYMBOL].extend(steps)
    if outcome is None:
        out = cache.get(src, SYMBOL, *NEW)
        pd.testing.assert_series_equal(out["adj_close"], expected(*NEW), check_freq=False)
    elif issubclass(outcome, Warning):
        with pytest.warns(outcome):
            cache.get(src, SYMBOL, *NEW)
    else:
        with pytest.raises(outcome) as info:
            cache.get(src, SYMBOL, *NEW)
        assert isinstance(info.value, EventStudyError)
        assert "\n" not in str(info.value)
        # a failed run never touches what was cached before
        if before is not None:
            assert path.read_bytes() == before
        else:
            assert not path.exists()
    assert_cache_holds_only_complete_files(cache)
    assert len(sleeps) <= src.retries

    # the next run (fault gone) succeeds with the full, correct history
    fake.scripts[SYMBOL].clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cache.get(src, SYMBOL, *NEW)
    pd.testing.assert_series_equal(out["adj_close"], expected(*NEW), check_freq=False)
    assert_cache_holds_only_complete_files(cache)
    calls = len(fake.calls)
    cache.get(src, SYMBOL, *NEW)
    assert len(fake.calls) == calls  # and it is now fully cached


# ----------------------------------------------------------------------------- subprocesses

CHILD_PRELUDE = """
import os, sys, time, json
sys.path.insert(0, {tests!r})
import pandas as pd
from fixtures.fake_sources import CountingSource, DateSource
from eventstudy.data import PriceCache, load_prices
"""


def spawn(tmp_path: Path, name: str, body: str, **fmt) -> subprocess.Popen:
    script = tmp_path / f"{name}.py"
    script.write_text(CHILD_PRELUDE.format(tests=str(TESTS)) + textwrap.dedent(body).format(**fmt))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"child exited early ({proc.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"child never reached {path.name}")
        time.sleep(0.05)


CRASH_IN_WRITE = """
import pyarrow.parquet as pq
real = pq.write_table
def half_then_hang(table, where, **kw):
    import io
    buf = io.BytesIO()
    real(table, buf, **kw)
    data = buf.getvalue()
    where.write(data[: len(data) // 2])
    where.flush()
    os.fsync(where.fileno())
    open({marker!r}, "w").write("mid-write")
    time.sleep(120)
pq.write_table = half_then_hang
PriceCache({root!r}).get(DateSource(), "7203.T", "2024-01-01", "2024-12-31")
"""

CRASH_IN_FETCH = """
def hang(symbol):
    open({marker!r}, "w").write("mid-fetch")
    time.sleep(120)
src = CountingSource(DateSource(), before_get=hang, name="dates")
PriceCache({root!r}).get(src, "7203.T", "2024-01-01", "2024-12-31")
"""


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (CRASH_IN_WRITE, "empty-cache"),
        (CRASH_IN_WRITE, "cached-older-range"),
        (CRASH_IN_FETCH, "cached-older-range"),
    ],
    ids=["kill-mid-write-empty", "kill-mid-write-existing", "kill-mid-fetch-holding-lock"],
)
def test_kill_9_in_the_middle_loses_nothing(tmp_path, body, state):
    from fixtures.fake_sources import DateSource

    root = tmp_path / "cache"
    cache = PriceCache(root, lock_timeout=20)
    src = DateSource()
    path = cache.path(SYMBOL, src)
    before = None
    if state == "cached-older-range":
        cache.get(src, SYMBOL, "2024-01-01", "2024-03-29")
        before = path.read_bytes()
    marker = tmp_path / "marker"
    proc = spawn(tmp_path, "crash", body, marker=str(marker), root=str(root))
    try:
        wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # the crash left the old file (or none) in place: never half a file
    if before is None:
        assert not path.exists()
    else:
        assert path.read_bytes() == before
    assert set(cache.list()["status"]) <= {"ok"}
    # the next run gets the lock (the dead process's lock died with it), cleans up and succeeds
    t0 = time.monotonic()
    out = cache.get(src, SYMBOL, "2024-01-01", "2024-12-31")
    assert time.monotonic() - t0 < 15
    assert out.index[0] == pd.Timestamp("2024-01-01") and out.index[-1] == pd.Timestamp(
        "2024-12-31"
    )
    assert_cache_holds_only_complete_files(cache)


RACE = """
while not os.path.exists({go!r}):
    time.sleep(0.01)
src = CountingSource(DateSource(), log={log!r}, before_get=lambda s: time.sleep(0.5),
                     name="dates")
out = load_prices({symbols!r}, src, {start!r}, {end!r}, cache=PriceCache({root!r}),
                  progress=False)
json.dump({{s: [str(df.index[0].date()), str(df.index[-1].date()), len(df),
               float(df["adj_close"].sum())] for s, df in out.items()}}, open({result!r}, "w"))
"""


@pytest.mark.parametrize(
    "jobs",
    [
        [(["7203.T"], "2024-01-01", "2024-12-31")] * 2,
        [(["7203.T"], "2024-01-01", "2024-06-28"), (["7203.T"], "2024-01-01", "2024-12-31")],
        [(["7203.T", "7267.T", "TOPIX"], "2024-01-01", "2024-12-31")] * 3,
    ],
    ids=["same-symbol-same-range", "same-symbol-overlapping-ranges", "three-processes-3-symbols"],
)
def test_concurrent_fetches_into_one_cache(tmp_path, jobs):
    root = tmp_path / "cache"
    go = tmp_path / "go"
    log = tmp_path / "fetches.jsonl"
    procs = []
    for i, (symbols, start, end) in enumerate(jobs):
        procs.append(
            spawn(
                tmp_path,
                f"job{i}",
                RACE,
                go=str(go),
                log=str(log),
                symbols=symbols,
                start=start,
                end=end,
                root=str(root),
                result=str(tmp_path / f"result{i}.json"),
            )
        )
    time.sleep(0.5)
    go.write_text("go")
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
    results = [json.loads((tmp_path / f"result{i}.json").read_text()) for i in range(len(jobs))]
    fetches = [json.loads(line) for line in log.read_text().splitlines()]
    symbols = sorted({s for job in jobs for s in job[0]})
    if len({(tuple(j[0]), j[1], j[2]) for j in jobs}) == 1:
        # identical jobs: each symbol fetched once, every process got the same frames
        assert sorted(f[0] for f in fetches) == symbols
        assert all(r == results[0] for r in results)
    else:
        # overlapping ranges: at most one fetch per job, and the union is cached
        assert len(fetches) <= len(jobs)
    cache = PriceCache(root)
    assert_cache_holds_only_complete_files(cache)
    assert sorted(cache.list()["symbol"]) == symbols
    from fixtures.fake_sources import DateSource

    src = DateSource()
    for sym in symbols:
        full = cache.get(src, sym, "2024-01-01", "2024-12-31", offline=True)
        pd.testing.assert_series_equal(
            full["adj_close"],
            src.get(sym, "2024-01-01", "2024-12-31")["adj_close"],
            check_freq=False,
        )


def test_load_prices_stops_at_the_first_fault_and_keeps_the_others(tmp_path):
    """A fault on the second symbol of a fetch keeps the first symbol's file."""
    fake = FakeYahoo({"7267.T": [curl_exc.DNSError("Could not resolve host")]})
    src = YahooSource(ticker_factory=fake, sleep=lambda s: None)
    cache = PriceCache(tmp_path / "c")
    with pytest.raises(NetworkError):
        load_prices(["7203.T", "7267.T"], src, *NEW, cache=cache, progress=False)
    assert list(cache.list()["symbol"]) == ["7203.T"]
    out = load_prices(["7203.T", "7267.T"], src, *NEW, cache=cache, progress=False)
    assert set(out) == {"7203.T", "7267.T"}
    assert_cache_holds_only_complete_files(cache)


FAULT_COUNT = len(FAULTS) * 2 + 3 + 3 + 1


def test_fault_count_is_what_the_docstring_says():
    assert FAULT_COUNT == 37
    assert f"Total: {FAULT_COUNT}" in (__doc__ or "")
