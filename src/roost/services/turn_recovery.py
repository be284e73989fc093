"""Turns whose process died before their answer: each gets one recorded "interrupted" error.

A turn stores the user message, then the reply; a crash (kill -9, power loss) in between
leaves a question with no answer, which a client polling for the reply would wait on
forever. Recording an "interrupted" error as that reply keeps the rule that every stored
user message has exactly one answer or one recorded error. Turns are not re-run (the
client saw its request fail and decides; queued inbox messages are re-run by the inbox).

- Alone with its database (SQLite): one process runs every turn, so at start, before any
  turn runs, every unanswered user message is such a turn.
- Replicas sharing PostgreSQL: another replica may be mid-turn right now. A turn counts as
  dead once the lease on its conversation is free (its replica stopped renewing it), and
  it is settled while holding that lease and this process's lock on the conversation, so
  no turn can start there meanwhile. At start every conversation is looked at; after
  that, a sweep every lease period looks at those with user messages newer than the last
  sweep but one, and at those it found busy before.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable

from roost.services.leases import LeaseService
from roost.services.sweeper import Sweeper
from roost.storage.messages import MessageRepository

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the server stopped before this message was answered"


LEASE_PREFIX = "conversation:"


def lease_name(conversation_id: int) -> str:
    return f"{LEASE_PREFIX}{conversation_id}"


def _report(settled: int) -> None:
    if settled:
        log.warning("%d turns cut by a stopped replica recorded as failed", settled)


class TurnRecovery:
    def __init__(
        self,
        messages: MessageRepository,
        leases: LeaseService | None,
        lock_for: Callable[[int], asyncio.Lock],
        *,
        shared: bool,
        on_interrupted: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> None:
        # Told (user id, conversation id) after each interrupted turn is recorded: its
        # stream, if any, ends with the same error.
        self._on_interrupted = on_interrupted
        self._messages = messages
        self._leases = leases if shared else None  # None: alone with the database
        self._lock_for = lock_for
        self._watched: set[int] = set()  # unanswered, but a turn held them at the last look
        self._seen = (0, 0)  # the newest message id looked at, two sweeps ago and last
        self._sweeper = Sweeper("turn-sweep", self.sweep, _report)

    async def at_start(self) -> int:
        """Settle what crashed turns left; then, with replicas, keep sweeping."""
        if self._leases is None:
            found = await self._messages.unanswered()
            for user_id, conversation_id in found:
                await self._interrupt(user_id, conversation_id)
            if found:
                log.warning("%d turns cut by the last shutdown recorded as failed", len(found))
            return len(found)
        newest = await self._messages.newest_id()
        self._seen = (newest, newest)
        settled = await self._settle(await self._messages.unanswered())
        self._sweeper.start(self._leases.seconds)
        return settled

    async def sweep(self) -> int:
        """One look at the conversations written since the last one, and the busy ones."""
        # From the id seen two sweeps ago: a message whose insert committed after a newer
        # id's (replicas insert concurrently) is still looked at, one sweep later.
        newest, asked = await self._messages.asked_after(self._seen[0])
        self._seen = (self._seen[1], newest)
        candidates = self._watched | asked
        self._watched = set()
        if not candidates:
            return 0
        return await self._settle(await self._messages.unanswered(among=candidates))

    async def close(self) -> None:
        await self._sweeper.close()

    async def _settle(self, found: builtins.list[tuple[str, int]]) -> int:
        assert self._leases is not None
        settled = 0
        for user_id, conversation_id in found:
            lock = self._lock_for(conversation_id)
            if lock.locked():  # a turn runs here: it answers
                self._watched.add(conversation_id)
                continue
            async with lock:
                lease = await self._leases.try_acquire(lease_name(conversation_id))
                if lease is None:  # a turn runs on another replica, or its lease is young
                    self._watched.add(conversation_id)
                    continue
                try:  # still unanswered now that no turn can start here?
                    if await self._messages.unanswered(among={conversation_id}):
                        await self._interrupt(user_id, conversation_id)
                        settled += 1
                finally:
                    await lease.release()
        return settled

    async def _interrupt(self, user_id: str, conversation_id: int) -> None:
        await self._messages.append(
            user_id, conversation_id, role="assistant", content="", error=INTERRUPTED
        )
        if self._on_interrupted is not None:
            await self._on_interrupted(user_id, conversation_id)
