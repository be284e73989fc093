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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from roost import __version__
from roost.api.bodies import json_too_deep, too_deep_message
from roost.api.deps import authenticate
from roost.api.limits import TRY_AGAIN_LATER, open_stream
from roost.api.native.events import event_payload
from roost.api.native.streams import parse_event_id
from roost.api.ws import POLICY_VIOLATION, Outbox, origin_allowed, pump
from roost.core.errors import Conflict, InvalidRequest, RateLimited, RoostError, Unauthorized
from roost.core.events import TurnDone, TurnEvent, TurnFailed, TurnStarted
from roost.services.auth import Principal
from roost.services.container import Services
from roost.services.streams.service import Followed
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


class ResumeIn(_In):
    # `after`: the last event id seen ("<stream_id>:<n>"), or n with `stream_id`.
    after: StrictStr | StrictInt = Field(0, union_mode="left_to_right")
    stream_id: StrictStr | None = Field(None, min_length=1, max_length=MAX_ID)


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


_HANDLERS = {
    kind: f"_{kind}" for kind in ("session", "chat", "resume", "approve", "cancel", "ping")
}
_GONE = (WebSocketDisconnect, RuntimeError, OSError)  # the client left mid-call


class ChatSocket:
    """One authenticated connection: its current session and at most one running turn."""

    __slots__ = (
        "cancel_asked",
        "following",
        "handle",
        "outbox",
        "own_streams",
        "running",
        "sender_gone",
        "services",
        "session_id",
        "started",
        "turn",
        "user",
        "watched",
        "watcher",
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
        self.following = False  # relaying a resumed stream, not a turn of this connection
        self.sender_gone = False
        self.watcher: asyncio.Task[None] | None = None  # announces turns begun elsewhere
        self.watched: str | None = None
        self.own_streams: set[str] = set()

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
        if self.watcher is not None:
            self.watcher.cancel()
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
        max_depth = self.services.settings.limits.max_json_depth
        if json_too_deep(raw, max_depth):  # the bound every HTTP body has (api/bodies.py)
            message = f"message is {too_deep_message(max_depth)}"
            await self.outbox.put(_error("invalid_request", message))
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
        self._watch()

    async def _chat(self, data: dict[str, Any]) -> None:
        body: ChatIn = _parse(ChatIn, data)
        if self.running:
            raise Conflict("a turn is already running on this connection: wait or cancel it")
        self.services.turns.validate_message(body.message)
        self.running, self.started, self.cancel_asked, self.handle = True, False, False, None
        self.following = False
        self.turn = asyncio.create_task(self._relay(body))

    async def _resume(self, data: dict[str, Any]) -> None:
        body: ResumeIn = _parse(ResumeIn, data)
        if self.running:
            raise Conflict("a turn is running on this connection: wait for done or cancel it")
        stream_id, after = body.stream_id, body.after
        if isinstance(after, str):
            named, after = parse_event_id(after[:MAX_ID])
            stream_id = stream_id or named
            if named is not None and named != stream_id:
                raise InvalidRequest("'after' names another stream than 'stream_id'", "after")
        if stream_id is None:
            raise InvalidRequest("resume needs 'stream_id', or 'after' as '<stream_id>:<n>'")
        if after < 0:
            raise InvalidRequest("'after' must not be negative", param="after")
        followed = await self.services.streams.follow(self.user.id, stream_id, after)
        self.session_id = followed.session_id or self.session_id
        self.running, self.started, self.cancel_asked, self.handle = True, True, False, None
        self.following = True
        self.own_streams.add(followed.stream_id)
        self._watch()
        self.turn = asyncio.create_task(self._relay_followed(followed))

    async def _approve(self, data: dict[str, Any]) -> None:
        body: ApproveIn = _parse(ApproveIn, data)
        approval = await self.services.approvals.answer(self.user, body.id, body.approve)
        await self.outbox.put({"type": "approval", "id": approval.id, "approved": body.approve})

    async def _cancel(self, data: dict[str, Any]) -> None:
        # Nothing running is not an error: the turn may have finished as the client asked.
        if not self.running:
            return
        self.cancel_asked = True
        if self.following and self.turn is not None:
            self.turn.cancel()  # stop relaying; the turn is not this connection's to stop
        elif self.started and self.handle is not None:
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
        if handle.stream_id is not None:
            # Before this task yields, so the session's watcher knows it is ours: start()
            # returns before the stream's row (whose notification it waits for) is written.
            if len(self.own_streams) > 256:
                self.own_streams.clear()
            self.own_streams.add(handle.stream_id)
        if self.outbox.closed:
            return
        if handle.conversation.public_id != self.session_id:
            self.session_id = handle.conversation.public_id
            title = handle.conversation.title
            await self.outbox.put(
                {"type": "session", "session_id": self.session_id, "title": title}
            )
        self._watch()
        stream_id = handle.stream_id
        async for seq, event in handle.events_with_ids():
            if isinstance(event, TurnStarted):
                # Cancelling before the turn's task runs would skip its own clean-up, so a
                # cancel that came early is applied here.
                self.started = True
                if self.cancel_asked:
                    handle.cancel()
                if stream_id is not None:  # the ids to resume with, should we be cut off
                    await self.outbox.put(
                        {
                            "type": "stream",
                            "stream_id": stream_id,
                            "event_id": f"{stream_id}:{seq}",
                        }
                    )
                continue
            event_id = None if seq is None else f"{stream_id}:{seq}"
            if await self._forward(event, event_id, handle.conversation.public_id, handle.model):
                return
        await self._finish(_error("internal_error", "the turn ended without a result"))

    async def _relay_followed(self, followed: Followed) -> None:
        """Relay a resumed stream (from any replica) until its done or error."""
        try:
            async for seq, event in followed.events:
                if isinstance(event, TurnStarted):
                    continue  # the session is known; the `stream` message was sent before
                event_id = f"{followed.stream_id}:{seq}"
                if await self._forward(event, event_id, followed.session_id, followed.model):
                    return
        except asyncio.CancelledError:
            if self.cancel_asked and not self.outbox.closed:
                await self._finish(_error("cancelled", "stopped following the stream"))
            raise
        if followed.ended:  # the client had the whole turn already: nothing to repeat
            self.running = False
            return
        await self._finish(
            _error("stream_interrupted", "the stream stopped before its end: resume it again")
        )

    def _watch(self) -> None:
        """Announce turns that begin in the current session elsewhere: another connection,
        another API, another replica. The client may `resume` one to see it stream."""
        if self.session_id == self.watched or self.outbox.closed:
            return
        if self.watcher is not None:
            self.watcher.cancel()
        self.watched = self.session_id
        if self.session_id is not None:
            self.watcher = asyncio.create_task(self._announce(self.session_id))

    async def _announce(self, session_id: str) -> None:
        streams = self.services.streams.watch_session(self.user.id, session_id)
        try:
            async for stream_id in streams:
                if stream_id in self.own_streams:
                    continue
                await self.outbox.put(
                    {
                        "type": "stream",
                        "stream_id": stream_id,
                        "event_id": f"{stream_id}:0",  # resume from here: the whole turn
                        "session_id": session_id,
                        "elsewhere": True,
                    }
                )
        except RoostError as exc:  # the database is away: announcements stop, chat goes on
            log.warning("stopped watching session %s: %s", session_id, exc.message)

    async def _forward(
        self, event: TurnEvent, event_id: str | None, session_id: str, model: str
    ) -> bool:
        """Queue one event for the client; True when it ended the turn."""
        payload = event_payload(event, session_id, model)
        if payload is None:
            return False
        if payload["type"] in ("content", "reasoning"):
            self.outbox.delta(payload["type"], payload["delta"], event_id)
            return False
        if event_id is not None:  # not "id": tool_start and approvals have their own
            payload["event_id"] = event_id
        if isinstance(event, TurnDone | TurnFailed):
            await self._finish(payload)
            return True
        await self.outbox.put(payload)
        return False

    async def _finish(self, payload: dict[str, Any]) -> None:
        self.running = False  # before the client can see it, so its next chat is accepted
        await self.outbox.put(payload)


async def chat_socket(websocket: WebSocket) -> None:
    """Chat both ways over one WebSocket (JSON messages, see docs/native.md)."""
    services: Services = websocket.app.state.services
    if not origin_allowed(websocket, services.settings.server.cors_origins):
        await websocket.close(POLICY_VIOLATION)  # before accepting: the handshake gets 403
        return
    try:  # a header, or ?token= (browsers cannot set headers on a WebSocket)
        principal = await authenticate(websocket, services)
        open_stream(websocket)  # counted until this handler returns
    except (Unauthorized, RateLimited, InvalidRequest) as exc:
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
