"""Remote models behind an OpenAI-compatible API (OpenAI, Ollama, vLLM, llama.cpp's server).

Through the official `openai` SDK, imported on first use so `import roost` stays fast.
The SDK does no retries here: roost reports a failure rather than silently tripling the
latency. Every failure surfaces as a ProviderError naming the model and the cause. The
helpers at the top are shared with the Anthropic provider.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, ProviderError
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Embeddings,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    UsageChunk,
)
from roost.providers.direct_post import DirectPost, RawResponse, http_client
from roost.providers.remote_failures import describe_failure, stale_connection, status_message

if TYPE_CHECKING:
    from openai import AsyncOpenAI

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_CONTEXT_WINDOW = 8192
PLACEHOLDER_KEY = "not-needed"  # local servers (Ollama, llama.cpp) accept any key
PROBE_TIMEOUT = 3.0
_SENT_OPTIONS = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "frequency_penalty",
    "presence_penalty",
)


async def sse_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of an event stream. Splitting bytes here costs a third of the SDK's line
    iterator, which decodes and re-buffers through several layers for every chunk."""
    pending = b""
    async for chunk in chunks:
        if pending:
            chunk = pending + chunk
        lines = chunk.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


def resolve_api_key(name: str, model: ModelSettings) -> str:
    """The key from `api_key`, else from the variable `api_key_env` names, else a placeholder."""
    if model.api_key:
        return model.api_key
    if model.api_key_env:
        value = os.environ.get(model.api_key_env)
        if not value:
            raise ConfigError(
                f"[models.{name}] api_key_env names '{model.api_key_env}', which is not set"
            )
        return value
    return PLACEHOLDER_KEY


def sampling_defaults(model: ModelSettings) -> GenerationOptions:
    """The sampling settings a config file sets explicitly for this model.

    The built-in defaults suit the embedded model; sent upstream they would override the
    remote model's own and break models that refuse some of them (OpenAI's reasoning
    models reject temperature and top_p, newer Claude models both at once)."""
    chosen = model.model_fields_set

    def pick(key: str) -> Any:
        return getattr(model, key) if key in chosen else None

    return GenerationOptions(
        temperature=pick("temperature"),
        top_p=pick("top_p"),
        top_k=pick("top_k"),
        max_tokens=pick("max_tokens"),
        seed=pick("seed"),
    )


def estimate_tokens(messages: list[ChatMessage]) -> int:
    """No tokenizer for remote models: ~3 characters a token (English runs nearer 4, code and
    other languages fewer; erring high keeps prompts inside the window) plus 4 a message
    for the role and template markers."""
    total = 0
    for message in messages:
        size = len(message.content)
        for call in message.tool_calls:
            size += len(call.name) + len(json.dumps(call.arguments))
        total += size // 3 + 4
    return total


def tool_arguments(label: str, tool: str, raw: str) -> dict[str, Any]:
    """Parse the streamed JSON arguments of a tool call; anything but an object is an error."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ProviderError(
            f"{label}: the model called tool '{tool}' with invalid JSON arguments ({exc})"
        ) from None
    if not isinstance(value, dict):
        raise ProviderError(f"{label}: the model called tool '{tool}' with non-object arguments")
    return value


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def _collect(calls: dict[int, list[Any]], parts: list[dict[str, Any]]) -> None:
    """Gather streamed tool-call fragments: the first names the call, the rest add JSON."""
    for part in parts:
        call = calls.setdefault(part.get("index", 0), [None, "", []])
        call[0] = call[0] or part.get("id")
        function = part.get("function") or {}
        call[1] += function.get("name") or ""
        call[2].append(function.get("arguments") or "")


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
        if not message.content:
            out["content"] = None  # OpenAI's shape for a message that only calls tools
    return out


def _tool_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _response_format(request: ChatRequest) -> dict[str, Any] | None:
    wanted = request.response_format
    if wanted is None or wanted.type == "text":
        return None
    if wanted.type == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": wanted.name or "response", "schema": wanted.schema or {}},
    }


class RemoteModel:
    """What the remote providers share: the context window they were told, token
    estimates, and failures named by model and upstream."""

    name: str
    model: str
    base_url: str
    _sdk: ModuleType
    _timeout: float
    _window: int

    @property
    def context_window(self) -> int:
        return self._window

    @property
    def _label(self) -> str:
        return f"model '{self.name}' (upstream '{self.model}')"

    def _failure(self, exc: BaseException, *, started: bool) -> ProviderError:
        reason = describe_failure(self._sdk, exc, self.base_url, self._timeout, started=started)
        return ProviderError(f"{self._label}: {reason}")

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        return estimate_tokens(messages)


class _Prototype(NamedTuple):
    """The chat/completions request the SDK built once, ready to copy with a new body."""

    kind: Any  # the SDK's HTTP request class
    url: Any
    url_text: str
    headers: list[tuple[bytes, bytes]]
    text_headers: list[tuple[str, str]]  # as aiohttp takes them
    extensions: dict[str, Any]
    timeouts: dict[str, float | None]


class OpenAIProvider(RemoteModel):
    def __init__(
        self,
        name: str,
        *,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = PLACEHOLDER_KEY,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        defaults: GenerationOptions | None = None,
    ) -> None:
        import openai

        self.name = name
        self.model = model
        self.base_url = base_url
        self._sdk: ModuleType = openai
        self._timeout = timeout
        self._window = context_window
        self._defaults = defaults or GenerationOptions()
        limits = openai.Timeout(timeout, connect=connect_timeout)
        self._http = http_client(openai, limits)
        self._client: AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=limits,
            http_client=self._http,
        )
        self._direct = DirectPost(self._http)
        self._prototype: _Prototype | None = None

    @classmethod
    def from_settings(cls, name: str, model: ModelSettings, settings: Settings) -> OpenAIProvider:
        if not model.model:
            raise ConfigError(
                f"[models.{name}] provider 'openai' needs `model`, the upstream model name, "
                f"in {settings.config_path}"
            )
        return cls(
            name,
            model=model.model,
            base_url=model.base_url or DEFAULT_BASE_URL,
            api_key=resolve_api_key(name, model),
            timeout=model.timeout,
            connect_timeout=model.connect_timeout,
            context_window=model.context_window or DEFAULT_CONTEXT_WINDOW,
            defaults=sampling_defaults(model),
        )

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        options, defaults = request.options, self._defaults
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # top_k and repeat_penalty are not OpenAI parameters; strict servers refuse them.
        for key in _SENT_OPTIONS:
            value = getattr(options, key)
            if value is None:
                value = getattr(defaults, key)
            if value is not None:
                params[key] = value
        if options.stop:
            params["stop"] = list(options.stop)
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters or {"type": "object", "properties": {}},
                    },
                }
                for tool in request.tools
            ]
            params["tool_choice"] = _tool_choice(request)
        response_format = _response_format(request)
        if response_format is not None:
            params["response_format"] = response_format
        return params

    def _build_prototype(self) -> _Prototype:
        from openai._models import FinalRequestOptions

        options = FinalRequestOptions.construct(
            method="post", url="/chat/completions", json_data={}
        )
        built = self._client._build_request(options)
        headers = [(k, v) for k, v in built.headers.raw if k.lower() != b"content-length"]
        return _Prototype(
            kind=type(built),
            url=built.url,
            url_text=str(built.url),
            headers=headers,
            text_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            extensions=built.extensions,
            timeouts=built.extensions.get("timeout") or {},
        )

    async def _post(self, body: dict[str, Any]) -> Any:
        """POST the body to chat/completions; an error status raises the SDK's own error.

        The request is a copy of one the SDK built once (URL, key, its headers, timeouts)
        with this body, sent on the SDK client's own aiohttp session (providers/direct_post):
        `chat.completions.create` per call cost ~0.7 ms more CPU (option models, typed
        transforms, header merging), and the client's httpx-style layers over aiohttp a
        quarter of the rest, in the proxy benchmark.
        """
        if self._prototype is None:
            self._prototype = self._build_prototype()
        p = self._prototype
        content = json.dumps(body).encode()

        async def send() -> Any:
            if self._direct.available:
                return await self._direct.send(p.url_text, p.text_headers, content, p.timeouts)
            request = p.kind(
                "POST", p.url, headers=p.headers, content=content, extensions={**p.extensions}
            )
            return await self._http.send(request, stream=True)

        try:
            response = await send()
        except Exception as exc:
            if not stale_connection(exc):
                raise
            # A pooled connection the upstream closed (restart, idle): once more, on a new one.
            response = await send()
        if response.status_code >= 400:
            payload = await response.aread()
            await response.aclose()
            if isinstance(response, RawResponse):  # as the SDK's own response type
                response = importlib.import_module(p.kind.__module__).Response(
                    response.status_code,
                    headers=response.raw_headers,
                    content=payload,
                    request=p.kind("POST", p.url, headers=p.headers, content=content),
                )
            raise self._client._make_status_error_from_response(response)
        return response

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        # The chunks are read as plain JSON: building the SDK's pydantic objects for each
        # one would cost several times what the rest of the proxying does.
        body = self._params(request)
        calls: dict[int, list[Any]] = {}  # index -> [id, name, argument fragments]
        finish: str | None = None
        usage: dict[str, Any] | None = None
        started = done = False
        try:
            response = await self._post(body)
            started = True
            try:
                # Undecoded bytes skip httpx's decoder layer when there is nothing to decode.
                encoded = "content-encoding" in response.headers
                chunks = response.aiter_bytes() if encoded else response.aiter_raw()
                data_lines: list[str] = []
                async for line in sse_lines(chunks):
                    if done:
                        continue  # read to the body's end, so the connection is kept for reuse
                    if line.startswith("data:"):
                        data_lines.append(line[6:] if line.startswith("data: ") else line[5:])
                        continue
                    if line or not data_lines:
                        # Comments (keep-alives), other fields, or an event not yet over: a
                        # blank line ends an event; one cut off at the end is dropped (SSE).
                        continue
                    payload = data_lines[0] if len(data_lines) == 1 else "\n".join(data_lines)
                    data_lines.clear()
                    if payload == "[DONE]":
                        done = True
                        continue
                    chunk = json.loads(payload)
                    if chunk.get("error"):
                        raise ProviderError(
                            f"{self._label}: upstream stream ended early with an error: "
                            f"{status_message(chunk['error'])}"
                        )
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta")
                        if delta:
                            if delta.get("content"):
                                yield TextChunk(delta["content"])
                            # DeepSeek and vLLM: reasoning_content; Ollama: reasoning
                            thought = delta.get("reasoning_content") or delta.get("reasoning")
                            if thought:
                                yield ReasoningChunk(thought)
                            if delta.get("tool_calls"):
                                _collect(calls, delta["tool_calls"])
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
            finally:
                await response.aclose()
        except ProviderError:
            raise
        except Exception as exc:
            if not done:  # after [DONE] the answer is whole, whatever befalls the tail
                raise self._failure(exc, started=started) from exc
        if finish is None:
            raise ProviderError(f"{self._label}: upstream stream ended early (no finish_reason)")
        for index in sorted(calls):
            call_id, tool, fragments = calls[index]
            arguments = tool_arguments(self._label, tool, "".join(fragments))
            yield ToolCallChunk(call_id or new_call_id(), tool, arguments)
        if usage is not None:
            yield UsageChunk(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        yield Finish(finish)

    async def embed(self, texts: list[str]) -> Embeddings:
        try:
            result = await self._client.embeddings.create(
                model=self.model, input=texts, encoding_format="float"
            )
        except Exception as exc:
            raise self._failure(exc, started=False) from exc
        rows = sorted(result.data, key=lambda row: row.index)
        tokens = result.usage.prompt_tokens if result.usage is not None else 0
        return Embeddings([list(row.embedding) for row in rows], tokens)

    async def probe(self) -> str | None:
        try:
            await self._client.models.list(timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return describe_failure(self._sdk, exc, self.base_url, PROBE_TIMEOUT, started=False)
        return None

    async def close(self) -> None:
        await self._client.close()
