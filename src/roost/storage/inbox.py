"""The inbox: messages queued for a session, answered one at a time in id order.

The row's state is the queue's record of progress. "done" and "failed" are set by
MessageRepository.append in the transaction that stores the answer, never here, so a crash
can never leave an answered message queued or a queued one marked answered.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from roost.core.clock import utcnow
from roost.core.errors import RateLimited
from roost.core.records import InboxItem
from roost.storage.db import Database
from roost.storage.tables import conversations, inbox, leases

QUEUED = "queued"
DELIVERING = "delivering"
DONE = "done"
FAILED = "failed"
OPEN = (QUEUED, DELIVERING)  # not yet answered


def _to_item(row: Mapping[str, Any]) -> InboxItem:
    return InboxItem(
        id=row["id"],
        user_id=row["user_id"],
        conversation_id=row["conversation_id"],
        session_id=row["public_id"],
        content=row["content"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        claimed_by=row.get("claimed_by"),
    )


def _select(*where: ColumnElement[bool]) -> Select[Any]:
    return (
        select(inbox, conversations.c.public_id)
        .join(conversations, conversations.c.id == inbox.c.conversation_id)
        .where(*where)
    )


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(inbox.c.next_attempt_at.is_(None), inbox.c.next_attempt_at <= now)


def _claimer_gone(now: datetime) -> ColumnElement[bool]:
    """The replica delivering the row holds no live lease any more: it died (or stalled
    longer than a lease lasts), so its delivery may be started over elsewhere."""
    alive = (
        select(leases.c.name)
        .where(leases.c.holder == inbox.c.claimed_by, leases.c.expires_at > now)
        .exists()
    )
    return ~alive


class InboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        user_id: str,
        conversation_id: int,
        session_id: str,
        content: str,
        *,
        max_open: int,
    ) -> InboxItem:
        """Queue a message; RateLimited when the user already has `max_open` unanswered."""
        now = utcnow()
        async with self._db.write() as conn:
            waiting = await conn.scalar(
                select(func.count())
                .select_from(inbox)
                .where(inbox.c.user_id == user_id, inbox.c.state.in_(OPEN))
            )
            if int(waiting or 0) >= max_open:
                raise RateLimited(
                    f"the queue already holds {max_open} unanswered messages; try again later"
                )
            values: dict[str, Any] = {
                "user_id": user_id,
                "conversation_id": conversation_id,
                "content": content,
                "state": QUEUED,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
                "created_at": now,
                "updated_at": now,
            }
            result = await conn.execute(insert(inbox).values(**values))
            assert result.inserted_primary_key is not None
            (new_id,) = result.inserted_primary_key
        return _to_item({"id": new_id, "public_id": session_id, **values})

    async def list(
        self,
        user_id: str,
        *,
        states: Collection[str],
        conversation_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[InboxItem]:
        """The user's items in those states, oldest first."""
        where = [inbox.c.user_id == user_id, inbox.c.state.in_(list(states))]
        if conversation_id is not None:
            where.append(inbox.c.conversation_id == conversation_id)
        query = _select(*where).order_by(inbox.c.id).limit(max(limit, 0))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_item(row._mapping) for row in rows]

    async def delete(self, user_id: str, item_id: int, *, states: Collection[str]) -> str | None:
        """Delete the user's item if it is in one of `states`; return the state it had
        (None: no such item of this user's), whether or not it was deleted."""
        async with self._db.write() as conn:
            state = await conn.scalar(
                select(inbox.c.state).where(inbox.c.id == item_id, inbox.c.user_id == user_id)
            )
            if state in states:
                await conn.execute(delete(inbox).where(inbox.c.id == item_id))
        return None if state is None else str(state)

    async def count_open(self) -> dict[str, int]:
        """Unanswered items of every user, by state (for /metrics)."""
        query = (
            select(inbox.c.state, func.count())
            .where(inbox.c.state.in_(OPEN))
            .group_by(inbox.c.state)
        )
        async with self._db.read() as conn:
            return {str(state): int(count) for state, count in (await conn.execute(query)).all()}

    async def head(self, conversation_id: int) -> InboxItem | None:
        """The conversation's oldest unanswered item: the only one that may be delivered."""
        query = (
            _select(inbox.c.conversation_id == conversation_id, inbox.c.state.in_(OPEN))
            .order_by(inbox.c.id)
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _to_item(row._mapping)

    async def due_conversations(
        self, now: datetime, *, exclude: Collection[int] = (), limit: int = 100
    ) -> builtins.list[int]:
        """Conversations whose oldest unanswered item is queued and due, oldest first."""
        older = aliased(inbox)
        earlier_open = (
            select(older.c.id)
            .where(
                older.c.conversation_id == inbox.c.conversation_id,
                older.c.state.in_(OPEN),
                older.c.id < inbox.c.id,
            )
            .exists()
        )
        query = (
            select(inbox.c.conversation_id)
            .where(inbox.c.state == QUEUED, _due(now), ~earlier_open)
            .order_by(inbox.c.id)
            .limit(max(limit, 0))
        )
        if exclude:
            query = query.where(inbox.c.conversation_id.not_in(list(exclude)))
        async with self._db.read() as conn:
            return [int(row[0]) for row in (await conn.execute(query)).all()]

    async def next_retry_at(self, now: datetime) -> datetime | None:
        """When the soonest queued item that is waiting out a backoff becomes due."""
        query = select(func.min(inbox.c.next_attempt_at)).where(
            inbox.c.state == QUEUED, inbox.c.next_attempt_at > now
        )
        async with self._db.read() as conn:
            value = (await conn.execute(query)).scalar()
        assert value is None or isinstance(value, datetime)  # min() keeps the column type
        return value

    async def claim(self, item_id: int, holder: str | None = None) -> bool:
        """queued → delivering; False when someone deleted it or it is not queued.

        With a `holder` (a replica that holds leases), a message another replica claimed
        and then died delivering is taken over too. On PostgreSQL the row is locked with
        SKIP LOCKED first: of replicas racing for it, one wins and the others move on at
        once instead of queueing on the row lock.
        """
        now = utcnow()
        claimable = inbox.c.state == QUEUED
        if holder is not None:
            claimable = or_(claimable, and_(inbox.c.state == DELIVERING, _claimer_gone(now)))
        where = and_(inbox.c.id == item_id, claimable)
        async with self._db.write() as conn:
            if self._db.dialect == "postgresql":
                locked = await conn.scalar(
                    select(inbox.c.id).where(where).with_for_update(skip_locked=True, of=inbox)
                )
                if locked is None:
                    return False
            result = await conn.execute(
                update(inbox)
                .where(where)
                .values(state=DELIVERING, claimed_by=holder, updated_at=now)
            )
        return result.rowcount == 1

    async def retry_later(self, item_id: int, *, attempts: int, error: str, at: datetime) -> None:
        """A failed attempt: back to queued, due again at `at`."""
        async with self._db.write() as conn:
            await conn.execute(
                update(inbox)
                .where(inbox.c.id == item_id, inbox.c.state == DELIVERING)
                .values(
                    state=QUEUED,
                    claimed_by=None,
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=at,
                    updated_at=utcnow(),
                )
            )

    async def requeue(
        self,
        *,
        item_id: int | None = None,
        exclude: Collection[int] = (),
        holder: str | None = None,
    ) -> int:
        """delivering → queued for one item, or for all outside the `exclude`d
        conversations: a delivery that nobody runs any more (the process died, or the worker
        gave up on it halfway) starts over.

        With a `holder` (replicas share the database), "all" means this replica's own
        deliveries outside `exclude`, and other replicas' whose claimer is gone: a live
        replica's deliveries are its own business.
        """
        where = [inbox.c.state == DELIVERING]
        if item_id is not None:
            where.append(inbox.c.id == item_id)
        outside = inbox.c.conversation_id.not_in(list(exclude)) if exclude else None
        if holder is not None and item_id is None:
            mine = inbox.c.claimed_by == holder
            if outside is not None:
                mine = and_(mine, outside)
            theirs = and_(
                or_(inbox.c.claimed_by.is_(None), inbox.c.claimed_by != holder),
                _claimer_gone(utcnow()),
            )
            where.append(or_(mine, theirs))
        elif outside is not None:
            where.append(outside)
        async with self._db.write() as conn:
            result = await conn.execute(
                update(inbox)
                .where(and_(*where))
                .values(state=QUEUED, claimed_by=None, updated_at=utcnow())
            )
        return int(result.rowcount)
