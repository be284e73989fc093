"""The long-term memory index: workspace files, their chunks, and keyword search.

Every method takes the owner. Search runs on SQLite's FTS5 table or PostgreSQL's
tsvector column, both made by migration 0003; see there for how text is tokenised.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from roost.core.clock import utcnow
from roost.core.records import IndexedFile, IndexStats, MemoryChunk, MemoryHit
from roost.storage.db import Database
from roost.storage.tables import memory_chunks, memory_files

# One file to index: (path, content hash, size in bytes, its chunks).
FileItem = tuple[str, str, int, list[MemoryChunk]]

MAX_TERMS = 64
MAX_TERM_CHARS = 64
# Well under both databases' limit on bound parameters in one statement (32,766).
_IN_BATCH = 500
_WORD = re.compile(r"\w+")

# The query roost runs on SQLite, with sqlite3-style named parameters, so a benchmark
# can run the very same statement on the file: :match is `fts5_match(query)`.
# bm25() is negative, lower is better; ties go to the older chunk for a stable order.
SQLITE_SEARCH_SQL = """\
SELECT f.path, c.text, c.line_start, c.line_end, -bm25(memory_fts) AS s
FROM memory_fts
JOIN memory_chunks AS c ON c.id = memory_fts.rowid
JOIN memory_files AS f ON f.id = c.file_id
WHERE memory_fts MATCH :match AND c.user_id = :user_id
ORDER BY bm25(memory_fts), c.id
LIMIT :limit"""

# :match is `tsquery_text(query)`. ts_rank_cd counts how densely the query's words
# occur, so a chunk with more of them ranks higher.
POSTGRESQL_SEARCH_SQL = """\
SELECT f.path, c.text, c.line_start, c.line_end, ts_rank_cd(c.tsv, q) AS s
FROM memory_chunks AS c
JOIN memory_files AS f ON f.id = c.file_id
CROSS JOIN to_tsquery('simple', :match) AS q
WHERE c.tsv @@ q AND c.user_id = :user_id
ORDER BY s DESC, c.id
LIMIT :limit"""


# PostgreSQL: RETURNING makes SQLAlchemy send multi-row INSERTs ("insertmanyvalues").
# SQLite: the driver's own executemany with plain tuples, which skips SQLAlchemy's
# per-row parameter processing (a third of the full-index time on 50 MB). FTS5 is fed
# afterwards in one INSERT ... SELECT per batch, so no statement here touches it.
_INSERT_CHUNKS = insert(memory_chunks).returning(memory_chunks.c.id)
_COLUMNS = ("file_id", "user_id", "line_start", "line_end", "text", "text_hash")
_SQLITE_INSERT_CHUNKS = (
    "INSERT INTO memory_chunks(file_id, user_id, line_start, line_end, text, text_hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)

_SEARCH = {"sqlite": text(SQLITE_SEARCH_SQL), "postgresql": text(POSTGRESQL_SEARCH_SQL)}


_INDEX_NEW_CHUNKS = text(
    "INSERT INTO memory_fts(rowid, text) SELECT id, text FROM memory_chunks WHERE file_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def search_terms(query: str) -> list[str]:
    """The distinct words of raw user text, lowercased, in order of appearance.

    Words are runs of letters, digits and "_", so no term can carry query syntax of
    either backend (quotes, operators, parentheses, column filters).
    """
    terms: dict[str, None] = {}
    for match in _WORD.finditer(unicodedata.normalize("NFC", query).lower()):
        term = match.group()
        if len(term) <= MAX_TERM_CHARS:  # a longer "word" is noise, not something to find
            terms[term] = None
            if len(terms) == MAX_TERMS:
                break
    return list(terms)


def fts5_match(query: str) -> str | None:
    """An FTS5 MATCH expression for raw user text, or None when it has no words.

    Each word is a quoted string (FTS5 tokenises it: "foo_bar" is the phrase foo bar),
    OR-ed so that bm25 ranks chunks that match more, and rarer, words higher.
    """
    terms = search_terms(query)
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


def tsquery_text(query: str) -> str | None:
    """The `to_tsquery` input for raw user text (quoted words, OR-ed), or None."""
    terms = search_terms(query)
    return " | ".join(f"'{term}'" for term in terms) if terms else None


def _scores(raw: Sequence[float]) -> list[float]:
    """Relevance relative to the query's best hit: the best scores 1.0, others their share.

    bm25's absolute values depend on the size of the index (with only a few chunks its
    IDF is clamped to ~1e-6), so s / (1 + s) gave tiny scores in small workspaces; a
    share of the best is stable and still orders the hits.
    """
    values = [max(float(value), 0.0) for value in raw]
    best = max(values, default=0.0)
    if best <= 0.0:
        return [1.0 for _ in values]
    return [round(value / best, 6) for value in values]


def _batches(values: Sequence[Any], size: int = _IN_BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def text_hash(value: str) -> str:
    """A chunk text's key in the embedding cache."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _clean(value: str) -> str:
    # PostgreSQL text cannot hold NUL; replace it on both backends so they agree.
    return value.replace("\x00", "\ufffd")


class MemoryIndexRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def files(
        self, user_id: str, paths: Sequence[str] | None = None
    ) -> dict[str, IndexedFile]:
        """The user's indexed files by path (only `paths`, when given: the watcher asks
        about a few files, and reading every row of a large index costs tens of ms)."""
        query = select(memory_files).where(memory_files.c.user_id == user_id)
        found: dict[str, IndexedFile] = {}
        async with self._db.read() as conn:
            for batch in [None] if paths is None else _batches(list(paths)):
                wanted = query if batch is None else query.where(memory_files.c.path.in_(batch))
                for row in (await conn.execute(wanted)).all():
                    found[row.path] = IndexedFile(
                        row.path, row.content_hash, row.size_bytes, row.indexed_at
                    )
        return found

    async def replace_file(
        self,
        user_id: str,
        path: str,
        content_hash: str,
        size_bytes: int,
        chunks: list[MemoryChunk],
    ) -> None:
        """Record a file's new content and chunks in place of any old ones."""
        await self.replace_files(user_id, [(path, content_hash, size_bytes, chunks)])

    async def replace_files(self, user_id: str, items: list[FileItem]) -> None:
        """`replace_file` for many files in one transaction (a path given twice: last wins).

        A fixed number of statements whatever the batch holds: the chunks of all files
        go in as one executemany.
        """
        latest = {path: (digest, size, chunks) for path, digest, size, chunks in items}
        if not latest:
            return
        now = utcnow()
        async with self._db.write() as conn:
            await conn.execute(
                self._upsert_files(),
                [
                    {
                        "user_id": user_id,
                        "path": path,
                        "content_hash": digest,
                        "size_bytes": size,
                        "indexed_at": now,
                    }
                    for path, (digest, size, _) in latest.items()
                ],
            )
            ids = await _file_ids(conn, user_id, list(latest))
            for batch in _batches(list(ids.values())):
                await conn.execute(delete(memory_chunks).where(memory_chunks.c.file_id.in_(batch)))
            rows = [
                (
                    ids[path],
                    user_id,
                    chunk.line_start,
                    chunk.line_end,
                    (cleaned := _clean(chunk.text)),
                    text_hash(cleaned),
                )
                for path, (_, _, chunks) in latest.items()
                for chunk in chunks
            ]
            if rows and self._db.dialect == "sqlite":
                await conn.exec_driver_sql(_SQLITE_INSERT_CHUNKS, rows)
            elif rows:
                await conn.execute(
                    _INSERT_CHUNKS, [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
                )
            if self._db.dialect == "sqlite" and rows:
                # Index the new chunks in one pass (migration 0003 has no insert trigger):
                # all chunks of these files are new, the old ones were deleted above.
                for batch in _batches(list(ids.values())):
                    await conn.execute(_INDEX_NEW_CHUNKS.bindparams(ids=list(batch)))

    async def remove_file(self, user_id: str, path: str) -> bool:
        return await self.remove_files(user_id, [path]) > 0

    async def remove_files(self, user_id: str, paths: Iterable[str]) -> int:
        """Forget files and (by cascade) their chunks; how many of them were indexed."""
        unique = list(dict.fromkeys(paths))
        removed = 0
        async with self._db.write() as conn:
            for batch in _batches(unique):
                result = await conn.execute(
                    delete(memory_files).where(
                        memory_files.c.user_id == user_id, memory_files.c.path.in_(batch)
                    )
                )
                removed += result.rowcount
        return removed

    async def search(self, user_id: str, query: str, limit: int) -> list[MemoryHit]:
        """The user's chunks that share words with `query`, best first.

        Raw user text is safe here: only its words reach the search engine. Score is
        s / s_best with s = -bm25 (SQLite) or ts_rank_cd (PostgreSQL): the best hit 1.0,
        the others their share of it.
        """
        if limit <= 0:
            return []
        dialect = self._db.dialect
        match = fts5_match(query) if dialect == "sqlite" else tsquery_text(query)
        if match is None:
            return []
        params = {"match": match, "user_id": user_id, "limit": limit}
        async with self._db.read() as conn:
            rows = (await conn.execute(_SEARCH[dialect], params)).all()
        scores = _scores([row.s for row in rows])
        return [
            MemoryHit(
                file=row.path,
                content=row.text,
                score=score,
                line_start=row.line_start,
                line_end=row.line_end,
            )
            for row, score in zip(rows, scores, strict=True)
        ]

    async def stats(self, user_id: str) -> IndexStats:
        files = select(func.count(), func.max(memory_files.c.indexed_at)).where(
            memory_files.c.user_id == user_id
        )
        # Through the file: memory_chunks has no index on user_id, and needs none else.
        chunks = (
            select(func.count())
            .select_from(memory_chunks)
            .join(memory_files, memory_files.c.id == memory_chunks.c.file_id)
            .where(memory_files.c.user_id == user_id)
        )
        async with self._db.read() as conn:
            file_count, last = (await conn.execute(files)).one()
            chunk_count = (await conn.execute(chunks)).scalar_one()
        last_indexed: datetime | None = last
        return IndexStats(files=int(file_count), chunks=int(chunk_count), last_indexed=last_indexed)

    async def database_size_bytes(self) -> int:
        """The whole database on disk (every user's data, not only the index)."""
        async with self._db.read() as conn:
            if self._db.dialect == "postgresql":
                size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
                return int(size or 0)
            # The main database's file: the one SQLite actually opened, URI or not.
            rows = await conn.execute(text("PRAGMA database_list"))
            main = next(row.file for row in rows if row.name == "main")
        return await asyncio.to_thread(_sqlite_file_sizes, main)

    def _upsert_files(self) -> Insert:
        make = sqlite.insert if self._db.dialect == "sqlite" else postgresql.insert
        statement = make(memory_files)
        return statement.on_conflict_do_update(
            index_elements=[memory_files.c.user_id, memory_files.c.path],
            set_={
                name: statement.excluded[name]
                for name in ("content_hash", "size_bytes", "indexed_at")
            },
        )


async def _file_ids(conn: AsyncConnection, user_id: str, paths: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for batch in _batches(paths):
        query = select(memory_files.c.path, memory_files.c.id).where(
            memory_files.c.user_id == user_id, memory_files.c.path.in_(batch)
        )
        ids.update((row.path, row.id) for row in await conn.execute(query))
    return ids


def _sqlite_file_sizes(path: str) -> int:
    """The database file and its write-ahead log (the -shm index is not data)."""
    total = 0
    for name in (path, f"{path}-wal"):
        with contextlib.suppress(FileNotFoundError):  # no -wal after a clean close
            total += os.path.getsize(name)
    return total
