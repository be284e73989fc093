"""Which tools a turn may use, whether a call needs approval, and the context they run in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from roost.config import Settings, ToolName
from roost.core.records import User
from roost.services.tools.base import Tool, ToolContext

if TYPE_CHECKING:
    from roost.services.memory import MemoryService


class ToolRegistry:
    def __init__(
        self, settings: Settings, tools: Mapping[str, Tool], memory: MemoryService
    ) -> None:
        self._settings = settings
        self._tools = dict(tools)
        self._memory = memory

    def install(self, name: str, tool: Tool) -> None:
        """Add or replace a tool under a name (tests install their own)."""
        self._tools[name] = tool

    def _switched_on(self, name: str) -> bool:
        # bash and web_fetch reach outside the workspace: only with their own switch on.
        tools = self._settings.tools
        return {"bash": tools.bash, "web_fetch": tools.web_fetch}.get(name, True)

    def for_model(self, model: str) -> list[Tool]:
        """The tools a model may call: its own `tools` list, else `[tools] enabled` plus
        bash and web_fetch when switched on."""
        configured = self._settings.models.get(model)
        names: list[ToolName]
        if configured is not None and configured.tools is not None:
            names = list(configured.tools)
        else:
            names = list(self._settings.tools.enabled)
            names += [n for n in ("bash", "web_fetch") if n not in names]
        return [
            self._tools[name]
            for name in dict.fromkeys(names)
            if name in self._tools and self._switched_on(name)
        ]

    def needs_approval(self, tool: Tool) -> bool:
        mode = self._settings.tools.approval
        return mode == "always" or (mode == "dangerous" and tool.dangerous)

    def context_for(self, user: User) -> ToolContext:
        return ToolContext(
            user=user,
            workspace=self._memory.workspace_for(user),
            memory=self._memory,
            settings=self._settings.tools,
        )
