"""Bad input to /v1/responses: a 400 in OpenAI's error shape naming the field, never a
500; bounds from [limits]."""

from __future__ import annotations

from typing import Any

import pytest

from roost.config import Settings
from tests.api.dialect_shapes import error_shape_ok
from tests.conftest import Env, running

pytestmark = pytest.mark.asyncio

TOOL = {"type": "function", "name": "f", "parameters": {}, "strict": False}
BAD: list[tuple[dict[str, Any], str]] = [
    ({"model": "scripted"}, "input"),
    ({"model": "scripted", "input": ""}, "input"),
    ({"model": "scripted", "input": []}, "input"),
    ({"model": "scripted", "input": 7}, "input"),
    ({"model": "scripted", "input": [{"role": "robot", "content": "x"}]}, "input.0"),
    ({"model": "scripted", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0"),
    (
        {
            "model": "scripted",
            "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}],
        },
        "input.0.content",
    ),
    (
        {
            "model": "scripted",
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{not json"},
            ],
        },
        "input.1",
    ),
    (
        {
            "model": "scripted",
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"},
            ],
        },
        "input.1",
    ),
    ({"model": "scripted", "input": "x", "tools": [{"type": "web_search"}]}, "tools.0.type"),
    ({"model": "scripted", "input": "x", "tools": [{"type": "function"}]}, "tools.0"),
    (
        {"model": "scripted", "input": "x", "text": {"format": {"type": "json_schema"}}},
        "text.format.schema",
    ),
    ({"model": "scripted", "input": "x", "text": {"format": {"type": "xml"}}}, "text.format"),
    ({"model": "scripted", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "scripted", "input": "x", "top_p": -1}, "top_p"),
    ({"model": "scripted", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    (
        {"model": "scripted", "input": "x", "metadata": {f"k{i}": "v" for i in range(17)}},
        "metadata",
    ),
    ({"model": "scripted", "input": "x", "metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"model": "scripted", "input": "x", "background": True}, "background"),
    ({"model": "scripted", "input": "x", "conversation": "conv_1"}, "conversation"),
    ({"model": "scripted", "input": "x", "tool_choice": "required"}, "tool_choice"),
    (
        {
            "model": "scripted",
            "input": "x",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "g"},
        },
        "tool_choice",
    ),
    ({"model": "scripted", "input": "x", "previous_response_id": ""}, "previous_response_id"),
    ({"model": "scripted", "input": "x", "truncation": "sometimes"}, "truncation"),
    ({"model": "scripted", "input": "x", "keep_alive": "forever"}, "keep_alive"),
    ({"model": "x" * 300, "input": "x"}, "model"),
    (
        {"model": "scripted", "input": [{"role": "assistant", "content": "prefill"}]},
        "messages",
    ),
    ({"model": "scripted", "input": "\x00"}, "message"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[p for _, p in BAD])
async def test_bad_input_is_a_400_naming_the_field(
    env: Env, body: dict[str, Any], param: str
) -> None:
    response = await env.client.post("/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error_shape_ok("responses", 400, error)
    assert error["error"]["type"] == "invalid_request_error"
    assert (error["error"]["param"] or "").startswith(param), error
    assert (await env.client.get("/api/sessions")).json()["total"] == 0


async def test_not_json_and_no_body(env: Env) -> None:
    for kwargs in ({"content": b"{nope"}, {}):
        response = await env.client.post(
            "/v1/responses", headers={"content-type": "application/json"}, **kwargs
        )
        assert response.status_code == 400
        assert error_shape_ok("responses", 400, response.json())


async def test_bad_query_and_path(env: Env) -> None:
    made = await env.client.post("/v1/responses", json={"model": "scripted", "input": "x"})
    rid = made.json()["id"]
    for params in ({"limit": "0"}, {"limit": "101"}, {"order": "sideways"}, {"after": "x" * 65}):
        response = await env.client.get(f"/v1/responses/{rid}/input_items", params=params)
        assert response.status_code == 400, params
        assert error_shape_ok("responses", 400, response.json())
    response = await env.client.get(f"/v1/responses/{'r' * 65}")
    assert response.status_code in (400, 404)
    assert error_shape_ok("responses", response.status_code, response.json())


async def test_limits_apply(settings: Settings) -> None:
    settings.limits.max_messages = 3
    settings.limits.max_message_chars = 50
    async with running(settings) as env:
        many = [{"role": "user", "content": f"m{i}"} for i in range(4)]
        response = await env.client.post("/v1/responses", json={"model": "scripted", "input": many})
        assert response.status_code == 400
        assert "at most 3" in response.json()["error"]["message"]
        long = {"model": "scripted", "input": "x" * 51}
        response = await env.client.post("/v1/responses", json=long)
        assert response.status_code == 400
        assert "50 characters" in response.json()["error"]["message"]
        # A conversation continued past the bound: the history counts too.
        first = await env.client.post("/v1/responses", json={"model": "scripted", "input": "a"})
        assert first.status_code == 200
        more = {"model": "scripted", "input": "b", "previous_response_id": first.json()["id"]}
        second = await env.client.post("/v1/responses", json=more)
        assert second.status_code == 200
        more["previous_response_id"] = second.json()["id"]
        third = await env.client.post("/v1/responses", json=more)
        assert third.status_code == 400
        assert "at most 3" in third.json()["error"]["message"]
