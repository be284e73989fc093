"""Start `tests.fuzz.app` on a free port in its own process, and make the fuzz user."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.fuzz.runner import Credentials
from tests.hubserver import FakeHub, running

PASSWORD = "fuzz-admin-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # a loaded machine migrating PostgreSQL is slow
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the fuzz server did not answer in 180 s")


def seed(url: str, key: str) -> dict[str, str]:
    """One of each thing the fuzz user can own, so that fuzzed requests can name it."""
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:

        def made(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
            response = client.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

        agent = made("POST", "/api/agents", {"config": {"name": "fuzz-agent"}})
        made("POST", "/api/humans", {"name": "fuzz-human", "text": "a tester"})
        made("POST", "/api/personas", {"name": "fuzz-persona", "text": "a helper"})
        made("POST", "/api/presets", {"name": "fuzz-preset"})
        tool = {"name": "fuzz_tool", "parameters": {"type": "object", "properties": {}}}
        made("POST", "/api/tools", {"json_schema": tool})
        role = {"name": "fuzz-role", "system_prompt": "Be brief."}
        made("PUT", "/api/memory/files/MEMORY.md", {"content": "# Memory\nfuzz\n"})
        return {
            "session_id": made("POST", "/api/sessions", {"title": "fuzz"})["session_id"],
            "conversation_id": made("POST", "/api/conversations")["id"],
            "role_id": made("POST", "/api/kernel2/roles", role)["data"]["id"],
            "agent_id": agent["agent_state"]["id"],
            "response_id": made("POST", "/v1/responses", {"model": "scripted", "input": "fuzz"})[
                "id"
            ],
            "model_id": "scripted",
            "path": "MEMORY.md",
            "preset_id": "fuzz-preset",
            "/ui/{name}:name": "app.js",
            "/api/humans/{name}:name": "fuzz-human",
            "/api/personas/{name}:name": "fuzz-persona",
            "/api/presets/{name}:name": "fuzz-preset",
            "/api/tools/{name}:name": "fuzz_tool",
        }


@contextmanager
def fuzz_server(home: Path) -> Iterator[tuple[str, Credentials]]:
    """A running server (base URL) and the credentials to fuzz it with."""
    with running(FakeHub()) as hub:  # no repos: a pull of any name finds none (404)
        yield from _serve(home, hub.url)


def _serve(home: Path, hub: str) -> Iterator[tuple[str, Credentials]]:
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ROOST_HOME": str(home), "ROOST_SERVER_PASS": PASSWORD}
    env["HF_ENDPOINT"] = hub  # POST /api/models/pull never reaches the real Hub
    # Generated passwords for POST /api/auth are failed authentications: past ten a minute
    # they would lock the admin password out of the rest of the run (tests/api covers that).
    env["ROOST_LIMITS_FAILED_AUTHS_PER_MINUTE"] = "0"
    if os.environ.get("ROOST_FUZZ_DATABASE_URL"):  # fuzz on PostgreSQL (an empty database)
        env["ROOST_DATABASE_URL"] = os.environ["ROOST_FUZZ_DATABASE_URL"]
    log = home / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.app", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(url, process, log)
        made = httpx.post(
            f"{url}/admin/users", json={}, headers={"Authorization": f"Bearer {PASSWORD}"}
        )
        made.raise_for_status()
        user_id, key = made.json()["user_id"], made.json()["api_key"]
        known = seed(url, key)
        yield url, Credentials(PASSWORD, key, frozenset({user_id, key[:12]}), known)
        if process.poll() is not None:
            raise RuntimeError(f"the server died during the run:\n{log.read_text()[-4000:]}")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
