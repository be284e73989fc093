"""Fair admission to a model's slots: first come, first served, no user holds them all.

The runner decodes up to `slots` requests at once. Beyond that, requests wait here in
arrival order. A user who already holds `per_user` slots waits while the users behind
them go ahead (keeping their place for the next free slot). The wait is bounded twice:
a full queue refuses at once (429, retry later), and a request that waited
`max_wait` seconds gives up (503). Who asks comes from `roost.core.requester`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from roost.core.errors import RateLimited, Unavailable


@dataclass
class _Waiter:
    who: str
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Admission:
    def __init__(
        self, name: str, slots: int, *, per_user: int, max_queued: int, max_wait: float
    ) -> None:
        self._name = name
        self.slots = slots
        self._per_user = max(1, min(per_user, slots))
        self._max_queued = max_queued
        self._max_wait = max_wait
        self._held: Counter[str] = Counter()
        self._waiting: deque[_Waiter] = deque()

    @property
    def busy(self) -> int:
        return sum(self._held.values())

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def _may_take(self, who: str) -> bool:
        return self.busy < self.slots and self._held[who] < self._per_user

    @contextlib.asynccontextmanager
    async def slot(self, who: str) -> AsyncIterator[None]:
        await self._acquire(who)
        try:
            yield
        finally:
            self._release(who)
            self._grant()

    async def _acquire(self, who: str) -> None:
        # At once only when nobody who could take the slot is waiting for it.
        if self._may_take(who) and not any(self._may_take(w.who) for w in self._waiting):
            self._held[who] += 1
            return
        if len(self._waiting) >= self._max_queued:
            raise RateLimited(
                f"model '{self._name}' is busy: {len(self._waiting)} requests are waiting "
                "for it; retry later",
                retry_after=5,
            )
        waiter = _Waiter(who)
        self._waiting.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.granted), self._max_wait)
        except BaseException as exc:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._release(who)  # granted just as it gave up: hand the slot on
            else:
                waiter.granted.cancel()
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
            self._grant()
            if isinstance(exc, TimeoutError):
                raise Unavailable(
                    f"model '{self._name}' stayed busy: no slot came free in "
                    f"{self._max_wait:g} s ([limits] slot_wait_seconds)"
                ) from None
            raise

    def _release(self, who: str) -> None:
        self._held[who] -= 1
        if self._held[who] <= 0:
            del self._held[who]

    def _grant(self) -> None:
        """Give free slots to the first waiters who may take one, in order."""
        for waiter in list(self._waiting):
            if self.busy >= self.slots:
                return
            if waiter.granted.done() or not self._may_take(waiter.who):
                continue
            self._held[waiter.who] += 1
            self._waiting.remove(waiter)
            waiter.granted.set_result(None)
