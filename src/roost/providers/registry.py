"""Named models → providers. Provider kinds register a factory, as llm's plugins do."""

from __future__ import annotations

from collections.abc import Callable

from roost.config import ModelSettings, Settings
from roost.core.errors import ConfigError, ModelNotFound, Unavailable
from roost.providers.base import ChatProvider

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
    """Providers are built when first asked for: nothing loads at start."""

    def __init__(self, settings: Settings) -> None:
        _builtin_kinds()
        self._settings = settings
        self._providers: dict[str, ChatProvider] = {}
        for name, model in settings.models.items():
            if model.provider not in _FACTORIES:
                raise ConfigError(
                    f"[models.{name}] provider '{model.provider}' is not available in this "
                    f"version of roost (available: {', '.join(sorted(_FACTORIES))}) "
                    f"in {settings.config_path}"
                )

    @property
    def default(self) -> str:
        return self._settings.default_model

    def names(self) -> list[str]:
        return sorted(set(self._settings.models) | set(self._providers))

    def install(self, name: str, provider: ChatProvider) -> None:
        """Put a ready provider under a name (tests use this for scripted models)."""
        self._providers[name] = provider

    def get(self, name: str | None) -> tuple[str, ChatProvider]:
        chosen = name or self.default
        if chosen not in self._providers:
            if chosen not in self._settings.models:
                raise ModelNotFound(
                    f"model '{chosen}' is not configured (configured: {', '.join(self.names())})"
                )
            model = self._settings.models[chosen]
            try:
                self._providers[chosen] = _FACTORIES[model.provider](chosen, model, self._settings)
            except ConfigError as exc:
                # A model set up wrong (a missing file, an unset key) is that model's 503,
                # not the server's 500; the other models carry on.
                raise Unavailable(f"model '{chosen}' is unavailable: {exc.message}") from None
        return chosen, self._providers[chosen]

    def problems(self) -> dict[str, str]:
        """Each configured model that cannot be set up, with why (checked at start)."""
        found: dict[str, str] = {}
        for name in sorted(self._settings.models):
            try:
                self.get(name)
            except Unavailable as exc:
                found[name] = exc.message
        return found

    def peek(self, name: str) -> ChatProvider | None:
        """The provider if it was built already; never builds one."""
        return self._providers.get(name)

    def settings_for(self, name: str) -> ModelSettings | None:
        return self._settings.models.get(name)

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()
