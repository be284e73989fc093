"""Keeps one model's runner process alive: start on demand, restart with backoff.

States: `idle` (never started, or stopped), `loading`, `ready`, `restarting` (a runner
died; the next one starts after a backoff), `unavailable` (it died while loading
`MAX_START_FAILURES` times in a row: requests get 503 with the reason until
`UNAVAILABLE_SECONDS` have passed, then one request may try again; a runner that refuses
its model with `Unavailable`, e.g. a chat template it cannot run, makes it so at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from roost.core.errors import ProviderError, Unavailable
from roost.providers import llamacpp_cpu
from roost.providers.base import RuntimeStatus
from roost.providers.runner.process import RunnerProcess, StartFailed

log = logging.getLogger("roost.runner")

State = Literal["idle", "loading", "ready", "restarting", "unavailable"]

MAX_START_FAILURES = 3
UNAVAILABLE_SECONDS = 60.0
BACKOFF_FIRST = 0.25  # seconds before the first restart; doubles per crash in a row
BACKOFF_MAX = 30.0
HEALTHY_SECONDS = 30.0  # a runner that lived this long resets the crash streak


class Supervisor:
    def __init__(
        self,
        name: str,
        spec: dict[str, Any],
        *,
        load_timeout: float = 600.0,
        on_change: Callable[[], None] = lambda: None,
        python: str = sys.executable,
        reserve: Callable[[], Awaitable[None]] | None = None,
        release: Callable[[], None] = lambda: None,
    ) -> None:
        """`reserve`: awaited before a runner starts (not before a restart after a crash:
        the crashed one's memory is still counted), raises when the model may not load
        (memory.Budget); `release` once no runner of it is loaded or starting."""
        self.name = name
        self._python = python
        self._on_change = on_change
        self._spec = spec
        self._load_timeout = load_timeout
        self._process: RunnerProcess | None = None
        self._starting: asyncio.Task[RunnerProcess] | None = None
        self._state_value: State = "idle"
        self._restarts = 0
        self._last_error: str | None = None
        self._crash_streak = 0
        self._start_failures = 0
        self._unavailable_until = 0.0
        self._closed = False
        self._reserve = reserve
        self._release = release
        self._reserved = False
        self._stopping: asyncio.Task[None] | None = None  # an unloaded runner exiting
        self._retiring: RunnerProcess | None = None

    @property
    def _state(self) -> State:
        return self._state_value

    @_state.setter
    def _state(self, state: State) -> None:
        self._state_value = state
        self._on_change()

    def status(self) -> RuntimeStatus:
        process = self._process
        rss = process.rss_kib() if process is not None and process.alive else None
        return RuntimeStatus(
            self._state,
            process.pid if process is not None and process.alive else None,
            self._restarts,
            self._last_error,
            rss * 1024 if rss is not None else None,
        )

    @property
    def ready(self) -> bool:
        return self._state == "ready"

    def rss_bytes(self) -> int:
        """What its runner holds now (one being unloaded too: until it has exited)."""
        total = 0
        for process in (self._process, self._retiring):
            if process is not None and process.alive:
                total += (process.rss_kib() or 0) * 1024
        return total

    async def process(self) -> RunnerProcess:
        """The live runner, started (or waited for) if need be."""
        process = self._process
        if process is not None and process.alive:
            return process
        if self._closed:
            raise ProviderError(f"model '{self.name}' is shutting down")
        if self._state == "unavailable":
            if time.monotonic() < self._unavailable_until:
                raise Unavailable(f"model '{self.name}' is unavailable: {self._last_error}")
            self._start_failures = MAX_START_FAILURES - 1  # one more try
        if self._starting is None or self._starting.done():
            self._starting = asyncio.create_task(self._start(delay=0.0))
        # shield: one caller hanging up must not cancel the start others wait for
        return await asyncio.shield(self._starting)

    async def _start(self, delay: float) -> RunnerProcess:
        if delay:
            await asyncio.sleep(delay)
        if self._stopping is not None:  # the unloaded runner's memory is free first
            await asyncio.shield(self._stopping)
        if not self._reserved and self._reserve is not None:
            await self._reserve()
        self._reserved = True
        self._state = "loading"
        process = RunnerProcess(self.name, self._spec, self._python)
        started = time.monotonic()
        process.on_exit(lambda cause: self._exited(process, started, cause), self._crashed_error)
        try:
            await process.start(self._load_timeout)
        except asyncio.CancelledError:
            process.kill()
            await process.stop(grace=0)
            self._free()
            raise
        except StartFailed as exc:
            await process.stop(grace=0)
            self._free()
            self._start_failures += 1
            # A runner that refused the model itself (its chat template, say) would refuse
            # it again: unavailable at once, rather than after more loads.
            refused = isinstance(exc.error, Unavailable)
            self._last_error = exc.reason.removeprefix(f"model '{self.name}': ")
            if self._start_failures >= MAX_START_FAILURES or refused:
                self._state = "unavailable"
                self._unavailable_until = time.monotonic() + UNAVAILABLE_SECONDS
                log.error("model '%s' is unavailable: %s", self.name, self._last_error)
                raise Unavailable(
                    f"model '{self.name}' is unavailable: {self._last_error}"
                ) from None
            self._state = "idle"
            log.error("model '%s' failed to start: %s", self.name, exc.reason)
            raise exc.error or ProviderError(f"model '{self.name}': {exc.reason}") from None
        if process.ready.get("extra_bufts") is not None:
            # Later runners of this file (restarts, other models on it) skip the probe.
            safe = bool(process.ready["extra_bufts"])
            self._spec["extra_bufts"] = safe
            llamacpp_cpu.remember(Path(self._spec["path"]), safe)
        log.info(
            "model '%s' runner pid %s ready in %.2f s",
            self.name,
            process.pid,
            time.monotonic() - started,
        )
        self._start_failures = 0
        self._process = process
        self._state = "ready"
        return process

    def _free(self) -> None:
        if self._reserved:
            self._reserved = False
            self._release()

    def unload(self) -> asyncio.Task[None] | None:
        """Stop the runner because it is not needed now (its keep-alive ran out, or
        another model needs the memory): `idle`, not a crash, so no restart. The caller
        checked that no request uses it; one arriving from now on starts a new runner
        once this one has exited. The task ends when it has; None when nothing was
        loaded."""
        if self._closed or self._stopping is not None:
            return self._stopping
        process, self._process = self._process, None
        starting = self._starting
        if process is None or not process.alive:
            if self._state != "restarting" or starting is None:
                return None
            starting.cancel()  # a crashed runner's restart nobody waits for
            self._starting = None
        self._stopping = asyncio.create_task(self._stop(process))
        self._state = "idle"
        return self._stopping

    async def _stop(self, process: RunnerProcess | None) -> None:
        self._retiring = process
        try:
            if process is not None:
                log.info("model '%s' unloaded (runner pid %s)", self.name, process.pid)
                await process.stop()
        finally:
            self._retiring = None
            self._stopping = None
            if self._process is None and (self._starting is None or self._starting.done()):
                self._free()
            self._on_change()

    def _crashed_error(self, cause: str) -> ProviderError:
        if self._closed:
            return ProviderError(f"model '{self.name}' was stopped ({cause})")
        return ProviderError(f"model process crashed ({cause}); restarted")

    def _exited(self, process: RunnerProcess, started: float, cause: str) -> None:
        """A ready runner's process ended: count it, and start the next after a backoff."""
        if self._closed or self._process is not process:
            return
        self._process = None
        self._restarts += 1
        self._last_error = f"model process crashed ({cause})"
        if time.monotonic() - started >= HEALTHY_SECONDS:
            self._crash_streak = 0
        self._crash_streak += 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._crash_streak - 1))
        log.error(
            "model '%s' runner pid %s died (%s); restarting in %.2f s",
            self.name,
            process.pid,
            cause,
            delay,
        )
        self._state = "restarting"
        # Restart at once (after the backoff) so the next request finds the model loaded.
        self._starting = asyncio.create_task(self._start(delay))
        self._starting.add_done_callback(_consume)

    async def close(self) -> None:
        self._closed = True
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        process, self._process = self._process, None
        if process is not None:
            await process.stop()
        if self._stopping is not None:
            with contextlib.suppress(BaseException):
                await self._stopping
        self._free()
        self._state = "idle"


def _consume(task: asyncio.Task[RunnerProcess]) -> None:
    """A restart nobody waits for: its failure is logged and counted, not raised."""
    if not task.cancelled():
        task.exception()
