"""TurnEvents → Anthropic `message` objects and the Messages stream's SSE events.

The stream: `message_start`, then one content block after another (`content_block_start`,
its deltas, `content_block_stop`; a `ping` after the first start), then `message_delta`
with the stop reason and usage, then `message_stop`. A run of reasoning is a `thinking`
block, a run of text a `text` block, each tool call a `tool_use` block whose whole input
is one `input_json_delta`. Input tokens are known only when the model is done: the
`message_start` says 0 and `message_delta` carries the count (the SDK takes it from there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from roost.api.anthropic.errors import error_body
from roost.api.errors import STATUS_BY_CODE
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
from roost.core.records import TokenUsage
from roost.services.completions import Completion

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
PING = 'event: ping\ndata: {"type":"ping"}\n\n'


def event(kind: str, payload: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {_encode({'type': kind, **payload})}\n\n"


def message_id(c: Completion) -> str:
    return "msg_" + c.id.removeprefix("chatcmpl-")


def tool_id(call_id: str) -> str:
    """Anthropic's `toolu_` ids; a client's own id (echoed in a history) is kept."""
    return call_id if call_id.startswith("toolu_") else "toolu_" + call_id.removeprefix("call_")


def stop_reason(done: TurnDone) -> str:
    if done.tools_used:
        return "tool_use"
    if done.stop_sequence is not None:
        return "stop_sequence"
    # roost's finish reasons: stop | length | tool_calls | cancelled
    return "max_tokens" if done.finish_reason == "length" else "end_turn"


def stop(done: TurnDone) -> dict[str, str | None]:
    reason = stop_reason(done)
    return {
        "stop_reason": reason,
        "stop_sequence": done.stop_sequence if reason == "stop_sequence" else None,
    }


def usage(value: TokenUsage) -> dict[str, int]:
    return {"input_tokens": value.prompt, "output_tokens": value.completion}


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id(call.id), "name": call.name, "input": call.arguments}


def message(c: Completion, done: TurnDone, *, thinking: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking and done.message.reasoning:
        content.append({"type": "thinking", "thinking": done.message.reasoning, "signature": ""})
    if done.message.content:
        content.append({"type": "text", "text": done.message.content})
    content += [_tool_use(call) for call in done.tools_used]
    return {
        "id": message_id(c),
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": content or [{"type": "text", "text": ""}],  # content[0].text always works
        **stop(done),
        "usage": usage(done.usage),
    }


def error_event(failed: TurnFailed) -> str:
    status = STATUS_BY_CODE.get(failed.code, 500)
    return f"event: error\ndata: {_encode(error_body(status, failed.message))}\n\n"


class StreamWriter:
    """The frames of one streamed message, block by block."""

    def __init__(self, c: Completion, *, thinking: bool) -> None:
        self._c = c
        self._thinking = thinking
        self.started = False  # message_start sent (by a frame or a keep-alive)
        self._index = -1
        self._open: str | None = None  # the type of the block being written
        self._text_prefix = ""

    def start(self) -> str:
        """`message_start`, once: the first frame or the first keep-alive sends it."""
        if self.started:
            return ""
        self.started = True
        snapshot: dict[str, Any] = {
            "id": message_id(self._c),
            "type": "message",
            "role": "assistant",
            "model": self._c.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event("message_start", {"message": snapshot})

    def keepalive(self) -> str:
        return self.start() + PING

    def _close(self) -> str:
        if self._open is None:
            return ""
        frames = ""
        if self._open == "thinking":  # Anthropic signs reasoning; roost does not
            delta = {"type": "signature_delta", "signature": ""}
            frames = event("content_block_delta", {"index": self._index, "delta": delta})
        self._open = None
        return frames + event("content_block_stop", {"index": self._index})

    def _begin(self, block: dict[str, Any]) -> str:
        frames = self._close()
        self._index += 1
        self._open = block["type"]
        frames += event("content_block_start", {"index": self._index, "content_block": block})
        if self._index == 0:
            frames += PING  # where Anthropic sends its first
        if block["type"] == "text":
            head = f'{{"type":"content_block_delta","index":{self._index},'
            self._text_prefix = (
                f'event: content_block_delta\ndata: {head}"delta":{{"type":"text_delta","text":'
            )
        return frames

    def _text(self, text: str) -> str:
        frames = "" if self._open == "text" else self._begin({"type": "text", "text": ""})
        return frames + self._text_prefix + _encode(text) + "}}\n\n"

    def _reasoning(self, text: str) -> str:
        if not self._thinking:
            return ""
        frames = ""
        if self._open != "thinking":
            frames = self._begin({"type": "thinking", "thinking": "", "signature": ""})
        delta = {"type": "thinking_delta", "thinking": text}
        return frames + event("content_block_delta", {"index": self._index, "delta": delta})

    def _call(self, call: ToolCall) -> str:
        block = {**_tool_use(call), "input": {}}
        frames = self._begin(block)
        delta = {"type": "input_json_delta", "partial_json": _encode(call.arguments)}
        frames += event("content_block_delta", {"index": self._index, "delta": delta})
        return frames + self._close()

    def _done(self, done: TurnDone) -> str:
        frames = self._close()
        if self._index < 0:  # nothing said: one empty text block, as the JSON answer has
            frames = self._begin({"type": "text", "text": ""}) + self._close()
        frames += event("message_delta", {"delta": stop(done), "usage": usage(done.usage)})
        return frames + event("message_stop", {})

    def frame(self, item: TurnEvent) -> str:
        frames = self.start()
        if isinstance(item, ContentDelta):
            return frames + self._text(item.text)
        if isinstance(item, ReasoningDelta):
            return frames + self._reasoning(item.text)
        if isinstance(item, ToolCall):
            return frames + self._call(item)
        if isinstance(item, TurnDone):
            return frames + self._done(item)
        if isinstance(item, TurnFailed):
            return frames + self._close() + error_event(item)
        return frames  # Usage (it comes again with TurnDone), tool results, approvals


async def frames(
    events: AsyncIterator[TurnEvent], writer: StreamWriter, opened: Callable[[], bool]
) -> AsyncIterator[str]:
    """The whole SSE body. A model that fails before the stream opened is a plain HTTP
    error (raised before the 200 goes out); once open, the failure is an `error` event."""
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        if not opened() and not writer.started:
            raise from_code(failed.code, failed.message, failed.retry_after)
        first = failed
    item: TurnEvent | None = first
    while item is not None:
        frame = writer.frame(item)
        if isinstance(item, TurnDone | TurnFailed):
            yield LastFrame(frame)
            return
        if frame:
            yield frame
        item = await anext(events, None)
    yield LastFrame(writer.frame(TurnFailed("internal_error", "the model stopped without an end")))


async def final(events: AsyncIterator[TurnEvent]) -> TurnDone | TurnFailed:
    """Read to the end of a completion and return how it ended."""
    async for item in events:
        if isinstance(item, TurnDone | TurnFailed):
            return item
    return TurnFailed("internal_error", "the completion ended without a result")
