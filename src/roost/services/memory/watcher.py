"""Watch a workspace folder and report changed markdown files (and folders) as they settle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

log = logging.getLogger(__name__)

OnPaths = Callable[[list[str]], Awaitable[object]]
OnRescan = Callable[[], Awaitable[object]]
RETRY_SECONDS = 5.0
STOP_SECONDS = 5.0


class WorkspaceWatcher:
    """Calls `on_paths` with the relative paths that changed, `debounce_ms` after a burst.

    Paths are *.md files, folders (created, moved in) and deleted paths of any kind (a
    deleted folder is reported by its own name only). If watching fails, the watcher
    retries and then calls `on_rescan`, since changes in between were not seen.
    """

    def __init__(
        self, root: Path, on_paths: OnPaths, on_rescan: OnRescan, *, debounce_ms: int = 300
    ) -> None:
        self.root = root.resolve()
        self._on_paths = on_paths
        self._on_rescan = on_rescan
        self._debounce_ms = debounce_ms
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"memory watcher {self.root}")
        # One loop turn lets the task start awatch, which registers the OS watches before
        # its first await: changes made after start() returns are seen.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()  # awatch checks it every `step` ms and returns
        _done, pending = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async for changes in awatch(
                    self.root,
                    watch_filter=DefaultFilter(),
                    debounce=self._debounce_ms,
                    step=min(50, self._debounce_ms),
                    stop_event=self._stop,
                ):
                    await self._report(changes)
                return
            except Exception:
                log.exception("watching %s failed; retrying in %.0f s", self.root, RETRY_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RETRY_SECONDS)
            if not self._stop.is_set():
                await self._guard(self._on_rescan())

    async def _report(self, changes: set[tuple[Change, str]]) -> None:
        paths = sorted({p for change, raw in changes if (p := self._relevant(change, raw))})
        if paths:
            await self._guard(self._on_paths(paths))

    def _relevant(self, change: Change, raw: str) -> str | None:
        try:
            relative = Path(raw).relative_to(self.root)
        except ValueError:
            return None
        if not relative.parts or any(part.startswith(".") for part in relative.parts):
            return None
        if relative.suffix == ".md" or change == Change.deleted or (self.root / relative).is_dir():
            return relative.as_posix()
        return None

    async def _guard(self, work: Awaitable[object]) -> None:
        # A failed re-index must not end the watcher; the next change or start retries.
        try:
            await work
        except Exception:
            log.exception("re-indexing changes in %s failed", self.root)
