"""Vectors for hybrid memory search on PostgreSQL: brute-force cosine over the cache.

No pgvector: it is not packaged for the platform roost targets (Debian bookworm has no
postgresql-15-pgvector), and roost asks for no extension on PostgreSQL. The embedding
cache (`memory_embeddings`, shared with SQLite: `EmbeddingCache`) is the only copy of the
vectors, so there is no per-model index table to build or fill: a chunk is searchable as
soon as its text's vector is cached, and leaves the search with the chunk (the join).

`nearest()` streams the user's (chunk id, vector) pairs for the model through a
server-side cursor, in batches of about `batch_bytes` of vectors, scores each batch with
numpy (cosine distance, float32, as sqlite-vec does) and keeps the best `k` so far; then
it reads those `k` chunks' path, text and lines. Memory is one batch plus `k`, whatever
the user's number of chunks (3.9 MiB of Python memory at 25,000 and at 100,000 chunks);
time is linear in it. Measured with benchmarks/memory_vectors.py (384 dimensions, k = 30,
2 cores under other load): 10,000 chunks 35-52 ms p50, most of it reading the 15 MB of
vectors (a plain SELECT of the same rows: 30-52 ms), against 7-10 ms for sqlite-vec;
100,000 chunks about 0.5 s. See docs/deployment.md.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import bindparam, text

from roost.core.errors import Unavailable
from roost.storage.db import Database
from roost.storage.memory_vectors import EmbeddingCache, check_dimension, table_name

# Vectors per batch: 682 at 384 dimensions, 64 at 4,096; a search holds a few MiB at
# most. Batches of 4 MiB and of a whole 10,000-chunk user measured no faster.
BATCH_BYTES = 1 << 20

Distances = NDArray[np.float32]
Ids = NDArray[np.int64]

# The user's chunks with a vector for the model, one row per chunk. Through memory_files
# (its (user_id, path) key) and memory_chunks' file_id index: memory_chunks has no
# user_id index, and the composite foreign key makes c.user_id equal f.user_id.
_PAIRS = text("""\
SELECT c.id, e.vector
FROM memory_files AS f
JOIN memory_chunks AS c ON c.file_id = f.id
JOIN memory_embeddings AS e ON e.model = :model AND e.text_hash = c.text_hash
WHERE f.user_id = :user_id AND e.dim = :dim""")

_COUNT = text("""\
SELECT count(*)
FROM memory_files AS f
JOIN memory_chunks AS c ON c.file_id = f.id
JOIN memory_embeddings AS e ON e.model = :model AND e.text_hash = c.text_hash
WHERE f.user_id = :user_id AND e.dim = :dim""")

_CHUNKS = text("""\
SELECT c.id, f.path, c.text, c.line_start, c.line_end
FROM memory_chunks AS c
JOIN memory_files AS f ON f.id = c.file_id
WHERE c.user_id = :user_id AND c.id IN :ids""").bindparams(bindparam("ids", expanding=True))


def cosine_distances(matrix: NDArray[np.float32], query: NDArray[np.float32]) -> Distances:
    """1 - cosine similarity of each row with the query; 1 where either vector is zero."""
    # einsum: row norms without the squared temporary (4 times faster than linalg.norm).
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * np.sqrt(query @ query)
    dots = matrix @ query
    similarity = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    distances: Distances = np.float32(1.0) - similarity
    return distances


def best(ids: Ids, distances: Distances, k: int) -> tuple[Ids, Distances]:
    """The `k` smallest by (distance, id), in that order; ties at the cut go to lower ids."""
    if len(ids) > k:
        cut = distances[np.argpartition(distances, k - 1)[k - 1]]
        keep = distances <= cut  # every tie of the k-th, so the id order can choose
        ids, distances = ids[keep], distances[keep]
    order = np.lexsort((ids, distances))[:k]
    return ids[order], distances[order]


class PgMemoryVectorRepository(EmbeddingCache):
    """PostgreSQL: KNN search by a brute-force scan of the user's cached vectors."""

    def __init__(self, database: Database, *, batch_bytes: int = BATCH_BYTES) -> None:
        super().__init__(database)
        self._batch_bytes = batch_bytes
        self._tables: dict[str, tuple[str, int]] = {}  # name -> (model, dimension)

    @property
    def available(self) -> bool:
        return self._db.dialect == "postgresql"

    def _require(self) -> None:
        if not self.available:
            raise Unavailable("this vector search runs on PostgreSQL only")

    def _table(self, table: str) -> tuple[str, int]:
        found = self._tables.get(table)
        if found is None:
            raise ValueError(f"not a memory vector table: {table!r}")
        return found

    async def ensure_table(self, model: str, dim: int) -> str:
        """A name for this model's vectors (nothing to create); other models' forgotten."""
        self._require()
        check_dimension(dim)
        name = table_name(model, dim)
        self._tables = {name: (model, dim)}
        return name

    async def fill(self, user_id: str, model: str, table: str) -> int:
        """Nothing to fill: a cached vector is searchable at once. Always 0."""
        self._require()
        self._table(table)
        return 0

    async def count(self, user_id: str, table: str) -> int:
        """How many of the user's chunks have a vector for the table's model."""
        self._require()
        model, dim = self._table(table)
        params = {"user_id": user_id, "model": model, "dim": dim}
        async with self._db.read() as conn:
            found = await conn.scalar(_COUNT, params)
        return int(found or 0)

    async def nearest(
        self, user_id: str, table: str, vector: bytes, k: int
    ) -> list[tuple[str, str, int, int, float]]:
        """The user's `k` chunks closest to `vector`: (path, text, start, end, distance)."""
        self._require()
        model, dim = self._table(table)
        query = np.frombuffer(vector, dtype="<f4").astype(np.float32, copy=False)
        if query.size != dim:
            raise ValueError(f"the query vector has {query.size} numbers, not {dim}")
        if k < 1:
            return []
        rows = max(1, self._batch_bytes // (4 * dim))
        ids: Ids = np.empty(0, dtype=np.int64)
        distances: Distances = np.empty(0, dtype=np.float32)
        params = {"user_id": user_id, "model": model, "dim": dim}
        async with self._db.read() as conn:
            result = await conn.stream(_PAIRS.execution_options(yield_per=rows), params)
            try:
                async for part in result.partitions(rows):
                    batch_ids = np.fromiter((r[0] for r in part), np.int64, count=len(part))
                    blob = b"".join(r[1] for r in part)
                    matrix = np.frombuffer(blob, dtype="<f4").reshape(len(part), dim)
                    batch = cosine_distances(matrix.astype(np.float32, copy=False), query)
                    ids, distances = best(
                        np.concatenate((ids, batch_ids)), np.concatenate((distances, batch)), k
                    )
            finally:
                await result.close()
            if not len(ids):
                return []
            params = {"user_id": user_id, "ids": [int(i) for i in ids]}
            found = {r.id: r for r in (await conn.execute(_CHUNKS, params)).all()}
        return [
            (r.path, r.text, r.line_start, r.line_end, float(distance))
            for chunk, distance in zip(ids.tolist(), distances.tolist(), strict=True)
            if (r := found.get(chunk)) is not None  # deleted since the scan: left out
        ]
