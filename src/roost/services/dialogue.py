"""Request-and-reply chat in stored conversations (LlamaChat): one message in, the
assistant's reply out, the whole history sent to the model each time (build_prompt drops
the oldest turns when it does not fit the window), and a title written by the model after
the first exchange.
"""

from __future__ import annotations

import builtins
import logging

from roost.core.errors import NotFound, RoostError, from_code
from roost.core.events import TurnFailed
from roost.core.ids import new_hex_id
from roost.core.metrics import Metrics
from roost.core.records import Conversation, Message, User
from roost.providers.registry import ProviderRegistry
from roost.services.conversations import DEFAULT_TITLE, ConversationService
from roost.services.titles import write_title
from roost.services.turns import TurnService

log = logging.getLogger(__name__)


class DialogueService:
    def __init__(
        self,
        turns: TurnService,
        conversations: ConversationService,
        providers: ProviderRegistry,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._turns = turns
        self._conversations = conversations
        self._providers = providers

    async def create(self, user: User) -> Conversation:
        return await self._conversations.create(user, public_id=new_hex_id())

    async def _get(self, user: User, public_id: str) -> Conversation:
        try:
            return await self._conversations.get(user, public_id)
        except NotFound:
            raise NotFound(f"conversation '{public_id[:100]}' not found") from None

    async def list(self, user: User, *, limit: int, offset: int) -> tuple[list[Conversation], int]:
        return await self._conversations.list(user, limit=limit, offset=offset)

    async def read(self, user: User, public_id: str) -> tuple[Conversation, builtins.list[Message]]:
        await self._get(user, public_id)
        return await self._conversations.with_messages(user, public_id)

    async def send(self, user: User, public_id: str, text: str) -> Message:
        """Store `text`, answer it, and return the stored reply. A model failure raises
        ProviderError (the failed turn is recorded, as every turn is)."""
        await self._get(user, public_id)
        handle = await self._turns.start(user, text, session_id=public_id)
        final = await handle.result()
        if isinstance(final, TurnFailed):
            raise from_code(final.code, final.message, final.retry_after)
        await self._title(user, public_id, handle.model)
        return final.message

    async def _title(self, user: User, public_id: str, model: str) -> None:
        """Title a conversation still called "New Conversation" from its first message."""
        try:
            conversation, messages = await self._conversations.with_messages(user, public_id)
            if conversation.title != DEFAULT_TITLE:
                return
            first = next((m.content for m in messages if m.role == "user"), None)
            if first is None:
                return
            _, provider = self._providers.get(model)
            title = await write_title(provider, first, self._metrics)
            await self._conversations.rename(user, public_id, title)
        except RoostError:  # the reply is saved and answered; a title is not worth failing
            log.warning("could not title conversation %s", public_id, exc_info=True)
