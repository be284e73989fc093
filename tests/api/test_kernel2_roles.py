"""kernel2 roles: CRUD, the success envelope, the seed's error shape, owner scoping."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from roost.core.errors import NotFound
from tests.conftest import Env

ROLES = "/api/kernel2/roles"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "code": 0, "message": "success", "data": data}


def failed(status: int, message: str) -> dict[str, Any]:
    return {"success": False, "message": message, "code": status}


async def roles_of(env: Env, key: str | None = None) -> list[dict[str, Any]]:
    headers = {"X-API-Key": key} if key else {}
    response = await env.client.get(ROLES, headers=headers)
    assert response.status_code == 200
    roles: list[dict[str, Any]] = response.json()["data"]["roles"]
    return roles


async def test_role_lifecycle(env: Env) -> None:
    assert (await env.client.get(ROLES)).json() == ok({"roles": [], "total": 0})

    created = await env.client.post(
        ROLES,
        json={
            "name": "Tutor",
            "description": "Explains step by step",
            "system_prompt": "You are a patient tutor.",
            "enable_l0_retrieval": True,
        },
    )
    assert created.status_code == 201
    role = created.json()["data"]
    assert re.fullmatch(r"role_[a-z0-9]{6}", role["id"])
    assert TIMESTAMP.fullmatch(role["created_at"])
    assert role["updated_at"] == role["created_at"]
    assert created.json() == ok(
        {
            "id": role["id"],
            "name": "Tutor",
            "description": "Explains step by step",
            "system_prompt": "You are a patient tutor.",
            "enable_l0_retrieval": True,
            "enable_l1_retrieval": False,
            "created_at": role["created_at"],
            "updated_at": role["created_at"],
        }
    )

    fetched = await env.client.get(f"{ROLES}/{role['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == ok(role)
    assert (await env.client.get(ROLES)).json() == ok({"roles": [role], "total": 1})

    updated = await env.client.put(
        f"{ROLES}/{role['id']}", json={"name": "Coach", "enable_l1_retrieval": True}
    )
    assert updated.status_code == 200
    after = updated.json()["data"]
    assert TIMESTAMP.fullmatch(after["updated_at"])
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(role["updated_at"])
    assert updated.json() == ok(
        {**role, "name": "Coach", "enable_l1_retrieval": True, "updated_at": after["updated_at"]}
    )
    assert (await env.client.get(f"{ROLES}/{role['id']}")).json() == ok(after)

    deleted = await env.client.delete(f"{ROLES}/{role['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == ok(None)
    missing = await env.client.get(f"{ROLES}/{role['id']}")
    assert missing.status_code == 404
    assert missing.json() == failed(404, f"role '{role['id']}' not found")
    assert (await env.client.delete(f"{ROLES}/{role['id']}")).status_code == 404


async def test_minimal_create_takes_defaults(env: Env) -> None:
    made = await env.client.post(ROLES, json={"name": "  Plain  ", "system_prompt": "Be brief."})
    assert made.status_code == 201
    data = made.json()["data"]
    assert data["name"] == "Plain"  # stripped
    assert (data["description"], data["enable_l0_retrieval"], data["enable_l1_retrieval"]) == (
        "",
        False,
        False,
    )
    # A role read back is not a create body: its server-set fields are refused, not ignored.
    assert (await env.client.post(ROLES, json={**data, "name": "Other"})).status_code == 400


async def test_list_pages_oldest_first(env: Env) -> None:
    for name in ("a", "b", "c"):
        await env.client.post(ROLES, json={"name": name, "system_prompt": "p"})
    page = (await env.client.get(f"{ROLES}?limit=2&offset=1")).json()["data"]
    assert page["total"] == 3
    assert [r["name"] for r in page["roles"]] == ["b", "c"]
    for query in ("limit=0", "limit=201", "offset=-1", "limit=x"):
        response = await env.client.get(f"{ROLES}?{query}")
        assert response.status_code == 400
        assert response.json()["success"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"system_prompt": "p"}, "Missing required parameter: name"),
        ({"name": "Tutor"}, "Missing required parameter: system_prompt"),
        ({"name": 5, "system_prompt": "p"}, "'name': Input should be a valid string"),
        (
            {"name": "n" * 101, "system_prompt": "p"},
            "'name': String should have at most 100 characters",
        ),
        (
            {"name": "Tutor", "system_prompt": "p" * 20_001},
            "'system_prompt': String should have at most 20000 characters",
        ),
        (
            {"name": "Tutor", "system_prompt": "p", "description": "d" * 1_001},
            "'description': String should have at most 1000 characters",
        ),
        (
            {"name": "Tutor", "system_prompt": "p", "enable_l0_retrieval": "yes"},
            "'enable_l0_retrieval': Input should be a valid boolean",
        ),
        (
            {"name": "Tutor", "system_prompt": "p", "color": "red"},
            "'color': Extra inputs are not permitted",
        ),
        ({"name": "   ", "system_prompt": "p"}, "name must be 1-100 characters"),
        ({"name": "Tutor", "system_prompt": "  "}, "system_prompt must be 1-20000 characters"),
    ],
)
async def test_bad_create_bodies_are_400(env: Env, body: dict[str, Any], message: str) -> None:
    response = await env.client.post(ROLES, json=body)
    assert response.status_code == 400
    assert response.json() == failed(400, message)
    assert await roles_of(env) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
async def test_unparseable_bodies_are_400(env: Env, raw: bytes) -> None:
    response = await env.client.post(
        ROLES, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["code"] == 400
    assert await roles_of(env) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "'name': String should have at least 1 character"),
        ({"system_prompt": 7}, "'system_prompt': Input should be a valid string"),
        ({"id": "role_other"}, "'id': Extra inputs are not permitted"),
        ({"name": " "}, "name must be 1-100 characters"),
    ],
)
async def test_bad_update_bodies_are_400(env: Env, body: dict[str, Any], message: str) -> None:
    made = (await env.client.post(ROLES, json={"name": "Tutor", "system_prompt": "p"})).json()
    response = await env.client.put(f"{ROLES}/{made['data']['id']}", json=body)
    assert response.status_code == 400
    assert response.json() == failed(400, message)
    assert await roles_of(env) == [made["data"]]


async def test_empty_update_changes_nothing(env: Env) -> None:
    made = (await env.client.post(ROLES, json={"name": "Tutor", "system_prompt": "p"})).json()
    response = await env.client.put(f"{ROLES}/{made['data']['id']}", json={})
    assert response.json() == made


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer no"}])
async def test_missing_or_wrong_key_is_401_in_kernel2_shape(
    env: Env, headers: dict[str, str]
) -> None:
    env.client.headers.pop("X-API-Key")
    for method, path in (("GET", ROLES), ("POST", ROLES), ("DELETE", f"{ROLES}/role_abcdef")):
        body = {"name": "Tutor", "system_prompt": "p"}
        response = await env.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 401
        assert response.json() == failed(401, response.json()["message"])
        assert response.json()["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_bearer_and_user_keys_work(env: Env) -> None:
    alice = await env.new_user_key("alice")
    env.client.headers.pop("X-API-Key")
    made = await env.client.post(
        ROLES,
        json={"name": "Tutor", "system_prompt": "p"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert made.status_code == 201
    assert await roles_of(env, alice) == [made.json()["data"]]


async def test_another_users_role_is_404_and_unchanged(env: Env) -> None:
    alice = {"X-API-Key": await env.new_user_key("alice")}
    bob = {"X-API-Key": await env.new_user_key("bob")}
    made = await env.client.post(
        ROLES, json={"name": "Secret", "system_prompt": "alice's"}, headers=alice
    )
    role = made.json()["data"]
    url = f"{ROLES}/{role['id']}"
    expected = failed(404, f"role '{role['id']}' not found")
    for response in (
        await env.client.get(url, headers=bob),
        await env.client.put(url, json={"system_prompt": "pwned"}, headers=bob),
        await env.client.delete(url, headers=bob),
    ):
        assert response.status_code == 404
        assert response.json() == expected
    assert (await env.client.get(ROLES, headers=bob)).json() == ok({"roles": [], "total": 0})
    assert (await env.client.get(url, headers=alice)).json() == ok(role)
    # Bob may use the same name for his own role.
    mine = await env.client.post(ROLES, json={"name": "Secret", "system_prompt": "b"}, headers=bob)
    assert mine.status_code == 201


async def test_duplicate_name_is_409(env: Env) -> None:
    first = (await env.client.post(ROLES, json={"name": "Tutor", "system_prompt": "p"})).json()
    again = await env.client.post(ROLES, json={"name": "Tutor", "system_prompt": "q"})
    assert again.status_code == 409
    assert again.json() == failed(409, "a role named 'Tutor' already exists")
    other = (await env.client.post(ROLES, json={"name": "Critic", "system_prompt": "q"})).json()
    renamed = await env.client.put(f"{ROLES}/{other['data']['id']}", json={"name": " Tutor "})
    assert renamed.status_code == 409
    assert renamed.json() == failed(409, "a role named 'Tutor' already exists")
    assert await roles_of(env) == [first["data"], other["data"]]


async def test_oversized_body_is_413_in_kernel2_shape(env: Env) -> None:
    big = b'{"name": "Tutor", "system_prompt": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await env.client.post(
        ROLES, content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == failed(413, response.json()["message"])
    assert await roles_of(env) == []


async def test_unknown_route_under_kernel2_uses_its_shape(env: Env) -> None:
    response = await env.client.get("/api/kernel2/nothing-here")
    assert response.status_code == 404
    assert response.json() == failed(404, "no route for GET /api/kernel2/nothing-here")


async def test_resolve_serves_the_chat_endpoint(env: Env) -> None:
    made = (await env.client.post(ROLES, json={"name": "Tutor", "system_prompt": "p"})).json()
    role_id = made["data"]["id"]
    owner = env.services.auth.default_user  # the admin password acts as this user
    role = await env.services.roles.resolve(owner, role_id)
    assert (role.id, role.system_prompt) == (role_id, "p")
    stranger = await env.services.users.create("stranger")
    with pytest.raises(NotFound, match=f"role '{role_id}' not found"):
        await env.services.roles.resolve(stranger, role_id)
