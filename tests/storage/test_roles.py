"""RoleRepository: owner scoping, unique names per user, id clashes, cascade, migration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from roost.core.clock import utcnow
from roost.core.errors import Conflict
from roost.core.ids import new_role_id
from roost.core.records import User
from roost.storage import Database, UserRepository
from roost.storage.db import async_url
from roost.storage.migrate import alembic_config
from roost.storage.roles import RoleRepository
from roost.storage.tables import users as users_table


@pytest.fixture
def roles(db: Database) -> RoleRepository:
    return RoleRepository(db)


def test_new_role_ids_have_the_documented_form() -> None:
    ids = {new_role_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"role_[a-z0-9]{6}", i) for i in ids)


async def test_create_and_get(roles: RoleRepository, alice: User) -> None:
    created = await roles.create(
        alice.id,
        name="Tutor",
        description="Explains things",
        system_prompt="You are a patient tutor.",
        enable_l0_retrieval=True,
    )
    assert re.fullmatch(r"role_[a-z0-9]{6}", created.id)
    assert created.user_id == alice.id
    assert (created.enable_l0_retrieval, created.enable_l1_retrieval) == (True, False)
    assert created.created_at == created.updated_at
    assert created.created_at.tzinfo is not None
    assert await roles.get(alice.id, created.id) == created
    assert await roles.get_by_name(alice.id, "Tutor") == created
    assert await roles.get(alice.id, "role_zzzzzz") is None
    assert await roles.get_by_name(alice.id, "tutor") is None  # names are case-sensitive


async def test_duplicate_name_for_one_user_conflicts(roles: RoleRepository, alice: User) -> None:
    first = await roles.create(alice.id, name="Tutor", system_prompt="one")
    with pytest.raises(Conflict, match="'Tutor' already exists"):
        await roles.create(alice.id, name="Tutor", system_prompt="two")
    other = await roles.create(alice.id, name="Critic", system_prompt="three")
    with pytest.raises(Conflict, match="'Tutor' already exists"):
        await roles.update(alice.id, other.id, name="Tutor")
    assert await roles.list(alice.id) == [first, other]  # neither failure changed anything


async def test_same_name_for_two_users(roles: RoleRepository, alice: User, bob: User) -> None:
    a = await roles.create(alice.id, name="Tutor", system_prompt="alice's")
    b = await roles.create(bob.id, name="Tutor", system_prompt="bob's")
    assert a.id != b.id
    assert await roles.get_by_name(alice.id, "Tutor") == a
    assert await roles.get_by_name(bob.id, "Tutor") == b


async def test_users_cannot_touch_each_others_roles(
    roles: RoleRepository, alice: User, bob: User
) -> None:
    mine = await roles.create(alice.id, name="Secret", system_prompt="alice's prompt")
    assert await roles.get(bob.id, mine.id) is None
    assert await roles.get_by_name(bob.id, "Secret") is None
    assert await roles.list(bob.id) == []
    assert await roles.count(bob.id) == 0
    assert await roles.update(bob.id, mine.id, system_prompt="pwned") is None
    assert await roles.delete(bob.id, mine.id) is False
    assert await roles.get(alice.id, mine.id) == mine


async def test_list_oldest_first_with_pages_and_count(roles: RoleRepository, alice: User) -> None:
    made = [await roles.create(alice.id, name=f"r{i}", system_prompt="p") for i in range(4)]
    assert await roles.list(alice.id) == made
    assert await roles.list(alice.id, limit=2, offset=1) == made[1:3]
    assert await roles.list(alice.id, offset=4) == []
    assert await roles.count(alice.id) == 4


async def test_list_order_survives_identical_timestamps(
    roles: RoleRepository, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("roost.storage.roles.utcnow", lambda: datetime(2025, 1, 1, tzinfo=UTC))
    made = [await roles.create(alice.id, name=f"r{i}", system_prompt="p") for i in range(3)]
    assert await roles.list(alice.id) == made


async def test_partial_update(roles: RoleRepository, alice: User) -> None:
    role = await roles.create(alice.id, name="Tutor", description="d", system_prompt="p")
    renamed = await roles.update(alice.id, role.id, name="Coach", enable_l1_retrieval=True)
    assert renamed is not None
    assert (renamed.name, renamed.description, renamed.system_prompt) == ("Coach", "d", "p")
    assert (renamed.enable_l0_retrieval, renamed.enable_l1_retrieval) == (False, True)
    assert renamed.created_at == role.created_at
    assert renamed.updated_at > role.updated_at
    assert await roles.get(alice.id, role.id) == renamed
    # Nothing to change: the role comes back as it is, updated_at included.
    assert await roles.update(alice.id, role.id) == renamed
    assert await roles.update(alice.id, "role_zzzzzz") is None
    cleared = await roles.update(alice.id, role.id, description="", enable_l1_retrieval=False)
    assert cleared is not None
    assert (cleared.description, cleared.enable_l1_retrieval) == ("", False)


async def test_delete(roles: RoleRepository, alice: User) -> None:
    role = await roles.create(alice.id, name="Tutor", system_prompt="p")
    assert await roles.delete(alice.id, role.id) is True
    assert await roles.get(alice.id, role.id) is None
    assert await roles.delete(alice.id, role.id) is False
    again = await roles.create(alice.id, name="Tutor", system_prompt="p")  # the name is free
    assert again.id != role.id


async def test_deleting_a_user_deletes_their_roles(
    roles: RoleRepository, users: UserRepository, alice: User, bob: User
) -> None:
    gone = await roles.create(alice.id, name="Tutor", system_prompt="p")
    kept = await roles.create(bob.id, name="Tutor", system_prompt="p")
    assert await users.delete(alice.id) is True
    assert await roles.count(alice.id) == 0
    assert await roles.get(alice.id, gone.id) is None
    assert await roles.list(bob.id) == [kept]


def _ids(*values: str) -> Iterator[str]:
    yield from values


async def test_an_id_clash_is_retried(
    roles: RoleRepository, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ids are unique across users: bob's new role must not take alice's id.
    ids = _ids("role_aaaaaa", "role_aaaaaa", "role_aaaaaa", "role_bbbbbb")
    monkeypatch.setattr("roost.storage.roles.new_role_id", lambda: next(ids))
    first = await roles.create(alice.id, name="Tutor", system_prompt="p")
    second = await roles.create(bob.id, name="Other", system_prompt="q")
    assert (first.id, second.id) == ("role_aaaaaa", "role_bbbbbb")
    assert await roles.get(bob.id, "role_bbbbbb") == second
    assert await roles.get(alice.id, "role_aaaaaa") == first


async def test_a_name_clash_is_not_mistaken_for_an_id_clash(
    roles: RoleRepository, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counted() -> str:
        calls.append(new_role_id())
        return calls[-1]

    await roles.create(alice.id, name="Tutor", system_prompt="p")
    monkeypatch.setattr("roost.storage.roles.new_role_id", counted)
    with pytest.raises(Conflict):
        await roles.create(alice.id, name="Tutor", system_prompt="p")
    assert len(calls) == 1  # reported at once, not retried


async def test_a_role_for_a_missing_user_is_refused(roles: RoleRepository) -> None:
    # Neither a name nor an id clash: the driver's error is not disguised as one.
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        await roles.create("no-such-user", name="Tutor", system_prompt="p")


async def test_upgrade_from_0001_keeps_data(db_url: str) -> None:
    """A database made by the first release gains the roles table on the next start."""
    url = async_url(db_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0001"))
            await conn.execute(
                insert(users_table).values(
                    id="alice-id", name="alice", is_admin=False, created_at=utcnow()
                )
            )
    finally:
        await engine.dispose()
    db = Database(db_url)
    await db.connect()
    try:
        alice = await UserRepository(db).get("alice-id")
        assert alice is not None
        role = await RoleRepository(db).create(alice.id, name="Tutor", system_prompt="p")
        assert await RoleRepository(db).get(alice.id, role.id) == role
    finally:
        await db.close()
