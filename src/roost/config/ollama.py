"""The `[ollama]` section: Ollama's API at the root of a listener of its own (off by
default; it is always under /ollama on the main port), and whether it asks for a key."""

from __future__ import annotations

from pydantic import Field

from roost.config.section import _Section


class OllamaSettings(_Section):
    port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Also serve Ollama's API at the root of this port (11434 is Ollama's "
        "own), for clients that assume Ollama's address (0: no such listener; it is always "
        "under /ollama on the main port)",
    )
    bind: str = Field("127.0.0.1", description="Address of the [ollama] listener")
    auth: bool = Field(
        True,
        description="Ask Ollama clients for a roost key (Authorization: Bearer). false: "
        "requests from this machine without a key act as the default user; only allowed "
        "when the main and [ollama] binds are loopback",
    )
