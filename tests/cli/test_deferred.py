"""The deferred app: /health at once, other requests once the real app has started."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from roost.cli.deferred import DeferredApp


class SlowApp:
    """A real app stand-in whose import/build takes a while and that runs a lifespan."""

    def __init__(self) -> None:
        self.started = False
        self.stopped = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            self.started = True
            await send({"type": "lifespan.startup.complete"})
            await receive()
            self.stopped = True
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


async def call(app: DeferredApp, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def start_lifespan(app: DeferredApp) -> tuple[asyncio.Queue[Any], asyncio.Task[None]]:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    return inbox, task


async def test_health_answers_while_building_and_requests_wait() -> None:
    inner = SlowApp()
    gate = threading.Event()

    def build() -> SlowApp:
        gate.wait(5)  # the slow import
        return inner

    ready: list[bool] = []  # the server freezes its startup objects out of the GC here
    app = DeferredApp(build, lambda exc: None, on_ready=lambda: ready.append(inner.started))
    inbox, lifespan = await start_lifespan(app)
    assert await call(app, "/health") == (200, b'{"status": "ok"}')
    waiting = asyncio.create_task(call(app, "/api/sessions"))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # held until the real app is up
    assert ready == []
    gate.set()
    assert await waiting == (200, b"/api/sessions")
    assert inner.started
    assert ready == [True]  # once, after the real app's startup
    assert await call(app, "/health") == (200, b"/health")  # now the real app answers
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    assert inner.stopped


async def test_a_failed_build_is_reported_and_requests_get_503() -> None:
    failures: list[BaseException] = []

    def build() -> SlowApp:
        time.sleep(0.01)
        raise ValueError("broken settings")

    app = DeferredApp(build, failures.append)
    inbox, lifespan = await start_lifespan(app)
    status, _ = await call(app, "/api/sessions")
    assert status == 503
    assert [str(f) for f in failures] == ["broken settings"]
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
