"""Conversations (the native API calls them sessions) and their messages."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from roost.core.errors import Conflict, InvalidRequest, NotFound
from roost.core.ids import new_uuid
from roost.core.records import Conversation, Message, MessageHit, User
from roost.providers.registry import ProviderRegistry
from roost.storage.conversations import ConversationRepository
from roost.storage.message_search import MessageSearch
from roost.storage.messages import MessageRepository

MAX_PUBLIC_ID = 200
MAX_TITLE = 500
DEFAULT_TITLE = "New Conversation"
STAMP_FORMAT = "%Y-%m-%d-%H-%M-%S"  # chat.nvim's session ids, in local time
_STAMP_TRIES = 100


def _local_now() -> datetime:
    return datetime.now().astimezone()


class ConversationService:
    def __init__(
        self,
        conversations: ConversationRepository,
        messages: MessageRepository,
        providers: ProviderRegistry,
        local_now: Callable[[], datetime] = _local_now,
        search: MessageSearch | None = None,
    ) -> None:
        self._search = search
        self._conversations = conversations
        self._messages = messages
        self._providers = providers
        self._local_now = local_now

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

    async def public_id_of(self, user_id: str, conversation_id: int) -> str | None:
        return await self._conversations.public_id_of(user_id, conversation_id)

    async def get(self, user: User, public_id: str) -> Conversation:
        found = await self._conversations.get(user.id, public_id)
        if found is None:
            raise NotFound(f"session '{public_id}' not found")
        return found

    async def get_or_create(self, user: User, public_id: str) -> Conversation:
        found = await self._conversations.get(user.id, public_id)
        if found is not None:
            return found
        try:
            return await self.create(user, public_id=public_id)
        except Conflict:  # a concurrent request created it first
            return await self.get(user, public_id)

    async def create_stamped(self, user: User) -> Conversation:
        """A new conversation named like chat.nvim's: `YYYY-MM-DD-HH-MM-SS` in local time,
        then `-2`, `-3`... when that second's id is taken."""
        stamp = self._local_now().strftime(STAMP_FORMAT)
        for n in range(1, _STAMP_TRIES + 1):
            try:
                return await self.create(user, public_id=stamp if n == 1 else f"{stamp}-{n}")
            except Conflict:
                continue
        raise Conflict(f"too many sessions created at {stamp}; try again in a second")

    async def public_ids(self, user: User, *, limit: int) -> list[str]:
        """The ids of the user's newest `limit` conversations, oldest first."""
        return await self._conversations.public_ids(user.id, limit=limit)

    async def with_messages(
        self, user: User, public_id: str, *, limit: int | None = None
    ) -> tuple[Conversation, list[Message]]:
        """The conversation and its messages (with `limit`, only the newest that many)."""
        conversation = await self.get(user, public_id)
        return conversation, await self._messages.list(user.id, conversation.id, limit=limit)

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

    async def search(self, user: User, query: str, limit: int) -> builtins.list[MessageHit]:
        """The user's messages that share words with `query`, each cut to a snippet."""
        if self._search is None:
            return []
        hits = await self._search.search(user.id, query, limit)
        words = [w.casefold() for w in _WORD.findall(query)]
        return [replace(hit, content=snippet(hit.content, words)) for hit in hits]


_WORD = re.compile(r"\w+")
SNIPPET_CHARS = 240


def snippet(content: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """A window of `content` around the first of `words` it contains, with ellipses."""
    if len(content) <= width:
        return content
    folded = content.casefold()
    found = [at for at in (folded.find(w) for w in words if w) if at >= 0]
    start = max(0, min(found, default=0) - width // 4)
    end = min(len(content), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + content[start:end] + ("…" if end < len(content) else "")
