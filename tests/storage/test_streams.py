"""Stored stream events and change notification, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from roost.core.clock import utcnow
from roost.core.records import User
from roost.storage import Database
from roost.storage.notify import LocalNotifier, PgNotifier, notifier_for
from roost.storage.streams import StreamRepository


async def test_events_are_read_in_order_after_a_point(db: Database, alice: User) -> None:
    store = StreamRepository(db)
    await store.create("s1", alice.id, "sess", "m")
    await store.append("s1", [(1, '{"a":1}'), (2, '{"a":2}')])
    await store.append("s1", [(3, '{"a":3}')], end=True)
    page = await store.read(alice.id, "s1", 1, 10)
    assert page is not None
    assert page.events == [(2, '{"a":2}'), (3, '{"a":3}')]
    assert page.ended
    limited = await store.read(alice.id, "s1", 0, 2)
    assert limited is not None
    assert [seq for seq, _ in limited.events] == [1, 2]
    header = await store.header(alice.id, "s1")
    assert header is not None
    assert (header.session_id, header.model, header.ended) == ("sess", "m", True)


async def test_another_users_stream_does_not_exist_for_them(
    db: Database, alice: User, bob: User
) -> None:
    store = StreamRepository(db)
    await store.create("s1", alice.id, None, None)
    assert await store.header(bob.id, "s1") is None
    assert await store.read(bob.id, "s1", 0, 10) is None
    assert await store.read(alice.id, "nope", 0, 10) is None


async def test_purge_takes_ended_streams_past_keep_and_abandoned_ones(
    db: Database, alice: User
) -> None:
    store = StreamRepository(db)
    for name in ("ended", "running"):
        await store.create(name, alice.id, None, None)
        await store.append(name, [(1, "{}")], end=name == "ended")
    now = utcnow()
    # Nothing ended before a minute ago, nothing was started before an hour ago.
    assert await store.purge(now - timedelta(minutes=1), now - timedelta(hours=1)) == 0
    assert await store.purge(now + timedelta(seconds=1), now - timedelta(hours=1)) == 1
    assert await store.header(alice.id, "ended") is None
    assert await store.header(alice.id, "running") is not None
    # A stream that never ended is taken once it is older than the abandon limit.
    assert await store.purge(now, now + timedelta(seconds=1)) == 1
    assert await store.read(alice.id, "running", 0, 10) is None


async def test_local_notifier_wakes_listeners_of_the_topic_only() -> None:
    notifier = LocalNotifier()
    with notifier.listen("stream:a") as a, notifier.listen("stream:b") as b:
        await notifier.notify("stream:a")
        assert await a.wait(5)
        assert not await b.wait(0.05)
        a.clear()
        assert not await a.wait(0.05)


async def test_postgres_notify_wakes_a_listener_of_another_notifier(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite has the in-process notifier")
    url = db._url.render_as_string(hide_password=False)  # the test database's own URL
    writer, reader = notifier_for(db, url), notifier_for(db, url)
    assert isinstance(writer, PgNotifier)
    await reader.start()
    try:
        with reader.listen("stream:x") as signal:
            await writer.notify("stream:x")
            # Woken by the NOTIFY (not a timeout): the reader shares no memory with the writer.
            assert await signal.wait(10)
            signal.clear()
            await writer.notify("stream:other")
            assert not await signal.wait(0.2)
    finally:
        await reader.close()
        await writer.close()


async def test_listener_reconnects_after_its_connection_dies(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    url = db._url.render_as_string(hide_password=False)
    reader = PgNotifier(db, url)
    writer = PgNotifier(db, url)
    await reader.start()
    try:
        pid = reader._conn.get_server_pid()
        async with db.write() as conn:
            from sqlalchemy import text

            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):  # the reconnect loop tries every second
            await asyncio.sleep(0.05)
            if reader._conn is not None and reader._conn.get_server_pid() != pid:
                break
        assert reader._conn is not None
        with reader.listen("stream:y") as signal:
            await writer.notify("stream:y")
            assert await signal.wait(10)
    finally:
        await reader.close()
        await writer.close()
