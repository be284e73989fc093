"""Long-term memory: each user's markdown workspace, its search index and chat context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from roost.config import Settings
from roost.core.clock import utcnow
from roost.core.errors import InvalidRequest, NotFound, PayloadTooLarge, RoostError
from roost.core.records import MemoryHit, User
from roost.services.memory.context import CountTokens, Section, file_section, fit, pick_hits
from roost.services.memory.fusion import fuse
from roost.services.memory.indexer import Indexer, MemoryIndex, ReindexResult
from roost.services.memory.stats import IndexInfo, MemoryStats, file_stats
from roost.services.memory.vectors import PhaseProgress, VectorIndex
from roost.services.memory.watcher import WorkspaceWatcher
from roost.services.memory.workspace import MEMORY_FILE, Workspace

log = logging.getLogger(__name__)

DEFAULT_USER = "default"
MAX_FILE_BYTES = 1 << 20
MAX_QUERY_CHARS = 10_000
MAX_LIMIT = 100
CONTEXT_QUERY_CHARS = 1_000  # a chat message longer than this searches by its start
TURN_LOG_CHARS = 500
_FOLDER_SAFE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class MemoryService:
    def __init__(
        self,
        settings: Settings,
        repo: MemoryIndex,
        clock: Callable[[], datetime] = utcnow,
        *,
        vectors: VectorIndex | None = None,
    ) -> None:
        self._settings = settings
        self._vectors = vectors
        self._background: set[asyncio.Task[object]] = set()
        self._memory = settings.memory
        self._repo = repo
        self._clock = clock
        self._indexer = Indexer(
            repo, chunk_tokens=self._memory.chunk_tokens, overlap=self._memory.chunk_overlap
        )
        self._default_id: str | None = None
        self._workspaces: dict[str, Workspace] = {}
        self._opened: set[str] = set()
        self._open_locks: dict[str, asyncio.Lock] = {}
        self._watchers: dict[str, WorkspaceWatcher] = {}
        self._log_lock = asyncio.Lock()
        self._status = (0, 0)
        self._running = False  # watchers run between start() and close() only

    # --- workspaces -------------------------------------------------------------------

    def workspace_for(self, user: User) -> Workspace:
        """The user's workspace, created with its templates the first time."""
        workspace = self._workspaces.get(user.id)
        if workspace is None:
            workspace = Workspace(self._root_for(user))
            self._workspaces[user.id] = workspace
        return workspace

    def _root_for(self, user: User) -> Path:
        home = self._settings.home
        if self._is_default(user):
            configured = self._memory.workspace
            return home / configured.expanduser() if configured else home / "workspace"
        if not _FOLDER_SAFE.fullmatch(user.id):  # ids are uuids; never let one walk paths
            raise RoostError(f"user id {user.id!r} cannot name a workspace folder")
        (home / "workspaces").mkdir(mode=0o700, parents=True, exist_ok=True)
        return home / "workspaces" / user.id

    def _is_default(self, user: User) -> bool:
        if self._default_id is not None:
            return user.id == self._default_id
        return user.name == DEFAULT_USER

    async def _open(self, user: User, *, check: bool = True) -> Workspace:
        """The workspace, checked against the index and watched from its first use on."""
        workspace = self.workspace_for(user)
        if user.id in self._opened:
            return workspace
        async with self._open_locks.setdefault(user.id, asyncio.Lock()):
            if user.id in self._opened:
                return workspace
            # Watch before the check, so that edits made during it are not missed.
            if self._memory.watch and self._running:
                await self._watch(user, workspace)
            if check:
                # The first check can meet a whole workspace without vectors: keyword
                # search is ready at once, vectors follow in the background.
                result = await self._reindex(user, workspace, vectors=False)
                self._sync_later(user)
                log.info(
                    "memory index of %s: %d indexed, %d unchanged, %d removed in %.2f s",
                    workspace.root,
                    result.indexed,
                    result.skipped,
                    result.removed,
                    result.seconds,
                )
            self._opened.add(user.id)
        return workspace

    async def _watch(self, user: User, workspace: Workspace) -> None:
        if user.id in self._watchers:  # started by an earlier, failed open
            return
        watcher = WorkspaceWatcher(
            workspace.root,
            lambda paths: self._index_paths(user, workspace, paths),
            lambda: self._reindex(user, workspace),
            debounce_ms=self._memory.debounce_ms,
        )
        self._watchers[user.id] = watcher
        await watcher.start()

    async def start(self, default_user: User) -> None:
        """Open the default user's workspace: bring its index up to date and watch it."""
        self._default_id = default_user.id
        self._running = True
        workspace = await self._open(default_user)
        if self._memory.watch:  # opened before start (a CLI command): watch it now
            await self._watch(default_user, workspace)

    async def close(self) -> None:
        self._running = False
        watchers, self._watchers = list(self._watchers.values()), {}
        await asyncio.gather(*(watcher.stop() for watcher in watchers))
        tasks, self._background = list(self._background), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- index ------------------------------------------------------------------------

    async def _reindex(
        self,
        user: User,
        workspace: Workspace,
        *,
        force: bool = False,
        progress: PhaseProgress | None = None,
        vectors: bool = True,
    ) -> ReindexResult:
        """The index pass, then (hybrid search) the embedding of new chunks, both timed."""
        started = time.perf_counter()
        files = None if progress is None else partial(progress, "files")
        result = await self._indexer.reindex(user.id, workspace, force=force, progress=files)
        await self._refresh_status(user)
        embedded = await self._sync_vectors(user, progress) if vectors else 0
        return replace(result, embedded=embedded, seconds=time.perf_counter() - started)

    async def _index_paths(self, user: User, workspace: Workspace, paths: list[str]) -> None:
        result = await self._indexer.index_paths(user.id, workspace, paths)
        await self._refresh_status(user)
        if result.indexed:
            await self._sync_vectors(user)

    async def _sync_vectors(self, user: User, progress: PhaseProgress | None = None) -> int:
        """Embed new chunks (how many); on failure keyword search still works, so log
        and go on."""
        if self._vectors is None:
            return 0
        try:
            count = await self._vectors.sync(user.id, progress)
        except RoostError as exc:
            log.warning("memory vectors not updated: %s", exc.message)
            return 0
        except Exception:  # a bug here must not stop indexing or chat
            log.exception("memory vectors not updated")
            return 0
        if count:
            log.info("memory vectors: embedded %d new chunks", count)
        return count

    def _sync_later(self, user: User) -> None:
        if self._vectors is None:
            return
        task = asyncio.create_task(self._sync_vectors(user))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_vectors(self) -> None:
        """Wait for background embedding (tests and the CLI use this)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _refresh_status(self, user: User) -> None:
        if self._is_default(user):
            stats = await self._repo.stats(user.id)
            self._status = (stats.files, stats.chunks)

    def status(self) -> tuple[int, int]:
        """(files indexed, chunks) of the default user, as of the last index change."""
        return self._status

    @property
    def search_mode(self) -> str:
        """ "hybrid" (keyword and vector ranks fused) or "keyword"."""
        return "hybrid" if self._vectors is not None else "keyword"

    async def _search(self, user_id: str, query: str, limit: int) -> list[MemoryHit]:
        keyword_weight = self._memory.keyword_weight
        if self._vectors is None:
            return await self._repo.search(user_id, query, limit)
        # Each list is searched deeper than asked, so that a chunk ranked moderately by
        # both can rise above one ranked high by only one.
        depth = min(MAX_LIMIT, max(limit * 3, 20))
        keyword = await self._repo.search(user_id, query, depth)
        try:
            vector = await self._vectors.search(user_id, query, depth)
        except RoostError as exc:  # the embedding model is down: keyword hits still help
            log.warning("vector search failed, keyword results only: %s", exc.message)
            return keyword[:limit]
        return fuse(
            keyword,
            vector,
            limit,
            keyword_weight=keyword_weight,
            vector_weight=self._memory.vector_weight,
        )

    async def reindex(
        self, user: User, *, force: bool = False, progress: PhaseProgress | None = None
    ) -> ReindexResult:
        workspace = await self._open(user, check=False)  # this pass is the check
        return await self._reindex(user, workspace, force=force, progress=progress)

    async def search(self, user: User, query: str, limit: int = 10) -> list[MemoryHit]:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be 1-{MAX_LIMIT}", param="limit")
        query = query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"q must be 1-{MAX_QUERY_CHARS} characters", param="q")
        await self._open(user)
        return await self._search(user.id, query, limit)

    async def stats(self, user: User) -> MemoryStats:
        workspace = await self._open(user)
        files = await asyncio.to_thread(file_stats, workspace)
        index = await self._repo.stats(user.id)
        size = await self._repo.database_size_bytes()
        info = IndexInfo(index.chunks, index.last_indexed, size)
        return MemoryStats(str(workspace.root), files, info)

    # --- files ------------------------------------------------------------------------

    async def read_file(self, user: User, path: str) -> str:
        workspace = await self._open(user)
        target = workspace.resolve(path)
        try:
            data = await asyncio.to_thread(target.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"file '{workspace.normalize(path)}' not found") from None
        return data.decode("utf-8", errors="replace")

    async def write_file(self, user: User, path: str, content: str) -> None:
        """Write a workspace file (replacing it whole) and index it before returning."""
        data = content.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"content must be at most {MAX_FILE_BYTES} bytes")
        workspace = await self._open(user)
        target = workspace.resolve(path)
        written = await asyncio.to_thread(_write_atomic, workspace, target, data)
        await self._index_paths(user, workspace, [workspace.relative(written)])

    async def append_file(self, user: User, path: str | None, text: str) -> str:
        """Append to a workspace file (default: today's daily log) and index it at once.

        An append never rewrites the file, so a turn note or an edit made meanwhile is
        kept (a read-and-write_file would lose it). Returns the file's relative path.
        """
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"text must be at most {MAX_FILE_BYTES} bytes")
        workspace = await self._open(user)
        now = self._local_now()
        async with self._log_lock:  # the turn log appends too
            if path is None:
                relative = await asyncio.to_thread(workspace.append_daily, text, now)
            else:
                target = workspace.resolve(path)
                relative = await asyncio.to_thread(_append, workspace, target, text)
        await self._index_paths(user, workspace, [relative])
        return relative

    # --- chat ---------------------------------------------------------------------------

    def _local_now(self) -> datetime:
        # Daily logs follow the server's local calendar: "today" is the user's day.
        return self._clock().astimezone()

    async def context_for(
        self, user: User, message: str, *, budget_tokens: int, count_tokens: CountTokens
    ) -> str | None:
        """Memory for a chat prompt, labelled by file and lines, within `budget_tokens`."""
        if budget_tokens <= 0:
            return None
        workspace = await self._open(user)
        today = self._local_now().date()
        names = [workspace.daily_log_relative(today - timedelta(days=1))]
        names.append(workspace.daily_log_relative(today))
        texts = await asyncio.to_thread(_read_all, workspace, [MEMORY_FILE, *names])
        memory = file_section(MEMORY_FILE, texts[0])
        notes = [", yesterday's log", ", today's log"]
        logs = [
            section
            for name, text, note in zip(names, texts[1:], notes, strict=True)
            if (section := file_section(name, text, note)) is not None
        ]
        wanted = self._memory.search_hits
        query = message.strip()[:CONTEXT_QUERY_CHARS]
        hits: list[Section] = []
        if wanted and query:
            try:
                found = await self._search(user.id, query, min(MAX_LIMIT, wanted * 3))
            except RoostError as exc:  # memory is an extra: a chat goes on without hits
                log.warning("memory search failed: %s", exc.message)
                found = []
            # Those files are in the prompt whole, or hold nothing but headings.
            hits = pick_hits(found, {MEMORY_FILE, *names}, wanted)
        return await fit(memory, logs, hits, budget_tokens=budget_tokens, count_tokens=count_tokens)

    async def append_turn(self, user: User, user_text: str, reply: str) -> None:
        """Note a finished chat turn in today's daily log (when `memory.log_turns`)."""
        if not self._memory.log_turns:
            return
        body = f"**User:** {_clip(user_text)}\n\n**Assistant:** {_clip(reply)}"
        await self.append_log(user, body)

    async def append_log(self, user: User, body: str, title: str = "") -> str:
        """Add a `## HH:MM title` entry to today's daily log and index it; returns its path."""
        workspace = await self._open(user)
        now = self._local_now()
        heading = f"{now:%H:%M} {title}".rstrip()
        entry = f"\n## {heading}\n\n{body}\n"
        async with self._log_lock:
            relative = await asyncio.to_thread(workspace.append_daily, entry, now)
        await self._index_paths(user, workspace, [relative])
        return relative

    async def peek_file(self, user: User, path: str) -> str | None:
        """A workspace file's text (its first MiB), or None when it or the workspace does not
        exist. Unlike read_file this never creates a workspace (the heartbeat looks at every
        user's) and never waits for an index check."""
        root = self._root_for(user)
        if not await asyncio.to_thread(root.is_dir):
            return None
        target = self.workspace_for(user).resolve(path)
        try:
            data = await asyncio.to_thread(_read_head, target, MAX_FILE_BYTES)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return data.decode("utf-8", errors="replace")


def _clip(text: str) -> str:
    # One line: a log entry must not open headings or lists of its own.
    text = " ".join(text.split())
    return text if len(text) <= TURN_LOG_CHARS else text[: TURN_LOG_CHARS - 1] + "…"


def _read_head(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(limit)


def _read_all(workspace: Workspace, names: list[str]) -> list[str]:
    texts = []
    for name in names:
        try:
            texts.append((workspace.resolve(name)).read_text("utf-8", errors="replace"))
        except (OSError, InvalidRequest):  # missing, or a link leading out: nothing to add
            texts.append("")
    return texts


def _append(workspace: Workspace, target: Path, text: str) -> str:
    """Append on a line of its own; returns the real file's relative path (as writes do)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    real = Path(os.path.realpath(target))
    if not workspace.contains(real):
        raise InvalidRequest("path leads outside the workspace", param="path")
    if real.is_dir():
        raise InvalidRequest("path names a folder", param="path")
    with real.open("a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                text = "\n" + text
        handle.write(text.encode("utf-8"))
    return workspace.relative(real)


def _write_atomic(workspace: Workspace, target: Path, data: bytes) -> Path:
    """Replace the file in one step (readers and the watcher never see half of it).

    Writes go to the real file behind a symlink, so a link inside the workspace keeps
    working. Returns that real path.
    """
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    real = Path(os.path.realpath(target))
    if not workspace.contains(real):
        raise InvalidRequest("path leads outside the workspace", param="path")
    if real.is_dir():
        raise InvalidRequest("path names a folder", param="path")
    handle, temporary = tempfile.mkstemp(dir=real.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, real.stat().st_mode & 0o777)  # keep the user's mode
        os.replace(temporary, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return real
