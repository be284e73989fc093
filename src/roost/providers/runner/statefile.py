"""Runner states for `roost models`: `$ROOST_HOME/run/models-<server pid>.json`.

`roost models` runs in its own process, without a key to ask the server; the server
writes its runners' states (state, pid, restarts, last error) to a file whenever one
changes, and removes it when it stops. A file whose process is gone is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from roost.providers.base import RuntimeStatus

_files: dict[Path, StateFile] = {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._models: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_home(cls, home: Path) -> StateFile:
        path = home / "run" / f"models-{os.getpid()}.json"
        if path not in _files:
            _files[path] = cls(path)
        return _files[path]

    def update(self, name: str, status: RuntimeStatus) -> None:
        self._models[name] = asdict(status)
        self._write()

    def remove(self, name: str) -> None:
        self._models.pop(name, None)
        if self._models:
            self._write()
        else:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def _write(self) -> None:
        with contextlib.suppress(OSError):  # a status file must never fail a request
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"pid": os.getpid(), "models": self._models}))
            temporary.replace(self.path)


def read_all(home: Path) -> dict[str, dict[str, Any]]:
    """Model name → its runner's last state, from every running server on this home."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((home / "run").glob("models-*.json")):
        try:
            data = json.loads(path.read_text())
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid() or not _alive(pid):
            continue
        for name, status in dict(data.get("models", {})).items():
            found.setdefault(name, {**status, "server_pid": pid})
    return found
