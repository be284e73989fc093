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
    # The local engines run in worker processes (isolated.py); PocketSphinxProvider and
    # WhisperCppProvider are what runs inside them.
    if "pocketsphinx" not in _FACTORIES:
        from roost.providers.speech.isolated import IsolatedSpeechProvider

        register_kind("pocketsphinx", IsolatedSpeechProvider.pocketsphinx)
    if "whispercpp" not in _FACTORIES:
        from roost.providers.speech.isolated import IsolatedSpeechProvider

        register_kind("whispercpp", IsolatedSpeechProvider.whispercpp)
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
