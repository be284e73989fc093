"""benchmarks/run's protocol (not the benchmarks themselves, which never run in the suite):
every benchmark module plugs in, and figures compare against their targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._figures import Figure
from benchmarks.run import discover, table

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_every_benchmark_module_defines_figures() -> None:
    modules = sorted(
        p.stem for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_") and p.stem != "run"
    )
    assert discover() == modules


def test_ratio_and_target() -> None:
    throughput = Figure("throughput", 90.0, "req/s", 100.0, target="ratio >= 0.9")
    assert throughput.ratio == pytest.approx(0.9)
    assert throughput.met is True
    assert Figure("p50", 2.5, "ms", target="value <= 2").met is False
    assert Figure("rss", 80.0, "MiB").met is None
    with pytest.raises(ValueError, match="bad target"):
        Figure("x", 1.0, target="speed >= 1")


def test_the_table_shows_every_figure_and_each_skip() -> None:
    results = [
        {"name": "a", "status": "ok", "figures": [Figure("a: p50", 1.5, "ms", 1.0).as_json()]},
        {"name": "b", "status": "skipped", "reason": "needs chromium"},
    ]
    text = table(results, previous={"a: p50": 1.4})
    assert "a: p50" in text
    assert "1.5" in text
    assert "1.4" in text
    assert "b: skipped (needs chromium)" in text
