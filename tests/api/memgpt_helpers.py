"""Shared by the MemGPT dialect tests: scripted function calls and agent creation."""

from __future__ import annotations

import json
from typing import Any

import httpx

from roost.providers.base import Finish, ToolCallChunk, UsageChunk

SEED_CONFIG = {
    "name": "MyCustomAgent",
    "preset": "memgpt_chat",
    "human": "cs_phd",
    "persona": "sam_pov",
}


def call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> list[Any]:
    """One model step that calls a MemGPT function."""
    return [ToolCallChunk(call_id, name, arguments), UsageChunk(100, 20), Finish("tool_calls")]


def say(
    message: str, thoughts: str = "Thinking about the user's message.", **extra: Any
) -> list[Any]:
    return call("send_message", {"inner_thoughts": thoughts, "message": message, **extra})


async def new_agent(client: httpx.AsyncClient, **config: Any) -> str:
    response = await client.post("/api/agents", json={"config": {**SEED_CONFIG, **config}})
    assert response.status_code == 200, response.text
    agent_id: str = response.json()["agent_state"]["id"]
    return agent_id


def kinds(events: list[Any]) -> list[str]:
    """The event kind of each SSE payload (its first key), sentinels as themselves."""
    return [e if isinstance(e, str) else next(iter(e)) for e in events]


def events_of(body: str) -> list[Any]:
    """SSE data payloads: JSON decoded, MemGPT's [DONE...] sentinels kept as strings."""
    found: list[Any] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            found.append(payload if payload.startswith("[") else json.loads(payload))
    return found
