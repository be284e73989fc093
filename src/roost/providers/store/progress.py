"""What a pull reports as it goes: the same events feed the CLI's progress bar, the NDJSON
lines of the HTTP pull route (Ollama's `/api/pull` statuses) and the pull benchmark."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PullProgress:
    # "resolving" (asking the Hub what the name means), "downloading" (one file: `file`,
    # `total`, `completed` bytes), "verifying" (SHA-256 of `file`), "success"
    status: str
    file: str | None = None
    total: int | None = None
    completed: int | None = None
    digest: str | None = None  # "sha256:<hex>" of the file being downloaded / verified
    message: str | None = None  # e.g. "no quantization given: using Q4_K_M"


OnProgress = Callable[[PullProgress], None]
