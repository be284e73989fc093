"""Listen at once; build the web app in the background.

Importing the web stack (FastAPI, pydantic, SQLAlchemy) takes most of a second, longer
than opening the port. `roost serve` therefore starts uvicorn on this small ASGI app, which
answers `GET /health` — "the server is running", which it is — while the real app is
imported, the database opened and the services built. Every other request waits for that
(bounded), then goes to the real app. If building fails, the server shuts down and the
command reports why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

READY_WAIT_SECONDS = 60.0
_HEALTH = json.dumps({"status": "ok"}).encode()


class DeferredApp:
    def __init__(
        self,
        build: Callable[[], ASGIApp],
        on_failure: Callable[[BaseException], None],
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self._build = build
        self._on_failure = on_failure
        self._on_ready = on_ready
        self._app: ASGIApp | None = None
        self._ready = asyncio.Event()
        self._failed = False
        self._inner_receive: asyncio.Queue[Message] = asyncio.Queue()
        self._inner_sent: asyncio.Queue[Message] = asyncio.Queue()
        self._inner_task: asyncio.Task[None] | None = None
        self._start_task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if not self._ready.is_set() and scope["type"] == "http" and scope["path"] == "/health":
            await _send_json(send, 200, _HEALTH)
            return
        if not self._ready.is_set():  # once started, no wait (wait_for costs a task)
            try:
                await asyncio.wait_for(self._ready.wait(), READY_WAIT_SECONDS)
            except TimeoutError:
                self._failed = True
        if self._failed or self._app is None:
            if scope["type"] == "http":
                body = b'{"error":{"code":"unavailable","message":"roost is starting"}}'
                await _send_json(send, 503, body)
            elif scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})  # "try again later"
            return
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._start_task = asyncio.create_task(self._start())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if not self._start_task.done():
            self._start_task.cancel()
        await asyncio.gather(self._start_task, return_exceptions=True)
        if self._inner_task is not None and not self._inner_task.done():
            await self._inner_receive.put({"type": "lifespan.shutdown"})
            await asyncio.gather(self._inner_task, return_exceptions=True)
        await send({"type": "lifespan.shutdown.complete"})

    async def _start(self) -> None:
        try:
            app = await asyncio.to_thread(self._build)
            scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
            self._inner_task = asyncio.create_task(self._run_inner(app, scope))
            await self._inner_receive.put({"type": "lifespan.startup"})
            reply = await self._inner_sent.get()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # reported by the command, not as a traceback here
            self._fail(exc)
            return
        if reply["type"] != "lifespan.startup.complete":
            self._fail(RuntimeError(reply.get("message") or "the app did not start"))
            return
        self._app = app
        self._ready.set()
        if self._on_ready is not None:
            self._on_ready()

    async def _run_inner(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        await app(scope, self._inner_receive.get, self._inner_sent.put)

    def _fail(self, exc: BaseException) -> None:
        self._failed = True
        self._ready.set()
        self._on_failure(exc)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
