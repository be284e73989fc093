"""TurnEvents → Ollama's chat and generate objects: NDJSON lines, or one final object.

A line per token: content (chat's `message.content`, generate's `response`), reasoning
(`thinking`), each tool call in a line of its own (arguments as a JSON object), then the
final `done: true` line with `done_reason` and the metrics in nanoseconds. Roost's
providers do not time the prompt apart from the answer: the prompt's share is the time to
the first event, the answer's the rest; load_duration is 0 (a load is in the first share).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from roost.api.ndjson import line
from roost.api.sse import LastFrame
from roost.core.errors import from_code
from roost.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    TurnDone,
    TurnEvent,
    TurnFailed,
)

_encode_text = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps builds one per call


def now() -> str:
    """RFC 3339 with nanosecond digits, as Ollama writes `created_at`."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "000Z")


def tool_call(call: ToolCall, index: int) -> dict[str, Any]:
    return {
        "id": call.id,
        "function": {"index": index, "name": call.name, "arguments": call.arguments},
    }


def done_reason(done: TurnDone) -> str:
    return "length" if done.finish_reason == "length" else "stop"


class Writer:
    """The objects of one chat (`chat=True`) or generate answer."""

    def __init__(self, model: str, *, chat: bool, thinking: bool) -> None:
        self._model = model
        self._chat = chat
        self._thinking = thinking  # false when the client sent think: false
        self._started = time.perf_counter_ns()
        self._first: int | None = None
        self._tools = 0
        # Content lines are most of a stream: a prebuilt frame around the encoded text
        # and the time, rather than a dict serialised per token (as api/openai/render.py).
        head = _encode_text(model)
        self._content_prefix = '{"model":' + head + ',"created_at":"'
        if chat:
            self._content_middle = '","message":{"role":"assistant","content":'
            self._content_suffix = '},"done":false}\n'
        else:
            self._content_middle = '","response":'
            self._content_suffix = ',"done":false}\n'

    def started(self) -> None:
        """The first event came: the prompt's share of the time ends."""
        if self._first is None:
            self._first = time.perf_counter_ns()

    def line(self, event: TurnEvent) -> str | None:
        """The NDJSON line of a token, reasoning or tool call (None for other events)."""
        if isinstance(event, ContentDelta):
            self.started()
            return (
                self._content_prefix
                + now()
                + self._content_middle
                + _encode_text(event.text)
                + self._content_suffix
            )
        body = self.event(event)
        return None if body is None else line(body)

    def _object(self, text: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "created_at": now()}
        if self._chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            for key in ("thinking", "tool_calls"):
                if key in extra:
                    message[key] = extra.pop(key)
            body["message"] = message
        else:
            body["response"] = text
        body.update(extra)
        return body

    def event(self, event: TurnEvent) -> dict[str, Any] | None:
        self.started()
        if isinstance(event, ContentDelta):
            return self._object(event.text, done=False)
        if isinstance(event, ReasoningDelta):
            return self._object("", thinking=event.text, done=False) if self._thinking else None
        if isinstance(event, ToolCall):
            index, self._tools = self._tools, self._tools + 1
            return self._object("", tool_calls=[tool_call(event, index)], done=False)
        return None

    def done(self, done: TurnDone, *, whole: bool = False) -> dict[str, Any]:
        """The final object: with the whole answer when `whole` (not streamed)."""
        end = time.perf_counter_ns()
        first = self._first or end
        extra: dict[str, Any] = {}
        text = ""
        if whole:
            text = done.message.content
            if done.message.reasoning and self._thinking:
                extra["thinking"] = done.message.reasoning
            if done.tools_used and self._chat:
                extra["tool_calls"] = [tool_call(c, i) for i, c in enumerate(done.tools_used)]
        return self._object(
            text,
            **extra,
            done=True,
            done_reason=done_reason(done),
            total_duration=end - self._started,
            load_duration=0,
            prompt_eval_count=done.usage.prompt,
            prompt_eval_duration=first - self._started,
            eval_count=done.usage.completion,
            eval_duration=end - first,
        )

    def loaded(self, reason: str) -> dict[str, Any]:
        """The answer to an empty request (load or unload the model)."""
        return self._object("", done=True, done_reason=reason)


def _failed(event: TurnEvent | None) -> TurnFailed | None:
    if event is None:
        return TurnFailed("internal_error", "the model produced nothing")
    return event if isinstance(event, TurnFailed) else None


async def lines(writer: Writer, events: AsyncIterator[TurnEvent]) -> AsyncIterator[str]:
    """The NDJSON body. A model that fails before its first event is a plain HTTP error
    (nothing was sent yet: the response is deferred); later, an `{"error": ...}` line."""
    first = await anext(events, None)
    failed = _failed(first)
    if failed is not None:
        raise from_code(failed.code, failed.message, failed.retry_after)
    event: TurnEvent | None = first
    while event is not None:
        if isinstance(event, TurnFailed):
            yield LastFrame(line({"error": event.message}))
            return
        if isinstance(event, TurnDone):
            yield LastFrame(line(writer.done(event)))
            return
        text = writer.line(event)
        if text is not None:
            yield text
        event = await anext(events, None)
    yield LastFrame(line({"error": "the completion ended without a result"}))


async def whole(writer: Writer, events: AsyncIterator[TurnEvent]) -> dict[str, Any]:
    """`stream: false`: read to the end; a failure is the HTTP error."""
    async for event in events:
        writer.started()
        if isinstance(event, TurnDone):
            return writer.done(event, whole=True)
        if isinstance(event, TurnFailed):
            raise from_code(event.code, event.message, event.retry_after)
    raise from_code("internal_error", "the completion ended without a result")
