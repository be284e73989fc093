"""The first user journey over real HTTP with the real embedded SmolLM2 model."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_capital_of_france_is_a_real_answer(server: Server) -> None:
    with server.client() as client:
        response = client.post("/api/chat", json={"message": "What is the capital of France?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "smollm2"
    assert "paris" in body["response"].lower()
    tokens = body["tokens"]
    assert tokens["prompt"] > 10
    assert tokens["completion"] > 0
    assert tokens["total"] == tokens["prompt"] + tokens["completion"]


def test_second_turn_carries_the_first(server: Server) -> None:
    with server.client() as client:
        first = client.post("/api/chat", json={"message": "My favourite colour is green."}).json()
        second = client.post(
            "/api/chat",
            json={"message": "What is my favourite colour?", "session_id": first["session_id"]},
        ).json()
        detail = client.get(f"/api/sessions/{first['session_id']}").json()
    # The whole first exchange is in the second prompt.
    assert second["tokens"]["prompt"] > first["tokens"]["prompt"] + first["tokens"]["completion"]
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]


def test_stream_is_token_by_token(server: Server) -> None:
    with (
        server.client() as client,
        client.stream(
            "POST", "/api/chat/stream", json={"message": "Count from one to ten."}
        ) as response,
    ):
        assert response.headers["x-accel-buffering"] == "no"
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    deltas = [e for e in events if e["type"] == "content"]
    done = events[-1]
    assert done["type"] == "done"
    assert len(deltas) >= 3
    assert done["tokens"]["completion"] >= len(deltas) - 1


def test_disconnect_midway_still_saves_the_whole_reply(server: Server) -> None:
    received = []
    with server.client() as client:
        with client.stream(
            "POST",
            "/api/chat/stream",
            json={"message": "Write a long story about a dragon and a knight."},
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event["type"] == "session":
                    session_id = event["session_id"]
                elif event["type"] == "content":
                    received.append(event["delta"])
                    if len(received) == 3:
                        break  # hang up mid-reply
        deadline = time.monotonic() + 240  # the long story ends by itself; a loaded CPU is slow
        messages: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            messages = client.get(f"/api/sessions/{session_id}").json()["messages"]
            if len(messages) == 2:
                break
            time.sleep(0.2)
    assert len(messages) == 2
    reply = messages[1]
    assert isinstance(reply["content"], str)
    assert reply["content"].startswith("".join(received))
    assert len(reply["content"]) > len("".join(received))
    assert reply["error"] is None


def test_sessions_survive_a_kill_and_restart(server: Server) -> None:
    with server.client() as client:
        made = client.post("/api/chat", json={"message": "Remember the number 42."}).json()
    server.kill()
    server.start()
    with server.client() as client:
        detail = client.get(f"/api/sessions/{made['session_id']}")
    assert detail.status_code == 200
    assert detail.json()["messages"][0]["content"] == "Remember the number 42."
    assert len(detail.json()["messages"]) == 2


def test_wrong_key_is_401_over_http(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/api/chat", json={"message": "hi"}, headers={"X-API-Key": "nope"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
