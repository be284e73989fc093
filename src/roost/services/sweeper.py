"""A background sweep every period, until closed (the crash recoveries' look for cut turns)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from roost.core.errors import RoostError

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self, name: str, sweep: Callable[[], Awaitable[int]], report: Callable[[int], None]
    ) -> None:
        """`sweep` returns how many it settled, which `report` is given; a failing database
        is logged and the sweep tried again next period."""
        self._name = name
        self._sweep = sweep
        self._report = report
        self._task: asyncio.Task[None] | None = None

    def start(self, period: float) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(period), name=self._name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                self._report(await self._sweep())
            except RoostError as exc:  # the database is away: try again next period
                log.warning("%s failed: %s", self._name, exc.message)
