"""What speech-to-text takes and gives back, whichever engine does the work."""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16_000  # every local engine wants 16 kHz mono signed 16-bit PCM
BYTES_PER_SECOND = SAMPLE_RATE * 2

# The containers the LlamaChat seed lists (WAV, MP3, OGG, WEBM, M4A, FLAC), by the names
# FFmpeg's demuxers report; anything else is refused before a decoder sees it.
AUDIO_FORMATS = "WAV, MP3, OGG, WEBM, M4A, FLAC"


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    language: str | None = None  # ISO-639-1; None: the configured default
    prompt: str | None = None  # words to expect (names, jargon), where the engine can use it
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float  # seconds from the start of the audio
    end: float


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str  # ISO-639-1
    duration: float  # seconds of audio
    segments: list[TranscriptSegment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
