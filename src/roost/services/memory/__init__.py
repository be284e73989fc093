"""Long-term memory: markdown workspaces, their chunked search index and chat context."""

from roost.services.memory.chunker import chunk_markdown
from roost.services.memory.indexer import Indexer, MemoryIndex, ReindexResult
from roost.services.memory.service import MemoryService
from roost.services.memory.stats import MemoryStats
from roost.services.memory.watcher import WorkspaceWatcher
from roost.services.memory.workspace import Workspace

__all__ = [
    "Indexer",
    "MemoryIndex",
    "MemoryService",
    "MemoryStats",
    "ReindexResult",
    "Workspace",
    "WorkspaceWatcher",
    "chunk_markdown",
]
