"""Wires storage and providers into the services; the one place that builds them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from roost.config import (  # re-exported: the app and the CLI find them here
    Settings,
    admin_password_from_env,
    generate_admin_password,
)
from roost.core.errors import ConfigError, ModelNotFound, Unavailable
from roost.core.metrics import Metrics
from roost.providers.base import EmbeddingProvider
from roost.providers.fetch import WebFetcher
from roost.providers.registry import ProviderRegistry
from roost.services.agents import AgentService
from roost.services.agents.store import AgentStore
from roost.services.approvals import ApprovalService
from roost.services.auth import AuthService
from roost.services.completions import CompletionService
from roost.services.consumers import ConsumerService
from roost.services.conversations import ConversationService
from roost.services.dialogue import DialogueService
from roost.services.heartbeat import HeartbeatService
from roost.services.inbox import InboxService, InboxWorker, PreviewService
from roost.services.leases import LeaseService
from roost.services.loaded import LoadedModels
from roost.services.memory import MemoryService
from roost.services.memory.vectors import VectorIndex
from roost.services.models import ModelService
from roost.services.pulls import PullService
from roost.services.responses import ResponseService
from roost.services.roles import RoleService
from roost.services.status import StatusService
from roost.services.streams import StreamService
from roost.services.threads import Threads
from roost.services.tool_loop import ToolLoop
from roost.services.tools.builtin import builtin_tools
from roost.services.tools.registry import ToolRegistry
from roost.services.transcription import TranscriptionService
from roost.services.turns import TurnService
from roost.services.users import UserService
from roost.storage.approvals import ApprovalRepository
from roost.storage.conversations import ConversationRepository
from roost.storage.db import Database
from roost.storage.inbox import InboxRepository
from roost.storage.keys import KeyRepository
from roost.storage.leases import LeaseRepository
from roost.storage.memory import MemoryIndexRepository
from roost.storage.memory_vectors import MemoryVectorRepository
from roost.storage.memory_vectors_pg import PgMemoryVectorRepository
from roost.storage.message_search import MessageSearch
from roost.storage.messages import MessageRepository
from roost.storage.notify import notifier_for
from roost.storage.responses import ResponseRepository
from roost.storage.roles import RoleRepository
from roost.storage.streams import StreamRepository
from roost.storage.threads import ThreadRepository
from roost.storage.users import UserRepository

log = logging.getLogger(__name__)

__all__ = ["Services", "admin_password_from_env", "build_services", "generate_admin_password"]


@dataclass
class Services:
    settings: Settings
    database: Database
    providers: ProviderRegistry
    auth: AuthService
    users: UserService
    conversations: ConversationService
    turns: TurnService
    status: StatusService
    roles: RoleService
    models: ModelService
    completions: CompletionService
    memory: MemoryService
    approvals: ApprovalService
    tools: ToolRegistry
    agents: AgentService
    inbox: InboxService
    preview: PreviewService
    heartbeat: HeartbeatService
    consumers: ConsumerService
    dialogue: DialogueService
    transcription: TranscriptionService
    streams: StreamService
    leases: LeaseService
    pulls: PullService
    loaded: LoadedModels
    responses: ResponseService
    metrics: Metrics | None = None

    async def close(self, drain_seconds: float = 30.0) -> None:
        await self.heartbeat.close()
        await self.pulls.close()  # their children stop; the partial files stay
        await self.inbox.stop()  # no new deliveries while the running turns drain
        await self.turns.drain(drain_seconds)
        await self.agents.drain(drain_seconds)
        await self.streams.close()  # their last events reach the database
        await self.inbox.close()
        await self.leases.close()
        await self.transcription.close()
        await self.memory.close()
        await self.providers.close()
        await self.database.close()


def vector_store(database: Database) -> MemoryVectorRepository | PgMemoryVectorRepository:
    """Vector search for the database: sqlite-vec on SQLite, brute force on PostgreSQL."""
    if database.dialect == "postgresql":
        return PgMemoryVectorRepository(database)
    return MemoryVectorRepository(database)


def memory_vectors(
    settings: Settings,
    registry: ProviderRegistry,
    store: MemoryVectorRepository | PgMemoryVectorRepository,
) -> VectorIndex | None:
    """The vector side of hybrid memory search, when `[memory] embedding_model` names one."""
    name = settings.memory.embedding_model
    if not name:
        return None
    where = f"[memory] embedding_model in {settings.config_path}"
    try:
        _, provider = registry.get(name)
    except ModelNotFound:
        raise ConfigError(f"{where}: no model named '{name}' is configured") from None
    except Unavailable as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    if not isinstance(provider, EmbeddingProvider):
        raise ConfigError(f"{where}: model '{name}' cannot make embeddings")
    if not store.available:
        log.warning(
            "memory search is keyword-only: vector search on SQLite needs the sqlite-vec "
            "extension, which could not be loaded"
        )
        return None
    model = settings.models.get(name)
    upstream = (model.model or model.path or "") if model is not None else ""
    return VectorIndex(store, provider, f"{name}:{upstream}")


def watch(metrics: Metrics, models: ModelService, inbox: InboxService) -> None:
    """What /metrics reads when scraped: the model runners, the inbox's depth."""
    metrics.watch_runtimes(models.supervised)

    async def inbox_depth() -> None:
        metrics.set_inbox_depth(await inbox.depth())

    metrics.before_scrape("inbox", inbox_depth)


async def build_services(
    settings: Settings,
    *,
    admin_password: str,
    providers: ProviderRegistry | None = None,
    replica: str | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """Open the database (migrating it), ensure the default user, build the services.

    `replica`: the server's stable identity among replicas (host:port), see LeaseService.
    `metrics`: what the services record and /metrics reports (None: nothing is counted).
    """
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # private by default
    database = Database(
        settings.db_url,
        busy_timeout=settings.database_busy_timeout,
        on_error=metrics.database_error if metrics is not None else None,
    )
    await database.connect()
    try:
        users = UserRepository(database)
        keys = KeyRepository(database)
        messages = MessageRepository(database)
        default_user = await users.ensure_default()
        registry = providers or ProviderRegistry(settings)
        for reason in registry.problems().values():
            log.warning("%s (requests naming it get 503; the other models are served)", reason)
        conversations = ConversationService(
            ConversationRepository(database), messages, registry, search=MessageSearch(database)
        )
        vectors = memory_vectors(settings, registry, vector_store(database))
        memory = MemoryService(settings, MemoryIndexRepository(database), vectors=vectors)
        approvals = ApprovalService(settings.tools.approval_timeout, ApprovalRepository(database))
        tools = ToolRegistry(settings, builtin_tools(WebFetcher()), memory)
        loop = ToolLoop(tools, approvals, settings.tools, metrics)
        streams = StreamService(
            settings, StreamRepository(database), notifier_for(database, settings.db_url)
        )
        leases = LeaseService(
            LeaseRepository(database), settings.queue.lease_seconds, replica=replica
        )
        turns = TurnService(
            settings,
            registry,
            conversations,
            messages,
            memory,
            tools=tools,
            loop=loop,
            streams=streams,
            leases=leases,
            metrics=metrics,
        )
        auth = AuthService(
            keys,
            default_user,
            admin_password,
            required=settings.auth.required,
            marker=settings.home / "keys-changed",
            failures_per_minute=settings.limits.failed_auths_per_minute,
        )
        roles = RoleService(RoleRepository(database))
        inbox_repo = InboxRepository(database)
        worker = InboxWorker(
            settings.queue,
            inbox_repo,
            messages,
            users,
            turns,
            holder=leases.holder,
            metrics=metrics,
        )
        inbox = InboxService(settings, conversations, inbox_repo, worker)
        user_service = UserService(users, keys, on_revoke=auth.forget)
        heartbeat = HeartbeatService(settings, turns, memory, user_service, leases=leases)
        models = ModelService(registry)
        if metrics is not None:
            watch(metrics, models, inbox)
        completions = CompletionService(
            settings,
            registry,
            turns,
            roles,
            memory,
            metrics,
            threads=Threads(ThreadRepository(database), conversations),
        )
        return Services(
            settings=settings,
            database=database,
            providers=registry,
            auth=auth,
            users=user_service,
            conversations=conversations,
            turns=turns,
            status=StatusService(
                registry.default,
                memory.status,
                memory.search_mode,
                heartbeat=heartbeat.status,
                models=models.runtimes,
            ),
            roles=roles,
            models=models,
            completions=completions,
            memory=memory,
            approvals=approvals,
            tools=tools,
            agents=AgentService(
                settings, registry, AgentStore.on(database), leases=leases, metrics=metrics
            ),
            inbox=inbox,
            preview=PreviewService(settings, conversations, inbox, registry, memory),
            heartbeat=heartbeat,
            consumers=ConsumerService(
                settings.home,
                users,
                keys,
                is_admin_password=auth.is_admin_password,
                on_change=auth.forget,
            ),
            dialogue=DialogueService(turns, conversations, registry, metrics),
            transcription=TranscriptionService(settings),
            streams=streams,
            leases=leases,
            pulls=PullService(registry),
            loaded=LoadedModels(registry),
            responses=ResponseService(completions, conversations, ResponseRepository(database)),
            metrics=metrics,
        )
    except BaseException:
        await database.close()
        raise
