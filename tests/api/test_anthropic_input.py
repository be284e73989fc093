"""/v1/messages beyond the happy path: bad input and failures in Anthropic's error shape,
count_tokens, the Anthropic shape of /v1/models, and the conversation a client's resent
history is kept in (one per conversation, per user)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest

from roost.core.errors import ProviderError, Unavailable
from roost.providers.base import Finish, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.api.dialect_shapes import error_shape_ok
from tests.api.sseclient import AsgiStream
from tests.conftest import ADMIN_PASSWORD, Env

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:31327"
HI = [{"role": "user", "content": "hi"}]
VERSION = {"anthropic-version": "2023-06-01"}


def client(env: Env, key: str = ADMIN_PASSWORD) -> anthropic.AsyncAnthropic:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=env.app))
    return anthropic.AsyncAnthropic(base_url=BASE, api_key=key, http_client=http, max_retries=0)


@pytest.fixture
async def sdk(env: Env) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with client(env) as value:
        yield value


async def refused(env: Env, body: Any, status: int = 400, **kwargs: Any) -> str:
    """POST /v1/messages: the status, Anthropic's error body; its message."""
    response = await env.client.post("/v1/messages", json=body, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()
    assert error_shape_ok("anthropic", status, error), error
    kind = {400: "invalid_request_error", 404: "not_found_error", 401: "authentication_error"}
    if status in kind:
        assert error["error"]["type"] == kind[status]
    return str(error["error"]["message"])


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "scripted", "max_tokens": 20, "messages": HI, **fields}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**9}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"stop_sequences": ["s"] * 17}, "stop_sequences"),
        ({"stop_sequences": ["x" * 257]}, "stop_sequences"),
        ({"system": 5}, "system"),
        ({"tools": [{"name": "bad name!", "input_schema": {}}]}, "tools"),
        ({"tools": [{"name": "f"}]}, "input_schema"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice"),
        ({"tool_choice": {"type": "tool", "name": "f"}}, "tool_choice"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
        ({"thinking": {"type": "enabled"}}, "budget_tokens"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            "'image' are not supported",
        ),
        (
            {"messages": [*HI, {"role": "assistant", "content": "The answer is"}]},
            "prefill",
        ),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search", "input_schema": {}}]},
            "server tools",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}
                ]
            },
            "assistant turns",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "image", "source": {}}],
                            }
                        ],
                    }
                ]
            },
            "'image' are not supported",
        ),
        ({"messages": [{"role": "user", "content": "x" * 100_001}]}, "longer than"),
    ],
)
async def test_bad_input_is_a_400_in_anthropic_shape(
    env: Env, fields: dict[str, Any], says: str
) -> None:
    sent = {k: v for k, v in body(**fields).items() if v is not None}
    assert says in await refused(env, sent)
    assert env.provider.requests == []  # nothing reached the model


async def test_not_json_and_no_body(env: Env) -> None:
    headers = {"Content-Type": "application/json"}
    assert "JSON" in await refused(env, None, content=b"{not json", headers=headers)
    assert "Missing required" in await refused(env, None, headers=headers)


async def test_too_many_messages_is_refused(env: Env) -> None:
    env.services.settings.limits.max_messages = 3
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x"} for i in range(5)]
    assert "at most 3" in await refused(env, body(messages=history))


async def test_unknown_model_is_a_404_not_found_error(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=10, messages=HI)  # type: ignore[arg-type]
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "claude-sonnet-5-5" in await refused(env, body(model="claude-sonnet-5-5"), 404)


async def test_a_wrong_key_is_authentication_error(env: Env) -> None:
    async with client(env, key="roost_wrong") as bad:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await bad.messages.create(model="scripted", max_tokens=10, messages=HI)  # type: ignore[arg-type]
        assert caught.value.body["type"] == "error"  # type: ignore[index]
        assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        with pytest.raises(anthropic.AuthenticationError):
            await bad.messages.count_tokens(model="scripted", messages=HI)  # type: ignore[arg-type]
        with pytest.raises(anthropic.AuthenticationError):
            await bad.models.list()
    no_key = await env.client.post("/v1/messages", json=body(), headers={"X-API-Key": ""})
    assert no_key.status_code == 401
    assert error_shape_ok("anthropic", 401, no_key.json())


async def test_a_model_that_fails_before_answering(env: Env) -> None:
    env.scripts.queue.append([ProviderError("upstream refused the connection")])
    response = await env.client.post("/v1/messages", json=body())
    assert response.status_code == 502
    assert response.json()["error"] == {
        "type": "api_error",
        "message": "upstream refused the connection",
    }
    assert response.headers["x-should-retry"] == "false"  # the SDK would try twice more
    env.scripts.queue.append([ProviderError("upstream refused the connection")])
    streamed = await env.client.post("/v1/messages", json=body(stream=True))
    assert streamed.status_code == 502  # nothing was sent yet: a plain HTTP error
    assert error_shape_ok("anthropic", 502, streamed.json())


async def test_a_busy_model_may_be_retried(env: Env) -> None:
    env.scripts.queue.append([Unavailable("model 'scripted' is busy", retry_after=3)])
    response = await env.client.post("/v1/messages", json=body())
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "overloaded_error"
    assert response.headers["retry-after"] == "3"
    assert "x-should-retry" not in response.headers


async def test_a_failure_mid_stream_is_an_error_event(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    env.scripts.queue.append([TextChunk("half"), ProviderError("upstream stream ended early")])
    seen: list[str] = []

    async def read() -> None:
        async with sdk.messages.stream(model="scripted", max_tokens=20, messages=HI) as stream:  # type: ignore[arg-type]
            async for text in stream.text_stream:
                seen.append(text)

    with pytest.raises(anthropic.APIStatusError, match="ended early"):
        await read()
    assert seen == ["half"]
    env.scripts.queue.append([TextChunk("half"), ProviderError("upstream stream ended early")])
    raw = (await env.client.post("/v1/messages", json=body(stream=True))).text
    blocks = [b for b in raw.split("\n\n") if b]
    assert blocks[-2] == 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}'
    assert blocks[-1].startswith("event: error\ndata: ")
    assert '"type":"api_error"' in blocks[-1]


async def test_count_tokens(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    # The scripted model counts words + 4 a message (its prompt's own measure).
    counted = await sdk.messages.count_tokens(
        model="scripted",
        system="Be brief.",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert counted.input_tokens == (2 + 4) + (6 + 4)
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    with_tools = await sdk.messages.count_tokens(
        model="scripted",
        system="Be brief.",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        tools=tools,  # type: ignore[arg-type]
    )
    assert with_tools.input_tokens > counted.input_tokens
    # A prefill cannot be answered (400 on /v1/messages) but can be counted.
    prefill = await sdk.messages.count_tokens(
        model="scripted",
        messages=[*HI, {"role": "assistant", "content": "Hello there"}],  # type: ignore[list-item]
    )
    assert prefill.input_tokens == (1 + 4) + (2 + 4)
    assert env.provider.requests == []  # counting generates nothing
    response = await env.client.post(
        "/v1/messages/count_tokens", json={"model": "nope", "messages": HI}
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    missing = await env.client.post("/v1/messages/count_tokens", json={"model": "scripted"})
    assert missing.status_code == 400
    assert error_shape_ok("anthropic", 400, missing.json())


async def test_models_in_anthropic_shape(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    page = await sdk.models.list()
    ids = [m.id for m in page.data]
    assert {"scripted", "smollm2"} <= set(ids)
    assert all(m.type == "model" and m.display_name == m.id for m in page.data)
    one = await sdk.models.retrieve("smollm2")
    assert (one.id, one.type) == ("smollm2", "model")
    assert one.created_at.year >= 2024
    with pytest.raises(anthropic.NotFoundError) as caught:
        await sdk.models.retrieve("claude-nope")
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    # Paging with Anthropic's cursors, one model a page.
    first = (await env.client.get("/v1/models", params={"limit": 1}, headers=VERSION)).json()
    assert (first["data"][0]["id"], first["first_id"], first["has_more"]) == (ids[0], ids[0], True)
    after = {"limit": "1", "after_id": ids[0]}
    second = (await env.client.get("/v1/models", params=after, headers=VERSION)).json()
    assert second["data"][0]["id"] == ids[1]
    before = {"before_id": ids[1]}
    back = (await env.client.get("/v1/models", params=before, headers=VERSION)).json()
    assert ([m["id"] for m in back["data"]], back["has_more"]) == ([ids[0]], False)
    for query in ({"limit": "0"}, {"limit": "²"}, {"limit": "1001"}, {"after_id": "nope"}):
        bad = await env.client.get("/v1/models", params=query, headers=VERSION)
        assert bad.status_code == 400, query
        assert error_shape_ok("anthropic", 400, bad.json())
    both = {"after_id": ids[0], "before_id": ids[1]}
    assert (await env.client.get("/v1/models", params=both, headers=VERSION)).status_code == 400
    # A wrong key, with the Anthropic SDK's header: Anthropic's body too.
    for path in ("/v1/models", "/v1/models/smollm2"):
        refused = await env.client.get(path, headers={**VERSION, "X-API-Key": "roost_wrong"})
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        assert error_shape_ok("anthropic", 401, refused.json())
    # Without the header, the OpenAI shape as before, errors included.
    openai = (await env.client.get("/v1/models")).json()
    assert openai["object"] == "list"
    assert openai["data"][0]["object"] == "model"
    missing = await env.client.get("/v1/models/claude-nope")
    assert error_shape_ok("openai", 404, missing.json())
    wrong = await env.client.get("/v1/models", headers={"X-API-Key": "roost_wrong"})
    assert error_shape_ok("openai", 401, wrong.json())


async def test_two_turns_are_one_conversation_of_that_user(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    first = await sdk.messages.create(
        model="scripted", max_tokens=20, messages=[{"role": "user", "content": "Plan Lisbon"}]
    )
    history: list[Any] = [
        {"role": "user", "content": "Plan Lisbon"},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "And Porto?"},
    ]
    async with sdk.messages.stream(model="scripted", max_tokens=20, messages=history) as stream:
        second = await stream.get_final_message()
    assert second.content[0].text == "you said: And Porto?"  # type: ignore[union-attr]
    listed = (await env.client.get("/api/sessions")).json()
    assert listed["total"] == 1
    session = listed["sessions"][0]
    assert session["message_count"] == 4
    detail = (await env.client.get(f"/api/sessions/{session['session_id']}")).json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "Plan Lisbon"),
        ("assistant", "you said: Plan Lisbon"),
        ("user", "And Porto?"),
        ("assistant", "you said: And Porto?"),
    ]
    found = (await env.client.get("/api/search", params={"q": "porto"})).json()
    assert {r["session_id"] for r in found["results"]} == {session["session_id"]}

    # Another user sending the very same history gets a conversation of their own.
    other_key = await env.new_user_key("bob")
    async with client(env, key=other_key) as bob:
        await bob.messages.create(model="scripted", max_tokens=20, messages=history)
    headers = {"X-API-Key": other_key}
    theirs = (await env.client.get("/api/sessions", headers=headers)).json()
    assert theirs["total"] == 1
    assert theirs["sessions"][0]["session_id"] != session["session_id"]
    assert theirs["sessions"][0]["message_count"] == 4  # the history, kept whole, and the reply
    assert (await env.client.get("/api/sessions")).json()["sessions"][0]["message_count"] == 4
    forbidden = await env.client.get(f"/api/sessions/{session['session_id']}", headers=headers)
    assert forbidden.status_code == 404


async def test_a_tool_exchange_is_kept_with_its_calls(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    env.scripts.queue.append(
        [
            ToolCallChunk("call_7", "get_time", {"zone": "UTC"}),
            UsageChunk(5, 3),
            Finish("tool_calls"),
        ]
    )
    tools = [{"name": "get_time", "description": "Time now", "input_schema": {"type": "object"}}]
    question = {"role": "user", "content": "What time is it?"}
    first = await sdk.messages.create(
        model="scripted",
        max_tokens=20,
        messages=[question],
        tools=tools,  # type: ignore[list-item,arg-type]
    )
    call = first.content[0]
    assert call.type == "tool_use"
    env.scripts.queue.append(reply("It is noon."))
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "12:00"}
    await sdk.messages.create(
        model="scripted",
        max_tokens=20,
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],  # type: ignore[list-item]
        tools=tools,  # type: ignore[arg-type]
    )
    listed = (await env.client.get("/api/sessions")).json()
    assert listed["total"] == 1
    detail = (await env.client.get(f"/api/sessions/{listed['sessions'][0]['session_id']}")).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert detail["messages"][-1]["content"] == "It is noon."


async def test_a_reader_that_hangs_up_still_gets_its_reply_kept(env: Env) -> None:
    env.scripts.queue.append(
        [
            TextChunk("slow"),
            0.3,
            TextChunk(" but"),
            TextChunk(" whole"),
            UsageChunk(2, 3),
            Finish("stop"),
        ]
    )
    headers = {"X-API-Key": ADMIN_PASSWORD}
    async with AsgiStream(
        env.app, "POST", "/v1/messages", headers=headers, body=body(stream=True)
    ) as s:
        assert s.status == 200
        first = await s.event()
        assert first is not None
        assert first.data["type"] == "message_start"
    # The turn goes on without its reader and is saved whole, once.
    for _ in range(100):
        sessions = (await env.client.get("/api/sessions")).json()["sessions"]
        if sessions and sessions[0]["message_count"] == 2:
            break
        await asyncio.sleep(0.05)
    detail = (await env.client.get(f"/api/sessions/{sessions[0]['session_id']}")).json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "hi"),
        ("assistant", "slow but whole"),
    ]
