"""Bad input: a clear 4xx in the envelope, and nothing stored."""

from __future__ import annotations

import pytest

from tests.conftest import Env


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"message": 5}', 400, "message"),
        (b"{}", 400, "Missing required parameter: message"),
        (b"{not json", 400, "not valid JSON"),
        (b'{"message": ""}', 400, "must not be empty"),
        (b'{"message": "   "}', 400, "must not be empty"),
        (b'{"message": "hi", "include_memory": "yes"}', 400, "include_memory"),
        (b'{"message": "hi", "session_id": 7}', 400, "session_id"),
        (b"[1, 2]", 400, ""),
    ],
)
async def test_bad_chat_bodies_are_400(env: Env, body: bytes, status: int, fragment: str) -> None:
    for path in ("/api/chat", "/api/chat/stream"):
        response = await env.client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert fragment in error["message"]
    assert (await env.client.get("/api/sessions")).json()["sessions"] == []
    assert env.provider.requests == []


async def test_ten_megabyte_body_is_413(env: Env) -> None:
    big = b'{"message": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    response = await env.client.post(
        "/api/chat", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert (await env.client.get("/api/sessions")).json()["sessions"] == []


async def test_chunked_body_over_the_limit_is_413(env: Env) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"message": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    response = await env.client.post(
        "/api/chat", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert (await env.client.get("/api/sessions")).json()["sessions"] == []


async def test_message_over_the_character_bound_is_400(env: Env) -> None:
    limit = env.services.settings.limits.max_message_chars
    response = await env.client.post("/api/chat", json={"message": "a" * (limit + 1)})
    assert response.status_code == 400
    assert "longer than" in response.json()["error"]["message"]


async def test_unknown_route_and_method_use_the_envelope(env: Env) -> None:
    missing = await env.client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await env.client.put("/api/chat", json={"message": "x"})
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def test_bad_list_parameters_are_400(env: Env) -> None:
    for query in ("limit=0", "limit=100000", "offset=-1", "limit=abc"):
        response = await env.client.get(f"/api/sessions?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid_request"
