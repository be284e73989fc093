"""Record one turn's events: number them, and store them in small batches.

A turn yields an event per token, so each is not written on its own: events wait up to
`FLUSH_SECONDS` (or until `BATCH` are waiting, or the last event comes) and go to the
database in one insert. The live stream never waits for the database; a reader resuming
from the database is at most one batch behind the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from roost.core.events import TurnEvent
from roost.services.streams.codec import FINAL, encode

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.05
BATCH = 64
_WRITE_ATTEMPTS = 3


class EventStore(Protocol):
    async def create(
        self, stream_id: str, user_id: str, session_id: str | None, model: str | None
    ) -> None: ...

    async def append(
        self, stream_id: str, events: Sequence[tuple[int, str]], *, end: bool = False
    ) -> None: ...


class StreamRecorder:
    """Numbers a stream's events from 1 and writes them behind the live stream.

    The stream's row is written while the turn starts (`created`), not before: a client
    gets no event id until it is there (TurnHandle.events_with_ids waits for it), so a
    resume never finds an unknown stream, and the first token does not wait for it.
    """

    def __init__(
        self,
        stream_id: str,
        store: EventStore,
        notify: Callable[[str], Awaitable[None]],
        owner: tuple[str, str | None, str | None],  # user id, session id, model
    ) -> None:
        self.id = stream_id
        self._owner = owner
        self.topic = topic(stream_id)
        self._store = store
        self._notify = notify
        self._seq = 0
        self._pending: list[tuple[int, TurnEvent]] = []
        self._ended = False
        self._data = asyncio.Event()  # something waits to be written
        self._urgent = asyncio.Event()  # ...and should not wait for the timer
        loop = asyncio.get_running_loop()
        self.created = loop.create_task(store.create(stream_id, *owner))
        self.task = loop.create_task(self._write_loop())

    @property
    def last_seq(self) -> int:
        return self._seq

    def record(self, event: TurnEvent) -> int:
        """Number the event and queue it for writing; never waits."""
        self._seq += 1
        if self._ended:  # nothing follows a final event; never fail the turn over it
            log.warning("event after the end of stream %s not stored", self.id)
            return self._seq
        self._pending.append((self._seq, event))
        self._data.set()
        if isinstance(event, FINAL):
            self._ended = True
            self._urgent.set()
        elif len(self._pending) >= BATCH:
            self._urgent.set()
        return self._seq

    def end(self) -> None:
        """No more events (after a final one, or when a turn stops without one)."""
        self._ended = True
        self._data.set()
        self._urgent.set()

    async def _write_loop(self) -> None:
        try:
            await self.created
        except Exception:  # the turn goes on, unrecorded
            log.warning("stream %s not recorded", self.id, exc_info=True)
            return
        user_id, session_id, _model = self._owner
        if session_id is not None:  # for those watching the session (WebSocket)
            await self._notify(session_topic(user_id, session_id))
        while True:
            await self._data.wait()
            if not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FLUSH_SECONDS):
                        await self._urgent.wait()
            self._data.clear()
            self._urgent.clear()
            batch, self._pending = self._pending, []
            end = self._ended
            await self._write([(seq, encode(event)) for seq, event in batch], end)
            if end:
                return

    async def _write(self, rows: list[tuple[int, str]], end: bool) -> None:
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                await self._store.append(self.id, rows, end=end)
                break
            except Exception:
                if attempt == _WRITE_ATTEMPTS:
                    # Readers that resume will stop at the gap (see StreamService.follow).
                    log.exception("could not store events of stream %s", self.id)
                    return
                await asyncio.sleep(FLUSH_SECONDS * 4 * attempt)
        await self._notify(self.topic)


class RecordingQueue(asyncio.Queue[object]):
    """A turn's event queue that records what passes through (the turn is unchanged)."""

    def __init__(self, recorder: StreamRecorder, end_marker: object) -> None:
        super().__init__()
        self._recorder = recorder
        self._end_marker = end_marker

    def put_nowait(self, item: object) -> None:
        if item is self._end_marker:
            self._recorder.end()
        else:
            self._recorder.record(item)  # type: ignore[arg-type]
        super().put_nowait(item)


def topic(stream_id: str) -> str:
    return f"stream:{stream_id}"


def session_topic(user_id: str, session_id: str) -> str:
    return f"session:{user_id}:{session_id}"
