"""ConversationRepository: owner scoping, ordering, counts."""

from __future__ import annotations

import pytest

from roost.core.errors import Conflict, InvalidRequest
from roost.core.records import User
from roost.storage import ConversationRepository, MessageRepository


async def test_create_and_get(conversations: ConversationRepository, alice: User) -> None:
    created = await conversations.create(
        alice.id, "2024-05-01-10-00-00", title="Hi", model="smollm2", system_prompt="Be brief."
    )
    assert created.public_id == "2024-05-01-10-00-00"
    assert created.user_id == alice.id
    assert created.message_count == 0
    assert created.created_at == created.updated_at
    assert created.created_at.tzinfo is not None
    assert await conversations.get(alice.id, created.public_id) == created
    assert await conversations.get(alice.id, "other") is None


async def test_duplicate_public_id_for_one_user_conflicts(
    conversations: ConversationRepository, alice: User
) -> None:
    await conversations.create(alice.id, "same", title="first")
    with pytest.raises(Conflict):
        await conversations.create(alice.id, "same", title="second")
    assert [c.title for c in await conversations.list(alice.id)] == ["first"]


async def test_users_cannot_see_each_others_conversations(
    conversations: ConversationRepository, alice: User, bob: User
) -> None:
    mine = await conversations.create(alice.id, "secret", title="alice's")
    assert await conversations.get(bob.id, "secret") is None
    assert await conversations.list(bob.id) == []
    assert await conversations.rename(bob.id, "secret", "pwned") is None
    assert await conversations.delete(bob.id, "secret") is False
    assert await conversations.get(alice.id, "secret") == mine


async def test_same_public_id_for_two_users(
    conversations: ConversationRepository, alice: User, bob: User
) -> None:
    a = await conversations.create(alice.id, "shared-name", title="alice's")
    b = await conversations.create(bob.id, "shared-name", title="bob's")
    assert a.id != b.id
    assert (await conversations.get(alice.id, "shared-name")) == a
    assert (await conversations.get(bob.id, "shared-name")) == b
    assert await conversations.delete(bob.id, "shared-name") is True
    assert await conversations.get(alice.id, "shared-name") == a


async def test_list_newest_activity_first_with_counts(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    first = await conversations.create(alice.id, "first", title="1")
    await conversations.create(alice.id, "second", title="2")
    await conversations.create(alice.id, "third", title="3")
    for text in ("a", "b"):
        await messages.append(alice.id, first.id, role="user", content=text)

    listed = await conversations.list(alice.id)
    assert [c.public_id for c in listed] == ["first", "third", "second"]
    assert [c.message_count for c in listed] == [2, 0, 0]
    assert listed[0].updated_at > listed[0].created_at
    got = await conversations.get(alice.id, "first")
    assert got is not None
    assert got.message_count == 2

    assert [c.public_id for c in await conversations.list(alice.id, limit=1, offset=1)] == ["third"]
    assert await conversations.list(alice.id, offset=3) == []


async def test_rename(conversations: ConversationRepository, alice: User) -> None:
    created = await conversations.create(alice.id, "c", title="old")
    renamed = await conversations.rename(alice.id, "c", "new")
    assert renamed is not None
    assert renamed.title == "new"
    assert renamed.updated_at == created.updated_at  # a title is not activity
    assert await conversations.get(alice.id, "c") == renamed
    assert await conversations.rename(alice.id, "missing", "x") is None


async def test_delete(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    created = await conversations.create(alice.id, "c", title="t")
    await messages.append(alice.id, created.id, role="user", content="hi")
    assert await conversations.delete(alice.id, "c") is True
    assert await conversations.get(alice.id, "c") is None
    assert await conversations.delete(alice.id, "c") is False
    # The public id is free again.
    again = await conversations.create(alice.id, "c", title="t")
    assert await messages.list(alice.id, again.id) == []


async def test_text_the_database_cannot_store_is_invalid_input(
    conversations: ConversationRepository, alice: User, db_url: str
) -> None:
    """Found by the fuzz test: PostgreSQL text cannot hold NUL, which was a 500."""
    if db_url.startswith("sqlite"):
        made = await conversations.create(alice.id, "nul\x00id", title="a\x00b")
        assert made.title == "a\x00b"  # SQLite stores it
        return
    with pytest.raises(InvalidRequest, match="NUL"):
        await conversations.create(alice.id, "nul\x00id", title="t")
    with pytest.raises(InvalidRequest, match="NUL"):
        await conversations.get(alice.id, "\x00")
    assert await conversations.list(alice.id) == []  # nothing was stored
