"""Acceptance (issue 10): two `roost serve` replicas share one fresh PostgreSQL database; a
stream started on replica A is cut by the client after a few events and resumed on
replica B with Last-Event-ID (SSE) or `resume` (WebSocket). The client ends with the
complete reply, with no gap and no duplicate.

The model is a real OpenAI-compatible HTTP server (tests/upstreams.py) streaming a word
every 50 ms, so the turn is still running on A when the client moves to B.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from tests.api.sseclient import SseEvent, parse_block
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server
from tests.upstreams import Upstream, openai_upstream

pytestmark = pytest.mark.e2e

REPLY = " ".join(f"word{i}" for i in range(60))
EXPECTED = f"{REPLY}"
HEADERS = {"X-API-Key": PASSWORD}


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

    asyncio.run(run())


@pytest.fixture
def database() -> Iterator[str]:
    raw = os.environ.get("ROOST_TEST_DATABASE_URL")
    if not raw:
        pytest.skip("two replicas need PostgreSQL: set ROOST_TEST_DATABASE_URL")
    name = f"roost_streams_e2e_{uuid.uuid4().hex[:10]}"
    _admin(raw, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(raw).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(raw, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with openai_upstream(reply=REPLY, chunk_delay=0.05) as server:
        yield server


@pytest.fixture
def replicas(tmp_path: Path, database: str, upstream: Upstream) -> Iterator[tuple[Server, Server]]:
    servers = []
    for name in ("a", "b"):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(
            f"""default_model = "remote"
database_url = "{database}"

[models.remote]
provider = "openai"
model = "gpt-test"
base_url = "{upstream.base_url}"
api_key = "sk-test"

[memory]
include_in_chat = false
watch = false
"""
        )
        servers.append(Server(home, free_port()))
    try:
        for server in servers:
            server.start()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def read_events(response: httpx.Response, limit: int | None = None) -> list[SseEvent]:
    events: list[SseEvent] = []
    buffer = ""
    for text in response.iter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            event = parse_block(block)
            if event is not None:
                events.append(event)
                if limit is not None and len(events) >= limit:
                    return events
    return events


def content(events: list[Any]) -> str:
    return "".join(e["delta"] for e in events if isinstance(e, dict) and e.get("type") == "content")


def test_an_sse_stream_cut_on_replica_a_resumes_on_replica_b(
    replicas: tuple[Server, Server],
) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        with client.stream(
            "POST", f"{a.url}/api/chat/stream", json={"message": "tell me a long story"}
        ) as response:
            assert response.status_code == 200
            first = read_events(response, limit=8)
        # The client hung up after 8 events; the turn goes on on A.
        last_id = first[-1].id
        assert last_id is not None
        stream_id = first[0].data["stream_id"]
        assert last_id.startswith(stream_id + ":")
        with client.stream(
            "GET", f"{b.url}/api/streams/{stream_id}", headers={"Last-Event-ID": last_id}
        ) as response:
            assert response.status_code == 200
            rest = read_events(response)
        assert rest[-1].data == "[DONE]"
        together = first + rest[:-1]
        numbers = [int((e.id or "").split(":")[1]) for e in together]
        assert numbers == sorted(set(numbers)), numbers  # no duplicate
        assert content([e.data for e in together]) == EXPECTED  # no gap
        assert together[-1].data["type"] == "done"
        # Either replica shows the stored reply, once.
        session_id = first[0].data["session_id"]
        stored = client.get(f"{b.url}/api/sessions/{session_id}").json()["messages"]
        assert [m["content"] for m in stored] == ["tell me a long story", EXPECTED]


async def _ws_resume(a: Server, b: Server) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # A generous handshake timeout: a loaded test machine can be slow to answer.
    options: dict[str, Any] = {"additional_headers": {"X-API-Key": PASSWORD}, "open_timeout": 60}
    async with connect(f"ws://127.0.0.1:{a.port}/api/ws", **options) as ws:
        json.loads(await ws.recv())  # connected
        await ws.send(json.dumps({"type": "chat", "message": "tell me a long story"}))
        first = [json.loads(await ws.recv()) for _ in range(8)]
    last = [m for m in first if "event_id" in m][-1]["event_id"]
    async with connect(f"ws://127.0.0.1:{b.port}/api/ws", **options) as ws:
        json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "resume", "after": last}))
        rest = [json.loads(await ws.recv())]
        while rest[-1]["type"] not in ("done", "error"):
            rest.append(json.loads(await ws.recv()))
    return first, rest


def test_a_websocket_stream_cut_on_replica_a_resumes_on_replica_b(
    replicas: tuple[Server, Server],
) -> None:
    a, b = replicas
    first, rest = asyncio.run(_ws_resume(a, b))
    assert rest[-1]["type"] == "done", rest[-1]
    deltas = [m for m in first + rest if m["type"] == "content"]
    numbers = [int(m["event_id"].split(":")[1]) for m in deltas]
    assert numbers == sorted(set(numbers))
    assert content(deltas) == EXPECTED
