"""Any common audio file → 16 kHz mono signed 16-bit PCM, through PyAV (FFmpeg's libraries).

Blocking: callers run it in a worker thread. The PCM comes out in chunks, so a long
recording is never decoded whole into memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO

import av

from roost.core.errors import InvalidRequest, PayloadTooLarge
from roost.core.speech import AUDIO_FORMATS, BYTES_PER_SECOND, SAMPLE_RATE

# Only these demuxers may open an upload: the six formats clients send, and none of the
# playlist or image demuxers that read other files or are not sound at all.
_FORMAT_WHITELIST = "wav,mp3,ogg,matroska,webm,mov,mp4,m4a,3gp,3g2,mj2,flac"
_LABELS = {
    "wav": "WAV",
    "mp3": "MP3",
    "ogg": "OGG",
    "matroska,webm": "WEBM",
    "mov,mp4,m4a,3gp,3g2,mj2": "M4A",
    "flac": "FLAC",
}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: str  # "MP3", "WEBM", ...
    codec: str  # the decoder FFmpeg picked: "mp3float", "opus", ...
    duration: float | None  # from the container header; absent in some WEBM recordings


def claimed_format(filename: str | None) -> str:
    """What the file's name says it is ("WAV"), or "audio" when it says nothing."""
    suffix = PurePath(filename or "").suffix.lstrip(".").upper()
    return suffix if suffix and len(suffix) <= 5 and suffix.isalnum() else "audio"


class AudioReader:
    """An opened audio file: `info`, then `chunks()` of PCM. Close it (or use `with`)."""

    def __init__(self, file: BinaryIO, filename: str | None, *, max_seconds: float) -> None:
        self._name = (filename or "the upload")[:200]
        self._max_seconds = max_seconds
        claimed = claimed_format(filename)
        try:
            self._container: Any = av.open(
                file, mode="r", options={"format_whitelist": _FORMAT_WHITELIST}
            )
        except MemoryError:
            raise  # av.error.MemoryError is an FFmpegError too; the worker's limit, not corruption
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise InvalidRequest(
                f"'{self._name}' is not a readable {claimed} file: it is not {AUDIO_FORMATS} "
                f"audio, or it is corrupt ({_reason(exc)})",
            ) from None
        label = _LABELS.get(self._container.format.name, self._container.format.name)
        if not self._container.streams.audio:
            self._container.close()
            raise InvalidRequest(f"the {label} file '{self._name}' has no audio")
        self._stream = self._container.streams.audio[0]
        duration = self._container.duration
        self.info = AudioInfo(
            label,
            self._stream.codec_context.name,
            duration / av.time_base if duration and duration > 0 else None,
        )
        if self.info.duration is not None and self.info.duration > max_seconds:
            self._container.close()
            raise self._too_long()

    def _too_long(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"'{self._name}' is longer than {self._max_seconds:g} seconds of audio "
            "(the [speech] max_seconds setting)"
        )

    def chunks(self, chunk_seconds: float = 1.0) -> Iterator[bytes]:
        """PCM in pieces of about `chunk_seconds` (the last may be shorter)."""
        target = max(2, int(chunk_seconds * BYTES_PER_SECOND) // 2 * 2)
        limit = int(self._max_seconds * BYTES_PER_SECOND)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        pending = bytearray()
        total = 0
        decoded = 0  # input samples
        try:
            for frame in self._container.decode(self._stream):
                decoded += frame.samples
                for out in resampler.resample(frame):
                    pending += bytes(out.planes[0])[: out.samples * 2]
                total_now = total + len(pending)
                if total_now > limit:
                    raise self._too_long()
                while len(pending) >= target:
                    yield bytes(pending[:target])
                    del pending[:target]
                    total += target
            for out in resampler.resample(None):
                pending += bytes(out.planes[0])[: out.samples * 2]
        except MemoryError:
            raise
        except av.error.FFmpegError as exc:
            raise InvalidRequest(
                f"the {self.info.format} file '{self._name}' is corrupt ({_reason(exc)})",
            ) from None
        total += len(pending)
        if total == 0 and decoded:
            # FFmpeg's resampler drops what it cannot allocate memory for, silently: a
            # 4 Hz stream upsampled to 16 kHz, say, in a worker with a memory limit.
            raise InvalidRequest(
                f"the {self.info.format} file '{self._name}' cannot be converted to 16 kHz "
                f"mono (from {self._stream.rate} Hz)"
            )
        if total == 0:
            raise InvalidRequest(f"the {self.info.format} file '{self._name}' holds no sound")
        if pending:
            yield bytes(pending)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    """FFmpeg's words without the errno and the internal call it failed in."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__
