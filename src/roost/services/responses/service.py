"""OpenAI Responses: a completion whose exchange is kept as a turn of a conversation.

With `store` (the default) a response is a turn of one of the user's conversations, so it
shows in the sessions list, the UI and search like any other; the `responses` row says
which turn it is and what the request asked for. `previous_response_id` continues the
conversation that response belongs to: what the conversation holds up to its reply is
sent again, then the new input. When that reply is no longer the conversation's latest
message (the chain was continued already, or another client added to it), the new
response starts a new conversation holding that history: a branch, as OpenAI allows.
Without `store` nothing is kept (a stateless completion).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from roost.core import clock
from roost.core.chat import ChatMessage, GenerationOptions, ResponseFormat, ToolChoice, ToolSpec
from roost.core.errors import Conflict, InvalidRequest, NotFound, RoostError
from roost.core.events import TurnDone, TurnEvent, TurnFailed
from roost.core.ids import new_uuid
from roost.core.records import Conversation, Message, TokenUsage, User
from roost.core.responses import StoredResponse
from roost.services.completions import Completion, CompletionRequest
from roost.services.responses.history import chat_messages

log = logging.getLogger(__name__)


class PreviousResponseNotFound(InvalidRequest):
    """`previous_response_id` names no stored response of the user's."""

    def __init__(self, response_id: str) -> None:
        super().__init__(
            f"Previous response with id '{response_id}' not found.", param="previous_response_id"
        )


class Completions(Protocol):
    async def start(self, user: User, request: CompletionRequest) -> Completion: ...


class Conversations(Protocol):
    async def with_messages(
        self, user: User, public_id: str, *, limit: int | None = None
    ) -> tuple[Conversation, list[Message]]: ...

    async def delete(self, user: User, public_id: str) -> None: ...


class ResponseStore(Protocol):
    async def create(self, record: StoredResponse) -> StoredResponse: ...

    async def get(self, user_id: str, response_id: str) -> StoredResponse | None: ...

    async def finish(
        self,
        user_id: str,
        response_id: str,
        *,
        status: str,
        reply_message_id: int | None,
        usage: TokenUsage | None,
        error: dict[str, str] | None,
        incomplete_reason: str | None,
        completed_at: Any,
    ) -> None: ...

    async def delete(self, user_id: str, response_id: str) -> tuple[str, int] | None: ...

    async def replies(self, user_id: str, conversation_id: int) -> dict[int, str]: ...


@dataclass(frozen=True, slots=True)
class ResponseRequest:
    """`input`: the new items as messages (developer and system items as "system"), without
    the instructions, which go first and are not kept for the next response (as OpenAI)."""

    input: list[ChatMessage]
    model: str | None = None
    instructions: str | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    response_format: ResponseFormat | None = None
    previous_response_id: str | None = None
    store: bool = True
    # The request's parameters as the dialect echoes them back, kept with the response.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResponseRun:
    """A response being generated. `events()` ends in TurnDone or TurnFailed; the stored
    response records how it ended before that last event is yielded."""

    id: str
    created_at: int
    model: str
    session_id: str | None
    request: ResponseRequest
    _events: AsyncIterator[TurnEvent]

    def events(self) -> AsyncIterator[TurnEvent]:
        return self._events


@dataclass(frozen=True, slots=True)
class ResponseView:
    """A stored response and its reply (None while it is being written)."""

    record: StoredResponse
    reply: Message | None


def _reply(record: StoredResponse, stored: list[Message]) -> Message | None:
    for message in stored:
        if record.reply_message_id is not None and message.id == record.reply_message_id:
            return message
        if record.reply_message_id is None and message.seq > record.input_seq:
            return message if message.role == "assistant" else None
    return None


def _ended(done: TurnDone | TurnFailed) -> tuple[str, str | None, dict[str, str] | None]:
    """Status, incomplete reason and error of a finished turn."""
    if isinstance(done, TurnFailed):
        return "failed", None, {"code": done.code, "message": done.message}
    if done.finish_reason == "length":
        return "incomplete", "max_output_tokens", None
    if done.finish_reason == "cancelled":
        return "cancelled", None, None
    return "completed", None, None


def _ended_from(record: StoredResponse, reply: Message) -> tuple[str, str | None, Any]:
    """The same, from a stored reply (its stream's reader went away before the end)."""
    if reply.error:
        code, _, detail = reply.error.partition(": ")
        return "failed", None, {"code": code, "message": detail or code}
    limit = record.params.get("max_output_tokens")
    if isinstance(limit, int) and reply.usage is not None and reply.usage.completion >= limit:
        return "incomplete", "max_output_tokens", None
    return "completed", None, None


class ResponseService:
    def __init__(
        self, completions: Completions, conversations: Conversations, store: ResponseStore
    ) -> None:
        self._completions = completions
        self._conversations = conversations
        self._store = store
        self._writes: set[asyncio.Task[None]] = set()  # finishes being recorded

    async def create(self, user: User, request: ResponseRequest) -> ResponseRun:
        """Validate and begin (raises before any generation, as CompletionService does)."""
        history: list[Message] = []
        branch, continued = True, None
        if request.previous_response_id is not None:
            history, continued, branch = await self._history(user, request.previous_response_id)
        system = [ChatMessage("system", request.instructions)] if request.instructions else []
        earlier = chat_messages(history)
        messages = [*system, *earlier, *_named(request.input, earlier)]
        new = sum(1 for m in request.input if m.role != "system")
        session_id: str | None = None
        if request.store:
            if branch:  # a new conversation, holding the history it continues
                session_id = new_uuid()
                new += sum(1 for m in earlier if m.role != "system")
            else:
                session_id = continued
        completion = await self._completions.start(
            user,
            CompletionRequest(
                messages=messages,
                model=request.model,
                options=request.options,
                tools=request.tools,
                tool_choice=request.tool_choice,
                response_format=request.response_format,
                session_id=session_id,
                new_messages=max(new, 1),
                fresh_session=bool(request.store and branch),
                resumable=False,  # a response's stream cannot be resumed: nothing recorded
            ),
        )
        response_id = f"resp_{new_uuid().replace('-', '')}"
        created = clock.utcnow()
        events = completion.events()
        incoming = completion.input_message
        if request.store and incoming is not None and completion.session_id is not None:
            record = StoredResponse(
                id=response_id,
                user_id=user.id,
                conversation_id=incoming.conversation_id,
                session_id=completion.session_id,
                input_seq=incoming.seq,
                model=completion.model,
                status="in_progress",
                created_at=created,
                params=request.params,
                previous_response_id=request.previous_response_id,
            )
            # Written while the model reads its prompt, off the answer's path; the events
            # wait for it, so no id goes out before its row exists.
            stored = asyncio.ensure_future(self._store.create(record))
            events = self._recorded(user, record, stored, events)
        return ResponseRun(
            response_id,
            int(created.timestamp()),
            completion.model,
            completion.session_id,
            request,
            events,
        )

    async def _history(self, user: User, previous_id: str) -> tuple[list[Message], str, bool]:
        """What the conversation holds up to the previous response's reply, the
        conversation, and whether continuing needs a new one (that reply is not its latest
        message)."""
        previous = await self._store.get(user.id, previous_id)
        if previous is None:
            raise PreviousResponseNotFound(previous_id)
        try:
            stored = await self._messages(user, previous)
        except NotFound:
            raise PreviousResponseNotFound(previous_id) from None
        view = await self._view(user, previous, stored)
        if view.reply is None:
            raise Conflict(f"Previous response with id '{previous_id}' is not finished yet.")
        history = [m for m in stored if m.seq <= view.reply.seq]
        return history, previous.session_id, stored[-1].seq != view.reply.seq

    async def _recorded(
        self,
        user: User,
        record: StoredResponse,
        stored: asyncio.Future[StoredResponse],
        events: AsyncIterator[TurnEvent],
    ) -> AsyncIterator[TurnEvent]:
        """The events; how the response ended is recorded in the background as the last
        one goes out (reading it meanwhile settles it from the stored reply)."""
        try:
            await asyncio.shield(stored)
        except Exception:  # the answer still goes out; it cannot be read back
            log.exception("could not store response %s", record.id)
            async for event in events:
                yield event
            return
        async for event in events:
            if isinstance(event, TurnDone | TurnFailed):
                status, reason, error = _ended(event)
                done = event if isinstance(event, TurnDone) else None
                outcome = {
                    "status": status,
                    "reply_message_id": done.message.id if done else None,
                    "usage": done.usage if done else None,
                    "error": error,
                    "incomplete_reason": reason,
                }
                task = asyncio.create_task(self._finish(user, record, **outcome))
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
            yield event

    async def _finish(self, user: User, record: StoredResponse, **outcome: Any) -> None:
        try:
            await self._store.finish(user.id, record.id, completed_at=clock.utcnow(), **outcome)
        except RoostError as exc:  # the reply is saved; its summary is rebuilt when read
            log.warning("could not record how response %s ended: %s", record.id, exc)

    async def _messages(self, user: User, record: StoredResponse) -> list[Message]:
        """The messages of the response's conversation."""
        try:
            _, stored = await self._conversations.with_messages(user, record.session_id)
        except NotFound:  # deleted meanwhile
            raise NotFound(f"Response with id '{record.id}' not found.") from None
        return stored

    async def _view(
        self, user: User, record: StoredResponse, stored: list[Message]
    ) -> ResponseView:
        """The response with its reply; one whose stream's reader left before the end is
        completed from the stored reply now."""
        reply = _reply(record, stored)
        if record.status == "in_progress" and reply is not None:
            status, reason, error = _ended_from(record, reply)
            outcome: dict[str, Any] = {
                "status": status,
                "reply_message_id": reply.id,
                "usage": reply.usage,
                "error": error,
                "incomplete_reason": reason,
            }
            await self._finish(user, record, **outcome)
            record = replace(record, completed_at=reply.created_at, **outcome)
        return ResponseView(record, reply)

    async def get(self, user: User, response_id: str) -> ResponseView:
        record = await self._store.get(user.id, response_id)
        if record is None:
            raise NotFound(f"Response with id '{response_id}' not found.")
        return await self._view(user, record, await self._messages(user, record))

    async def input_items(
        self, user: User, response_id: str
    ) -> tuple[list[Message], dict[int, str]]:
        """Everything the response's model was asked with, oldest first: the conversation
        up to and including its input (the instructions aside, which are not kept); and
        which of those messages are earlier responses' replies (message id → response)."""
        record = await self._store.get(user.id, response_id)
        if record is None:
            raise NotFound(f"Response with id '{response_id}' not found.")
        stored = await self._messages(user, record)
        replies = await self._store.replies(user.id, record.conversation_id)
        return [m for m in stored if m.seq <= record.input_seq], replies

    async def delete(self, user: User, response_id: str) -> None:
        """Delete the response; with its conversation's last response goes the
        conversation (it was made by this API, for these responses)."""
        deleted = await self._store.delete(user.id, response_id)
        if deleted is None:
            raise NotFound(f"Response with id '{response_id}' not found.")
        session_id, left = deleted
        if left == 0:
            with contextlib.suppress(NotFound):
                await self._conversations.delete(user, session_id)


def _named(items: list[ChatMessage], earlier: list[ChatMessage]) -> list[ChatMessage]:
    """Function results name the function they answer; a call made in an earlier response
    is found there."""
    names = {c.id: c.name for m in earlier for c in m.tool_calls}
    return [
        replace(m, name=names.get(m.tool_call_id or ""))
        if m.role == "tool" and m.name is None
        else m
        for m in items
    ]
