"""The speech worker process: `python -m roost.providers.speech.worker FD SPEC`.

It decodes and transcribes one upload at a time, for the server at the other end of the
socket FD, under an address-space limit: a file that decodes to gigabytes (or a native
crash) costs this process and that one request, never the server. It runs the in-process
engines (pocketsphinx.py, whispercpp.py) as they are, keeping their loaded models between
jobs, and exits when the server closes the socket.
"""

from __future__ import annotations

import io
import json
import os
import resource
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from roost.config import SpeechSettings
from roost.core.errors import PayloadTooLarge, ProviderError, RoostError
from roost.core.speech import SpeechOptions, Transcript
from roost.providers.speech.audio import AudioReader  # PyAV: loaded before the limit is set
from roost.providers.speech.ipc import Channel, Closed, encode_error, encode_transcript
from roost.providers.speech.pocketsphinx import PocketSphinxProvider
from roost.providers.speech.whispercpp import WhisperCppProvider

_NEVER = threading.Event()  # jobs are not cancelled from inside: the server kills us


class _Positional(io.RawIOBase):
    """The upload through its descriptor with pread: the server's file offset (shared
    with a passed descriptor) is never moved."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._fd, len(buffer), self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position}.get(whence)
        if base is None:
            base = os.fstat(self._fd).st_size
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class Engine:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.settings = SpeechSettings.model_validate(spec["speech"])
        self.memory_mb: int = spec["memory_mb"]
        self._engine: PocketSphinxProvider | WhisperCppProvider | None = None
        if spec["kind"] == "pocketsphinx":
            self._engine = PocketSphinxProvider(self.settings)
        elif spec["kind"] == "whispercpp":
            path = spec.get("model_path")
            self._engine = WhisperCppProvider(self.settings, Path(path) if path else None)

    def run(self, job: dict[str, Any], file: BinaryIO) -> Transcript | None:
        filename: str | None = job.get("filename")
        if self._engine is None:  # "check": open the file only (the openai engine's pre-check)
            with AudioReader(file, filename, max_seconds=self.settings.max_seconds):
                return None
        options = SpeechOptions(**job["options"])
        return self._engine.transcribe_blocking(file, filename, options, _NEVER)


def handle(engine: Engine, job: dict[str, Any], fd: int | None) -> tuple[dict[str, Any], bool]:
    """The reply to one job, and whether this process should end after sending it."""
    if fd is None:
        return {"error": encode_error(ProviderError("a speech job came without its file"))}, False
    name = (job.get("filename") or "the upload")[:200]
    try:
        with io.BufferedReader(_Positional(fd), 1 << 16) as file:
            transcript = engine.run(job, file)
    except RoostError as exc:
        return {"error": encode_error(exc)}, False
    except MemoryError:
        # The address-space limit: the input needed more than the worker may have. The
        # process may be left fragmented or half-initialised in native code; start afresh.
        refused = PayloadTooLarge(
            f"'{name}' needs more memory to decode than the speech process may use "
            f"({engine.memory_mb} MB, the [speech] worker_memory_mb setting)"
        )
        return {"error": encode_error(refused)}, True
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        failed = ProviderError(f"the speech engine failed on '{name}': {exc!r}"[:500])
        return {"error": encode_error(failed)}, True
    finally:
        os.close(fd)
    return {"transcript": None if transcript is None else encode_transcript(transcript)}, False


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve(channel: Channel, spec: dict[str, Any]) -> None:
    engine = Engine(spec)
    # After the imports: the limit is for the work, and a limit too small to start with
    # shows up as a refused job, not as a worker that cannot import its engine.
    _limit_memory(spec["memory_mb"])
    channel.send({"ready": os.getpid()})
    while True:
        try:
            job, fd = channel.receive()
        except Closed:
            return  # the server closed its end, or is gone
        try:
            channel.send({"started": True})
        except Closed:
            return
        reply, leave = handle(engine, job, fd)
        if leave:
            reply["leaving"] = True
        try:
            channel.send(reply)
        except Closed:
            return
        if leave:
            return


def _exit_with_parent() -> None:
    # Idle, the closed socket ends this process; in a long job, this does: a server that
    # was killed leaves no worker transcribing for nobody.
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def main(argv: list[str]) -> None:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    sock = socket.socket(fileno=int(argv[1]))
    try:
        serve(Channel(sock), json.loads(argv[2]))
    finally:
        sock.close()


if __name__ == "__main__":
    main(sys.argv)
