"""Item 4 of issue 22 for Ollama: a conversation held through /api/chat (the client
resends the whole history) is one roost conversation of that user, listed in
GET /api/sessions and found by search; another user sees none of it."""

from __future__ import annotations

import ollama
import pytest

from tests.conftest import ADMIN_PASSWORD, Env

pytestmark = pytest.mark.asyncio


def client_for(env: Env, key: str) -> ollama.AsyncClient:
    return ollama.AsyncClient(
        host="http://127.0.0.1:31327/ollama",
        headers={"Authorization": f"Bearer {key}"},
        transport=env.client._transport,
    )


async def test_two_turns_are_one_conversation_of_that_user(env: Env) -> None:
    client = client_for(env, ADMIN_PASSWORD)
    first = await client.chat(
        model="scripted", messages=[{"role": "user", "content": "Plan Lisbon"}]
    )
    history = [
        {"role": "user", "content": "Plan Lisbon"},
        {"role": "assistant", "content": first.message.content},
        {"role": "user", "content": "And Porto?"},
    ]
    parts = [p async for p in await client.chat(model="scripted", messages=history, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == "you said: And Porto?"
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

    # Another user resending the very same history gets a conversation of their own.
    other_key = await env.new_user_key("bob")
    await client_for(env, other_key).chat(model="scripted", messages=history)
    headers = {"X-API-Key": other_key}
    theirs = (await env.client.get("/api/sessions", headers=headers)).json()
    assert theirs["total"] == 1
    assert theirs["sessions"][0]["session_id"] != session["session_id"]
    assert (await env.client.get("/api/sessions")).json()["total"] == 1
    assert (await env.client.get("/api/sessions")).json()["sessions"][0]["message_count"] == 4
    hidden = await env.client.get(f"/api/sessions/{session['session_id']}", headers=headers)
    assert hidden.status_code == 404
    searched = (await env.client.get("/api/search", params={"q": "porto"}, headers=headers)).json()
    assert session["session_id"] not in {r["session_id"] for r in searched["results"]}


async def test_generate_keeps_nothing(env: Env) -> None:
    await client_for(env, ADMIN_PASSWORD).generate(model="scripted", prompt="Plan Lisbon")
    assert (await env.client.get("/api/sessions")).json()["total"] == 0
