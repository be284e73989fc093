"""MemoryVectorRepository: the embedding cache and sqlite-vec KNN tables."""

from __future__ import annotations

import struct

import pytest
from sqlalchemy import text

from roost.core.records import MemoryChunk, User
from roost.storage import Database
from roost.storage.memory import MemoryIndexRepository, text_hash
from roost.storage.memory_vectors import MemoryVectorRepository, table_name

MODEL = "minilm:test"


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


@pytest.fixture
def store(db: Database) -> MemoryVectorRepository:
    if not db.has_vectors:
        pytest.skip("vector search is SQLite + sqlite-vec only (pgvector is not installed here)")
    return MemoryVectorRepository(db)


@pytest.fixture
def index(db: Database) -> MemoryIndexRepository:
    return MemoryIndexRepository(db)


# Three chunks pointing in three directions of a 3-d space.
TEXTS = {"north pole": vec(0, 1, 0), "east coast": vec(1, 0, 0), "sky above": vec(0, 0, 1)}


async def _index(index: MemoryIndexRepository, user: User, path: str = "a.md") -> None:
    chunks = [MemoryChunk(i + 1, i + 1, t) for i, t in enumerate(TEXTS)]
    await index.replace_file(user.id, path, f"h-{path}", 10, chunks)


async def _embed_all(store: MemoryVectorRepository, user: User, table: str) -> None:
    todo = await store.missing(user.id, MODEL, 100)
    await store.store(MODEL, 3, {digest: TEXTS[body] for digest, body in todo})
    await store.fill(user.id, MODEL, table)


async def test_missing_lists_each_distinct_text_once_until_cached(
    store: MemoryVectorRepository, index: MemoryIndexRepository, alice: User
) -> None:
    await _index(index, alice, "a.md")
    await _index(index, alice, "b.md")  # the same three texts again
    todo = await store.missing(alice.id, MODEL, 100)
    assert sorted(body for _, body in todo) == sorted(TEXTS)
    assert {digest for digest, _ in todo} == {text_hash(t) for t in TEXTS}
    await store.store(MODEL, 3, {todo[0][0]: vec(1, 1, 1)})
    assert len(await store.missing(alice.id, MODEL, 100)) == 2
    assert len(await store.missing(alice.id, "other-model", 100)) == 3  # cache is per model


async def test_nearest_ranks_by_cosine_and_is_per_user(
    store: MemoryVectorRepository, index: MemoryIndexRepository, alice: User, bob: User
) -> None:
    table = await store.ensure_table(MODEL, 3)
    await _index(index, alice)
    await _embed_all(store, alice, table)
    hits = await store.nearest(alice.id, table, vec(0.1, 0.9, 0), 2)
    assert [(h[0], h[1], h[2]) for h in hits] == [
        ("a.md", "north pole", 1),
        ("a.md", "east coast", 2),
    ]
    assert hits[0][4] < hits[1][4]  # distances ascend
    assert await store.nearest(bob.id, table, vec(0, 1, 0), 5) == []
    assert await store.count(alice.id, table) == 3
    # Filling again adds nothing: every chunk already has its vector.
    assert await store.fill(alice.id, MODEL, table) == 0


async def test_vectors_leave_with_their_chunks(
    store: MemoryVectorRepository, index: MemoryIndexRepository, alice: User
) -> None:
    table = await store.ensure_table(MODEL, 3)
    await _index(index, alice)
    await _embed_all(store, alice, table)
    # Re-chunking the file replaces its chunks: the old vectors go, the cache stays.
    await index.replace_file(alice.id, "a.md", "h2", 5, [MemoryChunk(1, 1, "north pole")])
    assert await store.count(alice.id, table) == 0
    assert await store.missing(alice.id, MODEL, 100) == []  # cached: nothing to embed
    assert await store.fill(alice.id, MODEL, table) == 1
    await index.remove_file(alice.id, "a.md")
    assert await store.count(alice.id, table) == 0


async def test_a_new_model_replaces_the_old_table(
    db: Database, store: MemoryVectorRepository, index: MemoryIndexRepository, alice: User
) -> None:
    first = await store.ensure_table(MODEL, 3)
    assert await store.ensure_table(MODEL, 3) == first  # idempotent
    second = await store.ensure_table("other:model", 4)
    assert second == table_name("other:model", 4) != first
    async with db.read() as conn:
        names = {
            row.name
            for row in await conn.execute(text("SELECT name FROM sqlite_master"))
            if row.name.startswith("memory_vec_")
        }
    assert second in names
    assert first not in names
    assert not any(name.startswith(first) for name in names)  # shadow tables went too
    # Deleting chunks still works: the old table's trigger went with it.
    await _index(index, alice)
    await index.remove_file(alice.id, "a.md")


async def test_dimension_is_bounded(store: MemoryVectorRepository) -> None:
    with pytest.raises(ValueError, match="dimension"):
        await store.ensure_table(MODEL, 0)
