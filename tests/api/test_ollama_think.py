"""`think` on a model that reasons apart from its answer (a remote provider's, here a
scripted model configured as one): the reasoning is `thinking`, unless think is false."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import ollama
import pytest
from asgi_lifespan import LifespanManager

from roost.app import create_app
from roost.config import ModelSettings, Settings
from roost.providers.base import Finish, ReasoningChunk, TextChunk, UsageChunk
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import ScriptedProvider
from tests.conftest import ADMIN_PASSWORD, Env, Scripts, make_settings

pytestmark = pytest.mark.asyncio
BEARER = {"Authorization": f"Bearer {ADMIN_PASSWORD}"}


def thought() -> list[object]:
    return [
        ReasoningChunk("Paris is "),
        ReasoningChunk("the capital."),
        TextChunk("Paris."),
        UsageChunk(9, 3),
        Finish("stop"),
    ]


@pytest.fixture
async def env(home: Path) -> AsyncIterator[Env]:
    """A scripted model under the name of a configured OpenAI-compatible one."""
    settings: Settings = make_settings(home)
    settings.default_model = "reasoner"
    settings.models["reasoner"] = ModelSettings(
        provider="openai", model="o4-mini", base_url="http://127.0.0.1:9/v1"
    )
    scripts = Scripts()
    provider = ScriptedProvider(scripts, name="reasoner")

    def build(settings: Settings) -> ProviderRegistry:
        registry = ProviderRegistry(settings)
        registry.install("reasoner", provider)
        return registry

    app = create_app(settings, admin_password=ADMIN_PASSWORD, providers=build)
    async with LifespanManager(app, startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:31327", headers=BEARER
        ) as client:
            yield Env(app, client, scripts, provider)


def client_for(env: Env) -> ollama.AsyncClient:
    return ollama.AsyncClient(
        host="http://127.0.0.1:31327/ollama", headers=BEARER, transport=env.client._transport
    )


async def test_thinking_is_apart_from_the_answer(env: Env) -> None:
    shown = (await env.client.post("/ollama/api/show", json={"model": "reasoner"})).json()
    assert "thinking" in shown["capabilities"]
    env.scripts.queue.append(thought())
    client = client_for(env)
    messages = [{"role": "user", "content": "Capital of France?"}]
    result = await client.chat(model="reasoner", messages=messages, think=True)
    assert result.message.thinking == "Paris is the capital."
    assert result.message.content == "Paris."
    env.scripts.queue.append(thought())
    parts = [
        p
        async for p in await client.chat(
            model="reasoner", messages=messages, think=True, stream=True
        )
    ]
    assert "".join(p.message.thinking or "" for p in parts) == "Paris is the capital."
    assert "".join(p.message.content or "" for p in parts) == "Paris."
    env.scripts.queue.append(thought())
    generated = await client.generate(model="reasoner", prompt="Capital of France?", think="high")
    assert (generated.thinking, generated.response) == ("Paris is the capital.", "Paris.")


async def test_think_false_leaves_the_reasoning_out(env: Env) -> None:
    env.scripts.queue.append(thought())
    response = await env.client.post(
        "/ollama/api/chat",
        json={
            "model": "reasoner",
            "think": False,
            "messages": [{"role": "user", "content": "Capital of France?"}],
        },
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert all("thinking" not in line["message"] for line in lines)
    assert "".join(line["message"]["content"] for line in lines) == "Paris."


async def test_keep_alive_reaches_the_model(env: Env) -> None:
    await client_for(env).chat(
        model="reasoner", messages=[{"role": "user", "content": "x"}], keep_alive="10m"
    )
    assert env.provider.requests[-1].options.keep_alive == 600
