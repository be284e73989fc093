"""Slow request bodies on a real `roost serve`: a client that declares a body and then
sends a byte every so often gets a 408 in its dialect's shape at `[limits] body_timeout`
and loses the connection, while other clients are served."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.dialect_shapes import error_shape_ok
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

DEADLINE = 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    instance = Server(home, free_port())
    instance.start({"ROOST_LIMITS_BODY_TIMEOUT": str(DEADLINE)})
    try:
        yield instance
    finally:
        instance.stop()


def _dribble(port: int, path: str, results: dict[str, object], stop: threading.Event) -> None:
    """Declare 100000 bytes of body, then send one byte every 0.4 s; read what comes back."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {PASSWORD}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.4)
        while not stop.is_set() and time.monotonic() - started < 15:
            try:
                sock.sendall(b" ")
            except OSError:
                break  # closed by the server
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break  # the server closed the connection
            answer += chunk
    results["closed_after"] = time.monotonic() - started
    results["answer"] = answer


@pytest.mark.parametrize(
    ("dialect", "path"),
    [("openai", "/v1/chat/completions"), ("chatnvim", "/"), ("native", "/api/chat")],
)
def test_a_slow_body_is_cut_off_with_408(server: Server, dialect: str, path: str) -> None:
    results: dict[str, object] = {}
    stop = threading.Event()
    thread = threading.Thread(target=_dribble, args=(server.port, path, results, stop))
    thread.start()
    try:
        with server.client() as client:  # others are served meanwhile
            for _ in range(3):
                assert client.get("/api/sessions").status_code == 200
                time.sleep(0.2)
        thread.join(20)
    finally:
        stop.set()
        thread.join(5)
    closed_after = results["closed_after"]
    assert isinstance(closed_after, float)
    assert closed_after < DEADLINE + 5, results  # not the 15 s the client would go on for
    answer = results["answer"]
    assert isinstance(answer, bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in head.lower()
    assert error_shape_ok(dialect, 408, json.loads(body)), body


def test_a_body_that_keeps_pace_is_served(server: Server) -> None:
    """A large body sent in pieces, each well within the deadline, is not cut off."""
    content = json.dumps({"session": "paced", "content": "x" * 60_000}).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {PASSWORD}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for start in range(0, len(content), 20_000):
            sock.sendall(content[start : start + 20_000])
            time.sleep(DEADLINE / 4)
        assert sock.recv(65536).startswith(b"HTTP/1.1 204")


def test_a_connection_answered_before_its_body_is_closed(server: Server) -> None:
    """A route that never reads the body (here: none) answers at once; the client may not
    then hold the connection by dribbling the rest of its body."""
    with server.client() as client:  # the app is built (the first request waits for it)
        assert client.get("/api/sessions").status_code == 200
    results: dict[str, object] = {}
    _dribble(server.port, "/v1/no-such-route", results, threading.Event())
    answer = results["answer"]
    assert isinstance(answer, bytes)
    assert answer.startswith(b"HTTP/1.1 404"), answer
    closed_after = results["closed_after"]
    assert isinstance(closed_after, float)
    assert closed_after < 3, results
