"""TurnEvents → the Responses API's server-sent events.

`response.created` and `response.in_progress` first; each output item is announced
(`output_item.added`, and for text `content_part.added`) before any delta of it and
finished (`output_item.done`) before `response.completed`, which carries the whole
response. Every event has `type` and a `sequence_number` counting from 0; there is no
`[DONE]`. Function calls arrive whole from roost's models, so their arguments are one
delta. A failure after the stream opened is `response.failed`, with the error inside the
response (a top-level `error` key would make the SDK raise before reading it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from roost.api.responses import render
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
from roost.services.responses import ResponseRun

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class EventWriter:
    """The frames of one streamed response, numbered as they are made."""

    def __init__(self, run: ResponseRun) -> None:
        self._run = run
        self._seq = 0
        self.items: list[dict[str, Any]] = []
        self._text: int | None = None  # output index of the message item, once opened
        self._reasoning: int | None = None  # ...of the reasoning item while it is open
        self._texts: dict[int, list[str]] = {}
        self._calls = 0

    def _frame(self, kind: str, **fields: Any) -> str:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return f"event: {kind}\ndata: {_encode(payload)}\n\n"

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        run = self._run
        return render.response(
            response_id=run.id,
            created_at=run.created_at,
            model=run.model,
            status=status,
            params=run.request.params,
            previous_response_id=run.request.previous_response_id,
            items=self.items if status != "in_progress" else [],
            **fields,
        )

    def opening(self) -> str:
        shown = self._response("in_progress")
        return self._frame("response.created", response=shown) + self._frame(
            "response.in_progress", response=shown
        )

    def _open(self, item: dict[str, Any]) -> tuple[int, str]:
        index = len(self.items)
        self.items.append(item)
        self._texts[index] = []
        return index, self._frame("response.output_item.added", output_index=index, item=item)

    def _close_reasoning(self) -> str:
        if self._reasoning is None:
            return ""
        index, self._reasoning = self._reasoning, None
        text = "".join(self._texts[index])
        self.items[index] = render.reasoning_item(self._run.id, text)
        place = {"item_id": self.items[index]["id"], "output_index": index, "content_index": 0}
        return self._frame("response.reasoning_text.done", **place, text=text) + self._frame(
            "response.output_item.done", output_index=index, item=self.items[index]
        )

    def _reasoning_delta(self, text: str) -> str:
        frames = ""
        if self._reasoning is None:
            item = render.reasoning_item(self._run.id, None)
            item["content"] = [{"type": "reasoning_text", "text": ""}]
            self._reasoning, frames = self._open(item)
        index = self._reasoning
        self._texts[index].append(text)
        place = {"item_id": self.items[index]["id"], "output_index": index, "content_index": 0}
        return frames + self._frame("response.reasoning_text.delta", **place, delta=text)

    def _content_delta(self, text: str) -> str:
        frames = self._close_reasoning()
        if self._text is None:
            self._text, opened = self._open(render.message_item(self._run.id, None, "in_progress"))
            place = {"item_id": self.items[self._text]["id"], "output_index": self._text}
            frames += opened + self._frame(
                "response.content_part.added", **place, content_index=0, part=render.text_part("")
            )
        index = self._text
        self._texts[index].append(text)
        place = {"item_id": self.items[index]["id"], "output_index": index, "content_index": 0}
        return frames + self._frame("response.output_text.delta", **place, delta=text, logprobs=[])

    def _call(self, call: ToolCall) -> str:
        frames = self._close_reasoning()
        arguments = render.arguments(call.arguments)
        item = render.call_item(self._run.id, self._calls, call.id, call.name, "", "in_progress")
        self._calls += 1
        index, opened = self._open(item)
        place = {"item_id": item["id"], "output_index": index}
        done = {**item, "arguments": arguments, "status": "completed"}
        self.items[index] = done
        return (
            frames
            + opened
            + self._frame("response.function_call_arguments.delta", **place, delta=arguments)
            + self._frame(
                "response.function_call_arguments.done",
                **place,
                name=call.name,
                arguments=arguments,
            )
            + self._frame("response.output_item.done", output_index=index, item=done)
        )

    def _close_text(self) -> str:
        if self._text is None:
            return ""
        index = self._text
        text = "".join(self._texts[index])
        self.items[index] = render.message_item(self._run.id, text, "completed")
        place = {"item_id": self.items[index]["id"], "output_index": index, "content_index": 0}
        return (
            self._frame("response.output_text.done", **place, text=text, logprobs=[])
            + self._frame("response.content_part.done", **place, part=render.text_part(text))
            + self._frame("response.output_item.done", output_index=index, item=self.items[index])
        )

    def _done(self, done: TurnDone) -> str:
        frames = self._close_reasoning()
        if self._text is None and not self.items:  # nothing said: an empty message, as OpenAI
            frames += self._content_delta("")
        frames += self._close_text()
        incomplete = done.finish_reason == "length"
        shown = self._response(
            "incomplete" if incomplete else "completed",
            token_usage=done.usage,
            incomplete_reason="max_output_tokens" if incomplete else None,
            completed_at=int(done.message.created_at.timestamp()),
        )
        kind = "response.incomplete" if incomplete else "response.completed"
        return frames + self._frame(kind, response=shown)

    def _failed(self, failed: TurnFailed) -> str:
        failure = {"code": failed.code, "message": failed.message}
        return self._frame("response.failed", response=self._response("failed", failure=failure))

    def event(self, event: TurnEvent) -> str | None:
        if isinstance(event, ContentDelta):
            return self._content_delta(event.text) if event.text else None
        if isinstance(event, ReasoningDelta):
            return self._reasoning_delta(event.text) if event.text else None
        if isinstance(event, ToolCall):
            return self._call(event)
        if isinstance(event, TurnDone):
            return self._done(event)
        if isinstance(event, TurnFailed):
            return self._failed(event)
        return None  # usage comes with the final response


async def frames(
    run: ResponseRun, writer: EventWriter, opened: Callable[[], bool]
) -> AsyncIterator[str]:
    """The whole body. A model that fails before anything is sent is a plain HTTP error
    (raised before the 200 goes out); after that, the failure is `response.failed`."""
    events = run.events()
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        if not opened():
            raise from_code(failed.code, failed.message, failed.retry_after)
        first = failed
    pending = writer.opening()
    event: TurnEvent | None = first
    while event is not None:
        frame = writer.event(event)
        if isinstance(event, TurnDone | TurnFailed):
            yield LastFrame(pending + (frame or ""))
            return
        if frame:
            yield pending + frame
            pending = ""
        event = await anext(events, None)
    yield LastFrame(pending)
