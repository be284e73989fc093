"""Reciprocal rank fusion of keyword and vector hits.

    score(chunk) = w_kw / (k + rank_kw) + w_vec / (k + rank_vec)

with 1-based ranks in each list (a list that misses the chunk adds nothing), k = 60
(the constant of Cormack, Clarke and Büttcher's RRF paper, also used by Elasticsearch
and OpenSearch) and both weights 1.0 by default (`[memory] keyword_weight`,
`vector_weight`). Ranks, not raw scores, are fused because bm25 and cosine distance
live on unrelated scales. Reported scores are shares of the best fused score, as for
keyword search: the top hit is 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from roost.core.records import MemoryHit

RRF_K = 60

_Key = tuple[str, int, int]


def _key(hit: MemoryHit) -> _Key:
    return (hit.file, hit.line_start, hit.line_end)


def fuse(
    keyword: Sequence[MemoryHit],
    vector: Sequence[MemoryHit],
    limit: int,
    *,
    keyword_weight: float = 1.0,
    vector_weight: float = 1.0,
    k: int = RRF_K,
) -> list[MemoryHit]:
    scores: dict[_Key, float] = {}
    hits: dict[_Key, MemoryHit] = {}
    for weight, ranked in ((keyword_weight, keyword), (vector_weight, vector)):
        for rank, hit in enumerate(ranked, start=1):
            key = _key(hit)
            hits.setdefault(key, hit)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    # Ties keep keyword order first (dicts keep insertion order; sorted is stable).
    order = sorted(scores, key=lambda key: -scores[key])[:limit]
    best = scores[order[0]] if order else 0.0
    return [
        replace(hits[key], score=round(scores[key] / best, 6) if best > 0 else 1.0) for key in order
    ]
