"""`RunnerProvider`: a llama.cpp model served by its supervised runner process.

The same provider interface as any other model; every call becomes frames on the
runner's channel. Closing a stream early (a client hung up) sends `cancel`, which stops
the runner's generation at the next token. Before a runner starts, the model must fit in
the memory budget (memory.py); an idle one unloads when its keep-alive runs out
(lifetime.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator
from dataclasses import replace
from pathlib import Path
from typing import Any

from roost.config import LimitSettings, ModelSettings, RunnerSettings, Settings
from roost.core import keepalive, requester
from roost.core.errors import ProviderError, RoostError
from roost.providers import llamacpp_cpu
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Embeddings,
    ProviderEvent,
    RuntimeStatus,
)
from roost.providers.llamacpp import gguf_problem, model_path, with_template_path
from roost.providers.runner import memory, protocol
from roost.providers.runner.admission import Admission
from roost.providers.runner.lifetime import Lifetime
from roost.providers.runner.process import RunnerProcess
from roost.providers.runner.statefile import StateFile
from roost.providers.runner.supervisor import Supervisor

_END = object()


def _admission(name: str, model: ModelSettings, limits: LimitSettings, loopback: bool) -> Admission:
    """[limits] applied to this model's slots; an unset share is every slot on a loopback
    bind (one local user), half of them otherwise."""
    per_user = limits.slots_per_user
    if per_user is None:
        per_user = model.parallel if loopback else max(1, model.parallel // 2)
    return Admission(
        name,
        model.parallel,
        per_user=per_user,
        max_queued=limits.max_waiting,
        max_wait=limits.slot_wait_seconds,
    )


class RunnerProvider:
    def __init__(
        self,
        name: str,
        settings: ModelSettings,
        path: Path,
        *,
        home: Path | None = None,
        python: str = sys.executable,
        limits: LimitSettings | None = None,
        loopback: bool = True,
        runners: RunnerSettings | None = None,
        budget: memory.Budget | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._path = path
        self._statefile = StateFile.for_home(home) if home is not None else None
        spec = {
            "name": name,
            "path": str(path),
            "settings": settings.model_dump(mode="json"),
            # On an AMX CPU, whether a runner found extra buffer types safe for this file.
            "extra_bufts": llamacpp_cpu.verdict(path),
        }
        # Chats beyond the runner's slots wait here, not in the runner: the server knows
        # who asks, so it can be fair between users.
        self._admission = _admission(name, settings, limits or LimitSettings(), loopback)
        runners = runners or RunnerSettings()
        self._budget = budget or memory.Budget(runners.memory_limit_bytes)
        own = settings.keep_alive
        self._lifetime = Lifetime(
            keepalive.parse(own) if own is not None else runners.keep_alive_seconds,
            self._unload,
            self._changed,
        )
        # `python`: the runner's interpreter (tests pass a stand-in that crashes).
        self._supervisor = Supervisor(
            name,
            spec,
            on_change=self._changed,
            python=python,
            reserve=self._reserve,
            release=self._release,
        )

    @classmethod
    def from_settings(cls, name: str, model: ModelSettings, settings: Settings) -> RunnerProvider:
        path = model_path(name, model, settings)
        return cls(
            name,
            with_template_path(name, model, settings),
            path,
            home=settings.home,
            limits=settings.limits,
            loopback=settings.server.loopback,
            runners=settings.runners,
            budget=memory.Budget.for_home(settings.home, settings.runners.memory_limit_bytes),
        )

    def _changed(self) -> None:
        if self._statefile is not None:
            self._statefile.update(self.name, self.status())

    @property
    def context_window(self) -> int:
        return self._settings.n_ctx

    @property
    def path(self) -> Path:
        return self._path

    @property
    def loaded(self) -> bool:
        return self._supervisor.ready

    def status(self) -> RuntimeStatus:
        now = self._supervisor.status()
        needed = self.estimate()
        return replace(
            now,
            slots=self._admission.slots,
            slots_busy=self._admission.busy,
            queued=self._admission.queued,
            memory_bytes=needed.total if needed is not None else 0,
            expires_at=self._lifetime.expires_at() if now.state == "ready" else None,
        )

    # -- memory and lifetime (memory.Member) -------------------------------------------

    def estimate(self) -> memory.Estimate | None:
        return memory.estimate(self._path, self._settings.n_ctx, self._settings.parallel)

    async def _reserve(self) -> None:
        await self._budget.reserve(self, self.estimate())

    def _release(self) -> None:
        self._budget.release(self)

    def _unload(self) -> asyncio.Task[None] | None:
        return self._supervisor.unload()

    @property
    def last_used(self) -> float:
        return self._lifetime.last_used

    def evictable(self) -> bool:
        return self._supervisor.ready and self._lifetime.inflight == 0

    async def evict(self) -> None:
        stopping = self._lifetime.expire()
        if stopping is not None:
            await asyncio.shield(stopping)

    def rss_bytes(self) -> int:
        return self._supervisor.rss_bytes()

    async def unload(self) -> bool:
        """Unload now, or once the requests in flight are done (`roost stop`); False when
        no runner of it is loaded."""
        if self._supervisor.status().state not in ("loading", "ready", "restarting"):
            return False
        stopping = self._lifetime.stop()
        if stopping is not None:
            await asyncio.shield(stopping)
        return True

    async def probe(self) -> str | None:
        """The GGUF file is there and readable; loading it is the first request's job."""
        return gguf_problem(self._path)

    async def load(self) -> RunnerProcess:
        """Start the runner now (it loads the model); concurrent callers share the start."""
        self._lifetime.begin()
        try:
            return await self._supervisor.process()
        finally:
            self._lifetime.end()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        frame = {"op": "chat", "request": protocol.encode_request(request)}
        # In flight from now: waiting for a slot too, so the model does not unload.
        self._lifetime.begin(request.options.keep_alive, sets=True)
        try:
            async with self._admission.slot(requester.current.get()):
                async for item in self._call(frame):
                    yield protocol.decode_event(item)
        finally:
            stopping = self._lifetime.end()
        if stopping is not None:  # keep_alive 0: the reply ends once the runner is gone
            await asyncio.shield(stopping)

    async def _call(self, frame: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """Send one request; yield its event frames until `end`, raising its error.

        A request sent to a runner that died before it said `accepted` (it reached the
        channel in the moment between the death and the server noticing) goes once more
        to the runner that replaces it: that one never saw it, so nothing is repeated."""
        for attempt in (1, 2):
            process = await self._supervisor.process()
            queue: asyncio.Queue[dict[str, Any] | RoostError] = asyncio.Queue()
            request_id = process.open(queue.put_nowait)
            accepted = ended = False
            try:
                try:
                    process.send({**frame, "id": request_id})
                except ProviderError:
                    ended = True
                    if attempt == 2:
                        raise
                    continue  # its channel closed already: the next runner
                while True:
                    item = await queue.get()
                    if isinstance(item, RoostError):
                        ended = True
                        if not accepted and attempt == 1:
                            break  # unseen: once more, on the next runner
                        raise item
                    kind = item.get("ev")
                    if kind == "accepted":
                        accepted = True
                    elif kind == "end":
                        ended = True
                        return
                    elif kind == "error":
                        ended = True
                        raise protocol.decode_error(item)
                    else:
                        yield item
            finally:
                process.finish(request_id, cancel=not ended)

    async def _result(self, frame: dict[str, Any]) -> Any:
        value: Any = None
        self._lifetime.begin()
        try:
            async for item in self._call(frame):
                if item.get("ev") == "result":
                    value = item["value"]
        finally:
            self._lifetime.end()
        return value

    async def render_prompt(self, request: ChatRequest) -> str:
        """The prompt this request gives the model, chat template applied."""
        frame = {"op": "render", "request": protocol.encode_request(request)}
        return str(await self._result(frame))

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        frame = {"op": "count", "messages": protocol.encode_messages(messages)}
        return int(await self._result(frame))

    async def embed(self, texts: list[str]) -> Embeddings:
        value = await self._result({"op": "embed", "texts": texts})
        return Embeddings([list(map(float, v)) for v in value["vectors"]], int(value["tokens"]))

    async def close(self) -> None:
        self._lifetime.close()
        await self._supervisor.close()
        if self._statefile is not None:
            self._statefile.remove(self.name)
