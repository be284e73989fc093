"""A user's named humans, personas, presets and tool registrations for MemGPT agents."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from roost.core.agents import LibraryItem
from roost.core.clock import utcnow
from roost.core.ids import new_uuid
from roost.storage.db import Database
from roost.storage.errors import conflict_on_duplicate
from roost.storage.tables import agent_library as table


def _to_item(row: Row[*tuple[Any, ...]]) -> LibraryItem:
    return LibraryItem(
        id=row.public_id,
        user_id=row.user_id,
        kind=row.kind,
        name=row.name,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


class LibraryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, user_id: str, kind: str, *, limit: int) -> builtins.list[LibraryItem]:
        query = (
            select(table)
            .where(table.c.user_id == user_id, table.c.kind == kind)
            .order_by(table.c.id)
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_item(row) for row in rows]

    async def get(self, user_id: str, kind: str, name: str) -> LibraryItem | None:
        query = select(table).where(
            table.c.user_id == user_id, table.c.kind == kind, table.c.name == name
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _to_item(row)

    async def get_by_id(self, user_id: str, kind: str, item_id: str) -> LibraryItem | None:
        query = select(table).where(
            table.c.user_id == user_id, table.c.kind == kind, table.c.public_id == item_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _to_item(row)

    async def put(
        self, user_id: str, kind: str, name: str, data: dict[str, Any], *, replace: bool
    ) -> LibraryItem:
        """Store an item; an existing name is replaced when `replace`, else a Conflict."""
        async with self._db.write() as conn:
            where = (table.c.user_id == user_id, table.c.kind == kind, table.c.name == name)
            if replace:
                result = await conn.execute(update(table).where(*where).values(data=data))
                if result.rowcount:
                    row = (await conn.execute(select(table).where(*where))).one()
                    return _to_item(row)
            with conflict_on_duplicate(f"a {kind} named '{name}' already exists"):
                await conn.execute(
                    insert(table).values(
                        public_id=new_uuid(),
                        user_id=user_id,
                        kind=kind,
                        name=name,
                        data=data,
                        created_at=utcnow(),
                    )
                )
            row = (await conn.execute(select(table).where(*where))).one()
        return _to_item(row)

    async def count(self, user_id: str, kind: str) -> int:
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.user_id == user_id, table.c.kind == kind)
        )
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete(self, user_id: str, kind: str, item_id_or_name: str) -> LibraryItem | None:
        """Delete by name or id; the deleted item, or None when there was none."""
        async with self._db.write() as conn:
            for column in (table.c.name, table.c.public_id):
                where = (
                    table.c.user_id == user_id,
                    table.c.kind == kind,
                    column == item_id_or_name,
                )
                row = (await conn.execute(select(table).where(*where))).first()
                if row is not None:
                    await conn.execute(delete(table).where(table.c.id == row.id))
                    return _to_item(row)
        return None
