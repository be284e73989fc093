"""An agent's archival memory: passages with keyword search (FTS5 or tsvector, made by
migration 0007 and tokenised like the memory index of 0003)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, String, Text, TextClause, delete, insert, select, text

from roost.core.agents import Agent, Passage
from roost.core.clock import utcnow
from roost.core.ids import new_uuid
from roost.storage.db import Database
from roost.storage.memory import fts5_match, tsquery_text
from roost.storage.tables import UTCDateTime
from roost.storage.tables import agent_passages as table


def _typed(sql: str) -> TextClause:
    # Typed result columns: SQLite hands back timestamps as text otherwise.
    typed = text(sql).columns(public_id=String(), text=Text(), created_at=UTCDateTime())
    return typed  # type: ignore[return-value]


_SEARCH = {
    "sqlite": _typed("""\
SELECT p.public_id, p.text, p.created_at
FROM agent_passages_fts
JOIN agent_passages AS p ON p.id = agent_passages_fts.rowid
WHERE agent_passages_fts MATCH :match AND p.agent_id = :agent
ORDER BY bm25(agent_passages_fts), p.id
LIMIT :limit OFFSET :offset"""),
    "postgresql": _typed("""\
SELECT p.public_id, p.text, p.created_at
FROM agent_passages AS p CROSS JOIN to_tsquery('simple', :match) AS q
WHERE p.tsv @@ q AND p.agent_id = :agent
ORDER BY ts_rank_cd(p.tsv, q) DESC, p.id
LIMIT :limit OFFSET :offset"""),
}


# bm25() cannot sit beside a window function, so the total is its own query.
_COUNT = {
    "sqlite": text(
        "SELECT count(*) FROM agent_passages_fts JOIN agent_passages AS p "
        "ON p.id = agent_passages_fts.rowid "
        "WHERE agent_passages_fts MATCH :match AND p.agent_id = :agent"
    ),
    "postgresql": text(
        "SELECT count(*) FROM agent_passages AS p "
        "WHERE p.tsv @@ to_tsquery('simple', :match) AND p.agent_id = :agent"
    ),
}


def _to_passage(agent: Agent, row: Row[*tuple[Any, ...]]) -> Passage:
    return Passage(id=row.public_id, agent_id=agent.id, text=row.text, created_at=row.created_at)


class PassageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, agent: Agent, texts: builtins.list[str]) -> builtins.list[Passage]:
        now = utcnow()
        made = [
            Passage(new_uuid(), agent.id, piece.replace("\x00", "\ufffd"), now) for piece in texts
        ]
        async with self._db.write() as conn:
            for passage in made:
                await conn.execute(
                    insert(table).values(
                        public_id=passage.id,
                        agent_id=agent.key,
                        user_id=agent.user_id,
                        text=passage.text,
                        created_at=now,
                    )
                )
        return made

    async def list(
        self, agent: Agent, *, after: str | None, before: str | None, limit: int
    ) -> builtins.list[Passage] | None:
        """Passages oldest first, after/before a passage id (None: an id not the agent's)."""
        query = select(table).where(table.c.agent_id == agent.key)
        async with self._db.read() as conn:
            for cursor, newer in ((after, True), (before, False)):
                if cursor is None:
                    continue
                seq = (
                    await conn.execute(
                        select(table.c.id).where(
                            table.c.agent_id == agent.key, table.c.public_id == cursor
                        )
                    )
                ).scalar()
                if seq is None:
                    return None
                query = query.where(table.c.id > seq if newer else table.c.id < seq)
            rows = (await conn.execute(query.order_by(table.c.id).limit(max(limit, 0)))).all()
        return [_to_passage(agent, row) for row in rows]

    async def delete(self, agent: Agent, passage_id: str) -> bool:
        query = delete(table).where(table.c.agent_id == agent.key, table.c.public_id == passage_id)
        async with self._db.write() as conn:
            result = await conn.execute(query)
        return result.rowcount > 0

    @property
    def search_method(self) -> str:
        """How search finds and ranks passages (MemGPT clients see it as the embedding model)."""
        return "sqlite-fts5-bm25" if self._db.dialect == "sqlite" else "postgresql-tsvector"

    async def search(
        self, agent: Agent, query: str, *, offset: int, limit: int
    ) -> tuple[builtins.list[Passage], int]:
        """Passages sharing words with `query`, best first: a page and the total."""
        dialect = self._db.dialect
        match = fts5_match(query) if dialect == "sqlite" else tsquery_text(query)
        if match is None or limit <= 0:
            return [], 0
        params = {"match": match, "agent": agent.key, "limit": limit, "offset": max(offset, 0)}
        async with self._db.read() as conn:
            rows = (await conn.execute(_SEARCH[dialect], params)).all()
            total = int((await conn.execute(_COUNT[dialect], params)).scalar_one())
        passages = [Passage(r.public_id, agent.id, r.text, r.created_at) for r in rows]
        return passages, total
