"""ResponseRepository: owner scoping, finishing once, deleting, the conversation's cascade."""

from __future__ import annotations

from roost.core.clock import utcnow
from roost.core.records import TokenUsage, User
from roost.core.responses import StoredResponse
from roost.storage import ConversationRepository, Database, MessageRepository
from roost.storage.responses import ResponseRepository


async def _response(
    db: Database, conversations: ConversationRepository, user: User, rid: str, public_id: str
) -> StoredResponse:
    conversation = await conversations.get(user.id, public_id) or await conversations.create(
        user.id, public_id, title="t"
    )
    record = StoredResponse(
        id=rid,
        user_id=user.id,
        conversation_id=conversation.id,
        session_id=public_id,
        input_seq=1,
        model="m",
        status="in_progress",
        created_at=utcnow(),
        params={"instructions": "Be brief.", "tools": [{"type": "function", "name": "f"}]},
        previous_response_id=None,
    )
    return await ResponseRepository(db).create(record)


async def test_create_get_finish(
    db: Database, conversations: ConversationRepository, messages: MessageRepository, alice: User
) -> None:
    repo = ResponseRepository(db)
    made = await _response(db, conversations, alice, "resp_a", "conv-1")
    got = await repo.get(alice.id, "resp_a")
    assert got is not None
    assert got.params == made.params
    assert (got.status, got.session_id, got.usage, got.error) == (
        "in_progress",
        "conv-1",
        None,
        None,
    )
    assert got.created_at.tzinfo is not None
    reply = await messages.append(alice.id, made.conversation_id, role="assistant", content="hi")
    done = utcnow()
    await repo.finish(
        alice.id,
        "resp_a",
        status="completed",
        reply_message_id=reply.id,
        usage=TokenUsage(5, 2),
        error=None,
        incomplete_reason=None,
        completed_at=done,
    )
    got = await repo.get(alice.id, "resp_a")
    assert got is not None
    assert (got.status, got.reply_message_id, got.usage) == (
        "completed",
        reply.id,
        TokenUsage(5, 2),
    )
    assert got.completed_at == done
    # Finished is final: a second finish changes nothing.
    await repo.finish(
        alice.id,
        "resp_a",
        status="failed",
        reply_message_id=None,
        usage=None,
        error={"code": "x", "message": "y"},
        incomplete_reason=None,
        completed_at=utcnow(),
    )
    again = await repo.get(alice.id, "resp_a")
    assert again is not None
    assert again.status == "completed"
    assert again.error is None


async def test_owner_scoping(
    db: Database, conversations: ConversationRepository, alice: User, bob: User
) -> None:
    repo = ResponseRepository(db)
    await _response(db, conversations, alice, "resp_a", "conv-1")
    assert await repo.get(bob.id, "resp_a") is None
    assert await repo.delete(bob.id, "resp_a") is None
    await repo.finish(
        bob.id,
        "resp_a",
        status="failed",
        reply_message_id=None,
        usage=None,
        error=None,
        incomplete_reason=None,
        completed_at=utcnow(),
    )
    got = await repo.get(alice.id, "resp_a")
    assert got is not None
    assert got.status == "in_progress"


async def test_delete_counts_what_is_left(
    db: Database, conversations: ConversationRepository, alice: User
) -> None:
    repo = ResponseRepository(db)
    await _response(db, conversations, alice, "resp_a", "conv-1")
    await _response(db, conversations, alice, "resp_b", "conv-1")
    assert await repo.delete(alice.id, "resp_a") == ("conv-1", 1)
    assert await repo.get(alice.id, "resp_a") is None
    assert await repo.delete(alice.id, "resp_b") == ("conv-1", 0)
    assert await repo.delete(alice.id, "resp_b") is None


async def test_deleting_the_conversation_deletes_its_responses(
    db: Database, conversations: ConversationRepository, alice: User
) -> None:
    repo = ResponseRepository(db)
    await _response(db, conversations, alice, "resp_a", "conv-1")
    assert await conversations.delete(alice.id, "conv-1")
    assert await repo.get(alice.id, "resp_a") is None
