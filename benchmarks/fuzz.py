"""Long engine fuzz: the checks of ``tests/test_fuzz.py`` for minutes instead of seconds.

Runs batches of hypothesis examples (random return panels, events and options through
``eventstudy.event_study`` and every results table) until ``--minutes`` have passed, then
prints how many examples ran, how many ended in a typed error, and every distinct failure
(uncaught exception, silent NaN, stray warning) with a count and a reproducible seed.

Run: ``.venv/bin/python benchmarks/fuzz.py [--minutes 3] [--max-securities 300]``
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_fuzz import KNOWN, Case, cases, check_engine


def _key(detail: str) -> str:
    """Failure text without the numbers that vary between examples."""
    return re.sub(r"\d+", "#", detail)[:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--max-securities", type=int, default=300)
    parser.add_argument("--batch", type=int, default=25)
    args = parser.parse_args(argv)

    counts: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    typed: collections.Counter[str] = collections.Counter()
    example: dict[str, str] = {}
    deadline = time.monotonic() + 60 * args.minutes
    started = time.monotonic()

    @settings(
        max_examples=args.batch,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(max_securities=args.max_securities), seed=hs.integers(0, 2**31))
    def batch(case: Case, seed: int) -> None:
        if time.monotonic() > deadline:
            return
        outcome = check_engine(case)
        counts[outcome.kind] += 1
        if outcome.kind == "typed":
            typed[outcome.detail.split(":", 1)[0] + ": " + _key(outcome.detail)[:80]] += 1
        for problem in outcome.problems:
            key = _key(problem)
            failures[key] += 1
            if key not in example:
                n_sec = case.returns.shape[1]
                example[key] = (
                    f"{problem}\n      panel {case.returns.shape[0]} days x {n_sec} "
                    f"columns, {len(case.events)} events, options {case.options}"
                )

    batches = 0
    while time.monotonic() < deadline:
        batch()
        batches += 1
    total = sum(counts.values())
    print(
        f"engine fuzz: {total} examples in {time.monotonic() - started:.0f} s ({batches} batches)"
    )
    print(f"  ok {counts['ok']}, typed error {counts['typed']}, failures {counts['fail']}")
    print("  typed errors (kind: count):")
    for key, n in typed.most_common(12):
        print(f"    {n:5d}  {key}")
    known = {k for k in failures if any(f in example[k] for f in KNOWN)}
    print(f"  distinct failures: {len(failures)} ({len(known)} of known classes, see KNOWN)")
    for key, n in failures.most_common():
        tag = "known" if key in known else "NEW  "
        print(f"    {n:5d} {tag} {example[key]}")
    return 1 if set(failures) - known else 0


if __name__ == "__main__":
    raise SystemExit(main())
