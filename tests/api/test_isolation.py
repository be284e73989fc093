"""Two users, one of everything each: B, holding A's ids, can neither see nor change A's data.

The table of routes is tests/api/isolation_matrix.py; every route the app serves must be
in it. The last test removes one ownership check from storage and proves the matrix
reports it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import true

import roost.storage.roles as role_storage
from roost.config import Settings
from roost.providers.base import Finish, ToolCallChunk, UsageChunk
from tests.api.inbox_helpers import Steered, until
from tests.api.isolation_matrix import (
    MARK,
    MATRIX,
    OverWebSocket,
    Report,
    fill,
    run_own_views,
    run_probes,
    unclassified,
)
from tests.api.wsclient import AsgiSocket
from tests.conftest import Env, running, sse_events


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.tools.approval_timeout = 600.0  # A's approval stays pending through the test
    settings.memory.watch = False
    return settings


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    scripts = Steered()
    async with running(settings, scripts=scripts) as value:
        try:
            yield value
        finally:
            scripts.open("hold")  # let A's queued delivery finish before shutdown


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def seed(
    env: Env, key: str, *, tag: str, mark: str, turns: list[asyncio.Task[Any]]
) -> dict[str, str]:
    """One of everything for the owner of `key`; the ids, by kind. The turn that waits
    for approval is added to `turns`."""
    client, headers = env.client, {"X-API-Key": key}
    ids: dict[str, str] = {}
    # A pending tool approval: the model asks to write a file, the turn waits for a yes.
    env.scripts.queue.append(
        [
            ToolCallChunk("c1", "write_file", {"path": f"{tag}.md", "content": mark}),
            UsageChunk(5, 3),
            Finish("tool_calls"),
        ]
    )
    turn = asyncio.create_task(
        client.post("/api/chat/stream", json={"message": f"{mark} write"}, headers=headers)
    )

    async def pending() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _ok(await client.get("/api/approvals", headers=headers))[
            "approvals"
        ]
        return found

    [approval] = await until(pending)
    ids["approval"] = approval["id"]
    turns.append(turn)
    # A native session with an exchange in it.
    ids["session"] = _ok(await client.post("/api/sessions", json={"title": mark}, headers=headers))[
        "session_id"
    ]
    _ok(
        await client.post(
            "/api/chat",
            json={"message": f"{mark} hello", "session_id": ids["session"]},
            headers=headers,
        )
    )
    # A resumable stream: a streamed turn in that session (its first event names the stream).
    streamed = await client.post(
        "/api/chat/stream",
        json={"message": f"{mark} streamed", "session_id": ids["session"]},
        headers=headers,
    )
    assert streamed.status_code == 200, streamed.text
    ids["stream"] = next(
        e["stream_id"]
        for e in sse_events(streamed.text)
        if isinstance(e, dict) and "stream_id" in e
    )
    # A kernel2 role.
    role = await client.post(
        "/api/kernel2/roles",
        json={"name": f"{tag}-role", "system_prompt": f"{mark} prompt"},
        headers=headers,
    )
    ids["role"] = _ok(role, 201)["data"]["id"]
    # chat.nvim: a session, one message held in the model (delivering), one queued behind it.
    # (Named by the second: B's is named by hand, so the two cannot share a name.)
    if tag == "alice":
        ids["nvim_session"] = _ok(await client.post("/session/new", headers=headers))["id"]
    else:
        ids["nvim_session"] = f"{tag}-nvim"
    for content in (f"gate:hold:{mark} first", f"{mark} second"):
        body = {"session": ids["nvim_session"], "content": content}
        assert (await client.post("/", json=body, headers=headers)).status_code == 204

    async def queued() -> list[dict[str, Any]]:
        items = _ok(await client.get("/api/queue", headers=headers))["messages"]
        states = sorted(i["state"] for i in items)
        return items if states == ["delivering", "pending"] else []

    items = await until(queued)
    ids["queued"] = str(next(i["id"] for i in items if i["state"] == "pending"))
    # LlamaChat: a conversation with a reply.
    conversation = _ok(await client.post("/api/conversations", headers=headers))["id"]
    ids["llama_conversation"] = conversation
    _ok(
        await client.post(
            f"/api/conversations/{conversation}/messages",
            json={"content": f"{mark} hi"},
            headers=headers,
        )
    )
    # An OpenAI Responses response (a conversation of its own).
    made = await client.post(
        "/v1/responses", json={"model": "scripted", "input": f"{mark} respond"}, headers=headers
    )
    ids["response"] = _ok(made)["id"]
    # MemGPT: an agent with an archival passage, and a human, persona, preset and tool.
    agent = await client.post(
        "/api/agents", json={"config": {"name": f"{tag}-agent", "persona": mark}}, headers=headers
    )
    ids["agent"] = _ok(agent)["agent_state"]["id"]
    passage = await client.post(
        f"/api/agents/{ids['agent']}/archival", json={"content": f"{mark} passage"}, headers=headers
    )
    [ids["passage"]] = _ok(passage)["ids"]
    for kind in ("human", "persona"):
        made = await client.post(
            f"/api/{kind}s", json={"name": f"{tag}-{kind}", "text": mark}, headers=headers
        )
        ids[kind] = _ok(made)["name"]
    preset = await client.post(
        "/api/presets", json={"name": f"{tag}-preset", "description": mark}, headers=headers
    )
    ids["preset"] = _ok(preset)["preset"]["name"]
    tool = {"json_schema": {"name": f"{tag}_tool", "description": mark, "parameters": {}}}
    ids["tool"] = _ok(await client.post("/api/tools", json=tool, headers=headers))["name"]
    # A memory file in the workspace.
    ids["memory_file"] = f"notes/{tag}.md"
    path = f"/api/memory/files/{ids['memory_file']}"
    _ok(await client.put(path, json={"content": f"# {mark}\n"}, headers=headers))
    return ids


async def snapshot(env: Env, key: str, ids: dict[str, str]) -> dict[str, Any]:
    """Everything A can read about A's data."""
    client, headers = env.client, {"X-API-Key": key}

    async def get(url: str, **params: str) -> Any:
        response = await client.get(url, params=params, headers=headers)
        return response.status_code, response.text

    found: dict[str, Any] = {}
    sessions = _ok(await client.get("/api/sessions", params={"limit": "1000"}, headers=headers))
    found["sessions"] = sessions
    for session in sessions["sessions"]:
        found[session["session_id"]] = await get(f"/api/sessions/{session['session_id']}")
    agent = f"/api/agents/{ids['agent']}"
    for url in (
        "/api/kernel2/roles",
        f"/api/kernel2/roles/{ids['role']}",
        "/sessions",
        "/api/queue",
        "/api/approvals",
        "/api/conversations",
        f"/api/conversations/{ids['llama_conversation']}",
        "/api/agents",
        f"{agent}/config",
        f"{agent}/memory",
        f"{agent}/archival/all",
        "/api/humans",
        "/api/personas",
        "/api/presets",
        "/api/tools",
        f"/api/memory/files/{ids['memory_file']}",
        f"/v1/responses/{ids['response']}",
        f"/v1/responses/{ids['response']}/input_items",
    ):
        found[url] = await get(url)
    found["agent messages"] = await get(f"{agent}/messages", start="0", count="100")
    return found


async def run_websocket(app: FastAPI, ids: dict[str, str], key_b: str, report: Report) -> None:
    entry = MATRIX[("WS", "/api/ws")]
    assert isinstance(entry, OverWebSocket)
    async with AsgiSocket(app, headers={"X-API-Key": key_b}) as socket:
        assert (await socket.receive())["type"] == "connected"
        for message in entry.messages:
            await socket.send(**fill(message, ids))
            answer = await socket.receive()
            report.calls += 1
            shown = f"{message['type']} {fill(message, ids)}"
            if MARK in str(answer):
                report.fail(("WS", "/api/ws"), shown, f"B sees A's content: {answer}")
            error = answer.get("error") if answer.get("type") == "error" else None
            if not isinstance(error, dict) or error.get("code") != "not_found":
                report.fail(("WS", "/api/ws"), shown, f"not a not_found error: {answer}")


async def run_matrix(env: Env) -> tuple[Report, dict[str, Any], dict[str, Any]]:
    key_a = await env.new_user_key("alice")
    key_b = await env.new_user_key("bob")
    turns: list[asyncio.Task[Any]] = []
    ids = await seed(env, key_a, tag="alice", mark=MARK, turns=turns)
    # B has one of everything too, without A's mark.
    ids_b = await seed(env, key_b, tag="bob", mark="bob-content", turns=turns)
    users = {u.name: u for u in await env.services.users.list(after=None, limit=100)}
    ids |= {"user_a": users["alice"].id, "key_a": key_a, "key_b": key_b, "agent_b": ids_b["agent"]}
    before = await snapshot(env, key_a, ids)
    report = Report()
    await run_probes(env.client, ids, key_b, report)
    await run_websocket(env.app, ids, key_b, report)
    await run_own_views(env.client, ids, key_b, report)
    after = await snapshot(env, key_a, ids)
    for key, approval in ((key_a, ids["approval"]), (key_b, ids_b["approval"])):
        answer = {"approve": False}
        await env.client.post(f"/api/approvals/{approval}", json=answer, headers={"X-API-Key": key})
    await asyncio.wait_for(asyncio.gather(*turns), 30)  # denied: the turns finish
    return report, before, after


def test_every_route_is_in_the_matrix(env: Env) -> None:
    assert unclassified(env.app) == []


def test_a_new_route_without_an_entry_is_reported(env: Env) -> None:
    @env.app.get("/api/widgets/{widget_id}")
    async def widget(widget_id: str) -> dict[str, str]:
        return {"id": widget_id}

    assert unclassified(env.app) == [("GET", "/api/widgets/{widget_id}")]


async def test_another_users_ids_are_404_everywhere_and_change_nothing(env: Env) -> None:
    report, before, after = await run_matrix(env)
    assert report.problems == [], "\n".join(report.problems)
    assert report.calls >= 60
    assert after == before
    # The snapshot did see A's data: an empty one would prove nothing.
    assert (
        sum(MARK in text for _, text in (v for v in before.values() if isinstance(v, tuple))) >= 10
    )


async def test_the_matrix_catches_a_missing_ownership_check(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deliberate regression: kernel2 roles looked up by id alone, whoever asks.
    monkeypatch.setattr(
        role_storage,
        "_owned",
        lambda user_id, role_id: (
            true(),
            role_storage.roles.c.public_id == role_id,
        ),
    )
    report, before, after = await run_matrix(env)
    caught = "\n".join(report.problems)
    assert "GET /api/kernel2/roles/{role_id}" in caught
    assert "PUT /api/kernel2/roles/{role_id}" in caught
    assert "DELETE /api/kernel2/roles/{role_id}" in caught
    assert after != before  # B's PUT and DELETE reached A's role
