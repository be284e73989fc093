"""Anthropic request bodies → the service's CompletionRequest (the parse step).

A user turn's blocks become roost messages in their order: each `tool_result` a "tool"
message answering its call, runs of text a "user" message. An assistant turn becomes one
assistant message with its text and its `tool_use` calls. Echoed reasoning (`thinking`)
is dropped; images and documents are refused, as roost's models take text only.
"""

from __future__ import annotations

from roost.api.anthropic import schemas
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

THREAD = "anthropic"  # the exchange is kept as a conversation (services/threads.py)


def _refuse(kind: str, where: str) -> InvalidRequest:
    return InvalidRequest(
        f"{where}: content blocks of type '{kind}' are not supported; roost's models take "
        "text only",
        param=where,
    )


def _tool_output(block: schemas.ToolResultBlock, where: str) -> str:
    content = block.content
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        parts: list[str] = []
        for n, part in enumerate(content):
            if not isinstance(part, schemas.TextBlock):
                raise _refuse(part.type, f"{where}.content.{n}")
            parts.append(part.text)
        text = "\n".join(parts)
    # The model must know the call failed; Anthropic's is_error has no other carrier.
    return f"Error: {text}" if block.is_error else text


def _user(blocks: list[schemas.Block], where: str, tool_names: dict[str, str]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            out.append(ChatMessage("user", "\n".join(texts)))
            texts.clear()

    for n, block in enumerate(blocks):
        if isinstance(block, schemas.TextBlock):
            texts.append(block.text)
        elif isinstance(block, schemas.ToolResultBlock):
            flush()
            output = _tool_output(block, f"{where}.{n}")
            name = tool_names.get(block.tool_use_id)
            out.append(ChatMessage("tool", output, tool_call_id=block.tool_use_id, name=name))
        elif isinstance(block, schemas.OtherBlock):
            raise _refuse(block.type, f"{where}.{n}")
        elif isinstance(block, schemas.ToolUseBlock):
            raise InvalidRequest(f"{where}.{n}: tool_use blocks belong in assistant turns", where)
        # thinking blocks: dropped
    flush()
    return out or [ChatMessage("user", "")]


def _assistant(blocks: list[schemas.Block], where: str, tool_names: dict[str, str]) -> ChatMessage:
    texts: list[str] = []
    calls: list[ToolCallChunk] = []
    for n, block in enumerate(blocks):
        if isinstance(block, schemas.TextBlock):
            texts.append(block.text)
        elif isinstance(block, schemas.ToolUseBlock):
            calls.append(ToolCallChunk(block.id, block.name, block.input))
            tool_names[block.id] = block.name
        elif isinstance(block, schemas.OtherBlock):
            raise _refuse(block.type, f"{where}.{n}")
        elif isinstance(block, schemas.ToolResultBlock):
            raise InvalidRequest(f"{where}.{n}: tool_result blocks belong in user turns", where)
    return ChatMessage("assistant", "".join(texts), tool_calls=tuple(calls))


def system(value: str | list[schemas.TextBlock] | None) -> list[ChatMessage]:
    if value is None:
        return []
    text = value if isinstance(value, str) else "\n".join(block.text for block in value)
    return [ChatMessage("system", text)] if text else []


def messages(body: schemas.PromptFields) -> list[ChatMessage]:
    out = system(body.system)
    tool_names: dict[str, str] = {}
    for index, message in enumerate(body.messages):
        where = f"messages.{index}.content"
        content = message.content
        if isinstance(content, str):
            out.append(ChatMessage(message.role, content))
        elif message.role == "user":
            out.extend(_user(content, where, tool_names))
        else:
            out.append(_assistant(content, where, tool_names))
    return out


def _no_prefill(body: schemas.MessagesBody) -> None:
    if body.messages and body.messages[-1].role == "assistant":
        # Claude continues a final assistant turn (a "prefill"); roost's models answer
        # after it instead, which is not what the client asked for.
        raise InvalidRequest(
            "the last message must be the user's: a final assistant message (prefill) is "
            "not supported",
            param=f"messages.{len(body.messages) - 1}",
        )


def tools(body: schemas.PromptFields) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    for n, tool in enumerate(body.tools or []):
        if tool.type not in (None, "custom"):
            raise InvalidRequest(
                f"tools.{n}: server tools ('{tool.type}') are not supported; give client "
                "tools with an input_schema",
                param=f"tools.{n}.type",
            )
        specs.append(ToolSpec(tool.name, tool.description, tool.input_schema))
    return tuple(specs)


def tool_choice(choice: schemas.ToolChoiceIn | None) -> ToolChoice:
    if choice is None or isinstance(choice, schemas.AutoChoice):
        return ToolChoice()
    if isinstance(choice, schemas.AnyChoice):
        return ToolChoice("required")
    if isinstance(choice, schemas.NamedChoice):
        return ToolChoice("tool", choice.name)
    return ToolChoice("none")


def response_format(config: schemas.OutputConfig | None) -> ResponseFormat | None:
    if config is None or config.format is None:
        return None
    return ResponseFormat("json_schema", config.format.schema_)


def completion_request(body: schemas.PromptFields) -> CompletionRequest:
    """The prompt of a count_tokens body, or the whole request of a messages body."""
    options = GenerationOptions()
    if isinstance(body, schemas.MessagesBody):  # count_tokens may count a prefill
        _no_prefill(body)
        options = GenerationOptions(
            temperature=body.temperature,
            top_p=body.top_p,
            top_k=body.top_k,
            max_tokens=body.max_tokens,
            stop=[s for s in body.stop_sequences or [] if s],
        )
    return CompletionRequest(
        messages=messages(body),
        model=body.model,
        options=options,
        tools=tools(body),
        tool_choice=tool_choice(body.tool_choice),
        response_format=response_format(body.output_config),
        thread=THREAD,
        resumable=False,  # its clients cannot resume a stream: nothing recorded
    )


def wants_thinking(body: schemas.PromptFields) -> bool:
    """Whether reasoning is shown as thinking blocks: unless the client turned it off,
    as a model that reasons does so whatever the request says."""
    return not (
        isinstance(body.thinking, schemas.ThinkingOther) and body.thinking.type == "disabled"
    )
