"""Memory in the prompt: what the turn and completion services need from memory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from roost.core.records import User
from roost.providers.base import ChatMessage, ChatProvider


class MemoryContext(Protocol):
    """The part of MemoryService that chat uses (a Protocol keeps the import one-way)."""

    async def context_for(
        self,
        user: User,
        message: str,
        *,
        budget_tokens: int,
        count_tokens: Callable[[str], Awaitable[int]],
    ) -> str | None: ...

    async def append_turn(self, user: User, user_text: str, reply: str) -> None: ...


async def with_memory(
    memory: MemoryContext,
    user: User,
    system: str | None,
    message: str,
    provider: ChatProvider,
    budget: int,
) -> str | None:
    """The system prompt with the user's memory context appended (within `budget` tokens,
    and never more than a quarter of the model's window, so the conversation keeps room)."""
    budget = min(budget, provider.context_window // 4)
    if budget <= 0:
        return system

    async def count(text: str) -> int:
        return await provider.count_tokens([ChatMessage("system", text)])

    context = await memory.context_for(user, message, budget_tokens=budget, count_tokens=count)
    if not context:
        return system
    note = f"Relevant notes from the user's memory:\n{context}"
    return f"{system}\n\n{note}" if system else note
