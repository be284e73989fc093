"""Ollama request bodies → the service's CompletionRequest, and Ollama's model names.

Ollama names a model `name:tag` with the tag `latest` by default, so `smollm2` and
`smollm2:latest` both mean roost's `smollm2`; a pulled model's name carries its own tag
(`hf.co/owner/repo:Q4_K_M`). Responses echo the name the client sent.
"""

from __future__ import annotations

from typing import Protocol

from roost.api import keepalive
from roost.api.ollama import schemas
from roost.config import ModelSettings
from roost.core.chat import (
    ChatMessage,
    GenerationOptions,
    ResponseFormat,
    ToolCallChunk,
    ToolSpec,
)
from roost.core.errors import InvalidRequest, ModelNotFound
from roost.services.completions import CompletionRequest

LATEST = ":latest"
THREAD = "ollama"  # the dialect's conversations (services/threads.py)


def tagged(name: str) -> str:
    """How /api/tags and /api/ps list roost's `name`: with a tag, `latest` unless it has one."""
    return name if ":" in name.rsplit("/", 1)[-1] else name + LATEST


class Models(Protocol):
    """What resolving a name needs of the provider registry (services.providers)."""

    def settings_for(self, name: str) -> ModelSettings | None: ...

    def peek(self, name: str) -> object | None: ...


def resolve(asked: str, models: Models) -> tuple[str, ModelSettings | None]:
    """roost's name for the model a client asked for, and its settings (None for one
    installed directly, as tests do); Ollama's 404 when there is none. Looked up by name,
    not by listing every model: this is on every turn's path."""
    for name in (asked, asked.removesuffix(LATEST)):
        settings = models.settings_for(name)
        if settings is not None or models.peek(name) is not None:
            return name, settings
    raise ModelNotFound(f"model '{asked}' not found")


def check_think(think: schemas.Think, asked: str, can_think: bool) -> None:
    if think not in (None, False) and not can_think:
        raise InvalidRequest(f'"{asked}" does not support thinking', param="think")


def _no_images(images: list[str] | None, asked: str, param: str) -> None:
    if images:
        raise InvalidRequest(
            f'"{asked}" does not support images: roost\'s models take text only', param=param
        )


def options(body: schemas.Options | None, keep_alive: str | float | None) -> GenerationOptions:
    """Ollama's options as roost's sampling options. num_predict -1 (unlimited) and -2
    (fill the context) both mean no limit but the window; min_p and num_ctx are not
    per-request settings in roost and are ignored."""
    seconds = keepalive.seconds(keep_alive)
    if body is None:
        return GenerationOptions(keep_alive=seconds)
    predict = body.num_predict
    return GenerationOptions(
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        repeat_penalty=body.repeat_penalty,
        max_tokens=predict if predict is not None and predict > 0 else None,
        seed=body.seed if body.seed is None or body.seed >= 0 else None,  # -1: random
        stop=[s for s in body.stop or [] if s],
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        keep_alive=seconds,
    )


def response_format(value: schemas.Format) -> ResponseFormat | None:
    if value is None or value == "":
        return None
    if value == "json":
        return ResponseFormat("json_object")
    if isinstance(value, dict):
        return ResponseFormat("json_schema", value, "response")
    raise InvalidRequest("'format' must be \"json\" or a JSON schema object", param="format")


def messages(body: list[schemas.Message], asked: str) -> list[ChatMessage]:
    """Ollama's tool calls may have no id, and its tool results name the tool
    (`tool_name`) rather than the call: ids are made up, and a result answers the
    earliest unanswered call of its tool."""
    out: list[ChatMessage] = []
    unanswered: list[tuple[str, str]] = []  # (id, tool name)
    for index, message in enumerate(body):
        _no_images(message.images, asked, f"messages.{index}.images")
        if message.role == "assistant":
            calls = tuple(
                ToolCallChunk(
                    call.id or f"call_{index}_{n}", call.function.name, call.function.arguments
                )
                for n, call in enumerate(message.tool_calls or [])
            )
            unanswered.extend((c.id, c.name) for c in calls)
            out.append(ChatMessage("assistant", message.content, tool_calls=calls))
        elif message.role == "tool":
            call_id, name = _answered(unanswered, message.tool_call_id, message.tool_name)
            out.append(ChatMessage("tool", message.content, tool_call_id=call_id, name=name))
        else:
            out.append(ChatMessage(message.role, message.content))
    return out


def _answered(
    unanswered: list[tuple[str, str]], call_id: str | None, name: str | None
) -> tuple[str, str | None]:
    for position, (known_id, known_name) in enumerate(unanswered):
        if (call_id and known_id == call_id) or (not call_id and name in (None, known_name)):
            del unanswered[position]
            return known_id, known_name
    return call_id or f"call_{name or 'tool'}", name


def _tools(body: list[schemas.ToolDef] | None) -> tuple[ToolSpec, ...]:
    return tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters) for t in body or []
    )


def _check_common(body: schemas.ChatBody | schemas.GenerateBody) -> None:
    if body.logprobs or body.top_logprobs:
        raise InvalidRequest("'logprobs' are not supported by roost", param="logprobs")


def chat_request(body: schemas.ChatBody, model: str) -> CompletionRequest:
    _check_common(body)
    return CompletionRequest(
        messages=messages(body.messages, body.model),
        model=model,
        options=options(body.options, body.keep_alive),
        tools=_tools(body.tools),
        response_format=response_format(body.format),
        thread=THREAD,
        resumable=False,  # its clients cannot resume a stream: nothing recorded
    )


def generate_request(body: schemas.GenerateBody, model: str) -> CompletionRequest:
    """One prompt, one answer, nothing kept: generate is a completion, not a conversation
    (roost returns no `context`, so a client has none to send back)."""
    _check_common(body)
    _no_images(body.images, body.model, "images")
    if body.suffix:
        raise InvalidRequest(f'"{body.model}" does not support insert', param="suffix")
    if body.raw:
        raise InvalidRequest("raw mode is not supported: roost always applies the template", "raw")
    if body.template:
        raise InvalidRequest("'template' is not supported: roost uses the model's own", "template")
    if body.context:
        raise InvalidRequest("'context' is not supported: send the history to /api/chat", "context")
    turn = [ChatMessage("user", body.prompt)]
    if body.system:
        turn.insert(0, ChatMessage("system", body.system))
    return CompletionRequest(
        messages=turn,
        model=model,
        options=options(body.options, body.keep_alive),
        response_format=response_format(body.format),
    )
