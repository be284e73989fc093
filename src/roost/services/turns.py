"""One conversation turn: store the user message, run the model, store the reply.

A turn runs in its own task and pushes TurnEvents into a queue. The caller reads the
queue; if the caller goes away the task carries on, so the reply is always saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

from roost.config import Settings
from roost.core import requester
from roost.core.errors import InvalidRequest, ProviderError, RoostError
from roost.core.events import TurnDone, TurnEvent, TurnFailed, TurnStarted
from roost.core.metrics import Metrics
from roost.core.records import Conversation, Message, User
from roost.providers.base import ChatMessage, ChatProvider, ChatRequest, GenerationOptions
from roost.providers.registry import ProviderRegistry
from roost.services.conversations import ConversationService
from roost.services.generation import merge_options, model_events
from roost.services.leases import Lease, LeaseService
from roost.services.memory_context import MemoryContext, with_memory
from roost.services.prompt import build_prompt
from roost.services.streams import RecordingQueue, StreamRecorder, StreamService
from roost.services.tool_loop import LoopState, ToolLoop
from roost.services.tools.base import Tool
from roost.services.tools.registry import ToolRegistry
from roost.services.turn_recovery import INTERRUPTED, LEASE_PREFIX, TurnRecovery, lease_name
from roost.storage.messages import MessageRepository

log = logging.getLogger(__name__)
_END = object()


@dataclass
class TurnHandle:
    """A running turn. Iterate `events()` once; the turn finishes whether or not you do."""

    conversation: Conversation
    model: str
    user_message: Message
    request: ChatRequest | None = None
    include_memory: bool = False
    use_tools: bool = True
    inbox_id: int | None = None  # set when the turn answers a queued (inbox) message
    stream_id: str | None = None  # set when its events are recorded (resumable streams)
    _stream_created: asyncio.Task[None] | None = None
    _queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _ran: bool = False  # _run began (a task cancelled before its first step never does)

    async def events(self) -> AsyncIterator[TurnEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield cast(TurnEvent, item)

    async def events_with_ids(self) -> AsyncIterator[tuple[int | None, TurnEvent]]:
        """The events with their ids in the stream (None when it is not recorded)."""
        if self._stream_created is not None:
            try:  # no id goes out before the stream is in the database
                await asyncio.shield(self._stream_created)
            except Exception:
                self.stream_id = None
        seq = 0
        async for event in self.events():
            seq += 1
            yield (seq if self.stream_id is not None else None), event

    async def result(self) -> TurnDone | TurnFailed:
        """Drain the stream and return its final event."""
        final: TurnDone | TurnFailed = TurnFailed("internal_error", "turn ended without a result")
        async for event in self.events():
            if isinstance(event, TurnDone | TurnFailed):
                final = event
        return final

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


class TurnService:
    def __init__(
        self,
        settings: Settings,
        providers: ProviderRegistry,
        conversations: ConversationService,
        messages: MessageRepository,
        memory: MemoryContext | None = None,
        tools: ToolRegistry | None = None,
        loop: ToolLoop | None = None,
        streams: StreamService | None = None,
        leases: LeaseService | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._streams = streams
        self._leases = leases  # None: this process is alone with its database
        self._memory = memory
        self._tools = tools
        self._loop = loop
        self._providers = providers
        self._conversations = conversations
        self._messages = messages
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: dict[str, int] = {}  # user id → turns running (the heartbeat waits)
        self._recovery = TurnRecovery(
            messages,
            leases,
            self._lock_for,
            shared=not settings.db_url.startswith("sqlite"),
            on_interrupted=self._end_interrupted_stream,
        )

    def _lock_for(self, conversation_id: int) -> asyncio.Lock:
        """The conversation's lock in this process: one turn at a time, in arrival order."""
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    def user_busy(self, user_id: str) -> bool:
        """Whether a turn of this user is running now, in this process."""
        return self._active.get(user_id, 0) > 0

    async def user_busy_anywhere(self, user_id: str) -> bool:
        """Whether a turn of this user is running now, here or on another replica."""
        if self.user_busy(user_id):
            return True
        if self._leases is None:
            return False
        return await self._leases.held_elsewhere_for_user(LEASE_PREFIX, user_id)

    def _track(self, user_id: str, task: asyncio.Task[None]) -> None:
        self._active[user_id] = self._active.get(user_id, 0) + 1

        def done(_: asyncio.Task[None]) -> None:
            left = self._active.get(user_id, 1) - 1
            if left > 0:
                self._active[user_id] = left
            else:
                self._active.pop(user_id, None)

        task.add_done_callback(done)

    def validate_message(self, text: str) -> str:
        if not text.strip():
            raise InvalidRequest("message must not be empty", param="message")
        limit = self._settings.limits.max_message_chars
        if len(text) > limit:
            raise InvalidRequest(f"message is longer than {limit} characters", param="message")
        # Checked before anything is stored (a new session included): PostgreSQL cannot store
        # a NUL, and nothing can encode a lone surrogate ("\ud800" in JSON).
        if "\x00" in text:
            raise InvalidRequest("message must not contain NUL (\\u0000) characters", "message")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidRequest(
                    "message must be valid Unicode, without a lone surrogate", param="message"
                ) from None
        return text

    async def start(
        self,
        user: User,
        text: str,
        *,
        session_id: str | None = None,
        create_session: bool = False,
        model: str | None = None,
        options: GenerationOptions | None = None,
        request: ChatRequest | None = None,
        include_memory: bool | None = None,
        use_tools: bool = True,
        inbox_id: int | None = None,
        earlier: tuple[ChatMessage, ...] = (),
        incoming: ChatMessage | None = None,
        fresh: bool = False,
        record: bool = True,
    ) -> TurnHandle:
        """Validate, store the user message, and start the model in the background.

        `session_id=None` starts a new session; an unknown id is 404 unless
        `create_session` (chat.nvim-style clients name their own sessions).
        `request`, when given, is sent to the model instead of the stored history (OpenAI-
        style clients send the whole conversation each time); `text` is still stored.
        `inbox_id` (the inbox worker's deliveries): the user message is stored once per
        queued message, a retry reuses it; the reply records the id, which completes the
        queued message; a failed turn stores nothing, the worker decides about retries.
        `earlier` (clients that resend the history): messages stored before this one;
        `incoming`: the new message as the client sent it (a tool result is stored as one).
        `fresh`: `session_id` is new (made by the caller): created without a lookup.
        `record`: keep the events for clients that resume (/api/streams); off for dialects
        whose clients cannot, so no writes compete with the turn.
        """
        if text or incoming is None or incoming.role != "tool":  # a tool may return nothing
            text = self.validate_message(text)
        for message in earlier:
            if message.content:
                self.validate_message(message.content)
        model_name, _ = self._providers.get(model)
        if session_id is None:
            conversation = await self._conversations.create(user, model=model_name)
        elif fresh:
            conversation = await self._conversations.create(user, public_id=session_id)
        elif create_session:
            conversation = await self._conversations.get_or_create(user, session_id)
        else:
            conversation = await self._conversations.get(user, session_id)
        lock = self._lock_for(conversation.id)
        await lock.acquire()  # one turn at a time per conversation, in arrival order
        lease: Lease | None = None
        try:
            if self._leases is not None:  # ...and across replicas
                lease = await self._leases.acquire(lease_name(conversation.id))
            for message in earlier:
                await self._messages.append(user.id, conversation.id, **_fields(message))
            fields = _fields(incoming) if incoming is not None else {"role": "user"}
            fields["content"] = text
            stored = await self._messages.append(
                user.id, conversation.id, inbox_id=inbox_id, **fields
            )
            recorder = self._recorder(user, conversation, model_name) if record else None
        except BaseException:
            if lease is not None:
                lease.release_soon()
            lock.release()
            raise
        if include_memory is None:
            include_memory = self._settings.memory.include_in_chat
        handle = TurnHandle(
            conversation,
            model_name,
            stored,
            request,
            include_memory,
            use_tools=use_tools,
            inbox_id=inbox_id,
        )
        if recorder is not None:
            handle.stream_id = recorder.id
            handle._stream_created = recorder.created
            handle._queue = RecordingQueue(recorder, _END)
        task = asyncio.create_task(
            self._run(user, handle, options or GenerationOptions(), lock, lease)
        )
        handle._task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: _if_never_ran(done, handle, lock, lease))
        self._track(user.id, task)
        return handle

    def _recorder(
        self, user: User, conversation: Conversation, model: str
    ) -> StreamRecorder | None:
        if self._streams is None:
            return None
        return self._streams.open(user.id, conversation.public_id, model)

    async def _run(
        self,
        user: User,
        handle: TurnHandle,
        options: GenerationOptions,
        lock: asyncio.Lock,
        lease: Lease | None,
    ) -> None:
        put = handle._queue.put_nowait
        handle._ran = True
        requester.current.set(user.id)  # inbox and heartbeat turns have no request
        started = time.perf_counter()
        try:
            put(TurnStarted(handle.conversation.public_id, handle.model))
            final = await self._generate(user, handle, options)
            if self._metrics is not None:
                self._metrics.turn(handle.model, outcome(final), time.perf_counter() - started)
            put(final)
        finally:
            try:
                if lease is not None:
                    await lease.release()
            finally:
                lock.release()
                put(_END)

    async def _generate(
        self, user: User, handle: TurnHandle, options: GenerationOptions
    ) -> TurnDone | TurnFailed:
        put = handle._queue.put_nowait
        conversation = handle.conversation
        state = LoopState()
        out = state.out
        try:
            _, provider = self._providers.get(handle.model)
            merged = merge_options(options, self._providers.settings_for(handle.model))
            if handle.request is not None:  # the client sent the whole conversation
                request = replace(handle.request, options=merged)
                async for event in model_events(provider, request, out, self._metrics):
                    put(event)
            else:
                tools = self._tools_for(handle)
                prompt = await self._prompt(user, handle, provider, merged, bool(tools))
                if tools and self._loop is not None:
                    await self._loop.run(
                        user, conversation.public_id, provider, prompt, merged, tools, put, state
                    )
                else:
                    chat = ChatRequest(prompt, merged)
                    async for event in model_events(provider, chat, out, self._metrics):
                        put(event)
        except asyncio.CancelledError:
            out.finish = "cancelled"
        except RoostError as exc:
            code = exc.code if not isinstance(exc, ProviderError) else "provider_error"
            failed = await self._fail(user, handle, code, exc.message, state)
            return replace(failed, retry_after=getattr(exc, "retry_after", None))
        except Exception as exc:  # a bug must still leave a recorded, answered turn
            log.exception("turn failed in conversation %s", conversation.public_id)
            return await self._fail(user, handle, "internal_error", str(exc), state)
        try:
            message = await self._messages.append(
                user.id,
                conversation.id,
                role="assistant",
                content=out.content,
                reasoning="".join(out.reasoning) or None,
                tool_calls=_stored_calls(state),
                model=handle.model,
                usage=out.usage,
                inbox_id=handle.inbox_id,
            )
        except RoostError as exc:  # e.g. the database became locked or full mid-turn
            log.warning("could not save the reply in conversation %s: %s", conversation.id, exc)
            return TurnFailed(exc.code, f"the reply could not be saved: {exc.message}")
        if self._memory is not None and self._settings.memory.log_turns:
            try:
                await self._memory.append_turn(user, handle.user_message.content, out.content)
            except (RoostError, OSError):  # the reply is saved; a log line is not worth failing
                log.warning("could not append the turn to the daily log", exc_info=True)
        return TurnDone(message, out.finish, out.usage, out.calls, out.stop_sequence)

    def _tools_for(self, handle: TurnHandle) -> list[Tool]:
        if not handle.use_tools or self._tools is None:
            return []
        return self._tools.for_model(handle.model)

    async def _prompt(
        self,
        user: User,
        handle: TurnHandle,
        provider: ChatProvider,
        options: GenerationOptions,
        with_tools: bool,
    ) -> list[ChatMessage]:
        history = await self._messages.list(user.id, handle.conversation.id)
        system: str | None = handle.conversation.system_prompt or self._settings.chat.system_prompt
        if handle.include_memory and self._memory is not None:
            system = await with_memory(
                self._memory,
                user,
                system,
                handle.user_message.content,
                provider,
                self._settings.memory.context_tokens,
            )
        prompt, _dropped = await build_prompt(
            provider, system, history, reserve=options.max_tokens or 256, with_tools=with_tools
        )
        return prompt

    async def _fail(
        self, user: User, handle: TurnHandle, code: str, detail: str, state: LoopState
    ) -> TurnFailed:
        if handle.inbox_id is not None:  # the inbox worker retries, or records the failure
            return TurnFailed(code, detail)
        with contextlib.suppress(RoostError):
            await self._messages.append(
                user.id,
                handle.conversation.id,
                role="assistant",
                content=state.out.content,
                tool_calls=_stored_calls(state),
                model=handle.model,
                error=f"{code}: {detail}",
            )
        return TurnFailed(code, detail)

    async def _end_interrupted_stream(self, user_id: str, conversation_id: int) -> None:
        if self._streams is None:
            return
        public_id = await self._conversations.public_id_of(user_id, conversation_id)
        if public_id is not None:
            _, detail = INTERRUPTED.split(": ", 1)
            await self._streams.end_interrupted(user_id, public_id, detail)

    async def recover(self) -> int:
        """Record an "interrupted" error as the answer of each turn a stopped process left
        unanswered (services/turn_recovery.py); with replicas, keep looking until close.
        Called at start, before any turn runs."""
        return await self._recovery.at_start()

    def conversation_busy(self, conversation_id: int) -> bool:
        """Whether a turn (from any API) is running in the conversation in this process."""
        lock = self._locks.get(conversation_id)
        return lock is not None and lock.locked()

    async def conversation_busy_anywhere(self, conversation_id: int) -> bool:
        """Whether a turn runs in the conversation here or on another replica."""
        if self.conversation_busy(conversation_id):
            return True
        return self._leases is not None and await self._leases.held_elsewhere(
            lease_name(conversation_id)
        )

    async def wait_idle(self, conversation_id: int) -> None:
        """Return once no turn runs in the conversation (turns queued on it run first),
        in this process or, with leases, on another replica."""
        lock = self._locks.get(conversation_id)
        if lock is not None and lock.locked():
            async with lock:
                pass
        if self._leases is not None:
            await self._leases.wait_free(lease_name(conversation_id))

    async def drain(self, seconds: float) -> None:
        """Let running turns finish (and save) before shutdown; cancel what is left."""
        await self._recovery.close()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)


def _fields(message: ChatMessage) -> dict[str, Any]:
    """A client's message as stored: an assistant's calls as the tool loop stores them, a
    tool result with the call it answers (id and name) as its one call."""
    calls: list[dict[str, Any]]
    if message.role == "tool":
        calls = [{"id": message.tool_call_id or "", "name": message.name or ""}]
    else:
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    return {"role": message.role, "content": message.content, "tool_calls": calls or None}


def _if_never_ran(
    task: asyncio.Task[None], handle: TurnHandle, lock: asyncio.Lock, lease: Lease | None
) -> None:
    """A turn cancelled before `_run` began: release what `start` took, end its events."""
    if handle._ran:
        return
    if lease is not None:
        lease.release_soon()
    lock.release()
    handle._queue.put_nowait(TurnFailed("cancelled", "the turn was cancelled before it began"))
    handle._queue.put_nowait(_END)


def outcome(final: TurnDone | TurnFailed) -> str:
    """How a turn ended, as /metrics labels it: done, failed or cancelled."""
    if isinstance(final, TurnFailed):
        return "cancelled" if final.code == "cancelled" else "failed"
    return "cancelled" if final.finish_reason == "cancelled" else "done"


def _stored_calls(state: LoopState) -> list[dict[str, Any]]:
    """Tool calls as stored on the reply: with their results when roost ran them."""
    if state.records:
        return [record.as_json() for record in state.records]
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in state.out.calls]
