"""A POST /v1/responses body → the service's ResponseRequest (the parse step)."""

from __future__ import annotations

from typing import Any

from roost.api import keepalive
from roost.api.openai.convert import tool_arguments
from roost.api.responses import schemas
from roost.core.chat import (
    ChatMessage,
    GenerationOptions,
    ResponseFormat,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.core.errors import InvalidRequest
from roost.services.responses import ResponseRequest


def _text(content: schemas.Content, where: str) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if not isinstance(part, schemas.TextPart):
            raise InvalidRequest(
                f"{where}: content parts of type '{part.type}' are not supported; "
                "roost's models take text only",
                param=where,
            )
        texts.append(part.text)
    return "\n".join(texts)


def messages(body: schemas.ResponseBody, max_depth: int) -> list[ChatMessage]:
    """The input items as chat messages: function calls join the assistant message before
    them (one message, several calls, as chat templates expect), reasoning is skipped."""
    if isinstance(body.input, str):
        return [ChatMessage("user", body.input)]
    out: list[ChatMessage] = []
    names: dict[str, str] = {}
    for index, item in enumerate(body.input):
        where = f"input.{index}"
        if isinstance(item, schemas.MessageItem):
            role = "system" if item.role in ("system", "developer") else item.role
            out.append(ChatMessage(role, _text(item.content, f"{where}.content")))
        elif isinstance(item, schemas.FunctionCallItem):
            call = ToolCallChunk(
                item.call_id, item.name, tool_arguments(item.arguments, where, max_depth)
            )
            names[item.call_id] = item.name
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":
                out[-1] = ChatMessage("assistant", last.content, (*last.tool_calls, call))
            else:
                out.append(ChatMessage("assistant", "", (call,)))
        elif isinstance(item, schemas.FunctionCallOutputItem):
            text = _text(item.output, f"{where}.output")
            name = names.get(item.call_id)
            out.append(ChatMessage("tool", text, tool_call_id=item.call_id, name=name))
        elif item.type != "reasoning":  # roost keeps no hidden reasoning to send back
            raise InvalidRequest(
                f"{where}: input items of type '{item.type}' are not supported", param=where
            )
    return out


def _tools(body: schemas.ResponseBody) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    for index, tool in enumerate(body.tools or []):
        if not isinstance(tool, schemas.FunctionTool):
            raise InvalidRequest(
                f"tools.{index}: tools of type '{tool.type}' are not supported; "
                "roost serves function tools",
                param=f"tools.{index}.type",
            )
        specs.append(ToolSpec(tool.name, tool.description or "", tool.parameters or {}))
    return tuple(specs)


def _tool_choice(choice: str | schemas.NamedFunction | None) -> ToolChoice:
    if choice is None or choice == "auto":
        return ToolChoice()
    if isinstance(choice, schemas.NamedFunction):
        return ToolChoice("tool", choice.name)
    return ToolChoice("none") if choice == "none" else ToolChoice("required")


def _format(text: schemas.TextConfig | None) -> ResponseFormat | None:
    fmt = text.format if text is not None else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return ResponseFormat("json_object")
    if fmt.schema_ is None:
        raise InvalidRequest(
            "text.format of type 'json_schema' needs 'schema'", param="text.format.schema"
        )
    return ResponseFormat("json_schema", fmt.schema_, fmt.name or "response")


def params(body: schemas.ResponseBody) -> dict[str, Any]:
    """The request's parameters as a response shows them (stored, echoed by GET)."""
    tools = [t.model_dump(exclude_none=False) for t in body.tools or []]
    for tool in tools:
        tool.setdefault("strict", None)
    choice = body.tool_choice or "auto"
    text = body.text.model_dump(by_alias=True, exclude_none=True) if body.text else {}
    text.setdefault("format", {"type": "text"})
    return {
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "metadata": body.metadata or {},
        "parallel_tool_calls": True
        if body.parallel_tool_calls is None
        else body.parallel_tool_calls,
        "reasoning": (body.reasoning or schemas.Reasoning()).model_dump(),
        "store": body.store,
        "temperature": body.temperature,
        "text": text,
        "tool_choice": choice if isinstance(choice, str) else choice.model_dump(),
        "tools": tools,
        "top_p": body.top_p,
        "truncation": body.truncation or "disabled",
        "user": body.user,
    }


def request(body: schemas.ResponseBody, *, max_depth: int) -> ResponseRequest:
    """`max_depth`: `[limits] max_json_depth`, for the JSON inside strings (arguments)."""
    if body.background:
        raise InvalidRequest("background responses are not supported", param="background")
    if body.conversation is not None:
        raise InvalidRequest(
            "conversation objects are not supported; continue with previous_response_id",
            param="conversation",
        )
    options = GenerationOptions(
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_output_tokens,
        keep_alive=keepalive.seconds(body.keep_alive),
    )
    return ResponseRequest(
        input=messages(body, max_depth),
        model=body.model,
        instructions=body.instructions,
        options=options,
        tools=_tools(body),
        tool_choice=_tool_choice(body.tool_choice),
        response_format=_format(body.text),
        previous_response_id=body.previous_response_id,
        store=body.store,
        params=params(body),
    )
