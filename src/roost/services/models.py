"""The configured models, as `/v1/models` and `GET /api/models` list them."""

from __future__ import annotations

import builtins
import logging
import time
from dataclasses import dataclass

from roost.core.errors import ModelNotFound
from roost.providers.base import RuntimeStatus, Supervised
from roost.providers.registry import ProviderRegistry
from roost.services.loaded import rfc3339
from roost.services.status import ModelStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    provider: str  # llamacpp | openai | anthropic | (tests) scripted
    upstream: str | None  # the remote model name, when there is one
    context_window: int | None
    is_default: bool
    created: int  # when this server started: config has no other date for a model
    # Models in a process roost runs (llama.cpp): idle | loading | ready | restarting |
    # unavailable, how many times it was restarted, and why it last died. None elsewhere.
    state: str | None = None
    restarts: int = 0
    error: str | None = None
    # Pulled into the model store (POST /api/models/pull, `roost pull`): its bytes on disk
    # and quantization. A model only config.toml names is not pulled.
    pulled: bool = False
    size: int | None = None
    quantization: str | None = None


class ModelService:
    def __init__(self, providers: ProviderRegistry) -> None:
        self._providers = providers
        self._created = int(time.time())

    def _info(self, name: str) -> ModelInfo:
        settings = self._providers.settings_for(name)
        if settings is None:  # installed directly (tests)
            return ModelInfo(name, "scripted", None, None, name == self._providers.default, 0)
        window = settings.context_window if settings.provider != "llamacpp" else settings.n_ctx
        state, restarts, error = self._runtime(name, settings.provider)
        stored = self._providers.catalog.stored(name)
        return ModelInfo(
            name=name,
            provider=settings.provider,
            upstream=settings.model,
            context_window=window,
            is_default=name == self._providers.default,
            created=self._created,
            state=state,
            restarts=restarts,
            error=error,
            pulled=stored is not None,
            size=stored.size if stored is not None else None,
            quantization=stored.quantization if stored is not None else None,
        )

    def _runtime(self, name: str, kind: str) -> tuple[str | None, int, str | None]:
        provider = self._providers.peek(name)
        if isinstance(provider, Supervised):
            status = provider.status()
            return status.state, status.restarts, status.last_error
        return ("idle" if kind == "llamacpp" else None), 0, None

    def list(self) -> list[ModelInfo]:
        return [self._info(name) for name in self._providers.names()]

    def runtimes(self) -> builtins.list[ModelStatus]:
        """The models that run in a process of roost's, for GET /api/status."""
        found: builtins.list[ModelStatus] = []
        for info in self.list():
            if info.state is None:
                continue
            provider = self._providers.peek(info.name)
            expires: float | None = None
            if isinstance(provider, Supervised):
                now = provider.status()
                slots, busy, queued = now.slots, now.slots_busy, now.queued
                expires = now.expires_at
            else:  # not started yet: its configured slots, all free
                settings = self._providers.settings_for(info.name)
                slots, busy, queued = (settings.parallel if settings else 0), 0, 0
            found.append(
                ModelStatus(
                    info.name,
                    info.state,
                    info.restarts,
                    info.error,
                    slots,
                    busy,
                    queued,
                    rfc3339(expires),
                )
            )
        return found

    def supervised(self) -> builtins.list[tuple[str, RuntimeStatus]]:
        """The status of each loaded model in a process of roost's (for /metrics): read,
        not waited for, so a model that was never used is not started by a scrape."""
        found: builtins.list[tuple[str, RuntimeStatus]] = []
        for name in self._providers.names():
            provider = self._providers.peek(name)
            if not isinstance(provider, Supervised):
                continue
            try:
                found.append((name, provider.status()))
            except Exception:  # one model's broken status must not hide the others
                log.warning("could not read the status of model %s", name, exc_info=True)
        return found

    def get(self, name: str) -> ModelInfo:
        if name not in self._providers.names():
            raise ModelNotFound(f"The model '{name}' does not exist")
        return self._info(name)
