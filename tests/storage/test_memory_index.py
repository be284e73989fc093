"""MemoryIndexRepository: round trips, owner scoping, cascade, hostile queries, ranking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from roost.core.clock import utcnow
from roost.core.records import IndexStats, MemoryChunk, User
from roost.storage import Database, UserRepository
from roost.storage.memory import (
    MAX_TERMS,
    SQLITE_SEARCH_SQL,
    MemoryIndexRepository,
    fts5_match,
    search_terms,
    tsquery_text,
)
from roost.storage.migrate import alembic_config
from roost.storage.tables import memory_chunks

# Filler makes the corpus large enough for bm25's document frequencies to mean
# something: a word in more than half of the chunks gets (almost) no weight.
FILLER = [MemoryChunk(i, i, f"unrelated filler line number {i}") for i in range(1, 9)]


@pytest.fixture
def index(db: Database) -> MemoryIndexRepository:
    return MemoryIndexRepository(db)


def _chunks(*texts: str) -> list[MemoryChunk]:
    """One chunk per text, two lines each, numbered like a file would be."""
    return [MemoryChunk(2 * i + 1, 2 * i + 2, t) for i, t in enumerate(texts)]


async def _fts_consistent(db: Database) -> None:
    """SQLite: the FTS5 index matches memory_chunks exactly (raises if not)."""
    if db.dialect == "sqlite":
        async with db.write() as conn:
            await conn.execute(
                text("INSERT INTO memory_fts(memory_fts, rank) VALUES ('integrity-check', 1)")
            )


async def test_replace_and_search_round_trip(index: MemoryIndexRepository, alice: User) -> None:
    before = utcnow()
    await index.replace_file(
        alice.id,
        "notes/garden.md",
        "h1",
        120,
        [
            MemoryChunk(1, 3, "# Garden\nTomatoes need sun"),
            MemoryChunk(4, 9, "Water the basil every morning"),
        ],
    )
    await index.replace_file(alice.id, "journal.md", "h2", 40, FILLER)
    hits = await index.search(alice.id, "basil", 10)
    assert [(h.file, h.content, h.line_start, h.line_end) for h in hits] == [
        ("notes/garden.md", "Water the basil every morning", 4, 9)
    ]
    assert hits[0].score == 1.0  # the best hit
    hits = await index.search(alice.id, "TOMATOES", 10)
    assert [(h.file, h.line_start, h.line_end) for h in hits] == [("notes/garden.md", 1, 3)]
    assert await index.search(alice.id, "cucumber", 10) == []

    files = await index.files(alice.id)
    assert set(files) == {"notes/garden.md", "journal.md"}
    garden = files["notes/garden.md"]
    assert (garden.path, garden.content_hash, garden.size_bytes) == ("notes/garden.md", "h1", 120)
    assert before <= garden.indexed_at <= utcnow()
    stats = await index.stats(alice.id)
    assert (stats.files, stats.chunks) == (2, 2 + len(FILLER))
    assert stats.last_indexed == files["journal.md"].indexed_at


async def test_replacing_a_file_drops_its_old_chunks(
    db: Database, index: MemoryIndexRepository, alice: User
) -> None:
    await index.replace_file(alice.id, "a.md", "v1", 10, _chunks("old apple", "old banana"))
    await index.replace_file(alice.id, "b.md", "v1", 10, FILLER)
    await index.replace_file(alice.id, "a.md", "v2", 12, [MemoryChunk(7, 8, "new cherry")])
    assert await index.search(alice.id, "apple banana", 10) == []
    hits = await index.search(alice.id, "cherry", 10)
    assert [(h.file, h.content, h.line_start, h.line_end) for h in hits] == [
        ("a.md", "new cherry", 7, 8)
    ]
    a = (await index.files(alice.id))["a.md"]
    assert (a.content_hash, a.size_bytes) == ("v2", 12)
    assert (await index.stats(alice.id)).chunks == 1 + len(FILLER)
    # A file that is now empty keeps its row (its hash says "seen") but has no chunks.
    await index.replace_file(alice.id, "a.md", "v3", 0, [])
    assert await index.search(alice.id, "cherry", 10) == []
    assert (await index.files(alice.id))["a.md"].content_hash == "v3"
    await _fts_consistent(db)


async def test_replace_files_in_one_batch(
    db: Database, index: MemoryIndexRepository, alice: User
) -> None:
    items = [
        (f"dir/{n}.md", f"hash{n}", n, _chunks(f"alpha{n} shared", f"beta{n}")) for n in range(700)
    ]
    await index.replace_files(alice.id, items)  # more paths than one IN batch holds
    stats = await index.stats(alice.id)
    assert (stats.files, stats.chunks) == (700, 1400)
    hits = await index.search(alice.id, "beta699", 5)
    assert [(h.file, h.line_start, h.line_end) for h in hits] == [("dir/699.md", 3, 4)]
    # Again, with some files changed and a path given twice: the last one wins.
    await index.replace_files(
        alice.id,
        [
            ("dir/1.md", "x", 1, _chunks("gamma")),
            ("dir/2.md", "y", 1, _chunks("ignored")),
            ("dir/2.md", "z", 1, _chunks("delta")),
        ],
    )
    assert await index.search(alice.id, "alpha1 beta2 ignored", 10) == []
    assert [h.file for h in await index.search(alice.id, "gamma delta", 10)] == [
        "dir/1.md",
        "dir/2.md",
    ]
    assert (await index.files(alice.id))["dir/2.md"].content_hash == "z"
    assert (await index.stats(alice.id)).chunks == 1398
    await index.replace_files(alice.id, [])  # nothing to do
    await _fts_consistent(db)


async def test_remove(db: Database, index: MemoryIndexRepository, alice: User) -> None:
    for name in ("a", "b", "c", "d"):
        await index.replace_file(alice.id, f"{name}.md", name, 1, _chunks(f"word {name}zz"))
    assert await index.remove_file(alice.id, "a.md") is True
    assert await index.remove_file(alice.id, "a.md") is False
    assert await index.search(alice.id, "azz", 10) == []
    assert await index.remove_files(alice.id, ["b.md", "c.md", "b.md", "nope.md"]) == 2
    assert await index.remove_files(alice.id, []) == 0
    assert set(await index.files(alice.id)) == {"d.md"}
    assert [h.file for h in await index.search(alice.id, "word", 10)] == ["d.md"]
    assert (await index.stats(alice.id)).chunks == 1
    await _fts_consistent(db)


async def test_users_never_see_each_others_index(
    index: MemoryIndexRepository, alice: User, bob: User
) -> None:
    await index.replace_file(alice.id, "secret.md", "h", 5, _chunks("alice private diary"))
    await index.replace_file(alice.id, "more.md", "h", 5, FILLER)
    await index.replace_file(bob.id, "bob.md", "h", 5, _chunks("bob public notes"))
    assert await index.search(bob.id, "alice private diary", 10) == []
    assert [h.file for h in await index.search(bob.id, "notes diary", 10)] == ["bob.md"]
    assert set(await index.files(bob.id)) == {"bob.md"}
    assert (await index.stats(bob.id)).chunks == 1
    # The same path is a different file per user; bob replacing or removing his own
    # "secret.md" leaves alice's alone.
    await index.replace_file(bob.id, "secret.md", "b", 1, _chunks("bob's own"))
    assert await index.remove_file(bob.id, "more.md") is False
    assert await index.remove_files(bob.id, ["secret.md", "more.md"]) == 1
    assert set(await index.files(alice.id)) == {"secret.md", "more.md"}
    assert [h.content for h in await index.search(alice.id, "diary", 10)] == ["alice private diary"]
    assert await index.search("no-such-user", "diary", 10) == []


async def test_a_chunk_cannot_claim_another_owner(
    db: Database, index: MemoryIndexRepository, alice: User, bob: User
) -> None:
    """The two-column key ties a chunk's user_id to its file's owner."""
    await index.replace_file(alice.id, "a.md", "h", 1, _chunks("alice"))
    async with db.read() as conn:
        file_id = await conn.scalar(select(memory_chunks.c.file_id))
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        async with db.write() as conn:
            await conn.execute(
                memory_chunks.insert().values(
                    file_id=file_id, user_id=bob.id, line_start=1, line_end=1, text="x"
                )
            )


async def test_deleting_a_user_deletes_their_index(
    db: Database, index: MemoryIndexRepository, users: UserRepository, alice: User, bob: User
) -> None:
    await index.replace_file(alice.id, "a.md", "h", 1, _chunks("shared word alice"))
    await index.replace_file(bob.id, "b.md", "h", 1, _chunks("shared word bob"))
    assert await users.delete(alice.id) is True
    async with db.read() as conn:
        left = await conn.scalar(select(func.count()).select_from(memory_chunks))
    assert left == 1
    assert (await index.stats(alice.id)).files == 0
    assert [h.file for h in await index.search(bob.id, "shared", 10)] == ["b.md"]
    # The cascade also cleaned the FTS index: a new chunk may reuse a freed rowid.
    await _fts_consistent(db)
    carol = await users.create("carol")
    await index.replace_file(carol.id, "c.md", "h", 1, _chunks("fresh text"))
    assert await index.search(carol.id, "alice", 10) == []
    await _fts_consistent(db)


HOSTILE = [
    '"',
    '"unbalanced',
    "*",
    "basil*",
    "NEAR(basil water",
    "NEAR(basil, water)",
    "-basil",
    "basil -water",
    "text:basil",
    "memory_fts:basil",
    "basil AND",
    "AND OR NOT",
    "(",
    "basil)",
    "'",
    "basil's",
    "''; DROP TABLE memory_chunks; --",
    "^basil",
    "{text}: basil",
    "basil & | ! <-> water",
    "\\",
    "\x00basil",
    "",
    "   ",
    "!!! ... ???",
    "_",
    "½",
    "x" * 10_000,
    "basil " * 2_000,
    " ".join(f"w{n}" for n in range(3_000)),
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
async def test_query_syntax_never_errors(
    index: MemoryIndexRepository, alice: User, query: str
) -> None:
    await index.replace_file(
        alice.id, "g.md", "h", 1, [MemoryChunk(4, 9, "Water the basil, it's NEAR the door")]
    )
    hits = await index.search(alice.id, query, 5)
    expected = "basil" in query.lower() or "near" in query.lower() or "water" in query.lower()
    assert [h.line_start for h in hits] == ([4] if expected else [])


def test_query_cleaning() -> None:
    assert search_terms('Basil "basil" NEAR(x, y) café-Über') == [
        "basil",
        "near",
        "x",
        "y",
        "café",
        "über",
    ]
    assert search_terms("!!! ...") == []
    assert search_terms("a" * 65 + " b") == ["b"]  # an over-long token is dropped
    assert len(search_terms(" ".join(f"w{n}" for n in range(200)))) == MAX_TERMS
    assert fts5_match("a's (b)") == '"a" OR "s" OR "b"'
    assert tsquery_text("a's (b)") == "'a' | 's' | 'b'"
    assert fts5_match("--") is None
    assert tsquery_text("") is None


async def test_more_matching_words_rank_higher(index: MemoryIndexRepository, alice: User) -> None:
    await index.replace_file(alice.id, "filler.md", "h", 1, FILLER)
    await index.replace_file(
        alice.id,
        "plants.md",
        "h",
        1,
        _chunks(
            "tomato notes from spring",
            "tomato and basil planted together",
            "basil pesto recipe",
        ),
    )
    hits = await index.search(alice.id, "basil tomato", 10)
    assert hits[0].content == "tomato and basil planted together"
    assert len(hits) == 3
    assert hits[0].score > hits[1].score >= hits[2].score > 0
    assert all(0 < h.score <= 1 for h in hits)
    assert [h.content for h in await index.search(alice.id, "basil tomato", 1)] == [
        "tomato and basil planted together"
    ]
    assert await index.search(alice.id, "basil", 0) == []


async def test_unicode_words_are_found(index: MemoryIndexRepository, alice: User) -> None:
    await index.replace_file(alice.id, "filler.md", "h", 1, FILLER)
    await index.replace_file(
        alice.id,
        "de.md",
        "h",
        1,
        _chunks(
            "Das Café liegt über der Straße",
            "Über den Wolken",
            "日本語 テキスト",
            "write to me@example.com or see docs/setup.md v1.2",
        ),
    )
    for query, first_line in [
        ("café", 1),
        ("CAFÉ", 1),
        ("cafe\u0301", 1),  # the same word, decomposed
        ("straße", 1),
        ("über wolken", 3),
        ("日本語", 5),
        ("example", 7),
        ("setup", 7),
    ]:
        hits = await index.search(alice.id, query, 10)
        assert hits, query
        assert hits[0].line_start == first_line, query


async def test_nul_characters_are_stored_safely(index: MemoryIndexRepository, alice: User) -> None:
    await index.replace_file(alice.id, "bin.md", "h", 1, _chunks("before\x00after"))
    hits = await index.search(alice.id, "after", 10)
    assert [h.content for h in hits] == ["before\ufffdafter"]


async def test_last_indexed_moves_forward(
    index: MemoryIndexRepository, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await index.stats(alice.id) == IndexStats(files=0, chunks=0, last_indexed=None)
    start = utcnow()
    monkeypatch.setattr("roost.storage.memory.utcnow", lambda: start)
    await index.replace_file(alice.id, "a.md", "h", 1, _chunks("x"))
    monkeypatch.setattr("roost.storage.memory.utcnow", lambda: start + timedelta(hours=1))
    await index.replace_file(alice.id, "b.md", "h", 1, _chunks("y"))
    stats = await index.stats(alice.id)
    assert stats.last_indexed == start + timedelta(hours=1)
    files = await index.files(alice.id)
    assert files["a.md"].indexed_at == start


async def test_database_size(db: Database, index: MemoryIndexRepository, alice: User) -> None:
    empty = await index.database_size_bytes()
    assert empty > 0
    await index.replace_file(
        alice.id, "big.md", "h", 1, [MemoryChunk(i, i, "lorem ipsum " * 50) for i in range(2000)]
    )
    assert await index.database_size_bytes() > empty + 600_000  # ~1.2 MB of text


async def test_sqlite_search_sql_runs_on_the_file(
    db: Database, index: MemoryIndexRepository, alice: User
) -> None:
    """The documented SQL is what a benchmark runs on a plain connection."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    from roost.storage import sqlite_driver

    await index.replace_file(alice.id, "a.md", "h", 1, FILLER + _chunks("basil water"))
    async with db.read() as conn:
        path = (await conn.execute(text("PRAGMA database_list"))).first().file
    direct = sqlite_driver.connect(path)
    try:
        rows = direct.execute(
            SQLITE_SEARCH_SQL,
            {"match": fts5_match("Basil!"), "user_id": alice.id, "limit": 5},
        ).fetchall()
    finally:
        direct.close()
    hits = await index.search(alice.id, "Basil!", 5)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (h.file, h.content, h.line_start, h.line_end) for h in hits
    ]
    assert len(hits) == 1


async def test_downgrade_to_0002_and_back(db: Database, users: UserRepository) -> None:
    """0003's downgrade removes every object it made (triggers and FTS table too)."""

    def names(conn: Connection) -> set[str]:
        found = set(inspect(conn).get_table_names())
        if conn.dialect.name == "sqlite":
            found |= set(conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars())
        return found

    async with db.write() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0002"))
        left = await conn.run_sync(names)
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
    assert "roles" in left
    assert not {n for n in left if n.startswith("memory")}
    user = await users.create("carol")
    index = MemoryIndexRepository(db)
    await index.replace_file(user.id, "a.md", "h", 1, _chunks("back again"))
    assert [h.content for h in await index.search(user.id, "again", 5)] == ["back again"]


async def test_fts5_buffers_16_mib_before_writing_a_segment(db: Database) -> None:
    """Migration 0004's bulk-indexing setting (see there): persistent in the FTS table."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.read() as conn:
        rows = dict((await conn.execute(text("SELECT k, v FROM memory_fts_config"))).all())
    assert rows["hashsize"] == 16 << 20
    assert rows["automerge"] == 8
