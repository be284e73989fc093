"""GET /api/search (full text over the caller's messages) and PATCH /api/sessions/{id}."""

from __future__ import annotations

from roost.services.conversations import snippet
from tests.conftest import Env


async def test_search_finds_words_in_own_messages(env: Env) -> None:
    made = await env.client.post("/api/chat", json={"message": "Planning a trip to Lisbon"})
    session_id = made.json()["session_id"]
    await env.client.post("/api/chat", json={"message": "Groceries: eggs and milk"})
    found = await env.client.get("/api/search", params={"q": "lisbon"})
    assert found.status_code == 200
    body = found.json()
    assert body["query"] == "lisbon"
    # The user's message and the scripted echo ("you said: ...") both match.
    assert {(r["session_id"], r["role"]) for r in body["results"]} == {
        (session_id, "user"),
        (session_id, "assistant"),
    }
    assert body["total"] == 2
    hit = next(r for r in body["results"] if r["role"] == "user")
    assert hit["snippet"] == "Planning a trip to Lisbon"
    assert hit["seq"] == 1
    assert hit["title"] == "New Conversation"
    # Punctuation and operators in the query are words only, never search syntax.
    odd = await env.client.get("/api/search", params={"q": 'eggs" OR NEAR(* -'})
    assert "Groceries: eggs and milk" in [r["snippet"] for r in odd.json()["results"]]
    assert (await env.client.get("/api/search", params={"q": "!!!"})).json()["results"] == []


async def test_search_follows_edits_and_deletes(env: Env) -> None:
    made = await env.client.post("/api/chat", json={"message": "zebra crossing"})
    session_id = made.json()["session_id"]
    assert (await env.client.get("/api/search?q=zebra")).json()["total"] == 2
    await env.client.delete(f"/api/sessions/{session_id}")
    assert (await env.client.get("/api/search?q=zebra")).json()["total"] == 0


async def test_search_is_owner_scoped(env: Env) -> None:
    alice = await env.new_user_key("alice")
    bob = await env.new_user_key("bob")
    await env.client.post(
        "/api/chat", json={"message": "alpaca secret"}, headers={"X-API-Key": alice}
    )
    as_bob = await env.client.get("/api/search?q=alpaca", headers={"X-API-Key": bob})
    assert as_bob.json()["results"] == []
    as_alice = await env.client.get("/api/search?q=alpaca", headers={"X-API-Key": alice})
    assert as_alice.json()["total"] == 2


async def test_search_bounds_are_400(env: Env) -> None:
    for params in (
        {},
        {"q": ""},
        {"q": "x" * 1001},
        {"q": "a", "limit": "0"},
        {"q": "a", "limit": "101"},
        {"q": "a", "limit": "many"},
    ):
        response = await env.client.get("/api/search", params=params)
        assert response.status_code == 400, params
        assert set(response.json()["error"]) == {"code", "message"}
    assert (await env.client.get("/api/search?q=a", headers={"X-API-Key": "no"})).status_code == 401


async def test_search_limit_and_snippet(env: Env) -> None:
    for n in range(5):
        await env.client.post("/api/chat", json={"message": f"walrus number {n}"})
    assert len((await env.client.get("/api/search?q=walrus&limit=3")).json()["results"]) == 3
    long = "a " * 400 + "needle " + "b " * 400
    cut = snippet(long, ["needle"])
    assert "needle" in cut
    assert cut.startswith("…")
    assert cut.endswith("…")
    assert len(cut) <= 242


async def test_rename_session(env: Env) -> None:
    session_id = (await env.client.post("/api/sessions")).json()["session_id"]
    renamed = await env.client.patch(f"/api/sessions/{session_id}", json={"title": " Trip "})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Trip"
    assert (await env.client.get(f"/api/sessions/{session_id}")).json()["title"] == "Trip"
    for body in ({}, {"title": ""}, {"title": "   "}, {"title": 5}, {"title": "x" * 501}):
        bad = await env.client.patch(f"/api/sessions/{session_id}", json=body)
        assert bad.status_code == 400, body
    assert (await env.client.get(f"/api/sessions/{session_id}")).json()["title"] == "Trip"
    other = await env.new_user_key("mallory")
    foreign = await env.client.patch(
        f"/api/sessions/{session_id}", json={"title": "mine"}, headers={"X-API-Key": other}
    )
    assert foreign.status_code == 404
    missing = await env.client.patch("/api/sessions/nope", json={"title": "x"})
    assert missing.status_code == 404
