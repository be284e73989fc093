"""What chat.nvim's session preview shows: the conversation, its settings and its queue."""

from __future__ import annotations

from dataclasses import dataclass

from roost.config import Settings
from roost.core.records import Conversation, InboxItem, Message, TokenUsage, User
from roost.providers.registry import ProviderRegistry
from roost.services.conversations import ConversationService
from roost.services.inbox.service import InboxService
from roost.services.memory import MemoryService

MAX_MESSAGES = 2000  # the newest; a longer conversation says how many are left out
MAX_PENDING = 1000


@dataclass(frozen=True, slots=True)
class SessionPreview:
    conversation: Conversation
    provider: str
    model: str
    workspace: str
    system_prompt: str
    messages: list[Message]
    hidden: int  # older messages not shown
    pending: list[InboxItem]
    usage: TokenUsage  # over the messages shown


class PreviewService:
    def __init__(
        self,
        settings: Settings,
        conversations: ConversationService,
        inbox: InboxService,
        providers: ProviderRegistry,
        memory: MemoryService,
    ) -> None:
        self._settings = settings
        self._conversations = conversations
        self._inbox = inbox
        self._providers = providers
        self._memory = memory

    async def preview(self, user: User, session_id: str) -> SessionPreview:
        conversation, messages = await self._conversations.with_messages(
            user, session_id, limit=MAX_MESSAGES
        )
        pending = await self._inbox.pending(user, conversation.id, limit=MAX_PENDING)
        model = conversation.model or self._providers.default
        configured = self._providers.settings_for(model)
        prompt, completion = 0, 0
        for message in messages:
            if message.usage is not None:
                prompt += message.usage.prompt
                completion += message.usage.completion
        return SessionPreview(
            conversation=conversation,
            provider=configured.provider if configured is not None else "custom",
            model=model,
            workspace=str(self._memory.workspace_for(user).root),
            system_prompt=conversation.system_prompt or self._settings.chat.system_prompt,
            messages=messages,
            hidden=max(conversation.message_count - len(messages), 0),
            pending=pending,
            usage=TokenUsage(prompt, completion),
        )
