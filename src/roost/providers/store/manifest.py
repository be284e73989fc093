"""The model store: pulled GGUF files under `$ROOST_HOME/models/` and the manifest naming them.

`manifest.json` maps a model's name (`hf.co/owner/repo:Q4_K_M`) to where it came from and
its files. Writers (a `roost pull` in a terminal, a pull over HTTP in the server) take an
exclusive lock on `manifest.lock` and replace the file atomically, so readers never see half
of one. Readers re-read it only when its size or mtime changed: a model pulled by another
process is usable at the next request with no restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roost.core.errors import ConfigError

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str  # relative to the store's root
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredModel:
    name: str
    repo: str  # owner/repo on the Hub
    revision: str  # the commit the files came from
    quantization: str | None
    files: tuple[StoredFile, ...]  # a split GGUF's parts in order; the first is loaded
    pulled_at: float = field(default_factory=time.time)
    endpoint: str | None = None  # HF_ENDPOINT when it was not the public Hub

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredModel:
        return cls(
            name=str(data["name"]),
            repo=str(data["repo"]),
            revision=str(data["revision"]),
            quantization=data.get("quantization"),
            files=tuple(
                StoredFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in data["files"]
            ),
            pulled_at=float(data.get("pulled_at") or 0.0),
            endpoint=data.get("endpoint"),
        )


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: tuple[int, int] | None = None
        self._models: dict[str, StoredModel] = {}

    @classmethod
    def for_home(cls, home: Path) -> ModelStore:
        return cls(home / "models")

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def file_path(self, stored: StoredFile) -> Path:
        return self.root / stored.path

    def model_path(self, model: StoredModel) -> Path:
        """The file llama.cpp opens (a split GGUF's first part finds the others)."""
        return self.file_path(model.files[0])

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _read(self) -> dict[str, StoredModel]:
        try:
            raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the model store's {self.manifest_path}: {exc}"
            ) from None
        try:
            return {m["name"]: StoredModel.from_json(m) for m in raw.get("models", [])}
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{self.manifest_path} is damaged: {exc!r}") from None

    def models(self) -> dict[str, StoredModel]:
        """Name → stored model, re-read only when the manifest changed."""
        stamp = self._stamp()
        if stamp != self._seen:
            self._models = self._read() if stamp is not None else {}
            self._seen = stamp
        return self._models

    def get(self, name: str) -> StoredModel | None:
        return self.models().get(name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, StoredModel]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "manifest.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            models = self._read()
            yield models
            self._write(models)

    def _write(self, models: dict[str, StoredModel]) -> None:
        body = {
            "format": FORMAT,
            "models": [m.to_json() for m in sorted(models.values(), key=lambda m: m.name)],
        }
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.manifest_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def add(self, model: StoredModel) -> None:
        with self._locked() as models:
            models[model.name] = model

    def remove(self, name: str) -> StoredModel | None:
        """Forget a model and delete its files, unless another name still uses them."""
        with self._locked() as models:
            gone = models.pop(name, None)
            if gone is None:
                return None
            kept = {f.path for m in models.values() for f in m.files}
            for stored in gone.files:
                if stored.path not in kept:
                    _delete(self.file_path(stored), self.root)
        return gone


def _delete(path: Path, root: Path) -> None:
    """A stored file, the partial downloads of it and its pull lock (unless a pull holds
    it), then its folders up to the store's root while they are empty."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for partial in path.parent.glob(f"{path.name}.*.incomplete"):
        with contextlib.suppress(OSError):
            partial.unlink()
    lock = path.with_name(f".{path.name}.lock")
    with contextlib.suppress(OSError), lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError when a pull holds it
        lock.unlink()
    folder = path.parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()  # OSError when another model's files are there
        except OSError:
            break
        folder = folder.parent
