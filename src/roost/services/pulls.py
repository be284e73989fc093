"""Pulls started over HTTP (admins only): one per model name however many ask, each in a
child process (providers/store/pull_process.py), at most `limit` at once.

A second request for a name being pulled follows the running pull instead of starting
another. A pull whose last follower leaves (its client hung up) is cancelled: its child
is terminated, the partial file stays, and the next pull resumes it. A finished pull is
usable at once: the catalog re-reads the store's manifest at the next request.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from roost.core.errors import Conflict, NotFound, RateLimited, RoostError
from roost.providers.registry import ProviderRegistry
from roost.providers.store import names, pull_process
from roost.providers.store.manifest import StoredModel
from roost.providers.store.progress import PullProgress

log = logging.getLogger(__name__)

__all__ = ["PullProgress", "PullService", "PullWatch", "StoredModel"]

LIMIT = 2  # pulls at once: each is a process and a share of the disk and the network
RETRY_SECONDS = 10  # what a 429 tells the client: a pull takes a while

Runner = Callable[[str, Path, Callable[[PullProgress], None]], Awaitable[StoredModel]]


def _in_child(
    name: str, root: Path, on_progress: Callable[[PullProgress], None]
) -> Awaitable[StoredModel]:
    return pull_process.run(name, root, on_progress=on_progress, python=sys.executable)


class _Pull:
    """One running pull: what it said last, who follows it, how it ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.started = asyncio.get_running_loop().create_future()  # past resolving, or ended
        self.progressed = False  # past resolving: the Hub knew the name
        self.watches: set[PullWatch] = set()
        self.latest: PullProgress | None = None  # for a follower who joins late
        self.model: StoredModel | None = None
        self.error: RoostError | None = None

    @property
    def done(self) -> bool:
        return self.model is not None or self.error is not None

    def publish(self, event: PullProgress) -> None:
        if event.status != "resolving" and not self.progressed:
            self.progressed = True
            self.started.set_result(None)
        self.latest = event
        for watch in self.watches:
            watch.put(event)

    def end(self, model: StoredModel | None, error: RoostError | None) -> None:
        self.model, self.error = model, error
        if not self.started.done():
            self.started.set_result(None)
        for watch in self.watches:
            watch.wake()


class PullWatch:
    """One follower of a pull: its progress in order (a burst of downloading progress for
    one file coalesced into the latest), then the stored model or the pull's error."""

    def __init__(self, pull: _Pull, leave: Callable[[_Pull, PullWatch], None]) -> None:
        self.name = pull.name
        self._pull = pull
        self._leave = leave
        self._items: deque[PullProgress] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        if pull.latest is not None and pull.latest.status != "resolving":
            self._items.append(pull.latest)

    def put(self, event: PullProgress) -> None:
        last = self._items[-1] if self._items else None
        if (
            last is not None
            and last.status == event.status == "downloading"
            and last.file == event.file
        ):
            self._items[-1] = event
        else:
            self._items.append(event)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def started(self) -> None:
        """Wait until the Hub said what the name is: an unknown repo or quantization, a bad
        token or no network raise here, before any answer is sent."""
        await asyncio.shield(self._pull.started)
        if self._pull.error is not None and not self._pull.progressed:
            raise self._pull.error

    async def next(self) -> PullProgress | None:
        """The next progress; None once the pull succeeded (`model` then says what it
        stored); the pull's error when it failed."""
        while not self._items:
            if self._pull.done:
                if self._pull.error is not None:
                    raise self._pull.error
                return None
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()

    async def result(self) -> StoredModel:
        while await self.next() is not None:
            pass
        assert self._pull.model is not None
        return self._pull.model

    @property
    def model(self) -> StoredModel | None:
        return self._pull.model

    def close(self) -> None:
        """Stop following; the last follower to leave a running pull cancels it."""
        if not self._closed:
            self._closed = True
            self._leave(self._pull, self)


class PullService:
    def __init__(
        self, registry: ProviderRegistry, *, limit: int = LIMIT, runner: Runner = _in_child
    ) -> None:
        self._registry = registry
        self._limit = limit
        self._runner = runner
        self._pulls: dict[str, _Pull] = {}

    @property
    def _root(self) -> Path:
        return self._registry.catalog.store.root

    def start(self, name: str) -> PullWatch:
        """Follow the pull of `name`, starting it unless it runs already. InvalidRequest
        for a name that is not one; RateLimited when `limit` pulls run already."""
        key = names.parse(name).name
        pull = self._pulls.get(key)
        if pull is None:
            if len(self._pulls) >= self._limit:
                raise RateLimited(
                    f"{len(self._pulls)} models are being pulled already (at most "
                    f"{self._limit} at once); try again when one is done",
                    retry_after=RETRY_SECONDS,
                )
            pull = _Pull(key)
            self._pulls[key] = pull
            pull.task = asyncio.create_task(self._run(pull), name=f"pull {key}")
        watch = PullWatch(pull, self._left)
        pull.watches.add(watch)
        return watch

    def running(self) -> list[str]:
        return sorted(self._pulls)

    async def _run(self, pull: _Pull) -> None:
        try:
            model = await self._runner(pull.name, self._root, pull.publish)
        except asyncio.CancelledError:
            pull.end(None, Conflict(f"the pull of '{pull.name}' was cancelled"))
            raise
        except RoostError as exc:
            pull.end(None, exc)
        except Exception as exc:  # a bug here must still end the followers' streams
            log.exception("the pull of %s failed", pull.name)
            pull.end(None, RoostError(f"the pull of '{pull.name}' failed: {exc}"))
        else:
            pull.end(model, None)
        finally:
            if self._pulls.get(pull.name) is pull:
                del self._pulls[pull.name]

    def _left(self, pull: _Pull, watch: PullWatch) -> None:
        pull.watches.discard(watch)
        if not pull.watches and not pull.done and pull.task is not None:
            log.info("pull of %s cancelled: nobody follows it any more", pull.name)
            pull.task.cancel()

    async def remove(self, name: str) -> StoredModel:
        """Delete a pulled model's files and stop its runner. A model only config.toml
        names is not the store's to delete (Conflict); an unknown one is NotFound."""
        if name in self._pulls:
            raise Conflict(f"'{name}' is being pulled; cancel the pull first")
        catalog = self._registry.catalog
        catalog.removable(name)
        await self._registry.forget(name)
        gone = await asyncio.to_thread(catalog.store.remove, name)
        if gone is None:  # removed meanwhile by another process (`roost models rm`)
            raise NotFound(f"no pulled model named '{name}'")
        return gone

    async def close(self) -> None:
        tasks = [p.task for p in self._pulls.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
