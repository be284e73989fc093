"""Abuse bounds in the app: the per-key request rate, concurrent streams, body sizes and
the Host check, each answered in the dialect's own error shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import roost.api.limits as limits_module
from roost.api.limits import LAN_MAX_STREAMS, LAN_REQUESTS_PER_MINUTE, Bounds, Limiter, bounds
from roost.config import Settings
from tests.api.dialect_shapes import error_shape_ok
from tests.api.inbox_helpers import Steered, until
from tests.api.memgpt_helpers import new_agent, say
from tests.api.wsclient import AsgiSocket, Closed, Rejected
from tests.conftest import Env, running

# One cheap read per dialect.
READS = {
    "native": ("GET", "/api/sessions"),
    "openai": ("GET", "/v1/models"),
    "kernel2": ("GET", "/api/kernel2/roles"),
    "memgpt": ("GET", "/api/agents"),
    "chatnvim": ("GET", "/sessions"),
    "llamachat": ("GET", "/api/conversations"),
}


def test_defaults_are_off_on_loopback_and_on_for_the_lan(settings: Settings) -> None:
    assert bounds(settings) == Bounds(0, 0, 0)
    assert not bounds(settings).active
    settings.server.bind = "0.0.0.0"
    assert bounds(settings) == Bounds(
        LAN_REQUESTS_PER_MINUTE, LAN_REQUESTS_PER_MINUTE, LAN_MAX_STREAMS
    )
    settings.limits.requests_per_minute = 0  # explicitly off, even on the LAN
    settings.limits.max_streams = 2
    assert bounds(settings) == Bounds(0, 0, 2)


def test_token_bucket_refills_at_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: now[0])
    limiter = Limiter(Bounds(requests_per_minute=60, burst=2, max_streams=0))
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(1.0)  # one a second
    now[0] += 0.5
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("other") == 0.0  # buckets are per caller


def test_the_table_is_bounded() -> None:
    limiter = Limiter(Bounds(60, 1, 1), max_entries=100)
    assert limiter.acquire("streaming")
    for n in range(1000):
        limiter.take(f"addr:{n}")
        limiter.trust(n)
    assert len(limiter._buckets) <= 101
    assert len(limiter._known) <= 100
    assert limiter.streams("streaming") == 1  # a bucket holding a stream is kept
    assert not limiter.acquire("streaming")


@pytest.fixture
def limited(settings: Settings) -> Settings:
    settings.limits.requests_per_minute = 1  # one token a minute: nothing refills in a test
    settings.limits.burst = 3
    return settings


async def test_over_the_rate_is_429_with_retry_after_in_every_dialect(limited: Settings) -> None:
    async with running(limited) as env:
        key = await env.new_user_key("busy")
        other = await env.new_user_key("calm")
        headers = {"X-API-Key": key}
        # The first request is charged to the address (the key is not known yet), then
        # the key has its own bucket of 3.
        for _ in range(4):
            assert (await env.client.get("/api/status", headers=headers)).status_code == 200
        for dialect, (method, path) in READS.items():
            response = await env.client.request(method, path, headers=headers)
            assert response.status_code == 429, (dialect, response.text)
            assert error_shape_ok(dialect, 429, response.json()), (dialect, response.text)
            assert 1 <= int(response.headers["retry-after"]) <= 60
        # Another key is not affected, nor is the public health check.
        assert (
            await env.client.get("/api/status", headers={"X-API-Key": other})
        ).status_code == 200
        for _ in range(5):
            assert (await env.client.get("/health")).status_code == 200


async def test_made_up_keys_share_their_address_bucket(limited: Settings) -> None:
    async with running(limited) as env:
        answers = [
            (await env.client.get("/api/status", headers={"X-API-Key": f"guess-{n}"})).status_code
            for n in range(6)
        ]
        assert answers == [401, 401, 401, 429, 429, 429]


async def test_time_refills_the_bucket(limited: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [5000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: now[0])
    async with running(limited) as env:
        for _ in range(4):  # one charged to the address, three to the key
            assert (await env.client.get("/api/status")).status_code == 200
        refused = await env.client.get("/api/status")
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        now[0] += wait
        assert (await env.client.get("/api/status")).status_code == 200


# --- concurrent streams -------------------------------------------------------------------


@pytest.fixture
async def streams_env(settings: Settings) -> AsyncIterator[Env]:
    settings.limits.max_streams = 1
    scripts = Steered()
    async with running(settings, scripts=scripts) as env:
        yield env
        scripts.open("hold")


async def test_streams_past_the_bound_are_429_in_each_dialect(streams_env: Env) -> None:
    env, client = streams_env, streams_env.client
    held = asyncio.create_task(client.post("/api/chat/stream", json={"message": "gate:hold:first"}))
    await until(lambda: _streams_of(env))
    agent = await new_agent(client)
    chat = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}
    refused: dict[str, httpx.Response] = {
        "native": await client.post("/api/chat/stream", json={"message": "second"}),
        "openai": await client.post("/v1/chat/completions", json={**chat, "stream": True}),
        "kernel2": await client.post("/api/kernel2/chat", json={"messages": chat["messages"]}),
        "memgpt": await client.post(
            f"/api/agents/{agent}/messages", json={"message": "hi", "stream_steps": True}
        ),
    }
    for dialect, response in refused.items():
        assert response.status_code == 429, (dialect, response.text)
        assert error_shape_ok(dialect, 429, response.json()), (dialect, response.text)
        assert response.headers["retry-after"] == "1"
    async with AsgiSocket(env.app, headers={"X-API-Key": "test-admin-password"}) as socket:
        error = await socket.receive()
        assert error["type"] == "error"
        assert error["error"]["code"] == "rate_limited"
        with pytest.raises(Closed) as closed:
            await socket.receive()
        assert closed.value.code == 1013
    # Answers that are not streams are not counted.
    plain = await client.post("/v1/chat/completions", json=chat)
    assert plain.status_code == 200, plain.text
    # Nothing was started by the refused requests: one conversation, one turn.
    sessions = (await client.get("/api/sessions")).json()["sessions"]
    assert len(sessions) == 1
    # The held stream ends: its slot is free again.
    env.scripts.open("hold")  # type: ignore[attr-defined]
    assert (await held).status_code == 200
    assert await _streams_of(env) == 0
    env.scripts.queue.append(say("Hello."))
    again = await client.post(
        f"/api/agents/{agent}/messages", json={"message": "hi", "stream_steps": True}
    )
    assert again.status_code == 200, again.text
    assert await _streams_of(env) == 0


async def _streams_of(env: Env) -> int:
    limiter: Limiter = _limiter(env)
    return sum(limiter.streams(ident) for ident in list(limiter._buckets))


def _limiter(env: Env) -> Limiter:
    app: Any = env.app.middleware_stack
    while app is not None and not isinstance(app, limits_module.RateLimit):
        app = getattr(app, "app", None)
    assert app is not None, "RateLimit is not installed"
    return app.limiter


async def test_a_stream_whose_client_leaves_frees_its_slot(streams_env: Env) -> None:
    env = streams_env
    held = asyncio.create_task(env.client.post("/api/chat/stream", json={"message": "gate:x:hi"}))
    await until(lambda: _streams_of(env))
    held.cancel()  # the client hangs up
    await asyncio.gather(held, return_exceptions=True)
    await until(lambda: _is_zero(env))
    async with AsgiSocket(env.app, headers={"X-API-Key": "test-admin-password"}) as socket:
        assert (await socket.receive())["type"] == "connected"
        assert await _streams_of(env) == 1
        second = await env.client.post("/api/chat/stream", json={"message": "hi"})
        assert second.status_code == 429
    await until(lambda: _is_zero(env))
    env.scripts.open("x")  # type: ignore[attr-defined]


async def _is_zero(env: Env) -> bool:
    return await _streams_of(env) == 0


# --- bodies and hosts ---------------------------------------------------------------------

BIG = 4096
WRITES = {
    "native": "/api/chat",
    "openai": "/v1/chat/completions",
    "kernel2": "/api/kernel2/chat",
    "memgpt": "/api/agents",
    "chatnvim": "/",
    "llamachat": "/api/conversations/x/messages",
}


@pytest.fixture
async def small_env(settings: Settings) -> AsyncIterator[Env]:
    settings.limits.max_body_bytes = 2048
    settings.speech.max_file_bytes = 1024
    async with running(settings) as env:
        yield env


@pytest.mark.parametrize("chunked", [False, True])
async def test_bodies_over_the_bound_are_413_in_each_dialect(small_env: Env, chunked: bool) -> None:
    payload = b'{"message": "' + b"x" * BIG + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    for dialect, path in WRITES.items():
        content: Any = chunks() if chunked else payload
        response = await small_env.client.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413, (dialect, chunked, response.text)
        assert error_shape_ok(dialect, 413, response.json()), (dialect, response.text)
    assert (await small_env.client.get("/api/sessions")).json()["total"] == 0


@pytest.mark.parametrize(
    ("dialect", "path"),
    [("openai", "/v1/audio/transcriptions"), ("llamachat", "/api/transcription")],
)
async def test_uploads_over_their_bound_are_413(small_env: Env, dialect: str, path: str) -> None:
    audio = b"\0" * (1024 + 1_048_576 + 10)  # the file bound plus the framing allowance
    files = {"audio" if dialect == "llamachat" else "file": ("a.wav", audio, "audio/wav")}
    response = await small_env.client.post(path, files=files, data={"model": "whisper-1"})
    assert response.status_code == 413, response.text
    assert error_shape_ok(dialect, 413, response.json())


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:31327",
        "127.0.0.1.nip.io",  # a rebinding name that resolves to loopback
        "localhost.evil.example",
        "roost.attacker.test:31327",
        "0x7f000001",  # not a name the server answers to, whatever it resolves to
    ],
)
async def test_rebinding_hosts_are_refused_in_each_dialect(env: Env, host: str) -> None:
    for dialect, (method, path) in READS.items():
        response = await env.client.request(method, path, headers={"Host": host})
        assert response.status_code == 400, (dialect, host, response.text)
        assert error_shape_ok(dialect, 400, response.json()), (dialect, response.text)
    with pytest.raises(Rejected) as refused:
        async with AsgiSocket(env.app, headers={"host": host, "X-API-Key": "x"}):
            pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:31327", "127.0.0.1:31327", "[::1]:31327"])
async def test_our_own_names_are_accepted(env: Env, host: str) -> None:
    assert (await env.client.get("/api/sessions", headers={"Host": host})).status_code == 200


# --- cross-site writes (CSRF) -------------------------------------------------------------

SIMPLE = {"Content-Type": "text/plain"}  # what a cross-site form may send without preflight


@pytest.fixture
async def keyless_env(settings: Settings) -> AsyncIterator[Env]:
    settings.auth.required = False  # loopback callers need no key: the case CSRF targets
    settings.server.cors_origins = ["http://app.example"]
    async with running(settings) as env:
        env.client.headers.pop("X-API-Key")
        yield env


@pytest.mark.parametrize(
    ("dialect", "path", "body"),
    [
        ("chatnvim", "/", '{"session": "s", "content": "from evil"}'),
        ("llamachat", "/api/conversations", ""),
        ("native", "/api/sessions", ""),
        ("openai", "/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}]}'),
        ("memgpt", "/api/humans", '{"name": "evil", "text": "x"}'),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:31327.evil.example"},
    ],
)
async def test_cross_site_writes_are_refused(
    keyless_env: Env, dialect: str, path: str, body: str, headers: dict[str, str]
) -> None:
    client = keyless_env.client
    response = await client.post(path, content=body, headers={**SIMPLE, **headers})
    assert response.status_code == 403, response.text
    assert error_shape_ok(dialect, 403, response.json()), response.text
    assert (await client.get("/api/sessions")).json()["total"] == 0
    assert (await client.get("/api/queue")).json()["messages"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # not a browser
        {"Origin": "http://127.0.0.1:31327"},  # roost's own UI
        {"Origin": "http://app.example"},  # a configured CORS origin
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
)
async def test_same_site_and_non_browser_writes_pass(
    keyless_env: Env, headers: dict[str, str]
) -> None:
    response = await keyless_env.client.post("/api/sessions", json={}, headers=headers)
    assert response.status_code == 200, response.text


async def test_cross_site_reads_are_not_refused(keyless_env: Env) -> None:
    # The browser will not let the page read the answer (CORS is closed to it).
    response = await keyless_env.client.get(
        "/api/sessions", headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
