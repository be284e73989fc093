"""Speech fixtures and the same audio in other formats, made with PyAV at test time."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import av

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"
FOX = AUDIO / "fox.wav"
TWO_SENTENCES = AUDIO / "two_sentences.wav"
WEATHER_ESPEAK = AUDIO / "weather_espeak.wav"
FOX_WORDS = {"quick", "brown", "fox", "lazy", "dog"}

# extension → (container, codec, sample rate or None to keep the source's)
_ENCODINGS = {
    "mp3": ("mp3", "libmp3lame", None),
    "ogg": ("ogg", "libopus", 48_000),
    "webm": ("webm", "libopus", 48_000),
    "m4a": ("ipod", "aac", None),
    "flac": ("flac", "flac", None),
}
FORMATS = tuple(_ENCODINGS)


@cache
def encoded(source: Path, extension: str) -> bytes:
    """`source` re-encoded as `extension` (mp3, ogg, webm, m4a, flac), mono."""
    container, codec, rate = _ENCODINGS[extension]
    out = io.BytesIO()
    with av.open(str(source)) as given, av.open(out, "w", format=container) as made:
        audio = given.streams.audio[0]
        stream = made.add_stream(codec, rate=rate or audio.rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        resampler = av.AudioResampler(
            format=stream.format.name,  # type: ignore[union-attr]
            layout="mono",
            rate=rate or audio.rate,
        )
        frames = [*given.decode(audio), None]
        for frame in frames:
            if frame is not None:
                frame.pts = None
            for piece in resampler.resample(frame):
                for packet in stream.encode(piece):  # type: ignore[union-attr]
                    made.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            made.mux(packet)
    return out.getvalue()


def words(text: str) -> set[str]:
    return set(text.lower().split())
