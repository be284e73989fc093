"""Server-Sent Events with keep-alive comments and clean disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx must not buffer a token stream
    "Connection": "keep-alive",
}
DONE = "data: [DONE]\n\n"
KEEPALIVE = ": keep-alive\n\n"
# Built once: json.dumps with non-default options builds an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def data(payload: Any) -> str:
    """One SSE event whose data is the JSON payload (one line: JSON has no raw newlines)."""
    return f"data: {_encode(payload)}\n\n"


def data_with_id(event_id: str, payload: Any) -> str:
    """An SSE event with an `id:` line, which a reconnecting client sends as Last-Event-ID."""
    return f"id: {event_id}\ndata: {_encode(payload)}\n\n"


class LastFrame(str):
    """The frame that ends a stream: it goes out with the end of the body, in one write."""


class EventStream(Response):
    """`text/event-stream` of the frames an async iterator yields.

    Streamed by hand rather than with StreamingResponse, whose per-request task group
    (and, before this, a pump task and a queue between the frames and the socket) cost
    ~0.4 ms a request and a task switch per frame in the proxy benchmark. Here the frames
    are read and sent in the request's own task; one small task waits for the client to
    hang up and then cancels the stream, which closes the frame iterator and so stops
    the model. A comment goes out after `keepalive_seconds` without a frame, from a
    timer, so that a proxy keeps a quiet connection open.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[str] | None,
        keepalive_seconds: float,
        *,
        deferred: bool = False,
        keepalive: Callable[[], str] | None = None,
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self.frames = frames
        self._interval = keepalive_seconds
        # deferred: the 200 goes out with the first frame or keep-alive, so an error the
        # frames raise before then (a model that fails at once) is still a plain HTTP
        # error, while a stream that waits long (for a busy model) still gets keep-alives.
        self._deferred = deferred
        # keepalive: the frame a quiet stream gets instead of a comment (Anthropic's ping)
        self._keepalive = keepalive
        self.started = False

    async def _start(self, send: Send) -> None:
        if not self.started:
            self.started = True
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        streaming = True
        hung_up = False

        async def watch() -> None:
            nonlocal hung_up
            while (await receive())["type"] != "http.disconnect":
                pass
            if streaming:
                hung_up = True
                task.cancel()

        assert self.frames is not None
        watcher = asyncio.create_task(watch())
        keepalive = _KeepAlive(
            send, self._interval, lambda: self._start(send), self._keepalive or _comment
        )
        try:
            if not self._deferred:
                await self._start(send)
            async for frame in self.frames:
                keepalive.frames += 1  # first: the timer must not slip a comment in here
                await self._start(send)
                if keepalive.sending is not None:
                    await keepalive.sending  # one send at a time
                last = isinstance(frame, LastFrame)
                await send(
                    {"type": "http.response.body", "body": frame.encode(), "more_body": not last}
                )
                if last:
                    break
            else:
                if keepalive.sending is not None:
                    await keepalive.sending
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            # Our own cancel (the client left) ends the response quietly; any other is real.
            if not hung_up or task.uncancel() > 0:
                raise
        finally:
            streaming = False
            keepalive.stop()
            watcher.cancel()
            closing = getattr(self.frames, "aclose", None)
            if closing is not None:
                await closing()


def _comment() -> str:
    return KEEPALIVE


class _KeepAlive:
    """A timer that sends a comment when no frame went out in the last interval."""

    def __init__(
        self,
        send: Send,
        interval: float,
        start: Callable[[], Awaitable[None]],
        frame: Callable[[], str],
    ) -> None:
        self.frames = 0
        self._frame = frame
        self.sending: asyncio.Task[None] | None = None
        self._send = send
        self._start = start
        self._interval = interval
        self._seen = 0
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(interval, self._tick)

    def _tick(self) -> None:
        if self.frames == self._seen and self.sending is None:
            # The frame is made now, not when the task runs: a frame the stream makes
            # meanwhile (which may depend on this one, as a ping on message_start) goes after.
            self.sending = self._loop.create_task(self._comment(self._frame()))
        self._seen = self.frames
        self._timer = self._loop.call_later(self._interval, self._tick)

    async def _comment(self, frame: str) -> None:
        try:
            await self._start()
            await self._send(
                {"type": "http.response.body", "body": frame.encode(), "more_body": True}
            )
        finally:
            self.sending = None

    def stop(self) -> None:
        self._timer.cancel()
        if self.sending is not None:
            self.sending.cancel()


def sse_response(frames: AsyncIterator[str], keepalive_seconds: float) -> EventStream:
    return EventStream(frames, keepalive_seconds)
