"""Process plumbing for the daemon: the pid file, liveness, spawning and stopping.

POSIX only, like the daemon itself (SIGTERM, sessions, /proc where there is one).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def reap(pid: int) -> bool:
    """Collect `pid` if it is our exited child; True when it was."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: its own parent (or init) reaps it
        return False
    return done == pid


def _proc_file(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def is_running(pid: int) -> bool:
    """Alive, not a zombie, and (where /proc tells) a roost process: a reused pid is not."""
    if reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number
        return False
    stat = _proc_file(pid, "stat")
    if stat is not None and stat.rpartition(b")")[2].split()[:1] == [b"Z"]:
        return False
    cmdline = _proc_file(pid, "cmdline")
    # Empty: a child just spawned (fork, then exec) may not have its command line yet.
    return not cmdline or b"roost" in cmdline


def spawn(argv: list[str], env: dict[str, str], log_fd: int) -> int:
    """Start `argv` detached: its own session, stdin from /dev/null, output to `log_fd`.

    posix_spawn rather than subprocess.Popen: the server outlives this command, and a
    Popen object would warn that its child is still running when it is collected.
    """
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log_fd, 1),
            (os.POSIX_SPAWN_DUP2, log_fd, 2),
        ],
        setsid=True,
    )


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, wait up to `timeout`, then SIGKILL. True if it stopped gracefully."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_gone(pid, 5.0)
    return False
