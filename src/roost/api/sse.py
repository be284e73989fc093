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

    The source runs in its own task so a timeout never cancels it mid-step. When the
    reader is slower than the model, frames already waiting go out in one write.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for frame in source:
                queue.put_nowait(frame)
        except Exception as exc:  # surfaced to the reader below
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(pump())
    try:
        while True:
            try:
                # asyncio.timeout, not wait_for: wait_for wraps each get in a new task,
                # a cost paid per token.
                async with asyncio.timeout(interval):
                    item = await queue.get()
            except TimeoutError:
                yield KEEPALIVE
                continue
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
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sse_response(frames: AsyncIterator[str], keepalive_seconds: float) -> StreamingResponse:
    return StreamingResponse(
        _with_keepalive(frames, keepalive_seconds),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
