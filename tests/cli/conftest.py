"""CLI fixtures: an isolated ROOST_HOME, the in-process runner, and `roost` subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

import roost
from roost.cli import process
from roost.cli.main import app
from tests import backend

SRC = str(Path(roost.__file__).resolve().parents[1])

Invoke = Callable[..., Result]


@pytest.fixture
def roost_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ROOST_HOME for this test, and no roost settings leaking in from the caller's env."""
    for name in list(os.environ):
        if name.startswith("ROOST_") or name == "MEMGPT_SERVER_PASS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ROOST_HOME", str(home))
    for name, value in backend.database_env().items():  # the run's database, if not SQLite
        monkeypatch.setenv(name, value)
    # Children started by `daemon start` import roost from this checkout, installed or not.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    )
    return home


@pytest.fixture
def cli(roost_home: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return invoke


RunRoost = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_roost(roost_home: Path) -> RunRoost:
    """Run `roost ARGS` as a real process, in this test's environment."""

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "roost.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def port() -> int:
    """A free port; ours only until someone else binds it, which tests here do not."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for_health(url: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"roost exited with {proc.returncode}:\n{log.read_text()}")
        try:
            # Readiness only; the TLS test checks the certificate itself.
            response = httpx.get(f"{url}/health", timeout=1, verify=False)  # noqa: S501
            if response.status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url}/health did not answer in 30 s:\n{log.read_text()}")


@contextmanager
def _serving(log: Path, port: int, args: tuple[str, ...], scheme: str) -> Iterator[Served]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "roost.cli", "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"{scheme}://127.0.0.1:{port}"
        wait_for_health(url, proc, log)
        yield Served(proc, url, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


Serving = Callable[..., AbstractContextManager[Served]]


@pytest.fixture
def serving(roost_home: Path, port: int) -> Serving:
    """`with serving(*args) as server:` runs `roost serve --port PORT ARGS` for the block;
    the process is stopped when it ends, whatever happened in it."""

    def start(*args: str, scheme: str = "http") -> AbstractContextManager[Served]:
        return _serving(roost_home.parent / "serve.log", port, args, scheme)

    return start


@pytest.fixture
def no_daemon_left(roost_home: Path) -> Iterator[Path]:
    """Whatever a daemon test does, kill the server its pid file names afterwards."""
    yield roost_home
    pid = process.read_pid(roost_home / "roost.pid")
    if pid is not None and process.is_running(pid):
        process.terminate(pid, 5.0)
