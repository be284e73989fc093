"""Each dialect's write path as the fault tests drive it: send a message, read the error
it answered with (in that dialect's own shape, strictly checked), read what was stored.

`send` returns the raw response; `error_of` returns the error message the client saw, or
None for a successful answer, and fails the test if the shape is not the dialect's;
`reply_of` returns the reply text of a successful answer; `stored` returns the
conversation as (role, content, error) rows, or None for a stateless dialect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.memgpt_helpers import events_of, new_agent
from tests.conftest import Env, sse_events
from tests.upstreams import ToolCall

Row = tuple[str, str, str | None]
SEND_MESSAGE = ToolCall(
    "send_message", {"inner_thoughts": "Answer.", "message": "Agent reply"}, id="call_1"
)


@dataclass(frozen=True)
class Dialect:
    name: str
    prepare: Callable[[Env], Awaitable[str]]  # a session, conversation or agent id
    send: Callable[[Env, str, str], Awaitable[httpx.Response]]
    error_of: Callable[[httpx.Response], str | None]
    reply_of: Callable[[httpx.Response], str]
    stored: Callable[[Env, str], Awaitable[list[Row] | None]]
    # How the upstream answers a good turn (echo: "re: <message>").
    good: dict[str, Any] | None = None
    stateless: bool = False

    def __str__(self) -> str:
        return self.name


def _json(response: httpx.Response) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()


def _is_sse(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


# --- native -------------------------------------------------------------------------


async def _new_session(env: Env) -> str:
    response = await env.client.post("/api/sessions")
    assert response.status_code == 200, response.text
    return str(response.json()["session_id"])


async def _native_send(env: Env, session: str, text: str) -> httpx.Response:
    return await env.client.post("/api/chat", json={"message": text, "session_id": session})


def _native_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if response.status_code == 200:
        return None
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert (response.status_code, body["error"]["code"]) in _STATUS_CODES, response.text
    return str(body["error"]["message"])


_STATUS_CODES = {(502, "provider_error"), (503, "unavailable")}


async def _native_stream_send(env: Env, session: str, text: str) -> httpx.Response:
    body = {"message": text, "session_id": session}
    return await env.client.post("/api/chat/stream", json=body)


def _native_stream_error(response: httpx.Response) -> str | None:
    if not _is_sse(response):  # refused before the stream opened
        return _native_error(response)
    events = sse_events(response.text)
    assert events[-1] == "[DONE]", events
    errors = [e for e in events[:-1] if e.get("type") == "error"]
    if not errors:
        return None
    assert errors == [events[-2]], events  # the error ends the stream
    assert set(errors[0]["error"]) == {"code", "message"}, errors
    assert errors[0]["error"]["code"] in {c for _, c in _STATUS_CODES}, errors
    return str(errors[0]["error"]["message"])


def _native_stream_reply(response: httpx.Response) -> str:
    events = sse_events(response.text)
    return "".join(e["delta"] for e in events[:-1] if e.get("type") == "content")


async def _native_stored(env: Env, session: str) -> list[Row]:
    detail = (await env.client.get(f"/api/sessions/{session}")).json()
    return [(m["role"], m["content"], m["error"]) for m in detail["messages"]]


NATIVE = Dialect(
    "native",
    _new_session,
    _native_send,
    _native_error,
    lambda r: str(r.json()["response"]),
    _native_stored,
)
NATIVE_STREAM = Dialect(
    "native-stream",
    _new_session,
    _native_stream_send,
    _native_stream_error,
    _native_stream_reply,
    _native_stored,
)

# --- OpenAI /v1 and kernel2 ------------------------------------------------------------


def _openai_error_object(response: httpx.Response, body: Any) -> str:
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, body
    status = response.status_code
    kinds = {502: "upstream_error", 503: "server_error"}
    assert (status, error["code"]) in _STATUS_CODES, body
    assert error["type"] == kinds[status], body
    return str(error["message"])


def _openai_error(response: httpx.Response) -> str | None:
    if not _is_sse(response):
        body = _json(response)
        return None if response.status_code == 200 else _openai_error_object(response, body)
    events = sse_events(response.text)
    assert events[-1] == "[DONE]", events
    if "error" not in events[-2]:
        return None
    error = events[-2]["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return str(error["message"])


def _openai_reply(response: httpx.Response) -> str:
    if not _is_sse(response):
        return str(response.json()["choices"][0]["message"]["content"])
    events = sse_events(response.text)
    chunks = [e for e in events[:-1] if e.get("choices")]
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in chunks)


def _v1_send(stream: bool, stored: bool) -> Callable[[Env, str, str], Awaitable[httpx.Response]]:
    async def send(env: Env, session: str, text: str) -> httpx.Response:
        body: dict[str, Any] = {
            "model": "remote",
            "messages": [{"role": "user", "content": text}],
            "stream": stream,
        }
        if stored:
            body["metadata"] = {"session_id": session}
        return await env.client.post("/v1/chat/completions", json=body)

    return send


async def _named_session(env: Env) -> str:
    return "faults-session"


async def _nothing_stored(env: Env, session: str) -> None:
    return None


async def _v1_stored(env: Env, session: str) -> list[Row]:
    # The turn runs on whether or not the client reads on; wait for it to be saved.
    for _ in range(100):
        rows = await _native_stored(env, session)
        if rows and rows[-1][0] == "assistant":
            return rows
        await asyncio.sleep(0.05)
    return await _native_stored(env, session)


V1 = Dialect("v1", _named_session, _v1_send(False, True), _openai_error, _openai_reply, _v1_stored)
V1_STREAM = Dialect(
    "v1-stream", _named_session, _v1_send(True, True), _openai_error, _openai_reply, _v1_stored
)
V1_STATELESS = Dialect(
    "v1-stateless",
    _named_session,
    _v1_send(True, False),
    _openai_error,
    _openai_reply,
    _nothing_stored,
    stateless=True,
)


def _kernel2_send(stream: bool) -> Callable[[Env, str, str], Awaitable[httpx.Response]]:
    async def send(env: Env, session: str, text: str) -> httpx.Response:
        body = {"messages": [{"role": "user", "content": text}], "stream": stream}
        return await env.client.post("/api/kernel2/chat", json=body)

    return send


def _kernel2_error(response: httpx.Response) -> str | None:
    if not _is_sse(response):
        body = _json(response)
        if response.status_code == 200:
            return None
        assert set(body) == {"success", "message", "code"}, body
        assert body["success"] is False, body
        assert body["code"] == response.status_code, body
        assert response.status_code in (502, 503), body
        return str(body["message"])
    events = sse_events(response.text)
    assert events[-1] == "[DONE]", events
    last = events[-2]
    if last.get("success") is not False:
        return None
    assert last["code"] in (502, 503), last
    assert last["choices"][0]["finish_reason"] == "error", last
    return str(last["message"])


KERNEL2 = Dialect(
    "kernel2-stream",
    _named_session,
    _kernel2_send(True),
    _kernel2_error,
    _openai_reply,
    _nothing_stored,
    stateless=True,
)
KERNEL2_JSON = Dialect(
    "kernel2-json",
    _named_session,
    _kernel2_send(False),
    _kernel2_error,
    _openai_reply,
    _nothing_stored,
    stateless=True,
)

# --- LlamaChat -----------------------------------------------------------------------


async def _llamachat_new(env: Env) -> str:
    response = await env.client.post("/api/conversations")
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def _llamachat_send(env: Env, conversation: str, text: str) -> httpx.Response:
    return await env.client.post(
        f"/api/conversations/{conversation}/messages", json={"content": text}
    )


def _flat_error(response: httpx.Response) -> str | None:
    body = _json(response)
    if response.status_code == 200:
        return None
    assert response.status_code in (502, 503), body
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str), body
    return body["error"]


async def _llamachat_stored(env: Env, conversation: str) -> list[Row]:
    detail = (await env.client.get(f"/api/conversations/{conversation}")).json()
    return [(m["role"], m["content"], m["error"]) for m in detail["messages"]]


LLAMACHAT = Dialect(
    "llamachat",
    _llamachat_new,
    _llamachat_send,
    _flat_error,
    lambda r: str(r.json()["content"]),
    _llamachat_stored,
)

# --- MemGPT --------------------------------------------------------------------------


def _memgpt_sender(stream: bool) -> Callable[[Env, str, str], Awaitable[httpx.Response]]:
    async def send(env: Env, agent: str, text: str) -> httpx.Response:
        body = {"message": text, "stream": stream}
        return await env.client.post(f"/api/agents/{agent}/messages", json=body)

    return send


def _memgpt_error(response: httpx.Response) -> str | None:
    if not _is_sse(response):
        body = _json(response)
        if response.status_code == 200:
            return None
        assert response.status_code in (502, 503), body
        assert set(body) == {"detail"}, body
        return str(body["detail"])
    events = [e for e in events_of(response.text) if not isinstance(e, str)]
    errors = [e for e in events if "error" in e]
    if not errors:
        return None
    assert errors == [events[-1]], events
    assert set(errors[0]) == {"error"}, events
    return str(errors[0]["error"])


def _memgpt_reply(response: httpx.Response) -> str:
    if not _is_sse(response):
        messages = response.json()["messages"]
    else:
        messages = [e for e in events_of(response.text) if not isinstance(e, str)]
    return "".join(m.get("assistant_message", "") for m in messages)


async def _memgpt_stored(env: Env, agent: str) -> list[Row]:
    """The agent's recall from the first message a client sent (after MemGPT's own
    greeting and login event): user messages, and a row per reply sent to the user."""
    response = await env.client.get(
        f"/api/agents/{agent}/messages", params={"start": 0, "count": 500}
    )
    rows: list[Row] = []
    for message in reversed(response.json()["messages"]):  # listed newest first
        if message["role"] == "user":
            packed = json.loads(message["text"]) if message.get("text") else {}
            if packed.get("type") == "user_message":
                rows.append(("user", str(packed["message"]), None))
        elif message["role"] == "assistant" and rows:
            rows.append(("assistant", "", None))
    return rows


async def _new_agent(env: Env) -> str:
    return await new_agent(env.client)


MEMGPT_GOOD = {"reply": "", "tool_calls": (SEND_MESSAGE,), "echo": False}
MEMGPT = Dialect(
    "memgpt",
    _new_agent,
    _memgpt_sender(False),
    _memgpt_error,
    _memgpt_reply,
    _memgpt_stored,
    good=MEMGPT_GOOD,
)
MEMGPT_STREAM = Dialect(
    "memgpt-stream",
    _new_agent,
    _memgpt_sender(True),
    _memgpt_error,
    _memgpt_reply,
    _memgpt_stored,
    good=MEMGPT_GOOD,
)

# --- chat.nvim: POST / queues; the worker answers later -------------------------------


async def _chatnvim_send(env: Env, session: str, text: str) -> httpx.Response:
    return await env.client.post("/", json={"session": session, "content": text})


def _chatnvim_error(response: httpx.Response) -> str | None:
    if response.status_code == 204:
        return None
    return _flat_error(response)


async def drained(env: Env, seconds: float = 30) -> None:
    """Wait until the inbox has nothing pending or being delivered (failed ones stay)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        items = (await env.client.get("/api/queue")).json()["messages"]
        if all(item["state"] == "failed" for item in items):
            return
        assert asyncio.get_running_loop().time() < deadline, "the inbox did not drain"
        await asyncio.sleep(0.05)


async def _chatnvim_stored(env: Env, session: str) -> list[Row]:
    await drained(env)
    return await _native_stored(env, session)


CHATNVIM = Dialect(
    "chatnvim",
    _named_session,
    _chatnvim_send,
    _chatnvim_error,
    lambda r: "",
    _chatnvim_stored,
)

ALL = [
    NATIVE,
    NATIVE_STREAM,
    V1,
    V1_STREAM,
    V1_STATELESS,
    KERNEL2,
    KERNEL2_JSON,
    LLAMACHAT,
    MEMGPT,
    MEMGPT_STREAM,
]
