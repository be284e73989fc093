"""The configured models, as `/v1/models` and `GET /api/models` list them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from roost.core.errors import ModelNotFound
from roost.providers.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    provider: str  # llamacpp | openai | anthropic | (tests) scripted
    upstream: str | None  # the remote model name, when there is one
    context_window: int | None
    is_default: bool
    created: int  # when this server started: config has no other date for a model


class ModelService:
    def __init__(self, providers: ProviderRegistry) -> None:
        self._providers = providers
        self._created = int(time.time())

    def _info(self, name: str) -> ModelInfo:
        settings = self._providers.settings_for(name)
        if settings is None:  # installed directly (tests)
            return ModelInfo(name, "scripted", None, None, name == self._providers.default, 0)
        window = settings.context_window if settings.provider != "llamacpp" else settings.n_ctx
        return ModelInfo(
            name=name,
            provider=settings.provider,
            upstream=settings.model,
            context_window=window,
            is_default=name == self._providers.default,
            created=self._created,
        )

    def list(self) -> list[ModelInfo]:
        return [self._info(name) for name in self._providers.names()]

    def get(self, name: str) -> ModelInfo:
        if name not in self._providers.names():
            raise ModelNotFound(f"The model '{name}' does not exist")
        return self._info(name)
