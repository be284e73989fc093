"""One runner process and its channel, as the server sees it.

`RunnerProcess.start()` spawns `python -m roost.providers.runner` with one end of a Unix
socket pair and waits for its `ready` frame. A reader task hands each frame to the
request it names; when the channel ends (the process died, or closed it) every open
request gets the same error and `exited` resolves with how the process ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from roost.core.errors import ProviderError, RoostError, from_code
from roost.providers import exits
from roost.providers.runner import protocol

log = logging.getLogger("roost.runner")

STDERR_LINES = 20  # kept to explain a crash


def describe_exit(returncode: int | None) -> str:
    return exits.describe_exit(returncode, running="closed its channel")


class StartFailed(Exception):
    def __init__(self, reason: str, error: RoostError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error  # what the runner itself reported (a file it cannot load)


class RunnerProcess:
    def __init__(self, name: str, spec: dict[str, Any], python: str = sys.executable) -> None:
        self.name = name
        self._spec = spec
        self._python = python
        self.pid: int | None = None
        self.ready: dict[str, Any] = {}
        self.exited: asyncio.Future[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._open: dict[int, Callable[[dict[str, Any] | RoostError], None]] = {}
        self._next_id = 0
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: Callable[[str], RoostError] = lambda cause: ProviderError(cause)
        self._on_exit: Callable[[str], None] = lambda cause: None

    async def start(self, load_seconds: float) -> None:
        """Spawn and wait until the model is loaded; StartFailed if it never is."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                "roost.providers.runner",
                "--fd",
                str(theirs.fileno()),
                "--spec",
                json.dumps(self._spec),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            ours.close()
            raise StartFailed(f"cannot start the model process: {exc}") from exc
        finally:
            theirs.close()
        self.pid = self._proc.pid
        loop = asyncio.get_running_loop()
        self.exited = loop.create_future()
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        assert self._proc.stdout is not None
        self._tasks.append(asyncio.create_task(self._pump_output(self._proc.stdout)))
        timed_out = False
        try:
            async with asyncio.timeout(load_seconds):
                first = await protocol.read_frame(reader)
        except (TimeoutError, protocol.ProtocolError, OSError) as exc:
            first = None
            if isinstance(exc, TimeoutError):
                timed_out = True
                self.kill()
        if first is None or first.get("op") != "ready":
            cause = describe_exit(await self._wait_exit())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):  # the last words it printed
                    await asyncio.shield(self._tasks[0])
            detail = self.last_output()
            if first is not None and first.get("op") == "load_failed":
                error = str(first.get("error"))
                code = str(first.get("code") or ProviderError.code)
                raise StartFailed(error, from_code(code, error))
            if timed_out:
                raise StartFailed(f"model process did not load within {load_seconds:g} s")
            raise StartFailed(
                f"model process crashed while loading ({cause})" + (f": {detail}" if detail else "")
            )
        self.ready = first
        self._tasks.append(asyncio.create_task(self._read(reader)))

    def last_output(self) -> str:
        return self._stderr[-1] if self._stderr else ""

    async def _wait_exit(self) -> int | None:
        assert self._proc is not None
        try:
            async with asyncio.timeout(10):
                return await self._proc.wait()
        except TimeoutError:
            self.kill()
            return await self._proc.wait()

    async def _pump_output(self, stream: asyncio.StreamReader) -> None:
        """The runner's stdout and stderr (llama.cpp's own messages) into the log."""
        pending = b""
        while chunk := await stream.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-65536:]  # a line without end is cut, not hoarded
            for line in lines:
                self._log_line(line)
        self._log_line(pending)

    def _log_line(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip()[:2000]
        if text:
            self._stderr.append(text)
            log.info("[%s runner %s] %s", self.name, self.pid, text)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (frame := await protocol.read_frame(reader)) is not None:
                deliver = self._open.get(int(frame.get("id", -1)))
                if deliver is not None:
                    deliver(frame)
        except (protocol.ProtocolError, OSError, ValueError) as exc:
            log.error("model '%s': bad frame from its runner: %s", self.name, exc)
            self.kill()
        returncode = await self._wait_exit()
        if self._writer is not None:
            self._writer.close()
        cause = describe_exit(returncode)
        assert self.exited is not None
        if not self.exited.done():
            self.exited.set_result(cause)
        self._on_exit(cause)  # the supervisor counts the death before requests hear of it
        for deliver in list(self._open.values()):
            deliver(self._failure(cause))
        self._open.clear()

    def on_exit(
        self, callback: Callable[[str], None], failure: Callable[[str], RoostError]
    ) -> None:
        """`callback(cause)` when the process has ended, then each open request gets
        `failure(cause)`."""
        self._on_exit = callback
        self._failure = failure

    @property
    def alive(self) -> bool:
        return self.exited is not None and not self.exited.done()

    def open(self, deliver: Callable[[dict[str, Any] | RoostError], None]) -> int:
        self._next_id += 1
        self._open[self._next_id] = deliver
        return self._next_id

    def send(self, frame: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ProviderError(f"the process of model '{self.name}' is gone")
        self._writer.write(protocol.pack(frame))

    def finish(self, request_id: int, *, cancel: bool) -> None:
        if self._open.pop(request_id, None) is not None and cancel and self.alive:
            with contextlib.suppress(ProviderError, OSError):
                self.send({"op": "cancel", "id": request_id})

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def stop(self, grace: float = 5.0) -> None:
        """Close the channel (the runner exits on its own), then kill if it lingers."""
        if self._writer is not None:
            self._writer.close()
        if self._proc is not None:
            try:
                async with asyncio.timeout(grace):
                    await self._proc.wait()
            except TimeoutError:
                self.kill()
                await self._proc.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def rss_kib(self) -> int | None:
        if self.pid is None:
            return None
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None
