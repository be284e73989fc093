"""Agent storage on SQLite and PostgreSQL: ownership, cascades, archival keyword search,
recall pages and search, library items."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roost.core.agents import Agent, NewAgentMessage
from roost.core.clock import utcnow
from roost.core.errors import Conflict
from roost.core.ids import new_uuid
from roost.core.records import User
from roost.storage import Database, UserRepository
from roost.storage.agent_library import LibraryRepository
from roost.storage.agent_messages import AgentMessageRepository
from roost.storage.agent_passages import PassageRepository
from roost.storage.agents import AgentRepository


async def _agent(repo: AgentRepository, user: User, name: str = "a") -> Agent:
    return await repo.create(
        user.id,
        name=name,
        preset="memgpt_chat",
        model=None,
        system="sys",
        persona="I am Sam.",
        human="Chad",
        persona_name="sam_pov",
        human_name=None,
        tools=["send_message"],
        meta={"k": 1},
    )


async def test_agents_are_owned(db: Database, alice: User, bob: User) -> None:
    repo = AgentRepository(db)
    agent = await _agent(repo, alice)
    assert await repo.get(alice.id, agent.id) == agent
    assert await repo.get(bob.id, agent.id) is None
    assert await repo.update(bob.id, agent.id, name="x") is None
    assert not await repo.delete(bob.id, agent.id)
    assert [a.id for a in await repo.list(bob.id, limit=10)] == []
    renamed = await repo.update(alice.id, agent.id, name="b", persona="new")
    assert renamed is not None
    assert (renamed.name, renamed.persona, renamed.meta) == ("b", "new", {"k": 1})
    assert await repo.count(alice.id) == 1


async def test_passages_search_and_cascade(
    db: Database, alice: User, users: UserRepository
) -> None:
    agents, passages = AgentRepository(db), PassageRepository(db)
    first, second = await _agent(agents, alice), await _agent(agents, alice, "b")
    await passages.insert(first, ["Chad's boat is called Wavelength", "Chad drinks green tea"])
    await passages.insert(second, ["another boat entirely"])
    found, total = await passages.search(first, "boat's name?", offset=0, limit=5)
    assert [p.text for p in found] == ["Chad's boat is called Wavelength"]
    assert total == 1
    assert found[0].created_at.tzinfo is not None
    assert (await passages.search(first, "!!!", offset=0, limit=5)) == ([], 0)
    page = await passages.list(first, after=None, before=None, limit=10)
    assert page is not None
    assert await passages.list(first, after=new_uuid(), before=None, limit=10) is None
    assert await passages.list(second, after=page[0].id, before=None, limit=10) is None
    assert not await passages.delete(second, page[0].id)  # another agent's passage
    assert await passages.delete(first, page[0].id)
    assert (await passages.search(first, "boat", offset=0, limit=5))[1] == 0
    assert await agents.sizes(first) == (0, 1)
    await users.delete(alice.id)  # the user's agents and their rows go with them
    assert await agents.sizes_many([first.key, second.key]) == {
        first.key: (0, 0),
        second.key: (0, 0),
    }


async def test_messages_window_pages_and_search(db: Database, alice: User) -> None:
    agents, messages = AgentRepository(db), AgentMessageRepository(db)
    agent = await _agent(agents, alice)
    await messages.append(
        agent,
        [
            NewAgentMessage("user" if i % 2 == 0 else "assistant", f"m{i} 50%_off", new_uuid())
            for i in range(6)
        ],
    )
    every = await messages.newest(agent, limit=10)
    assert every is not None
    stored = every[::-1]
    assert [m.text[:2] for m in stored] == ["m0", "m1", "m2", "m3", "m4", "m5"]
    newest = await messages.newest(agent, limit=2, offset=1)
    assert newest is not None
    assert [m.text[:2] for m in newest] == ["m4", "m3"]
    before = await messages.newest(agent, limit=10, before=stored[2].id)
    assert before is not None
    assert [m.text[:2] for m in before] == ["m1", "m0"]
    moved = await agents.update(alice.id, agent.id, context_from=stored[4].seq)
    assert moved is not None
    window, recall, archival = await messages.window(moved, 100)
    assert [m.text[:2] for m in window] == ["m4", "m5"]
    assert (recall, archival) == (6, 0)
    found, total = await messages.search(agent, text="50%_OFF", offset=2, limit=2)
    assert total == 6
    assert [m.text[:2] for m in found] == ["m2", "m3"]
    assert (await messages.search(agent, text="5x%", offset=0, limit=5))[1] == 0  # % is literal
    tomorrow = utcnow() + timedelta(days=1)
    assert (await messages.search(agent, start=tomorrow, offset=0, limit=5))[1] == 0


async def test_library_items(db: Database, alice: User, bob: User) -> None:
    library = LibraryRepository(db)
    item = await library.put(alice.id, "human", "ada", {"text": "A"}, replace=False)
    with pytest.raises(Conflict):
        await library.put(alice.id, "human", "ada", {"text": "B"}, replace=False)
    replaced = await library.put(alice.id, "human", "ada", {"text": "B"}, replace=True)
    assert (replaced.id, replaced.data) == (item.id, {"text": "B"})
    assert await library.get(bob.id, "human", "ada") is None
    assert await library.delete(bob.id, "human", item.id) is None
    assert await library.count(alice.id, "human") == 1
    deleted = await library.delete(alice.id, "human", item.id)
    assert deleted is not None
    assert await library.list(alice.id, "human", limit=10) == []
