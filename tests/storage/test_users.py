"""UserRepository."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from roost.core.errors import Conflict
from roost.storage import (
    ConversationRepository,
    KeyRepository,
    MessageRepository,
    UserRepository,
)


async def test_create_and_get(users: UserRepository) -> None:
    alice = await users.create("alice")
    admin = await users.create("root", is_admin=True, user_id="fixed-id")
    assert alice.name == "alice"
    assert not alice.is_admin
    assert alice.created_at.tzinfo is not None
    assert admin.id == "fixed-id"
    assert admin.is_admin
    assert await users.get(alice.id) == alice
    assert await users.get_by_name("root") == admin
    assert await users.get("missing") is None
    assert await users.get_by_name("missing") is None


async def test_duplicate_name_or_id_is_a_conflict(users: UserRepository) -> None:
    alice = await users.create("alice")
    with pytest.raises(Conflict):
        await users.create("alice")
    with pytest.raises(Conflict):
        await users.create("other", user_id=alice.id)
    assert [u.name for u in await users.list()] == ["alice"]


async def test_list_pages_in_creation_order(users: UserRepository) -> None:
    created = [await users.create(f"user-{i}") for i in range(5)]
    assert await users.list() == created
    first = await users.list(limit=2)
    second = await users.list(after=first[-1].id, limit=2)
    third = await users.list(after=second[-1].id, limit=2)
    assert first + second + third == created
    assert await users.list(after=created[-1].id) == []
    assert await users.list(after="no-such-id") == []


async def test_list_pages_through_identical_timestamps(
    users: UserRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same created_at for everyone: the id must break ties or pages repeat or skip.
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    monkeypatch.setattr("roost.storage.users.utcnow", lambda: moment)
    for name in "edcba":
        await users.create(name, user_id=f"id-{name}")
    seen: list[str] = []
    after = None
    while page := await users.list(after=after, limit=2):
        seen += [u.id for u in page]
        after = page[-1].id
    assert seen == ["id-a", "id-b", "id-c", "id-d", "id-e"]


async def test_delete_cascades(
    users: UserRepository,
    keys: KeyRepository,
    conversations: ConversationRepository,
    messages: MessageRepository,
) -> None:
    alice = await users.create("alice")
    bob = await users.create("bob")
    new_key = await keys.create(alice.id, "laptop")
    convo = await conversations.create(alice.id, "c1", title="hi")
    await messages.append(alice.id, convo.id, role="user", content="hello")
    await conversations.create(bob.id, "c1", title="bob's")

    assert await users.delete(alice.id) is True
    assert await users.delete(alice.id) is False
    assert await users.get(alice.id) is None
    assert await keys.find_active(new_key.secret) is None
    assert await keys.list(alice.id) == []
    assert await conversations.list(alice.id) == []
    assert await messages.list(alice.id, convo.id) == []
    assert [c.title for c in await conversations.list(bob.id)] == ["bob's"]


async def test_ensure_default_is_idempotent(users: UserRepository) -> None:
    first = await users.ensure_default()
    assert first.name == "default"
    assert first.is_admin
    assert await users.ensure_default() == first
    assert await users.list() == [first]


async def test_ensure_default_survives_a_race(users: UserRepository) -> None:
    results = await asyncio.gather(*(users.ensure_default() for _ in range(10)))
    assert len({u.id for u in results}) == 1
    assert len(await users.list()) == 1
