"""kernel2 roles, always looked up by (owner, public id): never by id alone."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from roost.core.clock import utcnow
from roost.core.errors import Conflict, Unavailable
from roost.core.ids import new_role_id
from roost.core.records import Role
from roost.storage.db import Database
from roost.storage.errors import conflict_on_duplicate
from roost.storage.tables import roles

# Ids are random with 2.2e9 values, so even one retry is rare; a few bound the loop.
_ID_ATTEMPTS = 5


def _owned(user_id: str, role_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return roles.c.user_id == user_id, roles.c.public_id == role_id


def _to_role(row: Row[*tuple[Any, ...]]) -> Role:
    return Role(
        id=row.public_id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        system_prompt=row.system_prompt,
        enable_l0_retrieval=row.enable_l0_retrieval,
        enable_l1_retrieval=row.enable_l1_retrieval,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _duplicate_name(name: str | None) -> str:
    return f"a role named '{name}' already exists"


class RoleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        system_prompt: str,
        description: str = "",
        enable_l0_retrieval: bool = False,
        enable_l1_retrieval: bool = False,
    ) -> Role:
        now = utcnow()
        for _ in range(_ID_ATTEMPTS):
            role = Role(
                id=new_role_id(),
                user_id=user_id,
                name=name,
                description=description,
                system_prompt=system_prompt,
                enable_l0_retrieval=enable_l0_retrieval,
                enable_l1_retrieval=enable_l1_retrieval,
                created_at=now,
                updated_at=now,
            )
            try:
                async with self._db.write() as conn:
                    await conn.execute(insert(roles).values(_columns(role)))
                return role
            except IntegrityError:
                # Both unique constraints (and the user FK) raise the same error class, and
                # its text differs by backend; asking the database which one it was does not.
                async with self._db.read() as conn:
                    if await _get_by_name(conn, user_id, name) is not None:
                        raise Conflict(_duplicate_name(name)) from None
                    taken = select(roles.c.id).where(roles.c.public_id == role.id)
                    if (await conn.execute(taken)).first() is None:
                        raise
        raise Unavailable(f"no free role id after {_ID_ATTEMPTS} attempts; try again")

    async def get(self, user_id: str, role_id: str) -> Role | None:
        async with self._db.read() as conn:
            return await _get(conn, user_id, role_id)

    async def get_by_name(self, user_id: str, name: str) -> Role | None:
        async with self._db.read() as conn:
            return await _get_by_name(conn, user_id, name)

    async def list(self, user_id: str, *, limit: int = 100, offset: int = 0) -> builtins.list[Role]:
        """The user's roles, oldest first: a stable order for a role picker."""
        query = (
            select(roles)
            .where(roles.c.user_id == user_id)
            .order_by(roles.c.created_at, roles.c.id)
            .limit(max(limit, 0))
            .offset(max(offset, 0))
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_role(row) for row in rows]

    async def count(self, user_id: str) -> int:
        query = select(func.count()).select_from(roles).where(roles.c.user_id == user_id)
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def update(
        self,
        user_id: str,
        role_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        system_prompt: str | None = None,
        enable_l0_retrieval: bool | None = None,
        enable_l1_retrieval: bool | None = None,
    ) -> Role | None:
        """Change the given fields (None leaves one as it is); None if there is no such role."""
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", name),
                ("description", description),
                ("system_prompt", system_prompt),
                ("enable_l0_retrieval", enable_l0_retrieval),
                ("enable_l1_retrieval", enable_l1_retrieval),
            )
            if value is not None
        }
        if not changes:
            return await self.get(user_id, role_id)
        changes["updated_at"] = utcnow()
        with conflict_on_duplicate(_duplicate_name(name)):
            async with self._db.write() as conn:
                result = await conn.execute(
                    update(roles).where(*_owned(user_id, role_id)).values(**changes)
                )
                if result.rowcount == 0:
                    return None
                return await _get(conn, user_id, role_id)

    async def delete(self, user_id: str, role_id: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(roles).where(*_owned(user_id, role_id)))
        return result.rowcount > 0


def _columns(role: Role) -> dict[str, Any]:
    return {
        "public_id": role.id,
        "user_id": role.user_id,
        "name": role.name,
        "description": role.description,
        "system_prompt": role.system_prompt,
        "enable_l0_retrieval": role.enable_l0_retrieval,
        "enable_l1_retrieval": role.enable_l1_retrieval,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }


async def _get(conn: AsyncConnection, user_id: str, role_id: str) -> Role | None:
    row = (await conn.execute(select(roles).where(*_owned(user_id, role_id)))).first()
    return None if row is None else _to_role(row)


async def _get_by_name(conn: AsyncConnection, user_id: str, name: str) -> Role | None:
    query = select(roles).where(roles.c.user_id == user_id, roles.c.name == name)
    row = (await conn.execute(query)).first()
    return None if row is None else _to_role(row)
