"""Whether a local model fits in memory, checked before its runner starts.

A model needs its weights (the GGUF's bytes on disk, every part of a split file), its KV
cache (`parallel` x `n_ctx` tokens at f16, from the GGUF's shape) and an allowance for
the runner itself: Python with llama.cpp loaded, and llama.cpp's compute buffers.

The allowance was measured: SmolLM2-135M's runner takes 56 MiB before loading anything
and 94-97 MiB beyond its weights and KV cache after a chat, whatever its n_ctx (512 to
8192) and parallel (1 to 4). Compute buffers grow with the model (its embedding width,
vocabulary and batch), so the allowance is RUNTIME_BYTES plus COMPUTE_SHARE of the
weights, at least COMPUTE_MIN_BYTES.

The budget is `[runners] memory_limit`, or when unset the memory the machine has
available plus what roost's own runners use now. Models loaded or loading count with
their estimates. A model that does not fit first unloads idle models, least recently used
first (as Ollama does); if it still does not fit it is refused with 503, giving both
numbers. Remote models are never counted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from roost.core import sizes
from roost.core.errors import ConfigError, Unavailable
from roost.providers import gguf_info

log = logging.getLogger("roost.runner")

RUNTIME_BYTES = 64 * 2**20
COMPUTE_MIN_BYTES = 64 * 2**20
COMPUTE_SHARE = 0.10
RETRY_SECONDS = 30  # Retry-After of a refusal: idle models may expire by then

_budgets: dict[Path, Budget] = {}


@dataclass(frozen=True, slots=True)
class Estimate:
    weights: int
    kv: int
    runtime: int
    n_ctx: int
    parallel: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.runtime

    def describe(self) -> str:
        """`5.2 GiB (4.1 GiB weights + 0.9 GiB context for 4 x 4096 tokens + 0.2 GiB
        runtime)`"""
        h = sizes.human
        return (
            f"{h(self.total)} ({h(self.weights)} weights + {h(self.kv)} context for "
            f"{self.parallel} x {self.n_ctx} tokens + {h(self.runtime)} runtime)"
        )


def estimate(path: Path, n_ctx: int, parallel: int) -> Estimate | None:
    """None when the file cannot be read: loading it then says why, naming the model."""
    try:
        info = gguf_info.read(path)
    except ConfigError:
        return None
    per_token = info.kv_bytes_per_token() or 0  # a file that does not say: weights only
    compute = max(COMPUTE_MIN_BYTES, int(info.size * COMPUTE_SHARE))
    return Estimate(
        info.size, per_token * n_ctx * parallel, RUNTIME_BYTES + compute, n_ctx, parallel
    )


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux); None where there is no such file."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


class Member(Protocol):
    """A local model as the budget sees it (RunnerProvider)."""

    name: str

    @property
    def last_used(self) -> float: ...

    def evictable(self) -> bool:
        """Loaded, and no request in flight or waiting for it."""
        ...

    async def evict(self) -> None:
        """Unload now; returns once its process has exited."""
        ...

    def rss_bytes(self) -> int: ...


class Budget:
    """The memory all local models of one roost home share in this process."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._held: dict[Member, int] = {}  # loaded (or loading) models and their estimates
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @classmethod
    def for_home(cls, home: Path, limit: int | None) -> Budget:
        budget = _budgets.setdefault(home, cls(limit))
        budget.limit = limit  # the settings of the latest server on this home
        return budget

    def _locked(self) -> asyncio.Lock:
        """One reservation at a time (a lock of this event loop: tests run several)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def used(self) -> int:
        return sum(self._held.values())

    def room(self) -> tuple[int, int] | None:
        """(limit, used by loaded models); None when the limit is unknown (no memory_limit
        and no /proc/meminfo)."""
        used = self.used()
        if self.limit is not None:
            return self.limit, used
        available = available_bytes()
        if available is None:
            return None
        # Memory the runners hold now would be free again if they were unloaded.
        return available + sum(m.rss_bytes() for m in self._held), used

    async def reserve(self, member: Member, needed: Estimate | None) -> None:
        """Count `member` as loaded, unloading idle models first if it does not fit;
        Unavailable when it cannot fit."""
        async with self._locked():
            tried: set[int] = set()
            while True:
                room = self.room()
                total = needed.total if needed is not None else 0
                if room is None or total <= room[0] - room[1]:
                    self._held[member] = total
                    return
                victims = [
                    m
                    for m in self._held
                    if m is not member and id(m) not in tried and m.evictable()
                ]
                if not victims:
                    assert needed is not None
                    raise Unavailable(self._refusal(member.name, needed, *room), RETRY_SECONDS)
                victim = min(victims, key=lambda m: m.last_used)
                tried.add(id(victim))
                log.info(
                    "unloading idle model '%s' to make room for '%s'", victim.name, member.name
                )
                await victim.evict()

    def release(self, member: Member) -> None:
        self._held.pop(member, None)

    @staticmethod
    def _refusal(name: str, needed: Estimate, limit: int, used: int) -> str:
        h = sizes.human
        free = max(0, limit - used)
        return (
            f"model '{name}' needs {needed.describe()} but {h(free)} is free "
            f"(limit {h(limit)}, {h(used)} used by loaded models); unload a model, lower its "
            "n_ctx or parallel, or raise [runners] memory_limit"
        )
