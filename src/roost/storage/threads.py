"""Which conversation a client's resent history belongs to (services/threads.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.tables import conversations, threads


class ThreadRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def candidates(self, user_id: str, dialect: str, key: str, limit: int) -> list[str]:
        """Public ids of the user's conversations asked with `key`, newest first."""
        query = (
            select(conversations.c.public_id)
            .select_from(
                threads.join(conversations, conversations.c.id == threads.c.conversation_id)
            )
            .where(
                threads.c.user_id == user_id,
                threads.c.dialect == dialect,
                threads.c.key == key,
                conversations.c.user_id == user_id,
            )
            .order_by(threads.c.created_at.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [str(row[0]) for row in (await conn.execute(query)).all()]

    async def remember(self, user_id: str, dialect: str, key: str, public_id: str) -> None:
        """Record that the user's conversation `public_id` was asked with `key` (once)."""
        found = select(conversations.c.id).where(
            conversations.c.user_id == user_id, conversations.c.public_id == public_id
        )
        make = sqlite.insert if self._db.dialect == "sqlite" else postgresql.insert
        async with self._db.write() as conn:
            conversation_id = (await conn.execute(found)).scalar()
            if conversation_id is None:  # deleted meanwhile: nothing to find again
                return
            statement = make(threads).values(
                user_id=user_id,
                dialect=dialect,
                key=key,
                conversation_id=conversation_id,
                created_at=utcnow(),
            )
            await conn.execute(statement.on_conflict_do_nothing())


__all__ = ["ThreadRepository"]
