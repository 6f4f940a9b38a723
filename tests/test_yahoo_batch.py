"""Many Yahoo symbols at once, through yfinance's own curl_cffi session and a fake Yahoo.

``fetch_prices`` against the fake Yahoo of ``fixtures/yahoo_server.py`` (127.0.0.1): 50
symbols, some unknown, some rate limited then served, some failing with HTTP 500; the
number of requests the server answers at once stays within the worker bound; a 429 on
one thread pauses the others; a run killed half way (SIGKILL) leaves whole cache files
and the rerun asks Yahoo only for the rest; ``--strict`` exits with the data/network code
and the failure table; the progress bar shows only on a terminal.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trustme
import yfinance as yf
from click.testing import CliRunner
from fixtures.fake_sources import CountingSource, DateSource
from fixtures.yahoo_server import (
    RATE_LIMITED,
    Answer,
    FakeYahooServer,
    new_yfinance_session,
    recorded_chart,
)

from eventstudy import cli, runner
from eventstudy.data import PriceCache, YahooSource, fetch_prices, load_prices
from eventstudy.data.yahoo import RateGate, configure_yfinance_cache
from eventstudy.exceptions import (
    DataError,
    FetchFailed,
    FetchFailure,
    NetworkError,
    NoDataInRange,
    NotCached,
    RateLimited,
    SkippedSecuritiesWarning,
    UnknownSymbol,
    failure_lines,
)

TESTS = Path(__file__).resolve().parent
RANGE = ("2021-09-21", "2021-10-08")  # the recorded answer's sessions
#: an HTTP 500 as a proxy or CDN in front of Yahoo sends it: an HTML page
SERVER_ERROR = Answer(
    500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html"
)
SYMBOLS = [f"{1300 + i}.T" for i in range(1, 51)]
UNKNOWN = SYMBOLS[10:14]  # not served: Yahoo's 404
THROTTLED = SYMBOLS[20:23]  # one attempt rate limited (429 twice: yfinance asks twice)
BROKEN = SYMBOLS[30:33]  # HTTP 500 on both of yfinance's tries
SERVED = [s for s in SYMBOLS if s not in UNKNOWN and s not in BROKEN]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def yahoo(ca, tmp_path, monkeypatch):
    """The fake Yahoo with the 50 symbols (the recorded 7203.T chart under each name)."""
    pem = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pem))
    new_yfinance_session()
    configure_yfinance_cache()
    with FakeYahooServer(ca, max_requests=3000) as server:
        for sym in SYMBOLS:
            if sym not in UNKNOWN:
                server.add_alias(sym)
        yf.config.network.proxy = {"http": server.url, "https": server.url}
        try:
            yield server
        finally:
            yf.config.network.proxy = None
            new_yfinance_session()


def history_symbols(server: FakeYahooServer, *, probes: bool = False) -> list[str]:
    seen = server.chart_requests() + (server.chart_requests(probe=True) if probes else [])
    return [s.path.rsplit("/", 1)[-1] for s in seen]


# ============================================================================ the batch


def test_fifty_symbols_with_unknown_throttled_and_broken_ones(yahoo, capsys):
    for sym in THROTTLED:
        yahoo.script(sym, [RATE_LIMITED] * 2)
    for sym in BROKEN:
        yahoo.script(sym, [SERVER_ERROR] * 2)
    yahoo.set_latency(0.01)
    sleeps = Sleeps()
    src = YahooSource(workers=4, sleep=sleeps)
    batch = fetch_prices(
        SYMBOLS, src, *RANGE, cache=PriceCache(Path(os.environ["EVENTSTUDY_CACHE"]))
    )

    # every served symbol came, in the order asked, with the recorded prices
    assert list(batch.prices) == SERVED
    quote = recorded_chart("7203.T")["chart"]["result"][0]["indicators"]["quote"][0]
    for sym in SERVED:
        np.testing.assert_array_equal(batch.prices[sym]["close"], quote["close"])
        assert batch.prices[sym].attrs["provenance"]["symbol"] == sym
    # the others, each with its reason and its one-line error
    reasons = {f.symbol: f.reason for f in batch.failures}
    assert reasons == {
        **dict.fromkeys(UNKNOWN, "unknown symbol"),
        **dict.fromkeys(BROKEN, "network error"),
    }
    assert [f.symbol for f in batch.failures] == [*UNKNOWN, *BROKEN]  # in the order asked
    for f in batch.failures:
        assert f.message.startswith(f"{f.symbol}: ") or f"({f.symbol}: " in f.message
        assert "\n" not in f.message
        assert f.exit_code == (4 if f.symbol in BROKEN else 3)
    # a throttled symbol waited one backoff (2 s, first retry) and was asked once more
    assert sleeps.count(2.0) >= len(THROTTLED)
    for sym in THROTTLED:
        assert history_symbols(yahoo).count(sym) == 3  # 429, 429 (other cookie), 200
    for sym in SERVED:
        if sym not in THROTTLED:
            assert history_symbols(yahoo).count(sym) == 1
    # never more than 4 requests at once, and more than one (the pool did run)
    assert 2 <= yahoo.max_in_flight <= 4
    # stderr is captured (not a terminal): no progress bar
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("workers", [1, 3])
def test_the_server_never_sees_more_requests_at_once_than_workers(yahoo, workers):
    yahoo.set_latency(0.03)
    batch = fetch_prices(SERVED[:15], YahooSource(workers=workers), *RANGE, progress=False)
    assert len(batch.prices) == 15 and not batch.failures
    assert yahoo.max_in_flight == workers


def test_a_rate_limit_on_one_thread_pauses_every_thread(yahoo):
    """One 429 holds the whole pool for the backoff, not only the thread that got it."""
    pause = 0.8
    first = SERVED[0]
    yahoo.script(first, [RATE_LIMITED] * 2)
    src = YahooSource(workers=4, backoff=pause)
    batch = fetch_prices(SERVED[:24], src, *RANGE, progress=False)
    assert len(batch.prices) == 24
    requests = yahoo.chart_requests() + yahoo.chart_requests(probe=True)
    hit = max(r.at for r in yahoo.chart_requests(first)[:2])  # the second 429
    # the symbols in flight at the 429 finish (a few ms here); then nothing until the
    # pause is over
    quiet = [r for r in requests if hit + 0.25 < r.at < hit + pause - 0.05]
    assert quiet == [], [(r.path, round(r.at - hit, 3)) for r in quiet]
    assert any(r.at >= hit + pause - 0.05 for r in requests)  # and then it went on
    assert src.gate.pauses == 1


def test_a_source_that_keeps_refusing_is_not_asked_for_every_symbol(yahoo):
    yahoo.outage(RATE_LIMITED)
    src = YahooSource(workers=2, retries=1, sleep=Sleeps())
    with pytest.raises(RateLimited, match=r"2 attempts for 1301\.T"):
        fetch_prices(SERVED[:20], src, *RANGE, progress=False)
    # stopped after two symbols in a row were refused (each: 2 attempts x 2 requests),
    # with at most the symbols in flight on the other thread on top
    assert len(set(history_symbols(yahoo, probes=True))) <= 4


def test_not_asked_symbols_are_reported_after_a_source_kept_refusing(yahoo):
    batch = fetch_prices(SERVED[:1], YahooSource(), *RANGE, progress=False)
    assert list(batch.prices) == SERVED[:1]
    yahoo.outage(RATE_LIMITED)
    src = YahooSource(workers=1, retries=0, sleep=Sleeps())
    cache = PriceCache(Path(os.environ["EVENTSTUDY_CACHE"]))
    batch = fetch_prices(SERVED[:6], src, *RANGE, cache=cache, progress=False)
    assert list(batch.prices) == SERVED[:1]  # from the cache, no request
    assert [f.reason for f in batch.failures] == ["rate limited"] * 5
    asked = set(history_symbols(yahoo, probes=True)) - {SERVED[0]}
    assert asked == set(SERVED[1:3])  # two refusals in a row, then no more requests
    for f in batch.failures[2:]:
        assert "not asked" in f.message and f.exit_code == 4


def test_every_symbol_failing_raises_the_first_ones_error(yahoo):
    with pytest.raises(UnknownSymbol, match=r"^1311\.T: Yahoo Finance has no data"):
        fetch_prices(UNKNOWN, YahooSource(workers=2), *RANGE, progress=False)


def test_no_data_in_the_range_is_its_own_reason(yahoo):
    batch = fetch_prices(
        [SERVED[0], SERVED[1]], YahooSource(), "2021-09-21", "2021-10-08", progress=False
    )
    assert not batch.failures
    with pytest.raises(NoDataInRange, match=r"1301\.T: Yahoo Finance has no prices in the range"):
        YahooSource().get(SERVED[0], "2021-10-09", "2021-10-10")  # a weekend


# ============================================================================ resumable

KILLED_RUN = """
import os, sys
sys.path.insert(0, {tests!r})
import yfinance as yf
from eventstudy.data import PriceCache, YahooSource, fetch_prices
yf.config.network.proxy = {{"http": {url!r}, "https": {url!r}}}
fetch_prices({symbols!r}, YahooSource(workers=3), {start!r}, {end!r},
             cache=PriceCache({root!r}), progress=False)
open({done!r}, "w").write("finished")
"""


def test_a_killed_run_resumes_asking_only_for_what_is_missing(yahoo, tmp_path):
    root = tmp_path / "prices-cache"
    cache = PriceCache(root)
    yahoo.set_latency(0.15)
    script = tmp_path / "killed.py"
    done = tmp_path / "done"
    script.write_text(
        textwrap.dedent(KILLED_RUN).format(
            tests=str(TESTS), url=yahoo.url, symbols=SERVED, start=RANGE[0], end=RANGE[1],
            root=str(root), done=str(done),
        )
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((root / "yahoo").glob("*.parquet"))) < 8 if root.exists() else True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the child never cached 8 symbols"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL and not done.exists()
    # whatever the kill interrupted, every file in the cache is whole and verified
    listing = cache.list()
    assert set(listing["status"]) == {"ok"}
    cached = set(listing["symbol"])
    assert 8 <= len(cached) < len(SERVED)
    before = len(yahoo.chart_requests())

    yahoo.set_latency(0.0)
    batch = fetch_prices(SERVED, YahooSource(workers=3), *RANGE, cache=cache, progress=False)
    assert list(batch.prices) == SERVED and not batch.failures
    asked = history_symbols(yahoo)[before:]
    assert sorted(asked) == sorted(set(SERVED) - cached)  # the rest, each once
    hits = [s for s, df in batch.prices.items() if df.attrs["provenance"]["cache"]["hit"]]
    assert set(hits) == cached
    # and a third run asks for nothing
    n = len(yahoo.chart_requests())
    fetch_prices(SERVED, YahooSource(workers=3), *RANGE, cache=cache, progress=False)
    assert len(yahoo.chart_requests()) == n


# ============================================================================ progress


def test_progress_on_a_terminal_counts_done_failed_and_total(yahoo, monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    symbols = [*SERVED[:5], UNKNOWN[0]]
    batch = fetch_prices(symbols, YahooSource(workers=1), *RANGE)
    assert len(batch.failures) == 1
    shown = term.getvalue()
    assert "prices from yahoo" in shown and "0/6" in shown and "6/6" in shown
    assert f"1 failed, {UNKNOWN[0]}" in shown
    # the ETA: click prints it once it has timed a step, which a loaded machine may not
    # reach in six quick symbols; that the bar asks for it is checked below


def test_the_progress_bar_asks_click_for_counts_and_the_eta(monkeypatch):
    import click

    from eventstudy.data import loading

    made: dict[str, Any] = {}
    monkeypatch.setattr(click, "progressbar", lambda **kw: made.update(kw) or "bar")
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert loading._progress_bar(7, "prices from yahoo") == "bar"
    assert made["length"] == 7 and made["show_pos"] and made["show_eta"]
    assert made["file"] is sys.stderr


def test_no_progress_when_stderr_is_piped(yahoo, capsys):
    fetch_prices(SERVED[:4], YahooSource(workers=2), *RANGE)
    assert capsys.readouterr().err == ""


# ============================================================================ the CLI

STUDY = """
name: batch
title: Batch fetch
securities:
{securities}
market:
  XTKS: {{symbol: "1399.T"}}
events:
  - id: e1
    title: an event
    announced: "2021-10-01T09:30:00+09:00"
estimation: [-20, -3]
event_window: [-1, 1]
car_windows: [[0, 1]]
min_estimation_obs: 10
source: yahoo
data_start: "{start}"
data_end: "{end}"
"""


def study(tmp_path: Path, symbols: list[str]) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    lines = "\n".join(f'  - {{symbol: "{s}", name: "Firm {s}"}}' for s in symbols)
    path = tmp_path / "batch.yaml"
    path.write_text(STUDY.format(securities=lines, start=RANGE[0], end=RANGE[1]))
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_cli_fetch_lists_the_failures_at_the_end_and_goes_on(yahoo, tmp_path):
    yahoo.add_alias("1399.T")
    yahoo.script(BROKEN[0], [SERVER_ERROR] * 2)
    config = study(tmp_path, [*SERVED[:3], UNKNOWN[0], BROKEN[0]])
    result = invoke("fetch", str(config), "--workers", "2")
    assert result.exit_code == 0, result.stderr
    for sym in SERVED[:3]:
        assert sym in result.stdout
    assert UNKNOWN[0] not in result.stdout
    err = result.stderr.splitlines()
    head = next(i for i, line in enumerate(err) if "could not be fetched" in line)
    assert err[head].startswith("warning: 2 of 5 securities could not be fetched")
    table = err[head + 1 : head + 4]
    assert table[0].split() == ["symbol", "reason", "error"]
    assert table[1].split()[:3] == [UNKNOWN[0], "unknown", "symbol"]
    assert table[2].split()[:3] == [BROKEN[0], "network", "error"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("broken", "code"), [(False, 3), (True, 4)], ids=["unknown-exit-3", "network-exit-4"]
)
def test_cli_strict_stops_with_the_data_or_network_code_and_the_list(yahoo, tmp_path, broken, code):
    yahoo.add_alias("1399.T")
    bad = [UNKNOWN[0]]
    if broken:
        yahoo.script(BROKEN[0], [SERVER_ERROR] * 4)  # fetch, then run
        bad.append(BROKEN[0])
    config = study(tmp_path, [*SERVED[:3], *bad])
    out = ["--out", str(tmp_path / "out")]
    for command, extra in (("fetch", []), ("run", out)):
        result = invoke(command, str(config), "--strict", *extra)
        assert result.exit_code == code, result.stderr
        lines = result.stderr.splitlines()
        assert lines[-1].startswith(f"error: {len(bad)} of {len(bad) + 3} securities could not")
        assert "--strict stops here" in lines[-1]
        assert lines[0].split() == ["symbol", "reason", "error"]
        assert [line.split()[0] for line in lines[1:-1]] == bad
        assert not (tmp_path / "out" / "batch").exists()  # nothing computed, nothing written


def test_cli_quiet_prints_no_failure_table(yahoo, tmp_path):
    yahoo.add_alias("1399.T")
    config = study(tmp_path, [*SERVED[:2], UNKNOWN[0]])
    result = invoke("--quiet", "fetch", str(config))
    assert result.exit_code == 0 and result.stderr == ""


# ============================================================================ the runner


def test_the_study_runs_on_the_rest_and_records_the_failures(prices_dir, tmp_path):
    """A security missing from the prices is left out; the others' numbers are unchanged."""
    from eventstudy.plan import plan_study

    root = TESTS.parent
    text = (root / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
    text = text.replace(
        '  - {symbol: "7261.T", name: Mazda Motor, role: peer}\n',
        '  - {symbol: "7261.T", name: Mazda Motor, role: peer}\n'
        '  - {symbol: "7299.T", name: Not There, role: peer}\n',
    )
    assert "7299.T" in text
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "configs").mkdir()
    import shutil

    shutil.copytree(root / "seeds", tmp_path / "seeds")
    config = tmp_path / "configs" / "kei_plus.yaml"
    config.write_text(text, encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = runner.run_study(plan_study(config, prices=prices_dir), analyses=False, quiet=True)
        base = runner.run_study(
            plan_study(root / "configs" / "kei_cars.yaml", prices=prices_dir),
            analyses=False,
            quiet=True,
        )
    (skipped,) = [w.message for w in caught if w.category is SkippedSecuritiesWarning]
    assert str(skipped).startswith("1 of 8 securities could not be fetched")
    assert "7299.T (unknown symbol)" in str(skipped)
    (failure,) = run.provenance.failures
    assert failure.symbol == "7299.T" and failure.reason == "unknown symbol"
    assert any("7299.T (unknown symbol)" in n for n in run.notes)
    assert "7299.T" not in run.prices and "7299.T" not in set(run.firms["security"])
    # the other seven: the same numbers as the study without the missing one
    assert [v.as_record() for v in run.verdicts] == [v.as_record() for v in base.verdicts]
    cols = ["security", "measure", "estimate", "se", "p_value"]
    assert run.firms[cols].equals(base.firms[cols])
    from eventstudy import report

    report.write(run, tmp_path / "report")  # the page's data sources say who is missing
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert '7299.T</td><td class="text">not fetched: left out of the study' in page
    assert "unknown symbol: " in page
    with pytest.raises(FetchFailed) as info:
        runner.prepare(plan_study(config, prices=prices_dir), strict=True)
    assert info.value.exit_code == 3 and info.value.failures == (failure,)


# ============================================================================ pieces


def test_rate_gate_holds_until_the_longest_pause_is_over():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    slept = Sleeps()
    gate.wait(slept)
    assert slept == []
    gate.pause(2.0)
    gate.pause(1.0)  # a shorter pause does not shorten the current one
    now[0] += 0.5
    gate.wait(slept)
    assert slept == [1.5] and gate.pauses == 2
    now[0] += 2.0
    gate.wait(slept)
    assert slept == [1.5]


@pytest.mark.parametrize(
    ("err", "reason", "code"),
    [
        (UnknownSymbol(symbol="X"), "unknown symbol", 3),
        (NoDataInRange(symbol="X", reason="No data found"), "no data in range", 3),
        (RateLimited(symbol="X", attempts=5), "rate limited", 4),
        (NetworkError(detail="X: HTTP 503"), "network error", 4),
        (NotCached(symbol="X", detail="offline"), "not cached", 3),
        (DataError(symbol="X", detail="another exchange"), "bad data", 3),
    ],
)
def test_each_error_becomes_a_reason(err, reason, code):
    f = FetchFailure.from_error("X", "X.T", err)
    assert (f.reason, f.exit_code, f.message) == (reason, code, str(err))


def test_failure_table_and_strict_error_read_as_one_table_and_one_line():
    failures = [
        FetchFailure.from_error("AAA", "AAA", UnknownSymbol(symbol="AAA")),
        FetchFailure.from_error("LONGNAME.T", "LONGNAME.T", NetworkError(detail="x")),
    ]
    lines = failure_lines(failures)
    assert lines[0] == "symbol      reason          error"
    assert lines[1].startswith("AAA         unknown symbol  AAA: the source has no data")
    assert lines[2].startswith("LONGNAME.T  network error   Yahoo Finance: cannot reach")
    err = FetchFailed(failures=failures, total=10)
    assert err.exit_code == 4 and err.details == lines and "\n" not in str(err)
    assert str(err).startswith("2 of 10 securities could not be fetched: AAA (unknown symbol)")
    only_data = FetchFailed(failures=failures[:1], total=3)
    assert only_data.exit_code == 3
    many = [
        FetchFailure.from_error(f"S{i}", f"S{i}", UnknownSymbol(symbol=f"S{i}")) for i in range(9)
    ]
    w = SkippedSecuritiesWarning.of(many, 100)
    assert "S4 (unknown symbol) and 4 more" in str(w) and len(w.details) == 10


def test_load_prices_asks_for_nothing_after_the_first_failure():
    asked: list[str] = []

    def before(symbol: str) -> None:
        asked.append(symbol)
        if symbol == "B":
            raise UnknownSymbol(symbol=symbol)

    src = CountingSource(DateSource(), before_get=before)
    with pytest.raises(UnknownSymbol, match=r"^B: "):
        load_prices(["A", "B", "C", "D"], src, "2024-01-01", "2024-01-31", progress=False)
    assert asked == ["A", "B"]
