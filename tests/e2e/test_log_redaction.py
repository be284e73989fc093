"""A real `roost serve`: keys sent in percent-encoded query parameters authenticate and never
reach the log, at INFO or TRACE, in uvicorn's WebSocket lines and access log alike; a
short admin password is warned about at start."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

pytestmark = pytest.mark.e2e


def _raw_get(server: Server, target: str) -> bytes:
    """A request with its target exactly as written (a client library would re-encode it)."""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("level", ["info", "trace"])
async def test_encoded_query_keys_authenticate_and_stay_out_of_the_log(
    tmp_path: Path, level: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, free_port())
    server.start(args=("--log-level", level))
    try:
        with server.client() as admin:
            user_key = admin.post("/admin/users", json={}).json()["api_key"]
        for query in (f"?%74oken={PASSWORD}", f"?tok%65n={PASSWORD}", f"?%74oken={user_key}"):
            async with connect(f"ws://127.0.0.1:{server.port}/api/ws{query}") as ws:
                assert json.loads(await ws.recv())["type"] == "connected", query
        # The access log, with encoded names, a quote and an encoded key in other values.
        for target in (
            f"/api/sessions?%74oken={PASSWORD}",
            f"/api/sessions?api%5Fkey={PASSWORD}",
            f"/api/sessions?token=a'{PASSWORD}",
            "/api/sessions?q=" + user_key.replace("roost_", "%72oost_"),
        ):
            assert _raw_get(server, target).startswith(b"HTTP/1.1 401"), target
        with httpx.Client(base_url=server.url) as plain:  # the access log was on
            assert plain.get("/api/sessions", params={"ok": "1"}).status_code == 401
    finally:
        server.stop()
    log = (home / "server.log").read_text()
    assert "/api/sessions?ok=1" in log
    assert "WebSocket /api/ws?%74oken=***" in log
    assert "WebSocket /api/ws?tok%65n=***" in log
    leaked = [s for s in (PASSWORD, user_key, user_key.removeprefix("roost_")) if s in log]
    assert leaked == [], f"secrets in the {level} log"
    # PASSWORD ("e2e-password") is 12 characters.
    assert (
        "roost: warning: the admin password (ROOST_SERVER_PASS or MEMGPT_SERVER_PASS) has 12 "
        in log
    )
