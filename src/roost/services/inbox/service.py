"""chat.nvim's inbox: queue a message for a session and walk away; it is answered in order."""

from __future__ import annotations

from roost.config import Settings
from roost.core.errors import Conflict, InvalidRequest, NotFound
from roost.core.records import InboxItem, User
from roost.services.conversations import MAX_PUBLIC_ID, ConversationService
from roost.services.inbox.worker import InboxWorker
from roost.storage.inbox import DELIVERING, FAILED, OPEN, QUEUED, InboxRepository

MAX_LIST = 1000


class InboxService:
    def __init__(
        self,
        settings: Settings,
        conversations: ConversationService,
        repo: InboxRepository,
        worker: InboxWorker,
    ) -> None:
        self._settings = settings
        self._conversations = conversations
        self._repo = repo
        self._worker = worker

    async def post(self, user: User, session_id: str, content: str) -> InboxItem:
        """Store the message durably and wake the worker; the session is created if new."""
        if not session_id or len(session_id) > MAX_PUBLIC_ID:
            raise InvalidRequest(f"session must be 1-{MAX_PUBLIC_ID} characters", "session")
        if not content.strip():
            raise InvalidRequest("content must not be empty", "content")
        limit = self._settings.limits.max_message_chars
        if len(content) > limit:
            raise InvalidRequest(f"content is longer than {limit} characters", "content")
        conversation = await self._conversations.get_or_create(user, session_id)
        item = await self._repo.add(
            user.id,
            conversation.id,
            conversation.public_id,
            content,
            max_open=self._settings.queue.max_pending,
        )
        self._worker.wake()
        return item

    async def queue(
        self, user: User, *, session_id: str | None = None, limit: int = 100
    ) -> list[InboxItem]:
        """The user's pending (queued or being delivered) and failed messages, oldest first."""
        conversation_id = None
        if session_id is not None:
            conversation_id = (await self._conversations.get(user, session_id)).id
        return await self._repo.list(
            user.id,
            states=(*OPEN, FAILED),
            conversation_id=conversation_id,
            limit=min(max(limit, 1), MAX_LIST),
        )

    async def pending(self, user: User, conversation_id: int, *, limit: int) -> list[InboxItem]:
        """Messages of one conversation that are not answered yet."""
        return await self._repo.list(
            user.id, states=OPEN, conversation_id=conversation_id, limit=limit
        )

    async def cancel(self, user: User, item_id: int) -> None:
        """Take a pending message out of the queue (or dismiss a failed one)."""
        state = await self._repo.delete(user.id, item_id, states=(QUEUED, FAILED))
        if state is None or state not in (QUEUED, FAILED, DELIVERING):
            raise NotFound(f"queued message {item_id} not found")
        if state == DELIVERING:
            raise Conflict(f"message {item_id} is being answered now and cannot be removed")

    async def depth(self) -> dict[str, int]:
        """Unanswered messages of every user, by state (queued, delivering)."""
        return await self._repo.count_open()

    async def start(self) -> None:
        await self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def close(self) -> None:
        await self._worker.close()
