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
from collections.abc import Callable
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
    ) -> None:
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
        self._state = "loading"
        process = RunnerProcess(self.name, self._spec, self._python)
        started = time.monotonic()
        process.on_exit(lambda cause: self._exited(process, started, cause), self._crashed_error)
        try:
            await process.start(self._load_timeout)
        except asyncio.CancelledError:
            process.kill()
            await process.stop(grace=0)
            raise
        except StartFailed as exc:
            await process.stop(grace=0)
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
        self._state = "idle"


def _consume(task: asyncio.Task[RunnerProcess]) -> None:
    """A restart nobody waits for: its failure is logged and counted, not raised."""
    if not task.cancelled():
        task.exception()
