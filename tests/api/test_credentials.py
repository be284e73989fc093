"""One credential a request: several (two headers, header and query, a Bearer and an
X-API-Key that differ) are a 400 in the dialect's error shape, over HTTP and WebSocket,
and authentication and the limiters read the same one (api/credentials.py)."""

from __future__ import annotations

import pytest

from roost.api.credentials import credential
from roost.config import Settings
from roost.core.errors import InvalidRequest
from tests.api.dialect_shapes import error_shape_ok
from tests.api.wsclient import AsgiSocket, Closed
from tests.conftest import ADMIN_PASSWORD, Env, running

READS = {
    "native": ("GET", "/api/sessions"),
    "openai": ("GET", "/v1/models"),
    "kernel2": ("GET", "/api/kernel2/roles"),
    "memgpt": ("GET", "/api/agents"),
    "chatnvim": ("GET", "/sessions"),
    "llamachat": ("GET", "/api/conversations"),
}


def _scope(
    headers: list[tuple[str, str]], query: str = "", kind: str = "http"
) -> dict[str, object]:
    return {
        "type": kind,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "query_string": query.encode(),
    }


@pytest.mark.parametrize(
    ("headers", "query", "kind", "expected"),
    [
        ([], "", "http", None),
        ([("X-API-Key", "k")], "", "http", "k"),
        ([("Authorization", "Bearer k")], "", "http", "k"),
        ([("Authorization", "bearer k"), ("X-API-Key", "k")], "", "http", "k"),  # the same key
        ([("Authorization", "Basic eDp5")], "", "http", None),  # not a roost credential
        ([("X-API-Key", " ")], "", "http", None),
        ([], "token=k", "http", None),  # ?token= is read on a WebSocket only
        ([], "token=k", "websocket", "k"),
        ([], "%74oken=k", "websocket", "k"),  # decoded as the server decodes it
        ([("X-API-Key", "k")], "tok%65n=k", "websocket", "k"),
    ],
)
def test_the_one_credential(
    headers: list[tuple[str, str]], query: str, kind: str, expected: str | None
) -> None:
    assert credential(_scope(headers, query, kind)) == expected


@pytest.mark.parametrize(
    ("headers", "query", "kind"),
    [
        ([("X-API-Key", "a"), ("X-API-Key", "b")], "", "http"),
        ([("X-API-Key", "a"), ("x-api-key", "a")], "", "http"),  # two headers, even alike
        ([("Authorization", "Bearer a"), ("Authorization", "Bearer b")], "", "http"),
        ([("Authorization", "Bearer a"), ("X-API-Key", "b")], "", "http"),
        ([("X-API-Key", "a")], "token=b", "websocket"),
        ([("Authorization", "Bearer a")], "%74oken=b", "websocket"),
        ([], "token=a&token=a", "websocket"),
        ([], "token=a&tok%65n=b", "websocket"),
    ],
)
def test_more_than_one_credential_is_refused(
    headers: list[tuple[str, str]], query: str, kind: str
) -> None:
    scope = _scope(headers, query, kind)
    for _ in range(2):  # the answer is kept: the limiter and authentication get the same
        with pytest.raises(InvalidRequest):
            credential(scope)


async def _two_keys(env: Env) -> list[tuple[str, str]]:
    user_key = await env.new_user_key("second")
    env.client.headers.pop("X-API-Key")
    return [("X-API-Key", ADMIN_PASSWORD), ("X-API-Key", user_key)]


async def test_two_api_key_headers_are_400_in_every_dialect(env: Env) -> None:
    headers = await _two_keys(env)
    for dialect, (method, path) in READS.items():
        response = await env.client.request(method, path, headers=headers)
        assert response.status_code == 400, (dialect, response.text)
        assert error_shape_ok(dialect, 400, response.json()), (dialect, response.text)
        assert "X-API-Key" in response.text
    # A Bearer and an X-API-Key that differ; the admin route of MemGPT too.
    differ = [("Authorization", f"Bearer {headers[1][1]}"), ("X-API-Key", ADMIN_PASSWORD)]
    for path in ("/api/sessions", "/admin/users"):
        response = await env.client.get(path, headers=differ)
        assert response.status_code == 400, response.text
    # The same key on both is one credential.
    same = [("Authorization", f"Bearer {ADMIN_PASSWORD}"), ("X-API-Key", ADMIN_PASSWORD)]
    assert (await env.client.get("/api/sessions", headers=same)).status_code == 200


async def test_the_rate_limiter_reads_the_same_credential(settings: Settings) -> None:
    settings.limits.requests_per_minute = 1
    settings.limits.burst = 3
    async with running(settings) as env:
        headers = await _two_keys(env)
        valid = {"X-API-Key": headers[1][1]}
        assert (await env.client.get("/api/status", headers=valid)).status_code == 200
        # A guess beside a valid key: refused, and charged to the address (3 tokens, one
        # taken by the valid key's first request), not to the valid key's own bucket.
        guess = [("X-API-Key", "guess-1"), headers[1]]
        answers = [
            (await env.client.get("/api/status", headers=guess)).status_code for _ in range(3)
        ]
        assert answers == [400, 400, 429]
        assert (await env.client.get("/api/status", headers=valid)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-API-Key": ADMIN_PASSWORD}, "token=another-key"),
        ({}, f"token={ADMIN_PASSWORD}&token=another-key"),
        ({"Authorization": "Bearer another-key", "X-API-Key": ADMIN_PASSWORD}, ""),
    ],
)
async def test_a_websocket_with_two_credentials_is_told_and_closed(
    env: Env, headers: dict[str, str], query: str
) -> None:
    async with AsgiSocket(env.app, headers=headers, query=query) as ws:
        first = await ws.receive()
        assert first["type"] == "error"
        assert first["error"]["code"] == "invalid_request"
        with pytest.raises(Closed) as closed:
            await ws.receive()
    assert closed.value.code == 1008


async def test_a_websocket_with_two_api_key_headers_is_refused(env: Env) -> None:
    ws = AsgiSocket(env.app, headers={"X-API-Key": ADMIN_PASSWORD})
    ws.scope["headers"].append((b"x-api-key", b"another-key"))
    async with ws:
        first = await ws.receive()
        assert first["error"] == {
            "code": "invalid_request",
            "message": "more than one X-API-Key header: send one credential",
        }
        with pytest.raises(Closed):
            await ws.receive()
