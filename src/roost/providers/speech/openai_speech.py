"""An OpenAI-compatible /v1/audio/transcriptions upstream (OpenAI, a faster-whisper or
whisper.cpp server, another roost), through the official `openai` SDK.

The upload goes up as it came: re-encoding would only make it bigger. It is opened with
PyAV first, in a speech worker process as the local engines' files are, so a file that is
not audio gets the same 400 as with a local engine instead of costing an upstream call.
"""

from __future__ import annotations

import asyncio
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

from roost.config import Settings, SpeechSettings
from roost.core.errors import ConfigError, ProviderError
from roost.core.speech import SpeechOptions, Transcript, TranscriptSegment, Word
from roost.providers.openai_compat import DEFAULT_BASE_URL, PLACEHOLDER_KEY
from roost.providers.remote_failures import describe_failure
from roost.providers.speech.supervisor import WorkerPool, WorkerSpec

if TYPE_CHECKING:
    from openai import AsyncOpenAI

PROBE_TIMEOUT = 3.0
_LANGUAGE_CODES = {"english": "en", "spanish": "es", "french": "fr", "german": "de"}


def _api_key(speech: SpeechSettings) -> str:
    if speech.api_key:
        return speech.api_key
    if speech.api_key_env:
        value = os.environ.get(speech.api_key_env)
        if not value:
            raise ConfigError(
                f"[speech] api_key_env names '{speech.api_key_env}', which is not set"
            )
        return value
    return PLACEHOLDER_KEY


def _field(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


class OpenAISpeechProvider:
    name = "openai"

    def __init__(self, speech: SpeechSettings, *, base_url: str, api_key: str) -> None:
        import openai

        self._settings = speech
        self.checker = WorkerPool(WorkerSpec("check", speech), speech.max_concurrent)
        self.base_url = base_url
        self._sdk: ModuleType = openai
        # The default httpx transport: it streams a file object up in chunks.
        self._client: AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(speech.timeout, connect=10.0),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAISpeechProvider:
        speech = settings.speech
        return cls(speech, base_url=speech.base_url or DEFAULT_BASE_URL, api_key=_api_key(speech))

    async def _call(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions, response_format: str
    ) -> Any:
        params: dict[str, Any] = {
            "model": self._settings.model,
            "file": (filename or "audio", file),
            "response_format": response_format,
        }
        language = options.language or self._settings.language
        if language:
            params["language"] = language
        if options.prompt:
            params["prompt"] = options.prompt
        if options.temperature is not None:
            params["temperature"] = options.temperature
        if response_format == "verbose_json":
            params["timestamp_granularities"] = ["segment", "word"]
        return await self._client.audio.transcriptions.create(**params)

    async def transcribe(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions
    ) -> Transcript:
        await self.checker.transcribe(file, {"filename": filename})
        file.seek(0)
        try:
            try:
                result = await self._call(file, filename, options, "verbose_json")
            except self._sdk.BadRequestError as exc:
                # Newer models (gpt-4o-transcribe) and some servers offer plain json only.
                if "verbose_json" not in str(exc) and "response_format" not in str(exc):
                    raise
                file.seek(0)
                result = await self._call(file, filename, options, "json")
        except Exception as exc:
            reason = describe_failure(
                self._sdk, exc, self.base_url, self._settings.timeout, started=False
            )
            raise ProviderError(f"speech upstream '{self._settings.model}': {reason}") from None
        return self._transcript(result, options)

    def _transcript(self, result: Any, options: SpeechOptions) -> Transcript:
        text = str(_field(result, "text", "") or "").strip()
        segments = [
            TranscriptSegment(
                float(_field(s, "start", 0.0)),
                float(_field(s, "end", 0.0)),
                str(_field(s, "text", "")).strip(),
                float(_field(s, "avg_logprob", 0.0) or 0.0),
                float(_field(s, "no_speech_prob", 0.0) or 0.0),
            )
            for s in _field(result, "segments", None) or []
        ]
        words = [
            Word(
                str(_field(w, "word", "")),
                float(_field(w, "start", 0.0)),
                float(_field(w, "end", 0.0)),
            )
            for w in _field(result, "words", None) or []
        ]
        duration = float(_field(result, "duration", 0.0) or 0.0)
        if not segments and text:
            segments = [TranscriptSegment(0.0, duration, text)]
        language = str(_field(result, "language", "") or options.language or "en").lower()
        return Transcript(text, _LANGUAGE_CODES.get(language, language), duration, segments, words)

    async def probe(self) -> str | None:
        try:
            await self._client.models.list(timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return describe_failure(self._sdk, exc, self.base_url, PROBE_TIMEOUT, started=False)
        return None

    async def close(self) -> None:
        await self._client.close()
        await asyncio.to_thread(self.checker.close)
