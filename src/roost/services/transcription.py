"""Speech to text: bounds the upload, picks the configured engine, limits how many run."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import BinaryIO

from roost.config import Settings
from roost.core.errors import ConfigError, InvalidRequest, PayloadTooLarge
from roost.core.speech import SpeechOptions, Transcript
from roost.providers.speech import SpeechProvider, build_speech_provider

MAX_PROMPT_CHARS = 4000
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}$")


def check_options(options: SpeechOptions) -> SpeechOptions:
    if options.language is not None and not _LANGUAGE.match(options.language):
        raise InvalidRequest(
            f"language '{options.language[:20]}' is not an ISO-639-1 code such as 'en'",
            param="language",
        )
    if options.prompt is not None and len(options.prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt is longer than {MAX_PROMPT_CHARS} characters", "prompt")
    if options.temperature is not None and not 0.0 <= options.temperature <= 1.0:
        raise InvalidRequest("temperature must be between 0 and 1", param="temperature")
    language = options.language.lower() if options.language else None
    return SpeechOptions(language, options.prompt or None, options.temperature)


class TranscriptionService:
    def __init__(
        self,
        settings: Settings,
        factory: Callable[[Settings], SpeechProvider] = build_speech_provider,
    ) -> None:
        self._settings = settings
        self._factory = factory
        self._provider: SpeechProvider | None = None
        self._gate = asyncio.Semaphore(settings.speech.max_concurrent)

    @property
    def max_file_bytes(self) -> int:
        return self._settings.speech.max_file_bytes

    @property
    def provider(self) -> SpeechProvider:
        """The engine, built on first use (building loads no weights)."""
        if self._provider is None:
            self._provider = self._factory(self._settings)
        return self._provider

    async def check(self) -> None:
        """Refuse a configuration that cannot work (whispercpp without its package or model
        file) at start, instead of at the first request. A remote engine is not called."""
        provider = self.provider
        if self._settings.speech.provider == "openai":
            return
        problem = await provider.probe()
        if problem is not None:
            raise ConfigError(f"{problem} (in {self._settings.config_path})")

    async def transcribe(
        self, audio: BinaryIO, filename: str | None, options: SpeechOptions | None = None
    ) -> Transcript:
        """`audio` is a seekable file (on disk for large uploads); it is read, not closed."""
        options = check_options(options or SpeechOptions())
        size = audio.seek(0, 2)
        audio.seek(0)
        if size == 0:
            raise InvalidRequest(f"the audio file '{filename or 'upload'}' is empty")
        if size > self.max_file_bytes:
            raise PayloadTooLarge(f"the audio file is larger than {self.max_file_bytes} bytes")
        async with self._gate:
            return await self.provider.transcribe(audio, filename, options)

    async def close(self) -> None:
        if self._provider is not None:
            await self._provider.close()
            self._provider = None
