"""Change notification: wake readers when something they follow was written.

Topics are short strings ("stream:<id>", "conversation:<id>"). `LocalNotifier` wakes the
readers of this process (SQLite: one process owns the database). `PgNotifier` also sends
each topic with PostgreSQL's NOTIFY, and LISTENs on a dedicated asyncpg connection, so a
reader on one replica is woken by a write on another. A notification is a hint, never the
data: readers re-read the database when woken, and also every few seconds, so a
notification lost while the listening connection was down costs latency, not events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text

from roost.storage.db import Database, async_url

log = logging.getLogger(__name__)
CHANNEL = "roost"
_RECONNECT_SECONDS = 1.0
_MAX_TOPIC = 1000  # NOTIFY payloads must stay under 8000 bytes


class Signal:
    """One reader's wake-up flag: clear it, read, then wait if there was nothing new."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> bool:
        """True when woken, False after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class LocalNotifier:
    """Readers and writers in one process."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[Signal]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def notify(self, topic: str) -> None:
        self._wake(topic)

    @contextlib.contextmanager
    def listen(self, topic: str) -> Iterator[Signal]:
        signal = Signal()
        self._listeners.setdefault(topic, set()).add(signal)
        try:
            yield signal
        finally:
            waiting = self._listeners.get(topic)
            if waiting is not None:
                waiting.discard(signal)
                if not waiting:
                    del self._listeners[topic]

    def _wake(self, topic: str) -> None:
        for signal in self._listeners.get(topic, ()):
            signal.set()

    def _wake_all(self) -> None:
        for signals in self._listeners.values():
            for signal in signals:
                signal.set()


class PgNotifier(LocalNotifier):
    """LISTEN/NOTIFY across replicas sharing one PostgreSQL database."""

    def __init__(self, db: Database, database_url: str) -> None:
        super().__init__()
        self._db = db
        url = async_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._conn: Any = None  # asyncpg.Connection (asyncpg ships no type hints)
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        try:
            await self._listen()
        except Exception as exc:  # readers poll meanwhile; keep trying in the background
            log.warning("change notification is not listening yet: %s", exc)
            self._schedule_reconnect()

    async def _listen(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(self._dsn)
        await conn.add_listener(CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        self._wake_all()  # anything sent while we were not listening

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._wake(payload)

    def _on_lost(self, _conn: Any) -> None:
        self._conn = None
        if not self._closed:
            log.warning("change notification connection lost; reconnecting")
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while not self._closed and self._conn is None:
            await asyncio.sleep(_RECONNECT_SECONDS)
            try:
                await self._listen()
            except Exception as exc:
                log.debug("change notification reconnect failed: %s", exc)

    async def notify(self, topic: str) -> None:
        self._wake(topic)  # this replica's readers at once
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    text("SELECT pg_notify(:channel, :topic)"),
                    {"channel": CHANNEL, "topic": topic[:_MAX_TOPIC]},
                )
        except Exception as exc:  # other replicas' readers poll; the write itself succeeded
            log.warning("could not send change notification %s: %s", topic, exc)

    async def close(self) -> None:
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


def notifier_for(db: Database, database_url: str) -> LocalNotifier:
    """The notifier for this database: NOTIFY on PostgreSQL, in-process on SQLite."""
    if db.dialect == "postgresql":
        return PgNotifier(db, database_url)
    return LocalNotifier()
