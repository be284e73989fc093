"""KeyRepository: hashed at rest, owner-scoped revocation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from roost.core.errors import Conflict
from roost.core.records import User
from roost.storage import Database, KeyRepository, UserRepository
from roost.storage.db import async_url
from roost.storage.tables import api_keys


async def test_secret_is_never_stored(
    db: Database, db_url: str, keys: KeyRepository, alice: User
) -> None:
    created = await keys.create(alice.id, "laptop")
    secret = created.secret
    assert secret.startswith("roost_")
    assert created.key.prefix == secret[:12]
    async with db.read() as conn:
        rows = (await conn.execute(select(api_keys))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in rows[0].values())
    if db.dialect == "sqlite":
        # Not in the file either (nor in the WAL, which close() folds back in).
        await db.close()
        path = Path(async_url(db_url).database or "")
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert created.key.prefix.encode() in stored  # the scan does see the row
        assert secret.encode() not in stored


async def test_find_active(keys: KeyRepository, alice: User) -> None:
    created = await keys.create(alice.id, "laptop")
    found = await keys.find_active(created.secret)
    assert found == (created.key, alice)
    assert await keys.find_active(created.secret + "x") is None
    assert await keys.find_active("") is None
    assert await keys.find_active(created.key.prefix) is None


async def test_list_keys_per_user(keys: KeyRepository, alice: User, bob: User) -> None:
    a1 = await keys.create(alice.id, "one")
    a2 = await keys.create(alice.id, "two")
    await keys.create(bob.id, "bob's")
    assert await keys.list(alice.id) == [a1.key, a2.key]
    assert [k.name for k in await keys.list(bob.id)] == ["bob's"]


async def test_revoke_by_id_and_by_prefix(keys: KeyRepository, alice: User) -> None:
    by_id = await keys.create(alice.id, "one")
    by_prefix = await keys.create(alice.id, "two")
    assert await keys.revoke(alice.id, by_id.key.id) is True
    assert await keys.revoke(alice.id, by_prefix.key.prefix) is True
    assert await keys.find_active(by_id.secret) is None
    assert await keys.find_active(by_prefix.secret) is None
    assert await keys.revoke(alice.id, by_id.key.id) is False  # already revoked
    listed = await keys.list(alice.id)
    assert all(k.revoked_at is not None for k in listed)


async def test_cannot_revoke_another_users_key(keys: KeyRepository, alice: User, bob: User) -> None:
    created = await keys.create(alice.id, "laptop")
    assert await keys.revoke(bob.id, created.key.id) is False
    assert await keys.revoke(bob.id, created.key.prefix) is False
    assert await keys.find_active(created.secret) is not None


async def test_touch_records_last_use(keys: KeyRepository, alice: User) -> None:
    created = await keys.create(alice.id, "laptop")
    when = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    await keys.touch(created.key.id, when)
    found = await keys.find_active(created.secret)
    assert found is not None
    assert found[0].last_used_at == when
    assert (await keys.list(alice.id))[0].last_used_at == when


async def test_key_owner_is_current(
    users: UserRepository, keys: KeyRepository, alice: User
) -> None:
    created = await keys.create(alice.id, "laptop")
    await users.delete(alice.id)
    assert await keys.find_active(created.secret) is None


async def test_put_secret_keeps_one_active_named_key(
    keys: KeyRepository, users: UserRepository, alice: User
) -> None:
    secret = "a-consumer-key-from-a-file-0001"
    assert await keys.put_secret(alice.id, "mobile-app", secret) is True
    assert await keys.put_secret(alice.id, "mobile-app", secret) is False  # nothing to do
    found = await keys.find_active(secret)
    assert found is not None
    assert (found[0].name, found[1].id) == ("mobile-app", alice.id)
    assert await keys.owner_of(secret) == alice.id

    rotated = secret + "-2"
    assert await keys.put_secret(alice.id, "mobile-app", rotated) is True
    assert await keys.find_active(secret) is None
    assert await keys.revoke_all(alice.id) == 1
    assert await keys.find_active(rotated) is None
    # Put back: the revoked row is active again (the hash is unique, so it is reused).
    assert await keys.put_secret(alice.id, "mobile-app", secret) is True
    assert await keys.find_active(secret) is not None
    assert len(await keys.list(alice.id)) == 2

    bob = await users.create("bob")
    with pytest.raises(Conflict):
        await keys.put_secret(bob.id, "stolen", secret)
    assert [u.name for u in await users.list_named_with("al")] == ["alice"]
    assert await users.list_named_with("a%") == []  # taken literally, not as a pattern
