"""The numbers behind `GET /api/memory/stats`, shaped like its JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from roost.services.memory.workspace import DAILY_LOG, HEARTBEAT_FILE, MEMORY_FILE, Workspace


@dataclass(frozen=True, slots=True)
class FileSize:
    size_bytes: int
    lines: int


@dataclass(frozen=True, slots=True)
class DailyLogStats:
    count: int
    total_size_bytes: int


@dataclass(frozen=True, slots=True)
class FileStats:
    total: int
    memory_md: FileSize
    heartbeat_md: FileSize
    daily_logs: DailyLogStats


@dataclass(frozen=True, slots=True)
class IndexInfo:
    chunks: int
    last_indexed: datetime | None
    database_size_bytes: int


@dataclass(frozen=True, slots=True)
class MemoryStats:
    workspace: str
    files: FileStats
    index: IndexInfo


def _size(path: Path) -> FileSize:
    try:
        data = path.read_bytes()
    except OSError:  # missing (the user deleted it) counts as empty
        return FileSize(0, 0)
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return FileSize(len(data), lines)


def file_stats(workspace: Workspace) -> FileStats:
    """Count the workspace files (blocking file I/O: run it in a thread)."""
    files = workspace.markdown_files()
    logs = [path for path in files if DAILY_LOG.fullmatch(path)]
    total = 0
    for path in logs:
        try:
            total += (workspace.root / path).stat().st_size
        except OSError:
            continue
    return FileStats(
        total=len(files),
        memory_md=_size(workspace.root / MEMORY_FILE),
        heartbeat_md=_size(workspace.root / HEARTBEAT_FILE),
        daily_logs=DailyLogStats(len(logs), total),
    )
