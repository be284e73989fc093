"""A real MemoryService over a real SQLite index, and a tool context for its default user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from roost.config import Settings, ToolSettings
from roost.core.records import User
from roost.services.memory import MemoryService
from roost.services.tools.base import Tool, ToolContext, ToolError
from roost.storage import Database, UserRepository
from roost.storage.memory import MemoryIndexRepository
from tests import backend


@dataclass
class Env:
    memory: MemoryService
    user: User
    context: ToolContext

    @property
    def root(self) -> Path:
        return self.context.workspace.root

    def with_settings(self, **changes: Any) -> ToolContext:
        settings = self.context.settings.model_copy(update=changes)
        return replace(self.context, settings=settings)


@pytest.fixture
async def env(settings: Settings, tmp_path: Path) -> AsyncIterator[Env]:
    settings.memory.watch = False  # the tools index their own writes
    database = Database(backend.database_url(tmp_path))
    await database.connect()
    user = await UserRepository(database).ensure_default()
    memory = MemoryService(settings, MemoryIndexRepository(database))
    await memory.start(user)
    context = ToolContext(user, memory.workspace_for(user), memory, ToolSettings())
    try:
        yield Env(memory, user, context)
    finally:
        await memory.close()
        await database.close()


async def refused(tool: Tool, context: ToolContext, **arguments: Any) -> str:
    """The message of the ToolError the call raises (what the model is told)."""
    with pytest.raises(ToolError) as caught:
        await tool.run(context, arguments)
    return caught.value.message
