"""The heartbeat: on a timer, an agent turn works through each user's HEARTBEAT.md tasks.

Every `[heartbeat] interval` the loop looks at each user's workspace. A user with open
tasks (`- [ ] ...`), inside the active hours and with no turn of theirs running gets one
turn in their session `heartbeat`, with a fixed prompt listing the tasks; the outcome goes
to today's daily log. Every tick is recorded as an event (ran, ok, skipped or failed, with
a reason); the last one per user and the loop's next run are what the status routes show.
Events live in this process: a restart starts with none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from roost.config import Settings
from roost.core.clock import isoformat, utcnow
from roost.core.errors import RoostError
from roost.core.events import TurnDone
from roost.core.records import User
from roost.services.heartbeat_rules import (
    active_hours,
    clip,
    interval_seconds,
    is_ok,
    open_tasks,
    prompt_for,
    zone,
)
from roost.services.leases import LeaseService
from roost.services.memory import MemoryService
from roost.services.memory.workspace import HEARTBEAT_FILE
from roost.services.status import HeartbeatStatus
from roost.services.turns import TurnService
from roost.services.users import UserService

log = logging.getLogger(__name__)

SESSION_ID = "heartbeat"
Status = Literal["ran", "ok", "skipped", "failed"]
_USERS_PAGE = 100


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    status: Status
    reason: str | None
    started_at: datetime
    duration_ms: int
    session_id: str | None = None  # where the turn ran (not for skips)
    response: str | None = None  # the model's answer, when a turn ran


@dataclass(frozen=True, slots=True)
class HeartbeatReport:
    enabled: bool
    interval_seconds: float
    last_run: datetime | None  # the last tick that ran a turn for this user
    next_run: datetime | None
    last_event: HeartbeatEvent | None


class HeartbeatService:
    def __init__(
        self,
        settings: Settings,
        turns: TurnService,
        memory: MemoryService,
        users: UserService,
        *,
        clock: Callable[[], datetime] = utcnow,
        leases: LeaseService | None = None,
    ) -> None:
        where = str(settings.config_path)
        self._settings = settings.heartbeat
        self.interval = interval_seconds(self._settings, where)
        zone(self._settings, where)  # a bad zone is a config error even without active hours
        self._hours = active_hours(self._settings, where)
        self._turns = turns
        self._memory = memory
        self._users = users
        self._clock = clock
        self._leases = leases  # None: this process is alone with its database
        self._last_event: dict[str, HeartbeatEvent] = {}
        self._last_run: dict[str, datetime] = {}
        self._ticking: set[str] = set()  # users whose tick runs now
        self._next: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        """Start ticking every interval, when `[heartbeat] enabled`."""
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="heartbeat")

    async def close(self) -> None:
        task, self._task = self._task, None
        self._next = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            self._next = self._clock() + timedelta(seconds=self.interval)
            await asyncio.sleep(self.interval)
            try:
                await self.tick_all()
            except Exception:  # one bad tick must not end the heartbeat
                log.exception("heartbeat tick failed")

    async def tick_all(self) -> None:
        """One scheduled tick for every user (across replicas: once per interval)."""
        after: str | None = None
        while True:
            page = await self._users.list(after=after, limit=_USERS_PAGE)
            for user in page:
                if await self._slot(user):
                    await self.tick(user)
            if len(page) < _USERS_PAGE:
                return
            after = page[-1].id

    async def _slot(self, user: User) -> bool:
        """Replicas each tick on their own timer; the first to reserve the user's slot for
        this interval ticks, the others skip. It lapses a little before the next interval."""
        if self._leases is None:
            return True
        until = utcnow() + timedelta(seconds=self.interval * 0.9)
        try:
            return await self._leases.reserve(f"heartbeat-slot:{user.id}", until)
        except RoostError:  # no database: nothing could run anyway
            return False

    # --- one tick -------------------------------------------------------------------------

    async def tick(self, user: User, *, manual: bool = False) -> HeartbeatEvent:
        """Check the user's tasks and, when there is work, run a turn on them.

        A manual tick (`POST /api/heartbeat/run`) runs even when the heartbeat is disabled
        or outside its active hours: the user asked for it now.
        """
        started = self._clock()
        clock = time.monotonic()
        if user.id in self._ticking:
            return self._record(user, self._skip(started, "a heartbeat is already running"))
        self._ticking.add(user.id)
        try:
            lease = None
            if self._leases is not None:  # a tick of this user may run on another replica
                lease = await self._leases.try_acquire(f"heartbeat:{user.id}")
                if lease is None:
                    event = self._skip(started, "a heartbeat is running on another replica")
                    return self._record(user, event)
            try:
                event = await self._tick(user, started, clock, manual)
            finally:
                if lease is not None:
                    await lease.release()
        finally:
            self._ticking.discard(user.id)
        return self._record(user, event)

    async def _tick(
        self, user: User, started: datetime, clock: float, manual: bool
    ) -> HeartbeatEvent:
        if not manual and self._hours is not None and not self._hours.contains(started):
            return self._skip(started, f"outside active hours ({self._hours.text})")
        if await self._turns.user_busy_anywhere(user.id):
            return self._skip(started, "a turn is running for this user")
        try:
            text = await self._memory.peek_file(user, HEARTBEAT_FILE)
        except (RoostError, OSError) as exc:
            return self._failed(started, clock, f"cannot read {HEARTBEAT_FILE}: {exc}")
        tasks = open_tasks(text or "")
        if not tasks:
            return self._skip(started, f"no open tasks in {HEARTBEAT_FILE}")
        return await self._run(user, tasks, started, clock)

    async def _run(
        self, user: User, tasks: list[str], started: datetime, clock: float
    ) -> HeartbeatEvent:
        try:
            handle = await self._turns.start(
                user,
                prompt_for(tasks),
                session_id=SESSION_ID,
                create_session=True,
                model=self._settings.model,
            )
            final = await handle.result()
        except RoostError as exc:  # an unknown model, a full disk
            return await self._turn_failed(user, started, clock, exc.message)
        if not isinstance(final, TurnDone):
            return await self._turn_failed(user, started, clock, f"{final.code}: {final.message}")
        if final.finish_reason == "cancelled":  # the server is stopping
            return await self._turn_failed(user, started, clock, "the turn was cancelled")
        reply = final.message.content
        self._last_run[user.id] = started
        if is_ok(reply):  # not logged: a line every tick would crowd the log out of prompts
            return self._event("ok", None, started, clock, reply)
        count = f"{len(tasks)} open task{'s' if len(tasks) != 1 else ''}"
        await self._note(user, f"**Heartbeat** ({count}): {clip(reply)}")
        return self._event("ran", None, started, clock, reply)

    async def _turn_failed(
        self, user: User, started: datetime, clock: float, reason: str
    ) -> HeartbeatEvent:
        await self._note(user, f"**Heartbeat failed:** {clip(reason)}")
        return self._failed(started, clock, reason, session=SESSION_ID)

    async def _note(self, user: User, body: str) -> None:
        try:
            await self._memory.append_log(user, body, "Heartbeat")
        except (RoostError, OSError):  # the turn is saved in its session either way
            log.warning("could not write the heartbeat to the daily log", exc_info=True)

    # --- events ---------------------------------------------------------------------------

    def _event(
        self, status: Status, reason: str | None, started: datetime, clock: float, reply: str
    ) -> HeartbeatEvent:
        duration = int((time.monotonic() - clock) * 1000)
        return HeartbeatEvent(status, reason, started, duration, SESSION_ID, reply)

    def _skip(self, started: datetime, reason: str) -> HeartbeatEvent:
        return HeartbeatEvent("skipped", reason, started, 0)

    def _failed(
        self, started: datetime, clock: float, reason: str, session: str | None = None
    ) -> HeartbeatEvent:
        duration = int((time.monotonic() - clock) * 1000)
        return HeartbeatEvent("failed", reason, started, duration, session)

    def _record(self, user: User, event: HeartbeatEvent) -> HeartbeatEvent:
        self._last_event[user.id] = event
        if event.status == "failed" and event.session_id is not None:
            self._last_run[user.id] = event.started_at
        level = logging.WARNING if event.status == "failed" else logging.INFO
        log.log(level, "heartbeat for %s: %s%s", user.name, event.status, _why(event.reason))
        return event

    # --- status ---------------------------------------------------------------------------

    def report(self, user: User) -> HeartbeatReport:
        return HeartbeatReport(
            enabled=self.enabled,
            interval_seconds=self.interval,
            last_run=self._last_run.get(user.id),
            next_run=self._next if self.enabled else None,
            last_event=self._last_event.get(user.id),
        )

    def status(self, user: User | None) -> HeartbeatStatus:
        """The `heartbeat` part of GET /api/status for this caller."""
        last = self._last_run.get(user.id) if user is not None else None
        next_run = self._next if self.enabled else None
        return HeartbeatStatus(
            enabled=self.enabled,
            last_run=isoformat(last) if last is not None else None,
            next_run=isoformat(next_run) if next_run is not None else None,
        )


def _why(reason: str | None) -> str:
    return f" ({reason})" if reason else ""
