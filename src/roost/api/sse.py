"""Server-Sent Events with keep-alive comments, batching for slow readers, clean disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx must not buffer a token stream
    "Connection": "keep-alive",
}
DONE = "data: [DONE]\n\n"
KEEPALIVE = ": keep-alive\n\n"
_END = object()
_MAX_BATCH = 64


def data(payload: Any) -> str:
    """One SSE event whose data is the JSON payload (one line: JSON has no raw newlines)."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _with_keepalive(source: AsyncIterator[str], interval: float) -> AsyncIterator[str]:
    """Yield the source's frames; a comment after `interval` idle seconds keeps proxies open.

    The source runs in its own task so a keep-alive never interrupts it mid-step. When the
    reader is slower than the model, frames already waiting go out in one write. Idleness
    is watched by one timer task that wakes every `interval`, not by a timeout around each
    frame: that would cost a timer per token.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()
    activity = [0]  # frames queued; the ticker compares it with what it saw last time

    async def pump() -> None:
        try:
            async for frame in source:
                activity[0] += 1
                queue.put_nowait(frame)
        except Exception as exc:  # surfaced to the reader below
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    async def ticker() -> None:
        seen = -1
        while True:
            await asyncio.sleep(interval)
            if activity[0] == seen:
                queue.put_nowait(KEEPALIVE)
            seen = activity[0]

    task = asyncio.create_task(pump())
    timer = asyncio.create_task(ticker())
    try:
        while True:
            item = await queue.get()
            batch: list[str] = []
            while True:
                if item is _END:
                    if batch:
                        yield "".join(batch)
                    return
                if isinstance(item, Exception):
                    if batch:
                        yield "".join(batch)
                    raise item
                batch.append(str(item))
                if queue.empty() or len(batch) >= _MAX_BATCH:
                    break
                item = queue.get_nowait()
            yield "".join(batch)
    finally:
        for running in (task, timer):
            running.cancel()
        for running in (task, timer):
            with contextlib.suppress(asyncio.CancelledError):
                await running


def sse_response(frames: AsyncIterator[str], keepalive_seconds: float) -> StreamingResponse:
    return StreamingResponse(
        _with_keepalive(frames, keepalive_seconds),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
