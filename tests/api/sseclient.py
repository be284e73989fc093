"""An HTTP client for the ASGI app in the test's event loop that can hang up mid-stream.

httpx's ASGITransport returns a response only once the app has finished, so it cannot
read part of a stream and leave. This one hands the body over as the app sends it, and
`close()` is the client going away (the ASGI `http.disconnect`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class SseEvent:
    id: str | None
    data: Any  # JSON decoded; "[DONE]" kept as a string


class AsgiStream:
    def __init__(
        self,
        app: ASGIApp,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        query: str = "",
    ) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        all_headers = {"host": "127.0.0.1:31327", **(headers or {})}
        if body is not None:
            all_headers["content-type"] = "application/json"
            all_headers["content-length"] = str(len(raw))
        self._scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "server": ("127.0.0.1", 31327),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
            "state": {},
        }
        self._app = app
        self._body = raw
        self._body_sent = False
        self._gone = asyncio.Event()
        self._sent: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._buffer = ""
        self._ended = False
        self.status = 0
        self.headers: dict[str, str] = {}

    async def _receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        await self._sent.put(message)

    async def __aenter__(self) -> AsgiStream:
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        start = await asyncio.wait_for(self._sent.get(), 30)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._gone.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    async def text(self) -> str:
        """The rest of the body."""
        parts = [self._buffer]
        self._buffer = ""
        while not self._ended:
            parts.append(await self._chunk())
        return "".join(parts)

    async def _chunk(self) -> str:
        message = await asyncio.wait_for(self._sent.get(), 30)
        assert message["type"] == "http.response.body", message
        if not message.get("more_body", False):
            self._ended = True
        return bytes(message.get("body", b"")).decode()

    async def event(self) -> SseEvent | None:
        """The next SSE event with data (comments skipped); None at the end of the body."""
        while True:
            while "\n\n" not in self._buffer:
                if self._ended:
                    return None
                self._buffer += await self._chunk()
            block, self._buffer = self._buffer.split("\n\n", 1)
            parsed = parse_block(block)
            if parsed is not None:
                return parsed

    async def events(self) -> list[SseEvent]:
        out = []
        while (event := await self.event()) is not None:
            out.append(event)
        return out


def parse_block(block: str) -> SseEvent | None:
    event_id: str | None = None
    data: str | None = None
    for line in block.splitlines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
    if data is None:
        return None
    return SseEvent(event_id, data if data == "[DONE]" else json.loads(data))


def parse_sse(body: str) -> list[SseEvent]:
    return [e for block in body.split("\n\n") if (e := parse_block(block)) is not None]
