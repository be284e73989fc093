"""keep_alive in chat requests: parsed into seconds for the model, bounded, and a bad value
is a 400 in each dialect's own error shape (the scripted model: nothing loads here)."""

from __future__ import annotations

import pytest

from tests.conftest import Env

GOOD = [("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), (30, 30.0), ("0", 0.0), (-1, -1.0)]
GOOD += [("-5m", -1.0), (2.5, 2.5), ("8760h", 31_536_000.0)]
BAD = ["5 minutes", "forever", "", "1y", "8761h", True, [], {"s": 1}, "9" * 40]


@pytest.mark.parametrize(("sent", "seconds"), GOOD)
async def test_keep_alive_reaches_the_model_in_seconds(
    env: Env, sent: object, seconds: float
) -> None:
    native = await env.client.post("/api/chat", json={"message": "hi", "keep_alive": sent})
    assert native.status_code == 200, native.text
    assert env.provider.requests[-1].options.keep_alive == seconds

    body = {"messages": [{"role": "user", "content": "hi"}], "keep_alive": sent}
    openai = await env.client.post("/v1/chat/completions", json=body)
    assert openai.status_code == 200, openai.text
    assert env.provider.requests[-1].options.keep_alive == seconds


async def test_without_keep_alive_the_model_keeps_its_own(env: Env) -> None:
    assert (await env.client.post("/api/chat", json={"message": "hi"})).status_code == 200
    assert env.provider.requests[-1].options.keep_alive is None
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert (await env.client.post("/v1/chat/completions", json=body)).status_code == 200
    assert env.provider.requests[-1].options.keep_alive is None


@pytest.mark.parametrize("sent", BAD)
async def test_a_bad_keep_alive_is_a_400_in_each_dialect(env: Env, sent: object) -> None:
    native = await env.client.post("/api/chat", json={"message": "hi", "keep_alive": sent})
    assert native.status_code == 400, native.text
    error = native.json()["error"]
    assert error["code"] == "invalid_request"
    assert "keep_alive" in error["message"]

    body = {"messages": [{"role": "user", "content": "hi"}], "keep_alive": sent}
    openai = await env.client.post("/v1/chat/completions", json=body)
    assert openai.status_code == 400, openai.text
    error = openai.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "keep_alive"
    assert env.provider.requests == []  # nothing reached the model


async def test_ps_lists_no_remote_or_scripted_model(env: Env) -> None:
    assert (await env.client.post("/api/chat", json={"message": "hi"})).status_code == 200
    listed = await env.client.get("/api/ps")
    assert listed.status_code == 200
    assert listed.json() == {"models": []}
    anonymous = await env.client.get("/api/ps", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401


async def test_stop_is_for_admins_and_names_a_model(env: Env) -> None:
    stopped = await env.client.delete("/api/ps/scripted")
    assert stopped.status_code == 200
    assert stopped.json() == {"name": "scripted", "unloaded": False}  # never loaded here
    unknown = await env.client.delete("/api/ps/hf.co/nobody/nothing:Q4_0")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    key = await env.new_user_key("bob")
    refused = await env.client.delete("/api/ps/scripted", headers={"X-API-Key": key})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    seen = await env.client.get("/api/ps", headers={"X-API-Key": key})
    assert seen.status_code == 200  # listing is for every user
