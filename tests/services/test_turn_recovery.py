"""Replicas on PostgreSQL: a turn whose replica died gets one "interrupted" answer once its
conversation lease expires; turns running here or on a live replica are left alone.

(At start, alone with SQLite or not, tests/services/test_turns.py covers recovery.)
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from roost.core.events import TurnDone
from roost.core.records import User
from roost.providers.base import TextChunk
from roost.providers.scripted import reply
from roost.services.leases import LeaseService
from roost.services.turn_recovery import INTERRUPTED
from roost.storage.leases import LeaseRepository
from roost.storage.messages import MessageRepository
from tests import backend
from tests.conftest import Env, Scripts, make_settings, running

pytestmark = pytest.mark.skipif(
    not backend.ON_POSTGRES,
    reason="replicas share PostgreSQL; on SQLite one process runs every turn and recovers "
    "them at start",
)

LEASE = 0.6  # seconds: sweeps run this often


async def rows(env: Env, user: User, session_id: str) -> list[tuple[str, str, str | None]]:
    _, found = await env.services.conversations.with_messages(user, session_id)
    return [(m.role, m.content, m.error) for m in found]


async def test_a_turn_a_stopped_replica_left_is_answered_once_as_interrupted(home: Path) -> None:
    settings = make_settings(home, ROOST_QUEUE_LEASE_SECONDS=str(LEASE))
    settings.default_model = "scripted"
    scripts = Scripts()
    async with running(settings, scripts) as env:
        user = env.services.auth.default_user
        database = env.services.database
        messages = MessageRepository(database)
        dead = await env.services.conversations.create(user)
        live = await env.services.conversations.create(user)
        here = await env.services.conversations.create(user)

        # A replica killed mid-turn: its lease row lives on until it expires, unrenewed.
        await LeaseRepository(database).acquire(f"conversation:{dead.id}", "gone:1#dead", 1.5)
        await messages.append(user.id, dead.id, role="user", content="cut by a crash")
        # A live replica mid-turn, renewing its lease.
        other = LeaseService(LeaseRepository(database), LEASE, replica="other:1")
        await other.start()
        held = await other.acquire(f"conversation:{live.id}")
        await messages.append(user.id, live.id, role="user", content="still being answered")
        # A slow turn in this process.
        scripts.queue.append([TextChunk("slow"), 3.0, *reply(" answer")])
        slow = await env.services.turns.start(user, "take your time", session_id=here.public_id)

        deadline = time.monotonic() + 20
        while len(await rows(env, user, dead.public_id)) < 2:
            assert time.monotonic() < deadline, "the dead replica's turn was never settled"
            await asyncio.sleep(0.1)
        assert await rows(env, user, dead.public_id) == [
            ("user", "cut by a crash", None),
            ("assistant", "", INTERRUPTED),
        ]
        assert isinstance(await asyncio.wait_for(slow.result(), 20), TurnDone)
        assert await rows(env, user, here.public_id) == [
            ("user", "take your time", None),
            ("assistant", "slow answer", None),
        ]
        assert await rows(env, user, live.public_id) == [("user", "still being answered", None)]

        # The live replica answers and lets go; sweeps after that add nothing.
        await messages.append(user.id, live.id, role="assistant", content="answered there")
        await held.release()
        await other.close()
        await asyncio.sleep(LEASE * 4)
        assert await rows(env, user, live.public_id) == [
            ("user", "still being answered", None),
            ("assistant", "answered there", None),
        ]
        assert len(await rows(env, user, dead.public_id)) == 2  # settled once

        # Both conversations go on as usual.
        again = await env.services.turns.start(user, "again", session_id=dead.public_id)
        assert isinstance(await asyncio.wait_for(again.result(), 10), TurnDone)
        assert (await rows(env, user, dead.public_id))[-1] == ("assistant", "you said: again", None)
