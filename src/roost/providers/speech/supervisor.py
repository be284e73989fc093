"""Speech worker processes, seen from the server: started on first use, kept between jobs
(loading PocketSphinx takes longer than most transcriptions), replaced when they die.

Everything here is blocking and runs in a worker thread per job, so the pool works from
any event loop (the CLI and the tests run one per call). A job takes a slot (at most
`size` processes at once), an idle process or a new one, and waits for the answer until
[speech] worker_timeout; past it, or when the caller is cancelled, the process is killed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from roost.config import SpeechSettings
from roost.core.errors import ProviderError
from roost.core.speech import Transcript
from roost.providers.exits import describe_exit
from roost.providers.speech.base import Cancelled
from roost.providers.speech.ipc import Channel, Closed, decode_error, decode_transcript

START_SECONDS = 60.0  # importing PyAV and an engine on a busy machine
STOP_SECONDS = 5.0
WORKER_MODULE = "roost.providers.speech.worker"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    kind: str  # "pocketsphinx", "whispercpp", or "check" (open the file only)
    speech: SpeechSettings
    model_path: Path | None = None

    @property
    def memory_mb(self) -> int:
        extra = 0
        if self.model_path is not None and self.model_path.is_file():
            extra = self.model_path.stat().st_size // (1024 * 1024)  # weights live in memory
        return self.speech.worker_memory_mb + extra

    def argument(self) -> str:
        speech = self.speech.model_dump(mode="json", exclude={"api_key", "api_key_env"})
        path = None if self.model_path is None else str(self.model_path)
        return json.dumps(
            {"kind": self.kind, "speech": speech, "model_path": path, "memory_mb": self.memory_mb}
        )


class _Process:
    """One worker process and the server's end of its socket pair."""

    def __init__(self, argument: str, deadline: float) -> None:
        parent, child = socket.socketpair()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(child.fileno()), argument],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # stderr stays: tracebacks reach the server log
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.pid = self.popen.pid
        self.channel = Channel(parent)
        try:
            self.channel.receive(deadline)
        except (Closed, TimeoutError):
            cause = self.kill()
            raise ProviderError(
                f"the speech process did not start ({cause}); see the server log"
            ) from None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> str:
        """Kill it (if it still runs) and reap it; how it ended."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.channel.sock.close()
        return describe_exit(self.popen.wait())

    def stop(self) -> None:
        """Closing its socket is its signal to exit."""
        self.channel.sock.close()
        try:
            self.popen.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()


class _Ticket:
    """One job, as the event loop sees it: cancelling kills the process it runs in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cancelled = False
        self._process: _Process | None = None

    def attach(self, process: _Process | None) -> None:
        with self._lock:
            self._process = process
            if process is not None and self.cancelled:
                process.popen.kill()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._process is not None:
                self._process.popen.kill()


class WorkerPool:
    def __init__(self, spec: WorkerSpec, size: int) -> None:
        self.spec = spec
        self._argument = spec.argument()
        self.timeout = spec.speech.worker_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Process] = []
        self._closed = False
        self.started = 0  # processes started so far
        self.pids: set[int] = set()  # of the processes alive now

    async def transcribe(self, file: BinaryIO, job: dict[str, Any]) -> Transcript | None:
        ticket = _Ticket()
        task = asyncio.ensure_future(asyncio.to_thread(self._job, file, job, ticket))
        task.add_done_callback(_retrieve)
        try:
            reply = await asyncio.shield(task)
        except asyncio.CancelledError:
            ticket.cancel()
            raise
        return None if reply is None else decode_transcript(reply)

    def _job(self, file: BinaryIO, job: dict[str, Any], ticket: _Ticket) -> Any:
        name = (job.get("filename") or "the upload")[:200]
        with _descriptor(file) as fd:
            while not self._slots.acquire(timeout=0.2):
                if ticket.cancelled:
                    raise Cancelled("transcription cancelled")
            try:
                return self._run(fd, job, name, ticket)
            finally:
                self._slots.release()

    def _run(self, fd: int, job: dict[str, Any], name: str, ticket: _Ticket) -> Any:
        for attempt in range(2):
            process, was_idle = self._take(fresh=attempt > 0)
            ticket.attach(process)
            deadline = time.monotonic() + self.timeout  # from here: starting is not the job's
            accepted = False
            try:
                process.channel.send(job, fd)
                process.channel.receive(deadline)  # "started": it has the job
                accepted = True
                reply, _ = process.channel.receive(deadline)
            except TimeoutError:
                self._discard(process, kill=True)
                raise ProviderError(
                    f"transcribing '{name}' took longer than {self.timeout:g} s (the [speech] "
                    "worker_timeout setting); its speech process was stopped"
                ) from None
            except Closed:
                cause = self._discard(process, kill=True)
                if ticket.cancelled:
                    raise Cancelled("transcription cancelled") from None
                if was_idle and not accepted:
                    continue  # it had died while idle: the job never reached it
                raise ProviderError(
                    f"the speech process crashed ({cause}) while transcribing '{name}'; "
                    "the next request starts a new one"
                ) from None
            except BaseException:
                self._discard(process, kill=True)
                raise
            finally:
                ticket.attach(None)
            if reply.get("leaving"):
                self._discard(process, kill=False)
            else:
                self._release(process)
            if "error" in reply:
                raise decode_error(reply["error"])
            return reply["transcript"]
        raise AssertionError("unreachable")

    def _take(self, fresh: bool) -> tuple[_Process, bool]:
        """An idle process (True) or a new one (False)."""
        with self._lock:
            while self._idle and not fresh:
                process = self._idle.pop()
                if process.alive():
                    return process, True
                self.pids.discard(process.pid)
                process.kill()  # reaps it
            if self._closed:
                raise ProviderError("speech is shutting down")
        process = _Process(self._argument, time.monotonic() + START_SECONDS)
        with self._lock:
            self.started += 1
            self.pids.add(process.pid)
        return process, False

    def _release(self, process: _Process) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(process)
                return
        self._discard(process, kill=False)

    def _discard(self, process: _Process, kill: bool) -> str:
        with self._lock:
            self.pids.discard(process.pid)
        if kill:
            return process.kill()
        process.stop()
        return describe_exit(process.popen.returncode)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self.pids.difference_update(p.pid for p in idle)
        for process in idle:
            process.stop()


@contextmanager
def _descriptor(file: BinaryIO) -> Iterator[int]:
    """A descriptor the worker can read the upload from: the file's own, or a temporary
    copy of an in-memory one (BytesIO)."""
    try:
        file.flush()  # a spooled upload's last bytes may still sit in a buffer
        fd = file.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation
        pass
    else:
        yield fd
        return
    with tempfile.TemporaryFile() as copy:
        position = file.tell()
        file.seek(0)
        shutil.copyfileobj(file, copy, 1 << 20)
        file.seek(position)
        copy.flush()
        yield copy.fileno()


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A cancelled caller never reads the result; reading it here keeps asyncio quiet.
    if not task.cancelled():
        task.exception()
