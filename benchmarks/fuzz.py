"""The full fuzz run: schemathesis against a real roost server (`tests/fuzz`), every
operation of /openapi.json with generated valid and invalid input.

Prints the requests made, the failures (5xx, undocumented status / content type / body,
invalid input accepted), the time, and the request rate against a baseline measured in the
same run: GET /health, the cheapest route, with the same client. Exit status 1 on any
failure. `--examples` is per operation and mode (valid, invalid); 60 makes > 5,000 requests.

    .venv/bin/python -m benchmarks.fuzz [--examples 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.fuzz.runner import fuzz
from tests.fuzz.server import fuzz_server

BASELINE_REQUESTS = 500


def health_rate(url: str) -> float:
    session = requests.Session()
    started = time.perf_counter()
    for _ in range(BASELINE_REQUESTS):
        session.get(f"{url}/health", timeout=10).raise_for_status()
    return BASELINE_REQUESTS / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60, help="cases per operation and mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print progress per operation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fuzz_server(Path(tmp) / "home") as (url, creds):
        baseline = health_rate(url)
        report = fuzz(
            url,
            creds,
            examples=args.examples,
            seed=args.seed,
            log=print if args.verbose else (lambda line: None),
        )
    rate = report.requests / report.seconds if report.seconds else 0.0
    print(report.summary())
    print(f"requests:  {report.requests}")
    print(f"failures:  {len(report.failures)}")
    print(f"time:      {report.seconds:.1f} s")
    print(
        f"rate:      {rate:.0f} req/s fuzzing, {baseline:.0f} req/s GET /health (baseline), "
        f"ratio {rate / baseline:.2f}"
    )
    for failure in report.failures:
        print("\n" + failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
