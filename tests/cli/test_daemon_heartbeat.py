"""`roost daemon heartbeat`: one tick now on the running background server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

RunRoost = Callable[..., subprocess.CompletedProcess[str]]
PASSWORD = "daemon-heartbeat-password"


def test_needs_a_running_server(run_roost: RunRoost) -> None:
    result = run_roost("daemon", "heartbeat")
    assert result.returncode == 3
    assert "roost is not running" in result.stderr


def test_runs_a_tick_on_the_daemon(
    no_daemon_left: Path, run_roost: RunRoost, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_SERVER_PASS", PASSWORD)
    started = run_roost("daemon", "start", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr

    # A new workspace holds only the template, whose example task is in a comment.
    skipped = run_roost("daemon", "heartbeat")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout == "heartbeat skipped in 0 ms: no open tasks in HEARTBEAT.md\n"

    wrong = run_roost("daemon", "heartbeat", "--key", "wrong")
    assert wrong.returncode == 1
    assert "the server refused (401): invalid API key" in wrong.stderr
    monkeypatch.delenv("ROOST_SERVER_PASS")
    missing = run_roost("daemon", "heartbeat")
    assert missing.returncode == 1
    assert "pass --key or set ROOST_API_KEY or ROOST_SERVER_PASS" in missing.stderr
    monkeypatch.setenv("ROOST_API_KEY", PASSWORD)
    assert run_roost("daemon", "heartbeat").returncode == 0


@pytest.mark.model
def test_an_open_task_runs_a_turn_with_the_embedded_model(
    no_daemon_left: Path, run_roost: RunRoost, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = no_daemon_left
    monkeypatch.setenv("ROOST_SERVER_PASS", PASSWORD)
    assert run_roost("daemon", "start", "--port", str(port)).returncode == 0
    url = json.loads((home / "daemon.json").read_text())["url"]
    put = httpx.put(
        f"{url}/api/memory/files/HEARTBEAT.md",
        json={"content": "# Heartbeat\n\n- [ ] Say hello.\n"},
        headers={"X-API-Key": PASSWORD},
        timeout=60,
    )
    assert put.status_code == 200, put.text
    result = run_roost("daemon", "heartbeat", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(("heartbeat ran in", "heartbeat ok in")), result.stdout
    if result.stdout.startswith("heartbeat ran"):
        today = datetime.now().astimezone().date().isoformat()
        log = (home / "workspace" / "memory" / f"{today}.md").read_text()
        assert "**Heartbeat** (1 open task):" in log
