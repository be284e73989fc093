"""The vector repositories: the embedding cache, and KNN search by sqlite-vec (SQLite)
or by a brute-force scan (PostgreSQL). Both run the same tests."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest
from sqlalchemy import text

from roost.core.records import MemoryChunk, User
from roost.storage import Database
from roost.storage.memory import MemoryIndexRepository, text_hash
from roost.storage.memory_vectors import MemoryVectorRepository, table_name
from roost.storage.memory_vectors_pg import PgMemoryVectorRepository, best, cosine_distances

MODEL = "minilm:test"

Store = MemoryVectorRepository | PgMemoryVectorRepository


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


@pytest.fixture
def store(db: Database) -> Store:
    if db.dialect == "postgresql":
        # Two 3-d vectors a batch: every search keeps its best k across several batches.
        return PgMemoryVectorRepository(db, batch_bytes=2 * 3 * 4)
    if not db.has_vectors:
        pytest.skip("sqlite-vec could not be loaded")
    return MemoryVectorRepository(db)


@pytest.fixture
def index(db: Database) -> MemoryIndexRepository:
    return MemoryIndexRepository(db)


# Three chunks pointing in three directions of a 3-d space.
TEXTS = {"north pole": vec(0, 1, 0), "east coast": vec(1, 0, 0), "sky above": vec(0, 0, 1)}


async def _index(index: MemoryIndexRepository, user: User, path: str = "a.md") -> None:
    chunks = [MemoryChunk(i + 1, i + 1, t) for i, t in enumerate(TEXTS)]
    await index.replace_file(user.id, path, f"h-{path}", 10, chunks)


async def _embed_all(store: Store, user: User, table: str) -> None:
    todo = await store.missing(user.id, MODEL, 100)
    await store.store(MODEL, 3, {digest: TEXTS[body] for digest, body in todo})
    await store.fill(user.id, MODEL, table)


async def test_missing_lists_each_distinct_text_once_until_cached(
    store: Store, index: MemoryIndexRepository, alice: User
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
    store: Store, index: MemoryIndexRepository, alice: User, bob: User
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
    db: Database, store: Store, index: MemoryIndexRepository, alice: User
) -> None:
    table = await store.ensure_table(MODEL, 3)
    await _index(index, alice)
    await _embed_all(store, alice, table)
    # Re-chunking the file replaces its chunks: the old vectors go, the cache stays.
    # sqlite-vec's table takes the new chunk's cached vector when filled; PostgreSQL
    # searches the cache itself, so the new chunk is there at once.
    sqlite = db.dialect == "sqlite"
    await index.replace_file(alice.id, "a.md", "h2", 5, [MemoryChunk(1, 1, "north pole")])
    assert await store.count(alice.id, table) == (0 if sqlite else 1)
    assert await store.missing(alice.id, MODEL, 100) == []  # cached: nothing to embed
    assert await store.fill(alice.id, MODEL, table) == (1 if sqlite else 0)
    assert await store.count(alice.id, table) == 1
    assert [h[1] for h in await store.nearest(alice.id, table, vec(0, 1, 0), 5)] == ["north pole"]
    await index.remove_file(alice.id, "a.md")
    assert await store.count(alice.id, table) == 0


async def test_a_new_model_replaces_the_old_table(
    db: Database, store: Store, index: MemoryIndexRepository, alice: User
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite-specific: sqlite-vec's vec0 tables")
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


async def test_dimension_is_bounded(store: Store) -> None:
    with pytest.raises(ValueError, match="dimension"):
        await store.ensure_table(MODEL, 0)


async def _cache(store: Store, user: User, vectors: dict[str, bytes], dim: int) -> None:
    """Cache a vector for every text of the user's chunks that has none (as VectorIndex)."""
    todo = await store.missing(user.id, MODEL, 1000)
    await store.store(MODEL, dim, {digest: vectors[body] for digest, body in todo})


async def test_nearest_gives_exact_cosine_distances_in_order(
    store: Store, index: MemoryIndexRepository, alice: User, bob: User
) -> None:
    # Query (1, 0, 0): distance 1 - cos is 0 for the two same directions (ties: lower
    # chunk id first; x.md is indexed first), 1 - 1/sqrt(2) at 45°, 1 at 90°, 2 opposite.
    vectors = {
        "same": vec(2, 0, 0),
        "same, longer": vec(5, 0, 0),
        "diagonal": vec(1, 1, 0),
        "orthogonal": vec(0, 0, 4),
        "opposite": vec(-1, 0, 0),
        "bob's": vec(1, 0, 0),  # bob's chunk matches the query best of all
    }
    table = await store.ensure_table(MODEL, 3)
    await index.replace_file(alice.id, "x.md", "hx", 1, [MemoryChunk(1, 1, "same")])
    await index.replace_file(
        alice.id,
        "a.md",
        "ha",
        1,
        [MemoryChunk(n, n, t) for n, t in enumerate(list(vectors)[1:5], start=1)],
    )
    await index.replace_file(bob.id, "b.md", "hb", 1, [MemoryChunk(1, 1, "bob's")])
    await _cache(store, alice, vectors, 3)
    await _cache(store, bob, vectors, 3)
    await store.fill(alice.id, MODEL, table)
    await store.fill(bob.id, MODEL, table)

    hits = await store.nearest(alice.id, table, vec(1, 0, 0), 10)
    assert [(h[0], h[1], h[2], h[3]) for h in hits] == [
        ("x.md", "same", 1, 1),
        ("a.md", "same, longer", 1, 1),
        ("a.md", "diagonal", 2, 2),
        ("a.md", "orthogonal", 3, 3),
        ("a.md", "opposite", 4, 4),
    ]
    expected = [0.0, 0.0, 1 - 1 / math.sqrt(2), 1.0, 2.0]
    assert [h[4] for h in hits] == pytest.approx(expected, abs=1e-6)
    # k cuts the list. sqlite-vec cuts a tie either way; the scan keeps the lower chunk id.
    [top] = await store.nearest(alice.id, table, vec(1, 0, 0), 1)
    assert top[1] in {"same", "same, longer"}
    if isinstance(store, PgMemoryVectorRepository):
        assert top[1] == "same"
    assert [h[1] for h in await store.nearest(alice.id, table, vec(1, 0.1, 0), 3)] == [
        "same",
        "same, longer",
        "diagonal",
    ]
    assert [h[1] for h in await store.nearest(bob.id, table, vec(1, 0, 0), 10)] == ["bob's"]
    assert await store.count(alice.id, table) == 5
    assert await store.count(bob.id, table) == 1

    # A deleted chunk is no longer found; nor is a chunk whose text changed.
    await index.remove_file(alice.id, "x.md")
    await index.replace_file(
        alice.id, "a.md", "ha2", 1, [MemoryChunk(1, 1, "diagonal"), MemoryChunk(2, 2, "new")]
    )
    await store.fill(alice.id, MODEL, table)
    hits = await store.nearest(alice.id, table, vec(1, 0, 0), 10)
    assert [h[1] for h in hits] == ["diagonal"]  # "new" has no vector yet
    assert hits[0][4] == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-6)


async def test_nearest_agrees_with_a_plain_python_ranking(
    store: Store, index: MemoryIndexRepository, alice: User
) -> None:
    rng = random.Random(5)
    dim = 8
    vectors = {f"chunk {n}": [rng.gauss(0, 1) for _ in range(dim)] for n in range(60)}
    packed = {body: vec(*values) for body, values in vectors.items()}
    # Floats as the database holds them (float32), then the reference in float64.
    stored = {body: struct.unpack(f"<{dim}f", blob) for body, blob in packed.items()}
    table = await store.ensure_table(MODEL, dim)
    chunks = [MemoryChunk(n, n, body) for n, body in enumerate(vectors, start=1)]
    await index.replace_file(alice.id, "r.md", "hr", 1, chunks)
    await _cache(store, alice, packed, dim)
    await store.fill(alice.id, MODEL, table)

    def distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        return 1 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    for _ in range(5):
        query = struct.unpack(f"<{dim}f", vec(*(rng.gauss(0, 1) for _ in range(dim))))
        ranked = sorted((distance(values, query), body) for body, values in stored.items())
        hits = await store.nearest(alice.id, table, vec(*query), 7)
        assert [h[1] for h in hits] == [body for _, body in ranked[:7]]
        assert [h[4] for h in hits] == pytest.approx([d for d, _ in ranked[:7]], abs=1e-5)


async def test_postgresql_names_the_current_model_only(
    db: Database, store: Store, index: MemoryIndexRepository, alice: User
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL-specific: no tables, a name per model")
    first = await store.ensure_table(MODEL, 3)
    assert first == table_name(MODEL, 3)
    assert await store.ensure_table(MODEL, 3) == first  # idempotent
    await _index(index, alice)
    await _embed_all(store, alice, first)
    assert await store.count(alice.id, first) == 3
    second = await store.ensure_table("other:model", 3)
    assert second != first
    for stale in (store.count(alice.id, first), store.nearest(alice.id, first, vec(0, 1, 0), 3)):
        with pytest.raises(ValueError, match="not a memory vector table"):
            await stale
    # The other model has no vectors cached: nothing to find, until it has.
    assert await store.count(alice.id, second) == 0
    assert await store.nearest(alice.id, second, vec(0, 1, 0), 3) == []
    with pytest.raises(ValueError, match="3"):
        await store.nearest(alice.id, second, vec(0, 1), 3)  # wrong dimension


def test_best_keeps_the_k_smallest_and_breaks_ties_by_id() -> None:
    ids = np.array([9, 3, 7, 5, 1], dtype=np.int64)
    distances = np.array([0.5, 0.2, 0.2, 0.9, 0.2], dtype=np.float32)
    kept, kept_distances = best(ids, distances, 2)
    assert kept.tolist() == [1, 3]  # three ties at the cut: the two lowest ids
    assert kept_distances.tolist() == pytest.approx([0.2, 0.2])
    assert best(ids, distances, 10)[0].tolist() == [1, 3, 7, 9, 5]
    assert best(ids[:0], distances[:0], 3)[0].tolist() == []


def test_cosine_distance_of_a_zero_vector_is_one() -> None:
    matrix = np.array([[0, 0], [3, 4], [-3, -4]], dtype=np.float32)
    query = np.array([3, 4], dtype=np.float32)
    assert cosine_distances(matrix, query).tolist() == pytest.approx([1.0, 0.0, 2.0])
    assert cosine_distances(matrix, query * 0).tolist() == [1.0, 1.0, 1.0]
