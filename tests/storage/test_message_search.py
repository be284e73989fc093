"""MessageSearch on SQLite (FTS5) and PostgreSQL (tsvector): words, owners, roles, deletes."""

from __future__ import annotations

from roost.core.records import User
from roost.storage import ConversationRepository, Database, MessageRepository
from roost.storage.message_search import MessageSearch


async def test_search_matches_words_for_the_owner_only(
    db: Database,
    conversations: ConversationRepository,
    messages: MessageRepository,
    alice: User,
    bob: User,
) -> None:
    mine = await conversations.create(alice.id, "a1", title="Trip")
    theirs = await conversations.create(bob.id, "b1", title="Bob's")
    await messages.append(
        alice.id, mine.id, role="user", content="Flights to Lisbon, e-mail me@example.com"
    )
    await messages.append(alice.id, mine.id, role="assistant", content="Lisbon is lovely. Lisbon!")
    await messages.append(alice.id, mine.id, role="tool", content="lisbon tool output")
    await messages.append(bob.id, theirs.id, role="user", content="Lisbon for Bob")
    search = MessageSearch(db)
    hits = await search.search(alice.id, "LISBON", 10)
    assert {(h.session_id, h.role, h.title) for h in hits} == {
        ("a1", "user", "Trip"),
        ("a1", "assistant", "Trip"),
    }
    assert hits[0].role == "assistant"  # two occurrences rank first
    assert hits[0].created_at.tzinfo is not None
    assert [h.seq for h in await search.search(alice.id, "example", 10)] == [1]
    assert await search.search(alice.id, "lisbon", 1) != []
    assert len(await search.search(alice.id, "lisbon", 1)) == 1
    assert await search.search(alice.id, "' OR 1=1 --", 10) == []
    assert await search.search(alice.id, "***", 10) == []
    assert await search.search(alice.id, "lisbon", 0) == []
    assert [h.session_id for h in await search.search(bob.id, "lisbon", 10)] == ["b1"]
    await conversations.delete(alice.id, "a1")
    assert await search.search(alice.id, "lisbon", 10) == []
