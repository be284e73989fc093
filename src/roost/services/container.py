"""Wires storage and providers into the services; the one place that builds them."""

from __future__ import annotations

from dataclasses import dataclass

from roost.config import (  # re-exported: the app and the CLI find them here
    Settings,
    admin_password_from_env,
    generate_admin_password,
)
from roost.providers.registry import ProviderRegistry
from roost.services.auth import AuthService
from roost.services.completions import CompletionService
from roost.services.consumers import ConsumerService
from roost.services.conversations import ConversationService
from roost.services.dialogue import DialogueService
from roost.services.memory import MemoryService
from roost.services.models import ModelService
from roost.services.roles import RoleService
from roost.services.status import StatusService
from roost.services.transcription import TranscriptionService
from roost.services.turns import TurnService
from roost.services.users import UserService
from roost.storage.conversations import ConversationRepository
from roost.storage.db import Database
from roost.storage.keys import KeyRepository
from roost.storage.memory import MemoryIndexRepository
from roost.storage.messages import MessageRepository
from roost.storage.roles import RoleRepository
from roost.storage.users import UserRepository

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
    consumers: ConsumerService
    dialogue: DialogueService
    transcription: TranscriptionService

    async def close(self, drain_seconds: float = 30.0) -> None:
        await self.turns.drain(drain_seconds)
        await self.transcription.close()
        await self.memory.close()
        await self.providers.close()
        await self.database.close()


async def build_services(
    settings: Settings,
    *,
    admin_password: str,
    providers: ProviderRegistry | None = None,
) -> Services:
    """Open the database (migrating it), ensure the default user, build the services."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # private by default
    database = Database(settings.db_url)
    await database.connect()
    try:
        users = UserRepository(database)
        keys = KeyRepository(database)
        messages = MessageRepository(database)
        default_user = await users.ensure_default()
        registry = providers or ProviderRegistry(settings)
        conversations = ConversationService(ConversationRepository(database), messages, registry)
        memory = MemoryService(settings, MemoryIndexRepository(database))
        turns = TurnService(settings, registry, conversations, messages, memory)
        auth = AuthService(
            keys,
            default_user,
            admin_password,
            required=settings.auth.required,
            marker=settings.home / "keys-changed",
        )
        roles = RoleService(RoleRepository(database))
        return Services(
            settings=settings,
            database=database,
            providers=registry,
            auth=auth,
            users=UserService(users, keys, on_revoke=auth.forget),
            conversations=conversations,
            turns=turns,
            status=StatusService(registry.default, memory.status),
            roles=roles,
            models=ModelService(registry),
            completions=CompletionService(settings, registry, turns, roles, memory),
            memory=memory,
            consumers=ConsumerService(
                settings.home,
                users,
                keys,
                is_admin_password=auth.is_admin_password,
                on_change=auth.forget,
            ),
            dialogue=DialogueService(turns, conversations, registry),
            transcription=TranscriptionService(settings),
        )
    except BaseException:
        await database.close()
        raise
