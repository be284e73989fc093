"""A pull in a child process, as the server sees it.

huggingface_hub may download through hf_xet (native code): a crash there must cost one
pull, not the server. `run()` spawns `python -m roost.providers.store.pull_worker`, reads
its JSON lines (progress, then the stored model or an error) and hands each progress to
`on_progress`. Cancelling `run()` terminates the child: what it downloaded stays on disk
and the next pull of the same file resumes from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections import deque
from pathlib import Path
from typing import Any

from roost.core.errors import ProviderError, RoostError, from_code
from roost.providers.exits import describe_exit
from roost.providers.store.manifest import StoredModel
from roost.providers.store.progress import OnProgress, PullProgress

log = logging.getLogger("roost.pull")

WORKER = "roost.providers.store.pull_worker"
STDERR_LINES = 20  # kept to explain a crash
STOP_SECONDS = 5.0  # after SIGTERM, before SIGKILL
LINE_LIMIT = 1 << 20  # a stored model's JSON line (a split GGUF lists its parts)


def progress_from_json(data: dict[str, Any]) -> PullProgress:
    fields = PullProgress.__dataclass_fields__
    return PullProgress(**{k: v for k, v in data.items() if k in fields})


async def run(
    name: str, root: Path, *, on_progress: OnProgress, python: str = sys.executable
) -> StoredModel:
    """Pull `name` into the store at `root` in a child; the stored model, or the pull's
    RoostError (a child that died says how: `SIGSEGV`, `exit code 1`)."""
    proc = await asyncio.create_subprocess_exec(
        python,
        "-m",
        WORKER,
        "--store",
        str(root),
        name,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=LINE_LIMIT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    said: deque[str] = deque(maxlen=STDERR_LINES)
    pump = asyncio.create_task(_pump(proc.stderr, said, proc.pid))
    try:
        outcome = await _read(proc.stdout, on_progress)
        returncode = await proc.wait()
    except BaseException:  # cancelled (nobody follows the pull any more), or a bad line
        await _stop(proc)
        raise
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):  # its last words, for the log and the error
                await asyncio.shield(pump)
        pump.cancel()
    if isinstance(outcome, StoredModel):
        return outcome
    if isinstance(outcome, RoostError):
        raise outcome
    detail = f": {said[-1]}" if said else ""
    raise ProviderError(
        f"the pull of '{name}' stopped: its process ended ({describe_exit(returncode)}){detail}"
    )


async def _read(
    stdout: asyncio.StreamReader, on_progress: OnProgress
) -> StoredModel | RoostError | None:
    """Progress until the result or error line; None when the child ended without one."""
    while line := await stdout.readline():
        try:
            data = json.loads(line)
            if "progress" in data:
                on_progress(progress_from_json(data["progress"]))
            elif "model" in data:
                return StoredModel.from_json(data["model"])
            elif "error" in data:
                error = data["error"]
                return from_code(str(error["code"]), str(error["message"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("pull process: unreadable line %r (%s)", line[:200], exc)
    return None


async def _pump(stream: asyncio.StreamReader, said: deque[str], pid: int) -> None:
    """The child's stderr (tracebacks, the Hub library's warnings) into the log; read in
    chunks, since a progress bar's line may never end."""
    pending = b""
    while chunk := await stream.read(65536):
        *lines, pending = (pending + chunk).replace(b"\r", b"\n").split(b"\n")
        pending = pending[-65536:]
        for line in lines:
            _said(line, said, pid)
    _said(pending, said, pid)


def _said(line: bytes, said: deque[str], pid: int) -> None:
    text = line.decode("utf-8", "replace").rstrip()[:2000]
    if text:
        said.append(text)
        log.info("[pull %s] %s", pid, text)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        async with asyncio.timeout(STOP_SECONDS):
            await asyncio.shield(proc.wait())
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
