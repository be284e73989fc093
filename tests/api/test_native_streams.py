"""Resumable streams: SSE ids, Last-Event-ID, GET /api/streams/{id}, WebSocket `resume`,
the purge; on SQLite and (with ROOST_TEST_DATABASE_URL) PostgreSQL, where a stream
started on one app is resumed on another sharing the database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from roost.config import Settings
from roost.providers.base import Finish, TextChunk, UsageChunk
from roost.providers.scripted import Script
from tests.api.sseclient import AsgiStream, SseEvent
from tests.api.wsclient import AsgiSocket
from tests.conftest import ADMIN_PASSWORD, Env, make_settings, running

KEY = {"X-API-Key": ADMIN_PASSWORD}
WORDS = [f"w{i}" for i in range(40)]
FULL = " ".join(WORDS)


def slow_reply(delay: float = 0.01) -> Script:
    """One word every `delay` seconds: the stream lasts while the client comes and goes."""
    script: list[Any] = []
    for i, word in enumerate(WORDS):
        script += [TextChunk(word if i == 0 else " " + word), delay]
    return [*script, UsageChunk(5, len(WORDS)), Finish("stop")]


# --- databases --------------------------------------------------------------------------


def _plain(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _admin(url: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(_plain(url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped at its end."""
    raw = os.environ.get("ROOST_TEST_DATABASE_URL")
    if not raw:
        pytest.skip("set ROOST_TEST_DATABASE_URL to run the stream tests on PostgreSQL")
    name = f"roost_streams_{uuid.uuid4().hex[:10]}"
    _admin(raw, f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(raw)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _admin(raw, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None  # the home's SQLite file
    url: str = request.getfixturevalue("pg_database")
    _admin(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


def settings_for(home: Path, database_url: str | None) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    settings = make_settings(home)
    settings.default_model = "scripted"
    settings.database_url = database_url
    settings.memory.watch = False
    return settings


@pytest.fixture
async def app(tmp_path: Path, database_url: str | None) -> AsyncIterator[Env]:
    async with running(settings_for(tmp_path / "a", database_url)) as env:
        yield env


# --- helpers ----------------------------------------------------------------------------


async def start_and_cut(env: Env, k: int, path: str = "/api/chat/stream") -> list[SseEvent]:
    """Start a streamed turn, read `k` events, hang up."""
    env.scripts.queue.append(slow_reply())
    async with AsgiStream(env.app, "POST", path, headers=KEY, body={"message": "Hi"}) as s:
        assert s.status == 200
        return [e for _ in range(k) if (e := await s.event()) is not None]


async def resume(env: Env, last_id: str, key: dict[str, str] = KEY) -> AsgiStream:
    stream_id = last_id.split(":")[0]
    headers = {**key, "Last-Event-ID": last_id}
    return AsgiStream(env.app, "GET", f"/api/streams/{stream_id}", headers=headers)


def seqs(events: list[SseEvent]) -> list[int]:
    return [int(e.id.split(":")[1]) for e in events if e.id is not None]


def content(events: list[SseEvent]) -> str:
    return "".join(
        e.data["delta"] for e in events if isinstance(e.data, dict) and e.data["type"] == "content"
    )


# --- SSE --------------------------------------------------------------------------------


async def test_events_carry_ids_and_a_resume_gets_the_rest_exactly_once(app: Env) -> None:
    first = await start_and_cut(app, 6)
    assert first[0].data["type"] == "session"
    stream_id = first[0].data["stream_id"]
    assert [e.id for e in first] == [f"{stream_id}:{n}" for n in range(1, 7)]
    async with await resume(app, first[-1].id or "") as again:
        assert again.status == 200
        rest = await again.events()
    assert rest[-1].data == "[DONE]"
    assert rest[-2].data["type"] == "done"
    together = first + rest[:-1]
    numbers = seqs(together)
    assert numbers == sorted(set(numbers))  # no duplicate, in order
    assert content(together) == FULL  # no gap
    # From the start, after the turn ended: the same events with the same ids.
    async with AsgiStream(app.app, "GET", f"/api/streams/{stream_id}", headers=KEY) as replay:
        everything = await replay.events()
    assert [(e.id, e.data) for e in everything] == [(e.id, e.data) for e in together + rest[-1:]]
    # The reply was stored once, whole.
    session = (await app.client.get(f"/api/sessions/{first[0].data['session_id']}")).json()
    assert [m["content"] for m in session["messages"]] == ["Hi", FULL]


async def test_resuming_at_every_point_gives_the_same_stream(app: Env) -> None:
    first = await start_and_cut(app, 2)
    stream_id = first[0].data["stream_id"]
    async with AsgiStream(app.app, "GET", f"/api/streams/{stream_id}", headers=KEY) as s:
        full = await s.events()
    for cut in range(1, len(full) - 1, 7):
        after = full[cut - 1].id or ""
        async with await resume(app, after) as s:
            rest = await s.events()
        assert [e.id for e in full[:cut] + rest] == [e.id for e in full]


async def test_post_with_last_event_id_resumes_instead_of_starting_a_turn(app: Env) -> None:
    first = await start_and_cut(app, 3)
    asked = len(app.provider.requests)
    headers = {**KEY, "Last-Event-ID": first[-1].id or ""}
    async with AsgiStream(
        app.app, "POST", "/api/chat/stream", headers=headers, body={"message": "Hi"}
    ) as s:
        rest = await s.events()
    assert content(first + rest) == FULL
    assert len(app.provider.requests) == asked  # no second turn


async def test_query_after_and_bad_ids(app: Env) -> None:
    first = await start_and_cut(app, 3)
    stream_id = first[0].data["stream_id"]
    async with AsgiStream(
        app.app, "GET", f"/api/streams/{stream_id}", headers=KEY, query="after=3"
    ) as s:
        rest = await s.events()
    assert content(first + rest) == FULL
    for bad in ("x", "abc:", ":5", "1:2:x", "9" * 40):
        response = await app.client.get(f"/api/streams/{stream_id}", headers={"Last-Event-ID": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_request"
    other = await app.client.get(
        f"/api/streams/{stream_id}", headers={"Last-Event-ID": "deadbeef:2"}
    )
    assert other.status_code == 400
    bare = await app.client.post(
        "/api/chat/stream", json={"message": "Hi"}, headers={"Last-Event-ID": "4"}
    )
    assert bare.status_code == 400
    assert (await app.client.get(f"/api/streams/{stream_id}?after=-1")).status_code == 400


async def test_unknown_and_other_users_streams_are_not_found(app: Env) -> None:
    first = await start_and_cut(app, 2)
    stream_id = first[0].data["stream_id"]
    bob = await app.new_user_key("bob")
    for path, key in ((f"/api/streams/{stream_id}", bob), ("/api/streams/nope", ADMIN_PASSWORD)):
        response = await app.client.get(path, headers={"X-API-Key": key})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    resumed = await app.client.post(
        "/api/chat/stream",
        json={"message": "Hi"},
        headers={"X-API-Key": bob, "Last-Event-ID": first[-1].id or ""},
    )
    assert resumed.status_code == 404
    too_long = await app.client.get("/api/streams/" + "a" * 65)
    assert too_long.status_code in (400, 404)


async def test_events_are_purged_after_the_keep_time(app: Env) -> None:
    first = await start_and_cut(app, 2)
    stream_id = first[0].data["stream_id"]
    async with AsgiStream(app.app, "GET", f"/api/streams/{stream_id}", headers=KEY) as s:
        await s.events()  # the turn has ended
    streams = app.services.streams
    assert await streams.purge() == 0  # kept 15 minutes by default
    past_the_end = await app.client.get(f"/api/streams/{stream_id}?after=999")
    assert past_the_end.status_code == 200
    assert past_the_end.text == "data: [DONE]\n\n"  # complete: nothing more to come
    app.services.settings.streams.keep_seconds = 0
    await asyncio.sleep(0.01)
    assert await streams.purge() == 1
    gone = await app.client.get(f"/api/streams/{stream_id}")
    assert gone.status_code == 404


async def test_a_running_stream_is_not_purged(app: Env) -> None:
    app.services.settings.streams.keep_seconds = 0
    app.scripts.queue.append(slow_reply(0.02))
    async with AsgiStream(
        app.app, "POST", "/api/chat/stream", headers=KEY, body={"message": "Hi"}
    ) as s:
        first = [await s.event() for _ in range(3)]
        assert await app.services.streams.purge() == 0
        rest = await s.events()
    assert content([e for e in first if e] + rest) == FULL


async def test_the_openai_path_without_a_session_records_nothing(app: Env) -> None:
    body = {"model": "scripted", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    async with AsgiStream(app.app, "POST", "/v1/chat/completions", headers=KEY, body=body) as s:
        events = await s.events()
    assert events[-1].data == "[DONE]"
    assert all(e.id is None for e in events)
    assert await app.services.streams.purge() == 0


# --- WebSocket --------------------------------------------------------------------------


async def test_websocket_resume_gets_the_rest_exactly_once(app: Env) -> None:
    app.scripts.queue.append(slow_reply())
    async with AsgiSocket(app.app, headers=KEY) as ws:
        await ws.receive()  # connected
        await ws.send(type="chat", message="Hi")
        seen = [await ws.receive() for _ in range(5)]
    assert [m["type"] for m in seen[:2]] == ["session", "stream"]
    stream_id = seen[1]["stream_id"]
    got = [m for m in seen if m["type"] == "content"]
    last = got[-1]["event_id"]
    async with AsgiSocket(app.app, headers=KEY) as ws:
        await ws.receive()
        await ws.send(type="resume", after=last)
        rest = await ws.receive_until("done")
        # The connection continues in the stream's session.
        await ws.send(type="chat", message="again")
        again = await ws.receive_until("done")
    deltas = got + [m for m in rest if m["type"] == "content"]
    numbers = [int(m["event_id"].split(":")[1]) for m in deltas]
    assert numbers == sorted(set(numbers))
    assert "".join(m["delta"] for m in deltas) == FULL
    assert rest[-1]["event_id"].startswith(stream_id + ":")
    assert again[-1]["session_id"] == seen[0]["session_id"]


async def test_websocket_resume_errors(app: Env) -> None:
    async with AsgiSocket(app.app, headers=KEY) as ws:
        await ws.receive()
        for message, code in (
            ({"type": "resume"}, "invalid_request"),
            ({"type": "resume", "after": "nope"}, "invalid_request"),
            ({"type": "resume", "after": 3}, "invalid_request"),
            ({"type": "resume", "after": "abcd:3"}, "not_found"),
            ({"type": "resume", "stream_id": "abcd", "after": -1}, "invalid_request"),
        ):
            await ws.send(**message)
            reply = await ws.receive()
            assert reply["type"] == "error", message
            assert reply["error"]["code"] == code, (message, reply)


def ws_content(messages: list[dict[str, Any]]) -> str:
    return "".join(m["delta"] for m in messages if m["type"] == "content")


async def watch_and_chat(chatter: Env, watcher: Env) -> None:
    """A chat on `chatter` in a session that a socket on `watcher` has selected: the
    watcher is told of the turn and resumes it from its start."""
    async with (
        AsgiSocket(chatter.app, headers=KEY) as a,
        AsgiSocket(watcher.app, headers=KEY) as b,
    ):
        await a.receive()
        await b.receive()
        await a.send(type="session")
        created = await a.receive()
        await b.send(type="session", session_id=created["session_id"])
        assert (await b.receive())["type"] == "session"
        await asyncio.sleep(0.2)  # b's watcher is listening
        chatter.scripts.queue.append(slow_reply())
        await a.send(type="chat", message="Hi")
        mine = await a.receive_until("done")
        announced = await b.receive(timeout=10)
        assert announced["type"] == "stream"
        assert announced["elsewhere"] is True
        assert announced["session_id"] == created["session_id"]
        await b.send(type="resume", after=announced["event_id"])
        theirs = await b.receive_until("done")
    assert ws_content(mine) == ws_content(theirs) == FULL
    assert not any(m.get("elsewhere") for m in mine)  # its own turn is not "elsewhere"
    assert theirs[-1]["event_id"] == mine[-1]["event_id"]


async def test_a_websocket_watching_a_session_hears_of_turns_begun_elsewhere(app: Env) -> None:
    await watch_and_chat(app, app)


# --- two apps on one PostgreSQL database -------------------------------------------------


@pytest.fixture
def fresh_pg(pg_database: str) -> str:
    _admin(pg_database, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return pg_database


async def test_a_stream_started_on_one_replica_resumes_on_another(
    tmp_path: Path, fresh_pg: str
) -> None:
    pg_database = fresh_pg
    async with (
        running(settings_for(tmp_path / "a", pg_database)) as a,
        running(settings_for(tmp_path / "b", pg_database)) as b,
    ):
        first = await start_and_cut(a, 4)
        # Resumed on B while A is still generating: B is woken by A's NOTIFYs.
        async with await resume(b, first[-1].id or "") as s:
            rest = await s.events()
        together = first + rest[:-1]
        assert content(together) == FULL
        numbers = seqs(together)
        assert numbers == sorted(set(numbers))
        assert rest[-1].data == "[DONE]"
        assert len(b.provider.requests) == 0  # B only relayed
        # A WebSocket on B watching a session hears of a turn that A runs in it.
        await watch_and_chat(a, b)
