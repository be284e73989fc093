"""Claude models (or an Anthropic-compatible proxy) through the official `anthropic` SDK.

Imported on first use, like the OpenAI provider, whose helpers (keys, token estimate,
failure descriptions) this one shares. No retries: failures are reported, not hidden.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, ProviderError
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    UsageChunk,
)
from roost.providers.direct_post import http_client
from roost.providers.openai_compat import (
    PLACEHOLDER_KEY,
    PROBE_TIMEOUT,
    RemoteModel,
    resolve_api_key,
    sampling_defaults,
    tool_arguments,
)
from roost.providers.remote_failures import describe_failure, stale_connection

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

DEFAULT_CONTEXT_WINDOW = 200_000  # every current Claude model has at least this
DEFAULT_MAX_TOKENS = 1024

# Anthropic's stop reasons in the OpenAI vocabulary the rest of roost speaks.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _blocks(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    """The Anthropic role and content blocks of one message (Anthropic refuses empty text)."""
    if message.role == "tool":
        result = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        return "user", [{**result, "content": message.content}]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks += [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            for call in message.tool_calls
        ]
        return "assistant", blocks
    return "user", blocks


def map_messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """System text apart; the rest as alternating turns, consecutive same-role ones merged
    (a tool result and the user's next words become one user turn, as Anthropic requires)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role, blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(part for part in system if part), turns


def _tool_choice(request: ChatRequest) -> dict[str, Any]:
    choice = request.tool_choice
    if choice.mode == "tool":
        return {"type": "tool", "name": choice.name}
    return {"type": "any" if choice.mode == "required" else choice.mode}


def _format_instruction(request: ChatRequest) -> str:
    """Anthropic has no JSON mode: ask for JSON in the system prompt instead."""
    wanted = request.response_format
    if wanted is None or wanted.type == "text":
        return ""
    if wanted.type == "json_object" or not wanted.schema:
        return "Reply with one JSON object only, no other text."
    schema = json.dumps(wanted.schema)
    return f"Reply with one JSON object only, no other text, matching this JSON schema: {schema}"


class AnthropicProvider(RemoteModel):
    def __init__(
        self,
        name: str,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = PLACEHOLDER_KEY,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        defaults: GenerationOptions | None = None,
    ) -> None:
        import anthropic

        self.name = name
        self.model = model
        self._sdk: ModuleType = anthropic
        self._timeout = timeout
        self._window = context_window
        self._max_tokens = max_tokens
        self._defaults = defaults or GenerationOptions()
        limits = anthropic.Timeout(timeout, connect=connect_timeout)
        self._client: AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=limits,
            http_client=http_client(anthropic, limits),
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    @classmethod
    def from_settings(
        cls, name: str, model: ModelSettings, settings: Settings
    ) -> AnthropicProvider:
        if not model.model:
            raise ConfigError(
                f"[models.{name}] provider 'anthropic' needs `model`, the upstream model name, "
                f"in {settings.config_path}"
            )
        return cls(
            name,
            model=model.model,
            base_url=model.base_url,
            api_key=resolve_api_key(name, model),
            timeout=model.timeout,
            connect_timeout=model.connect_timeout,
            context_window=model.context_window or DEFAULT_CONTEXT_WINDOW,
            max_tokens=model.max_tokens,
            defaults=sampling_defaults(model),
        )

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        options, defaults = request.options, self._defaults
        system, turns = map_messages(request.messages)
        instruction = _format_instruction(request)
        if instruction:
            system = f"{system}\n\n{instruction}" if system else instruction
        params: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            # Anthropic requires a cap on every request.
            "max_tokens": options.max_tokens or self._max_tokens,
            "stream": True,
        }
        if system:
            params["system"] = system
        # Sent as extra body fields: recent SDKs dropped these keywords (newer models
        # refuse some of them), while older models and proxies still take them.
        sampling: dict[str, Any] = {}
        for key in ("temperature", "top_p", "top_k"):
            value = getattr(options, key)
            if value is None:
                value = getattr(defaults, key)
            if value is not None and not (key == "top_k" and value == 0):  # 0: off
                sampling[key] = value
        if sampling:
            params["extra_body"] = sampling
        if options.stop:
            params["stop_sequences"] = list(options.stop)
        if request.tools:
            params["tools"] = [
                {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "input_schema": tool.parameters or {"type": "object", "properties": {}},
                }
                for tool in request.tools
            ]
            params["tool_choice"] = _tool_choice(request)
        return params

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        params = self._params(request)
        tools: dict[int, list[Any]] = {}  # block index -> [id, name, json fragments, input]
        prompt_tokens = completion_tokens = 0
        stop: str | None = None
        stop_sequence: str | None = None
        started = False
        try:
            try:
                upstream = await self._client.messages.create(**params)
            except Exception as exc:
                if not stale_connection(exc):
                    raise
                # A pooled connection the upstream closed meanwhile: once more, on a new one.
                upstream = await self._client.messages.create(**params)
            started = True
            async with upstream:  # closing this generator early closes the response
                async for event in upstream:
                    kind = event.type
                    if kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            yield TextChunk(delta.text)
                        elif delta.type == "input_json_delta":
                            tools[event.index][2].append(delta.partial_json)
                        elif delta.type == "thinking_delta":
                            yield ReasoningChunk(delta.thinking)
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            tools[event.index] = [block.id, block.name, [], block.input]
                    elif kind == "content_block_stop":
                        call = tools.pop(event.index, None)
                        if call is not None:
                            yield self._tool_call(call)
                    elif kind == "message_start":
                        usage = event.message.usage
                        prompt_tokens = (
                            usage.input_tokens
                            + (usage.cache_creation_input_tokens or 0)
                            + (usage.cache_read_input_tokens or 0)
                        )
                    elif kind == "message_delta":
                        stop = event.delta.stop_reason or stop
                        stop_sequence = event.delta.stop_sequence or stop_sequence
                        completion_tokens = event.usage.output_tokens
        except ProviderError:
            raise
        except Exception as exc:
            raise self._failure(exc, started=started) from exc
        if stop is None:
            raise ProviderError(f"{self._label}: upstream stream ended early (no stop_reason)")
        yield UsageChunk(prompt_tokens, completion_tokens)
        yield Finish(_FINISH.get(stop, stop), stop_sequence)

    def _tool_call(self, call: list[Any]) -> ToolCallChunk:
        tool_id, tool, fragments, given = call
        if not fragments and isinstance(given, dict) and given:
            return ToolCallChunk(tool_id, tool, given)  # a proxy that sent the input whole
        return ToolCallChunk(tool_id, tool, tool_arguments(self._label, tool, "".join(fragments)))

    async def probe(self) -> str | None:
        try:
            await self._client.models.list(limit=1, timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return describe_failure(self._sdk, exc, self.base_url, PROBE_TIMEOUT, started=False)
        return None

    async def close(self) -> None:
        await self._client.close()
