"""A real `roost serve` process on a free port, with the embedded model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

PASSWORD = "e2e-password"


@dataclass
class Server:
    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # the server's, once started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str = PASSWORD) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=120)

    def start(self, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "ROOST_HOME": str(self.home), "ROOST_SERVER_PASS": PASSWORD}
        env.update(extra_env or {})
        self.env = env
        with (self.home / "server.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "roost.cli", "serve", "--port", str(self.port), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.home / "server.log").read_text())
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not answer /health in 30 s")

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`roost ARGS` as a user on this server's machine runs it: same home and env."""
        return subprocess.run(
            [sys.executable, "-m", "roost.cli", *args],
            env=self.env or {**os.environ, "ROOST_HOME": str(self.home)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    instance = Server(home, free_port())
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
