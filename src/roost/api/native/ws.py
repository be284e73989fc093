"""GET /api/ws: chat over one WebSocket, both ways at once (seed 000's "bidirectional chat").

The connection reads the client while a turn streams, so `cancel`, `approve` and `ping`
work mid-turn. Turns run through the turn service like any other and are saved whether
or not the client stays. See docs/native.md for the messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from roost import __version__
from roost.api.deps import is_loopback, presented_key
from roost.api.limits import TRY_AGAIN_LATER, open_stream, trust
from roost.api.native.events import event_payload
from roost.api.ws import POLICY_VIOLATION, Outbox, origin_allowed, pump
from roost.core.errors import Conflict, InvalidRequest, RateLimited, RoostError, Unauthorized
from roost.core.events import TurnDone, TurnFailed, TurnStarted
from roost.services.auth import Principal
from roost.services.container import Services
from roost.services.turns import TurnHandle

log = logging.getLogger(__name__)
router = APIRouter(tags=["native"])

MAX_ID = 200
# Turns whose client left before they started: kept referenced until they finish.
_detached: set[asyncio.Task[None]] = set()


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SessionIn(_In):
    session_id: StrictStr | None = Field(None, min_length=1, max_length=MAX_ID)


class ChatIn(_In):
    message: StrictStr
    model: StrictStr | None = Field(None, max_length=MAX_ID)
    include_memory: StrictBool | None = None


class ApproveIn(_In):
    id: StrictStr = Field(min_length=1, max_length=MAX_ID)
    approve: StrictBool


def _parse(model: type[_In], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise InvalidRequest(f"'{where}': {first['msg']}", param=where) from None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}}


_HANDLERS = {kind: f"_{kind}" for kind in ("session", "chat", "approve", "cancel", "ping")}
_GONE = (WebSocketDisconnect, RuntimeError, OSError)  # the client left mid-call


class ChatSocket:
    """One authenticated connection: its current session and at most one running turn."""

    __slots__ = (
        "cancel_asked",
        "handle",
        "outbox",
        "running",
        "sender_gone",
        "services",
        "session_id",
        "started",
        "turn",
        "user",
        "ws",
    )

    def __init__(self, websocket: WebSocket, services: Services, principal: Principal) -> None:
        self.ws = websocket
        self.services = services
        self.user = principal.user
        self.outbox = Outbox()
        self.session_id: str | None = None
        self.turn: asyncio.Task[None] | None = None  # the task that runs and relays a turn
        self.handle: TurnHandle | None = None
        self.running = False  # from `chat` until its `done` or `error` is queued
        self.started = False  # the turn's task has begun (it can be cancelled safely)
        self.cancel_asked = False
        self.sender_gone = False

    async def run(self) -> None:
        """Read the client here; send from one task. Whichever side ends first ends both."""
        limits = self.services.settings.limits
        await self.outbox.put({"type": "connected", "user": self.user.name, "version": __version__})
        reader = asyncio.current_task()
        assert reader is not None
        sender = asyncio.create_task(self._send(reader, limits.ws_stall_seconds))
        try:
            await self._read(limits.max_body_bytes)
        except asyncio.CancelledError:
            if not self.sender_gone:
                raise  # the server is shutting down
            reader.uncancel()  # the sender stopped us: the client is gone or stopped reading
        except _GONE:
            pass
        finally:
            self.outbox.close()
            sender.cancel()
            await asyncio.wait({sender})  # (a cancellation of this task still comes through)
            self._leave()

    async def _send(self, reader: asyncio.Task[Any], stall_seconds: float) -> None:
        try:
            await pump(self.ws, self.outbox, stall_seconds)
        except Exception:  # a bug: close the connection rather than leave it mute
            log.exception("WebSocket sender failed")
        self.sender_gone = True
        reader.cancel()

    def _leave(self) -> None:
        """The client is gone; a turn carries on in the service and is saved there."""
        turn = self.turn
        if turn is not None and not turn.done():
            if self.handle is not None:
                turn.cancel()  # stop relaying; the turn itself runs on
            else:  # still being stored: let that finish, then it relays to nobody
                _detached.add(turn)
                turn.add_done_callback(_detached.discard)

    async def _read(self, max_bytes: int) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                raw = data.decode("utf-8", errors="replace")
            await self._dispatch(raw, max_bytes)

    async def _dispatch(self, raw: str, max_bytes: int) -> None:
        if len(raw) > max_bytes:  # ASGI servers without a frame limit of their own
            await self.outbox.put(
                _error("payload_too_large", f"message is larger than {max_bytes} bytes")
            )
            return
        try:
            data = json.loads(raw)
        except ValueError:
            await self.outbox.put(_error("invalid_request", "message is not valid JSON"))
            return
        kind = data.get("type") if isinstance(data, dict) else None
        name = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if name is None:
            shown = kind[:40] if isinstance(kind, str) else None
            text = f"unknown message type '{shown}'" if shown else "message needs a string 'type'"
            await self.outbox.put(_error("invalid_request", f"{text}: {', '.join(_HANDLERS)}"))
            return
        handler: Callable[[dict[str, Any]], Awaitable[None]] = getattr(self, name)
        try:
            await handler(data)
        except RoostError as exc:
            await self.outbox.put(_error(exc.code, exc.message))

    # --- client messages ------------------------------------------------------------------

    async def _session(self, data: dict[str, Any]) -> None:
        body: SessionIn = _parse(SessionIn, data)
        if self.running:
            raise Conflict("a turn is running on this connection: wait for done or cancel it")
        if body.session_id is None:
            conversation = await self.services.conversations.create(self.user)
        else:
            conversation = await self.services.conversations.get(self.user, body.session_id)
        self.session_id = conversation.public_id
        await self.outbox.put(
            {"type": "session", "session_id": conversation.public_id, "title": conversation.title}
        )

    async def _chat(self, data: dict[str, Any]) -> None:
        body: ChatIn = _parse(ChatIn, data)
        if self.running:
            raise Conflict("a turn is already running on this connection: wait or cancel it")
        self.services.turns.validate_message(body.message)
        self.running, self.started, self.cancel_asked, self.handle = True, False, False, None
        self.turn = asyncio.create_task(self._relay(body))

    async def _approve(self, data: dict[str, Any]) -> None:
        body: ApproveIn = _parse(ApproveIn, data)
        approval = self.services.approvals.answer(self.user, body.id, body.approve)
        await self.outbox.put({"type": "approval", "id": approval.id, "approved": body.approve})

    async def _cancel(self, data: dict[str, Any]) -> None:
        # Nothing running is not an error: the turn may have finished as the client asked.
        if not self.running:
            return
        self.cancel_asked = True
        if self.started and self.handle is not None:
            self.handle.cancel()

    async def _ping(self, data: dict[str, Any]) -> None:
        pong: dict[str, Any] = {"type": "pong"}
        token = data.get("id")
        if isinstance(token, str | int) and not isinstance(token, bool):
            pong["id"] = token if isinstance(token, int) else token[:MAX_ID]
        await self.outbox.put(pong)

    # --- the turn ---------------------------------------------------------------------------

    async def _relay(self, body: ChatIn) -> None:
        """Start the turn, then pass its events on; exactly one done or error ends it."""
        try:
            handle = await self.services.turns.start(
                self.user,
                body.message,
                session_id=self.session_id,
                model=body.model,
                include_memory=body.include_memory,
            )
        except RoostError as exc:
            await self._finish(_error(exc.code, exc.message))
            return
        except Exception as exc:  # a bug must still answer the message
            log.exception("could not start a WebSocket turn")
            await self._finish(_error("internal_error", str(exc)))
            return
        self.handle = handle
        if self.outbox.closed:
            return
        if handle.conversation.public_id != self.session_id:
            self.session_id = handle.conversation.public_id
            title = handle.conversation.title
            await self.outbox.put(
                {"type": "session", "session_id": self.session_id, "title": title}
            )
        async for event in handle.events():
            if isinstance(event, TurnStarted):
                # Cancelling before the turn's task runs would skip its own clean-up, so a
                # cancel that came early is applied here.
                self.started = True
                if self.cancel_asked:
                    handle.cancel()
                continue
            payload = event_payload(event, handle)
            if payload is None:
                continue
            if payload["type"] in ("content", "reasoning"):
                self.outbox.delta(payload["type"], payload["delta"])
            elif isinstance(event, TurnDone | TurnFailed):
                await self._finish(payload)
                return
            else:
                await self.outbox.put(payload)
        await self._finish(_error("internal_error", "the turn ended without a result"))

    async def _finish(self, payload: dict[str, Any]) -> None:
        self.running = False  # before the client can see it, so its next chat is accepted
        await self.outbox.put(payload)


async def chat_socket(websocket: WebSocket) -> None:
    """Chat both ways over one WebSocket (JSON messages, see docs/native.md)."""
    services: Services = websocket.app.state.services
    if not origin_allowed(websocket, services.settings.server.cors_origins):
        await websocket.close(POLICY_VIOLATION)  # before accepting: the handshake gets 403
        return
    # Browsers cannot set headers on a WebSocket, so they may send the key as ?token=.
    key = presented_key(websocket) or websocket.query_params.get("token")
    try:
        principal = await services.auth.authenticate(key, loopback=is_loopback(websocket))
        trust(websocket)
        open_stream(websocket)  # counted until this handler returns
    except (Unauthorized, RateLimited) as exc:
        # Accept first: a browser sees neither a refused handshake's status nor its body,
        # but it does see this error message and the close code and reason.
        try:
            await websocket.accept()
            await websocket.send_text(
                json.dumps(_error(exc.code, exc.message), separators=(",", ":"))
            )
            code = TRY_AGAIN_LATER if isinstance(exc, RateLimited) else POLICY_VIOLATION
            await websocket.close(code, exc.message[:120])
        except _GONE:
            pass
        return
    await websocket.accept()
    await ChatSocket(websocket, services, principal).run()


# A plain Starlette route: FastAPI's WebSocket routes add dependency injection this
# endpoint does not use, and two exit stacks that every open connection would keep.
router.add_websocket_route("/api/ws", chat_socket)
