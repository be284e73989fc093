"""A local engine run in worker processes: the SpeechProvider the registry hands out for
pocketsphinx and whispercpp. Services see the same interface as before; the decoding and
the engine happen in a process with a memory limit (see supervisor.py and worker.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
from pathlib import Path
from typing import BinaryIO

from roost.config import Settings
from roost.core.speech import SpeechOptions, Transcript
from roost.providers.speech.supervisor import WorkerPool, WorkerSpec


class IsolatedSpeechProvider:
    def __init__(self, spec: WorkerSpec, size: int) -> None:
        self.name = spec.kind
        self.pool = WorkerPool(spec, size)

    @classmethod
    def pocketsphinx(cls, settings: Settings) -> IsolatedSpeechProvider:
        speech = settings.speech
        return cls(WorkerSpec("pocketsphinx", speech), speech.max_concurrent)

    @classmethod
    def whispercpp(cls, settings: Settings) -> IsolatedSpeechProvider:
        raw = settings.speech.model_path
        path = None if raw is None else settings.home / Path(raw).expanduser()
        # One process: a whisper model can be gigabytes, and whisper.cpp uses every
        # thread it is given; requests take turns, as they did on one in-process model.
        return cls(WorkerSpec("whispercpp", settings.speech, path), 1)

    async def transcribe(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions
    ) -> Transcript:
        job = {"filename": filename, "options": dataclasses.asdict(options)}
        transcript = await self.pool.transcribe(file, job)
        assert transcript is not None
        return transcript

    async def probe(self) -> str | None:
        # Without loading the engine into the server: that is the worker's job.
        if self.name == "whispercpp":
            from roost.providers.speech.whispercpp import engine_problem

            return engine_problem(self.pool.spec.model_path)
        if importlib.util.find_spec("pocketsphinx") is None:
            return "pocketsphinx is not installed"
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.close)
