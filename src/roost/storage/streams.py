"""Stored stream events: a turn's events by sequence number, for clients that resume.

Events arrive in batches (services/streams/recorder.py coalesces them), so one write
inserts many rows. The batch holding a stream's last event also sets `ended_at`, in the
same transaction: a reader that sees `ended_at` set has every event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update

from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.tables import stream_events, streams


@dataclass(frozen=True, slots=True)
class StreamHeader:
    id: str
    session_id: str | None
    model: str | None
    ended: bool


@dataclass(frozen=True, slots=True)
class StreamPage:
    """Events after a point, and whether the stream had ended when they were read."""

    events: list[tuple[int, str]]  # (seq, event JSON)
    ended: bool


_COLUMNS = "INSERT INTO stream_events (stream_id, seq, event, created_at) VALUES "


def _insert_sql(paramstyle: str) -> str:
    if paramstyle == "qmark":  # sqlite3
        return _COLUMNS + "(?, ?, ?, ?)"
    if paramstyle == "numeric_dollar":  # asyncpg
        return _COLUMNS + "($1, $2, $3, $4)"
    return _COLUMNS + "(%s, %s, %s, %s)"


class StreamRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, stream_id: str, user_id: str, session_id: str | None, model: str | None
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                insert(streams).values(
                    id=stream_id,
                    user_id=user_id,
                    session_id=session_id,
                    model=model,
                    created_at=utcnow(),
                )
            )

    async def append(
        self, stream_id: str, events: Sequence[tuple[int, str]], *, end: bool = False
    ) -> None:
        """Store a batch of (seq, event JSON); `end` marks the stream finished."""
        now = utcnow()
        async with self._db.write() as conn:
            if events:
                # At the driver, not through Core's executemany: that processes every
                # row's parameters in Python, 3-4 times the cost of the insert itself.
                process = stream_events.c.created_at.type.bind_processor(conn.dialect)
                stamp = process(now) if process is not None else now
                rows = [(stream_id, seq, data, stamp) for seq, data in events]
                await conn.exec_driver_sql(_insert_sql(conn.dialect.paramstyle), rows)
            if end:
                await conn.execute(
                    update(streams).where(streams.c.id == stream_id).values(ended_at=now)
                )

    async def end_open(self, user_id: str, session_id: str, event: str) -> list[str]:
        """End each of this user's session's unended streams with `event` as its last;
        their ids. For streams whose turn died with its process."""
        now = utcnow()
        async with self._db.write() as conn:
            found = await conn.execute(
                select(streams.c.id).where(
                    streams.c.user_id == user_id,
                    streams.c.session_id == session_id,
                    streams.c.ended_at.is_(None),
                )
            )
            ids = [str(row[0]) for row in found]
            for stream_id in ids:
                last = await conn.execute(
                    select(func.max(stream_events.c.seq)).where(
                        stream_events.c.stream_id == stream_id
                    )
                )
                seq = int(last.scalar() or 0) + 1
                await conn.execute(
                    insert(stream_events).values(
                        stream_id=stream_id, seq=seq, event=event, created_at=now
                    )
                )
                await conn.execute(
                    update(streams).where(streams.c.id == stream_id).values(ended_at=now)
                )
        return ids

    async def header(self, user_id: str, stream_id: str) -> StreamHeader | None:
        """The stream, if it exists and is this user's."""
        async with self._db.read() as conn:
            result = await conn.execute(
                select(streams.c.session_id, streams.c.model, streams.c.ended_at).where(
                    streams.c.id == stream_id, streams.c.user_id == user_id
                )
            )
            row = result.first()
        if row is None:
            return None
        return StreamHeader(stream_id, row[0], row[1], row[2] is not None)

    async def started_since(
        self, user_id: str, session_id: str, since: datetime, limit: int = 20
    ) -> list[tuple[str, datetime]]:
        """(id, created_at) of the streams of this user's session begun at or after
        `since`, oldest first."""
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(streams.c.id, streams.c.created_at)
                .where(
                    streams.c.user_id == user_id,
                    streams.c.session_id == session_id,
                    streams.c.created_at >= since,
                )
                .order_by(streams.c.created_at, streams.c.id)
                .limit(limit)
            )
            return [(str(row[0]), row[1]) for row in rows]

    async def read(self, user_id: str, stream_id: str, after: int, limit: int) -> StreamPage | None:
        """Up to `limit` events with seq > `after`, in order; None for no such stream
        (or another user's)."""
        async with self._db.read() as conn:
            # The header first: if it says ended, every event was committed with it.
            ended_at = await conn.execute(
                select(streams.c.ended_at).where(
                    streams.c.id == stream_id, streams.c.user_id == user_id
                )
            )
            header = ended_at.first()
            if header is None:
                return None
            rows = await conn.execute(
                select(stream_events.c.seq, stream_events.c.event)
                .where(stream_events.c.stream_id == stream_id, stream_events.c.seq > after)
                .order_by(stream_events.c.seq)
                .limit(limit)
            )
            events = [(int(seq), str(data)) for seq, data in rows]
        return StreamPage(events, header[0] is not None)

    async def purge(
        self, ended_before: datetime, started_before: datetime, *, batch: int = 500
    ) -> int:
        """Delete up to `batch` streams that ended before `ended_before`, or that never
        ended and began before `started_before` (their replica died); returns how many."""
        async with self._db.write() as conn:
            doomed = (
                select(streams.c.id)
                .where(
                    or_(
                        streams.c.ended_at < ended_before,
                        (streams.c.ended_at.is_(None)) & (streams.c.created_at < started_before),
                    )
                )
                .limit(batch)
            )
            ids = [row[0] for row in await conn.execute(doomed)]
            if not ids:
                return 0
            # Explicitly, not by cascade: SQLite connections opened elsewhere may have
            # foreign keys off.
            await conn.execute(delete(stream_events).where(stream_events.c.stream_id.in_(ids)))
            await conn.execute(delete(streams).where(streams.c.id.in_(ids)))
        return len(ids)
