"""Failed authentications are throttled per address on every bind, loopback included,
without locking out a valid key roost issued that arrives from the same address."""

from __future__ import annotations

import httpx
import pytest

import roost.services.auth_failures as failures_module
from roost.config import Settings
from roost.services.auth_failures import FailureThrottle
from tests.api.dialect_shapes import error_shape_ok
from tests.api.wsclient import AsgiSocket, Closed
from tests.conftest import ADMIN_PASSWORD, Env, running

READS = {
    "native": ("GET", "/api/sessions"),
    "openai": ("GET", "/v1/models"),
    "kernel2": ("GET", "/api/kernel2/roles"),
    "memgpt": ("GET", "/api/agents"),
    "chatnvim": ("GET", "/sessions"),
    "llamachat": ("GET", "/api/conversations"),
}


def test_on_by_default_on_every_bind(settings: Settings) -> None:
    assert settings.server.bind == "127.0.0.1"
    assert settings.limits.failed_auths_per_minute == 10


def test_the_bucket_refills_and_a_success_costs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(failures_module.time, "monotonic", lambda: now[0])
    throttle = FailureThrottle(per_minute=2)
    assert throttle.take("a") == 0.0
    throttle.give_back("a")  # a success
    assert throttle.take("a") == 0.0
    assert throttle.take("a") == 0.0
    assert throttle.take("a") == pytest.approx(30.0)
    assert throttle.take("b") == 0.0  # per address
    now[0] += 30.0
    assert throttle.take("a") == 0.0


async def _guess(env: Env, n: int) -> int:
    response = await env.client.get("/api/status", headers={"X-API-Key": f"guess-{n}"})
    return response.status_code


async def test_password_guessing_on_loopback_is_limited(env: Env) -> None:
    user_key = await env.new_user_key("neighbour")
    env.client.headers.pop("X-API-Key")
    assert [await _guess(env, n) for n in range(11)] == [401] * 10 + [429]
    # Past the bound nothing that could be the password is checked, the password included:
    # the answer would tell a right guess from a wrong one.
    for dialect, (method, path) in READS.items():
        response = await env.client.request(method, path, headers={"X-API-Key": ADMIN_PASSWORD})
        assert response.status_code == 429, (dialect, response.text)
        assert error_shape_ok(dialect, 429, response.json()), (dialect, response.text)
        assert 1 <= int(response.headers["retry-after"]) <= 6
    refused = await env.client.post("/api/auth", json={"password": ADMIN_PASSWORD})  # MemGPT
    assert refused.status_code == 429
    async with AsgiSocket(env.app, query=f"token={ADMIN_PASSWORD}") as ws:
        assert (await ws.receive())["error"]["code"] == "rate_limited"
        with pytest.raises(Closed) as closed:
            await ws.receive()
    assert closed.value.code == 1013
    # A key roost issued cannot be guessed: it is still checked, and served, from here.
    assert (await env.client.get("/api/status", headers={"X-API-Key": user_key})).status_code == 200
    made_up = "roost_" + "A" * 43
    assert (await env.client.get("/api/status", headers={"X-API-Key": made_up})).status_code == 401
    # Another address is not affected.
    other = httpx.ASGITransport(app=env.app, client=("127.0.0.2", 4000))
    async with httpx.AsyncClient(transport=other, base_url="http://127.0.0.1:31327") as client:
        response = await client.get("/api/status", headers={"X-API-Key": ADMIN_PASSWORD})
        assert response.status_code == 200


async def test_guesses_through_memgpt_auth_count_too(env: Env) -> None:
    env.client.headers.pop("X-API-Key")
    answers = [
        (await env.client.post("/api/auth", json={"password": f"guess-{n}"})).status_code
        for n in range(11)
    ]
    assert answers == [401] * 10 + [429]
    assert (await env.client.get("/api/status", headers={"X-API-Key": "x"})).status_code == 429


async def test_successes_cost_nothing(env: Env) -> None:
    for _ in range(30):
        assert (await env.client.get("/api/status")).status_code == 200
    env.client.headers.pop("X-API-Key")
    assert [await _guess(env, n) for n in range(10)] == [401] * 10


async def test_zero_turns_the_throttle_off(settings: Settings) -> None:
    settings.limits.failed_auths_per_minute = 0
    async with running(settings) as env:
        env.client.headers.pop("X-API-Key")
        assert {await _guess(env, n) for n in range(20)} == {401}


async def test_a_flood_of_guesses_does_not_refuse_a_valid_keys_first_request(
    settings: Settings,
) -> None:
    # The request rate too (on by default on a LAN bind): guesses spend their address's
    # bucket, and a key roost issued, never seen yet, arriving from there is still served.
    settings.limits.requests_per_minute = 1
    settings.limits.burst = 3
    async with running(settings) as env:
        user_key = await env.new_user_key("late")
        env.client.headers.pop("X-API-Key")
        assert [await _guess(env, n) for n in range(5)] == [401, 401, 401, 429, 429]
        first = await env.client.get("/api/status", headers={"X-API-Key": user_key})
        assert first.status_code == 200, first.text
