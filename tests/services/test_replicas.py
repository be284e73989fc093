"""Two replicas in one test process, sharing one database (a SQLite file, and PostgreSQL
when ROOST_TEST_DATABASE_URL is set): the database leases keep one turn per conversation
and agent, one heartbeat per user, and a dead replica's lease is taken over on expiry.

Each replica is a whole app (its own Database, services and in-process locks), so nothing
but the database connects them. tests/e2e/test_replicas.py does the same with processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from roost.config import Settings
from roost.core.records import User
from roost.providers.base import ChatRequest
from roost.providers.scripted import Script, reply
from roost.services.agents import AgentBusy
from roost.services.agents.service import AgentConfig
from roost.storage.leases import LeaseRepository
from tests.conftest import Env, Scripts, free_port, make_settings, running
from tests.storage.conftest import _admin, _plain_dsn, _run, pg_url  # noqa: F401

LEASE_SECONDS = 1.0


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    url: str = request.getfixturevalue("pg_url")
    _run(_admin(_plain_dsn(url), "DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return url


def replica_settings(home: Path, url: str) -> Settings:
    settings = make_settings(home)
    settings.default_model = "scripted"
    settings.database_url = url
    settings.server.port = free_port()  # each replica is its own host:port
    settings.queue.lease_seconds = LEASE_SECONDS
    settings.memory.watch = False
    return settings


@dataclass
class Gauge:
    """Counts the model calls in flight at once, across both replicas."""

    now: int = 0
    most: int = 0


class GaugedScripts(Scripts):
    def __init__(self, gauge: Gauge, delay: float) -> None:
        super().__init__()
        self.gauge = gauge
        self.delay = delay

    def __call__(self, request: ChatRequest) -> Script:
        if self.queue:
            return self.queue.pop(0)
        return _Gauged(self.gauge, self.delay, reply(f"re: {request.messages[-1].content}"))


class _Gauged(list):  # type: ignore[type-arg]
    """A script whose iteration marks the call as running until its last event."""

    def __init__(self, gauge: Gauge, delay: float, events: Script) -> None:
        super().__init__([delay, *events])
        self.gauge = gauge

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.gauge.now += 1
        self.gauge.most = max(self.gauge.most, self.gauge.now)
        try:
            yield from super().__iter__()
        finally:
            self.gauge.now -= 1


@pytest.fixture
async def pair(tmp_path: Path, shared_url: str) -> AsyncIterator[tuple[Env, Env, Gauge]]:
    gauge = Gauge()
    async with AsyncExitStack() as stack:
        envs = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            settings = replica_settings(home, shared_url)
            envs.append(
                await stack.enter_async_context(
                    running(settings, scripts=GaugedScripts(gauge, 0.05))
                )
            )
        yield envs[0], envs[1], gauge


async def _user(env: Env) -> User:
    return env.services.auth.default_user


async def test_two_replicas_never_run_two_turns_of_one_conversation_at_once(
    pair: tuple[Env, Env, Gauge],
) -> None:
    a, b, gauge = pair
    user = await _user(a)
    first = await a.services.turns.start(user, "m0", session_id="shared", create_session=True)
    await first.result()

    async def turn(env: Env, n: int) -> None:
        handle = await env.services.turns.start(user, f"m{n}", session_id="shared")
        await handle.result()

    await asyncio.gather(*(turn(a if n % 2 else b, n) for n in range(1, 9)))
    assert gauge.most == 1  # the two processes took turns
    _, stored = await b.services.conversations.with_messages(user, "shared")
    roles = [m.role for m in stored]
    assert roles == ["user", "assistant"] * 9  # each answer follows its own question
    for question, answer in zip(stored[::2], stored[1::2], strict=True):
        assert answer.content == f"re: {question.content}"
    assert sorted(q.content for q in stored[::2]) == sorted(f"m{n}" for n in range(9))


async def test_different_conversations_still_run_in_parallel(
    pair: tuple[Env, Env, Gauge],
) -> None:
    a, b, gauge = pair
    for env in (a, b):
        assert isinstance(env.scripts, GaugedScripts)
        env.scripts.delay = 1.0  # long enough for both to be running at once
    user = await _user(a)
    handles = [
        await a.services.turns.start(user, "x", session_id="one", create_session=True),
        await b.services.turns.start(user, "y", session_id="two", create_session=True),
    ]
    await asyncio.gather(*(h.result() for h in handles))
    assert gauge.most == 2


async def test_a_dead_replicas_lease_is_taken_over_when_it_expires(
    pair: tuple[Env, Env, Gauge],
) -> None:
    a, _b, _ = pair
    user = await _user(a)
    conversation = await a.services.conversations.get_or_create(user, "orphaned")
    repo = LeaseRepository(a.services.database)
    # A replica that died mid-turn: its lease stays until it runs out.
    assert await repo.acquire(f"conversation:{conversation.id}", "dead:1#x", LEASE_SECONDS)
    assert await a.services.turns.conversation_busy_anywhere(conversation.id)
    started = time.monotonic()
    handle = await a.services.turns.start(user, "anyone there?", session_id="orphaned")
    waited = time.monotonic() - started
    final = await handle.result()
    assert final.message.content == "re: anyone there?"  # type: ignore[union-attr]
    assert waited >= LEASE_SECONDS * 0.5  # it did wait for the lease, not run beside it
    assert not await a.services.turns.conversation_busy_anywhere(conversation.id)


async def test_an_agent_busy_on_another_replica(pair: tuple[Env, Env, Gauge]) -> None:
    a, b, _ = pair
    user = await _user(a)
    agent, _preset = await a.services.agents.create(user, AgentConfig(name="shared"))
    repo = LeaseRepository(b.services.database)
    assert await repo.acquire(f"agent:{agent.key}", a.services.leases.holder, 30)
    with pytest.raises(AgentBusy) as refused:
        await b.services.agents.send(user, agent.id, "hello", wait=False)
    assert refused.value.retry is False
    await repo.release(f"agent:{agent.key}", a.services.leases.holder)
    turn = await b.services.agents.send(user, agent.id, "hello", wait=False)
    async for _event in turn.events():
        pass


async def test_a_heartbeat_tick_runs_on_one_replica_per_interval(
    pair: tuple[Env, Env, Gauge],
) -> None:
    a, b, _ = pair
    user = await _user(a)
    await a.services.memory.write_file(user, "HEARTBEAT.md", "- [ ] check the logs\n")
    await b.services.memory.write_file(user, "HEARTBEAT.md", "- [ ] check the logs\n")
    a.scripts.queue.append(reply("HEARTBEAT_OK"))
    b.scripts.queue.append(reply("HEARTBEAT_OK"))
    await asyncio.gather(a.services.heartbeat.tick_all(), b.services.heartbeat.tick_all())
    calls = len(a.provider.requests) + len(b.provider.requests)
    assert calls == 1
    # A manual run is not bound to the interval: it runs on whichever replica is asked.
    b.scripts.queue.append(reply("HEARTBEAT_OK"))
    event = await b.services.heartbeat.tick(user, manual=True)
    assert event.status == "ok"


async def test_an_approval_answered_on_another_replica_reaches_the_waiting_turn(
    pair: tuple[Env, Env, Gauge],
) -> None:
    a, b, _ = pair
    user = await _user(a)
    approvals = a.services.approvals
    first = approvals.open(user, "s1", "call_1", "bash", {"command": "ls"})
    second = approvals.open(user, "s1", "call_2", "bash", {"command": "rm -rf /"})
    waiting = [asyncio.create_task(approvals.wait(x)) for x in (first, second)]
    listed: list[str] = []
    for _ in range(100):  # the waits store them; b sees them once they are stored
        listed = [x.id for x in await b.services.approvals.pending(user)]
        if len(listed) == 2:
            break
        await asyncio.sleep(0.02)
    assert listed == [first.id, second.id]
    # Another user cannot answer it on b either, nor list it.
    bob_key = await b.new_user_key("bob")
    refused = await b.client.post(
        f"/api/approvals/{first.id}", json={"approve": True}, headers={"X-API-Key": bob_key}
    )
    assert refused.status_code == 404
    theirs = await b.client.get("/api/approvals", headers={"X-API-Key": bob_key})
    assert theirs.json()["approvals"] == []
    answered = await b.client.post(f"/api/approvals/{first.id}", json={"approve": True})
    assert answered.json() == {"id": first.id, "approved": True}
    denied = await b.client.post(f"/api/approvals/{second.id}", json={"approve": False})
    assert denied.status_code == 200
    decisions = await asyncio.gather(*waiting)
    assert [(d.approved, d.reason) for d in decisions] == [(True, "approved"), (False, "denied")]
    again = await b.client.post(f"/api/approvals/{first.id}", json={"approve": False})
    assert again.status_code == 404  # answered, and gone once the turn took the answer
    assert await a.services.approvals.pending(user) == []
