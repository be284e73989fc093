"""Shared by the Responses API tests: the official SDK on the in-process app, SSE events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai

from tests.conftest import ADMIN_PASSWORD, Env


@asynccontextmanager
async def sdk_for(env: Env, key: str = ADMIN_PASSWORD) -> AsyncIterator[openai.AsyncOpenAI]:
    http = httpx.AsyncClient(transport=env.client._transport)  # the in-process app
    client = openai.AsyncOpenAI(
        base_url="http://127.0.0.1:31327/v1", api_key=key, http_client=http, max_retries=0
    )
    async with client:
        yield client


def sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) of each event of a Responses stream."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in body.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        payload = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        found.append((name, payload))
    return found


def conversation(messages: list[Any]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]
