"""Response objects, output items and input items as OpenAI's Responses API shows them.

Item ids are derived, not stored: a response's output items take its id's hex (`msg_`,
`rs_`, `fc_<hex>_<n>`), so a streamed, a returned and a retrieved response agree; input
items take their stored message's number.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from roost.core.records import Message, TokenUsage

_ERROR_CODES = {"rate_limited": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}


def _hex(response_id: str) -> str:
    return response_id.removeprefix("resp_")


def usage(value: TokenUsage | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "input_tokens": value.prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": value.completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": value.total,
    }


def error(value: dict[str, str] | None) -> dict[str, str] | None:
    """A failed turn's error as Response.error: OpenAI's codes, roost's message."""
    if value is None:
        return None
    code = _ERROR_CODES.get(value.get("code", ""), "server_error")
    return {"code": code, "message": value.get("message", "")}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(response_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [text_part(text)]
    return {
        "id": f"msg_{_hex(response_id)}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def reasoning_item(response_id: str, text: str | None) -> dict[str, Any]:
    content = [] if text is None else [{"type": "reasoning_text", "text": text}]
    return {"id": f"rs_{_hex(response_id)}", "type": "reasoning", "summary": [], "content": content}


def call_item(
    response_id: str, index: int, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": f"fc_{_hex(response_id)}_{index}",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def arguments(value: Any) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False)


def output(response_id: str, reply: Message | None) -> list[dict[str, Any]]:
    """A stored (or just generated) reply as output items: reasoning, text, calls."""
    if reply is None:
        return []
    items: list[dict[str, Any]] = []
    if reply.reasoning:
        items.append(reasoning_item(response_id, reply.reasoning))
    if reply.content or not reply.tool_calls:
        items.append(message_item(response_id, reply.content, "completed"))
    for index, call in enumerate(reply.tool_calls):
        items.append(
            call_item(
                response_id,
                index,
                str(call.get("id", "")),
                str(call.get("name", "")),
                arguments(call.get("arguments")),
                "completed",
            )
        )
    return items


def response(
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    params: dict[str, Any],
    previous_response_id: str | None,
    items: list[dict[str, Any]],
    token_usage: TokenUsage | None = None,
    failure: dict[str, str] | None = None,
    incomplete_reason: str | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": completed_at,
        "error": error(failure),
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": model,
        "output": items,
        "previous_response_id": previous_response_id,
        "usage": usage(token_usage),
        **params,
    }


def input_item(message: Message, response_id: str | None = None) -> list[dict[str, Any]]:
    """A stored message as the input items it was (a reply with calls is several). An
    earlier response's reply keeps the ids it had as that response's output."""
    if message.role == "assistant" and response_id is not None:
        return output(response_id, replace(message, reasoning=None))
    ref = f"{message.id:012x}"
    if message.role == "tool":
        call = message.tool_calls[0] if message.tool_calls else {}
        return [
            {
                "id": f"fco_{ref}",
                "type": "function_call_output",
                "call_id": str(call.get("id", "")),
                "output": message.content,
                "status": "completed",
            }
        ]
    if message.role == "user":
        part = {"type": "input_text", "text": message.content}
        return [
            {
                "id": f"msg_{ref}",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [part],
            }
        ]
    items = []
    if message.content or not message.tool_calls:
        items.append(
            {
                "id": f"msg_{ref}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [text_part(message.content)],
            }
        )
    for index, call in enumerate(message.tool_calls):
        items.append(
            {
                "id": f"fc_{ref}_{index}",
                "type": "function_call",
                "status": "completed",
                "call_id": str(call.get("id", "")),
                "name": str(call.get("name", "")),
                "arguments": arguments(call.get("arguments")),
            }
        )
    return items
