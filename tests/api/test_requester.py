"""Every model call knows whose it is (a local model's slots are shared fairly by it):
requests by their key, inbox deliveries by the queued message's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from roost.config import Settings
from roost.core import requester
from roost.providers.base import ChatRequest
from roost.providers.scripted import Script
from tests.api.inbox_helpers import Steered, answered
from tests.conftest import Env, running


class Recording(Steered):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __call__(self, request: ChatRequest) -> Script:
        self.seen.append(requester.current.get())
        return super().__call__(request)


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with running(settings, Recording()) as value:
        yield value


async def test_each_model_call_is_attributed_to_its_user(env: Env) -> None:
    scripts = env.scripts
    assert isinstance(scripts, Recording)
    admin = await env.services.users.resolve("default")
    bob = await env.services.users.create("bob")
    bob_key = (await env.services.users.create_key(bob)).secret

    await env.client.post("/api/chat", json={"message": "hi"})
    await env.client.post(
        "/v1/chat/completions",
        json={"model": "scripted", "messages": [{"role": "user", "content": "hi"}]},
        headers={"X-API-Key": bob_key},
    )
    queued = await env.client.post("/", json={"session": "s", "content": "hi"})
    assert queued.status_code == 204
    await answered(env, "s", 1)  # a background worker's turn, with no request around it
    assert scripts.seen == [admin.id, bob.id, admin.id]
