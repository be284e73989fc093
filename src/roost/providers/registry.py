"""Named models → providers. Provider kinds register a factory, as llm's plugins do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, ModelNotFound, Unavailable
from roost.providers.base import ChatProvider
from roost.providers.catalog import ModelCatalog

Factory = Callable[[str, ModelSettings, Settings], ChatProvider]
_FACTORIES: dict[str, Factory] = {}


def register_kind(kind: str, factory: Factory) -> None:
    _FACTORIES[kind] = factory


def _builtin_kinds() -> None:
    if "llamacpp" not in _FACTORIES:
        # Each llama.cpp model runs in its own supervised process (providers/runner/).
        from roost.providers.runner.provider import RunnerProvider

        register_kind("llamacpp", RunnerProvider.from_settings)
    if "openai" not in _FACTORIES:
        # These modules import their SDKs only when a provider is built.
        from roost.providers.openai_compat import OpenAIProvider

        register_kind("openai", OpenAIProvider.from_settings)
    if "anthropic" not in _FACTORIES:
        from roost.providers.anthropic import AnthropicProvider

        register_kind("anthropic", AnthropicProvider.from_settings)
    if "sentence-transformers" not in _FACTORIES:
        from roost.providers.sentence_transformers import SentenceTransformerProvider

        register_kind("sentence-transformers", SentenceTransformerProvider.from_settings)


class ProviderRegistry:
    """Providers are built when first asked for: nothing loads at start. The models are
    config.toml's and the store's (catalog.py); a model pulled or removed while roost runs
    is seen at the next request."""

    def __init__(self, settings: Settings, catalog: ModelCatalog | None = None) -> None:
        _builtin_kinds()
        self._settings = settings
        self.catalog = catalog or ModelCatalog(settings)
        self._providers: dict[str, ChatProvider] = {}
        self._built_from: dict[str, ModelSettings] = {}
        self._closing: set[asyncio.Task[None]] = set()
        for name, model in settings.models.items():
            if model.provider not in _FACTORIES:
                raise ConfigError(
                    f"[models.{name}] provider '{model.provider}' is not available in this "
                    f"version of roost (available: {', '.join(sorted(_FACTORIES))}) "
                    f"in {settings.config_path}"
                )

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def default(self) -> str:
        return self._settings.default_model

    def names(self) -> list[str]:
        for name in [n for n, m in self._built_from.items() if self.catalog.get(n) is not m]:
            self._drop(name)  # removed or pulled again since it was built: its runner stops
        installed = {n for n in self._providers if n not in self._built_from}
        return sorted(set(self.catalog.names()) | installed)

    def install(self, name: str, provider: ChatProvider) -> None:
        """Put a ready provider under a name (tests use this for scripted models)."""
        self._providers[name] = provider

    def get(self, name: str | None) -> tuple[str, ChatProvider]:
        chosen = name or self.default
        model = self.catalog.get(chosen)
        built = self._providers.get(chosen)
        if built is not None:
            if chosen not in self._built_from or self._built_from[chosen] is model:
                return chosen, built
            self._drop(chosen)  # removed, or pulled again: its old runner stops
        if model is None:
            raise ModelNotFound(
                f"model '{chosen}' is not configured (configured: {', '.join(self.names())})"
            )
        # Not built yet, or pulled again / removed and pulled since: a fresh provider (the
        # old one is dropped by `forget`).
        try:
            provider = _FACTORIES[model.provider](chosen, model, self._settings)
        except ConfigError as exc:
            # A model set up wrong (a missing file, an unset key) is that model's 503,
            # not the server's 500; the other models carry on.
            raise Unavailable(f"model '{chosen}' is unavailable: {exc.message}") from None
        self._providers[chosen] = provider
        self._built_from[chosen] = model
        return chosen, provider

    def _drop(self, name: str) -> None:
        provider = self._providers.pop(name, None)
        self._built_from.pop(name, None)
        if provider is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop, so no runner was ever started by this one
                return
            task = loop.create_task(provider.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def forget(self, name: str) -> None:
        """Close a model's provider (its runner stops); the next request builds it anew."""
        provider = self._providers.pop(name, None)
        self._built_from.pop(name, None)
        if provider is not None:
            await provider.close()

    def problems(self) -> dict[str, str]:
        """Each configured model that cannot be set up, with why (checked at start)."""
        found: dict[str, str] = {}
        for name in self.catalog.names():
            try:
                self.get(name)
            except Unavailable as exc:
                found[name] = exc.message
        return found

    def peek(self, name: str) -> ChatProvider | None:
        """The provider if it was built already; never builds one."""
        return self._providers.get(name)

    def settings_for(self, name: str) -> ModelSettings | None:
        return self.catalog.get(name)

    async def close(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()
