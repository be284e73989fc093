"""The `[metrics]` listener: GET /metrics without a key, on an address of its own.

A second uvicorn server on the main one's event loop, serving only api/metrics.py's
listener (behind the Host check). Its socket is bound before anything starts, so a port
in use fails `roost serve` at once with a plain message; it starts once the main port is
open and stops before the main server shuts its app down.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import uvicorn

from roost.cli.serve import format_url
from roost.cli.slowclients import guarded_protocol
from roost.config import Settings

if TYPE_CHECKING:
    from roost.core.metrics import Metrics


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


class MetricsListener:
    def __init__(self, settings: Settings, find: Callable[[], Metrics | None]) -> None:
        """Binds `[metrics] bind`:`port` now (OSError when it cannot)."""
        self._settings = settings
        self._find = find
        self._sock = bind(settings.metrics.bind, settings.metrics.port)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        port = self._sock.getsockname()[1]
        return format_url("http", self._settings.metrics.bind, port) + "/metrics"

    async def start(self) -> None:
        # Imported here: the web stack loads after the main port is open (cli/deferred.py).
        from roost.api.guards import HostGuard
        from roost.api.metrics import listener

        settings = self._settings
        app = HostGuard(
            listener(self._find), bind=settings.metrics.bind, extra=settings.server.allowed_hosts
        )
        config = uvicorn.Config(
            app,
            lifespan="off",  # the main server runs the app's lifespan
            log_config=None,  # the main server's logging, already set up
            access_log=False,  # a scrape every few seconds is not news
            http=guarded_protocol(settings.limits.header_timeout),
            timeout_graceful_shutdown=5,
        )
        self._server = _Inner(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            self._sock.close()
            return
        self._server.should_exit = True
        await self._task
