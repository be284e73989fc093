"""Conversations (the native API calls them sessions) and their messages."""

from __future__ import annotations

from roost.core.errors import InvalidRequest, NotFound
from roost.core.ids import new_uuid
from roost.core.records import Conversation, Message, User
from roost.providers.registry import ProviderRegistry
from roost.storage.conversations import ConversationRepository
from roost.storage.messages import MessageRepository

MAX_PUBLIC_ID = 200
MAX_TITLE = 500
DEFAULT_TITLE = "New Conversation"


class ConversationService:
    def __init__(
        self,
        conversations: ConversationRepository,
        messages: MessageRepository,
        providers: ProviderRegistry,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._providers = providers

    async def create(
        self,
        user: User,
        *,
        public_id: str | None = None,
        title: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> Conversation:
        public_id = public_id if public_id is not None else new_uuid()
        if not public_id or len(public_id) > MAX_PUBLIC_ID:
            raise InvalidRequest(f"session id must be 1-{MAX_PUBLIC_ID} characters")
        title = (title or DEFAULT_TITLE)[:MAX_TITLE]
        if model is not None:
            self._providers.get(model)  # an unknown model is NotFound before anything is stored
        return await self._conversations.create(
            user.id, public_id, title=title, model=model, system_prompt=system_prompt
        )

    async def get(self, user: User, public_id: str) -> Conversation:
        found = await self._conversations.get(user.id, public_id)
        if found is None:
            raise NotFound(f"session '{public_id}' not found")
        return found

    async def get_or_create(self, user: User, public_id: str) -> Conversation:
        found = await self._conversations.get(user.id, public_id)
        return found or await self.create(user, public_id=public_id)

    async def with_messages(self, user: User, public_id: str) -> tuple[Conversation, list[Message]]:
        conversation = await self.get(user, public_id)
        return conversation, await self._messages.list(user.id, conversation.id)

    async def list(
        self, user: User, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[Conversation], int]:
        """One page of the user's conversations, newest activity first, and how many exist."""
        page = await self._conversations.list(user.id, limit=limit, offset=offset)
        return page, await self._conversations.count(user.id)

    async def delete(self, user: User, public_id: str) -> None:
        if not await self._conversations.delete(user.id, public_id):
            raise NotFound(f"session '{public_id}' not found")

    async def rename(self, user: User, public_id: str, title: str) -> Conversation:
        title = title.strip()
        if not title or len(title) > MAX_TITLE:
            raise InvalidRequest(f"title must be 1-{MAX_TITLE} characters", param="title")
        renamed = await self._conversations.rename(user.id, public_id, title)
        if renamed is None:
            raise NotFound(f"session '{public_id}' not found")
        return renamed
