"""`python -m roost.providers.store.pull_worker --store DIR NAME`: one pull, in a process
of its own (the server's side is pull_process.py).

Writes one JSON line per progress (`{"progress": {...}}`, downloading progress at most
every PROGRESS_SECONDS per file), then `{"model": {...}}` or `{"error": {"code",
"message"}}`, to the stdout it was given. Anything else that writes to stdout (a library,
native code) is sent to stderr, so the lines stay readable. SIGTERM ends it at once:
the partial file stays and the next pull resumes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from roost.core.errors import RoostError
from roost.providers import orphans
from roost.providers.store import hub
from roost.providers.store.manifest import ModelStore
from roost.providers.store.progress import PullProgress

PROGRESS_SECONDS = 0.1


class _Reporter:
    """Sends the lines. Downloading progress is thinned to one a PROGRESS_SECONDS per file;
    the last one held back goes out when that time is up, so a download that stalls still
    shows how far it got."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.RLock()  # the pull's thread and the timers write in turn
        self._sent: dict[str | None, float] = {}
        self._held: dict[str | None, PullProgress] = {}

    def send(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps(payload, separators=(",", ":")) + "\n")
            self._out.flush()

    def _line(self, event: PullProgress) -> None:
        self._sent[event.file] = time.monotonic()
        self.send({"progress": {k: v for k, v in asdict(event).items() if v is not None}})

    def progress(self, event: PullProgress) -> None:
        with self._lock:
            if event.status == "downloading" and event.completed != event.total:
                wait = self._sent.get(event.file, 0.0) + PROGRESS_SECONDS - time.monotonic()
                if wait > 0:
                    if event.file not in self._held:  # one timer per file at a time
                        timer = threading.Timer(wait, self._release, (event.file,))
                        timer.daemon = True
                        timer.start()
                    self._held[event.file] = event
                    return
            self._held.pop(event.file, None)  # superseded by this one
            self._line(event)

    def _release(self, file: str | None) -> None:
        with self._lock:
            event = self._held.pop(file, None)
            if event is not None:
                self._line(event)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="roost.providers.store.pull_worker")
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("name")
    args = parser.parse_args(argv)
    orphans.die_with_parent()
    # The protocol keeps the real stdout; fd 1 becomes stderr for everything else.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    reporter = _Reporter(out)
    try:
        model = hub.pull(args.name, ModelStore(args.store), on_progress=reporter.progress)
    except RoostError as exc:
        reporter.send({"error": {"code": exc.code, "message": exc.message}})
        return 1
    reporter.send({"model": model.to_json()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
