"""MemGPT's admin routes and /api/auth over roost's users and keys; user isolation.

The isolation test is table-driven: user B's key on each of user A's agent routes, with
every verb, is 404 — and A's agent is unchanged afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from roost.config import Settings
from tests.api.memgpt_helpers import new_agent, say
from tests.conftest import ADMIN_PASSWORD, Env, running


@pytest.fixture
async def env(settings: Settings) -> Any:
    settings.memory.watch = False
    async with running(settings) as value:
        yield value


def bearer(key: str) -> dict[str, str]:
    # The emptied X-API-Key replaces the client's default one: two keys would be a 400.
    return {"authorization": f"Bearer {key}", "x-api-key": ""}


async def test_create_user_then_use_its_key(env: Env) -> None:
    created = await env.client.post("/admin/users", headers=bearer(ADMIN_PASSWORD), json={})
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"user_id", "api_key"}
    key = body["api_key"]
    # The key belongs to the new user: its agents are its own.
    agent = await env.client.post(
        "/api/agents", headers=bearer(key), json={"config": {"name": "Mine"}}
    )
    assert agent.json()["agent_state"]["user_id"] == body["user_id"]
    assert (await env.client.get("/api/agents")).json()["num_agents"] == 0  # admin's own
    # The same users as `roost users`.
    user = await env.services.users.resolve(body["user_id"])
    assert user.id == body["user_id"]


async def test_admin_routes_need_the_admin_password(env: Env) -> None:
    key = await env.new_user_key("plain")
    for method, url in [
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("DELETE", "/admin/users?user_id=x"),
        ("POST", "/admin/users/keys"),
        ("GET", "/admin/users/keys?user_id=x"),
        ("DELETE", "/admin/users/keys?api_key=x"),
        ("GET", "/api/admin/agents"),
    ]:
        response = await env.client.request(method, url, headers=bearer(key), json={})
        assert response.status_code == 401, (method, url)
        assert response.json() == {"detail": "Unauthorized"}


async def test_users_and_keys_round_trip(env: Env) -> None:
    admin = bearer(ADMIN_PASSWORD)
    wanted = "26fd194b-a34e-4ba5-a8e5-0e626f439962"
    made = await env.client.post(
        "/admin/users", headers=admin, json={"user_id": wanted, "api_key_name": "first"}
    )
    assert made.json()["user_id"] == wanted
    listed = (await env.client.get("/admin/users", headers=admin, params={"limit": 50})).json()
    assert wanted in [u["user_id"] for u in listed["user_list"]]
    assert listed["cursor"] == listed["user_list"][-1]["user_id"]
    # pymemgpt's Admin.create_key sends key_name; the server documents name: both work.
    second = await env.client.post(
        "/admin/users/keys", headers=admin, json={"user_id": wanted, "key_name": "second"}
    )
    secret = second.json()["api_key"]
    keys = (
        await env.client.get("/admin/users/keys", headers=admin, params={"user_id": wanted})
    ).json()
    assert len(keys["api_key_list"]) == 2
    assert secret not in str(keys)  # prefixes and names only, never a secret
    assert {k["name"] for k in keys["keys"]} == {"first", "second"}
    assert secret.startswith(keys["keys"][1]["prefix"])
    # Deleted by the secret itself (as MemGPT clients do) or by its prefix.
    gone = await env.client.delete("/admin/users/keys", headers=admin, params={"api_key": secret})
    assert gone.json()["message"] == "API key successfully deleted."
    assert (await env.client.get("/api/agents", headers=bearer(secret))).status_code == 401
    first_prefix = keys["keys"][0]["prefix"]
    assert (
        await env.client.delete(
            "/admin/users/keys", headers=admin, params={"api_key": first_prefix}
        )
    ).status_code == 200
    missing = await env.client.delete(
        "/admin/users/keys", headers=admin, params={"api_key": "nope"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"detail": "API key does not exist"}


async def test_deleting_a_user_takes_its_agents_and_keys(env: Env) -> None:
    admin = bearer(ADMIN_PASSWORD)
    made = (await env.client.post("/admin/users", headers=admin)).json()
    key = made["api_key"]
    await env.client.post("/api/agents", headers=bearer(key), json={"config": {"name": "A"}})
    all_agents = (await env.client.get("/api/admin/agents", headers=admin)).json()
    assert all_agents["num_agents"] == 1
    deleted = await env.client.delete(
        "/admin/users", headers=admin, params={"user_id": made["user_id"]}
    )
    assert deleted.json() == {
        "message": "User successfully deleted.",
        "user_id_deleted": made["user_id"],
    }
    assert (await env.client.get("/api/agents", headers=bearer(key))).status_code == 401
    assert (await env.client.get("/api/admin/agents", headers=admin)).json()["num_agents"] == 0
    again = await env.client.delete(
        "/admin/users", headers=admin, params={"user_id": made["user_id"]}
    )
    assert again.status_code == 404


async def test_auth_route(env: Env) -> None:
    admin = await env.client.post("/api/auth", json={"password": ADMIN_PASSWORD}, headers={})
    assert admin.json() == {"uuid": env.services.auth.default_user.id, "is_admin": True}
    key = await env.new_user_key("carol")
    user = await env.client.post("/api/auth", json={"password": key})
    carol = await env.services.users.resolve("carol")
    assert user.json() == {"uuid": carol.id, "is_admin": False}
    wrong = await env.client.post("/api/auth", json={"password": "nope"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["detail"]


async def test_missing_key_is_401_in_memgpts_shape(env: Env) -> None:
    response = await env.client.get("/api/agents", headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert "detail" in response.json()


def _routes(agent: str, passage: str, message: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"/api/agents/{agent}"
    return [
        ("GET", f"{base}/config", None),
        ("PATCH", f"{base}/rename", {"agent_name": "stolen"}),
        ("DELETE", base, None),
        ("GET", f"{base}/memory", None),
        ("POST", f"{base}/memory", {"human": "stolen"}),
        ("GET", f"{base}/archival", None),
        ("GET", f"{base}/archival?after={passage}", None),
        ("GET", f"{base}/archival/all", None),
        ("POST", f"{base}/archival", {"content": "stolen"}),
        ("DELETE", f"{base}/archival?id={passage}", None),
        ("GET", f"{base}/messages?start=0&count=10", None),
        ("GET", f"{base}/messages-cursor?before={message}", None),
        ("GET", f"{base}/messages-cursor", None),
        ("POST", f"{base}/messages", {"message": "hi", "stream": True}),
        ("POST", f"{base}/messages", {"message": "hi"}),
        ("POST", f"{base}/messages", {"message": "hi", "stream_steps": True}),
    ]


async def test_another_users_agent_is_404_on_every_route_and_verb(env: Env) -> None:
    a_key = await env.new_user_key("alice")
    b_key = await env.new_user_key("bob")
    env.client.headers["X-API-Key"] = a_key
    agent = await new_agent(env.client)
    passage = (
        await env.client.post(f"/api/agents/{agent}/archival", json={"content": "secret"})
    ).json()["ids"][0]
    env.scripts.queue.append(say("hello alice"))
    await env.client.post(f"/api/agents/{agent}/messages", json={"message": "hi"})
    message = (await env.client.get(f"/api/agents/{agent}/messages?start=0&count=1")).json()[
        "messages"
    ][0]["id"]
    before = (await env.client.get(f"/api/agents/{agent}/config")).json()
    requests_before = len(env.provider.requests)
    routes = _routes(agent, passage, message)
    # Every agent route the app serves is in the table.
    served = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in env.app.routes
        if getattr(route, "path", "").startswith("/api/agents/{agent_id}")
        for method in route.methods  # type: ignore[attr-defined]
    }
    covered = {(m, u.split("?")[0].replace(agent, "{agent_id}")) for m, u, _ in routes}
    assert served <= covered, served - covered
    for method, url, body in routes:
        response = await env.client.request(method, url, json=body, headers={"X-API-Key": b_key})
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"detail": f"Agent agent_id={agent} not found."}
    # Nothing changed, nothing ran, and B sees no agents.
    assert (await env.client.get(f"/api/agents/{agent}/config")).json() == before
    assert len(env.provider.requests) == requests_before
    archival = (await env.client.get(f"/api/agents/{agent}/archival")).json()["archival_memory"]
    assert [p["contents"] for p in archival] == ["secret"]
    listed = await env.client.get("/api/agents", headers={"X-API-Key": b_key})
    assert listed.json() == {"num_agents": 0, "agents": []}


async def test_another_users_library_items_are_not_found(env: Env) -> None:
    a_key = await env.new_user_key("alice")
    b_key = await env.new_user_key("bob")
    for path, body in [
        ("/api/humans", {"name": "ada", "text": "A's human"}),
        ("/api/personas", {"name": "ada", "text": "A's persona"}),
        ("/api/presets", {"name": "ada", "system": "A's preset"}),
        ("/api/tools", {"json_schema": {"name": "ada"}, "source_code": "pass"}),
    ]:
        made = await env.client.post(path, json=body, headers={"X-API-Key": a_key})
        assert made.status_code == 200, made.text
        for method in ("GET", "DELETE"):
            response = await env.client.request(method, f"{path}/ada", headers={"X-API-Key": b_key})
            assert response.status_code == 404, (method, path)
        listed = (await env.client.get(path, headers={"X-API-Key": b_key})).json()
        assert "ada" not in str(listed)
        assert (
            await env.client.get(f"{path}/ada", headers={"X-API-Key": a_key})
        ).status_code == 200
