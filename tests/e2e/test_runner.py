"""The model's process dies, the server lives: kill -9 of a runner mid-stream, the
request that crashed llama.cpp's grammar code, and a second GGUF with tools."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from roost.providers.llamacpp import embedded_model_path
from tests.conftest import free_port
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]

LONG = "Write a long story about a lighthouse keeper and a storm."


def runner_pids(server: Server) -> list[int]:
    assert server.process is not None
    pids = []
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    for pid in children.read_text().split():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"roost.providers.runner" in cmdline:
            pids.append(int(pid))
    return pids


def maps_of(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def roost_models(server: Server) -> str:
    env = {**os.environ, "ROOST_HOME": str(server.home)}
    done = subprocess.run(
        [sys.executable, "-m", "roost.cli", "models"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout + done.stderr


def test_kill_9_of_the_runner_mid_stream_costs_that_turn_only(server: Server) -> None:
    with server.client() as client:
        assert client.post("/api/chat", json={"message": "Hi"}).status_code == 200
        assert server.process is not None
        assert "libllama" not in maps_of(server.process.pid)  # never in the server
        (runner,) = runner_pids(server)
        assert "libllama" in maps_of(runner)

        # An OpenAI stream: the client gets an error event, then [DONE].
        body = {
            "model": "smollm2",
            "stream": True,
            "max_tokens": 400,
            "messages": [{"role": "user", "content": LONG}],
        }
        lines: list[str] = []
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines.append(line)
                if len(lines) == 8:
                    os.kill(runner, signal.SIGKILL)
        data = [line[6:] for line in lines if line.startswith("data: ")]
        assert data[-1] == "[DONE]"
        error = json.loads(data[-2])["error"]
        assert error["message"] == "model process crashed (SIGKILL); restarted"
        assert error["code"] == "provider_error"

        # A chat in another session a second later is answered, by a new runner.
        time.sleep(1)
        answer = client.post("/api/chat", json={"message": "What is the capital of France?"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"]
        (replacement,) = runner_pids(server)
        assert replacement != runner

        # A stored native turn keeps what was produced and the error.
        session = client.post("/api/sessions").json()["session_id"]
        seen = 0
        events = []
        payload = {"session_id": session, "message": LONG}
        with client.stream("POST", "/api/chat/stream", json=payload) as response:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    events.append(json.loads(line[6:]))
                    if events[-1]["type"] == "content":
                        seen += 1
                        if seen == 5:
                            os.kill(replacement, signal.SIGSEGV)
        assert events[-1]["type"] == "error"
        assert "model process crashed (SIGSEGV); restarted" in json.dumps(events[-1])
        messages = client.get(f"/api/sessions/{session}").json()["messages"]
        reply = messages[-1]
        assert reply["role"] == "assistant"
        assert reply["content"]  # the partial answer
        assert "model process crashed (SIGSEGV)" in json.dumps(reply)

        models = client.get("/api/models").json()["models"]
        (smollm2,) = [m for m in models if m["name"] == "smollm2"]
        assert smollm2["restarts"] == 2
        status = client.get("/api/status").json()
        assert status["models"][0]["restarts"] == 2
        listed = client.get("/v1/models").json()["data"]
        assert [m["restarts"] for m in listed if m["id"] == "smollm2"] == [2]
        deadline = time.monotonic() + 60
        while listed[0]["state"] != "ready" and time.monotonic() < deadline:
            time.sleep(0.2)  # the replacement of the second runner is loading
            listed = [m for m in client.get("/v1/models").json()["data"] if m["id"] == "smollm2"]
    listing = roost_models(server)
    assert "2 restarts" in listing
    assert f"ready (pid {runner_pids(server)[0]})" in listing


TOOL = {
    "type": "function",
    "function": {
        "name": "write_note",
        "description": "Write a note",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 1048576}},
            "required": ["text"],
        },
    },
}


def test_the_request_that_crashed_llama_cpp_is_answered_and_the_server_lives(
    server: Server,
) -> None:
    body = {
        "model": "smollm2",
        "max_tokens": 40,
        "messages": [{"role": "user", "content": "Write a note saying hello."}],
        "tools": [TOOL],
        "tool_choice": "required",
    }
    with server.client() as client:
        for _ in range(3):
            response = client.post("/v1/chat/completions", json=body)
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert "maxLength" in response.json()["error"]["message"]
            assert httpx.get(f"{server.url}/health").status_code == 200
    assert server.process is not None
    assert server.process.poll() is None


def test_a_second_gguf_as_the_docs_show_answers_with_tools(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    # docs/models.md, "A bigger GGUF file": a GGUF under the home, tools on by default.
    shutil.copy(embedded_model_path(), home / "models" / "second.gguf")
    (home / "config.toml").write_text(
        'default_model = "second"\n\n[models.second]\nprovider = "llamacpp"\n'
        'path = "models/second.gguf"\nn_ctx = 4096\ntemperature = 0.7\n'
    )
    server = Server(home, free_port())
    server.start()
    try:
        with server.client() as client:
            answer = client.post("/api/chat", json={"message": "Hello! Who are you?"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["response"]
            models = client.get("/api/models").json()["models"]
            (second,) = [m for m in models if m["name"] == "second"]
            assert second["state"] == "ready"
            assert second["restarts"] == 0
    finally:
        server.stop()
