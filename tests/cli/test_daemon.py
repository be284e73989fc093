"""`roost daemon start|status|stop|restart` with real background processes."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from roost.cli import process

pytestmark = pytest.mark.e2e

Invoke = Callable[..., Result]
RunRoost = Callable[..., subprocess.CompletedProcess[str]]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_start_status_stop_round_trip(no_daemon_left: Path, run_roost: RunRoost, port: int) -> None:
    home = no_daemon_left
    started = run_roost("daemon", "start", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}"
    assert f"listening on {url}" in started.stdout
    found = re.search(r"admin server password for this session: (\S+)", started.stdout)
    assert found is not None
    password = found.group(1)

    pid = process.read_pid(home / "roost.pid")
    assert pid is not None
    assert process.is_running(pid)
    assert httpx.get(f"{url}/health").status_code == 200
    # The password printed here is the one the server takes (given to it, not logged).
    status_api = httpx.get(f"{url}/api/status", headers={"X-API-Key": password})
    assert status_api.status_code == 200
    log = home / "logs" / "roost.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert password not in log.read_text()

    status = run_roost("daemon", "status")
    assert status.returncode == 0
    assert str(pid) in status.stdout
    assert url in status.stdout

    again = run_roost("daemon", "start", "--port", str(port))
    assert again.returncode == 0
    assert "already running" in again.stdout

    stopped = run_roost("daemon", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped (pid {pid})" in stopped.stdout
    assert not process.is_running(pid)
    assert not (home / "roost.pid").exists()

    after = run_roost("daemon", "status")
    assert after.returncode == 3
    assert "not running" in after.stdout
    assert run_roost("daemon", "stop").returncode == 0  # stopping a stopped server is fine


def test_restart_keeps_the_flags_it_was_started_with(
    no_daemon_left: Path, run_roost: RunRoost, port: int
) -> None:
    home = no_daemon_left
    assert run_roost("daemon", "start", "--port", str(port)).returncode == 0
    first = process.read_pid(home / "roost.pid")
    restarted = run_roost("daemon", "restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    second = process.read_pid(home / "roost.pid")
    assert second is not None
    assert second != first
    assert first is not None
    assert not process.is_running(first)
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    assert run_roost("daemon", "stop").returncode == 0


def test_stale_pid_file_is_cleaned_up(cli: Invoke, roost_home: Path) -> None:
    roost_home.mkdir(exist_ok=True)
    pid_file = roost_home / "roost.pid"
    pid_file.write_text(f"{_dead_pid()}\n")
    status = cli("daemon", "status")
    assert status.exit_code == 3
    assert not pid_file.exists()
    pid_file.write_text(f"{_dead_pid()}\n")
    stop = cli("daemon", "stop")
    assert stop.exit_code == 0
    assert "stale" in stop.stdout
    assert not pid_file.exists()


def test_a_pid_reused_by_another_program_is_not_killed(cli: Invoke, roost_home: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (roost_home / "roost.pid").write_text(f"{bystander.pid}\n")
        assert cli("daemon", "stop").exit_code == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_start_failure_shows_the_log_and_leaves_nothing_running(
    no_daemon_left: Path, run_roost: RunRoost, port: int, serving: Callable[..., Any]
) -> None:
    with serving():  # a foreground server already holds the port
        failed = run_roost("daemon", "start", "--port", str(port))
    assert failed.returncode == 1
    assert "exited while starting" in failed.stderr
    assert "address already in use" in failed.stderr
    assert not (no_daemon_left / "roost.pid").exists()
    assert "Traceback" not in failed.stderr


def test_start_with_a_broken_config_does_not_spawn(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "config.toml").write_text("[server]\nprot = 1\n")
    result = cli("daemon", "start")
    assert result.exit_code == 2
    assert "server.prot" in result.stderr
    assert not (roost_home / "roost.pid").exists()


def test_a_server_just_spawned_counts_as_running() -> None:
    """Right after the spawn its command line may still be empty (fork, then exec): a
    start that checked in that moment reported "exited while starting" with an empty log."""
    started: list[int] = []
    try:
        for _ in range(100):
            fd = os.open(os.devnull, os.O_WRONLY)
            try:
                argv = [sys.executable, "-c", "import time; time.sleep(30)  # roost"]
                started.append(process.spawn(argv, dict(os.environ), fd))
            finally:
                os.close(fd)
            assert process.is_running(started[-1])
    finally:
        for pid in started:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
