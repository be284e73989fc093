"""An agent's messages: its recall memory, in the order they were stored.

Every query is scoped by the agent's row id, which callers only obtain from an owner-
checked `AgentRepository.get`; rows also carry the owner (the two-column key to agents).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, insert, select, update

from roost.core.agents import Agent, AgentMessage, NewAgentMessage
from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.tables import agent_messages as table
from roost.storage.tables import agent_passages, agents


def _to_message(agent: Agent, row: Row[*tuple[Any, ...]]) -> AgentMessage:
    return AgentMessage(
        id=row.public_id,
        seq=row.id,
        agent_id=agent.id,
        user_id=row.user_id,
        role=row.role,
        text=row.text,
        created_at=row.created_at,
        name=row.name,
        tool_calls=row.tool_calls,
        tool_call_id=row.tool_call_id,
        model=row.model,
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AgentMessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self, agent: Agent, new: builtins.list[NewAgentMessage], *, ran_at: datetime | None = None
    ) -> None:
        """Store messages in one transaction, in the given order (and, with `ran_at`, mark
        the agent as run then, in the same transaction)."""
        if not new:
            return
        now = utcnow()
        rows = [
            {
                "public_id": m.id,
                "agent_id": agent.key,
                "user_id": agent.user_id,
                "role": m.role,
                "text": m.text.replace("\x00", "\ufffd"),
                "name": m.name,
                "tool_calls": m.tool_calls,
                "tool_call_id": m.tool_call_id,
                "model": m.model,
                "created_at": now,
            }
            for m in new
        ]
        async with self._db.write() as conn:
            # One executemany; both drivers insert the rows in order, so ids increase.
            await conn.execute(insert(table), rows)
            if ran_at is not None:
                await conn.execute(
                    update(agents).where(agents.c.id == agent.key).values(last_run_at=ran_at)
                )

    async def window(
        self, agent: Agent, limit: int
    ) -> tuple[builtins.list[AgentMessage], int, int]:
        """The in-context messages (seq >= context_from), oldest first, at most the last
        `limit`; and how many messages and archival passages the agent has in all."""
        query = (
            select(table)
            .where(table.c.agent_id == agent.key, table.c.id >= agent.context_from)
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        counts = select(
            select(func.count()).where(table.c.agent_id == agent.key).scalar_subquery(),
            select(func.count()).where(agent_passages.c.agent_id == agent.key).scalar_subquery(),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            recall, archival = (await conn.execute(counts)).one()
        return [_to_message(agent, row) for row in reversed(rows)], int(recall), int(archival)

    async def newest(
        self, agent: Agent, *, limit: int, offset: int = 0, before: str | None = None
    ) -> builtins.list[AgentMessage] | None:
        """Messages newest first; `before` is a message id (None if it is not the agent's)."""
        query = select(table).where(table.c.agent_id == agent.key)
        async with self._db.read() as conn:
            if before is not None:
                seq = (
                    await conn.execute(
                        select(table.c.id).where(
                            table.c.agent_id == agent.key, table.c.public_id == before
                        )
                    )
                ).scalar()
                if seq is None:
                    return None
                query = query.where(table.c.id < seq)
            query = query.order_by(table.c.id.desc()).limit(max(limit, 0)).offset(max(offset, 0))
            rows = (await conn.execute(query)).all()
        return [_to_message(agent, row) for row in rows]

    async def search(
        self,
        agent: Agent,
        *,
        text: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset: int,
        limit: int,
    ) -> tuple[builtins.list[AgentMessage], int]:
        """User and assistant messages containing `text` (case-insensitive) or written in
        [start, end): a page of them, oldest first, and how many match in all."""
        where: list[ColumnElement[bool]] = [
            table.c.agent_id == agent.key,
            table.c.role.in_(("user", "assistant")),
        ]
        if text is not None:
            where.append(table.c.text.ilike(f"%{_escape_like(text)}%", escape="\\"))
        if start is not None:
            where.append(table.c.created_at >= start)
        if end is not None:
            where.append(table.c.created_at < end)
        page = select(table).where(*where).order_by(table.c.id).offset(offset).limit(limit)
        total = select(func.count()).select_from(table).where(*where)
        async with self._db.read() as conn:
            rows = (await conn.execute(page)).all()
            count = int((await conn.execute(total)).scalar_one())
        return [_to_message(agent, row) for row in rows], count

    async def newest_from_user(self) -> builtins.list[tuple[str, str, str]]:
        """(user id, agent id, text) of every agent whose newest message has role user:
        the callers decide which of those still wait for an answer."""
        newest = select(func.max(table.c.id).label("id")).group_by(table.c.agent_id).subquery()
        query = (
            select(agents.c.user_id, agents.c.public_id, table.c.text)
            .join(newest, table.c.id == newest.c.id)
            .join(agents, agents.c.id == table.c.agent_id)
            .where(table.c.role == "user")
            .order_by(table.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(str(user), str(agent), str(text)) for user, agent, text in rows]
