"""OpenAI request bodies → the service's CompletionRequest (the parse step of the dialect)."""

from __future__ import annotations

import json
from typing import Any

from roost.api import bodies, keepalive
from roost.api.openai import schemas
from roost.core.chat import (
    ChatMessage,
    GenerationOptions,
    ResponseFormat,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.core.errors import InvalidRequest
from roost.services.completions import CompletionRequest


def _text(content: schemas.Content | None, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if not isinstance(part, schemas.TextPart):
            raise InvalidRequest(
                f"messages[{index}]: content parts of type '{part.type}' are not supported; "
                "roost's models take text only",
                param=f"messages.{index}.content",
            )
        texts.append(part.text)
    return "\n".join(texts)


def tool_arguments(raw: str, where: str, max_depth: int) -> dict[str, Any]:
    try:
        value = bodies.loads(raw, max_depth) if raw.strip() else {}
    except bodies.TooDeep as exc:
        raise InvalidRequest(f"{where}: arguments are {exc}", param=where) from None
    except json.JSONDecodeError:
        raise InvalidRequest(f"{where}: arguments are not valid JSON", param=where) from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where}: arguments must be a JSON object", param=where)
    return value


def messages(body: list[schemas.Message], max_depth: int) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    tool_names: dict[str, str] = {}
    for index, message in enumerate(body):
        text = _text(message.content, index)
        if isinstance(message, schemas.SystemMessage):
            out.append(ChatMessage("system", text))
        elif isinstance(message, schemas.UserMessage):
            out.append(ChatMessage("user", text))
        elif isinstance(message, schemas.AssistantMessage):
            calls = tuple(
                ToolCallChunk(
                    call.id,
                    call.function.name,
                    tool_arguments(
                        call.function.arguments, f"messages.{index}.tool_calls.{n}", max_depth
                    ),
                )
                for n, call in enumerate(message.tool_calls or [])
            )
            tool_names.update({call.id: call.name for call in calls})
            out.append(ChatMessage("assistant", text, tool_calls=calls))
        else:
            name = tool_names.get(message.tool_call_id)
            out.append(ChatMessage("tool", text, tool_call_id=message.tool_call_id, name=name))
    return out


def options(body: schemas.ChatFields) -> GenerationOptions:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    return GenerationOptions(
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        seed=body.seed,
        stop=[s for s in stop if s],
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        keep_alive=keepalive.seconds(body.keep_alive),
    )


def tool_choice(choice: str | schemas.NamedToolChoice | None) -> ToolChoice:
    if choice is None or choice == "auto":
        return ToolChoice()
    if isinstance(choice, schemas.NamedToolChoice):
        return ToolChoice("tool", choice.function.name)
    return ToolChoice("none") if choice == "none" else ToolChoice("required")


def response_format(body: schemas.ResponseFormatIn | None) -> ResponseFormat | None:
    if body is None or body.type == "text":
        return None
    if body.type == "json_object":
        return ResponseFormat("json_object")
    if body.json_schema is None:
        raise InvalidRequest(
            "response_format of type 'json_schema' needs 'json_schema'",
            param="response_format.json_schema",
        )
    return ResponseFormat("json_schema", body.json_schema.schema_, body.json_schema.name)


def completion_request(
    body: schemas.ChatFields,
    *,
    model: str | None = None,
    session_id: str | None = None,
    role_id: str | None = None,
    max_depth: int,
) -> CompletionRequest:
    """`max_depth`: `[limits] max_json_depth`, for the JSON inside strings (arguments)."""
    if body.n is not None and body.n > 1:
        raise InvalidRequest("'n' above 1 is not supported: roost returns one choice", "n")
    if body.logprobs:
        raise InvalidRequest("'logprobs' is not supported", param="logprobs")
    tools = tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters)
        for t in body.tools or []
    )
    return CompletionRequest(
        messages=messages(body.messages, max_depth),
        model=model or body.model,
        options=options(body),
        tools=tools,
        tool_choice=tool_choice(body.tool_choice),
        response_format=response_format(body.response_format),
        session_id=session_id,
        role_id=role_id,
    )
