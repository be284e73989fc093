"""POST /v1/chat/completions is served past FastAPI's own layers (api/fast_path.py): the
app's middleware still applies to it, sharing state with every other route."""

from __future__ import annotations

import httpx
import pytest

from roost.config import Settings
from tests.api.dialect_shapes import error_shape_ok
from tests.conftest import Env, running

CHAT = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}


async def test_the_rate_bucket_is_shared_with_the_other_routes(settings: Settings) -> None:
    settings.limits.requests_per_minute = 1  # nothing refills during the test
    settings.limits.burst = 3
    async with running(settings) as env:
        headers = {"X-API-Key": await env.new_user_key("busy")}
        # One charged to the address (the key is not known yet), then 3 to the key.
        for _ in range(2):
            assert (await env.client.get("/v1/models", headers=headers)).status_code == 200
        for _ in range(2):
            answer = await env.client.post("/v1/chat/completions", json=CHAT, headers=headers)
            assert answer.status_code == 200, answer.text
        refused = await env.client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert refused.status_code == 429
        assert error_shape_ok("openai", 429, refused.json())
        assert (await env.client.get("/v1/models", headers=headers)).status_code == 429


async def test_other_methods_and_guards_answer_as_on_any_route(env: Env) -> None:
    wrong = await env.client.get("/v1/chat/completions")
    assert wrong.status_code == 405
    assert error_shape_ok("openai", 405, wrong.json())
    foreign = await env.client.post(
        "/v1/chat/completions", json=CHAT, headers={"Host": "evil.example"}
    )
    assert foreign.status_code == 400
    assert error_shape_ok("openai", 400, foreign.json())


@pytest.mark.parametrize("root_path", ["", "/roost"])
async def test_served_under_a_root_path_too(env: Env, root_path: str) -> None:
    transport = httpx.ASGITransport(app=env.app, root_path=root_path)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=env.client.headers
    ) as client:
        answer = await client.post(f"{root_path}/v1/chat/completions", json=CHAT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "you said: hi"
