"""Two real `roost serve` processes on different ports sharing one fresh PostgreSQL database.

- 400 chat.nvim inbox messages over 8 sessions, posted alternately to both, are answered
  exactly once and in order per session, though one replica is SIGKILLed halfway: the
  other takes over its claimed deliveries once its leases (3 s here) run out.
- Chat turns sent to both at once for one conversation run one at a time.

The model is an OpenAI-compatible HTTP server in this process (tests/upstreams.py) that
echoes each message ("re: <text>"), a word every 10 ms.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import free_port, requires_postgres
from tests.e2e.conftest import PASSWORD, Server
from tests.storage.conftest import _admin, _plain_dsn, _run
from tests.upstreams import openai_upstream

pytestmark = pytest.mark.e2e

SESSIONS = 8
MESSAGES = 400
LEASE_SECONDS = 3


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the two replicas, dropped afterwards."""
    raw = requires_postgres()
    name = f"roost_lease_{uuid.uuid4().hex[:10]}"
    _run(_admin(_plain_dsn(raw), f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(raw)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _run(_admin(_plain_dsn(raw), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def configure(home: Path, database_url: str, model_url: str) -> None:
    home.mkdir()
    (home / "config.toml").write_text(
        f"""database_url = "{database_url}"
default_model = "remote"

[models.remote]
provider = "openai"
model = "gpt-test"
base_url = "{model_url}"
api_key = "sk-test"

[memory]
include_in_chat = false
watch = false

[queue]
lease_seconds = {LEASE_SECONDS}
poll_interval = 0.5
"""
    )


def replicas(tmp_path: Path, database_url: str, model_url: str) -> list[Server]:
    servers = []
    for name in ("a", "b"):
        home = tmp_path / name
        configure(home, database_url, model_url)
        servers.append(Server(home, free_port()))
    return servers


def open_count(client: httpx.Client) -> int:
    items = client.get("/api/queue", params={"limit": 1000}).json()["messages"]
    assert not [q for q in items if q["state"] == "failed"], items
    return len(items)


async def post_all(urls: list[str], sent: dict[str, list[str]]) -> None:
    """Post the messages in order, alternately to each replica; each session's messages
    go out one after another, so their order is the order they were accepted in."""
    headers = {"X-API-Key": PASSWORD}
    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=60) for url in urls]
    try:

        async def session(index: int) -> None:
            name = f"replica-{index}"
            for n in range(MESSAGES // SESSIONS):
                content = f"{name} message {n}"
                client = clients[(index + n) % len(clients)]
                response = await client.post("/", json={"session": name, "content": content})
                assert response.status_code == 204, response.text
                sent[name].append(content)

        await asyncio.gather(*(session(i) for i in range(SESSIONS)))
    finally:
        for client in clients:
            await client.aclose()


def test_inbox_answered_once_in_order_across_two_replicas_and_a_sigkill(
    tmp_path: Path, database: str
) -> None:
    sent: dict[str, list[str]] = defaultdict(list)
    with openai_upstream(echo=True, chunk_delay=0.01) as upstream:
        a, b = replicas(tmp_path, database, upstream.base_url)
        a.start()
        b.start()
        try:
            asyncio.run(post_all([a.url, b.url], sent))
            assert sum(map(len, sent.values())) == MESSAGES
            with b.client() as client:
                deadline = time.monotonic() + 60
                while open_count(client) > MESSAGES * 5 // 8:  # some answered, most not
                    assert time.monotonic() < deadline, "no progress before the kill"
                    time.sleep(0.05)
                a.kill()  # mid-delivery: a holds claims and leases it never gives back
                killed_at = time.monotonic()
                deadline = killed_at + 120
                while open_count(client):
                    assert time.monotonic() < deadline, "b did not finish the work"
                    time.sleep(0.2)
                for session, contents in sent.items():
                    detail = client.get(f"/api/sessions/{session}").json()
                    pairs = [(m["role"], m["content"], m["error"]) for m in detail["messages"]]
                    expected = []
                    for content in contents:
                        expected += [("user", content, None), ("assistant", f"re: {content}", None)]
                    assert pairs == expected, f"session {session}"
        finally:
            a.stop()
            b.stop()
        calls = len(upstream.bodies("/v1/chat/completions"))
    # The kill cut deliveries short: they were asked again. Nothing else was asked twice:
    # only the deliveries a had running (at most [queue] max_parallel, 4) were repeated.
    # (A kill that lands between deliveries repeats none: exactly MESSAGES calls.)
    assert MESSAGES <= calls <= MESSAGES + 4
    logs = (b.home / "server.log").read_text()
    assert "Traceback" not in logs, logs[-3000:]


def test_two_replicas_take_turns_in_one_conversation(tmp_path: Path, database: str) -> None:
    with openai_upstream(echo=True, chunk_delay=0.02) as upstream:
        a, b = replicas(tmp_path, database, upstream.base_url)
        a.start()
        b.start()
        try:
            with a.client() as client:
                first = client.post("/api/chat", json={"message": "m0", "include_memory": False})
                assert first.status_code == 200, first.text
                session = first.json()["session_id"]

            async def chat(url: str, n: int) -> None:
                async with httpx.AsyncClient(
                    base_url=url, headers={"X-API-Key": PASSWORD}, timeout=60
                ) as client:
                    body = {"message": f"m{n}", "session_id": session, "include_memory": False}
                    response = await client.post("/api/chat", json=body)
                    assert response.status_code == 200, response.text
                    assert response.json()["response"] == f"re: m{n}"

            async def both() -> None:
                await asyncio.gather(*(chat((a, b)[n % 2].url, n) for n in range(1, 13)))

            asyncio.run(both())
            with b.client() as client:
                messages = client.get(f"/api/sessions/{session}").json()["messages"]
        finally:
            a.stop()
            b.stop()
    # Each user message is stored once its turn holds the conversation, the answer before
    # the turn lets go: two turns at once would show as two questions in a row.
    assert [m["role"] for m in messages] == ["user", "assistant"] * 13
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert answer["content"] == f"re: {question['content']}"
