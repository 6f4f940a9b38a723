"""Yahoo at scale (issue 16): many symbols through yfinance's own session, from a local server.

The fake Yahoo of ``tests/fixtures/yahoo_server.py`` runs in its own process on 127.0.0.1
and serves the recorded 7203.T chart under ``--symbols`` names (``1000.T`` ...), waiting
``--latency`` seconds before every chart answer (Yahoo answers in about 0.1-0.3 s). The
client is the real path: ``fetch_prices`` -> ``PriceCache`` -> ``YahooSource`` ->
``yfinance.Ticker.history`` -> ``curl_cffi`` (through the server as an HTTPS proxy, with
a test CA), each case in a fresh subprocess that reports its wall time, CPU time (user +
system) and peak RSS (``VmHWM``); the server counts the requests and the most it answered
at once.

Cases:

* ``sequential``: ``workers=1`` (one symbol after the other, as before), empty cache;
* ``concurrent``: ``workers=8`` (the default), empty cache;
* ``resume``: ``workers=8``, half the symbols already cached (a run killed half way);
* ``rerun``: ``workers=8``, everything cached (no request at all).

The sequential case runs on ``--sequential-symbols`` (default 200) and is extrapolated
to the full count (marked ``~``): at one symbol at a time it takes minutes.

Run: ``.venv/bin/python benchmarks/bench_yahoo.py [--symbols 1000] [--latency 0.1]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
RANGE = ("2021-09-21", "2021-10-08")

SERVER = """
import json, sys
sys.path.insert(0, {tests!r})
import trustme
from fixtures.yahoo_server import FakeYahooServer
ca = trustme.CA()
ca.cert_pem.write_to_path({pem!r})
server = FakeYahooServer(ca, (), max_requests=10**7, lifetime=7200)
for i in range({n}):
    server.add_alias(f"{{1000 + i}}.T")
server.set_latency({latency})
server.start()
print(server.url, flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "stats":
        seen = server.seen
        chart = [s for s in seen if s.path.startswith("/v8/finance/chart/")]
        print(json.dumps({{"requests": len(seen), "chart": len(chart),
                          "max_in_flight": server.max_in_flight}}), flush=True)
    elif cmd == "reset":
        with server.state.lock:
            server.state.seen.clear()
            server.state.max_in_flight = 0
        print("{{}}", flush=True)
server.stop()
"""

CLIENT = """
import json, os, resource, sys, time
import yfinance as yf
from eventstudy.data import PriceCache, YahooSource, fetch_prices
yf.config.network.proxy = {{"http": {url!r}, "https": {url!r}}}
symbols = [f"{{1000 + i}}.T" for i in range({n})]
t0, c0 = time.perf_counter(), time.process_time()
batch = fetch_prices(symbols, YahooSource(workers={workers}), {start!r}, {end!r},
                     cache=PriceCache({root!r}), progress=False)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM"))
print(json.dumps({{"wall": wall, "cpu": cpu, "rss_mb": hwm / 1024,
                  "prices": len(batch.prices), "failures": len(batch.failures)}}))
"""


class Server:
    def __init__(self, n: int, latency: float, workdir: Path) -> None:
        self.pem = workdir / "ca.pem"
        script = workdir / "server.py"
        script.write_text(
            textwrap.dedent(SERVER).format(
                tests=str(TESTS), pem=str(self.pem), n=n, latency=latency
            )
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def ask(self, cmd: str) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def client(server: Server, n: int, workers: int, root: Path, workdir: Path) -> dict:
    script = workdir / "client.py"
    script.write_text(
        textwrap.dedent(CLIENT).format(
            url=server.url, n=n, workers=workers, start=RANGE[0], end=RANGE[1], root=str(root)
        )
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "EVENTSTUDY_CACHE": str(root),
        "CURL_CA_BUNDLE": str(server.pem),
        "REQUESTS_CA_BUNDLE": str(server.pem),
        "PYTHONWARNINGS": "ignore",
    }
    server.ask("reset")
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(server.ask("stats"))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--symbols", type=int, default=1000)
    ap.add_argument("--sequential-symbols", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    n, k = args.symbols, min(args.sequential_symbols, args.symbols)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server(n, args.latency, work)
        rows = []
        try:
            seq = client(server, k, 1, work / "seq", work)
            scale = n / k
            rows.append(("sequential (workers=1)", seq, scale if k < n else 1.0))
            conc = client(server, n, args.workers, work / "conc", work)
            rows.append((f"concurrent (workers={args.workers})", conc, 1.0))
            # half cached: copy the first half of the concurrent run's cache
            half = work / "half"
            (half / "yahoo").mkdir(parents=True)
            for i in range(n // 2):
                name = f"{1000 + i}.T.parquet"
                (half / "yahoo" / name).write_bytes((work / "conc" / "yahoo" / name).read_bytes())
            rows.append(("resume (half cached)", client(server, n, args.workers, half, work), 1.0))
            rows.append(
                ("rerun (all cached)", client(server, n, args.workers, work / "conc", work), 1.0)
            )
        finally:
            server.close()
    print(f"{n} symbols, server latency {args.latency:.2f} s per chart answer\n")
    head = f"{'case':<26}{'wall s':>9}{'CPU s':>8}{'peak RSS MB':>13}{'chart req':>11}{'max at once':>13}{'prices':>8}{'vs seq':>8}"
    print(head)
    base = rows[0][1]["wall"] * rows[0][2]
    for name, r, scale in rows:
        mark = "~" if scale != 1.0 else " "
        wall = r["wall"] * scale
        print(
            f"{name:<26}{mark}{wall:>8.1f}{mark}{r['cpu'] * scale:>7.1f}{r['rss_mb']:>13.0f}"
            f"{mark}{r['chart'] * scale:>10.0f}{r['max_in_flight']:>13d}"
            f"{r['prices']:>8d}{base / wall if wall else float('inf'):>7.1f}x"
        )
    if rows[0][2] != 1.0:
        print(f"\n~ sequential measured on {k} symbols and scaled to {n}")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t:.0f} s)")
