"""Sessions: create, list, fetch, delete; they survive a restart."""

from __future__ import annotations

from roost.config import Settings
from tests.conftest import Env, running


async def test_session_lifecycle(env: Env) -> None:
    created = await env.client.post("/api/sessions")
    assert created.status_code == 200
    session_id = created.json()["session_id"]
    assert created.json()["message_count"] == 0
    titled = await env.client.post("/api/sessions", json={"title": "Trip plans"})
    assert titled.json()["title"] == "Trip plans"
    await env.client.post("/api/chat", json={"message": "one", "session_id": session_id})
    await env.client.post("/api/chat", json={"message": "two", "session_id": session_id})
    listed = (await env.client.get("/api/sessions")).json()
    assert listed["sessions"][0]["session_id"] == session_id  # newest activity first
    assert listed["sessions"][0]["message_count"] == 4
    detail = (await env.client.get(f"/api/sessions/{session_id}")).json()
    assert [m["content"] for m in detail["messages"]] == [
        "one",
        "you said: one",
        "two",
        "you said: two",
    ]
    deleted = await env.client.delete(f"/api/sessions/{session_id}")
    assert deleted.json() == {"session_id": session_id, "deleted": True}
    assert (await env.client.get(f"/api/sessions/{session_id}")).status_code == 404
    assert (await env.client.delete(f"/api/sessions/{session_id}")).status_code == 404


async def test_create_session_rejects_bad_bodies(env: Env) -> None:
    for body in ({"title": 5}, {"model": "no-such-model"}):
        response = await env.client.post("/api/sessions", json=body)
        assert response.status_code in (400, 404)
    assert (await env.client.get("/api/sessions")).json()["sessions"] == []


async def test_sessions_survive_a_restart(settings: Settings) -> None:
    async with running(settings) as env:
        made = (await env.client.post("/api/chat", json={"message": "remember me"})).json()
    async with running(settings) as env:
        detail = await env.client.get(f"/api/sessions/{made['session_id']}")
        assert detail.status_code == 200
        assert [m["content"] for m in detail.json()["messages"]] == [
            "remember me",
            "you said: remember me",
        ]


async def test_list_pages_and_counts(env: Env) -> None:
    made = [(await env.client.post("/api/sessions")).json()["session_id"] for _ in range(3)]
    page = (await env.client.get("/api/sessions?limit=2&offset=1")).json()
    assert page["total"] == 3
    assert [s["session_id"] for s in page["sessions"]] == [made[1], made[0]]
