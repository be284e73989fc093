"""Stored responses: previous_response_id, store=false, retrieve, delete, input_items, the
conversation in the native API, and another user's ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from roost.core.chat import ChatMessage
from roost.core.events import ContentDelta
from roost.providers.base import Finish, TextChunk, ToolCallChunk
from roost.services.responses import ResponseRequest
from tests.api.responses_helpers import conversation, sdk_for
from tests.conftest import Env

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def sdk(env: Env) -> AsyncIterator[openai.AsyncOpenAI]:
    async with sdk_for(env) as client:
        yield client


async def _sessions(env: Env) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await env.client.get("/api/sessions")).json()["sessions"]
    return found


async def test_previous_response_id_continues_the_conversation(
    env: Env, sdk: openai.AsyncOpenAI
) -> None:
    first = await sdk.responses.create(
        model="scripted", input="My cat is called Miso.", instructions="Be kind."
    )
    second = await sdk.responses.create(
        model="scripted", input="What is my cat called?", previous_response_id=first.id
    )
    # The model saw the first exchange; the first instructions are not carried over.
    assert conversation(env.provider.requests[-1].messages) == [
        ("user", "My cat is called Miso."),
        ("assistant", "you said: My cat is called Miso."),
        ("user", "What is my cat called?"),
    ]
    assert second.instructions is None
    # One conversation holds both, in the native API.
    [session] = await _sessions(env)
    stored = (await env.client.get(f"/api/sessions/{session['session_id']}")).json()
    assert [m["content"] for m in stored["messages"]] == [
        "My cat is called Miso.",
        "you said: My cat is called Miso.",
        "What is my cat called?",
        "you said: What is my cat called?",
    ]
    # ...and search finds it.
    hits = (await env.client.get("/api/search", params={"q": "Miso"})).json()
    assert session["session_id"] in str(hits)


async def test_continuing_an_older_response_branches(env: Env, sdk: openai.AsyncOpenAI) -> None:
    first = await sdk.responses.create(model="scripted", input="one")
    await sdk.responses.create(model="scripted", input="two", previous_response_id=first.id)
    # first's reply is no longer its conversation's latest: a new conversation, with its history.
    branch = await sdk.responses.create(
        model="scripted", input="three", previous_response_id=first.id
    )
    assert conversation(env.provider.requests[-1].messages) == [
        ("user", "one"),
        ("assistant", "you said: one"),
        ("user", "three"),
    ]
    sessions = await _sessions(env)
    assert len(sessions) == 2
    counts = sorted(s["message_count"] for s in sessions)
    assert counts == [4, 4]
    # The branch continues on its own.
    await sdk.responses.create(model="scripted", input="four", previous_response_id=branch.id)
    assert [m.content for m in env.provider.requests[-1].messages] == [
        "one",
        "you said: one",
        "three",
        "you said: three",
        "four",
    ]
    assert len(await _sessions(env)) == 2


async def test_store_false_keeps_nothing(env: Env, sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.responses.create(model="scripted", input="secret", store=False)
    assert result.output_text == "you said: secret"
    assert result.store is False
    assert await _sessions(env) == []
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(result.id)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(model="scripted", input="again", previous_response_id=result.id)
    assert caught.value.code == "previous_response_not_found"
    # A stored response may be continued without storing the continuation.
    stored = await sdk.responses.create(model="scripted", input="kept")
    await sdk.responses.create(
        model="scripted", input="not kept", previous_response_id=stored.id, store=False
    )
    assert [m.content for m in env.provider.requests[-1].messages] == [
        "kept",
        "you said: kept",
        "not kept",
    ]
    [session] = await _sessions(env)
    assert session["message_count"] == 2


async def test_unknown_ids(env: Env, sdk: openai.AsyncOpenAI) -> None:
    missing = "resp_0123456789abcdef0123456789abcdef"
    for call in (
        env.client.get(f"/v1/responses/{missing}"),
        env.client.delete(f"/v1/responses/{missing}"),
        env.client.get(f"/v1/responses/{missing}/input_items"),
    ):
        response = await call
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "message": f"Response with id '{missing}' not found.",
                "type": "invalid_request_error",
                "param": None,
                "code": "not_found",
            }
        }
    response = await env.client.post(
        "/v1/responses",
        json={"model": "scripted", "input": "x", "previous_response_id": missing},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": f"Previous response with id '{missing}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }


async def test_retrieve_and_delete(env: Env, sdk: openai.AsyncOpenAI) -> None:
    first = await sdk.responses.create(model="scripted", input="hello", metadata={"k": "v"})
    got = await sdk.responses.retrieve(first.id)
    assert got.model_dump() == first.model_dump()
    second = await sdk.responses.create(
        model="scripted", input="more", previous_response_id=first.id
    )
    # Deleting one response of a conversation keeps the conversation (and the other).
    await sdk.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(second.id)
    assert (await sdk.responses.retrieve(first.id)).output_text == "you said: hello"
    [session] = await _sessions(env)
    # Deleting its last response deletes the conversation this API made.
    await sdk.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(first.id)
    assert await _sessions(env) == []
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.delete(first.id)
    # Deleting the conversation (native API) takes its responses with it.
    third = await sdk.responses.create(model="scripted", input="bye")
    [session] = await _sessions(env)
    assert (await env.client.delete(f"/api/sessions/{session['session_id']}")).status_code < 300
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(third.id)


async def test_input_items(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([ToolCallChunk("call_1", "lookup", {"q": "x"}), Finish("tool_calls")])
    tools = [{"type": "function", "name": "lookup", "parameters": {}, "strict": False}]
    first = await sdk.responses.create(model="scripted", input="find x", tools=tools)  # type: ignore[arg-type]
    second = await sdk.responses.create(
        model="scripted",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "x is 1"}],
        tools=tools,  # type: ignore[arg-type]
    )
    page = await sdk.responses.input_items.list(second.id, order="asc")
    shown = [(i.type, getattr(i, "role", None)) for i in page.data]
    assert shown == [("message", "user"), ("function_call", None), ("function_call_output", None)]
    assert page.data[0].content[0].text == "find x"  # type: ignore[union-attr]
    assert page.data[1].call_id == "call_1"  # type: ignore[union-attr]
    assert page.data[1].id == first.output[0].id  # the earlier response's output, as it was
    assert page.data[2].output == "x is 1"  # type: ignore[union-attr]
    # Newest first by default; pages follow `after`.
    newest = await env.client.get(f"/v1/responses/{second.id}/input_items", params={"limit": 2})
    body = newest.json()
    assert [i["type"] for i in body["data"]] == ["function_call_output", "function_call"]
    assert body["has_more"] is True
    assert body["last_id"] == body["data"][-1]["id"]
    rest = await env.client.get(
        f"/v1/responses/{second.id}/input_items",
        params={"limit": 2, "after": body["last_id"]},
    )
    assert [i["type"] for i in rest.json()["data"]] == ["message"]
    assert rest.json()["has_more"] is False
    # The SDK's pager walks them all.
    walked = [i.id async for i in sdk.responses.input_items.list(second.id, limit=1)]
    assert len(walked) == 3
    assert len(set(walked)) == 3


async def test_a_reply_whose_reader_left_is_still_recorded(env: Env) -> None:
    """The client hangs up mid-stream: the turn finishes and is stored, and the response
    reads as completed afterwards."""
    env.scripts.queue.append([TextChunk("slow"), 0.2, TextChunk(" answer"), Finish("stop")])
    user = (await env.services.users.list(after=None, limit=10))[0]
    run = await env.services.responses.create(
        user, ResponseRequest(input=[ChatMessage("user", "wait")], model="scripted")
    )
    events = run.events()
    assert isinstance(await anext(events), ContentDelta)
    await events.aclose()  # type: ignore[attr-defined]
    for _ in range(100):
        view = await env.services.responses.get(user, run.id)
        if view.record.status != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert view.record.status == "completed"
    assert view.reply is not None
    assert view.reply.content == "slow answer"
    assert (await env.client.get(f"/v1/responses/{run.id}")).json()["output"][0]["content"][0][
        "text"
    ] == "slow answer"


async def test_another_users_responses_are_not_found(env: Env, sdk: openai.AsyncOpenAI) -> None:
    mine = await sdk.responses.create(model="scripted", input="alice's secret")
    key = await env.new_user_key("bob")
    async with sdk_for(env, key) as bob:
        with pytest.raises(openai.NotFoundError):
            await bob.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.delete(mine.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.input_items.list(mine.id)
        with pytest.raises(openai.BadRequestError) as caught:
            await bob.responses.create(
                model="scripted", input="continue", previous_response_id=mine.id
            )
        assert caught.value.code == "previous_response_not_found"
        own = await bob.responses.create(model="scripted", input="bob's own")
        assert (await bob.responses.retrieve(own.id)).output_text == "you said: bob's own"
    assert "alice" not in str([m.content for m in env.provider.requests[-1].messages])
    assert (await sdk.responses.retrieve(mine.id)).output_text == "you said: alice's secret"
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(own.id)


async def test_an_unfinished_previous_response_is_a_conflict(env: Env) -> None:
    env.scripts.queue.append([TextChunk("slow"), 3.0, Finish("stop")])
    user = (await env.services.users.list(after=None, limit=10))[0]
    run = await env.services.responses.create(
        user, ResponseRequest(input=[ChatMessage("user", "wait")], model="scripted")
    )
    events = run.events()
    assert isinstance(await anext(events), ContentDelta)  # the id is out: the row exists
    body = {"model": "scripted", "input": "next", "previous_response_id": run.id}
    busy = await env.client.post("/v1/responses", json=body)
    assert busy.status_code == 409
    assert "not finished yet" in busy.json()["error"]["message"]
    assert [event async for event in events][-1].finish_reason == "stop"  # type: ignore[union-attr]
    assert (await env.client.post("/v1/responses", json=body)).status_code == 200
