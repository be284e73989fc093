"""Malformed /v1 requests: 400 in OpenAI's error shape, and nothing stored or generated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.asyncio

USER = {"role": "user", "content": "hi"}


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "scripted", "messages": [USER], **fields}


BAD: list[tuple[str, dict[str, Any], str | None]] = [
    ("missing messages", {"model": "scripted"}, "messages"),
    ("empty messages", chat(messages=[]), "messages"),
    ("wrong role", chat(messages=[{"role": "wizard", "content": "x"}]), None),
    ("content wrong type", chat(messages=[{"role": "user", "content": 42}]), None),
    ("content missing", chat(messages=[{"role": "user"}]), None),
    ("temperature too high", chat(temperature=3.5), "temperature"),
    ("temperature wrong type", chat(temperature="hot"), "temperature"),
    ("top_p out of range", chat(top_p=1.5), "top_p"),
    ("max_tokens zero", chat(max_tokens=0), "max_tokens"),
    ("n above one", chat(n=3), "n"),
    ("too many stops", chat(stop=["a", "b", "c", "d", "e"]), "stop"),
    ("logprobs", chat(logprobs=True), "logprobs"),
    ("image part", chat(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), None),
    ("tool_choice without tools", chat(tool_choice="required"), "tool_choice"),
    (
        "tool_choice unknown tool",
        chat(
            tools=[{"type": "function", "function": {"name": "a"}}],
            tool_choice={"type": "function", "function": {"name": "b"}},
        ),
        "tool_choice",
    ),
    ("bad tool name", chat(tools=[{"type": "function", "function": {"name": "a b"}}]), None),
    (
        "json_schema without schema",
        chat(response_format={"type": "json_schema"}),
        "response_format.json_schema",
    ),
    (
        "assistant tool call with broken arguments",
        chat(
            messages=[
                USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}
                    ],
                },
            ]
        ),
        "messages.1.tool_calls.0",
    ),
    ("10,000 messages", chat(messages=[USER] * 10_000), "messages"),
    ("stream not a bool", chat(stream="maybe"), "stream"),
]


@pytest.mark.parametrize(("name", "body", "param"), BAD, ids=[b[0] for b in BAD])
async def test_bad_request_is_400_in_openai_shape(
    env: Env, name: str, body: dict[str, Any], param: str | None
) -> None:
    response = await env.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    assert env.provider.requests == []  # the model was never asked
    assert (await env.client.get("/api/sessions")).json()["total"] == 0


async def test_invalid_json_body(env: Env) -> None:
    response = await env.client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_route_under_v1_is_openai_shaped_404(env: Env) -> None:
    response = await env.client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_no_key_is_401_in_openai_shape(env: Env) -> None:
    response = await env.client.get("/v1/models", headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


async def test_embeddings_on_a_model_that_cannot_embed(env: Env) -> None:
    response = await env.client.post("/v1/embeddings", json={"model": "scripted", "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    "body",
    [{"model": "scripted"}, {"model": "scripted", "input": []}, {"model": "scripted", "input": ""}],
)
async def test_embeddings_bad_input(env: Env, body: dict[str, Any]) -> None:
    response = await env.client.post("/v1/embeddings", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
