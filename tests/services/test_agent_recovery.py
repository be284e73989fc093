"""Replicas on PostgreSQL: an agent message whose turn a stopped replica cut is answered
once, by a survivor, after that replica's lease on the agent expires. A turn running on a
live replica, and a turn that failed (its lease was released), are left alone.

(Alone with SQLite, tests/api/test_memgpt_faults.py covers the answer at start.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from roost.core.agents import NewAgentMessage
from roost.core.errors import ProviderError
from roost.core.records import User
from roost.services.agents import packing
from roost.services.agents.recovery import lease_name
from roost.services.leases import LeaseService
from roost.storage.leases import LeaseRepository
from tests import backend
from tests.api.memgpt_helpers import new_agent, say
from tests.conftest import Env, Scripts, make_settings, running

pytestmark = pytest.mark.skipif(
    not backend.ON_POSTGRES,
    reason="replicas share PostgreSQL; on SQLite one process runs every turn and answers "
    "what a crash cut at start",
)

LEASE = 0.6  # seconds: sweeps run this often


async def roles(env: Env, user: User, agent_id: str) -> list[str]:
    agent = await env.services.agents.get(user, agent_id)
    found = await env.services.agents._store.messages.newest(agent, limit=50)
    return [m.role for m in reversed(found or [])]


async def ask(env: Env, user: User, agent_id: str, text: str) -> None:
    """Store a user message as a turn does, without running the turn."""
    agent = await env.services.agents.get(user, agent_id)
    packed = packing.user_message(text, agent.created_at)
    message = NewAgentMessage("user", packed, str(uuid.uuid4()))
    await env.services.agents._store.messages.append(agent, [message], ran_at=agent.created_at)


async def test_a_cut_agent_turn_is_answered_once_by_a_survivor(home: Path) -> None:
    settings = make_settings(home, ROOST_QUEUE_LEASE_SECONDS=str(LEASE))
    settings.memory.watch = False
    settings.agents.model = "scripted"
    scripts = Scripts()
    async with running(settings, scripts) as env:
        user = env.services.auth.default_user
        database = env.services.database
        dead, live, failed = [await new_agent(env.client) for _ in range(3)]
        base = {a: len(await roles(env, user, a)) for a in (dead, live, failed)}

        # A turn that failed here released its lease: nobody runs it again.
        scripts.queue.append([ProviderError("model down")])
        answer = await env.client.post(f"/api/agents/{failed}/messages", json={"message": "a"})
        assert answer.status_code == 502
        # A replica killed mid-turn: its lease row lives on, unrenewed, until it expires.
        agent = await env.services.agents.get(user, dead)
        await LeaseRepository(database).acquire(lease_name(agent), "gone:1#dead", 1.5)
        await ask(env, user, dead, "cut by a crash")
        # A live replica mid-turn, renewing its lease.
        other = LeaseService(LeaseRepository(database), LEASE, replica="other:1")
        await other.start()
        held = await other.acquire(lease_name(await env.services.agents.get(user, live)))
        await ask(env, user, live, "still being answered")

        scripts.queue.append(say("Sorry, I was away."))
        deadline = time.monotonic() + 20
        while len(await roles(env, user, dead)) < base[dead] + 3:
            assert time.monotonic() < deadline, "the dead replica's agent turn was never run"
            await asyncio.sleep(0.1)
        await env.services.agents.drain(10)
        assert (await roles(env, user, dead))[base[dead] :] == ["user", "assistant", "tool"]
        assert scripts.queue == []

        await held.release()  # the live replica's turn ends (here: it failed) and lets go
        await other.close()
        await asyncio.sleep(LEASE * 4)  # several sweeps
        assert (await roles(env, user, dead))[base[dead] :] == ["user", "assistant", "tool"]
        assert (await roles(env, user, live))[base[live] :] == ["user"]
        assert (await roles(env, user, failed))[base[failed] :] == ["user"]
