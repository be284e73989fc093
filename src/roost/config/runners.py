"""The `[runners]` section: how much memory local models may take, and how long an idle
one stays loaded."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from roost.config.section import _Section
from roost.core import keepalive, sizes


def check_keep_alive(value: Any) -> Any:
    """A keep_alive as given (`"5m"` stays `"5m"` in `roost config show`), once it parses."""
    if value is not None:
        keepalive.parse(value)
    return value


class RunnerSettings(_Section):
    memory_limit: int | str | None = Field(
        None,
        description="Memory local models may take together, in bytes or with a unit "
        '("8GiB", "512MB"); a model whose estimate does not fit first unloads idle models, '
        "then is refused with 503; unset: the machine's available memory plus what roost's "
        "loaded models use",
    )
    keep_alive: str | int | float = Field(
        "5m",
        description='How long an idle local model stays loaded: "5m", "1h", seconds; 0: '
        "unload after each request; -1: never ([models.NAME] keep_alive and a request's "
        "keep_alive override it)",
    )

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return None if value is None else sizes.parse(value)

    _keep_alive = field_validator("keep_alive", mode="before")(check_keep_alive)

    @property
    def memory_limit_bytes(self) -> int | None:
        return None if self.memory_limit is None else sizes.parse(self.memory_limit)

    @property
    def keep_alive_seconds(self) -> float:
        return keepalive.parse(self.keep_alive)
