"""Inputs for the speech worker's tests: a long recording, and a crafted FLAC file that is
small on disk and enormous once decoded to 16 kHz.

STREAMINFO says the stream is 4 Hz, of unknown length (total samples 0) and in blocks of
65,535 samples, so the container has no duration for the length check to read. Each frame
is one block: 65,535 samples, which at 4 Hz is 4.5 hours; resampling one frame to 16 kHz
makes 262 million samples at once, before anything can count them: decoding this file
in-process took the RSS to 5.5 GB (PyAV 18, FFmpeg 7). The samples are stored verbatim
(random noise), so the file is about as big as a voice memo.

Written bit by bit from the FLAC format (RFC 9639), with the frame CRCs FFmpeg checks.
"""

from __future__ import annotations

import io
import random
import wave
from functools import cache
from pathlib import Path

from roost.core.speech import BYTES_PER_SECOND, SAMPLE_RATE
from tests.audio import FOX, TWO_SENTENCES

BOMB_RATE = 4  # Hz; STREAMINFO allows 1 and up
BLOCK = 65_535  # samples per frame: the largest a frame header can say
BITS = 8  # bits per sample


class _Bits:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def put(self, value: int, width: int) -> None:
        self._acc = (self._acc << width) | (value & ((1 << width) - 1))
        self._n += width
        while self._n >= 8:
            self._n -= 8
            self.out.append((self._acc >> self._n) & 0xFF)
        self._acc &= (1 << self._n) - 1

    def align(self) -> None:
        if self._n:
            self.put(0, 8 - self._n)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _streaminfo() -> bytes:
    bits = _Bits()
    bits.put(1, 1)  # the last metadata block
    bits.put(0, 7)  # STREAMINFO
    bits.put(34, 24)
    bits.put(BLOCK, 16)  # min block size
    bits.put(BLOCK, 16)  # max block size
    bits.put(0, 24)  # min frame size: unknown
    bits.put(0, 24)  # max frame size: unknown
    bits.put(BOMB_RATE, 20)
    bits.put(0, 3)  # one channel
    bits.put(BITS - 1, 5)
    bits.put(0, 36)  # total samples: unknown
    bits.put(0, 128)  # no MD5
    return bytes(bits.out)


def _frame(number: int, noise: random.Random) -> bytes:
    bits = _Bits()
    bits.put(0b11111111111110, 14)  # sync
    bits.put(0, 1)
    bits.put(0, 1)  # fixed block size
    bits.put(0b0111, 4)  # block size: 16 bits at the end of the header
    bits.put(0b0000, 4)  # sample rate: STREAMINFO's
    bits.put(0b0000, 4)  # mono
    bits.put(0b000, 3)  # sample size: STREAMINFO's
    bits.put(0, 1)
    assert number < 128  # UTF-8 coded frame number: one byte
    bits.put(number, 8)
    bits.put(BLOCK - 1, 16)
    bits.put(_crc8(bytes(bits.out)), 8)
    bits.put(0, 1)  # subframe: padding bit
    bits.put(0b000001, 6)  # VERBATIM
    bits.put(0, 1)  # no wasted bits
    bits.out += noise.randbytes(BLOCK * BITS // 8)
    bits.align()
    bits.put(_crc16(bytes(bits.out)), 16)
    return bytes(bits.out)


def flac_bomb(frames: int = 3) -> bytes:
    """About 64 KB a frame; each frame is 4.5 hours of sound."""
    noise = random.Random(18)
    return b"fLaC" + _streaminfo() + b"".join(_frame(n, noise) for n in range(frames))


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as given:
        assert (given.getframerate(), given.getnchannels()) == (SAMPLE_RATE, 1)
        return given.readframes(given.getnframes())


@cache
def long_recording(seconds: float) -> bytes:
    """A 16 kHz WAV of the spoken fixtures one after another, with pauses: PocketSphinx
    takes seconds over a minute of it, long enough to interrupt."""
    pause = b"\0" * (BYTES_PER_SECOND // 2)
    pieces = [_pcm(p) + pause for p in (FOX, TWO_SENTENCES)]
    pcm = bytearray()
    while len(pcm) < seconds * BYTES_PER_SECOND:
        for piece in pieces:
            pcm += piece
    out = io.BytesIO()
    with wave.open(out, "wb") as made:
        made.setnchannels(1)
        made.setsampwidth(2)
        made.setframerate(SAMPLE_RATE)
        made.writeframes(bytes(pcm))
    return out.getvalue()
