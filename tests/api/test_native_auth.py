"""Keys, the admin password, loopback mode, the Host check and CORS."""

from __future__ import annotations

import pytest

from roost.app import create_app
from roost.config import Settings
from roost.core.errors import ConfigError
from tests.conftest import ADMIN_PASSWORD, Env, make_settings, running


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {ADMIN_PASSWORD}"},
        {"authorization": f"bearer {ADMIN_PASSWORD}"},
        {"X-API-Key": ADMIN_PASSWORD},
        {"x-api-key": ADMIN_PASSWORD},
        {"X-Api-Key": ADMIN_PASSWORD},
    ],
)
async def test_password_accepted_in_any_header_form(env: Env, headers: dict[str, str]) -> None:
    env.client.headers.pop("X-API-Key")
    response = await env.client.get("/api/sessions", headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}],
)
async def test_wrong_or_missing_key_is_401(env: Env, headers: dict[str, str]) -> None:
    env.client.headers.pop("X-API-Key")
    for method, path in (("POST", "/api/chat"), ("GET", "/api/sessions"), ("GET", "/api/status")):
        response = await env.client.request(method, path, headers=headers, json={"message": "hi"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert env.provider.requests == []


async def test_user_keys_work_and_revoked_keys_do_not(env: Env) -> None:
    user = await env.services.users.create("alice")
    created = await env.services.users.create_key(user, "laptop")
    response = await env.client.get("/api/sessions", headers={"X-API-Key": created.secret})
    assert response.status_code == 200
    await env.services.users.revoke_key(user, created.key.prefix)
    response = await env.client.get("/api/sessions", headers={"X-API-Key": created.secret})
    assert response.status_code == 401


async def test_two_users_cannot_see_each_other(env: Env) -> None:
    alice = await env.new_user_key("alice")
    bob = await env.new_user_key("bob")
    made = await env.client.post(
        "/api/chat", json={"message": "secret"}, headers={"X-API-Key": alice}
    )
    session_id = made.json()["session_id"]
    as_bob = {"X-API-Key": bob}
    assert (await env.client.get(f"/api/sessions/{session_id}", headers=as_bob)).status_code == 404
    assert (
        await env.client.delete(f"/api/sessions/{session_id}", headers=as_bob)
    ).status_code == 404
    hijack = await env.client.post(
        "/api/chat", json={"message": "mine now", "session_id": session_id}, headers=as_bob
    )
    assert hijack.status_code == 404
    stream = await env.client.post(
        "/api/chat/stream", json={"message": "x", "session_id": session_id}, headers=as_bob
    )
    assert stream.status_code == 404
    assert (await env.client.get("/api/sessions", headers=as_bob)).json()["sessions"] == []
    mine = (
        await env.client.get(f"/api/sessions/{session_id}", headers={"X-API-Key": alice})
    ).json()
    assert len(mine["messages"]) == 2  # bob changed nothing


async def test_auth_not_required_lets_loopback_in(settings: Settings) -> None:
    settings.auth.required = False
    async with running(settings) as env:
        env.client.headers.pop("X-API-Key")
        assert (await env.client.get("/api/sessions")).status_code == 200


def test_auth_not_required_is_refused_off_loopback(settings: Settings) -> None:
    settings.auth.required = False
    settings.server.bind = "0.0.0.0"
    with pytest.raises(ConfigError, match="loopback"):
        create_app(settings)


async def test_foreign_host_header_is_refused(env: Env) -> None:
    response = await env.client.get("/health", headers={"Host": "evil.example:31327"})
    assert response.status_code == 400
    assert "not allowed" in response.json()["error"]["message"]
    for host in ("localhost:31327", "127.0.0.1", "[::1]:31327"):
        assert (await env.client.get("/health", headers={"Host": host})).status_code == 200


async def test_configured_host_names_are_accepted(home) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(home, ROOST_SERVER_ALLOWED_HOSTS='["roost.lan"]')
    settings.default_model = "scripted"
    async with running(settings) as env:
        response = await env.client.get("/health", headers={"Host": "roost.lan:31327"})
        assert response.status_code == 200


async def test_cors_is_closed_unless_configured(env: Env, home) -> None:  # type: ignore[no-untyped-def]
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
    }
    response = await env.client.options("/api/chat", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    settings = make_settings(home, ROOST_SERVER_CORS_ORIGINS='["http://app.example"]')
    settings.default_model = "scripted"
    async with running(settings) as open_env:
        preflight["Origin"] = "http://app.example"
        response = await open_env.client.options("/api/chat", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "http://app.example"
