"""Fit a conversation into the model's context window, newest turns first."""

from __future__ import annotations

from roost.core.records import Message
from roost.providers.base import ChatMessage, ChatProvider

# What the chat template adds around the whole prompt, beyond each message's own tokens.
_TEMPLATE_SLACK = 16


async def build_prompt(
    provider: ChatProvider,
    system_prompt: str | None,
    history: list[Message],
    *,
    reserve: int,
) -> tuple[list[ChatMessage], int]:
    """Return the messages to send and how many history messages were dropped.

    `history` ends with the new user message, which is always kept. Older messages are
    dropped from the front until the prompt plus `reserve` tokens for the reply fit.
    """
    system = [ChatMessage("system", system_prompt)] if system_prompt else []
    turns = [ChatMessage(m.role, m.content) for m in history if m.role in ("user", "assistant")]
    budget = provider.context_window - reserve - _TEMPLATE_SLACK
    used = await provider.count_tokens(system) if system else 0
    kept: list[ChatMessage] = []
    for message in reversed(turns):
        cost = await provider.count_tokens([message])
        if kept and used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # A reply should follow a user turn; an orphaned leading assistant turn only confuses.
    while len(kept) > 1 and kept[0].role == "assistant":
        kept.pop(0)
    return system + kept, len(turns) - len(kept)
