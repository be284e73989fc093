"""Humans, personas, presets and tool registrations: the user's own, over roost's built-ins.

A user's item shadows a built-in of the same name. Built-ins cannot be deleted. Tool
registrations are stored and listed only: roost never runs submitted source code; an
agent's calls go to roost's own implementation of the MemGPT functions.
"""

from __future__ import annotations

import re
from typing import Any

from roost.core.agents import LibraryItem
from roost.core.errors import Conflict, InvalidRequest, NotFound
from roost.core.records import User
from roost.services.agents.defaults import builtin_items
from roost.storage.agent_library import LibraryRepository

KINDS = ("human", "persona", "preset", "tool")
MAX_ITEMS = 1000  # per user and kind
MAX_NAME = 100
MAX_TEXT = 20_000
_NAME = re.compile(r"^[^\x00-\x1f/]+$")


def check_name(name: str, kind: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise InvalidRequest(
            f"{kind} name must be 1-{MAX_NAME} characters without '/' or control characters",
            param="name",
        )
    return name


class LibraryService:
    def __init__(self, repo: LibraryRepository) -> None:
        self._repo = repo

    async def list(self, user: User, kind: str) -> list[LibraryItem]:
        own = await self._repo.list(user.id, kind, limit=MAX_ITEMS)
        names = {item.name for item in own}
        return [b for b in builtin_items(kind) if b.name not in names] + own

    async def find(self, user: User, kind: str, name: str) -> LibraryItem | None:
        own = await self._repo.get(user.id, kind, name)
        if own is not None:
            return own
        return next((b for b in builtin_items(kind) if b.name == name), None)

    async def get(self, user: User, kind: str, name: str) -> LibraryItem:
        item = await self.find(user, kind, name)
        if item is None:
            raise NotFound(f"{kind} '{name}' not found")
        return item

    async def put(
        self, user: User, kind: str, name: str, data: dict[str, Any], *, replace: bool
    ) -> LibraryItem:
        name = check_name(name, kind)
        if await self._repo.get(user.id, kind, name) is None:
            if not replace and any(b.name == name for b in builtin_items(kind)):
                raise Conflict(f"a {kind} named '{name}' already exists (built in)")
            if await self._repo.count(user.id, kind) >= MAX_ITEMS:
                raise InvalidRequest(f"a user may have at most {MAX_ITEMS} {kind}s")
        return await self._repo.put(user.id, kind, name, data, replace=replace)

    async def delete(self, user: User, kind: str, name_or_id: str) -> LibraryItem:
        deleted = await self._repo.delete(user.id, kind, name_or_id)
        if deleted is not None:
            return deleted
        if any(name_or_id in (b.name, b.id) for b in builtin_items(kind)):
            raise InvalidRequest(f"the built-in {kind} '{name_or_id}' cannot be deleted")
        raise NotFound(f"{kind} '{name_or_id}' not found")
