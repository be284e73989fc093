"""GET /api/ws over real TCP against `roost serve`: the handshake, frame limits, the log,
and a chat with the real embedded model."""

from __future__ import annotations

import base64
import json
import os
import socket
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import PASSWORD, Server

pytestmark = pytest.mark.e2e


def ws_url(server: Server, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/api/ws{query}"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await ws.recv(decode=True))
    return data


def handshake_status(server: Server, **headers: str) -> int:
    """Send a raw upgrade request; return the HTTP status of the answer."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /api/ws HTTP/1.1",
        f"Host: {headers.pop('host', f'127.0.0.1:{server.port}')}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"X-API-Key: {PASSWORD}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_handshake_guards(server: Server) -> None:
    assert handshake_status(server) == 101
    assert handshake_status(server, host="evil.example") == 403  # DNS rebinding
    assert handshake_status(server, Origin="https://evil.example") == 403  # another site's page
    assert handshake_status(server, Origin=f"http://127.0.0.1:{server.port}") == 101


async def test_token_parameter_and_wrong_key(server: Server) -> None:
    async with connect(ws_url(server, f"?token={PASSWORD}")) as ws:
        assert (await receive(ws))["type"] == "connected"
        await ws.send(json.dumps({"type": "ping", "id": "a"}))
        assert await receive(ws) == {"type": "pong", "id": "a"}
    async with connect(ws_url(server, "?token=wrong")) as ws:
        assert (await receive(ws))["error"]["code"] == "unauthorized"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "invalid API key")
    # The key in the URL is kept out of the server's log.
    log = (server.home / "server.log").read_text()
    assert "token=***" in log
    assert PASSWORD not in log


async def test_message_limits(server: Server) -> None:
    async with connect(ws_url(server), additional_headers={"X-API-Key": PASSWORD}) as ws:
        await receive(ws)
        long = {"type": "chat", "message": "x" * 100_001}  # over limits.max_message_chars
        await ws.send(json.dumps(long))
        error = (await receive(ws))["error"]
        assert error == {
            "code": "invalid_request",
            "message": "message is longer than 100000 characters",
        }
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}

        # A frame over limits.max_body_bytes is not even buffered: the server closes, often
        # while the client is still sending the frame (then the send is what fails).
        async def oversize_then_read() -> None:
            await ws.send("x" * (1_048_576 + 1))
            await ws.recv()

        with pytest.raises(ConnectionClosed) as closed:
            await oversize_then_read()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


@pytest.mark.model
async def test_chat_with_the_embedded_model_and_continue_after_reconnecting(
    server: Server,
) -> None:
    headers = {"Authorization": f"Bearer {PASSWORD}"}
    async with connect(ws_url(server), additional_headers=headers) as ws:
        await receive(ws)
        await ws.send(json.dumps({"type": "chat", "message": "What is the capital of France?"}))
        messages = [await receive(ws)]
        while messages[-1]["type"] not in ("done", "error"):
            messages.append(await receive(ws))
    assert messages[0]["type"] == "session"
    deltas = [m["delta"] for m in messages if m["type"] == "content"]
    assert len(deltas) > 1  # token by token
    assert "paris" in "".join(deltas).lower()
    done = messages[-1]
    assert done["type"] == "done", done
    assert done["tokens"]["completion"] > 0
    session_id = done["session_id"]

    async with connect(ws_url(server), additional_headers=headers) as ws:
        await receive(ws)
        await ws.send(json.dumps({"type": "session", "session_id": session_id}))
        assert (await receive(ws))["session_id"] == session_id
        await ws.send(json.dumps({"type": "chat", "message": "And of Italy?"}))
        second = [await receive(ws)]
        while second[-1]["type"] not in ("done", "error"):
            second.append(await receive(ws))
    assert second[-1]["type"] == "done"
    assert second[-1]["session_id"] == session_id
    # The second prompt carried the first exchange.
    assert second[-1]["tokens"]["prompt"] > done["tokens"]["prompt"] + done["tokens"]["completion"]
    with server.client() as client:
        stored = client.get(f"/api/sessions/{session_id}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
