"""Shared by the chat.nvim inbox tests: a scripted model steered by the message text, and
waiting for the background worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from roost.core.errors import ProviderError
from roost.providers.base import ChatRequest
from roost.providers.scripted import Script, reply
from tests.conftest import Env, Scripts


class Steered(Scripts):
    """Scripts the test queued first; then an echo, except that "slow:<s>:..." sleeps
    first, "gate:<name>:..." waits until the test calls `open(name)`, and "fail:<n>:..."
    fails its first n attempts (counted per message text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tries: Counter[str] = Counter()
        self.opened: set[str] = set()

    def open(self, gate: str) -> None:
        self.opened.add(gate)

    def _gated(self, gate: str, answer: Script) -> Iterator[Any]:
        # The provider sleeps on each float it meets, so this polls without blocking.
        while gate not in self.opened:
            yield 0.01
        yield from answer

    def __call__(self, request: ChatRequest) -> Script:
        if self.queue:
            return self.queue.pop(0)
        text = request.messages[-1].content
        self.tries[text] += 1
        answer = reply(f"you said: {text}")
        if text.startswith("slow:"):
            return [float(text.split(":")[1]), *answer]
        if text.startswith("gate:"):
            return self._gated(text.split(":")[1], answer)  # type: ignore[return-value]
        if text.startswith("fail:"):
            limit = int(text.split(":")[1])
            if self.tries[text] <= limit:
                return [ProviderError(f"upstream refused attempt {self.tries[text]}")]
        return answer


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {check}")
        await asyncio.sleep(0.02)


async def messages_of(env: Env, session: str) -> list[dict[str, Any]]:
    response = await env.client.get(f"/api/sessions/{session}")
    if response.status_code == 404:
        return []
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def queue_of(env: Env, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = await env.client.get("/api/queue", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["messages"]
    return items


async def answered(env: Env, session: str, count: int) -> list[dict[str, Any]]:
    """Wait until the session holds `count` assistant replies and nothing is queued."""

    async def check() -> list[dict[str, Any]] | None:
        messages = await messages_of(env, session)
        replies = [m for m in messages if m["role"] == "assistant"]
        pending = [
            q for q in await queue_of(env) if q["session"] == session and q["state"] != "failed"
        ]
        return messages if len(replies) >= count and not pending else None

    result: list[dict[str, Any]] = await until(check)
    return result


async def post(env: Env, session: str, content: str, **kwargs: Any) -> None:
    response = await env.client.post("/", json={"session": session, "content": content}, **kwargs)
    assert response.status_code == 204, response.text
    assert response.content == b""
