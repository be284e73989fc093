"""Conversations, always looked up by (owner, public id): never by id alone."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from roost.core.clock import utcnow
from roost.core.records import Conversation
from roost.storage.db import Database
from roost.storage.errors import conflict_on_duplicate
from roost.storage.tables import conversations, messages

_message_count = (
    select(func.count())
    .where(messages.c.conversation_id == conversations.c.id)
    .correlate(conversations)
    .scalar_subquery()
    .label("message_count")
)


def _select(*where: ColumnElement[bool]) -> Select[Any]:
    return select(conversations, _message_count).where(*where)


def _owned(user_id: str, public_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return conversations.c.user_id == user_id, conversations.c.public_id == public_id


def _to_conversation(row: Row[*tuple[Any, ...]]) -> Conversation:
    return Conversation(
        id=row.id,
        user_id=row.user_id,
        public_id=row.public_id,
        title=row.title,
        model=row.model,
        system_prompt=row.system_prompt,
        created_at=row.created_at,
        updated_at=row.updated_at,
        message_count=row.message_count,
    )


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: str,
        public_id: str,
        *,
        title: str,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> Conversation:
        now = utcnow()
        with conflict_on_duplicate(f"conversation '{public_id}' already exists"):
            async with self._db.write() as conn:
                result = await conn.execute(
                    insert(conversations).values(
                        user_id=user_id,
                        public_id=public_id,
                        title=title,
                        model=model,
                        system_prompt=system_prompt,
                        created_at=now,
                        updated_at=now,
                    )
                )
                assert result.inserted_primary_key is not None
                (new_id,) = result.inserted_primary_key
        return Conversation(new_id, user_id, public_id, title, model, system_prompt, now, now)

    async def public_id_of(self, user_id: str, conversation_id: int) -> str | None:
        async with self._db.read() as conn:
            found = await conn.execute(
                select(conversations.c.public_id).where(
                    conversations.c.user_id == user_id, conversations.c.id == conversation_id
                )
            )
            row = found.first()
        return None if row is None else str(row[0])

    async def get(self, user_id: str, public_id: str) -> Conversation | None:
        async with self._db.read() as conn:
            return await _get(conn, user_id, public_id)

    async def list(
        self, user_id: str, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[Conversation]:
        """The user's conversations, most recently active first."""
        query = (
            _select(conversations.c.user_id == user_id)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .limit(max(limit, 0))
            .offset(max(offset, 0))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_conversation(row) for row in rows]

    async def public_ids(self, user_id: str, *, limit: int) -> builtins.list[str]:
        """The public ids of the user's newest `limit` conversations, oldest first."""
        query = (
            select(conversations.c.public_id)
            .where(conversations.c.user_id == user_id)
            .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
            .limit(max(limit, 0))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [str(row[0]) for row in reversed(rows)]

    async def count(self, user_id: str) -> int:
        query = (
            select(func.count())
            .select_from(conversations)
            .where(conversations.c.user_id == user_id)
        )
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete(self, user_id: str, public_id: str) -> bool:
        """Delete the conversation and (by cascade) its messages."""
        async with self._db.write() as conn:
            result = await conn.execute(delete(conversations).where(*_owned(user_id, public_id)))
        return result.rowcount > 0

    async def rename(self, user_id: str, public_id: str, title: str) -> Conversation | None:
        # updated_at is left alone: it orders conversations by activity, and a new
        # title is not activity.
        async with self._db.write() as conn:
            result = await conn.execute(
                update(conversations).where(*_owned(user_id, public_id)).values(title=title)
            )
            if result.rowcount == 0:
                return None
            return await _get(conn, user_id, public_id)


async def _get(conn: AsyncConnection, user_id: str, public_id: str) -> Conversation | None:
    row = (await conn.execute(_select(*_owned(user_id, public_id)))).first()
    return None if row is None else _to_conversation(row)
