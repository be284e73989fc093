"""A stored conversation as the messages a continued response sends the model again.

`previous_response_id` continues from what the conversation holds up to that response's
reply: the users' messages, the replies with the function calls they made, and the
function results the client sent back (role "tool", their one call naming what they
answer). Replies in which roost ran its own tools become the calls and their results
(prompt.history_unit), as a native turn's prompt has them.
"""

from __future__ import annotations

from roost.core.chat import ChatMessage, ToolCallChunk
from roost.core.records import Message
from roost.services.prompt import history_unit


def _assistant(message: Message) -> list[ChatMessage]:
    if any("result" in call for call in message.tool_calls):
        return history_unit(message, with_tools=True)
    calls = tuple(
        ToolCallChunk(str(c.get("id", "")), str(c.get("name", "")), dict(c.get("arguments") or {}))
        for c in message.tool_calls
    )
    if not message.content and not calls:
        return []  # a turn that failed before it said anything
    return [ChatMessage("assistant", message.content, tool_calls=calls)]


def chat_messages(stored: list[Message]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for message in stored:
        if message.role == "assistant":
            out.extend(_assistant(message))
        elif message.role == "tool":
            call = message.tool_calls[0] if message.tool_calls else {}
            out.append(
                ChatMessage(
                    "tool",
                    message.content,
                    tool_call_id=str(call.get("id", "")) or None,
                    name=str(call.get("name", "")) or None,
                )
            )
        elif message.role == "user":
            out.append(ChatMessage("user", message.content))
    return out
