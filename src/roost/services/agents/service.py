"""MemGPT-style agents: create and manage them, their memory, and messages to them.

Every method takes the caller: an agent of another user is not found. One turn at a time
runs per agent; a message that arrives meanwhile waits its turn (or, if the caller asked
not to wait, is refused with AgentBusy).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from roost.config import Settings
from roost.core import requester
from roost.core.agents import Agent, AgentMessage, NewAgentMessage, Passage
from roost.core.clock import utcnow
from roost.core.errors import Conflict, InvalidRequest, NotFound, RoostError
from roost.core.ids import new_uuid
from roost.core.metrics import Metrics
from roost.core.records import User
from roost.providers.base import GenerationOptions
from roost.providers.registry import ProviderRegistry
from roost.services.agents import packing
from roost.services.agents.defaults import ALL_TOOLS, DEFAULT_PRESET
from roost.services.agents.events import AgentDone, AgentEvent, AgentFailed
from roost.services.agents.library import LibraryService
from roost.services.agents.loop import AgentLoop
from roost.services.agents.recovery import AgentRecovery
from roost.services.agents.store import (
    PASSAGE_CHARS,
    AgentStore,
    LiveAgent,
    check_block,
    split_passage,
)
from roost.services.generation import merge_options
from roost.services.leases import Lease, LeaseService

log = logging.getLogger(__name__)

MAX_PAGE = 1000  # most messages or passages in one page
MAX_ALL = 10_000  # most passages from archival/all
MAX_META_CHARS = 10_000
_RENAME = re.compile(r"^[A-Za-z0-9 _-]{1,50}$")
_END = object()


class AgentBusy(Conflict):
    """The agent is answering another message. `retry`: whether trying again later helps
    (False when the caller asked not to wait)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class AgentConfig:
    """What POST /api/agents may set (MemGPT's `config` object)."""

    name: str | None = None
    preset: str | None = None
    human: str | None = None
    persona: str | None = None
    human_name: str | None = None
    persona_name: str | None = None
    system: str | None = None
    function_names: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    model: str | None = None


@dataclass(frozen=True)
class AgentView:
    agent: Agent
    recall: int  # messages
    archival: int  # passages


@dataclass
class AgentTurn:
    """A running turn. Iterate `events()` once; the turn finishes whether or not you do."""

    agent: Agent
    _queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)

    async def events(self) -> AsyncIterator[AgentEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield cast(AgentEvent, item)


class AgentService:
    def __init__(
        self,
        settings: Settings,
        providers: ProviderRegistry,
        store: AgentStore,
        leases: LeaseService | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._leases = leases  # None: this process is alone with its database
        self._providers = providers
        self._store = store
        self.library = LibraryService(store.library)
        self._loop = AgentLoop(settings.agents, metrics)
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovery = AgentRecovery(
            store,
            self._lock_for,
            self._rerun,
            leases,
            shared=not settings.db_url.startswith("sqlite"),
        )

    # --- agents -----------------------------------------------------------------------

    async def get(self, user: User, agent_id: str) -> Agent:
        agent = await self._store.agents.get(user.id, agent_id)
        if agent is None:
            raise NotFound(f"Agent agent_id={agent_id} not found.")
        return agent

    async def _text(
        self,
        user: User,
        kind: str,
        given: str | None,
        name: str | None,
        default: tuple[str, str | None],
    ) -> tuple[str, str | None]:
        """A human or persona: a stored name gives its text, other text is taken as is."""
        if given is None:
            return default
        item = await self.library.find(user, kind, given) if len(given) <= 100 else None
        if item is not None:
            return check_block(kind, str(item.data.get("text", ""))), item.name
        return check_block(kind, given), name

    async def create(self, user: User, config: AgentConfig) -> tuple[Agent, dict[str, Any]]:
        """A new agent and the preset it was made from (name and fields)."""
        name = (config.name or "").strip()
        if not name or len(name) > 100:
            raise InvalidRequest("config.name is required (1-100 characters)", param="name")
        if await self._store.agents.count(user.id) >= self._settings.agents.max_agents:
            raise InvalidRequest(
                f"a user may have at most {self._settings.agents.max_agents} agents"
            )
        preset_item = await self.library.get(user, "preset", config.preset or DEFAULT_PRESET)
        preset = preset_item.data
        if config.model is not None:
            self._providers.get(config.model)  # ModelNotFound for a model not configured
        human, human_name = await self._text(
            user,
            "human",
            config.human,
            config.human_name,
            (str(preset.get("human", "")), preset.get("human_name")),
        )
        persona, persona_name = await self._text(
            user,
            "persona",
            config.persona,
            config.persona_name,
            (str(preset.get("persona", "")), preset.get("persona_name")),
        )
        if len(str(config.metadata)) > MAX_META_CHARS:
            raise InvalidRequest(f"config.metadata is larger than {MAX_META_CHARS} characters")
        schema_names = [
            str(f.get("name")) for f in preset.get("functions_schema", []) if isinstance(f, dict)
        ]
        tools = list(dict.fromkeys([*config.function_names, *schema_names, *ALL_TOOLS]))[:200]
        agent = await self._store.agents.create(
            user.id,
            name=name,
            preset=preset_item.name,
            model=config.model or self._settings.agents.model,
            system=config.system or str(preset.get("system", "")),
            persona=persona,
            human=human,
            persona_name=persona_name,
            human_name=human_name,
            tools=tools,
            meta={**config.metadata, "human": human_name, "persona": persona_name},
        )
        return agent, {"id": preset_item.id, "name": preset_item.name, **preset}

    async def list(self, user: User | None) -> list[AgentView]:
        """The user's agents (every user's for None: admins), most recently used first."""
        limit = self._settings.agents.max_agents if user is not None else MAX_ALL
        agents = await self._store.agents.list(None if user is None else user.id, limit=limit)
        sizes = await self._store.agents.sizes_many([a.key for a in agents])
        return [AgentView(a, *sizes.get(a.key, (0, 0))) for a in agents]

    async def rename(self, user: User, agent_id: str, name: str) -> Agent:
        await self.get(user, agent_id)
        if not _RENAME.match(name):
            raise InvalidRequest(
                "agent_name must be 1-50 letters, digits, spaces, '-' or '_'", param="agent_name"
            )
        return await self._updated(user, agent_id, name=name)

    async def _updated(self, user: User, agent_id: str, **changes: Any) -> Agent:
        agent = await self._store.agents.update(user.id, agent_id, **changes)
        if agent is None:
            raise NotFound(f"Agent agent_id={agent_id} not found.")
        return agent

    async def delete(self, user: User, agent_id: str) -> None:
        """Delete the agent with its messages and passages (a running turn then fails)."""
        agent = await self.get(user, agent_id)
        if not await self._store.agents.delete(user.id, agent_id):
            raise NotFound(f"Agent agent_id={agent_id} not found.")
        lock = self._locks.get(agent.key)
        if lock is not None and not lock.locked():
            del self._locks[agent.key]

    def model_of(self, agent: Agent) -> str:
        return agent.model or self._settings.agents.model or self._settings.default_model

    def llm_config(self, agent: Agent) -> dict[str, Any]:
        name = self.model_of(agent)
        model = self._providers.settings_for(name)  # config.toml's or a pulled one
        window = None
        if model is not None:
            window = model.n_ctx if model.provider == "llamacpp" else model.context_window
        return {
            "model": name,
            "model_endpoint_type": model.provider if model is not None else None,
            "model_endpoint": model.base_url if model is not None else None,
            "model_wrapper": None,
            "context_window": window,
        }

    def embedding_config(self) -> dict[str, Any]:
        """What archival memory search really uses, in MemGPT's embedding_config shape:
        keyword search over passages of PASSAGE_CHARS characters, no vectors. Non-null
        throughout, since the 0.3.x client asserts type, dim and chunk size are set;
        a dim of 1 says "no vector" (and is the least value that client accepts)."""
        return {
            "embedding_endpoint_type": "keyword",
            "embedding_endpoint": None,
            "embedding_model": self._store.passages.search_method,
            "embedding_dim": 1,
            "embedding_chunk_size": PASSAGE_CHARS,
        }

    # --- memory -----------------------------------------------------------------------

    async def memory(self, user: User, agent_id: str) -> AgentView:
        agent = await self.get(user, agent_id)
        recall, archival = await self._store.agents.sizes(agent)
        return AgentView(agent, recall, archival)

    async def update_memory(
        self, user: User, agent_id: str, *, human: str | None, persona: str | None
    ) -> tuple[Agent, Agent]:
        """Replace the given core memory blocks (checked before anything changes)."""
        old = await self.get(user, agent_id)
        changes = {
            key: check_block(key, value)
            for key, value in (("human", human), ("persona", persona))
            if value is not None
        }
        new = await self._updated(user, agent_id, **changes) if changes else old
        return old, new

    async def archival(
        self, user: User, agent_id: str, *, after: str | None, before: str | None, limit: int
    ) -> builtins.list[Passage]:
        agent = await self.get(user, agent_id)
        found = await self._store.passages.list(
            agent, after=after, before=before, limit=min(max(limit, 0), MAX_ALL)
        )
        if found is None:
            raise NotFound("no archival memory with the id given in 'after' or 'before'")
        return found

    async def insert_archival(
        self, user: User, agent_id: str, content: str
    ) -> builtins.list[Passage]:
        agent = await self.get(user, agent_id)
        if not content.strip():
            raise InvalidRequest("content must not be empty", param="content")
        limit = self._settings.limits.max_message_chars
        if len(content) > limit:
            raise InvalidRequest(f"content is longer than {limit} characters", param="content")
        return await self._store.passages.insert(agent, split_passage(content))

    async def delete_archival(self, user: User, agent_id: str, passage_id: str) -> None:
        agent = await self.get(user, agent_id)
        if not await self._store.passages.delete(agent, passage_id):
            raise NotFound(f"Memory id={passage_id} not found.")

    # --- messages ---------------------------------------------------------------------

    async def messages(
        self,
        user: User,
        agent_id: str,
        *,
        start: int = 0,
        count: int = 10,
        before: str | None = None,
    ) -> tuple[Agent, builtins.list[AgentMessage]]:
        """Messages newest first: from index `start`, or before the message `before`."""
        agent = await self.get(user, agent_id)
        found = await self._store.messages.newest(
            agent, limit=min(max(count, 0), MAX_PAGE), offset=max(start, 0), before=before
        )
        if found is None:
            raise NotFound(f"no message '{before}' in this agent's history")
        return agent, found

    def _check(self, text: str) -> str:
        if not text.strip():
            raise InvalidRequest("message must not be empty", param="message")
        limit = self._settings.limits.max_message_chars
        if len(text) > limit:
            raise InvalidRequest(f"message is longer than {limit} characters", param="message")
        return text

    async def send(
        self,
        user: User,
        agent_id: str,
        text: str,
        *,
        role: str = "user",
        timestamp: datetime | None = None,
        wait: bool = True,
    ) -> AgentTurn:
        """Store the message and start the agent on it in the background."""
        self._check(text)
        agent = await self.get(user, agent_id)
        lock = self._lock_for(agent)
        waited = lock.locked()
        if waited and not wait:
            raise AgentBusy(f"agent {agent_id} is answering another message", retry=False)
        deadline = time.monotonic() + self._settings.agents.queue_timeout
        try:
            await asyncio.wait_for(lock.acquire(), self._settings.agents.queue_timeout)
        except TimeoutError:
            raise AgentBusy(
                f"agent {agent_id} is still answering another message; try again later",
                retry=True,
            ) from None
        lease: Lease | None = None
        try:
            if self._leases is not None:  # one turn per agent across replicas too
                lease = await self._agent_lease(agent, wait=wait, deadline=deadline)
                waited = True  # its last turn may have run on another replica
            if waited:  # the agent may have changed (or gone) while we waited
                agent = await self.get(user, agent_id)
            model, provider = self._providers.get(self.model_of(agent))
            now = utcnow()
            when = timestamp or now
            packed = (
                packing.system_alert(text, when)
                if role == "system"
                else packing.user_message(text, when)
            )
            message = NewAgentMessage("user", packed, new_uuid())
            await self._store.messages.append(agent, [message], ran_at=now)
        except BaseException:
            if lease is not None:
                lease.release_soon()
            lock.release()
            raise
        turn = AgentTurn(agent)
        options = merge_options(GenerationOptions(), self._providers.settings_for(model))
        task = asyncio.create_task(self._run(turn, model, provider, options, lock, lease))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return turn

    async def resume_interrupted(self) -> int:
        """Answer the messages a stopped server left unanswered (agents/recovery.py): at
        start, and with replicas, whenever another replica's turn is found cut."""
        return await self._recovery.at_start()

    def _lock_for(self, agent: Agent) -> asyncio.Lock:
        return self._locks.setdefault(agent.key, asyncio.Lock())

    async def _rerun(self, agent: Agent, lock: asyncio.Lock, lease: Lease | None) -> bool:
        """Run the agent's newest message again in the background, holding `lock` and
        `lease` (released when it ends); False when the agent's model is gone."""
        try:
            model, provider = self._providers.get(self.model_of(agent))
        except RoostError as exc:  # its model is no longer configured
            log.warning("agent %s: cannot answer its last message: %s", agent.id, exc)
            return False
        options = merge_options(GenerationOptions(), self._providers.settings_for(model))
        turn = self._run(AgentTurn(agent), model, provider, options, lock, lease)
        task = asyncio.create_task(_report_rerun(agent, turn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(
        self,
        turn: AgentTurn,
        model: str,
        provider: Any,
        options: GenerationOptions,
        lock: asyncio.Lock,
        lease: Lease | None,
    ) -> AgentDone | AgentFailed:
        put = turn._queue.put_nowait
        requester.current.set(turn.agent.user_id)  # recovered turns have no request
        started = time.perf_counter()
        try:
            live = LiveAgent(self._store, turn.agent)
            final: AgentDone | AgentFailed = await self._loop.run(
                live, model, provider, options, put
            )
        except asyncio.CancelledError:
            final = AgentFailed("cancelled", "the server is shutting down")
            if lease is not None:  # left to expire: a replica answers the message later
                lease.abandon()
        except Exception as exc:  # a bug must still end the stream with an error
            log.exception("agent turn failed for agent %s", turn.agent.id)
            final = AgentFailed("internal_error", f"internal error: {type(exc).__name__}")
        finally:
            if lease is not None:
                lease.release_soon()  # serialised with this process's next take of it
            lock.release()
        if self._metrics is not None:
            ended = "done" if isinstance(final, AgentDone) else final.code
            ended = ended if ended in ("done", "cancelled") else "failed"
            self._metrics.turn(model, ended, time.perf_counter() - started)
        put(final)
        put(_END)
        return final

    async def _agent_lease(self, agent: Agent, *, wait: bool, deadline: float) -> Lease:
        """The agent's lease: at once (`wait=False`), or within the queue timeout."""
        assert self._leases is not None
        name = f"agent:{agent.key}"
        if not wait:
            lease = await self._leases.try_acquire(name)
            if lease is None:
                raise AgentBusy(f"agent {agent.id} is answering another message", retry=False)
            return lease
        try:
            return await self._leases.acquire(name, within=max(deadline - time.monotonic(), 0))
        except TimeoutError:
            raise AgentBusy(
                f"agent {agent.id} is still answering another message; try again later",
                retry=True,
            ) from None

    async def drain(self, seconds: float) -> None:
        """Let running turns finish before shutdown; cancel what is left."""
        await self._recovery.close()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(pending, timeout=5)


async def _report_rerun(agent: Agent, turn: Awaitable[AgentDone | AgentFailed]) -> None:
    """Run a message left unanswered again and log how it went: answered, or why not."""
    final = await turn
    if isinstance(final, AgentFailed) and final.code == "cancelled":
        log.info("agent %s: stopped again by the shutdown; tried again at the next start", agent.id)
    elif isinstance(final, AgentFailed):
        log.warning(
            "agent %s: its message left unanswered failed again (%s: %s); it is tried again "
            "at the next start, or the user can send it again",
            agent.id,
            final.code,
            final.message,
        )
    else:
        log.info("agent %s: its message left unanswered is answered now", agent.id)
