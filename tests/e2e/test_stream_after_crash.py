"""Resuming a stream whose turn died with its server: the interrupted error at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]

LONG = "Write a long story about a lighthouse keeper and a storm."


def test_a_stream_cut_by_kill_9_ends_with_interrupted_after_the_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, free_port())
    server.start()
    try:
        last_id = None
        with server.client() as client:
            session = client.post("/api/sessions").json()["session_id"]
            body = {"session_id": session, "message": LONG}
            with client.stream("POST", "/api/chat/stream", json=body) as response:
                contents = 0
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                    if line.startswith("data: {") and '"content"' in line:
                        contents += 1
                        if contents == 5:
                            time.sleep(0.3)  # let the recorder store what was sent
                            server.kill()
                            break
        assert last_id is not None
        stream_id = last_id.split(":")[0]
        server.start()
        with server.client() as client:
            client.timeout = 15  # today: keep-alives for 5 minutes, no end
            started = time.monotonic()
            headers = {"Last-Event-ID": last_id}
            events = []
            with client.stream("GET", f"/api/streams/{stream_id}", headers=headers) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(line[6:])
                        if line == "data: [DONE]":
                            break
            assert time.monotonic() - started < 10
            assert events[-1] == "[DONE]"
            error = json.loads(events[-2])
            assert error["type"] == "error"
            assert error["error"]["code"] == "interrupted"
            assert "stopped before this message was answered" in error["error"]["message"]
            # The stored turn agrees.
            reply = client.get(f"/api/sessions/{session}").json()["messages"][-1]
            assert reply["error"].startswith("interrupted:")
    finally:
        server.stop()
