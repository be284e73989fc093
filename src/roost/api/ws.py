"""WebSocket plumbing any dialect can use: a bounded outbox with its sender, the Origin check.

A turn's events must never wait for a slow client: the turn would stall, or its events
would pile up in memory. So a connection's messages go through an `Outbox` of at most
`capacity` messages. Token deltas never wait: when the client reads slower than tokens
arrive, a delta is merged into the delta already waiting, so a reader that falls behind
gets fewer, larger messages and memory holds one copy of the unread text, not a queue of
objects. Other messages wait for room. A client that leaves messages unread for
`stall_seconds` is disconnected.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

DEFAULT_CAPACITY = 32
POLICY_VIOLATION = 1008  # RFC 6455: auth failures, forbidden origins, clients that stop reading
_CLOSE_WAIT = 1.0  # seconds to try a polite close frame on a connection that stopped reading

_live: weakref.WeakSet[Outbox] = weakref.WeakSet()


def live_outboxes() -> list[Outbox]:
    """The outboxes of open connections (tests look at their bounds)."""
    return list(_live)


@dataclass(slots=True)
class _Delta:
    """A run of text deltas of one kind ("content", "reasoning") not yet sent."""

    kind: str
    parts: list[str] = field(default_factory=list)
    id: str | None = None  # the id of the last event merged in (resumable streams)

    def payload(self) -> dict[str, Any]:
        payload = {"type": self.kind, "delta": "".join(self.parts)}
        if self.id is not None:
            payload["event_id"] = self.id
        return payload


class Outbox:
    # A list and bare futures, not a deque and Events: each of those allocates a 64-slot
    # block, and a thousand idle connections each hold one outbox.
    __slots__ = (
        "__weakref__",
        "_capacity",
        "_getter",
        "_items",
        "_putters",
        "closed",
        "merged",
        "peak",
    )

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._items: list[dict[str, Any] | _Delta] = []
        self._capacity = capacity
        self._getter: asyncio.Future[None] | None = None  # the sender, waiting for a message
        self._putters: list[asyncio.Future[None]] = []  # puts waiting for room
        self.closed = False
        self.peak = 0  # most messages ever waiting at once
        self.merged = 0  # deltas folded into one already waiting
        _live.add(self)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        return self._capacity

    def delta(self, kind: str, text: str, event_id: str | None = None) -> None:
        """Queue a text delta without ever waiting: merge it, or append it.

        A delta joins the last waiting one when that is of its kind. When the outbox is
        full it may also join an earlier one of its kind in the trailing run of deltas
        (content and reasoning may then swap order, never cross another message), so a
        full outbox grows by at most one message per kind of delta. Deltas with event ids
        (a resumable stream) keep strict order, so the last id a client saw is a true
        resume point; the merged message carries the id of its last delta.
        """
        if self.closed:
            return
        for item in reversed(self._items):
            if not isinstance(item, _Delta):
                break
            if item.kind == kind:
                item.parts.append(text)
                item.id = event_id
                self.merged += 1
                return
            if len(self._items) < self._capacity or event_id is not None:
                break  # room left, or ids that must stay in order: start a new message
        self._append(_Delta(kind, [text], event_id))

    async def put(self, payload: dict[str, Any]) -> None:
        """Queue a message, waiting while the outbox is full (dropped once it is closed)."""
        while not self.closed and len(self._items) >= self._capacity:
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._putters:
                    self._putters.remove(waiter)
        if not self.closed:
            self._append(payload)

    def _append(self, item: dict[str, Any] | _Delta) -> None:
        self._items.append(item)
        self.peak = max(self.peak, len(self._items))
        _wake([self._getter])

    async def get(self) -> str | None:
        """The next message as JSON text; None once closed."""
        while not self._items:
            if self.closed:
                return None
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.pop(0)  # at most `capacity` + 2 long
        if self._putters and len(self._items) < self._capacity:
            _wake(self._putters)
        payload = item.payload() if isinstance(item, _Delta) else item
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))

    def close(self) -> None:
        """Drop what is waiting and release every waiter."""
        self.closed = True
        self._items.clear()
        _wake([self._getter, *self._putters])


def _wake(waiters: Iterable[asyncio.Future[None] | None]) -> None:
    for waiter in waiters:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def pump(websocket: WebSocket, outbox: Outbox, stall_seconds: float) -> str:
    """Send the outbox until it closes; returns why it stopped ("closed" or "stalled").

    A send that cannot finish within `stall_seconds` means the client stopped reading
    (the socket's buffers are full): the connection is then closed, so an idle reader
    costs at most one outbox and the transport's buffer.
    """
    while True:
        text = await outbox.get()
        if text is None:
            return "closed"
        try:
            async with asyncio.timeout(stall_seconds):
                await websocket.send_text(text)
        except TimeoutError:
            outbox.close()
            try:  # a polite close frame, if the client's buffer has room for one
                async with asyncio.timeout(_CLOSE_WAIT):
                    await websocket.close(POLICY_VIOLATION, "client stopped reading")
            except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
                pass
            return "stalled"
        except (WebSocketDisconnect, RuntimeError, OSError):  # the client went away mid-send
            outbox.close()
            return "closed"


def origin_allowed(websocket: WebSocket, trusted: Iterable[str]) -> bool:
    """Browsers send Origin on WebSockets and apply no CORS to them, so any page could
    connect to a local roost. Allow non-browser clients (no Origin), same-origin pages
    (roost's own) and the configured `cors_origins`; refuse other pages."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    allowed = {o.rstrip("/").lower() for o in trusted}
    if origin in allowed or "*" in allowed:
        return True
    host = (websocket.headers.get("host") or "").strip().lower()
    return bool(host) and urlsplit(origin).netloc == host
