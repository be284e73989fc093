"""A transcript as text, SubRip (.srt) or WebVTT (.vtt), as Whisper writes them."""

from __future__ import annotations

from roost.core.speech import Transcript


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
        for index, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n" for s in transcript.segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def text(transcript: Transcript) -> str:
    return transcript.text + "\n"
