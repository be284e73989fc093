"""Serve any ASGI app on a free 127.0.0.1 port from a background thread, for a block."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serve_app(app: ASGIApp, *, lifespan: str = "on") -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) while the app is served."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        lifespan=lifespan,  # type: ignore[arg-type]
        ws="none",
        loop="asyncio",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
