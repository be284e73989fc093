"""`[speech] provider` → the engine. Kinds register a factory, as the chat models do."""

from __future__ import annotations

from collections.abc import Callable

from roost.config import Settings
from roost.core.errors import ConfigError
from roost.providers.speech.base import SpeechProvider

Factory = Callable[[Settings], SpeechProvider]
_FACTORIES: dict[str, Factory] = {}


def register_kind(kind: str, factory: Factory) -> None:
    _FACTORIES[kind] = factory


def _builtin_kinds() -> None:
    # Each module imports its engine only when a provider is built.
    if "pocketsphinx" not in _FACTORIES:
        from roost.providers.speech.pocketsphinx import PocketSphinxProvider

        register_kind("pocketsphinx", PocketSphinxProvider.from_settings)
    if "whispercpp" not in _FACTORIES:
        from roost.providers.speech.whispercpp import WhisperCppProvider

        register_kind("whispercpp", WhisperCppProvider.from_settings)
    if "openai" not in _FACTORIES:
        from roost.providers.speech.openai_speech import OpenAISpeechProvider

        register_kind("openai", OpenAISpeechProvider.from_settings)


def build_speech_provider(settings: Settings) -> SpeechProvider:
    _builtin_kinds()
    kind = settings.speech.provider
    if kind not in _FACTORIES:
        raise ConfigError(
            f"[speech] provider '{kind}' is not available (available: "
            f"{', '.join(sorted(_FACTORIES))}) in {settings.config_path}"
        )
    return _FACTORIES[kind](settings)
