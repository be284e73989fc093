"""Abuse bounds on a real `roost serve`: slow clients, keys in logs, rate-limited WebSocket
handshakes. (Stream slots, and their release when a client hangs up, are tested in
process: tests/api/test_limits.py.)"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server
from tests.e2e.test_ws import handshake_status


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def serve(home: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Server:
    server = Server(home, free_port())
    server.start(env, args)
    return server


@pytest.fixture
def slow_server(home: Path) -> Iterator[Server]:
    server = serve(home, {"ROOST_LIMITS_HEADER_TIMEOUT": "1.0"})
    try:
        yield server
    finally:
        server.stop()


def _dribble(port: int, stop: threading.Event, closed: list[float], started: float) -> None:
    """A slowloris client: a request line and headers, one byte every 0.1 s, never ending."""
    request = b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 1000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(0.1)
        for byte in request:
            if stop.is_set():
                return
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1024) == b"":  # the server closed the connection
                    closed.append(time.monotonic() - started)
                    return
            except TimeoutError:
                continue  # nothing from the server yet: keep dribbling
            except OSError:
                closed.append(time.monotonic() - started)
                return


def test_slow_header_senders_are_cut_off_and_others_are_served(slow_server: Server) -> None:
    with slow_server.client() as client:  # the app is built (the first request waits for it)
        assert client.get("/api/sessions").status_code == 200
    stop, closed = threading.Event(), []
    started = time.monotonic()
    threads = [
        threading.Thread(target=_dribble, args=(slow_server.port, stop, closed, started))
        for _ in range(40)
    ]
    for thread in threads:
        thread.start()
    try:
        with slow_server.client() as client:
            for _ in range(10):  # while the slow clients hold their connections
                began = time.monotonic()
                assert client.get("/api/sessions").status_code == 200
                assert time.monotonic() - began < 2.0
                time.sleep(0.1)
        for thread in threads:
            thread.join(10)
    finally:
        stop.set()
    # Every slow client was disconnected at the deadline (1 s), not after its 100+ s.
    assert len(closed) == 40
    assert max(closed) < 8.0
    # Headers that arrive in pieces within the deadline are fine.
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=10) as sock:
        for part in (b"GET /health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(0.2)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")


# --- keys never reach the logs -----------------------------------------------------------


@pytest.mark.parametrize("level", ["info", "debug", "trace"])
def test_keys_never_appear_in_the_logs(home: Path, level: str) -> None:
    server = serve(home, args=("--log-level", level))
    secrets = [PASSWORD]
    try:
        with server.client() as admin:
            made = admin.post("/admin/users", json={})
            assert made.status_code == 200, made.text
            user_key = made.json()["api_key"]
            spare = admin.post("/admin/users/keys", json={"user_id": made.json()["user_id"]})
            spare_key = spare.json()["api_key"]
            secrets += [user_key, spare_key]
            with httpx.Client(base_url=server.url, timeout=60) as plain:
                bearer = {"Authorization": f"Bearer {user_key}"}
                assert plain.get("/api/sessions", headers=bearer).status_code == 200
                assert (
                    plain.get("/api/sessions", headers={"x-api-key": user_key}).status_code == 200
                )
                # Keys in query strings: the browser WebSocket's token, MemGPT's api_key.
                plain.get("/api/ws", params={"token": user_key})
                plain.get("/api/sessions", params={"api_key": user_key, "token": PASSWORD})
                wrong = ["roost_" + "W" * 43, "not-a-key-but-secret-9931"]
                secrets += wrong
                for guess in wrong:
                    assert plain.get("/api/status", headers={"X-API-Key": guess}).status_code == 401
                    plain.get("/api/status", headers={"Authorization": f"Bearer {guess}"})
                plain.post("/api/auth", json={"password": PASSWORD})
                plain.post("/api/auth", json={"password": wrong[1]})
            assert handshake_status(server, **{"x-api-key": user_key}) == 101
            revoked = admin.delete("/admin/users/keys", params={"api_key": spare_key})
            assert revoked.status_code == 200, revoked.text
    finally:
        server.stop()
    log = (home / "server.log").read_text()
    assert "GET /api/sessions" in log or level == "critical"  # the access log was on
    leaked = [s for s in secrets if s in log]
    assert leaked == [], f"secrets in the {level} log"
    if level == "trace":
        assert "ASGI" in log  # uvicorn's per-message trace was on, and redacted


# --- stream slots and WebSocket handshakes -----------------------------------------------


async def _first_message(server: Server) -> tuple[dict[str, object], int | None]:
    url = f"ws://127.0.0.1:{server.port}/api/ws"
    async with connect(url, additional_headers={"X-API-Key": PASSWORD}) as ws:
        first = json.loads(await ws.recv())
        try:
            await ws.recv()
        except ConnectionClosed as closed:
            return first, closed.rcvd.code if closed.rcvd else None
        return first, None


async def test_rate_limited_websockets_are_told_and_closed_with_1013(home: Path) -> None:
    env = {"ROOST_LIMITS_REQUESTS_PER_MINUTE": "1", "ROOST_LIMITS_BURST": "2"}
    server = serve(home, env)
    try:
        # The first is charged to the address, then the key's own two; then refused.
        for _ in range(3):
            assert handshake_status(server) == 101
        first, code = await _first_message(server)
    finally:
        server.stop()
    assert first["type"] == "error"
    assert first["error"] == {"code": "rate_limited", "message": "too many requests: retry in 60 s"}
    assert first["retry_after"] == 60
    assert code == 1013
