"""PocketSphinx: the offline default. Its wheel ships a US English model, so nothing is
downloaded and no file has to be named.

Audio is cut into utterances at pauses (PocketSphinx's own voice-activity endpointer) and
each utterance is decoded whole, which gives the segments and word times that subtitles
need and keeps memory bounded however long the recording is.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any, BinaryIO

from roost.config import Settings, SpeechSettings
from roost.core.errors import InvalidRequest, ProviderError
from roost.core.speech import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    SpeechOptions,
    Transcript,
    TranscriptSegment,
    Word,
)
from roost.providers.speech.audio import AudioReader
from roost.providers.speech.base import Cancelled, in_thread

FRAMES_PER_SECOND = 100  # PocketSphinx's feature frame rate
MAX_UTTERANCE_SECONDS = 30.0  # a pause-free stretch longer than this is cut anyway
MIN_UTTERANCE_SECONDS = 0.1
_FILLERS = ("<s>", "</s>", "<sil>", "[NOISE]", "(NULL)")


def _plain(word: str) -> str:
    """'read(2)' is the dictionary's second pronunciation of 'read'."""
    return word.split("(", 1)[0]


class _Utterances:
    """Cuts one recording into utterances and decodes each."""

    def __init__(self, decoder: Any) -> None:
        from pocketsphinx import Endpointer

        self._decoder = decoder
        self._endpointer = Endpointer(sample_rate=SAMPLE_RATE)
        self._frame = int(self._endpointer.frame_bytes)
        self._buffer = bytearray()
        self._pending = b""  # less than one endpointer frame, carried to the next feed
        self._offset = 0  # samples before the buffered utterance
        self.segments: list[TranscriptSegment] = []
        self.words: list[Word] = []

    def feed(self, pcm: bytes) -> None:
        self._pending += pcm
        frame = self._frame
        usable = len(self._pending) - len(self._pending) % frame
        for start in range(0, usable, frame):
            chunk = self._pending[start : start + frame]
            self._buffer += chunk
            was_speech = self._endpointer.in_speech
            self._endpointer.process(chunk)
            ended = was_speech and not self._endpointer.in_speech
            if ended or len(self._buffer) > MAX_UTTERANCE_SECONDS * BYTES_PER_SECOND:
                self._decode()
        self._pending = self._pending[usable:]

    def finish(self) -> None:
        self._buffer += self._pending
        self._pending = b""
        if self._buffer:
            self._decode()

    def _decode(self) -> None:
        if len(self._buffer) < MIN_UTTERANCE_SECONDS * BYTES_PER_SECOND:
            # Too short to hold a word, and a few frames make the cepstral mean NaN.
            self._offset += len(self._buffer) // 2
            self._buffer = bytearray()
            return
        decoder = self._decoder
        # Every utterance from the same state (cepstral mean, dither noise): the same audio
        # gives the same text, whatever was decoded before it.
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(bytes(self._buffer), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        base = self._offset / SAMPLE_RATE
        spoken = [
            seg
            for seg in decoder.seg() or ()  # None when nothing was recognised
            if seg.word not in _FILLERS and not seg.word.startswith(("<", "["))
        ]
        words = [
            Word(
                _plain(seg.word),
                round(base + seg.start_frame / FRAMES_PER_SECOND, 2),
                round(base + (seg.end_frame + 1) / FRAMES_PER_SECOND, 2),
            )
            for seg in spoken
        ]
        text = hypothesis.hypstr.strip() if hypothesis is not None else ""
        if text and words:
            # Word posteriors, clamped: the decoder's can overshoot 1 by rounding.
            logprob = sum(math.log(min(max(seg.prob, 1e-10), 1.0)) for seg in spoken)
            self.segments.append(
                TranscriptSegment(words[0].start, words[-1].end, text, logprob / len(spoken))
            )
            self.words.extend(words)
        self._offset += len(self._buffer) // 2
        self._buffer = bytearray()


class PocketSphinxProvider:
    name = "pocketsphinx"

    def __init__(self, speech: SpeechSettings) -> None:
        self._settings = speech
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # loaded decoders not in use

    @classmethod
    def from_settings(cls, settings: Settings) -> PocketSphinxProvider:
        return cls(settings.speech)

    def _decoder(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            from pocketsphinx import Decoder

            # Dither: exact digital silence (synthesised speech has it) would make the
            # cepstral mean NaN; a fixed seed, reset per utterance, keeps it repeatable.
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", dither=True, seed=1)
        except (ImportError, RuntimeError, OSError) as exc:
            raise ProviderError(f"pocketsphinx could not load its model: {exc}") from None
        return decoder

    def _run(
        self, file: BinaryIO, filename: str | None, stop: threading.Event
    ) -> tuple[Transcript, float]:
        with AudioReader(file, filename, max_seconds=self._settings.max_seconds) as audio:
            decoder = self._decoder()
            try:
                utterances = _Utterances(decoder)
                samples = 0
                for chunk in audio.chunks():
                    if stop.is_set():
                        raise Cancelled("transcription cancelled")
                    samples += len(chunk) // 2
                    utterances.feed(chunk)
                utterances.finish()
            finally:
                self._idle.put(decoder)
        text = " ".join(segment.text for segment in utterances.segments)
        duration = round(samples / SAMPLE_RATE, 3)
        return Transcript(text, "en", duration, utterances.segments, utterances.words), duration

    def transcribe_blocking(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions, stop: threading.Event
    ) -> Transcript:
        language = options.language or self._settings.language or "en"
        if language.lower() != "en":
            raise InvalidRequest(
                f"pocketsphinx has only an English model, not '{language}': set [speech] "
                'provider = "whispercpp" or "openai" for other languages',
                param="language",
            )
        return self._run(file, filename, stop)[0]

    async def transcribe(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions
    ) -> Transcript:
        return await in_thread(lambda stop: self.transcribe_blocking(file, filename, options, stop))

    async def probe(self) -> str | None:
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as exc:
            return f"pocketsphinx is not installed: {exc}"
        return None

    async def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait()
            except queue.Empty:
                return
