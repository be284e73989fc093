"""Agent messages a stopped server left unanswered: each is answered once, later.

An agent turn stores the user's message, then its steps. A crash (kill -9, power loss) or
a shutdown that cut the turn before its first step was stored leaves that message as the
agent's newest; it is answered again, once, as if it had just arrived. Nothing of the cut
turn was stored, so nothing is answered twice. (A turn cut after its first step is not
continued: docs/reliability.md.)

- Alone with its database (SQLite): one process runs every turn, so at start, before any
  turn runs, every agent whose newest message is the user's is such a turn. A turn that
  failed (model down) looks the same and is tried once more.
- Replicas sharing PostgreSQL: another replica may be mid-turn right now. A turn holds
  the agent's lease from before it stores the message until it ends, and releases it
  then, failed or not; a lease left to expire is what a dead (or stopped) holder leaves.
  So at start, and every lease period after, the expired `agent:` leases are taken over,
  and the agent's newest message, if it is the user's, is answered under that lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from roost.core.agents import Agent
from roost.services.agents import packing
from roost.services.agents.store import AgentStore
from roost.services.leases import Lease, LeaseService
from roost.services.sweeper import Sweeper

log = logging.getLogger(__name__)

PREFIX = "agent:"
WAITING = ("user_message", "system_alert")  # not a login or a heartbeat: the user waits

# Runs the agent's newest message again, holding its local lock and lease (None: alone),
# which the turn releases when it ends; False (nothing started) when its model is gone.
Rerun = Callable[[Agent, asyncio.Lock, Lease | None], Awaitable[bool]]


def lease_name(agent: Agent) -> str:
    return f"{PREFIX}{agent.key}"


class AgentRecovery:
    def __init__(
        self,
        store: AgentStore,
        lock_for: Callable[[Agent], asyncio.Lock],
        rerun: Rerun,
        leases: LeaseService | None,
        *,
        shared: bool,
    ) -> None:
        self._store = store
        self._lock_for = lock_for
        self._rerun = rerun
        self._leases = leases if shared else None  # None: alone with the database
        self._sweeper = Sweeper(
            "agent-sweep",
            self.sweep,
            lambda resumed: self._report(resumed, "a stopped replica cut their turn"),
        )

    async def at_start(self) -> int:
        if self._leases is None:
            resumed = 0
            for user_id, agent_id, text in await self._store.messages.newest_from_user():
                agent = await self._store.agents.get(user_id, agent_id)
                if agent is None or packing.kind(text) not in WAITING:
                    continue
                lock = self._lock_for(agent)
                await lock.acquire()  # free: no turn has run yet
                if await self._rerun(agent, lock, None):
                    resumed += 1
                else:
                    lock.release()
            # Alone, a turn cut by the last stop and one that failed (its model was down)
            # leave the same trace; each rerun's outcome is logged when it ends.
            self._report(resumed, "their turn was cut by the last stop, or failed")
            return resumed
        resumed = await self.sweep()
        self._sweeper.start(self._leases.seconds)
        return resumed

    async def sweep(self) -> int:
        """Take over the agents' expired leases; answer what their holders left."""
        assert self._leases is not None
        resumed = 0
        for name in await self._leases.expired(PREFIX):
            resumed += await self._take_over(name)
        return resumed

    async def close(self) -> None:
        await self._sweeper.close()

    async def _take_over(self, name: str) -> bool:
        assert self._leases is not None
        agent = None
        with contextlib.suppress(ValueError):
            agent = await self._store.agents.by_key(int(name.removeprefix(PREFIX)))
        if agent is None:  # deleted since: drop the lease row
            lease = await self._leases.try_acquire(name)
            if lease is not None:
                await lease.release()
            return False
        lock = self._lock_for(agent)
        if lock.locked():  # a turn runs here (and holds the lease by now)
            return False
        async with contextlib.AsyncExitStack() as undo:
            await lock.acquire()
            undo.callback(lock.release)
            lease = await self._leases.try_acquire(name)
            if lease is None:  # another replica took it first
                return False
            undo.push_async_callback(lease.release)
            if await self._waiting(agent) and await self._rerun(agent, lock, lease):
                undo.pop_all()  # the turn releases both when it ends
                return True
        return False

    async def _waiting(self, agent: Agent) -> bool:
        newest = await self._store.messages.newest(agent, limit=1)
        if not newest or newest[0].role != "user":
            return False
        return packing.kind(newest[0].text) in WAITING

    @staticmethod
    def _report(resumed: int, cause: str) -> None:
        if resumed:
            log.warning("agents: %d messages left unanswered (%s): trying again", resumed, cause)
