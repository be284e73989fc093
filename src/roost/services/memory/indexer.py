"""Keep a user's memory index in step with their workspace files.

File reading, hashing and chunking run in a worker thread (they are CPU and disk work);
the event loop only awaits the index writes, a batch of files per transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from roost.core.records import IndexedFile, IndexStats, MemoryChunk, MemoryHit
from roost.services.memory.chunker import blank_comments, chunk_markdown
from roost.services.memory.workspace import Workspace

BATCH_FILES = 200

IndexItem = tuple[str, str, int, list[MemoryChunk]]  # path, content hash, size, chunks
Progress = Callable[[int, int], object]  # (files done, files in total)


class MemoryIndex(Protocol):
    """What the services need of `roost.storage.memory.MemoryIndexRepository`."""

    async def files(
        self, user_id: str, paths: Sequence[str] | None = None
    ) -> dict[str, IndexedFile]: ...

    async def replace_file(
        self,
        user_id: str,
        path: str,
        content_hash: str,
        size_bytes: int,
        chunks: list[MemoryChunk],
    ) -> None: ...

    async def replace_files(self, user_id: str, items: list[IndexItem]) -> None: ...

    async def remove_file(self, user_id: str, path: str) -> bool: ...

    async def remove_files(self, user_id: str, paths: list[str]) -> int: ...

    async def search(self, user_id: str, query: str, limit: int) -> list[MemoryHit]: ...

    async def stats(self, user_id: str) -> IndexStats: ...

    async def database_size_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ReindexResult:
    indexed: int  # files (re)chunked and written
    skipped: int  # files unchanged since they were indexed
    removed: int  # index entries whose file is gone
    chunks: int  # chunks written by this run
    seconds: float  # the whole run: the index pass and, with hybrid search, the embedding
    embedded: int = 0  # chunk texts embedded by this run (hybrid search)


@dataclass
class _Scan:
    items: list[IndexItem]
    skipped: int = 0
    missing: int = 0


class Indexer:
    def __init__(self, repo: MemoryIndex, *, chunk_tokens: int = 400, overlap: int = 80) -> None:
        self._repo = repo
        self._chunk_tokens = chunk_tokens
        self._overlap = overlap
        # The settings are hashed with the content, so changing them re-chunks every file.
        self._salt = f"roost-chunks:2:{chunk_tokens}:{overlap}\n".encode()
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, user_id: str) -> asyncio.Lock:
        # One index pass per user at a time: a watcher batch must not interleave with a
        # full reindex and leave the older file contents in the index.
        return self._locks.setdefault(user_id, asyncio.Lock())

    async def reindex(
        self,
        user_id: str,
        workspace: Workspace,
        *,
        force: bool = False,
        progress: Progress | None = None,
    ) -> ReindexResult:
        """Bring the whole index up to date: changed files re-chunked, gone ones dropped."""
        started = time.perf_counter()
        async with self._lock(user_id):
            paths = await asyncio.to_thread(workspace.markdown_files)
            known = await self._repo.files(user_id)
            indexed = skipped = chunks = 0
            if progress is not None:
                progress(0, len(paths))
            batches = [paths[i : i + BATCH_FILES] for i in range(0, len(paths), BATCH_FILES)]
            done = 0
            # Pipelined: the next batch is read and chunked in a worker thread while this
            # one is written (SQLite releases the GIL while it works, so on two cores the
            # Python chunking and the FTS5 indexing run side by side).
            scans = _Prefetch(lambda batch: self._scan(workspace, batch, known, force), batches)
            try:
                async for batch, scan in scans:
                    if scan.items:
                        await self._repo.replace_files(user_id, scan.items)
                    indexed += len(scan.items)
                    skipped += scan.skipped
                    chunks += sum(len(item[3]) for item in scan.items)
                    done += len(batch)
                    if progress is not None:
                        progress(done, len(paths))
            finally:
                await scans.aclose()
            gone = sorted(set(known) - set(paths))
            removed = await self._repo.remove_files(user_id, gone) if gone else 0
        return ReindexResult(indexed, skipped, removed, chunks, time.perf_counter() - started)

    async def index_paths(
        self, user_id: str, workspace: Workspace, paths: Iterable[str]
    ) -> ReindexResult:
        """Re-index the given relative paths (files or folders); missing ones are removed."""
        started = time.perf_counter()
        wanted = list(paths)
        async with self._lock(user_id):
            # Files only: ask the index about just those; a folder needs all it holds.
            only_files = all(path.endswith(".md") for path in wanted)
            known = await self._repo.files(user_id, wanted if only_files else None)
            present, gone = await asyncio.to_thread(_sort_paths, workspace, wanted, known)
            scan = await asyncio.to_thread(self._scan, workspace, present, known, False)
            if scan.items:
                await self._repo.replace_files(user_id, scan.items)
            removed = await self._repo.remove_files(user_id, gone) if gone else 0
        return ReindexResult(
            len(scan.items),
            scan.skipped,
            removed,
            sum(len(item[3]) for item in scan.items),
            time.perf_counter() - started,
        )

    def _scan(
        self, workspace: Workspace, paths: list[str], known: dict[str, IndexedFile], force: bool
    ) -> _Scan:
        """Read, hash and chunk the files that changed (runs in a worker thread)."""
        scan = _Scan(items=[])
        for path in paths:
            try:
                data = (workspace.root / path).read_bytes()
            except OSError:  # removed since it was listed: the next pass drops it
                scan.missing += 1
                continue
            digest = hashlib.sha256(self._salt + data).hexdigest()
            entry = known.get(path)
            if not force and entry is not None and entry.content_hash == digest:
                scan.skipped += 1
                continue
            # Only what a reader sees is searchable: template guidance is in comments.
            text = blank_comments(data.decode("utf-8", errors="replace"))
            chunks = chunk_markdown(text, self._chunk_tokens, self._overlap)
            scan.items.append((path, digest, len(data), chunks))
        return scan


class _Prefetch:
    """Run `work` on each batch in a worker thread, one batch ahead of the consumer."""

    def __init__(self, work: Callable[[list[str]], _Scan], batches: list[list[str]]) -> None:
        self._work = work
        self._batches = batches
        self._next: asyncio.Task[_Scan] | None = None
        self._index = 0

    def _start(self) -> None:
        if self._index < len(self._batches):
            batch = self._batches[self._index]
            self._next = asyncio.create_task(asyncio.to_thread(self._work, batch))
        else:
            self._next = None

    def __aiter__(self) -> _Prefetch:
        self._start()
        return self

    async def __anext__(self) -> tuple[list[str], _Scan]:
        if self._next is None:
            raise StopAsyncIteration
        scan = await self._next
        batch = self._batches[self._index]
        self._index += 1
        self._start()
        return batch, scan

    async def aclose(self) -> None:
        task, self._next = self._next, None
        if task is not None:  # the consumer stopped early (an error): drop the read-ahead
            task.cancel()
            await asyncio.wait([task])  # never raises: the read-ahead's outcome is dropped


def _sort_paths(
    workspace: Workspace, paths: list[str], known: dict[str, IndexedFile]
) -> tuple[list[str], list[str]]:
    """Split changed paths into files to index and index entries to drop.

    A folder stands for everything under it: one moved in or out of the workspace is
    reported as a single change.
    """
    present: set[str] = set()
    gone: set[str] = set()
    listing: list[str] | None = None
    for raw in paths:
        relative = raw.strip("/")
        if not relative:
            continue
        folder = workspace.root / relative
        if folder.is_dir() and not folder.is_symlink() and workspace.contains(folder):
            listing = workspace.markdown_files() if listing is None else listing
            inside = {path for path in listing if path.startswith(relative + "/")}
            present |= inside
            gone |= {path for path in known if path.startswith(relative + "/")} - inside
            continue
        normalized = workspace.indexable(relative)
        if normalized is not None:
            present.add(normalized)
            continue
        gone.add(relative)
        gone |= {path for path in known if path.startswith(relative + "/")}
    return sorted(present), sorted(gone & known.keys())
