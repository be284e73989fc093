"""Reciprocal rank fusion: the documented formula, exactly."""

from __future__ import annotations

import pytest

from roost.core.records import MemoryHit
from roost.services.memory.fusion import RRF_K, fuse


def hit(name: str, score: float = 0.5) -> MemoryHit:
    return MemoryHit(file=f"{name}.md", content=name, score=score, line_start=1, line_end=2)


def test_a_chunk_found_by_both_beats_one_found_by_one() -> None:
    keyword = [hit("a"), hit("b")]
    vector = [hit("c"), hit("b")]
    fused = fuse(keyword, vector, 3)
    assert [h.content for h in fused] == ["b", "a", "c"]
    both = 2 / (RRF_K + 2)
    assert fused[0].score == 1.0
    assert fused[1].score == pytest.approx((1 / (RRF_K + 1)) / both, abs=1e-6)


def test_weights_and_limit() -> None:
    keyword = [hit("a")]
    vector = [hit("c")]
    assert [h.content for h in fuse(keyword, vector, 2)] == ["a", "c"]  # tie: keyword first
    favour = fuse(keyword, vector, 2, keyword_weight=0.5, vector_weight=2.0)
    assert [h.content for h in favour] == ["c", "a"]
    assert favour[1].score == pytest.approx(0.25)
    assert len(fuse([hit(str(i)) for i in range(10)], [], 3)) == 3
    assert fuse([], [], 5) == []


def test_zero_weight_drops_a_list_from_the_order() -> None:
    fused = fuse([hit("a"), hit("b")], [hit("b"), hit("a")], 2, keyword_weight=0.0)
    assert [h.content for h in fused] == ["b", "a"]
