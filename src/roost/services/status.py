"""What `GET /api/status` reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from roost import __version__
from roost.core.records import User


@dataclass(frozen=True, slots=True)
class MemoryStatus:
    files_indexed: int = 0
    chunks: int = 0
    # "hybrid" (keyword and vector ranks fused) with `[memory] embedding_model`, else
    # "keyword" (bm25 / ts_rank).
    search: str = "keyword"


@dataclass(frozen=True, slots=True)
class HeartbeatStatus:
    enabled: bool = False
    last_run: str | None = None
    next_run: str | None = None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """A model roost runs in a process of its own (llama.cpp); remote ones are not listed."""

    name: str
    state: str  # idle | loading | ready | restarting | unavailable
    restarts: int
    error: str | None
    slots: int = 0  # requests it decodes at once ([models.NAME] parallel)
    slots_busy: int = 0
    queued: int = 0  # requests waiting for a slot
    expires_at: str | None = None  # RFC 3339: when it unloads if left idle (loaded only)


@dataclass(frozen=True, slots=True)
class ServerStatus:
    version: str
    uptime_seconds: int
    model: str
    memory: MemoryStatus = field(default_factory=MemoryStatus)
    heartbeat: HeartbeatStatus = field(default_factory=HeartbeatStatus)
    models: list[ModelStatus] = field(default_factory=list)


class StatusService:
    def __init__(
        self,
        default_model: str,
        memory: Callable[[], tuple[int, int]] = lambda: (0, 0),
        search_mode: str = "keyword",
        heartbeat: Callable[[User | None], HeartbeatStatus] | None = None,
        models: Callable[[], list[ModelStatus]] = list,
    ) -> None:
        self._models = models
        self._started = time.monotonic()
        self._model = default_model
        self._memory = memory  # (files indexed, chunks) of the default workspace
        self._search_mode = search_mode
        self._heartbeat = heartbeat  # the caller's last heartbeat run and the next tick

    def status(self, user: User | None = None) -> ServerStatus:
        files, chunks = self._memory()
        heartbeat = self._heartbeat(user) if self._heartbeat else HeartbeatStatus()
        return ServerStatus(
            version=__version__,
            uptime_seconds=int(time.monotonic() - self._started),
            model=self._model,
            memory=MemoryStatus(files_indexed=files, chunks=chunks, search=self._search_mode),
            heartbeat=heartbeat,
            models=self._models(),
        )
