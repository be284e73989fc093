"""Messages of a conversation, numbered 1, 2, 3... by `seq` in the order they were stored."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from roost.core.clock import utcnow
from roost.core.errors import NotFound
from roost.core.records import Message, TokenUsage
from roost.storage.db import Database
from roost.storage.tables import conversations, inbox, messages


def _to_message(row: Mapping[Any, Any]) -> Message:
    usage = None
    if row["prompt_tokens"] is not None or row["completion_tokens"] is not None:
        usage = TokenUsage(row["prompt_tokens"] or 0, row["completion_tokens"] or 0)
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
        reasoning=row["reasoning"],
        tool_calls=list(row["tool_calls"] or []),
        model=row["model"],
        usage=usage,
        error=row["error"],
        inbox_id=row["inbox_id"],
    )


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        user_id: str,
        conversation_id: int,
        *,
        role: str,
        content: str,
        reasoning: str | None = None,
        tool_calls: builtins.list[dict[str, Any]] | None = None,
        model: str | None = None,
        usage: TokenUsage | None = None,
        error: str | None = None,
        inbox_id: int | None = None,
    ) -> Message:
        """Store the next message of a conversation the user owns (NotFound otherwise).

        With `inbox_id` the append is idempotent: a message of that role for that queued
        message is stored once, and a second append returns the first. An assistant row
        with an `inbox_id` answers the queued message, which becomes "done" ("failed" when
        the row carries an error) in the same transaction: the answer and the queue's
        record of it cannot disagree, whenever the process dies.
        """
        now = utcnow()
        async with self._db.write() as conn:
            # Touching the conversation first both checks the owner and, on PostgreSQL,
            # row-locks it: concurrent appends queue here, so max(seq) below is settled.
            touched = await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(updated_at=now)
            )
            if touched.rowcount == 0:
                raise NotFound(f"conversation {conversation_id} not found")
            if inbox_id is not None:
                stored = (
                    await conn.execute(
                        select(messages).where(
                            messages.c.inbox_id == inbox_id,
                            messages.c.role == role,
                            messages.c.conversation_id == conversation_id,
                        )
                    )
                ).first()
                if stored is not None:
                    return _to_message(stored._mapping)
            last = await conn.scalar(
                select(func.coalesce(func.max(messages.c.seq), 0)).where(
                    messages.c.conversation_id == conversation_id
                )
            )
            values: dict[str, Any] = {
                "conversation_id": conversation_id,
                "seq": int(last or 0) + 1,
                "role": role,
                "content": content,
                "reasoning": reasoning,
                "tool_calls": list(tool_calls or []),
                "model": model,
                "prompt_tokens": usage.prompt if usage else None,
                "completion_tokens": usage.completion if usage else None,
                "error": error,
                "created_at": now,
                "inbox_id": inbox_id,
            }
            result = await conn.execute(insert(messages).values(**values))
            assert result.inserted_primary_key is not None
            (new_id,) = result.inserted_primary_key
            if inbox_id is not None and role == "assistant":
                await conn.execute(
                    update(inbox)
                    .where(inbox.c.id == inbox_id, inbox.c.conversation_id == conversation_id)
                    .values(
                        state="failed" if error else "done",
                        last_error=error,
                        next_attempt_at=None,
                        updated_at=now,
                    )
                )
        return _to_message({"id": new_id, **values})

    async def list(
        self, user_id: str, conversation_id: int, *, limit: int | None = None
    ) -> builtins.list[Message]:
        """Messages in seq order; with `limit`, only the latest `limit` of them.

        Empty when the conversation does not exist or belongs to someone else.
        """
        query = (
            select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(
                messages.c.conversation_id == conversation_id, conversations.c.user_id == user_id
            )
            .order_by(messages.c.seq.desc())
        )
        if limit is not None:
            query = query.limit(max(limit, 0))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_message(row._mapping) for row in reversed(rows)]

    async def unanswered(
        self, *, among: Collection[int] | None = None
    ) -> builtins.list[tuple[str, int]]:
        """(user id, conversation id) of every conversation (or of those `among`) whose
        newest message is a user message stored outside the inbox: a turn that never
        saved its reply."""
        newest_query = select(
            messages.c.conversation_id, func.max(messages.c.seq).label("seq")
        ).group_by(messages.c.conversation_id)
        if among is not None:
            newest_query = newest_query.where(messages.c.conversation_id.in_(sorted(among)))
        newest = newest_query.subquery()
        query = (
            select(conversations.c.user_id, messages.c.conversation_id)
            .join(
                newest,
                and_(
                    messages.c.conversation_id == newest.c.conversation_id,
                    messages.c.seq == newest.c.seq,
                ),
            )
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.role == "user", messages.c.inbox_id.is_(None))
            .order_by(messages.c.conversation_id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(str(user_id), int(conversation_id)) for user_id, conversation_id in rows]

    async def newest_id(self) -> int:
        """The id of the newest message stored (0: none); ids only grow."""
        async with self._db.read() as conn:
            found = (await conn.execute(select(func.max(messages.c.id)))).scalar()
        return int(found or 0)

    async def asked_after(self, message_id: int) -> tuple[int, set[int]]:
        """User messages (outside the inbox) newer than `message_id`: the newest one's id
        (`message_id` if none) and their conversations."""
        query = select(messages.c.id, messages.c.conversation_id).where(
            messages.c.id > message_id,
            messages.c.role == "user",
            messages.c.inbox_id.is_(None),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        newest = max((int(row[0]) for row in rows), default=message_id)
        return newest, {int(row[1]) for row in rows}
