"""TurnEvents → `chat.completion` objects and `chat.completion.chunk` SSE frames.

Shared by /v1/chat/completions and Second-Me's /api/kernel2/chat, which streams the same
chunks. Content chunks are most of a stream, so their frame is a prebuilt prefix and
suffix around the JSON-encoded text rather than a dict serialised per token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from roost.api.sse import DONE, LastFrame, data
from roost.core.errors import from_code
from roost.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    TurnDone,
    TurnEvent,
    TurnFailed,
    Usage,
)
from roost.core.records import TokenUsage
from roost.services.completions import Completion

FINGERPRINT = "fp_roost"
_encode_text = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps builds one per call


def usage(value: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": value.prompt,
        "completion_tokens": value.completion,
        "total_tokens": value.total,
    }


def tool_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in calls
    ]


def completion(c: Completion, done: TurnDone) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": done.message.content if done.message.content or not done.tools_used else None,
        "refusal": None,
    }
    if done.tools_used:
        message["tool_calls"] = tool_calls(done.tools_used)
    if done.message.reasoning:
        message["reasoning_content"] = done.message.reasoning
    body: dict[str, Any] = {
        "id": c.id,
        "object": "chat.completion",
        "created": c.created,
        "model": c.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(done),
            }
        ],
        "usage": usage(done.usage),
    }
    if c.session_id is not None:
        body["metadata"] = {"session_id": c.session_id}
    return body


def finish_reason(done: TurnDone) -> str:
    if done.tools_used:
        return "tool_calls"
    # "cancelled" is roost's own; OpenAI clients know only these.
    return done.finish_reason if done.finish_reason in ("stop", "length") else "stop"


ErrorFrame = Callable[[TurnFailed], str]


class ChunkWriter:
    """Frames for one streamed completion."""

    def __init__(self, c: Completion, *, include_usage: bool) -> None:
        self._head = {
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": FINGERPRINT,
        }
        self._include_usage = include_usage
        self._tool_index = 0
        tail = ',"usage":null' if include_usage else ""
        prefix = json.dumps(self._head, separators=(",", ":"))[:-1]
        self._content_prefix = f'data: {prefix},"choices":[{{"index":0,"delta":{{"content":'
        self._content_suffix = f'}},"logprobs":null,"finish_reason":null}}]{tail}}}\n\n'

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        body: dict[str, Any] = {
            **self._head,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._include_usage:
            body["usage"] = None
        return data(body)

    def first(self) -> str:
        return self._chunk({"role": "assistant", "content": ""})

    def content(self, text: str) -> str:
        return self._content_prefix + _encode_text(text) + self._content_suffix

    def event(self, event: TurnEvent) -> str | None:
        if isinstance(event, ContentDelta):
            return self.content(event.text)
        if isinstance(event, ReasoningDelta):
            return self._chunk({"reasoning_content": event.text})
        if isinstance(event, ToolCall):
            call = tool_calls([event])[0]
            index, self._tool_index = self._tool_index, self._tool_index + 1
            return self._chunk({"tool_calls": [{"index": index, **call}]})
        if isinstance(event, TurnDone):
            frames = [self._chunk({}, finish_reason(event))]
            if self._include_usage:
                frames.append(data({**self._head, "choices": [], "usage": usage(event.usage)}))
            return "".join(frames)
        if isinstance(event, Usage):
            return None  # sent once, after the finish chunk, when asked for
        return None


async def frames(
    c: Completion,
    first: TurnEvent,
    rest: AsyncIterator[TurnEvent],
    writer: ChunkWriter,
    error: ErrorFrame,
) -> AsyncIterator[str]:
    """The whole SSE body: role chunk, content, finish (+ usage), [DONE]; errors in band.

    Frames ready at the same moment are joined, as each frame sent is a write to the
    socket (the most expensive step of relaying a chunk in the proxy benchmark): the role
    chunk goes with the first event, and the finish chunk, usage and [DONE] go together
    with the end of the body (the events end as soon as the completion is done).
    """
    pending = writer.first()
    event: TurnEvent | None = first
    while event is not None:
        if isinstance(event, TurnFailed):
            pending += error(event)
            break
        frame = writer.event(event)
        if frame and isinstance(event, TurnDone):
            pending += frame
        elif frame:
            yield pending + frame
            pending = ""
        event = await anext(rest, None)
    yield LastFrame(pending + DONE)


async def frames_opening(
    c: Completion,
    events: AsyncIterator[TurnEvent],
    writer: ChunkWriter,
    error: ErrorFrame,
    opened: Callable[[], bool],
) -> AsyncIterator[str]:
    """`frames`, waiting for the first event first. A model that fails at once is a plain
    HTTP error (raised before the 200 goes out); once the stream has opened (keep-alives
    while it waited for a busy model's slot), the failure is told in band."""
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        if not opened():
            raise from_code(failed.code, failed.message, failed.retry_after)
        first = failed
    async for frame in frames(c, first, events, writer, error):
        yield frame


async def final(first: TurnEvent, rest: AsyncIterator[TurnEvent]) -> TurnDone | TurnFailed:
    """Read to the end of a completion and return how it ended."""
    event: TurnEvent | None = first
    while event is not None:
        if isinstance(event, TurnDone | TurnFailed):
            return event
        event = await anext(rest, None)
    return TurnFailed("internal_error", "the completion ended without a result")
