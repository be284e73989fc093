"""Embeddings for the memory index: compute the missing ones, search by vector.

Vectors are cached by (model, chunk text hash) in the database, so only text never seen
by this model is embedded: a reindex after an edit embeds the edited chunks alone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from collections.abc import Callable, Mapping
from typing import Protocol

from roost.core.errors import ProviderError
from roost.core.records import MemoryHit
from roost.providers.base import EmbeddingProvider

log = logging.getLogger(__name__)

EMBED_BATCH = 32
QUERY_CHARS = 2_000  # a longer query is embedded by its start (models cut input anyway)

# (phase, done, total): "files" (the index pass), "model" (the embedding model loads),
# "embedding" (chunks embedded), as `roost memory reindex` shows them.
PhaseProgress = Callable[[str, int, int], object]


class VectorStore(Protocol):
    """What this needs of the vector repositories: `MemoryVectorRepository` (SQLite,
    sqlite-vec) and `PgMemoryVectorRepository` (PostgreSQL, a brute-force scan)."""

    async def ensure_table(self, model: str, dim: int) -> str: ...

    async def missing(self, user_id: str, model: str, limit: int) -> list[tuple[str, str]]: ...

    async def count_missing(self, user_id: str, model: str) -> int: ...

    async def store(self, model: str, dim: int, vectors: Mapping[str, bytes]) -> None: ...

    async def fill(self, user_id: str, model: str, table: str) -> int: ...

    async def nearest(
        self, user_id: str, table: str, vector: bytes, k: int
    ) -> list[tuple[str, str, int, int, float]]: ...


def pack(vector: list[float], dim: int) -> bytes:
    """Little-endian float32, as sqlite-vec stores it; rejects what it cannot use."""
    if len(vector) != dim:
        raise ProviderError(f"the embedding model returned {len(vector)} numbers, not {dim}")
    if not all(math.isfinite(x) for x in vector):
        raise ProviderError("the embedding model returned a vector with NaN or infinity")
    packed = array("f", vector)
    if packed.itemsize != 4:  # pragma: no cover  (every platform Python runs on)
        raise RuntimeError("float32 array items are not 4 bytes here")
    return packed.tobytes() if array("H", [1]).tobytes() == b"\x01\x00" else _swapped(packed)


def _swapped(packed: array[float]) -> bytes:  # pragma: no cover  (big-endian hosts)
    packed.byteswap()
    return packed.tobytes()


class VectorIndex:
    """One embedding model's vectors for every user's memory chunks."""

    def __init__(
        self, store: VectorStore, embedder: EmbeddingProvider, model: str, *, batch: int = 32
    ) -> None:
        self._store = store
        self._embedder = embedder
        self.model = model  # the cache key: model name and upstream model
        self._batch = batch
        self._table: tuple[str, int] | None = None
        self._table_lock = asyncio.Lock()
        self._user_locks: dict[str, asyncio.Lock] = {}

    async def _vectors(self, texts: list[str]) -> list[list[float]]:
        result = await self._embedder.embed(texts)
        if len(result.vectors) != len(texts):
            raise ProviderError(
                f"the embedding model returned {len(result.vectors)} vectors for {len(texts)} texts"
            )
        return result.vectors

    async def table(self) -> tuple[str, int]:
        """The KNN table and dimension, learned by embedding one probe text."""
        async with self._table_lock:
            if self._table is None:
                probe = await self._vectors(["dimension probe"])
                dim = len(probe[0])
                if not 1 <= dim <= 8192:
                    raise ProviderError(f"the embedding model returned {dim}-number vectors")
                self._table = (await self._store.ensure_table(self.model, dim), dim)
            return self._table

    async def sync(self, user_id: str, progress: PhaseProgress | None = None) -> int:
        """Embed the user's chunks that have no vector yet and index them; how many.

        `progress` hears ("model", 0, 0) while the model loads (its first embedding, the
        dimension probe, may take seconds), then ("embedding", done, total) per batch."""
        if progress is not None and self._table is None:
            progress("model", 0, 0)
        name, dim = await self.table()
        embedded = 0
        async with self._user_locks.setdefault(user_id, asyncio.Lock()):
            total = await self._store.count_missing(user_id, self.model)
            if progress is not None:
                progress("embedding", 0, total)
            while True:
                todo = await self._store.missing(user_id, self.model, self._batch * 8)
                if not todo:
                    break
                for start in range(0, len(todo), self._batch):
                    part = todo[start : start + self._batch]
                    vectors = await self._vectors([text for _, text in part])
                    pairs = zip(part, vectors, strict=True)
                    packed = {digest: pack(v, dim) for (digest, _), v in pairs}
                    await self._store.store(self.model, dim, packed)
                    embedded += len(part)
                    if progress is not None:  # chunks may arrive meanwhile: total grows
                        total = max(total, embedded)
                        progress("embedding", embedded, total)
            await self._store.fill(user_id, self.model, name)
        return embedded

    async def search(self, user_id: str, query: str, k: int) -> list[MemoryHit]:
        """The user's `k` chunks nearest the query; score is cosine similarity."""
        name, dim = await self.table()
        [vector] = await self._vectors([query[:QUERY_CHARS]])
        rows = await self._store.nearest(user_id, name, pack(vector, dim), k)
        return [
            MemoryHit(
                file=path, content=text, score=round(1.0 - distance, 6), line_start=a, line_end=b
            )
            for path, text, a, b, distance in rows
        ]
