"""OpenAI-style completions: the client sends the whole conversation every time.

Stateless by default (nothing is stored, and a client that goes away stops the model).
Naming a session stores the exchange there, through the turn service, so the reply is
kept and answered once even if the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from roost.config import Settings
from roost.core import clock
from roost.core.errors import InvalidRequest, ProviderError, RoostError
from roost.core.events import TurnDone, TurnEvent, TurnFailed, TurnStarted
from roost.core.ids import new_uuid
from roost.core.metrics import Metrics
from roost.core.records import Message, Role, User
from roost.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    EmbeddingProvider,
    Embeddings,
    GenerationOptions,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from roost.providers.registry import ProviderRegistry
from roost.services.generation import Collected, merge_options, model_events
from roost.services.memory_context import MemoryContext, with_memory
from roost.services.threads import Threads
from roost.services.turns import TurnHandle, TurnService, outcome

MAX_EMBED_INPUTS = 2048
log = logging.getLogger(__name__)


class RoleLookup(Protocol):
    async def resolve(self, user: User, role_id: str) -> Role: ...


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    messages: list[ChatMessage]
    model: str | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    response_format: ResponseFormat | None = None
    session_id: str | None = None  # store the last message and the reply in this session
    role_id: str | None = None  # a stored role whose system prompt replaces the client's
    # Second-Me clients send a model name the original server ignored ("gpt-3.5-turbo"):
    # with this set, a name roost does not know means the default model instead of a 404.
    unknown_model_is_default: bool = False
    # Second-Me's enable_l0_retrieval: add what the user's memory holds on the question.
    retrieval: bool = False
    # Clients that resend the whole history (Ollama, Anthropic): keep the exchange in the
    # conversation whose stored messages are that history, found by it (services/threads.py),
    # or a new one. The value names the dialect ("ollama", "anthropic"). Ignored with
    # session_id.
    thread: str | None = None
    # With session_id: how many of the last messages are new to the session and stored
    # (system messages aside): the last (a user message or a tool result) starts the turn,
    # those before it (a history, tool results) are stored first, as they are.
    new_messages: int = 1
    # With session_id: the id is new (made by the caller), so the session is created
    # without looking it up first.
    fresh_session: bool = False
    # Stored turns: keep their events for clients that resume a stream (/api/streams, the
    # native and /v1 clients). Dialects whose clients cannot resume turn it off: no event
    # writes compete with the model (as MemGPT's streams, which carry no ids either).
    resumable: bool = True


@dataclass
class Completion:
    """A running completion. `events()` yields TurnEvents ending in TurnDone or TurnFailed."""

    id: str
    created: int
    model: str
    session_id: str | None
    _events: AsyncIterator[TurnEvent]
    input_message: Message | None = None  # stored: the message that started the turn

    def events(self) -> AsyncIterator[TurnEvent]:
        return self._events


class CompletionService:
    def __init__(
        self,
        settings: Settings,
        providers: ProviderRegistry,
        turns: TurnService,
        roles: RoleLookup | None = None,
        memory: MemoryContext | None = None,
        metrics: Metrics | None = None,
        threads: Threads | None = None,
    ) -> None:
        self._threads = threads
        self._background: set[asyncio.Task[None]] = set()
        self._metrics = metrics
        self._memory = memory
        self._settings = settings
        self._providers = providers
        self._turns = turns
        self._roles = roles

    def _validate(self, request: CompletionRequest) -> None:
        limits = self._settings.limits
        if not request.messages:
            raise InvalidRequest("'messages' must contain at least one message", param="messages")
        if len(request.messages) > limits.max_messages:
            raise InvalidRequest(
                f"'messages' has {len(request.messages)} messages; at most "
                f"{limits.max_messages} are allowed",
                param="messages",
            )
        for index, message in enumerate(request.messages):
            if len(message.content) > limits.max_message_chars:
                raise InvalidRequest(
                    f"message {index} is longer than {limits.max_message_chars} characters",
                    param=f"messages.{index}.content",
                )
        names = {tool.name for tool in request.tools}
        choice = request.tool_choice
        if choice.mode in ("required", "tool") and not request.tools:
            raise InvalidRequest("'tool_choice' needs 'tools'", param="tool_choice")
        if choice.mode == "tool" and choice.name not in names:
            raise InvalidRequest(f"tool_choice names unknown tool '{choice.name}'", "tool_choice")

    async def _system_from_role(
        self, user: User, request: CompletionRequest
    ) -> tuple[list[ChatMessage], bool]:
        """The messages with the role's system prompt, and whether the role asks for
        retrieval from memory."""
        if request.role_id is None or self._roles is None:
            return request.messages, False
        role = await self._roles.resolve(user, request.role_id)
        rest = [m for m in request.messages if m.role != "system"]
        return [ChatMessage("system", role.system_prompt), *rest], role.enable_l0_retrieval

    def _default_system(self, model: str, messages: list[ChatMessage]) -> list[ChatMessage]:
        """In-process models get `[chat] system_prompt` when the client sends none.

        As Ollama applies a model's default SYSTEM: the GGUF's own template would insert
        its built-in prompt instead, and SmolLM2's derails even simple answers. Remote
        models get exactly the messages the client sent.
        """
        configured = self._providers.settings_for(model)
        if configured is None or configured.provider != "llamacpp":
            return messages
        if any(m.role == "system" for m in messages) or not self._settings.chat.system_prompt:
            return messages
        return [ChatMessage("system", self._settings.chat.system_prompt), *messages]

    async def _with_retrieval(
        self, user: User, messages: list[ChatMessage], provider: ChatProvider
    ) -> list[ChatMessage]:
        assert self._memory is not None
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        if not question.strip():
            return messages
        has_system = bool(messages) and messages[0].role == "system"
        system = messages[0].content if has_system else None
        budget = self._settings.memory.context_tokens
        system = await with_memory(self._memory, user, system, question, provider, budget)
        if system is None:
            return messages
        return [ChatMessage("system", system), *(messages[1:] if has_system else messages)]

    async def start(self, user: User, request: CompletionRequest) -> Completion:
        """Validate and begin. Raises (before any generation) for bad input or unknown model."""
        self._validate(request)
        asked = request.model
        if request.unknown_model_is_default and asked not in self._providers.names():
            asked = None
        model, provider = self._providers.get(asked)
        messages, role_retrieval = await self._system_from_role(user, request)
        messages = self._default_system(model, messages)
        if (request.retrieval or role_retrieval) and self._memory is not None:
            messages = await self._with_retrieval(user, messages, provider)
        options = merge_options(request.options, self._providers.settings_for(model))
        chat = ChatRequest(
            messages, options, request.tools, request.tool_choice, request.response_format
        )
        completion_id = f"chatcmpl-{new_uuid().replace('-', '')}"
        created = int(time.time())
        placement = None
        if request.session_id is None and request.thread and self._threads is not None:
            placement = await self._threads.locate(user, request.thread, request.messages)
        if request.session_id is None and placement is None:
            events = _stateless(model, provider, chat, self._metrics)
            return Completion(completion_id, created, model, None, events)
        if placement is not None:
            fresh = placement.session_id is None
            session_id = placement.session_id or new_uuid()
            new = placement.new_messages
        else:
            session_id, new = str(request.session_id), request.new_messages
            fresh = request.fresh_session
        handle = await self._stored(user, model, request, chat, session_id, new, fresh)
        if placement is not None and self._threads is not None and request.thread:
            # Needed by the next request of the conversation, which follows the reply:
            # written beside the turn rather than before it.
            remember = self._threads.remember(user, request.thread, placement, session_id)
            task = asyncio.create_task(remember)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            events = _settled_before_end(_without_start(handle.events()), task)
        else:
            events = _without_start(handle.events())
        return Completion(
            completion_id,
            created,
            model,
            session_id,
            events,
            input_message=handle.user_message,
        )

    async def _stored(
        self,
        user: User,
        model: str,
        request: CompletionRequest,
        chat: ChatRequest,
        session_id: str,
        new: int,
        fresh: bool,
    ) -> TurnHandle:
        body = [m for m in request.messages if m.role != "system"]
        last = body[-1] if body else None
        if last is None or last.role not in ("user", "tool"):
            raise InvalidRequest(
                "with a session, the last message must be the user's new message",
                param="messages",
            )
        if not 1 <= new <= len(body):
            raise InvalidRequest(f"cannot store {new} new messages of {len(body)}", "messages")
        return await self._turns.start(
            user,
            last.content,
            session_id=session_id,
            create_session=True,
            model=model,
            options=chat.options,
            request=chat,
            earlier=tuple(body[len(body) - new : -1]),
            incoming=last,
            fresh=fresh,
            record=request.resumable,
        )

    async def count_tokens(self, user: User, request: CompletionRequest) -> tuple[str, int]:
        """The model, and the tokens the request's prompt takes on it, as `start` would give
        it (the same checks, the default system prompt), without generating. Tools are
        counted as a JSON listing in the system message: how a model's template shows
        them varies, so that part is an estimate; remote models estimate it all."""
        self._validate(request)
        model, provider = self._providers.get(request.model)
        messages, _ = await self._system_from_role(user, request)
        messages = self._default_system(model, messages)
        if request.tools:
            listing = json.dumps(
                [
                    {"name": t.name, "description": t.description, "parameters": t.parameters}
                    for t in request.tools
                ]
            )
            if messages and messages[0].role == "system":
                system = ChatMessage("system", f"{messages[0].content}\n\n{listing}")
                messages = [system, *messages[1:]]
            else:
                messages = [ChatMessage("system", listing), *messages]
        return model, await provider.count_tokens(messages)

    async def embed(
        self, user: User, model: str | None, texts: list[str], *, dimensions: int | None = None
    ) -> tuple[str, Embeddings]:
        """Vectors for `texts` from `model` (which must be able to embed)."""
        if not texts:
            raise InvalidRequest("'input' must not be empty", param="input")
        if len(texts) > MAX_EMBED_INPUTS:
            raise InvalidRequest(f"at most {MAX_EMBED_INPUTS} inputs per request", "input")
        limit = self._settings.limits.max_message_chars
        for index, text in enumerate(texts):
            if not text:
                raise InvalidRequest(f"input {index} is empty", param="input")
            if len(text) > limit:
                raise InvalidRequest(f"input {index} is longer than {limit} characters", "input")
        name, provider = self._providers.get(model)
        if not isinstance(provider, EmbeddingProvider):
            raise InvalidRequest(f"model '{name}' cannot make embeddings", param="model")
        result = await provider.embed(texts)
        size = len(result.vectors[0]) if result.vectors else 0
        if dimensions is not None and dimensions != size:
            raise InvalidRequest(
                f"model '{name}' makes {size}-dimensional vectors; 'dimensions' cannot change that",
                param="dimensions",
            )
        return name, result


async def _settled_before_end(
    events: AsyncIterator[TurnEvent], task: asyncio.Task[None]
) -> AsyncIterator[TurnEvent]:
    """The events, the last one only once `task` has ended (the client's next request
    must find what it wrote; it has, long before, unless the database is slow)."""
    async for event in events:
        if isinstance(event, TurnDone | TurnFailed):
            with contextlib.suppress(Exception):  # logged by the task; the turn stands
                await asyncio.shield(task)
        yield event


async def _without_start(events: AsyncIterator[TurnEvent]) -> AsyncIterator[TurnEvent]:
    async for event in events:
        if not isinstance(event, TurnStarted):
            yield event


async def _stateless(
    model: str, provider: ChatProvider, chat: ChatRequest, metrics: Metrics | None = None
) -> AsyncIterator[TurnEvent]:
    """Generate in the caller's task: if the caller stops reading, the model stops."""
    started = time.perf_counter()
    final: TurnDone | TurnFailed | None = None
    try:
        async with contextlib.aclosing(_generate(model, provider, chat, metrics)) as events:
            async for event in events:
                if isinstance(event, TurnDone | TurnFailed):
                    final = event
                yield event
    finally:
        if metrics is not None:  # no final event: the caller stopped reading
            seconds = time.perf_counter() - started
            metrics.turn(model, outcome(final) if final else "cancelled", seconds)


async def _generate(
    model: str, provider: ChatProvider, chat: ChatRequest, metrics: Metrics | None
) -> AsyncGenerator[TurnEvent, None]:
    out = Collected()
    try:
        async for event in model_events(provider, chat, out, metrics):
            yield event
    except RoostError as exc:
        code = "provider_error" if isinstance(exc, ProviderError) else exc.code
        yield TurnFailed(code, exc.message, getattr(exc, "retry_after", None))
        return
    except Exception as exc:  # a bug must still end the stream with an error
        log.exception("completion failed on model %s", model)
        yield TurnFailed("internal_error", str(exc))
        return
    reply = Message(
        id=0,
        conversation_id=0,
        seq=0,
        role="assistant",
        content=out.content,
        created_at=clock.utcnow(),
        reasoning="".join(out.reasoning) or None,
        tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in out.calls],
        model=model,
        usage=out.usage,
    )
    yield TurnDone(reply, out.finish, out.usage, out.calls, out.stop_sequence)
