"""Stored OpenAI Responses responses (services/responses): every method takes the owner."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from roost.core.records import TokenUsage
from roost.core.responses import StoredResponse
from roost.storage.db import Database
from roost.storage.tables import conversations, responses


def _to_record(row: Mapping[Any, Any]) -> StoredResponse:
    usage = None
    if row["prompt_tokens"] is not None or row["completion_tokens"] is not None:
        usage = TokenUsage(row["prompt_tokens"] or 0, row["completion_tokens"] or 0)
    return StoredResponse(
        id=row["id"],
        user_id=row["user_id"],
        conversation_id=row["conversation_id"],
        session_id=row["public_id"],
        input_seq=row["input_seq"],
        model=row["model"],
        status=row["status"],
        created_at=row["created_at"],
        params=dict(row["params"] or {}),
        previous_response_id=row["previous_response_id"],
        reply_message_id=row["reply_message_id"],
        usage=usage,
        error=row["error"],
        incomplete_reason=row["incomplete_reason"],
        completed_at=row["completed_at"],
    )


_COLUMNS = (*responses.c, conversations.c.public_id)


class ResponseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: StoredResponse) -> StoredResponse:
        """Store a response of `record.conversation_id`, which `record.user_id` must own."""
        values = {
            "id": record.id,
            "user_id": record.user_id,
            "conversation_id": record.conversation_id,
            "input_seq": record.input_seq,
            "model": record.model,
            "status": record.status,
            "params": record.params,
            "previous_response_id": record.previous_response_id,
            "created_at": record.created_at,
        }
        async with self._db.write() as conn:
            await conn.execute(insert(responses).values(**values))
        return record

    async def get(self, user_id: str, response_id: str) -> StoredResponse | None:
        query = (
            select(*_COLUMNS)
            .join(conversations, conversations.c.id == responses.c.conversation_id)
            .where(
                responses.c.id == response_id,
                responses.c.user_id == user_id,
                conversations.c.user_id == user_id,
            )
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _to_record(row._mapping) if row is not None else None

    async def replies(self, user_id: str, conversation_id: int) -> dict[int, str]:
        """The user's responses in a conversation, by the id of the message that is their
        reply (finished ones only)."""
        query = select(responses.c.reply_message_id, responses.c.id).where(
            responses.c.user_id == user_id,
            responses.c.conversation_id == conversation_id,
            responses.c.reply_message_id.is_not(None),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {int(row[0]): str(row[1]) for row in rows}

    async def finish(
        self,
        user_id: str,
        response_id: str,
        *,
        status: str,
        reply_message_id: int | None,
        usage: TokenUsage | None,
        error: dict[str, str] | None,
        incomplete_reason: str | None,
        completed_at: datetime,
    ) -> None:
        """Record how the response ended (once: a finished response is left as it is)."""
        values = {
            "status": status,
            "reply_message_id": reply_message_id,
            "prompt_tokens": usage.prompt if usage else None,
            "completion_tokens": usage.completion if usage else None,
            "error": error,
            "incomplete_reason": incomplete_reason,
            "completed_at": completed_at,
        }
        async with self._db.write() as conn:
            await conn.execute(
                update(responses)
                .where(
                    responses.c.id == response_id,
                    responses.c.user_id == user_id,
                    responses.c.status == "in_progress",
                )
                .values(**values)
            )

    async def delete(self, user_id: str, response_id: str) -> tuple[str, int] | None:
        """Delete the response; its conversation's public id and how many responses that
        conversation still has (None when the user has no such response)."""
        found_query = (
            select(conversations.c.id, conversations.c.public_id)
            .join(responses, responses.c.conversation_id == conversations.c.id)
            .where(responses.c.id == response_id, responses.c.user_id == user_id)
        )
        async with self._db.write() as conn:
            found = (await conn.execute(found_query)).first()
            if found is None:
                return None
            await conn.execute(
                delete(responses).where(
                    responses.c.id == response_id, responses.c.user_id == user_id
                )
            )
            left = (
                await conn.execute(
                    select(func.count())
                    .select_from(responses)
                    .where(responses.c.conversation_id == found.id)
                )
            ).scalar_one()
        return str(found.public_id), int(left)


__all__ = ["ResponseRepository"]
