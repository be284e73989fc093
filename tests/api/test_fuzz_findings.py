"""Bugs the fuzz test (tests/fuzz) found, each pinned: they were 500s, now a 4xx in the
dialect's shape with nothing stored."""

from __future__ import annotations

import httpx
import pytest

from roost.app import create_app
from roost.config import Settings
from tests.conftest import ADMIN_PASSWORD, Env
from tests.serve_app import serve_app

JSON = {"Content-Type": "application/json"}


@pytest.mark.asyncio
async def test_a_file_name_longer_than_the_filesystem_allows_is_a_400(env: Env) -> None:
    path = "/api/memory/files/" + "x" * 300 + ".md"
    for answer in (
        await env.client.put(path, json={"content": "x"}),
        await env.client.get(path),
    ):
        assert answer.status_code == 400, answer.text
        assert "longer than 255 bytes" in answer.json()["error"]["message"]
    # a long name within the bound is fine
    fits = "/api/memory/files/" + "y" * 250 + ".md"
    assert (await env.client.put(fits, json={"content": "x"})).status_code == 200


@pytest.mark.parametrize(
    ("path", "raw", "error"),
    [
        ("/api/chat", b'{"message": "hi \\ud800"}', lambda b: b["error"]["code"]),
        ("/api/chat/stream", b'{"message": "\\udfff"}', lambda b: b["error"]["code"]),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "a \\ud800 b"}]}',
            lambda b: b["error"]["code"],
        ),
        ("/", b'{"session": "s\\ud800", "content": "x"}', lambda b: b["error"]),
        ("/api/sessions", b'{"title": "\\ud800"}', lambda b: b["error"]["code"]),
    ],
)
@pytest.mark.asyncio
async def test_a_lone_surrogate_escape_is_a_400_in_the_dialects_shape(
    env: Env, path: str, raw: bytes, error: object
) -> None:
    answer = await env.client.post(path, content=raw, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert error(answer.json())  # type: ignore[operator]
    assert (await env.client.get("/api/sessions")).json()["total"] == 0
    assert (await env.client.get("/sessions")).json() == []


@pytest.mark.asyncio
async def test_a_nul_in_a_chat_message_is_refused_before_a_session_is_made(env: Env) -> None:
    # PostgreSQL cannot store it; refusing it everywhere keeps the backends alike.
    answer = await env.client.post("/api/chat", json={"message": "a\x00b"})
    assert answer.status_code == 400
    assert "NUL" in answer.json()["error"]["message"]
    assert (await env.client.get("/api/sessions")).json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/admin/users?cursor=a&cursor=b", "detail"),
        ("/api/sessions?limit=1&limit=2", "error"),
        ("/api/kernel2/roles?offset=0&offset=1", "message"),
        ("/api/queue?limit=1&limit=2", "error"),
        ("/api/conversations?limit=1&limit=1", "error"),
    ],
)
@pytest.mark.asyncio
async def test_a_repeated_query_parameter_is_a_400(env: Env, path: str, shape: str) -> None:
    answer = await env.client.get(path)
    assert answer.status_code == 400, answer.text
    assert "more than once" in str(answer.json()[shape])
    single = path.rsplit("&", 1)[0]
    assert (await env.client.get(single)).status_code == 200


def test_the_longest_memory_query_fits_in_a_url_the_server_takes(
    settings: Settings,
) -> None:
    # 4,000 four-byte characters, percent-encoded: 48 KB of URL through real uvicorn.
    app = create_app(settings, admin_password=ADMIN_PASSWORD)
    headers = {"X-API-Key": ADMIN_PASSWORD}
    with serve_app(app) as url:
        longest = httpx.get(
            f"{url}/api/memory/search", params={"q": "\U0001f400" * 4000}, headers=headers
        )
        assert longest.status_code == 200, longest.text
        over = httpx.get(f"{url}/api/memory/search", params={"q": "x" * 4001}, headers=headers)
        assert over.status_code == 400
        assert over.json()["error"]["code"] == "invalid_request"
