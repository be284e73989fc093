"""Provider events → TurnEvents, collecting what the reply will be stored as.

Shared by stored turns and stateless completions, so both see the same event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

from roost.config import ModelSettings
from roost.core.events import ContentDelta, ReasoningDelta, ToolCall, TurnEvent, Usage
from roost.core.metrics import Generation, Metrics
from roost.core.records import TokenUsage
from roost.providers.base import (
    ChatProvider,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    UsageChunk,
)


@dataclass
class Collected:
    """What a generation produced so far (a failure keeps the partial text)."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    finish: str = "stop"
    stop_sequence: str | None = None  # the stop string the reply reached, when known

    @property
    def content(self) -> str:
        return "".join(self.text)


async def model_events(
    provider: ChatProvider, request: ChatRequest, out: Collected, metrics: Metrics | None = None
) -> AsyncIterator[TurnEvent]:
    """Run the provider; yield each event as a TurnEvent and record it in `out`.

    Closing this iterator closes the provider stream, which stops generation. Every model
    call of every dialect passes here, so `metrics` times and counts them here.
    """
    meter = metrics.generation(provider.name) if metrics is not None else None
    finish = "error"
    stream = provider.stream(request)
    try:
        async with contextlib.aclosing(stream):
            async for event in stream:
                if meter is not None:
                    _measure(meter, event)
                if isinstance(event, TextChunk):
                    out.text.append(event.text)
                    yield ContentDelta(event.text)
                elif isinstance(event, ReasoningChunk):
                    out.reasoning.append(event.text)
                    yield ReasoningDelta(event.text)
                elif isinstance(event, ToolCallChunk):
                    call = ToolCall(event.id, event.name, event.arguments)
                    out.calls.append(call)
                    yield call
                elif isinstance(event, UsageChunk):
                    out.usage = TokenUsage(event.prompt_tokens, event.completion_tokens)
                    yield Usage(out.usage)
                elif isinstance(event, Finish):
                    out.finish = event.reason
                    out.stop_sequence = event.stop_sequence
        finish = out.finish
    except (asyncio.CancelledError, GeneratorExit):
        finish = "cancelled"  # the caller went away or stopped reading
        raise
    finally:
        if meter is not None:
            meter.end(finish)


def _measure(meter: Generation, event: ProviderEvent) -> None:
    if isinstance(event, UsageChunk):
        meter.usage(event.prompt_tokens, event.completion_tokens)
    elif not isinstance(event, Finish):  # text, reasoning or a tool call: a token came
        meter.token()


T = TypeVar("T")


def pick(asked: T | None, default: T) -> T:
    return default if asked is None else asked


def merge_options(request: GenerationOptions, model: ModelSettings | None) -> GenerationOptions:
    """Request options win over the model's configured defaults.

    Remote models get only the options their config sets explicitly: the built-in
    defaults suit the embedded model and would override (or be refused by) a remote
    model's own, e.g. OpenAI's reasoning models refuse temperature.
    """
    if model is None:
        return request
    if model.provider != "llamacpp":
        explicit = model.model_fields_set
        model = model.model_copy(
            update={
                key: None
                for key in ("temperature", "top_p", "top_k", "repeat_penalty", "max_tokens")
                if key not in explicit
            }
        )

    return GenerationOptions(
        temperature=pick(request.temperature, model.temperature),
        top_p=pick(request.top_p, model.top_p),
        top_k=pick(request.top_k, model.top_k),
        repeat_penalty=pick(request.repeat_penalty, model.repeat_penalty),
        max_tokens=pick(request.max_tokens, model.max_tokens),
        seed=pick(request.seed, model.seed),
        stop=request.stop,
        frequency_penalty=request.frequency_penalty,
        presence_penalty=request.presence_penalty,
        keep_alive=request.keep_alive,
    )
