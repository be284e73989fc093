"""API keys: only a display prefix and the SHA-256 of each secret are stored."""

from __future__ import annotations

import builtins
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select, update

from roost.core.clock import utcnow
from roost.core.errors import Conflict
from roost.core.ids import key_hash, key_prefix, new_api_key, new_uuid
from roost.core.records import ApiKey, NewApiKey, User
from roost.storage.db import Database
from roost.storage.errors import conflict_on_duplicate
from roost.storage.tables import api_keys, users

_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.user_id,
    api_keys.c.name,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


def _to_key(row: Row[*tuple[Any, ...]]) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, user_id: str, name: str) -> NewApiKey:
        """Make a key for `user_id`; the returned secret is never retrievable again."""
        secret = new_api_key()
        key = ApiKey(new_uuid(), user_id, name, key_prefix(secret), utcnow())
        # A hash collision of two fresh 256-bit secrets would be news, not a user error.
        with conflict_on_duplicate(f"could not create key '{name}'"):
            async with self._db.write() as conn:
                await conn.execute(
                    insert(api_keys).values(
                        id=key.id,
                        user_id=user_id,
                        name=name,
                        prefix=key.prefix,
                        key_hash=key_hash(secret),
                        created_at=key.created_at,
                    )
                )
        return NewApiKey(key, secret)

    async def find_active(self, secret: str) -> tuple[ApiKey, User] | None:
        """The unrevoked key with this secret and its owner, or None."""
        wanted = key_hash(secret)
        query = (
            select(
                *_KEY_COLUMNS,
                api_keys.c.key_hash,
                users.c.name.label("user_name"),
                users.c.is_admin,
                users.c.created_at.label("user_created_at"),
            )
            .join(users, users.c.id == api_keys.c.user_id)
            .where(api_keys.c.key_hash == wanted, api_keys.c.revoked_at.is_(None))
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        # The index lookup finds the row; the constant-time compare is what decides.
        if row is None or not hmac.compare_digest(row.key_hash, wanted):
            return None
        user = User(row.user_id, row.user_name, bool(row.is_admin), row.user_created_at)
        return _to_key(row), user

    async def list(self, user_id: str) -> builtins.list[ApiKey]:
        """All of a user's keys, revoked ones included, oldest first."""
        query = (
            select(*_KEY_COLUMNS)
            .where(api_keys.c.user_id == user_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_key(row) for row in rows]

    async def revoke(self, user_id: str, key_id_or_prefix: str) -> bool:
        """Revoke the user's active key with this id or prefix; False if there is none."""
        query = (
            update(api_keys)
            .where(
                api_keys.c.user_id == user_id,
                api_keys.c.revoked_at.is_(None),
                or_(api_keys.c.id == key_id_or_prefix, api_keys.c.prefix == key_id_or_prefix),
            )
            .values(revoked_at=utcnow())
        )
        async with self._db.write() as conn:
            result = await conn.execute(query)
        return result.rowcount > 0

    async def find(self, key_id_or_prefix: str) -> builtins.list[ApiKey]:
        """Active keys with this id or prefix, whoever owns them (admin routes)."""
        query = select(*_KEY_COLUMNS).where(
            api_keys.c.revoked_at.is_(None),
            or_(api_keys.c.id == key_id_or_prefix, api_keys.c.prefix == key_id_or_prefix),
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_key(row) for row in rows]

    async def touch(self, key_id: str, when: datetime) -> None:
        """Record a use of the key (callers throttle this; it is a write)."""
        async with self._db.write() as conn:
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=when)
            )

    async def owner_of(self, secret: str) -> str | None:
        """The user id of any key, active or revoked, with this secret."""
        query = select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash(secret))
        async with self._db.read() as conn:
            return await conn.scalar(query)

    async def put_secret(self, user_id: str, name: str, secret: str) -> bool:
        """Make `secret` the user's one active key, named `name`; other keys are revoked.

        For keys whose secret comes from a file (consumers): the secret is stored hashed
        like any other. True when anything changed. Conflict if another user's key,
        even a revoked one, has this secret.
        """
        digest = key_hash(secret)
        now = utcnow()
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    select(
                        api_keys.c.id, api_keys.c.user_id, api_keys.c.name, api_keys.c.revoked_at
                    ).where(api_keys.c.key_hash == digest)
                )
            ).first()
            if row is not None and row.user_id != user_id:
                raise Conflict("that key is already the key of another user")
            others = await conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.user_id == user_id,
                    api_keys.c.revoked_at.is_(None),
                    api_keys.c.key_hash != digest,
                )
                .values(revoked_at=now)
            )
            changed = others.rowcount > 0
            if row is None:
                await conn.execute(
                    insert(api_keys).values(
                        id=new_uuid(),
                        user_id=user_id,
                        name=name,
                        prefix=key_prefix(secret),
                        key_hash=digest,
                        created_at=now,
                    )
                )
                return True
            if row.revoked_at is not None or row.name != name:
                await conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == row.id)
                    .values(revoked_at=None, name=name)
                )
                return True
        return changed

    async def revoke_all(self, user_id: str) -> int:
        """Revoke every active key of the user; how many there were."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return int(result.rowcount)
