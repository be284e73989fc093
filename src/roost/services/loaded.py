"""The local models loaded now, as Ollama's `/api/ps` lists them (GET /api/ps).

Ollama's field names where it has them (name, model, size, digest, details, expires_at,
size_vram, context_length), so its dialect can render the same records; roost adds what
its runners know: the memory they hold now (rss), pid, state and slots. A model whose
runner is not started (or was unloaded) is not listed; remote models never are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from roost.core.clock import isoformat
from roost.core.errors import ModelNotFound
from roost.providers.base import RuntimeStatus, Supervised, Unloadable
from roost.providers.registry import ProviderRegistry
from roost.services.model_details import describe

log = logging.getLogger(__name__)

LOADED_STATES = ("loading", "ready", "restarting")


@dataclass(frozen=True, slots=True)
class LoadedModel:
    name: str
    model: str
    size: int  # bytes: the estimate it was admitted with (weights, KV cache, runtime)
    rss: int | None  # bytes its runner holds now (measured)
    expires_at: str | None  # RFC 3339: when it unloads if left idle; None: never
    pid: int | None
    state: str  # loading | ready | restarting
    slots: int
    slots_busy: int
    queued: int
    context_length: int  # tokens each slot holds (n_ctx)
    digest: str = ""  # a pulled model's GGUF SHA-256; "" for a config.toml file
    details: dict[str, Any] = field(default_factory=dict)
    size_vram: int = 0  # roost's runners use the CPU


def rfc3339(timestamp: float | None) -> str | None:
    """A unix time as RFC 3339 (None stays None: never)."""
    return None if timestamp is None else isoformat(datetime.fromtimestamp(timestamp, UTC))


class LoadedModels:
    def __init__(self, providers: ProviderRegistry) -> None:
        self._providers = providers

    def list(self) -> list[LoadedModel]:
        found: list[LoadedModel] = []
        for name in self._providers.names():
            provider = self._providers.peek(name)
            if not isinstance(provider, Supervised):
                continue
            status = provider.status()
            if status.state in LOADED_STATES:
                found.append(self._entry(name, status))
        return found

    async def stop(self, name: str) -> bool:
        """Unload `name` now, or once its requests are done (Ollama's `stop`); False when
        it was not loaded (a remote model never is)."""
        if name not in self._providers.names():
            raise ModelNotFound(f"The model '{name}' does not exist")
        provider = self._providers.peek(name)
        return isinstance(provider, Unloadable) and await provider.unload()

    def _entry(self, name: str, status: RuntimeStatus) -> LoadedModel:
        settings = self._providers.settings_for(name)
        digest, details = "", {}
        try:
            about = describe(self._providers, name)
            gguf = about.gguf
            details = {
                "parent_model": "",
                "format": "gguf",
                "family": gguf.get("architecture", ""),
                "families": [gguf["architecture"]] if gguf.get("architecture") else [],
                "parameter_size": gguf.get("parameters_text", ""),
                "quantization_level": gguf.get("quantization") or "",
            }
            if about.pulled is not None and about.pulled.files:
                digest = str(about.pulled.files[0]["sha256"])
        except Exception:  # a listing must not fail on one model's unreadable file
            log.warning("could not describe loaded model %s", name, exc_info=True)
        return LoadedModel(
            name=name,
            model=name,
            size=status.memory_bytes,
            rss=status.rss_bytes,
            expires_at=rfc3339(status.expires_at),
            pid=status.pid,
            state=status.state,
            slots=status.slots,
            slots_busy=status.slots_busy,
            queued=status.queued,
            context_length=settings.n_ctx if settings is not None else 0,
            digest=digest,
            details=details,
        )


@dataclass(frozen=True, slots=True)
class Stopped:
    """DELETE /api/ps/{name}'s body."""

    name: str
    unloaded: bool  # false: it was not loaded


@dataclass(frozen=True, slots=True)
class LoadedList:
    """GET /api/ps's body."""

    models: list[LoadedModel]
