"""PyAV decoding: every supported format to the same 16 kHz mono PCM; bad files refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from roost.core.errors import InvalidRequest, PayloadTooLarge
from roost.core.speech import BYTES_PER_SECOND
from roost.providers.speech.audio import AudioReader, claimed_format
from tests.audio import FORMATS, FOX, WEATHER_ESPEAK, encoded


def pcm_of(data: bytes, name: str, max_seconds: float = 60.0) -> tuple[str, bytes]:
    with AudioReader(io.BytesIO(data), name, max_seconds=max_seconds) as audio:
        return audio.info.format, b"".join(audio.chunks())


def test_wav_decodes_to_16khz_mono_s16() -> None:
    label, pcm = pcm_of(FOX.read_bytes(), "fox.wav")
    assert label == "WAV"
    assert len(pcm) == round(2.965 * BYTES_PER_SECOND)  # the file is already 16 kHz mono
    # A 22.05 kHz file is resampled: its duration is kept, not its sample count.
    _, resampled = pcm_of(WEATHER_ESPEAK.read_bytes(), "weather.wav")
    assert abs(len(resampled) / BYTES_PER_SECOND - 3.267) < 0.01


@pytest.mark.parametrize("extension", FORMATS)
def test_every_format_decodes_to_the_same_length(extension: str) -> None:
    label, pcm = pcm_of(encoded(FOX, extension), f"fox.{extension}")
    assert label == {"ogg": "OGG", "webm": "WEBM", "m4a": "M4A"}.get(extension, extension.upper())
    # Lossy encoders pad a few milliseconds (AAC most: one 1024-sample frame and priming).
    assert abs(len(pcm) / BYTES_PER_SECOND - 2.965) < 0.15


def test_chunks_are_bounded() -> None:
    with AudioReader(io.BytesIO(FOX.read_bytes()), "fox.wav", max_seconds=60) as audio:
        sizes = [len(chunk) for chunk in audio.chunks(chunk_seconds=0.5)]
    assert max(sizes) == BYTES_PER_SECOND // 2
    assert len(sizes) == 6


@pytest.mark.parametrize(
    ("data", "name", "named"),
    [
        (b"this is a text file, not sound\n" * 20, "notes.wav", "WAV"),
        (b"", "empty.mp3", "MP3"),
        (bytes(range(256)) * 400, "noise.mp3", "MP3"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "picture.png", "PNG"),
        (b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n", "list.m3u8", "M3U8"),
    ],
)
def test_files_that_are_not_audio_are_refused_naming_the_format(
    data: bytes, name: str, named: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        pcm_of(data, name)
    assert named in caught.value.message
    assert name in caught.value.message


def test_a_truncated_file_is_corrupt() -> None:
    flac = encoded(FOX, "flac")
    with pytest.raises(InvalidRequest, match="FLAC"):
        pcm_of(flac[:100], "cut.flac")


def test_audio_longer_than_the_bound_is_refused() -> None:
    with pytest.raises(PayloadTooLarge, match="longer than 2 seconds"):
        pcm_of(FOX.read_bytes(), "fox.wav", max_seconds=2)
    # WEBM from a browser's MediaRecorder has no duration in its header: the bound holds
    # while decoding too.
    with pytest.raises(PayloadTooLarge):
        pcm_of(encoded(FOX, "webm"), "fox.webm", max_seconds=2)


def test_claimed_format() -> None:
    assert claimed_format("a.b.mp3") == "MP3"
    assert claimed_format(None) == "audio"
    assert claimed_format(str(Path("x") / "noext")) == "audio"
