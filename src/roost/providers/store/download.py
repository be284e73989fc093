"""One file of a pull: downloaded into a partial file next to its place, hashed as it
arrives, moved into place only when its SHA-256 is the Hub's.

huggingface_hub does the HTTP (`get_hf_file_metadata` for the HEAD the Hub answers with the
file's location and size, `http_get` for the GET, with its retries and its Range resume
after a dropped connection). `hf_hub_download` itself is not used: since
huggingface_hub 2.x it downloads to a process-unique temporary file and deletes it on any
failure, so a pull stopped by Ctrl-C, a crash or a cancel would start again from zero. Here
the partial file (`<file>.<sha256[:16]>.incomplete`) stays, and the next pull asks only for
the rest.

The hash is computed while the file downloads: each chunk goes to a thread of its own
(hashlib releases the GIL on large buffers), so hashing overlaps receiving instead of
re-reading the whole file afterwards. On a resume the partial file's bytes are hashed first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from roost.core.errors import Conflict, ProviderError

READ_CHUNK = 1 << 20
READ_SIZE = 1 << 20  # bytes a download asks the socket for at a time
BATCH = 1 << 20
QUEUED_BATCHES = 16  # at most ~16 MB wait for the hasher


class _Hasher:
    """SHA-256 of the bytes written through it, computed on a thread of its own. Chunks
    go over in batches of about 1 MB: one queue hand-off per 64 KB read would cost more
    than the hashing it moves."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(QUEUED_BATCHES)
        self._batch: list[bytes] = []
        self._batched = 0
        self._thread = threading.Thread(target=self._run, name="pull-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for chunk in batch:
                self._sha.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= BATCH:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def finish(self) -> str:
        self.stop()
        return self._sha.hexdigest()

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._batch:
                self._queue.put(self._batch)
                self._batch, self._batched = [], 0
            self._queue.put(None)
            self._thread.join()


class HashingFile:
    """The file object handed to `http_get`: writes go to disk and to the hasher."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.hasher = _Hasher()
        self._prefix(handle.tell())

    def _prefix(self, size: int) -> None:
        """Hash the bytes already in the file (a resumed download's first part)."""
        if not size:
            return
        with open(self._handle.name, "rb") as earlier:
            left = size
            while left > 0:
                chunk = earlier.read(min(READ_CHUNK, left))
                if not chunk:
                    break
                self.hasher.update(chunk)
                left -= len(chunk)

    def write(self, data: bytes) -> int:
        written = self._handle.write(data)
        self.hasher.update(data)
        return written

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # http_get rewinds only when a server ignored the Range and sent the whole file
        # again: hash from the new position's start.
        position = self._handle.seek(offset, whence)
        self._handle.flush()
        self.hasher.stop()
        self.hasher = _Hasher()
        self._prefix(position)
        return position

    def truncate(self, size: int | None = None) -> int:
        return self._handle.truncate(size)

    def flush(self) -> None:
        self._handle.flush()


def sha256_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            sha.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return sha.hexdigest()


@contextlib.contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """One pull of a file at a time (a second would write into the same partial file)."""
    lock_path = target.with_name(f".{target.name}.lock")
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another pull is downloading {target.name}; try again after it"
            ) from None
        yield


def partial_path(target: Path, sha256: str) -> Path:
    return target.with_name(f"{target.name}.{sha256[:16]}.incomplete")


def drop_stale_partials(target: Path, keep: Path) -> None:
    """A partial file of an earlier version of this file cannot be resumed: remove it."""
    for stale in target.parent.glob(f"{target.name}.*.incomplete"):
        if stale != keep:
            with contextlib.suppress(OSError):
                stale.unlink()


def _tune_reads(constants: Any) -> None:
    """Fewer, larger reads for downloads (CPU per MB in benchmarks/pull.py, curl: 1.2 ms):

    - http_get regroups what it reads into 10 MB chunks through a BytesIO, two copies of
      every byte out of the CPU cache (2.7 ms); without a chunk size it hands each read
      over as it comes (1.4 ms);
    - httpcore reads 64 KB at a time, each read a `settimeout` and a `recv` system call;
      1 MB reads take 1.0 ms. Only the synchronous connection class is changed: it is the
      one huggingface_hub's session uses; roost's own clients (OpenAI, Anthropic) are
      async and keep theirs. A read returns what has arrived, so nothing waits longer.
    """
    constants.DOWNLOAD_CHUNK_SIZE = None
    try:
        from httpcore2._sync.http11 import HTTP11Connection
    except ImportError:  # another HTTP stack under huggingface_hub: its own defaults
        return
    HTTP11Connection.READ_NUM_BYTES = max(HTTP11Connection.READ_NUM_BYTES, READ_SIZE)


def fetch(
    *,
    url: str,
    target: Path,
    size: int,
    sha256: str,
    token: str | None,
    endpoint: str,
    bar: type[Any],
) -> None:
    """Download `url` (a Hub `resolve` URL) to `target`, resuming its partial file, and
    verify it. ProviderError (and no file) when the bytes are not the announced ones."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import get_hf_file_metadata, http_get
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]  # lazy export

    _tune_reads(constants)
    partial = partial_path(target, sha256)
    drop_stale_partials(target, partial)
    # The HEAD: the Hub answers with the file's location (a CDN for large files), its
    # size and its commit; the GET below goes straight to that location.
    meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    headers = build_hf_headers(token=token)
    location = meta.location or url
    if urlsplit(location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a signed CDN URL; the Hub token stays home
    have = partial.stat().st_size if partial.exists() else 0
    if have > size:  # not a prefix of this file
        partial.unlink()
        have = 0
    with partial.open("ab") as handle:
        writer = HashingFile(handle)
        try:
            http_get(
                location,
                writer,  # type: ignore[arg-type]  # the file-like calls http_get makes
                resume_size=have,
                headers=headers,
                expected_size=size,
                displayed_filename=target.name,
                tqdm_class=bar,
            )
            handle.flush()
            got = writer.hasher.finish()
        finally:
            writer.hasher.stop()
    if got != sha256:
        partial.unlink(missing_ok=True)
        raise ProviderError(
            f"{target.name} failed verification: its SHA-256 is {got}, the Hub announced "
            f"{sha256}; the download was deleted (pull again to retry)"
        )
    os.replace(partial, target)
