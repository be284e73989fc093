"""Vectors for hybrid memory search: the embedding cache, and sqlite-vec KNN tables.

The cache (`memory_embeddings`, migration 0004) maps (model, text hash) to a vector; it
is the same on both databases (`EmbeddingCache`). Searching it differs:

- SQLite (`MemoryVectorRepository`, here): the KNN index is a vec0 table per (model,
  dimension), built from the cache. A vec0 column has a fixed dimension, which is only
  known once the model has embedded something, so these tables are made here at run
  time rather than by a migration. Only the current model's table is kept; switching
  models drops the old one (its cache rows stay, so switching back costs no embedding).
  A trigger removes a chunk's vector with the chunk. Needs sqlite-vec loaded
  (`Database.has_vectors`).
- PostgreSQL (`PgMemoryVectorRepository`, storage/memory_vectors_pg.py): no pgvector (it
  is not packaged for the platform roost targets); a brute-force cosine scan, in roost's
  process, of the user's cached vectors, streamed in bounded batches. No index table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from sqlalchemy import text

from roost.core.errors import Unavailable
from roost.storage.db import Database

_PREFIX = "memory_vec_"

# The user's chunks whose text has no vector for this model yet, one row per distinct
# text. Chunks from before migration 0004 (no hash) wait for their file's re-chunking.
_MISSING = text("""\
SELECT c.text_hash, min(c.text) AS text
FROM memory_chunks AS c
WHERE c.user_id = :user_id AND c.text_hash IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM memory_embeddings AS e WHERE e.model = :model AND e.text_hash = c.text_hash)
GROUP BY c.text_hash
LIMIT :limit""")

_COUNT_MISSING = text("""\
SELECT count(DISTINCT c.text_hash)
FROM memory_chunks AS c
WHERE c.user_id = :user_id AND c.text_hash IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM memory_embeddings AS e WHERE e.model = :model AND e.text_hash = c.text_hash)""")

_STORE = text(
    "INSERT INTO memory_embeddings(model, text_hash, dim, vector) "
    "VALUES (:model, :text_hash, :dim, :vector) ON CONFLICT DO NOTHING"
)


_TABLE = re.compile(r"memory_vec_[0-9]{1,4}_[0-9a-f]{16}")


def _checked(table: str) -> str:
    # Table names are built into SQL text (they cannot be bound): only our own shape.
    if not _TABLE.fullmatch(table):
        raise ValueError(f"not a memory vector table: {table!r}")
    return table


def table_name(model: str, dim: int) -> str:
    """A safe identifier for the KNN table of a model key at a dimension."""
    digest = hashlib.sha256(f"{model}\n{dim}".encode()).hexdigest()[:16]
    return f"{_PREFIX}{dim}_{digest}"


class EmbeddingCache:
    """The embedding cache, the same on both databases: what to embed, and storing it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def missing(self, user_id: str, model: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (text hash, text) of the user's chunks this model has no vector for."""
        params = {"user_id": user_id, "model": model, "limit": limit}
        async with self._db.read() as conn:
            rows = (await conn.execute(_MISSING, params)).all()
        return [(row.text_hash, row.text) for row in rows]

    async def count_missing(self, user_id: str, model: str) -> int:
        """How many distinct texts of the user's chunks this model has no vector for."""
        params = {"user_id": user_id, "model": model}
        async with self._db.read() as conn:
            return int((await conn.execute(_COUNT_MISSING, params)).scalar_one())

    async def store(self, model: str, dim: int, vectors: Mapping[str, bytes]) -> None:
        """Cache vectors (little-endian float32) by text hash; existing ones are kept."""
        if not vectors:
            return
        rows = [
            {"model": model, "text_hash": digest, "dim": dim, "vector": vector}
            for digest, vector in vectors.items()
        ]
        async with self._db.write() as conn:
            await conn.execute(_STORE, rows)


def check_dimension(dim: int) -> None:
    if not 1 <= dim <= 8192:
        raise ValueError(f"embedding dimension {dim} is out of range")


class MemoryVectorRepository(EmbeddingCache):
    """SQLite: KNN search by sqlite-vec, one vec0 table for the current model."""

    @property
    def available(self) -> bool:
        return self._db.dialect == "sqlite" and self._db.has_vectors

    def _require(self) -> None:
        if not self.available:
            raise Unavailable("vector search needs SQLite with the sqlite-vec extension")

    async def ensure_table(self, model: str, dim: int) -> str:
        """The KNN table for this model, made if needed; other models' tables dropped."""
        self._require()
        check_dimension(dim)
        name = table_name(model, dim)
        async with self._db.write() as conn:
            rows = await conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name LIKE 'memory\\_vec\\_%' ESCAPE '\\'"
                )
            )
            # memory_vec_<dim>_<hash>: three underscores; vec0's shadow tables have more.
            existing = {row.name for row in rows if row.name.count("_") == 3}
            for old in sorted(existing - {name}):  # dropping a vec0 table drops its shadows
                await conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {old}_ad")
                await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {old}")
            if name not in existing:
                # Cosine: the models roost uses are trained for it, and it needs no
                # normalised vectors. Partitioned by user: a KNN query scans one user's.
                await conn.exec_driver_sql(
                    f"CREATE VIRTUAL TABLE {name} USING vec0("
                    "chunk_id integer primary key, user_id text partition key, "
                    f"embedding float[{dim}] distance_metric=cosine)"
                )
                trigger = f"CREATE TRIGGER {name}_ad AFTER DELETE ON memory_chunks BEGIN "
                await conn.exec_driver_sql(
                    trigger + f"DELETE FROM {name} WHERE chunk_id = old.id; END"  # noqa: S608
                )
        return name

    async def fill(self, user_id: str, model: str, table: str) -> int:
        """Put the cached vectors of the user's chunks that lack one into the KNN table."""
        self._require()
        table = _checked(table)
        statement = text(f"""\
INSERT INTO {table}(chunk_id, user_id, embedding)
SELECT c.id, c.user_id, e.vector
FROM memory_chunks AS c
JOIN memory_embeddings AS e ON e.model = :model AND e.text_hash = c.text_hash
WHERE c.user_id = :user_id AND NOT EXISTS (SELECT 1 FROM {table} AS v WHERE v.chunk_id = c.id)""")  # noqa: S608
        async with self._db.write() as conn:
            result = await conn.execute(statement, {"user_id": user_id, "model": model})
        return max(result.rowcount, 0)

    async def count(self, user_id: str, table: str) -> int:
        self._require()
        async with self._db.read() as conn:
            found = await conn.scalar(
                text(f"SELECT count(*) FROM {_checked(table)} WHERE user_id = :u"),  # noqa: S608
                {"u": user_id},
            )
        return int(found or 0)

    async def nearest(
        self, user_id: str, table: str, vector: bytes, k: int
    ) -> list[tuple[str, str, int, int, float]]:
        """The user's `k` chunks closest to `vector`: (path, text, start, end, distance)."""
        self._require()
        table = _checked(table)
        statement = text(f"""\
SELECT f.path, c.text, c.line_start, c.line_end, v.distance
FROM (SELECT chunk_id, distance FROM {table}
      WHERE embedding MATCH :vector AND k = :k AND user_id = :user_id) AS v
JOIN memory_chunks AS c ON c.id = v.chunk_id
JOIN memory_files AS f ON f.id = c.file_id
ORDER BY v.distance, c.id""")  # noqa: S608
        params = {"vector": vector, "k": k, "user_id": user_id}
        async with self._db.read() as conn:
            rows = (await conn.execute(statement, params)).all()
        return [(r.path, r.text, r.line_start, r.line_end, float(r.distance)) for r in rows]
