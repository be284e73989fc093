"""MessageRepository: sequence numbers, owner checks, cascade, concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from roost.core.errors import NotFound
from roost.core.records import Message, TokenUsage, User
from roost.storage import ConversationRepository, Database, MessageRepository
from roost.storage.tables import messages as messages_table


async def test_append_numbers_messages(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    convo = await conversations.create(alice.id, "c", title="t")
    one = await messages.append(alice.id, convo.id, role="user", content="hello")
    two = await messages.append(
        alice.id,
        convo.id,
        role="assistant",
        content="hi there",
        reasoning="greet back",
        tool_calls=[{"id": "call_1", "name": "lookup", "arguments": {"q": "x", "n": [1, 2]}}],
        model="smollm2",
        usage=TokenUsage(prompt=12, completion=3),
    )
    assert (one.seq, two.seq) == (1, 2)
    assert one.usage is None
    assert one.tool_calls == []
    assert one.created_at.tzinfo is not None

    listed = await messages.list(alice.id, convo.id)
    assert listed == [one, two]
    assert listed[1].tool_calls[0]["arguments"] == {"q": "x", "n": [1, 2]}
    assert listed[1].usage == TokenUsage(12, 3)
    assert listed[1].reasoning == "greet back"

    after = await conversations.get(alice.id, "c")
    assert after is not None
    assert after.updated_at == two.created_at  # appending is activity


async def test_error_message_is_kept(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    convo = await conversations.create(alice.id, "c", title="t")
    await messages.append(
        alice.id, convo.id, role="assistant", content="partial", error="provider_error: boom"
    )
    (stored,) = await messages.list(alice.id, convo.id)
    assert stored.error == "provider_error: boom"
    assert stored.content == "partial"


async def test_list_limit_keeps_the_latest_in_order(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    convo = await conversations.create(alice.id, "c", title="t")
    for i in range(5):
        await messages.append(alice.id, convo.id, role="user", content=str(i))
    assert [m.content for m in await messages.list(alice.id, convo.id, limit=2)] == ["3", "4"]
    assert await messages.list(alice.id, convo.id, limit=0) == []


async def test_only_the_owner_can_append_or_read(
    conversations: ConversationRepository, messages: MessageRepository, alice: User, bob: User
) -> None:
    convo = await conversations.create(alice.id, "c", title="t")
    await messages.append(alice.id, convo.id, role="user", content="private")
    with pytest.raises(NotFound):
        await messages.append(bob.id, convo.id, role="user", content="intrusion")
    with pytest.raises(NotFound):
        await messages.append(alice.id, convo.id + 1000, role="user", content="nowhere")
    assert await messages.list(bob.id, convo.id) == []
    assert [m.content for m in await messages.list(alice.id, convo.id)] == ["private"]


async def test_deleting_a_conversation_deletes_its_messages(
    db: Database,
    conversations: ConversationRepository,
    messages: MessageRepository,
    alice: User,
) -> None:
    gone = await conversations.create(alice.id, "gone", title="t")
    kept = await conversations.create(alice.id, "kept", title="t")
    for convo in (gone, kept):
        await messages.append(alice.id, convo.id, role="user", content="x")
    await conversations.delete(alice.id, "gone")
    async with db.read() as conn:
        left = (await conn.execute(select(messages_table.c.conversation_id))).scalars().all()
    assert left == [kept.id]


async def test_concurrent_appends_get_distinct_seqs(
    conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    convo = await conversations.create(alice.id, "c", title="t")
    other = await conversations.create(alice.id, "d", title="t")
    results = await asyncio.gather(
        *(messages.append(alice.id, convo.id, role="user", content=str(i)) for i in range(20)),
        *(messages.append(alice.id, other.id, role="user", content=str(i)) for i in range(5)),
        return_exceptions=True,  # let every append finish, then report any failure
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    stored = [r for r in results if isinstance(r, Message)]
    assert sorted(m.seq for m in stored[:20]) == list(range(1, 21))
    assert sorted(m.seq for m in stored[20:]) == list(range(1, 6))
    listed = await messages.list(alice.id, convo.id)
    assert [m.seq for m in listed] == list(range(1, 21))
    assert sorted(m.content for m in listed) == sorted(str(i) for i in range(20))


async def test_data_survives_reconnect(db_url: str, alice: User, db: Database) -> None:
    convo = await ConversationRepository(db).create(alice.id, "c", title="t")
    written = await MessageRepository(db).append(
        alice.id, convo.id, role="user", content="remember me", usage=TokenUsage(1, 2)
    )
    await db.close()

    reopened = Database(db_url)
    await reopened.connect()
    try:
        assert await MessageRepository(reopened).list(alice.id, convo.id) == [written]
        async with reopened.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(messages_table)) == 1
    finally:
        await reopened.close()
