"""A second uvicorn server on the main one's event loop, on an address of its own (the
[metrics] and [ollama] listeners).

Its socket is bound before anything starts, so a port in use fails `roost serve` at once
with a plain message; it starts once the main port is open and stops before the main
server shuts its app down (the main server runs the app's lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from roost.cli.serve import format_url
from roost.cli.slowclients import guarded_protocol
from roost.config import Settings


class _Inner(uvicorn.Server):
    """Leaves the signals to the main server: it stops this one as it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port; OSError (in use, no such address) if not."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class SideListener:
    """Subclasses build the app it serves (`app`), once the web stack is loaded."""

    name = "listener"  # in the line `roost serve` prints: "roost <name> on <url>"
    access_log = True

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        """Binds host:port now (OSError when it cannot)."""
        self._settings = settings
        self._host = host
        self._sock = bind(host, port)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return format_url("http", self._host, self._sock.getsockname()[1])

    def app(self) -> ASGIApp:
        raise NotImplementedError

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(),
            lifespan="off",  # the main server runs the app's lifespan
            log_config=None,  # the main server's logging, already set up
            access_log=self.access_log,
            http=guarded_protocol(self._settings.limits.header_timeout),
            timeout_graceful_shutdown=5,
        )
        self._server = _Inner(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))

    def close(self) -> None:
        """Give the socket back when the server will not start."""
        self._sock.close()

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            self._sock.close()
            return
        self._server.should_exit = True
        await self._task
