"""The `[speech]` section: the speech-to-text engine and its worker process's limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from roost.config.section import _Section


class SpeechSettings(_Section):
    provider: Literal["pocketsphinx", "whispercpp", "openai"] = Field(
        "pocketsphinx",
        description="Speech-to-text: pocketsphinx (offline, English), whispercpp (a model "
        "file you name), openai (any OpenAI-compatible /v1/audio/transcriptions)",
    )
    model_path: str | None = Field(
        None, description="whispercpp: the ggml model file (relative to ROOST_HOME)"
    )
    n_threads: int | None = Field(None, ge=1, description="whispercpp: threads (unset: 4)")
    language: str | None = Field(
        None, description="Default spoken language, ISO-639-1 (unset: en, or detected)"
    )
    model: str = Field("whisper-1", description="openai: the upstream model name")
    base_url: str | None = Field(None, description="openai: API base URL (unset: OpenAI's)")
    api_key: str | None = Field(None, description="openai: the API key (prefer api_key_env)")
    api_key_env: str | None = Field(None, description="openai: env var holding the key")
    timeout: float = Field(300.0, gt=0, description="openai: seconds to wait for the answer")
    max_file_bytes: int = Field(
        104_857_600, ge=1024, description="Largest audio upload (100 MB, as LlamaChat)"
    )
    max_seconds: float = Field(
        10_800.0, gt=0, description="Longest audio transcribed, in seconds of sound"
    )
    max_concurrent: int = Field(
        2, ge=1, le=64, description="Transcriptions that run at once; more wait their turn"
    )
    worker_memory_mb: int = Field(
        2048,
        ge=512,
        description="Address space one speech worker process may use, in MB (whispercpp: "
        "plus its model file's size); audio that needs more is refused with 413",
    )
    worker_timeout: float = Field(
        3600.0, gt=0, description="Seconds one transcription may take before its worker is stopped"
    )
