"""A deadline for request headers, so slow clients cannot hold connections forever.

uvicorn times out an idle keep-alive connection, but a new connection, or a request whose
headers arrive a byte at a time (slowloris), has no deadline at all: each one holds a
socket and a file descriptor for as long as the client likes. This protocol closes a
connection whose request line and headers are not complete `header_timeout` seconds
after the connection opened or the request's first byte came. The event loop itself is
never blocked by a slow client; what this bounds is the sockets they hold. (A body has its
own deadline, `body_timeout`, in the app: api/bodies.py; a connection answered before its
body was all in is closed here.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("roost.server")


def guarded_protocol(header_timeout: float) -> type[asyncio.Protocol] | str:
    """The HTTP protocol class for uvicorn's `http` setting ("auto" without httptools)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        return "auto"

    class HeaderDeadline(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                log.debug(
                    "closing a connection whose request headers took over %gs", header_timeout
                )
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # Answered before the request's body was all in (a 404, a refused Host, the
            # 408 of api/bodies.py): close, or a client dribbling the rest of its body
            # would hold the connection with no deadline at all (each byte that arrives
            # restarts uvicorn's keep-alive timer).
            cycle = self.cycle
            if cycle is not None and cycle.more_body and not self.transport.is_closing():
                self.transport.close()
                return
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadline
