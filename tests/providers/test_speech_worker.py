"""The speech worker process: PyAV and PocketSphinx run in a child with a memory and a
time limit, so a killed, stuck or bloated worker costs one transcription and nothing else."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.core.errors import InvalidRequest, PayloadTooLarge, ProviderError
from roost.core.speech import SpeechOptions
from roost.providers.speech import build_speech_provider
from roost.providers.speech.isolated import IsolatedSpeechProvider
from roost.providers.speech.supervisor import WORKER_MODULE
from tests.audio import FOX, FOX_WORDS, words
from tests.conftest import make_settings
from tests.speech_inputs import flac_bomb, long_recording

MB = 1024 * 1024


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure (kB) in bytes, or a plain number."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            value = int(line.split()[1])
            return value * 1024 if line.endswith("kB") else value
    raise AssertionError(f"no {field}")


def _gone(pid: int, wait: float = 10.0) -> bool:
    """Ended: no such process, or a zombie its parent has not reaped yet."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # gone between lookup and read
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def provider(home: Path) -> Iterator[IsolatedSpeechProvider]:
    made = build_speech_provider(make_settings(home))
    assert isinstance(made, IsolatedSpeechProvider)
    yield made
    asyncio.run(made.close())


async def _transcribe(provider: Any, data: bytes, name: str = "fox.wav") -> Any:
    return await provider.transcribe(io.BytesIO(data), name, SpeechOptions())


def _worker(provider: IsolatedSpeechProvider) -> int:
    [pid] = provider.pool.pids
    return pid


def test_transcription_runs_in_a_worker_process(provider: IsolatedSpeechProvider) -> None:
    assert provider.pool.pids == set()  # started on first use
    result = asyncio.run(_transcribe(provider, FOX.read_bytes()))
    assert words(result.text) >= FOX_WORDS
    assert [w.word for w in result.words][:3] == ["the", "quick", "brown"]  # all of it came
    pid = _worker(provider)
    assert pid != os.getpid()
    assert _status(pid, "PPid") == os.getpid()
    assert WORKER_MODULE in Path(f"/proc/{pid}/cmdline").read_text()
    # Kept for the next job: no new process, no model loaded again.
    with FOX.open("rb") as handle:  # a real file goes over as its descriptor
        asyncio.run(provider.transcribe(handle, "fox.wav", SpeechOptions()))
        assert handle.tell() == 0  # the worker reads it without moving this file's offset
    assert provider.pool.pids == {pid}
    assert provider.pool.started == 1
    asyncio.run(provider.close())
    assert _gone(pid)


def test_bad_audio_is_reported_through_the_worker_as_before(
    provider: IsolatedSpeechProvider,
) -> None:
    with pytest.raises(InvalidRequest, match="not a readable WAV file"):
        asyncio.run(_transcribe(provider, b"plain text" * 50, "memo.wav"))
    with pytest.raises(InvalidRequest, match="only an English model") as caught:
        asyncio.run(provider.transcribe(io.BytesIO(FOX.read_bytes()), "f.wav", SpeechOptions("fr")))
    assert caught.value.param == "language"
    assert provider.pool.started == 1  # a refused file does not cost the process


def test_a_worker_killed_between_jobs_is_replaced(provider: IsolatedSpeechProvider) -> None:
    asyncio.run(_transcribe(provider, FOX.read_bytes()))
    first = _worker(provider)
    os.kill(first, signal.SIGKILL)
    assert _gone(first)
    result = asyncio.run(_transcribe(provider, FOX.read_bytes()))
    assert words(result.text) >= FOX_WORDS
    assert _worker(provider) != first
    assert provider.pool.started == 2


def test_a_worker_killed_mid_job_fails_that_job_and_the_next_works(
    provider: IsolatedSpeechProvider,
) -> None:
    asyncio.run(_transcribe(provider, FOX.read_bytes()))  # started and warm
    pid = _worker(provider)

    async def killed() -> None:
        job = asyncio.ensure_future(_transcribe(provider, long_recording(60), "long.wav"))
        await asyncio.sleep(1.0)  # a minute of speech takes PocketSphinx several seconds
        assert not job.done()
        os.kill(pid, signal.SIGKILL)
        await job

    with pytest.raises(ProviderError, match=r"speech process crashed \(SIGKILL\)"):
        asyncio.run(killed())
    assert _gone(pid)
    result = asyncio.run(_transcribe(provider, FOX.read_bytes()))
    assert words(result.text) >= FOX_WORDS
    assert provider.pool.started == 2


def test_a_job_past_the_time_limit_is_stopped(home: Path) -> None:
    provider = build_speech_provider(make_settings(home, ROOST_SPEECH_WORKER_TIMEOUT="1"))
    assert isinstance(provider, IsolatedSpeechProvider)
    try:
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"took longer than 1 s .*worker_timeout"):
            asyncio.run(_transcribe(provider, long_recording(60), "long.wav"))
        assert time.monotonic() - started < 30  # not the minute of audio
        assert provider.pool.pids == set()  # killed, not kept
        provider.pool.timeout = 120.0  # a new process loads its model within the job's time
        assert words(asyncio.run(_transcribe(provider, FOX.read_bytes())).text) >= FOX_WORDS
    finally:
        asyncio.run(provider.close())


def test_a_cancelled_job_stops_its_worker(provider: IsolatedSpeechProvider) -> None:
    asyncio.run(_transcribe(provider, FOX.read_bytes()))
    pid = _worker(provider)

    async def cancelled() -> None:
        job = asyncio.ensure_future(_transcribe(provider, long_recording(60), "long.wav"))
        await asyncio.sleep(0.5)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(cancelled())
    assert _gone(pid)  # it was transcribing for nobody
    assert words(asyncio.run(_transcribe(provider, FOX.read_bytes())).text) >= FOX_WORDS


def test_the_crafted_flac_costs_the_worker_not_this_process(
    provider: IsolatedSpeechProvider,
) -> None:
    # Decoded in-process, this 200 KB file took the RSS to 5.5 GB (tests/speech_inputs.py).
    asyncio.run(_transcribe(provider, FOX.read_bytes()))
    here = _status(os.getpid(), "VmHWM")
    with pytest.raises(InvalidRequest, match=r"cannot be converted to 16 kHz mono \(from 4 Hz\)"):
        asyncio.run(_transcribe(provider, flac_bomb(), "memo.flac"))
    assert _status(os.getpid(), "VmHWM") - here < 50 * MB
    worker = _worker(provider)  # it survived: FFmpeg dropped what it could not allocate
    assert _status(worker, "VmHWM") < 2048 * MB  # [speech] worker_memory_mb
    assert words(asyncio.run(_transcribe(provider, FOX.read_bytes())).text) >= FOX_WORDS


def test_audio_that_needs_more_than_the_memory_limit_is_413(home: Path) -> None:
    provider = build_speech_provider(make_settings(home, ROOST_SPEECH_WORKER_MEMORY_MB="512"))
    assert isinstance(provider, IsolatedSpeechProvider)
    try:
        asyncio.run(_transcribe(provider, FOX.read_bytes()))
        pid = _worker(provider)
        with pytest.raises(PayloadTooLarge, match=r"needs more memory .* \(512 MB, the \[speech\]"):
            asyncio.run(_transcribe(provider, flac_bomb(), "memo.flac"))
        assert _gone(pid)  # a process that hit its limit is not trusted with the next job
        assert words(asyncio.run(_transcribe(provider, FOX.read_bytes())).text) >= FOX_WORDS
    finally:
        asyncio.run(provider.close())


def test_whispercpp_runs_in_a_worker_with_its_model_on_top_of_the_limit(
    home: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pywhispercpp")
    from tests.audio import encoded
    from tests.whisper_model import write_tiny_model

    model = write_tiny_model(tmp_path / "ggml-tiny-random.bin")
    settings = make_settings(
        home, ROOST_SPEECH_PROVIDER="whispercpp", ROOST_SPEECH_MODEL_PATH=str(model)
    )
    provider = build_speech_provider(settings)
    assert isinstance(provider, IsolatedSpeechProvider)
    assert provider.pool.spec.memory_mb == 2048 + model.stat().st_size // MB
    try:
        assert asyncio.run(provider.probe()) is None
        result = asyncio.run(_transcribe(provider, encoded(FOX, "mp3"), "fox.mp3"))
        assert result.text.strip()  # random weights: some text, through the whole path
        assert result.duration == pytest.approx(2.965, abs=0.01)
        assert _status(_worker(provider), "PPid") == os.getpid()
    finally:
        asyncio.run(provider.close())
