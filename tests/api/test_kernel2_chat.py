"""POST /api/kernel2/chat (seed 001) on the scripted model."""

from __future__ import annotations

from typing import Any

import pytest

from roost.core.errors import ProviderError
from roost.providers.base import TextChunk
from roost.providers.scripted import reply
from tests.conftest import Env, sse_events

pytestmark = pytest.mark.asyncio

SEED_BODY = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello, who are you?"},
        {"role": "assistant", "content": "I am a helpful assistant."},
        {"role": "user", "content": "What can you do for me?"},
    ],
    "metadata": {"enable_l0_retrieval": True, "role_id": None},
    "stream": True,
    "model": "gpt-3.5-turbo",
    "temperature": 0.1,
    "max_tokens": 2000,
}


async def test_streams_seed_chunks_by_default(env: Env) -> None:
    env.scripts.queue.append(reply("I can help."))
    body = {"messages": [{"role": "user", "content": "Tell me about AI."}]}
    response = await env.client.post("/api/kernel2/chat", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        assert set(chunk) == {"id", "object", "created", "model", "system_fingerprint", "choices"}
        assert chunk["object"] == "chat.completion.chunk"
        assert set(chunk["choices"][0]) >= {"index", "delta", "finish_reason"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "I can help."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # The seed's defaults reach the model.
    sent = env.provider.requests[-1].options
    assert sent.temperature == 0.1
    assert sent.max_tokens == 2000


async def test_seed_request_with_unknown_model_uses_the_default(env: Env) -> None:
    body = {**SEED_BODY, "metadata": {"enable_l0_retrieval": True}}
    events = sse_events((await env.client.post("/api/kernel2/chat", json=body)).text)
    assert events[0]["model"] == "scripted"
    sent = env.provider.requests[-1]
    assert [m.role for m in sent.messages] == ["system", "user", "assistant", "user"]


async def test_not_streamed(env: Env) -> None:
    env.scripts.queue.append(reply("Fine."))
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
    response = await env.client.post("/api/kernel2/chat", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["object"] == "chat.completion"
    assert result["choices"][0]["message"]["content"] == "Fine."


async def test_role_system_prompt_is_used(env: Env) -> None:
    created = await env.client.post(
        "/api/kernel2/roles",
        json={"name": "pirate", "system_prompt": "Talk like a pirate."},
    )
    role_id = created.json()["data"]["id"]
    body = {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "hello"},
        ],
        "metadata": {"role_id": role_id},
        "stream": False,
    }
    assert (await env.client.post("/api/kernel2/chat", json=body)).status_code == 200
    sent = env.provider.requests[-1].messages
    assert [(m.role, m.content) for m in sent] == [
        ("system", "Talk like a pirate."),
        ("user", "hello"),
    ]


async def test_unknown_or_foreign_role_is_404_in_kernel2_shape(env: Env) -> None:
    other = await env.new_user_key("other")
    created = await env.client.post(
        "/api/kernel2/roles", json={"name": "mine", "system_prompt": "secret prompt"}
    )
    role_id = created.json()["data"]["id"]
    body = {"messages": [{"role": "user", "content": "x"}], "metadata": {"role_id": role_id}}
    response = await env.client.post("/api/kernel2/chat", json=body, headers={"X-API-Key": other})
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": response.json()["message"], "code": 404}
    assert env.provider.requests == []


BAD: list[tuple[str, dict[str, Any]]] = [
    ("missing messages", {"stream": False}),
    ("wrong role", {"messages": [{"role": "robot", "content": "x"}]}),
    ("content wrong type", {"messages": [{"role": "user", "content": ["x"]}]}),
    (
        "temperature out of range",
        {"messages": [{"role": "user", "content": "x"}], "temperature": 9},
    ),
    ("10,000 messages", {"messages": [{"role": "user", "content": "x"}] * 10_000}),
]


@pytest.mark.parametrize(("name", "body"), BAD, ids=[b[0] for b in BAD])
async def test_bad_requests_are_400_in_kernel2_shape(
    env: Env, name: str, body: dict[str, Any]
) -> None:
    response = await env.client.post("/api/kernel2/chat", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["code"] == 400
    assert payload["message"]
    assert env.provider.requests == []


async def test_no_key_is_401_in_kernel2_shape(env: Env) -> None:
    response = await env.client.post(
        "/api/kernel2/chat",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers={"X-API-Key": ""},
    )
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["code"] == 401


async def test_upstream_failure_is_502(env: Env) -> None:
    env.scripts.queue.append([ProviderError("connection refused")])
    response = await env.client.post(
        "/api/kernel2/chat", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 502
    assert response.json()["code"] == 502
    assert "refused" in response.json()["message"]


async def test_failure_mid_stream_keeps_a_choices_entry(env: Env) -> None:
    env.scripts.queue.append([TextChunk("par"), ProviderError("stream cut")])
    response = await env.client.post(
        "/api/kernel2/chat", json={"messages": [{"role": "user", "content": "x"}]}
    )
    events = sse_events(response.text)
    error = events[-2]
    assert error["success"] is False
    assert error["code"] == 502
    assert error["choices"][0]["finish_reason"] == "error"
    assert events[-1] == "[DONE]"
