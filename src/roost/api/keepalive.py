"""`keep_alive` in request bodies (native /api/chat, /v1/chat/completions), as Ollama's.

Validated into seconds (core/keepalive.py: 0 unloads the model after the request, a
negative value never), so a bad one is the dialect's 400 before anything runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from roost.core import keepalive

DESCRIPTION = (
    "Local models: how long the model stays loaded once idle after this request, as "
    'Ollama\'s keep_alive: a duration ("5m", "30s", "1h") or seconds; 0 unloads it when '
    "the reply is done, a negative value keeps it loaded; at most a year. Unset: the "
    "model's keep_alive"
)


def _seconds(value: Any) -> Any:
    return None if value is None else keepalive.parse(value)


KeepAlive = Annotated[
    Annotated[str, Field(max_length=keepalive.MAX_CHARS)] | float | None,
    BeforeValidator(_seconds),
    Field(description=DESCRIPTION),
]


def seconds(value: str | float | None) -> float | None:
    """The validated field's seconds (it holds a float once validated; typed as sent)."""
    return _seconds(value) if isinstance(value, str) else value
