"""InboxRepository, and the message appends that complete inbox items atomically."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, select

from roost.core.clock import utcnow
from roost.core.errors import RateLimited
from roost.core.records import Conversation, User
from roost.storage import ConversationRepository, Database, MessageRepository
from roost.storage.inbox import DELIVERING, DONE, FAILED, QUEUED, InboxRepository
from roost.storage.migrate import alembic_config
from roost.storage.tables import inbox as inbox_table


@pytest.fixture
def repo(db: Database) -> InboxRepository:
    return InboxRepository(db)


@pytest.fixture
async def convo(conversations: ConversationRepository, alice: User) -> Conversation:
    return await conversations.create(alice.id, "s1", title="t")


async def test_add_and_list_in_arrival_order(
    repo: InboxRepository, convo: Conversation, alice: User, bob: User
) -> None:
    one = await repo.add(alice.id, convo.id, "s1", "first", max_open=10)
    two = await repo.add(alice.id, convo.id, "s1", "second", max_open=10)
    assert (one.state, one.attempts, one.session_id) == (QUEUED, 0, "s1")
    assert two.id > one.id
    listed = await repo.list(alice.id, states=(QUEUED,))
    assert [i.content for i in listed] == ["first", "second"]
    assert listed[0] == one
    assert await repo.list(bob.id, states=(QUEUED,)) == []  # owner-scoped


async def test_open_messages_are_bounded_per_user(
    repo: InboxRepository,
    conversations: ConversationRepository,
    convo: Conversation,
    alice: User,
    bob: User,
) -> None:
    for n in range(3):
        await repo.add(alice.id, convo.id, "s1", f"m{n}", max_open=3)
    with pytest.raises(RateLimited):
        await repo.add(alice.id, convo.id, "s1", "one too many", max_open=3)
    theirs = await conversations.create(bob.id, "s1", title="t")
    await repo.add(bob.id, theirs.id, "s1", "bob has room", max_open=3)
    assert len(await repo.list(alice.id, states=(QUEUED,))) == 3


async def test_head_is_the_oldest_open_item(repo: InboxRepository, convo: Conversation) -> None:
    assert await repo.head(convo.id) is None
    one = await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    two = await repo.add(convo.user_id, convo.id, "s1", "b", max_open=10)
    head = await repo.head(convo.id)
    assert head is not None
    assert head.id == one.id
    assert await repo.claim(one.id)
    head = await repo.head(convo.id)
    assert head is not None
    assert (head.id, head.state) == (one.id, DELIVERING)
    assert not await repo.claim(one.id)  # claimed once only
    assert not await repo.claim(two.id + 1000)


async def test_due_conversations_respect_order_and_backoff(
    repo: InboxRepository,
    conversations: ConversationRepository,
    convo: Conversation,
    alice: User,
) -> None:
    other = await conversations.create(alice.id, "s2", title="t")
    now = utcnow()
    first = await repo.add(alice.id, convo.id, "s1", "a", max_open=10)
    await repo.add(alice.id, convo.id, "s1", "b", max_open=10)
    await repo.add(alice.id, other.id, "s2", "c", max_open=10)
    assert await repo.due_conversations(now + timedelta(seconds=1)) == [convo.id, other.id]
    assert await repo.due_conversations(now, exclude=[convo.id]) == [other.id]
    assert await repo.due_conversations(now, limit=1) == [convo.id]

    # The head waits out a backoff: its session is not due, even though "b" never was tried.
    assert await repo.claim(first.id)
    later = utcnow() + timedelta(seconds=30)
    await repo.retry_later(first.id, attempts=1, error="provider_error: boom", at=later)
    assert await repo.due_conversations(utcnow()) == [other.id]
    assert await repo.next_retry_at(utcnow()) == later
    assert await repo.due_conversations(later) == [convo.id, other.id]
    (retried, *_) = await repo.list(alice.id, states=(QUEUED,))
    assert (retried.attempts, retried.last_error) == (1, "provider_error: boom")
    assert retried.next_attempt_at == later


async def test_a_delivering_head_blocks_its_session(
    repo: InboxRepository, convo: Conversation
) -> None:
    first = await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    await repo.add(convo.user_id, convo.id, "s1", "b", max_open=10)
    assert await repo.claim(first.id)
    assert await repo.due_conversations(utcnow()) == []


async def test_requeue_puts_interrupted_deliveries_back(
    repo: InboxRepository, conversations: ConversationRepository, convo: Conversation
) -> None:
    other = await conversations.create(convo.user_id, "s2", title="t")
    one = await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    two = await repo.add(convo.user_id, other.id, "s2", "b", max_open=10)
    assert await repo.claim(one.id)
    assert await repo.claim(two.id)
    assert await repo.requeue(exclude=[other.id]) == 1
    states = {i.id: i.state for i in await repo.list(convo.user_id, states=(QUEUED, DELIVERING))}
    assert states == {one.id: QUEUED, two.id: DELIVERING}
    assert await repo.requeue(item_id=two.id) == 1
    assert await repo.requeue() == 0


async def test_delete_only_in_the_given_states(
    repo: InboxRepository, convo: Conversation, bob: User
) -> None:
    one = await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    two = await repo.add(convo.user_id, convo.id, "s1", "b", max_open=10)
    assert await repo.claim(one.id)
    assert await repo.delete(bob.id, two.id, states=(QUEUED,)) is None  # not bob's
    assert await repo.delete(convo.user_id, one.id, states=(QUEUED,)) == DELIVERING
    assert await repo.delete(convo.user_id, two.id, states=(QUEUED,)) == QUEUED
    assert await repo.delete(convo.user_id, two.id, states=(QUEUED,)) is None
    assert [i.id for i in await repo.list(convo.user_id, states=(QUEUED, DELIVERING))] == [one.id]


async def test_ids_are_never_reused(repo: InboxRepository, convo: Conversation) -> None:
    one = await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    await repo.delete(convo.user_id, one.id, states=(QUEUED,))
    two = await repo.add(convo.user_id, convo.id, "s1", "b", max_open=10)
    assert two.id > one.id  # messages carry inbox ids: a reused one would look answered


async def test_user_message_is_stored_once_per_inbox_id(
    repo: InboxRepository, messages: MessageRepository, convo: Conversation
) -> None:
    item = await repo.add(convo.user_id, convo.id, "s1", "hello", max_open=10)
    first = await messages.append(
        convo.user_id, convo.id, role="user", content="hello", inbox_id=item.id
    )
    again = await messages.append(
        convo.user_id, convo.id, role="user", content="hello", inbox_id=item.id
    )
    assert again == first
    assert first.inbox_id == item.id
    assert [m.content for m in await messages.list(convo.user_id, convo.id)] == ["hello"]


async def test_the_reply_completes_the_item_in_its_transaction(
    db: Database, repo: InboxRepository, messages: MessageRepository, convo: Conversation
) -> None:
    item = await repo.add(convo.user_id, convo.id, "s1", "hello", max_open=10)
    assert await repo.claim(item.id)
    await messages.append(convo.user_id, convo.id, role="user", content="hello", inbox_id=item.id)
    reply = await messages.append(
        convo.user_id, convo.id, role="assistant", content="hi", inbox_id=item.id
    )
    again = await messages.append(
        convo.user_id, convo.id, role="assistant", content="hi again", inbox_id=item.id
    )
    assert again == reply  # answered once, however often the append is repeated
    assert await repo.list(convo.user_id, states=(QUEUED, DELIVERING, FAILED)) == []
    async with db.read() as conn:
        state = await conn.scalar(select(inbox_table.c.state).where(inbox_table.c.id == item.id))
    assert state == DONE
    assert await repo.head(convo.id) is None


async def test_an_error_reply_marks_the_item_failed(
    repo: InboxRepository, messages: MessageRepository, convo: Conversation
) -> None:
    item = await repo.add(convo.user_id, convo.id, "s1", "hello", max_open=10)
    await messages.append(
        convo.user_id, convo.id, role="assistant", content="", error="boom", inbox_id=item.id
    )
    (failed,) = await repo.list(convo.user_id, states=(FAILED,))
    assert (failed.id, failed.last_error) == (item.id, "boom")


async def test_deleting_the_conversation_takes_its_queue(
    repo: InboxRepository, conversations: ConversationRepository, convo: Conversation
) -> None:
    await repo.add(convo.user_id, convo.id, "s1", "a", max_open=10)
    assert await conversations.delete(convo.user_id, "s1")
    assert await repo.list(convo.user_id, states=(QUEUED,)) == []


async def test_downgrade_to_0003_and_back_keeps_messages(
    db: Database, messages: MessageRepository, convo: Conversation
) -> None:
    await messages.append(convo.user_id, convo.id, role="user", content="kept")

    def shape(conn: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(conn)
        columns = {c["name"] for c in inspector.get_columns("messages")}
        return set(inspector.get_table_names()), columns

    async with db.write() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
        tables, columns = await conn.run_sync(shape)
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
    assert "inbox" not in tables
    assert "inbox_id" not in columns
    assert [m.content for m in await messages.list(convo.user_id, convo.id)] == ["kept"]
