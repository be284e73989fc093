"""Full-text search over a user's messages: SQLite's FTS5 table or PostgreSQL's tsvector.

Both are made by migration 0008; the words of the query are extracted exactly as the
memory index does it (storage/memory.py), so raw user text never reaches the engine.
"""

from __future__ import annotations

from sqlalchemy import Select, column, func, literal_column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from roost.core.records import MessageHit
from roost.storage.db import Database
from roost.storage.memory import fts5_match, tsquery_text
from roost.storage.tables import conversations, messages

# Only what people wrote and read: tool results and system prompts are not conversation.
_ROLES = ("user", "assistant")
_fts = table("messages_fts", column("rowid"))
_tsv: ColumnElement[object] = literal_column("messages.tsv")
_COLUMNS = (
    conversations.c.public_id,
    conversations.c.title,
    messages.c.seq,
    messages.c.role,
    messages.c.content,
    messages.c.created_at,
)


def _sqlite(user_id: str, match: str, limit: int) -> Select[tuple[object, ...]]:
    joined = _fts.join(messages, messages.c.id == _fts.c.rowid).join(
        conversations, conversations.c.id == messages.c.conversation_id
    )
    return (
        select(*_COLUMNS)
        .select_from(joined)
        .where(text("messages_fts MATCH :match").bindparams(match=match))
        .where(conversations.c.user_id == user_id, messages.c.role.in_(_ROLES))
        # bm25 is negative, lower is better; ties go to the newer message.
        .order_by(text("bm25(messages_fts)"), messages.c.id.desc())
        .limit(limit)
    )


def _postgresql(user_id: str, match: str, limit: int) -> Select[tuple[object, ...]]:
    query = func.to_tsquery("simple", match)
    joined = messages.join(conversations, conversations.c.id == messages.c.conversation_id)
    return (
        select(*_COLUMNS)
        .select_from(joined)
        .where(_tsv.op("@@")(query), conversations.c.user_id == user_id)
        .where(messages.c.role.in_(_ROLES))
        .order_by(func.ts_rank_cd(_tsv, query).desc(), messages.c.id.desc())
        .limit(limit)
    )


class MessageSearch:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(self, user_id: str, query: str, limit: int) -> list[MessageHit]:
        """The user's messages sharing words with `query`, best first ([] without words)."""
        if limit <= 0:
            return []
        sqlite = self._db.dialect == "sqlite"
        match = fts5_match(query) if sqlite else tsquery_text(query)
        if match is None:
            return []
        statement = (_sqlite if sqlite else _postgresql)(user_id, match, limit)
        async with self._db.read() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            MessageHit(
                session_id=row.public_id,
                title=row.title,
                seq=row.seq,
                role=row.role,
                content=row.content,
                created_at=row.created_at,
            )
            for row in rows
        ]
