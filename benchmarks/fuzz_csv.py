"""Long CSV-reader fuzz: the property of ``tests/test_csv_fuzz.py`` for minutes.

Runs batches of random (not derandomized) hypothesis examples until ``--minutes`` have
passed and prints how many files were read as prices, how many were refused with one
line naming the fault, by fault, and every failure of the property (other numbers, an
error without the right line, another exception) with the file that shows it.

Run: ``.venv/bin/python benchmarks/fuzz_csv.py [--minutes 3]``
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_csv_fuzz import PriceFile, check_price_file, price_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args(argv)

    outcomes: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    deadline = time.monotonic() + 60 * args.minutes
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="es-fuzz-csv-"))

    @settings(
        max_examples=args.batch,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=price_files())
    def batch(case: PriceFile) -> None:
        try:
            kind = check_price_file(case, folder)
            outcomes[f"{kind} ({case.fault or 'no fault'})"] += 1
        except Exception:  # a failure of the property: keep it, go on
            outcomes["FAILED"] += 1
            if len(failures) < 5:
                failures.append(f"{case.text!r}\n{traceback.format_exc(limit=2)}")

    while time.monotonic() < deadline:
        batch()
    total = sum(outcomes.values())
    print(f"{total} files in {time.monotonic() - started:.0f} s")
    for key, count in sorted(outcomes.items()):
        print(f"  {count:6d}  {key}")
    for text in failures:
        print("\nFAILURE:", text)
    return 1 if outcomes["FAILED"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
