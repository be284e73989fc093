"""Speech to text: PocketSphinx's real-time factor, and what PyAV decoding adds to it.

A recording of about a minute is built from the test fixtures (synthetic speech with
pauses) and encoded as WAV, MP3 and OGG/Opus. For each, three timings, medians of
`--rounds`:

- decode: PyAV alone, the file to 16 kHz mono PCM (what roost adds in front of the engine);
- engine: PocketSphinx alone on that PCM, cut at pauses as the provider does (the baseline);
- total: the provider end to end, as `POST /api/transcription` runs it.

It prints the real-time factor (audio seconds ÷ processing seconds; higher is faster) and
decode ÷ engine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fixtures live in tests/

from benchmarks._figures import Figure, Size
from roost.config import SpeechSettings
from roost.core.speech import BYTES_PER_SECOND, SpeechOptions
from roost.providers.speech.audio import AudioReader
from roost.providers.speech.pocketsphinx import PocketSphinxProvider, _Utterances
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


def total(provider: PocketSphinxProvider, data: bytes, name: str) -> float:
    started = time.perf_counter()
    asyncio.run(provider.transcribe(io.BytesIO(data), name, SpeechOptions()))
    return time.perf_counter() - started


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
    print(f"recording: {audio_seconds:.1f} s of speech and pauses; {rounds} rounds, medians")
    head = ("format", "size", "decode", "engine", "total", "RTF", "decode/engine")
    print("{:6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>14}".format(*head))
    for kind, data in files.items():
        decodes, engines, totals = [], [], []
        for _ in range(int(rounds)):
            took, pcm = decode(data, f"recording.{kind}")
            decodes.append(took)
            engines.append(engine(provider, pcm)[0])
            totals.append(total(provider, data, f"recording.{kind}"))
        d, e, t = (statistics.median(x) for x in (decodes, engines, totals))
        print(
            f"{kind:6} {len(data) / 1e6:7.2f}M {d:7.3f}s {e:7.3f}s {t:7.3f}s "
            f"{audio_seconds / t:6.1f}x {d / e:13.3f}"
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
    asyncio.run(provider.close())
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
