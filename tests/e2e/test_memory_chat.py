"""Memory in chat with the real embedded model: the hit reaches the prompt, the model answers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from roost.app import create_app
from roost.config import Settings
from roost.providers.base import ChatMessage, ChatRequest, ProviderEvent
from roost.providers.llamacpp import LlamaCppProvider
from roost.providers.registry import ProviderRegistry
from tests.conftest import ADMIN_PASSWORD, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.asyncio]


class Recording:
    """The real provider, keeping each request it was sent."""

    def __init__(self, inner: LlamaCppProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ChatRequest] = []

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        self.requests.append(request)
        async for event in self.inner.stream(request):
            yield event

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        return await self.inner.count_tokens(messages)

    async def probe(self) -> str | None:
        return await self.inner.probe()

    async def close(self) -> None:
        await self.inner.close()


async def test_answer_only_in_the_workspace_reaches_the_model(home: Path) -> None:
    settings: Settings = make_settings(home)
    (home / "workspace").mkdir()
    (home / "workspace" / "MEMORY.md").write_text(
        "# Memory\n\n## Family\nMy sister's name is Zephyrine. She lives in Lisbon.\n"
    )
    holder: list[Recording] = []

    def registry(s: Settings) -> ProviderRegistry:
        built = ProviderRegistry(s)
        real = LlamaCppProvider.from_settings("smollm2", s.models["smollm2"], s)
        holder.append(Recording(real))
        built.install("smollm2", holder[0])  # type: ignore[arg-type]
        return built

    app = create_app(settings, admin_password=ADMIN_PASSWORD, providers=registry)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"X-API-Key": ADMIN_PASSWORD}
        ) as client:
            response = await client.post(
                "/api/chat", json={"message": "What is my sister's name?"}, timeout=120
            )
    assert response.status_code == 200, response.text
    system = holder[0].requests[-1].messages[0]
    assert system.role == "system"
    assert "Zephyrine" in system.content
    assert "MEMORY.md" in system.content
    assert response.json()["tokens"]["completion"] > 0
