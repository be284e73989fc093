"""Resumable streams: record turns' events, replay them to clients that reconnect.

Every stored turn gets a stream id; its events are numbered from 1 (the SSE `id:`, the
WebSocket `id`). A client that lost the connection asks for the events after the last
one it saw, on this replica or another: `follow` reads them from the database, then
waits for more (woken by the Notifier when a batch is written anywhere), until the
stream's last event. Streams are kept `[streams] keep_seconds` after they end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from roost.config import Settings
from roost.core.clock import utcnow
from roost.core.errors import NotFound
from roost.core.events import TurnEvent, TurnFailed
from roost.core.ids import new_uuid
from roost.services.streams.codec import decode, encode
from roost.services.streams.recorder import StreamRecorder, session_topic, topic

log = logging.getLogger(__name__)
PAGE = 500  # events per read while catching up
POLL_SECONDS = 2.0  # re-read even without a notification (one may be lost)
ABANDONED = timedelta(hours=6)  # a stream that never ended: its replica died
WATCH_POLL_SECONDS = 60.0  # a session watcher re-reads this often without a notification
WATCH_SKEW = timedelta(seconds=30)  # replicas' clocks may disagree this much
WATCH_LIMIT = 100  # turns begun in one session within WATCH_SKEW that a watcher sees
MAX_STREAM_ID = 64


class Signal(Protocol):
    def clear(self) -> None: ...

    async def wait(self, seconds: float) -> bool: ...


class Notifier(Protocol):
    """Wakes readers when a topic is written to, in this process or (PostgreSQL) any."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def notify(self, topic: str) -> None: ...

    def listen(self, topic: str) -> AbstractContextManager[Signal]: ...


class Page(Protocol):
    @property
    def events(self) -> list[tuple[int, str]]: ...

    @property
    def ended(self) -> bool: ...


class Header(Protocol):
    @property
    def session_id(self) -> str | None: ...

    @property
    def model(self) -> str | None: ...


class StreamStore(Protocol):
    async def create(
        self, stream_id: str, user_id: str, session_id: str | None, model: str | None
    ) -> None: ...

    async def append(
        self, stream_id: str, events: Sequence[tuple[int, str]], *, end: bool = False
    ) -> None: ...

    async def header(self, user_id: str, stream_id: str) -> Header | None: ...

    async def end_open(self, user_id: str, session_id: str, event: str) -> list[str]: ...

    async def started_since(
        self, user_id: str, session_id: str, since: datetime, limit: int = ...
    ) -> list[tuple[str, datetime]]: ...

    async def read(self, user_id: str, stream_id: str, after: int, limit: int) -> Page | None: ...

    async def purge(
        self, ended_before: datetime, started_before: datetime, *, batch: int = ...
    ) -> int: ...


@dataclass(slots=True)
class Followed:
    """A stream being resumed: what it belongs to, and its events as (id, event).

    `ended` is set when the events ran out because the stream is complete (not because
    it went quiet or was purged): a client already past its last event then knows it
    has everything."""

    stream_id: str
    session_id: str
    model: str
    events: AsyncIterator[tuple[int, TurnEvent]]
    ended: bool = False


class StreamService:
    def __init__(self, settings: Settings, store: StreamStore, notifier: Notifier) -> None:
        self._settings = settings.streams
        self._store = store
        self.notifier = notifier
        self._writers: set[asyncio.Task[None]] = set()
        self._purger: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.notifier.start()
        if self._purger is None:
            self._purger = asyncio.create_task(self._purge_loop(), name="stream-purge")

    async def close(self, seconds: float = 5.0) -> None:
        """Let pending batches reach the database, then stop."""
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None
        if self._writers:
            await asyncio.wait(set(self._writers), timeout=seconds)
        await self.notifier.close()

    def open(self, user_id: str, session_id: str | None, model: str | None) -> StreamRecorder:
        """A new stream (its row is written in the background: see StreamRecorder)."""
        stream_id = new_uuid().replace("-", "")
        owner = (user_id, session_id, model)
        recorder = StreamRecorder(stream_id, self._store, self.notifier.notify, owner)
        self._writers.add(recorder.task)
        recorder.task.add_done_callback(self._writers.discard)
        return recorder

    async def end_interrupted(self, user_id: str, session_id: str, message: str) -> None:
        """End the session's streams whose turn died with its process: a follower gets
        the turn's `interrupted` error as the last event, now, instead of waiting."""
        event = encode(TurnFailed("interrupted", message))
        for stream_id in await self._store.end_open(user_id, session_id, event):
            await self.notifier.notify(topic(stream_id))

    async def follow(self, user_id: str, stream_id: str, after: int = 0) -> Followed:
        """The stream's events after `after`, then the live rest. NotFound (raised here,
        before any event) for an unknown, purged or another user's stream."""
        header = None
        if len(stream_id) <= MAX_STREAM_ID:
            header = await self._store.header(user_id, stream_id)
        if header is None:
            raise NotFound(f"stream '{stream_id[:MAX_STREAM_ID]}' not found")
        followed = Followed(stream_id, header.session_id or "", header.model or "", _no_events())
        followed.events = self._follow(followed, user_id, max(after, 0))
        return followed

    async def _follow(
        self, followed: Followed, user_id: str, after: int
    ) -> AsyncIterator[tuple[int, TurnEvent]]:
        stream_id = followed.stream_id
        idle = self._settings.idle_seconds
        with self.notifier.listen(topic(stream_id)) as signal:
            last_news = time.monotonic()
            while True:
                signal.clear()  # before reading: a write during the read wakes the wait
                page = await self._store.read(user_id, stream_id, after, PAGE)
                if page is None:  # purged meanwhile
                    return
                for seq, data in page.events:
                    if seq != after + 1:  # a batch that could not be stored
                        log.warning("stream %s has a gap after event %d", stream_id, after)
                        return
                    after = seq
                    yield seq, decode(data)
                if len(page.events) == PAGE:
                    continue
                if page.ended:
                    followed.ended = True
                    return
                if page.events:
                    last_news = time.monotonic()
                elif time.monotonic() - last_news > idle:
                    return  # its replica died, or it waits very long: the client may retry
                await signal.wait(POLL_SECONDS)

    async def watch_session(self, user_id: str, session_id: str) -> AsyncIterator[str]:
        """The ids of turns' streams that begin in this session from now on, on any
        replica, as they begin (until the caller stops iterating)."""
        store = self._store
        with self.notifier.listen(session_topic(user_id, session_id)) as signal:
            began = utcnow()
            old = await store.started_since(user_id, session_id, began - WATCH_SKEW, WATCH_LIMIT)
            seen = {stream_id for stream_id, created in old if created < began}
            while True:
                signal.clear()
                since = utcnow() - WATCH_SKEW
                # Streams older than the window never come back, so `seen` stays small.
                recent = await store.started_since(user_id, session_id, since, WATCH_LIMIT)
                for stream_id, _created in recent:
                    if stream_id not in seen:
                        yield stream_id
                seen = {stream_id for stream_id, _created in recent}
                await signal.wait(WATCH_POLL_SECONDS)

    async def purge(self) -> int:
        """Delete streams past their keep time; returns how many."""
        now = utcnow()
        ended_before = now - timedelta(seconds=self._settings.keep_seconds)
        started_before = ended_before - ABANDONED
        total = 0
        while True:
            count = await self._store.purge(ended_before, started_before)
            total += count
            if count == 0:
                return total

    async def _purge_loop(self) -> None:
        interval = min(60.0, max(1.0, self._settings.keep_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.purge()
            except Exception:  # the next round tries again
                log.exception("purging old stream events failed")


async def _no_events() -> AsyncIterator[tuple[int, TurnEvent]]:
    return
    yield  # an async generator that yields nothing
