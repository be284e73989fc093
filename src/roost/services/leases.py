"""Leases between replicas: one turn per conversation or agent, one heartbeat per user.

Each process is one holder ("<replica>#<random>"). A lease is taken with a conditional
upsert (free, expired, or already ours), renewed every third of its lifetime while it is
held, and deleted when released; a replica that dies stops renewing, and its leases are
taken over once they expire. The holder also keeps a lease named "replica:<holder>" for
as long as the process runs: an inbox message it claimed stays claimed exactly as long.

Within one process the callers keep their asyncio locks (arrival order, no polling); the
database lease only settles who runs across processes. Waiting for a lease polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta

from roost.core.errors import RoostError
from roost.storage.leases import LeaseRepository

log = logging.getLogger(__name__)

_POLL_FIRST = 0.02  # seconds before the first retry of a lease another replica holds
_POLL_MAX = 0.5


class Lease:
    """A lease this process holds; `release()` once the work is done."""

    def __init__(self, service: LeaseService, name: str) -> None:
        self.name = name
        self._service = service
        self._released = False

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        await self._service._release(self.name)

    def abandon(self) -> None:
        """Stop renewing without releasing: the lease expires as a dead holder's would, so
        whoever takes it over finds the work unfinished (a turn cut by shutdown)."""
        if not self._released:
            self._released = True
            self._service._held.discard(self.name)

    def release_soon(self) -> None:
        """Release from a synchronous callback (a task cancelled before it began)."""
        if not self._released:
            self._released = True
            self._service._release_in_background(self.name)


class LeaseService:
    def __init__(
        self, repo: LeaseRepository, seconds: float, *, replica: str | None = None
    ) -> None:
        """`replica`: this server's stable identity (host:port). Given, leases of an earlier
        run under the same identity are dropped at start: that process is gone."""
        self._repo = repo
        self.seconds = seconds
        self._replica = replica
        base = replica or f"{socket.gethostname()}:pid{os.getpid()}"
        self.holder = f"{base}#{secrets.token_hex(4)}"[-200:]
        self._held: set[str] = set()
        # Taking and giving back one name are serialised in this process, so a release
        # still on its way can never delete the lease a next local turn just took.
        self._name_locks: dict[str, asyncio.Lock] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def _presence(self) -> str:
        return f"replica:{self.holder}"[:200]

    async def start(self) -> None:
        """Announce this process (its presence lease) and start renewing."""
        if self._replica is not None:
            forgotten = await self._repo.forget(f"{self._replica}#", keep=self.holder)
            if forgotten:
                log.info("leases: %d leases of an earlier run of this replica expired", forgotten)
        with contextlib.suppress(RoostError):
            await self._repo.sweep(timedelta(days=1))
        await self._take(self._presence)
        self._ensure_renewer()

    async def close(self) -> None:
        """Stop renewing and give up what is still held (turns have drained by now)."""
        self._closing = True
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for name in list(self._held):
            with contextlib.suppress(RoostError, OSError):
                await self._repo.release(name, self.holder)
        self._held.clear()

    # --- taking and giving back ---------------------------------------------------------

    async def try_acquire(self, name: str) -> Lease | None:
        """The lease if it is free (or expired, or ours) now; None if another holds it."""
        async with self._name_lock(name):
            if not await self._repo.acquire(name, self.holder, self.seconds):
                return None
            return self._hold(name)

    async def acquire(self, name: str, *, within: float | None = None) -> Lease:
        """Wait until the lease is ours (TimeoutError after `within` seconds)."""
        deadline = None if within is None else time.monotonic() + within
        delay = _POLL_FIRST
        while True:
            lease = await self.try_acquire(name)
            if lease is not None:
                return lease
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TimeoutError(name)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX, self.seconds / 3)

    async def held_elsewhere(self, name: str) -> bool:
        """Whether another process holds the lease now."""
        holder = await self._repo.holder(name)
        return holder is not None and holder != self.holder

    async def held_elsewhere_for_user(self, prefix: str, user_id: str) -> bool:
        """Whether another process holds `<prefix><id>` of one of the user's conversations."""
        return await self._repo.held_for_user(prefix, user_id, other_than=self.holder)

    async def wait_free(self, name: str) -> None:
        """Return once no other process holds the lease (this one may)."""
        delay = _POLL_FIRST
        while await self.held_elsewhere(name):
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX, self.seconds / 3)

    async def expired(self, prefix: str, *, limit: int = 100) -> list[str]:
        """Names under `prefix` whose holder stopped renewing them without a release."""
        return await self._repo.expired(prefix, limit=limit)

    async def reserve(self, name: str, until: datetime) -> bool:
        """Take `name` until a fixed time, without renewals (a heartbeat's slot in an
        interval); False when another holder has it now."""
        if not await self._repo.acquire(name, self.holder, self.seconds):
            return False
        await self._repo.expire_at(name, self.holder, until)
        return True

    def _hold(self, name: str) -> Lease:
        self._held.add(name)
        self._ensure_renewer()
        return Lease(self, name)

    async def _take(self, name: str) -> None:
        if await self._repo.acquire(name, self.holder, self.seconds):
            self._held.add(name)

    def _name_lock(self, name: str) -> asyncio.Lock:
        return self._name_locks.setdefault(name, asyncio.Lock())

    async def _release(self, name: str) -> None:
        self._held.discard(name)
        async with self._name_lock(name):
            if name in self._held:
                return  # taken again meanwhile (by this process's next turn)
            try:
                await self._repo.release(name, self.holder)
            except (RoostError, OSError):  # it expires on its own
                log.warning("leases: could not release %s", name, exc_info=True)

    def _release_in_background(self, name: str) -> None:
        self._held.discard(name)
        task = asyncio.get_running_loop().create_task(self._release(name))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- renewing -----------------------------------------------------------------------

    def _ensure_renewer(self) -> None:
        if self._renewer is None and not self._closing:
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew_loop(), name="lease-renewer"
            )

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            names = {*self._held, self._presence}
            try:
                kept = await self._repo.renew(self.holder, names, self.seconds)
                if kept < len(names):
                    # Lost some (this process stalled past their expiry): take them again
                    # if nobody else has; a turn that lost its lease finishes regardless,
                    # and the database's own checks keep an inbox reply from doubling.
                    for name in names:
                        if name not in self._held and name != self._presence:
                            continue  # released meanwhile
                        if not await self._repo.acquire(name, self.holder, self.seconds):
                            log.warning("leases: lost %s to another replica", name)
            except Exception:  # a database hiccup: the next round tries again
                log.warning("leases: renewal failed", exc_info=True)
