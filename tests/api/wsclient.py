"""A WebSocket client that drives the ASGI app inside the test's event loop.

It speaks the ASGI WebSocket protocol directly, so the app's services (bound to this loop)
work as in the server. `buffer` is how many messages the server may send before the
client reads, like a socket's buffer: a client that stops reading makes the server's
sends wait, which is what a slow client over TCP does.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

from starlette.types import ASGIApp, Message


class Rejected(Exception):
    """The server closed the handshake instead of accepting it."""

    def __init__(self, code: int) -> None:
        super().__init__(f"handshake refused with close code {code}")
        self.code = code


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class AsgiSocket:
    def __init__(
        self,
        app: ASGIApp,
        path: str = "/api/ws",
        *,
        headers: dict[str, str] | None = None,
        query: str = "",
        buffer: int = 1000,
    ) -> None:
        self.app = app
        all_headers = {"host": "127.0.0.1:31327", **(headers or {})}
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("127.0.0.1", 31327),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
            "subprotocols": [],
            "state": {},
        }
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue(maxsize=buffer)
        self.task: asyncio.Task[None] | None = None
        self.closed: tuple[int, str] | None = None

    async def _receive(self) -> Message:
        return await self.to_app.get()

    async def _send(self, message: Message) -> None:
        await self.from_app.put(message)

    async def __aenter__(self) -> AsgiSocket:
        self.task = asyncio.create_task(self.app(self.scope, self._receive, self._send))
        self.to_app.put_nowait({"type": "websocket.connect"})
        first = await asyncio.wait_for(self.from_app.get(), 5)
        if first["type"] == "websocket.close":
            await asyncio.wait_for(self.task, 5)
            raise Rejected(first.get("code", 1000))
        assert first["type"] == "websocket.accept", first
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def disconnect(self) -> None:
        """Leave like a client whose connection drops; wait for the server side to end."""
        if self.task is None:
            return
        self.to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
        while not self.task.done():  # the server may be waiting to send us something
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 0.05)
            except TimeoutError:
                while not self.from_app.empty():
                    self.from_app.get_nowait()
        self.task.result()

    async def send_text(self, text: str) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def send(self, **message: Any) -> None:
        await self.send_text(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self.from_app.get(), timeout)
        if message["type"] == "websocket.close":
            self.closed = (message.get("code", 1000), message.get("reason") or "")
            raise Closed(*self.closed)
        assert message["type"] == "websocket.send", message
        data: dict[str, Any] = json.loads(message["text"])
        return data

    async def receive_until(self, kind: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every message up to and including the first of type `kind`."""
        seen: list[dict[str, Any]] = []
        while True:
            message = await self.receive(timeout)
            seen.append(message)
            if message["type"] == kind:
                return seen
