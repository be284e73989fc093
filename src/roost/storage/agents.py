"""MemGPT-style agents, always looked up by (owner, public id): never by id alone."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from roost.core.agents import Agent
from roost.core.clock import utcnow
from roost.core.ids import new_uuid
from roost.storage.db import Database
from roost.storage.tables import agent_messages, agent_passages, agents

# The columns a caller may change with `update`.
_MUTABLE = frozenset(
    {
        "name",
        "model",
        "system",
        "persona",
        "human",
        "persona_name",
        "human_name",
        "tools",
        "meta",
        "summary",
        "context_from",
        "last_run_at",
    }
)


def _to_agent(row: Row[*tuple[Any, ...]]) -> Agent:
    return Agent(
        id=row.public_id,
        key=row.id,
        user_id=row.user_id,
        name=row.name,
        preset=row.preset,
        model=row.model,
        system=row.system,
        persona=row.persona,
        human=row.human,
        persona_name=row.persona_name,
        human_name=row.human_name,
        tools=list(row.tools or []),
        meta=dict(row.meta or {}),
        summary=row.summary,
        context_from=row.context_from,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_run_at=row.last_run_at,
    )


class AgentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        preset: str,
        model: str | None,
        system: str,
        persona: str,
        human: str,
        persona_name: str | None,
        human_name: str | None,
        tools: builtins.list[str],
        meta: dict[str, Any],
    ) -> Agent:
        now = utcnow()
        values = {
            "public_id": new_uuid(),
            "user_id": user_id,
            "name": name,
            "preset": preset,
            "model": model,
            "system": system,
            "persona": persona,
            "human": human,
            "persona_name": persona_name,
            "human_name": human_name,
            "tools": tools,
            "meta": meta,
            "summary": None,
            "context_from": 0,
            "created_at": now,
            "updated_at": now,
        }
        async with self._db.write() as conn:
            await conn.execute(insert(agents).values(values))
            row = (
                await conn.execute(select(agents).where(agents.c.public_id == values["public_id"]))
            ).one()
        return _to_agent(row)

    async def get(self, user_id: str, agent_id: str) -> Agent | None:
        query = select(agents).where(agents.c.user_id == user_id, agents.c.public_id == agent_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _to_agent(row)

    async def by_key(self, key: int) -> Agent | None:
        """An agent by its internal row id (lease names carry it), whoever owns it."""
        async with self._db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == key))).first()
        return None if row is None else _to_agent(row)

    async def list(
        self, user_id: str | None, *, limit: int, offset: int = 0
    ) -> builtins.list[Agent]:
        """The user's agents (every user's when None), most recently run first."""
        query = (
            select(agents)
            .order_by(
                func.coalesce(agents.c.last_run_at, agents.c.created_at).desc(), agents.c.id.desc()
            )
            .limit(max(limit, 0))
            .offset(max(offset, 0))
        )
        if user_id is not None:
            query = query.where(agents.c.user_id == user_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_agent(row) for row in rows]

    async def count(self, user_id: str) -> int:
        query = select(func.count()).select_from(agents).where(agents.c.user_id == user_id)
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def update(self, user_id: str, agent_id: str, **changes: Any) -> Agent | None:
        unknown = set(changes) - _MUTABLE
        if unknown:
            raise ValueError(f"cannot update agent columns {sorted(unknown)}")
        owned = (agents.c.user_id == user_id, agents.c.public_id == agent_id)
        async with self._db.write() as conn:
            result = await conn.execute(
                update(agents).where(*owned).values(**changes, updated_at=utcnow())
            )
            if result.rowcount == 0:
                return None
            row = (await conn.execute(select(agents).where(*owned))).one()
        return _to_agent(row)

    async def delete(self, user_id: str, agent_id: str) -> bool:
        """Delete an agent; its messages and passages go with it (cascade)."""
        query = delete(agents).where(agents.c.user_id == user_id, agents.c.public_id == agent_id)
        async with self._db.write() as conn:
            result = await conn.execute(query)
        return result.rowcount > 0

    async def sizes(self, agent: Agent) -> tuple[int, int]:
        """(messages, archival passages) the agent has."""
        return (await self.sizes_many([agent.key])).get(agent.key, (0, 0))

    async def sizes_many(self, keys: builtins.list[int]) -> dict[int, tuple[int, int]]:
        """(messages, passages) per agent row id, in two grouped queries."""
        found: dict[int, list[int]] = {key: [0, 0] for key in keys}
        async with self._db.read() as conn:
            for index, table in enumerate((agent_messages, agent_passages)):
                for start in range(0, len(keys), 500):
                    batch = keys[start : start + 500]
                    query = (
                        select(table.c.agent_id, func.count())
                        .where(table.c.agent_id.in_(batch))
                        .group_by(table.c.agent_id)
                    )
                    for agent_key, count in (await conn.execute(query)).all():
                        found[agent_key][index] = int(count)
        return {key: (value[0], value[1]) for key, value in found.items()}
