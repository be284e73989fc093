"""Speech to text: PocketSphinx's real-time factor, and what PyAV decoding adds to it.

A recording of about a minute is built from the test fixtures (synthetic speech with
pauses) and encoded as WAV, MP3 and OGG/Opus. For each, three timings, medians of
`--rounds`:

- decode: PyAV alone, the file to 16 kHz mono PCM (what roost adds in front of the engine);
- engine: PocketSphinx alone on that PCM, cut at pauses as the provider does (the baseline);
- in-process: the engine's provider end to end in this process (how roost ran it before
  the speech worker);
- worker: the provider `POST /api/transcription` runs now, decoding and transcribing in a
  warm worker process (the upload passed as a descriptor, the transcript sent back).

It prints the real-time factor (audio seconds ÷ processing seconds; higher is faster),
decode ÷ engine and worker ÷ in-process, and what a worker costs to start (a new process
and PocketSphinx's model: the price a process per request would pay on every job).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fixtures live in tests/

from benchmarks._figures import Figure, Size
from roost.config import SpeechSettings
from roost.core.speech import BYTES_PER_SECOND, SpeechOptions
from roost.providers.speech.audio import AudioReader
from roost.providers.speech.base import SpeechProvider
from roost.providers.speech.isolated import IsolatedSpeechProvider
from roost.providers.speech.pocketsphinx import PocketSphinxProvider, _Utterances
from roost.providers.speech.supervisor import WorkerSpec
from tests.audio import FOX, TWO_SENTENCES, WEATHER_ESPEAK, encoded

SIZES: dict[Size, dict[str, float]] = {
    "small": {"seconds": 20.0, "rounds": 1},
    "full": {"seconds": 60.0, "rounds": 3},
}


def _pcm(path: Path) -> bytes:
    with AudioReader(io.BytesIO(path.read_bytes()), path.name, max_seconds=3600) as audio:
        return b"".join(audio.chunks())


def recording(seconds: float) -> bytes:
    """A 16 kHz mono WAV of the fixtures, each followed by half a second of silence."""
    pieces = [
        _pcm(p) + b"\0" * (BYTES_PER_SECOND // 2) for p in (FOX, TWO_SENTENCES, WEATHER_ESPEAK)
    ]
    pcm = bytearray()
    while len(pcm) < seconds * BYTES_PER_SECOND:
        for piece in pieces:
            pcm += piece
    out = io.BytesIO()
    with wave.open(out, "wb") as made:
        made.setnchannels(1)
        made.setsampwidth(2)
        made.setframerate(16_000)
        made.writeframes(bytes(pcm))
    return out.getvalue()


def decode(data: bytes, name: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with AudioReader(io.BytesIO(data), name, max_seconds=3600) as audio:
        pcm = b"".join(audio.chunks())
    return time.perf_counter() - started, pcm


def engine(provider: PocketSphinxProvider, pcm: bytes) -> tuple[float, str]:
    decoder = provider._decoder()
    try:
        started = time.perf_counter()
        utterances = _Utterances(decoder)
        for start in range(0, len(pcm), BYTES_PER_SECOND):
            utterances.feed(pcm[start : start + BYTES_PER_SECOND])
        utterances.finish()
        elapsed = time.perf_counter() - started
    finally:
        provider._idle.put(decoder)
    return elapsed, " ".join(s.text for s in utterances.segments)


def _cpu(pids: Iterable[int]) -> float:
    """CPU seconds used so far by this process and `pids` (the speech workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    used = own.ru_utime + own.ru_stime
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def timed(provider: SpeechProvider, data: bytes, name: str) -> tuple[float, float]:
    """Wall and CPU seconds of one transcription (the worker's CPU included)."""
    pids = sorted(provider.pool.pids) if isinstance(provider, IsolatedSpeechProvider) else []
    cpu = _cpu(pids)
    started = time.perf_counter()
    asyncio.run(provider.transcribe(io.BytesIO(data), name, SpeechOptions()))
    return time.perf_counter() - started, _cpu(pids) - cpu


def total(provider: SpeechProvider, data: bytes, name: str) -> float:
    return timed(provider, data, name)[0]


def worker_start(data: bytes) -> float:
    """A short file on a new worker: the process and the model are started for it."""
    worker = IsolatedSpeechProvider(WorkerSpec("pocketsphinx", SpeechSettings()), 1)
    try:
        return total(worker, data, "fox.wav")
    finally:
        asyncio.run(worker.close())


def measure(seconds: float, rounds: float) -> list[Figure]:
    found: list[Figure] = []

    wav = recording(seconds)
    files = {"wav": wav}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "recording.wav"
        path.write_bytes(wav)
        files["mp3"] = encoded(path, "mp3")
        files["ogg"] = encoded(path, "ogg")
    audio_seconds = (len(wav) - 44) / BYTES_PER_SECOND
    provider = PocketSphinxProvider(SpeechSettings())
    engine(provider, b"\0" * BYTES_PER_SECOND)  # load the model outside the timings
    worker = IsolatedSpeechProvider(WorkerSpec("pocketsphinx", SpeechSettings()), 1)
    fox = FOX.read_bytes()
    total(worker, fox, "fox.wav")  # started and warm, as in a running server
    print(f"recording: {audio_seconds:.1f} s of speech and pauses; {rounds} rounds, medians")
    # w/in: worker ÷ in-process, the median of each round's ratio (the rounds alternate),
    # in wall time and in CPU time (the worker's included), which load on the machine
    # disturbs far less.
    head = ("format", "size", "decode", "engine", "in-proc", "worker", "RTF", "dec/eng")
    print("{:6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8}  w/in wall  w/in CPU".format(*head))
    for kind, data in files.items():
        decodes, engines, inprocs, totals, walls, cpus = [], [], [], [], [], []
        for _ in range(int(rounds)):
            took, pcm = decode(data, f"recording.{kind}")
            decodes.append(took)
            engines.append(engine(provider, pcm)[0])
            inproc = timed(provider, data, f"recording.{kind}")
            isolated = timed(worker, data, f"recording.{kind}")
            inprocs.append(inproc[0])
            totals.append(isolated[0])
            walls.append(isolated[0] / inproc[0])
            cpus.append(isolated[1] / inproc[1])
        d, e, i, t, w, c = map(statistics.median, (decodes, engines, inprocs, totals, walls, cpus))
        print(
            f"{kind:6} {len(data) / 1e6:7.2f}M {d:7.3f}s {e:7.3f}s {i:7.3f}s {t:7.3f}s "
            f"{audio_seconds / t:5.1f}x {d / e:8.3f} {w:10.3f} {c:9.3f}"
        )
        found.append(Figure(f"transcription {kind}: worker ÷ in-process, wall", w))
        found.append(
            Figure(f"transcription {kind}: worker ÷ in-process, CPU", c, target="value <= 1.05")
        )
        # RTF: audio seconds per processing second; baseline: the engine alone on PCM.
        found.append(
            Figure(
                f"transcription RTF, {kind}",
                audio_seconds / t,
                "x",
                audio_seconds / e,
                target="value > 1",
            )
        )
        found.append(
            Figure(f"transcription {kind}: decode ÷ engine", d / e, target="value <= 0.05")
        )
    cold = statistics.median(worker_start(fox) for _ in range(int(rounds)))
    warm = total(worker, fox, "fox.wav")
    print(f"fox.wav (3 s) on a new worker: {cold:.3f}s; on a warm one: {warm:.3f}s")
    found.append(Figure("speech worker start + first job", cold, "s", warm))
    asyncio.run(provider.close())
    asyncio.run(worker.close())
    return found


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    measure(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
