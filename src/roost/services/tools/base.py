"""What a tool is: a described function the model may call, run for one user.

A tool's `run` gets the call's arguments (already parsed JSON, not yet validated: check
them) and a context with the caller's workspace. It returns the text the model sees, or
raises ToolError with a message that is reported to the model as the result — a refused
path or a failed command is information for the model, not a failed turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from roost.config import ToolSettings
from roost.core.records import User
from roost.providers.base import ToolSpec
from roost.services.memory.workspace import Workspace

if TYPE_CHECKING:
    from roost.services.memory import MemoryService


class ToolError(Exception):
    """A failure the model is told about (bad arguments, refused path, command failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ToolContext:
    user: User
    workspace: Workspace
    memory: MemoryService
    settings: ToolSettings


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec:
        """Name, description and JSON-schema parameters, as the model sees them."""
        ...

    @property
    def dangerous(self) -> bool:
        """True when the call changes files or reaches outside (approval mode "dangerous")."""
        ...

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str: ...


def clip(text: str, limit: int) -> str:
    """Cut long output for the model, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters cut]"
