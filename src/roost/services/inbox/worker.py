"""The delivery worker: answers queued messages, per session in order, one at a time.

One task per session with work (at most `[queue] max_parallel` at once). A session's
oldest unanswered message is delivered only when no turn runs there (a turn from any API
counts), and nothing after it moves until it is answered or has failed for good.

Exactly once, across crashes: the user message is stored keyed by the inbox id (a retry
finds it), and the reply row carries the inbox id and completes the queued message in the
same transaction (MessageRepository.append). A delivery cut short by a crash is simply run
again after the restart: there is no reply yet, so nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from roost.config import QueueSettings
from roost.core.clock import utcnow
from roost.core.errors import RoostError
from roost.core.events import TurnFailed
from roost.core.metrics import Metrics
from roost.core.records import InboxItem, User
from roost.services.turns import TurnService
from roost.storage.inbox import DELIVERING, InboxRepository
from roost.storage.messages import MessageRepository
from roost.storage.users import UserRepository

log = logging.getLogger(__name__)


def backoff(settings: QueueSettings, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: doubling, capped."""
    return float(min(settings.retry_backoff * 2 ** (attempts - 1), settings.retry_backoff_max))


class InboxWorker:
    def __init__(
        self,
        settings: QueueSettings,
        repo: InboxRepository,
        messages: MessageRepository,
        users: UserRepository,
        turns: TurnService,
        *,
        holder: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`holder`: this replica's lease holder, when replicas share the database; its
        claims then last as long as it holds a live lease (LeaseService)."""
        self._settings = settings
        self._metrics = metrics
        self._holder = holder
        self._last_sweep = 0.0
        self._repo = repo
        self._messages = messages
        self._users = users
        self._turns = turns
        self._wake = asyncio.Event()
        self._sessions: dict[int, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._retry_at: datetime | None = None
        self._users_seen: dict[str, User] = {}

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    def wake(self) -> None:
        """Look at the queue now (a message was queued, or a session freed up)."""
        self._wake.set()

    async def start(self) -> None:
        # Nothing is in flight when the process starts: deliveries that a crash cut short
        # start over (their user message is reused, there is no reply yet). With replicas,
        # only those whose claimer is gone: the others are being delivered right now.
        recovered = await self._repo.requeue(holder=self._holder)
        if recovered:
            log.info("inbox: %d interrupted deliveries queued again", recovered)
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self) -> None:
        """Start no new deliveries; running turns finish in TurnService.drain."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def close(self) -> None:
        """After the turns drained: end the session tasks (they only wait now)."""
        await self.stop()
        tasks = list(self._sessions.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        sweep = True  # the first round also learns when retries from before a restart are due
        while not self._stopping:
            self._wake.clear()
            try:
                await self._schedule(sweep)
            except Exception:  # a database hiccup: the next round tries again
                log.exception("inbox: scheduling failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self._sleep_seconds())
                # Sweep at least every poll interval even when wake-ups never stop: a dead
                # replica's deliveries are found only by the sweep.
                sweep = time.monotonic() - self._last_sweep >= self._settings.poll_interval
            except TimeoutError:
                sweep = True

    def _sleep_seconds(self) -> float:
        seconds = self._settings.poll_interval
        if self._retry_at is not None:
            seconds = min(seconds, (self._retry_at - utcnow()).total_seconds())
        return max(seconds, 0.0)

    async def _schedule(self, sweep: bool) -> None:
        """Start a task for each session whose oldest message is due, oldest first."""
        now = utcnow()
        if sweep:
            # A delivery whose task died halfway (a database error), or whose replica died,
            # would block its session for good; nobody runs it, so it starts over.
            self._last_sweep = time.monotonic()
            if await self._repo.requeue(exclude=list(self._sessions), holder=self._holder):
                log.warning("inbox: abandoned deliveries queued again")
            self._retry_at = await self._repo.next_retry_at(now)
        free = self._settings.max_parallel - len(self._sessions)
        if free <= 0 or self._stopping:
            return  # a session task that ends wakes us
        if self._retry_at is not None and self._retry_at <= now:
            self._retry_at = await self._repo.next_retry_at(now)
        due = await self._repo.due_conversations(now, exclude=list(self._sessions), limit=free)
        for conversation_id in due:
            task = asyncio.create_task(self._session(conversation_id))
            self._sessions[conversation_id] = task

    async def _session(self, conversation_id: int) -> None:
        """Deliver the session's messages in order. When every slot is taken, give the slot
        back after each one: the session whose next message waited longest goes next."""
        try:
            while not self._stopping:
                item = await self._repo.head(conversation_id)
                if item is None:
                    return
                if item.state == DELIVERING and item.claimed_by != self._holder:
                    # Another replica's: it delivers it (and then the rest), unless it died.
                    if not await self._repo.claim(item.id, self._holder):
                        return
                elif item.state == DELIVERING:  # we gave up on it halfway
                    await self._repo.requeue(item_id=item.id)
                    continue
                elif item.attempts >= self._settings.max_attempts:
                    await self._give_up(item)
                    continue
                elif item.next_attempt_at is not None and item.next_attempt_at > utcnow():
                    return  # waiting out a backoff; _run wakes up for it
                else:
                    await self._turns.wait_idle(conversation_id)
                    if self._stopping or not await self._repo.claim(item.id, self._holder):
                        continue  # deleted, or another replica won it: look again
                await self._deliver(item)
                if len(self._sessions) >= self._settings.max_parallel:
                    return  # other sessions may be waiting for a slot: take turns
        except Exception:
            log.exception("inbox: delivery in conversation %d failed", conversation_id)
        finally:
            self._sessions.pop(conversation_id, None)
            self._wake.set()  # the slot is free: schedule the next message

    async def _user(self, user_id: str) -> User | None:
        # Deleting a user deletes their queue too (cascade), so a remembered one is safe.
        user = self._users_seen.get(user_id) or await self._users.get(user_id)
        if user is not None and len(self._users_seen) < 10_000:
            self._users_seen[user_id] = user
        return user

    async def _deliver(self, item: InboxItem) -> None:
        user = await self._user(item.user_id)
        if user is None:  # deleted: the cascade took the queue rows too
            return
        try:
            handle = await self._turns.start(
                user, item.content, session_id=item.session_id, inbox_id=item.id
            )
            final = await handle.result()
        except RoostError as exc:  # the session vanished, the model is gone...
            final = TurnFailed(exc.code, exc.message)
        if not isinstance(final, TurnFailed):
            self._count("done")
            return  # the reply's transaction marked the item done
        attempts = item.attempts + 1
        last = attempts >= self._settings.max_attempts
        self._count("failed" if last else "retry")
        delay = 0.0 if last else backoff(self._settings, attempts)
        error = f"{final.code}: {final.message}"
        log.warning("inbox: message %d attempt %d failed: %s", item.id, attempts, error)
        retry_at = utcnow() + timedelta(seconds=delay)
        await self._repo.retry_later(item.id, attempts=attempts, error=error, at=retry_at)
        if self._retry_at is None or retry_at < self._retry_at:
            self._retry_at = retry_at  # _run sleeps no longer than this

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.inbox_delivery(outcome)

    async def _give_up(self, item: InboxItem) -> None:
        """Record the failure in the conversation, after the user message it answers.

        Both appends are idempotent by inbox id, so a crash between them is harmless; the
        error row marks the item failed in its own transaction.
        """
        user = await self._user(item.user_id)
        if user is None:
            return
        error = item.last_error or "delivery failed"
        await self._messages.append(
            user.id, item.conversation_id, role="user", content=item.content, inbox_id=item.id
        )
        await self._messages.append(
            user.id,
            item.conversation_id,
            role="assistant",
            content="",
            error=f"not answered after {item.attempts} attempts: {error}",
            inbox_id=item.id,
        )
        log.warning("inbox: message %d failed after %d attempts", item.id, item.attempts)
