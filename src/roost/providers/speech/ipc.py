"""The channel between the server and a speech worker: length-prefixed JSON messages on a
Unix socket pair, a file descriptor passed alongside a job (SCM_RIGHTS), so an upload
reaches the worker without being copied through the socket.

Both ends are blocking sockets: the server side runs in a worker thread, as the engines
did before they moved out of the server's process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import struct
import time
from typing import Any

from roost.core.errors import (
    ConfigError,
    InvalidRequest,
    PayloadTooLarge,
    ProviderError,
    RoostError,
)
from roost.core.speech import Transcript, TranscriptSegment, Word

_HEADER = struct.Struct(">I")
MAX_MESSAGE = 256 * 1024 * 1024  # a transcript of hours of speech is a few MB
_ERRORS: dict[str, type[RoostError]] = {
    cls.code: cls for cls in (InvalidRequest, PayloadTooLarge, ProviderError, ConfigError)
}


class Closed(Exception):
    """The other end went away (the worker died, or the server did)."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def send(self, message: dict[str, Any], fd: int | None = None) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        framed = _HEADER.pack(len(data)) + data
        try:
            if fd is None:
                self.sock.sendall(framed)
                return
            sent = socket.send_fds(self.sock, [framed], [fd])
            if sent < len(framed):
                self.sock.sendall(framed[sent:])
        except OSError as exc:  # EPIPE, ECONNRESET: the other end is gone
            raise Closed(str(exc)) from None

    def receive(self, deadline: float | None = None) -> tuple[dict[str, Any], int | None]:
        """The next message and the descriptor that came with it. `deadline` is a
        time.monotonic() value; past it, TimeoutError."""
        fds: list[int] = []
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer)
                if size > MAX_MESSAGE:
                    raise Closed(f"a message of {size} bytes")
                if len(self._buffer) >= _HEADER.size + size:
                    data = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
                    del self._buffer[: _HEADER.size + size]
                    for extra in fds[1:]:
                        os.close(extra)
                    return json.loads(data), fds[0] if fds else None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.sock.settimeout(left)
            try:
                chunk, got, _flags, _address = socket.recv_fds(self.sock, 1 << 16, 1)
            except TimeoutError:
                raise
            except OSError as exc:
                raise Closed(str(exc)) from None
            finally:
                self.sock.settimeout(None)
            fds += got
            if not chunk:
                raise Closed("end of stream")
            self._buffer += chunk


def encode_transcript(transcript: Transcript) -> dict[str, Any]:
    return dataclasses.asdict(transcript)


def decode_transcript(data: dict[str, Any]) -> Transcript:
    return Transcript(
        data["text"],
        data["language"],
        data["duration"],
        [TranscriptSegment(**s) for s in data["segments"]],
        [Word(**w) for w in data["words"]],
    )


def encode_error(exc: RoostError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "param": getattr(exc, "param", None)}


def decode_error(data: dict[str, Any]) -> RoostError:
    cls = _ERRORS.get(data["code"], ProviderError)
    if cls is InvalidRequest:
        return InvalidRequest(data["message"], param=data.get("param"))
    return cls(data["message"])
