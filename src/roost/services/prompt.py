"""Fit a conversation into the model's context window, newest turns first."""

from __future__ import annotations

import json
from typing import Any

from roost.core.records import Message
from roost.providers.base import ChatMessage, ChatProvider, ToolCallChunk

# What the chat template adds around the whole prompt, beyond each message's own tokens.
_TEMPLATE_SLACK = 16
_NOTE_RESULT_CHARS = 500  # a past tool result written into text is cut to this


def _tool_note(call: dict[str, Any]) -> str:
    arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
    result = str(call.get("result", ""))[:_NOTE_RESULT_CHARS]
    return f"[called {call.get('name')}({arguments}) → {result}]"


def history_unit(message: Message, *, with_tools: bool) -> list[ChatMessage]:
    """A stored message as the model sees it again: a reply that used tools becomes the
    calls, their results and the answer (or, for a request without tools, notes in text:
    providers refuse tool messages when no tools are offered)."""
    calls = [c for c in message.tool_calls if "result" in c]
    if message.role != "assistant" or not calls:
        return [ChatMessage(message.role, message.content)]
    if not with_tools:
        notes = "\n".join(_tool_note(call) for call in calls)
        return [ChatMessage("assistant", f"{notes}\n{message.content}".strip())]
    unit = [
        ChatMessage(
            "assistant",
            "",
            tool_calls=tuple(
                ToolCallChunk(str(c["id"]), str(c["name"]), dict(c.get("arguments") or {}))
                for c in calls
            ),
        ),
        *[
            ChatMessage("tool", str(c["result"]), tool_call_id=str(c["id"]), name=str(c["name"]))
            for c in calls
        ],
    ]
    if message.content:
        unit.append(ChatMessage("assistant", message.content))
    return unit


async def build_prompt(
    provider: ChatProvider,
    system_prompt: str | None,
    history: list[Message],
    *,
    reserve: int,
    with_tools: bool = False,
) -> tuple[list[ChatMessage], int]:
    """Return the messages to send and how many history messages were dropped.

    `history` ends with the new user message, which is always kept. Older messages are
    dropped from the front until the prompt plus `reserve` tokens for the reply fit; a
    reply with its tool calls and results goes or stays as one.
    """
    system = [ChatMessage("system", system_prompt)] if system_prompt else []
    turns = [
        history_unit(m, with_tools=with_tools) for m in history if m.role in ("user", "assistant")
    ]
    budget = provider.context_window - reserve - _TEMPLATE_SLACK
    used = await provider.count_tokens(system) if system else 0
    kept: list[list[ChatMessage]] = []
    for unit in reversed(turns):
        cost = await provider.count_tokens(unit)
        if kept and used + cost > budget:
            break
        kept.append(unit)
        used += cost
    kept.reverse()
    # A reply should follow a user turn; an orphaned leading assistant turn only confuses.
    while len(kept) > 1 and kept[0][0].role == "assistant":
        kept.pop(0)
    return system + [m for unit in kept for m in unit], len(turns) - len(kept)
