"""Speech-to-text engines: PocketSphinx, whisper.cpp, an OpenAI-compatible upstream."""

from roost.providers.speech.base import SpeechProvider
from roost.providers.speech.registry import build_speech_provider, register_kind

__all__ = ["SpeechProvider", "build_speech_provider", "register_kind"]
