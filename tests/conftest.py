"""Shared fixtures: a temp ROOST_HOME, an in-process app with scripted and real models."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from roost.app import create_app
from roost.config import Settings, load_settings
from roost.providers.base import ChatRequest
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import Script, ScriptedProvider, reply
from roost.services.container import Services
from tests import backend

ADMIN_PASSWORD = "test-admin-password"


def make_settings(home: Path, **env: str) -> Settings:
    """Settings for a roost in `home`, on the test run's database (tests/backend.py)."""
    base = {"ROOST_HOME": str(home), **backend.database_env()}
    base.update(env)
    return load_settings(home=home, env=base)


@pytest.fixture(scope="session", autouse=True)
def _test_database() -> Iterator[None]:
    """On the PostgreSQL run: the session's database, named to `roost` subprocesses too."""
    backend.start_session()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in backend.database_env().items():
                patch.setenv(name, value)
            yield
    finally:
        backend.end_session()


@pytest.fixture(autouse=True)
def _empty_database(_test_database: None) -> None:
    """Every test starts on an empty database, as it would on a new SQLite file."""
    backend.reset()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    settings = make_settings(home)
    settings.default_model = "scripted"  # installed by `env` below, not in config
    return settings


@dataclass
class Scripts:
    """What the scripted model answers next; by default it echoes the last user message."""

    queue: list[Script] = field(default_factory=list)

    def __call__(self, request: ChatRequest) -> Script:
        if self.queue:
            return self.queue.pop(0)
        return reply(f"you said: {request.messages[-1].content}")


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    scripts: Scripts
    provider: ScriptedProvider

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def new_user_key(self, name: str) -> str:
        user = await self.services.users.create(name)
        return (await self.services.users.create_key(user)).secret


def registry_with(provider: ScriptedProvider) -> Callable[[Settings], ProviderRegistry]:
    def build(settings: Settings) -> ProviderRegistry:
        registry = ProviderRegistry(settings)
        registry.install("scripted", provider)
        return registry

    return build


@asynccontextmanager
async def running(
    settings: Settings, scripts: Scripts | None = None, **kwargs: Any
) -> AsyncIterator[Env]:
    """The app with its lifespan, an in-process client, and the scripted model installed."""
    scripts = scripts or Scripts()
    provider = ScriptedProvider(scripts, name="scripted")
    app = create_app(
        settings, admin_password=ADMIN_PASSWORD, providers=registry_with(provider), **kwargs
    )
    # Generous: a loaded CI machine can take seconds to import an SDK at start.
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        headers = {"X-API-Key": ADMIN_PASSWORD}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:31327", headers=headers
        ) as client:
            yield Env(app, client, scripts, provider)


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with running(settings) as value:
        yield value


def sse_events(body: str) -> list[Any]:
    """Parse an SSE body into its data payloads (JSON decoded; '[DONE]' kept as a string)."""
    events: list[Any] = []
    for block in body.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                payload = line[len("data: ") :]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def requires_postgres() -> str:
    url = os.environ.get("ROOST_TEST_DATABASE_URL")
    if not url:
        pytest.skip("ROOST_TEST_DATABASE_URL is not set")
    return url


def pytest_unconfigure(config: pytest.Config) -> None:
    # llama-cpp-python opens two /dev/null files at import and never closes them; closing
    # them here keeps interpreter shutdown free of ResourceWarnings.
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()
