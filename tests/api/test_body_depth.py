"""Deeply nested JSON: one bound (`[limits] max_json_depth`) on every way a body enters,
answered with the dialect's own 400 (a WebSocket frame: an `invalid_request` message),
never a RecursionError's 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roost.api.bodies import DepthScanner, json_too_deep
from roost.config import LimitSettings, Settings
from tests.api.dialect_shapes import error_shape_ok
from tests.api.memgpt_helpers import new_agent
from tests.api.wsclient import AsgiSocket
from tests.conftest import ADMIN_PASSWORD, Env, running

LIMIT = LimitSettings().max_json_depth
ARRAYS = "[" * 50_000 + "]" * 50_000


def deep_object(levels: int) -> dict[str, Any]:
    """A JSON schema whose objects nest `levels` deep through `properties`."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def nested_text(levels: int) -> str:
    """`{"a": ... }` nested `levels` deep, written out (json.dumps would recurse)."""
    return '{"a":' * levels + "1" + "}" * levels


# --- the scanner --------------------------------------------------------------------------


def test_the_default_fits_the_deepest_documents_we_accept() -> None:
    assert LIMIT == 128
    # A tool whose schema nests 32 subschemas (the llama.cpp grammar's own bound) fits,
    # wrapped in a chat completion request.
    tool = {"type": "function", "function": {"name": "f", "parameters": deep_object(32)}}
    body = json.dumps({"messages": [{"role": "user", "content": "x"}], "tools": [tool]})
    assert not json_too_deep(body.encode(), LIMIT)
    assert json_too_deep(ARRAYS.encode(), LIMIT)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "{{{{"]', 1),  # brackets in strings do not count
        (r'["\"[[[[", "\\", [[]]]', 3),  # nor do escaped quotes end a string
        ("]]]][[", 2),  # not JSON; counted, never below zero
        ("[[]]]]][[[", 3),
        ("plain text, no JSON", 0),
    ],
)
def test_depth_is_counted_outside_strings(text: str, depth: int) -> None:
    whole = DepthScanner()
    whole.feed(text.encode())
    assert whole.deepest == depth
    bytewise = DepthScanner()  # the same, whatever the chunks a body arrives in
    for byte in text.encode():
        bytewise.feed(bytes([byte]))
    assert bytewise.deepest == depth


# --- every dialect ------------------------------------------------------------------------

TOO_DEEP = LIMIT + 1


def _chat(**extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hi"}], **extra}


def _tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def _openai_bodies() -> list[str]:
    schema = nested_text(480)  # the review's 480 objects deep
    response_format = (
        '{"type": "json_schema", "json_schema": {"name": "x", "schema": ' + schema + "}}"
    )
    tools = '[{"type": "function", "function": {"name": "f", "parameters": ' + schema + "}}]"
    head = '{"messages": [{"role": "user", "content": "hi"}], '
    return [head + '"response_format": ' + response_format + "}", head + '"tools": ' + tools + "}"]


async def _paths(env: Env) -> list[tuple[str, str, str, dict[str, str]]]:
    """(dialect, path, body, headers): every kind of JSON write, each too deep."""
    llamachat = await env.client.post("/api/conversations")
    assert llamachat.status_code == 200, llamachat.text
    conversation = llamachat.json()["id"]
    agent_id = await new_agent(env.client)
    deep = '{"content": ' + nested_text(TOO_DEEP) + "}"
    json_type = {"Content-Type": "application/json"}
    text_type = {"Content-Type": "text/plain"}
    cases = [
        ("chatnvim", "/", ARRAYS, json_type),
        ("chatnvim", "/", ARRAYS, text_type),
        ("chatnvim", "/", deep, {}),
        ("llamachat", f"/api/conversations/{conversation}/messages", ARRAYS, json_type),
        ("llamachat", f"/api/conversations/{conversation}/messages", deep, text_type),
        ("native", "/api/chat", deep, json_type),
        ("native", "/api/sessions", deep, json_type),
        ("kernel2", "/api/kernel2/chat", deep, json_type),
        ("memgpt", f"/api/agents/{agent_id}/messages", deep, json_type),
        ("memgpt", "/api/agents", ARRAYS, json_type),
        ("openai", "/v1/chat/completions", ARRAYS, json_type),
        ("openai", "/v1/embeddings", deep, json_type),
    ]
    cases += [("openai", "/v1/chat/completions", body, json_type) for body in _openai_bodies()]
    cases += [("kernel2", "/api/kernel2/chat", body, json_type) for body in _openai_bodies()]
    return cases


async def test_deep_bodies_are_400_in_every_dialect(env: Env) -> None:
    for dialect, path, body, headers in await _paths(env):
        response = await env.client.post(path, content=body, headers=headers)
        assert response.status_code == 400, (dialect, path, response.text[:300])
        assert error_shape_ok(dialect, 400, response.json()), (dialect, response.text)
        assert "nested deeper than" in response.text, response.text
    # Nothing was stored or queued.
    assert (await env.client.get("/api/queue")).json()["messages"] == []


async def test_a_chunked_deep_body_is_400(env: Env) -> None:
    async def chunks() -> Any:
        for start in range(0, len(ARRAYS), 1000):
            yield ARRAYS[start : start + 1000].encode()

    response = await env.client.post(
        "/", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert error_shape_ok("chatnvim", 400, response.json())


async def test_deep_json_in_a_string_is_400(env: Env) -> None:
    # Tool-call arguments are JSON inside a string: the same bound applies when parsed.
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ARRAYS}}
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ]
    }
    response = await env.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert error_shape_ok("openai", 400, response.json())


async def test_the_bound_is_a_setting(settings: Settings) -> None:
    settings.limits.max_json_depth = 8
    async with running(settings) as env:
        ok = await env.client.post("/v1/chat/completions", json=_chat(metadata={"a": "b"}))
        assert ok.status_code == 200, ok.text
        deep = _chat(tools=[_tool(deep_object(4))])  # 5 + 8 levels
        response = await env.client.post("/v1/chat/completions", json=deep)
        assert response.status_code == 400, response.text
        assert "nested deeper than 8 levels" in response.text


async def test_a_deep_websocket_frame_is_an_invalid_request_message(env: Env) -> None:
    async with AsgiSocket(env.app, headers={"X-API-Key": ADMIN_PASSWORD}) as ws:
        assert (await ws.receive())["type"] == "connected"
        await ws.send_text("[" * 2000 + "]" * 2000)
        error = await ws.receive()
        assert error["type"] == "error", error
        assert error["error"]["code"] == "invalid_request"
        assert "nested deeper than" in error["error"]["message"]
        await ws.send(type="ping", id="still-here")  # the connection is still open
        assert (await ws.receive()) == {"type": "pong", "id": "still-here"}
