"""Start and stop a real `roost serve` for a benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> float:
    """Poll /health; return the seconds it took."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(0.005)
    raise RuntimeError("no /health answer")


def start_roost(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROOST_HOME": str(home), "ROOST_SERVER_PASS": PASSWORD}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roost.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
