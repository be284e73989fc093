"""Users: the owners of everything else."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, insert, or_, select

from roost.core.clock import utcnow
from roost.core.errors import Conflict
from roost.core.ids import new_uuid
from roost.core.records import User
from roost.storage.db import Database
from roost.storage.errors import conflict_on_duplicate
from roost.storage.tables import users

DEFAULT_USER = "default"


def to_user(row: Row[*tuple[Any, ...]]) -> User:
    return User(
        id=row.id,
        name=row.name,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
    )


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, name: str, *, is_admin: bool = False, user_id: str | None = None
    ) -> User:
        user = User(user_id or new_uuid(), name, is_admin, utcnow())
        taken = f"user '{name}'" + (f" or id '{user_id}'" if user_id else "")
        with conflict_on_duplicate(f"{taken} already exists"):
            async with self._db.write() as conn:
                await conn.execute(
                    insert(users).values(
                        id=user.id, name=name, is_admin=is_admin, created_at=user.created_at
                    )
                )
        return user

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_name(self, name: str) -> User | None:
        return await self._one(users.c.name == name)

    async def list(self, *, after: str | None = None, limit: int = 100) -> builtins.list[User]:
        """Users in creation order; `after` is the last id of the previous page.

        An unknown `after` id gives an empty page rather than restarting the listing.
        """
        query = select(users).order_by(users.c.created_at, users.c.id).limit(max(limit, 0))
        if after is not None:
            cursor = select(users.c.created_at).where(users.c.id == after).scalar_subquery()
            query = query.where(
                or_(
                    users.c.created_at > cursor,
                    and_(users.c.created_at == cursor, users.c.id > after),
                )
            )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [to_user(row) for row in rows]

    async def list_named_with(self, prefix: str) -> builtins.list[User]:
        """Users whose name starts with `prefix` (taken literally), by name."""
        query = (
            select(users)
            .where(users.c.name.startswith(prefix, autoescape=True))
            .order_by(users.c.name)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [to_user(row) for row in rows]

    async def delete(self, user_id: str) -> bool:
        """Delete a user; their keys, conversations and messages go with them."""
        async with self._db.write() as conn:
            result = await conn.execute(delete(users).where(users.c.id == user_id))
        return result.rowcount > 0

    async def ensure_default(self) -> User:
        """The admin user every install starts with; created on first call only."""
        existing = await self.get_by_name(DEFAULT_USER)
        if existing is not None:
            return existing
        try:
            return await self.create(DEFAULT_USER, is_admin=True)
        except Conflict:
            # Another process or task created it between our read and our insert.
            created = await self.get_by_name(DEFAULT_USER)
            if created is None:
                raise
            return created

    async def _one(self, condition: ColumnElement[bool]) -> User | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(users).where(condition))).first()
        return None if row is None else to_user(row)
