"""Pending tool approvals in the database: any replica may answer, the waiting one polls."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.tables import approvals

MAX_LISTED = 1000


@dataclass(frozen=True, slots=True)
class StoredApproval:
    id: str
    user_id: str
    session_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    created_at: datetime
    expires_at: datetime


def _to_stored(row: Mapping[Any, Any]) -> StoredApproval:
    return StoredApproval(
        id=row["id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        call_id=row["call_id"],
        name=row["name"],
        arguments=dict(row["arguments"] or {}),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


class ApprovalRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, item: StoredApproval) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                insert(approvals).values(
                    id=item.id,
                    user_id=item.user_id,
                    session_id=item.session_id,
                    call_id=item.call_id,
                    name=item.name,
                    arguments=item.arguments,
                    created_at=item.created_at,
                    expires_at=item.expires_at,
                    approved=None,
                )
            )

    async def answer(self, approval_id: str, user_id: str, approve: bool) -> bool:
        """Record the user's answer; False when it is not theirs, answered, or expired."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(approvals)
                .where(
                    approvals.c.id == approval_id,
                    approvals.c.user_id == user_id,
                    approvals.c.approved.is_(None),
                    approvals.c.expires_at > utcnow(),
                )
                .values(approved=approve)
            )
        return int(result.rowcount) == 1

    async def answer_of(self, approval_id: str) -> bool | None:
        async with self._db.read() as conn:
            value = await conn.scalar(
                select(approvals.c.approved).where(approvals.c.id == approval_id)
            )
        return None if value is None else bool(value)

    async def pending(self, user_id: str) -> builtins.list[StoredApproval]:
        """The user's unanswered, unexpired approvals, oldest first."""
        query = (
            select(approvals)
            .where(
                approvals.c.user_id == user_id,
                approvals.c.approved.is_(None),
                approvals.c.expires_at > utcnow(),
            )
            .order_by(approvals.c.created_at)
            .limit(MAX_LISTED)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_stored(row._mapping) for row in rows]

    async def remove(self, approval_id: str) -> None:
        """The turn is done with it; rows left by a replica that died are swept by expiry."""
        async with self._db.write() as conn:
            await conn.execute(
                delete(approvals).where(
                    (approvals.c.id == approval_id) | (approvals.c.expires_at < utcnow())
                )
            )
