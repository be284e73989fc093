"""The `[tools]` section: which tools models may call, approvals, and the bash sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, PrivateAttr

from roost.config.section import _Section

ToolName = Literal[
    "memory_search",
    "memory_get",
    "memory_write",
    "memory_append",
    "read_file",
    "write_file",
    "edit_file",
    "bash",
    "web_fetch",
]
BUILTIN_TOOLS: tuple[ToolName, ...] = get_args(ToolName)
DEFAULT_TOOLS: tuple[ToolName, ...] = BUILTIN_TOOLS[:7]  # bash and web_fetch: off until on


class ToolSettings(_Section):
    enabled: list[ToolName] = Field(
        default_factory=lambda: list(DEFAULT_TOOLS),
        description="Tools models may call (a model's own `tools` list overrides this)",
    )
    approval: Literal["never", "dangerous", "always"] = Field(
        "dangerous",
        description="Which calls wait for the user's yes: none, dangerous ones (bash, "
        "write_file, edit_file, web_fetch), or all",
    )
    approval_timeout: float = Field(
        120.0, gt=0, le=86_400, description="Seconds an approval waits before it is denied"
    )
    max_steps: int = Field(
        8, ge=1, le=64, description="Most model calls in one turn (each may call tools)"
    )
    bash: bool = Field(False, description="Allow the bash tool (runs in the workspace)")
    bash_timeout: float = Field(30.0, gt=0, le=3600, description="Seconds a bash call may run")
    bash_sandbox: Literal["bubblewrap", "none"] = Field(
        "bubblewrap",
        description="Where bash commands run: bubblewrap (a sandbox that sees only the "
        "workspace and read-only system folders; bash refuses to run without `bwrap`) or "
        "none (unconfined, as the server's user: an explicit opt-out)",
    )
    bash_network: bool = Field(
        False, description="bash commands may use the network (bubblewrap; none always may)"
    )
    output_chars: int = Field(
        16_000, ge=256, le=1_000_000, description="Longest tool output given to the model"
    )
    web_fetch: bool = Field(False, description="Allow the web_fetch tool")
    web_allow_private: bool = Field(
        False, description="web_fetch may reach private, loopback and link-local addresses"
    )
    web_timeout: float = Field(15.0, gt=0, le=300, description="Seconds a web_fetch may take")
    # Not a setting: Settings fills it in, so the bash sandbox can keep $ROOST_HOME hidden
    # even where the workspace contains it.
    _home: Path | None = PrivateAttr(None)

    @property
    def home(self) -> Path | None:
        """$ROOST_HOME (the database, secrets, keys) when known."""
        return self._home
