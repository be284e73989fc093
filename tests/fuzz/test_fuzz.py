"""schemathesis against a real running server: every operation of /openapi.json with
generated valid and invalid input. No 5xx, nothing undocumented, bad input is a 4xx.

The normal run makes a few hundred requests; ROOST_FUZZ_FULL=1 makes the full run
(≥ 5,000 requests; also `python -m benchmarks.fuzz`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.runner import fuzz
from tests.fuzz.server import fuzz_server

FULL = os.environ.get("ROOST_FUZZ_FULL") == "1"
SMALL_EXAMPLES = 3
FULL_EXAMPLES = 60


@pytest.mark.timeout(7200 if FULL else 300)
def test_fuzz_every_operation(tmp_path: Path) -> None:
    examples = FULL_EXAMPLES if FULL else SMALL_EXAMPLES
    with fuzz_server(tmp_path / "home") as (url, credentials):
        report = fuzz(
            url, credentials, examples=examples, seed=int(os.environ.get("ROOST_FUZZ_SEED", "1"))
        )
    print(report.summary())
    assert report.operations >= 70, report.summary()
    assert report.failures == [], "\n\n".join(report.failures)
    assert report.requests >= (5000 if FULL else 200), report.summary()
    # every answer class was seen: successes, and bad input refused in the dialect's shape
    assert sum(n for s, n in report.statuses.items() if 200 <= s < 300) > 0
    assert report.statuses[400] > 0
    assert report.statuses[401] > 0
