"""Bugs the fuzz test (tests/fuzz) found, each pinned: they were 500s, now a 4xx in the
dialect's shape with nothing stored."""

from __future__ import annotations

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.asyncio

JSON = {"Content-Type": "application/json"}


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
async def test_a_lone_surrogate_escape_is_a_400_in_the_dialects_shape(
    env: Env, path: str, raw: bytes, error: object
) -> None:
    answer = await env.client.post(path, content=raw, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert error(answer.json())  # type: ignore[operator]
    assert (await env.client.get("/api/sessions")).json()["total"] == 0
    assert (await env.client.get("/sessions")).json() == []


async def test_a_nul_in_a_chat_message_is_refused_before_a_session_is_made(env: Env) -> None:
    # PostgreSQL cannot store it; refusing it everywhere keeps the backends alike.
    answer = await env.client.post("/api/chat", json={"message": "a\x00b"})
    assert answer.status_code == 400
    assert "NUL" in answer.json()["error"]["message"]
    assert (await env.client.get("/api/sessions")).json()["total"] == 0
