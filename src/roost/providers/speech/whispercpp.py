"""whisper.cpp through pywhispercpp, with a ggml model file the user names.

pywhispercpp is optional (`pip install 'roost[whisper]'`). Nothing is ever downloaded: the
model must be a file on disk (pywhispercpp would fetch a model by name, so only an
existing path is passed to it). whisper.cpp crashes the process on a file that is not a
model, so the file's magic number is checked before it is loaded.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, BinaryIO

from roost.config import Settings, SpeechSettings
from roost.core.errors import ConfigError, InvalidRequest, ProviderError
from roost.core.speech import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    SpeechOptions,
    Transcript,
    TranscriptSegment,
)
from roost.providers.speech.base import Cancelled, in_thread

GGML_MAGIC = b"lmgg"  # 0x67676d6c, little-endian, at the start of every whisper.cpp model
# Audio is handed to whisper.cpp a window at a time, so a long recording costs at most
# this much float32 memory (10 minutes: 38 MB); whisper.cpp works in 30 s pieces anyway.
WINDOW_SECONDS = 600
_CENTISECONDS = 100


def model_file_problem(path: Path | None) -> str | None:
    """Why `path` cannot be a whisper.cpp model, or None."""
    if path is None:
        return '[speech] provider = "whispercpp" needs model_path: a ggml model file'
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return f"[speech] model_path '{path}' cannot be read: {exc.strerror or exc}"
    if magic != GGML_MAGIC:
        return f"[speech] model_path '{path}' is not a whisper.cpp (ggml) model file"
    return None


def engine_problem(path: Path | None) -> str | None:
    """Why whisper.cpp cannot run with the model at `path`, or None. Loads nothing."""
    if importlib.util.find_spec("pywhispercpp") is None:
        return (
            '[speech] provider = "whispercpp" needs the pywhispercpp package: '
            "pip install 'roost[whisper]'"
        )
    return model_file_problem(path)


def _multilingual(model: Any) -> bool:
    import _pywhispercpp as pw

    return bool(pw.whisper_is_multilingual(model._ctx))


class WhisperCppProvider:
    name = "whispercpp"

    def __init__(self, speech: SpeechSettings, model_path: Path | None) -> None:
        self._settings = speech
        self._path = model_path
        self._model: Any = None
        self._lock = threading.Lock()  # one whisper context: one transcription at a time

    @classmethod
    def from_settings(cls, settings: Settings) -> WhisperCppProvider:
        raw = settings.speech.model_path
        path = None if raw is None else settings.home / Path(raw).expanduser()
        return cls(settings.speech, path)

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        problem = self._problem()
        if problem is not None:
            raise ConfigError(problem)
        try:
            from pywhispercpp.model import Model

            self._model = Model(
                str(self._path),
                redirect_whispercpp_logs_to=None,
                n_threads=self._settings.n_threads or 4,
                print_progress=False,
                print_realtime=False,
                print_timestamps=False,
            )
        except Exception as exc:
            raise ProviderError(f"whisper.cpp could not load '{self._path}': {exc}") from None
        return self._model

    def _problem(self) -> str | None:
        return engine_problem(self._path)

    def _window(
        self, model: Any, pcm: bytes, offset: float, language: str, prompt: str | None
    ) -> tuple[list[TranscriptSegment], str]:
        import numpy as np

        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        params: dict[str, Any] = {"language": language}
        if prompt:
            params["initial_prompt"] = prompt
        try:
            found = model.transcribe(samples, **params)
            detected = language
            if language == "auto":
                import _pywhispercpp as pw

                detected = str(pw.whisper_lang_str(pw.whisper_full_lang_id(model._ctx)))
        except Exception as exc:
            raise ProviderError(f"whisper.cpp failed: {exc}") from None
        # Whisper can place a timestamp past the end of the audio it was given.
        end = offset + len(samples) / SAMPLE_RATE
        segments = [
            TranscriptSegment(
                round(min(offset + s.t0 / _CENTISECONDS, end), 2),
                round(min(offset + s.t1 / _CENTISECONDS, end), 2),
                s.text.strip(),
            )
            for s in found
            if s.text.strip()
        ]
        return segments, detected

    def transcribe_blocking(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions, stop: threading.Event
    ) -> Transcript:
        from roost.providers.speech.audio import AudioReader  # PyAV: in the worker only

        language = (options.language or self._settings.language or "auto").lower()
        segments: list[TranscriptSegment] = []
        with AudioReader(file, filename, max_seconds=self._settings.max_seconds) as audio:
            window = bytearray()
            offset = 0.0
            with self._lock:
                model = self._load()
                if not _multilingual(model):  # a ".en" model
                    if language not in ("auto", "en"):
                        raise InvalidRequest(
                            f"the whisper.cpp model '{self._path}' is English-only, not "
                            f"'{language}'",
                            param="language",
                        )
                    language = "en"
                detected = language
                for chunk in audio.chunks():
                    if stop.is_set():
                        raise Cancelled("transcription cancelled")
                    window += chunk
                    if len(window) >= WINDOW_SECONDS * BYTES_PER_SECOND:
                        found, detected = self._window(
                            model, bytes(window), offset, language, options.prompt
                        )
                        segments += found
                        offset += len(window) / 2 / SAMPLE_RATE
                        window.clear()
                if window:
                    found, detected = self._window(
                        model, bytes(window), offset, language, options.prompt
                    )
                    segments += found
                    offset += len(window) / 2 / SAMPLE_RATE
        text = " ".join(segment.text for segment in segments)
        return Transcript(text, detected, round(offset, 3), segments)

    async def transcribe(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions
    ) -> Transcript:
        return await in_thread(lambda stop: self.transcribe_blocking(file, filename, options, stop))

    async def probe(self) -> str | None:
        return self._problem()

    async def close(self) -> None:
        self._model = None
