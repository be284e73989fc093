"""Many clients at once on a real server: side-by-side streams, waiting with keep-alives,
bounded waits in each dialect's error shape, and one user's share of the slots."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PROMPTS = [
    "Tell me about the history of Rome.",
    "What is a cat?",
    "Write a poem about the sea.",
    "Explain how rain forms.",
]
LONG = "Write a very long story about a dragon and a knight."


@dataclass
class Stream:
    lines: list[str] = field(default_factory=list)
    first: float | None = None  # when the first content arrived
    end: float | None = None
    status: int = 0
    keepalives_before_content: int = 0


def body(prompt: str, max_tokens: int) -> dict[str, object]:
    return {
        "model": "smollm2",
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
        "messages": [{"role": "user", "content": prompt}],
    }


def _has_content(line: str) -> bool:
    """A chunk with text (not the role chunk's empty content, not an error)."""
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def stream(server: Server, prompt: str, max_tokens: int, out: Stream, key: str = PASSWORD) -> None:
    with (
        httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=300) as client,
        client.stream("POST", "/v1/chat/completions", json=body(prompt, max_tokens)) as response,
    ):
        out.status = response.status_code
        for line in response.iter_lines():
            out.lines.append(line)
            if line.startswith(": keep-alive") and out.first is None:
                out.keepalives_before_content += 1
            if out.first is None and _has_content(line):
                out.first = time.monotonic()
    out.end = time.monotonic()


def started(
    server: Server, prompt: str, max_tokens: int, key: str = PASSWORD
) -> tuple[Stream, threading.Thread]:
    out = Stream()
    thread = threading.Thread(target=stream, args=(server, prompt, max_tokens, out, key))
    thread.start()
    return out, thread


def wait_for_content(out: Stream, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while out.first is None and out.end is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.first is not None, out.lines


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    servers: list[Server] = []

    def make(config: str) -> Server:
        home = tmp_path / f"home{len(servers)}"
        home.mkdir()
        (home / "config.toml").write_text(config)
        server = Server(home, free_port())
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def test_four_clients_stream_side_by_side(server: Server) -> None:
    runs = [started(server, prompt, 60) for prompt in PROMPTS]
    busiest = 0
    with server.client() as client:
        while any(thread.is_alive() for _, thread in runs):
            (model,) = client.get("/api/status").json()["models"]
            busiest = max(busiest, model["slots_busy"])
            time.sleep(0.05)
        (after,) = client.get("/api/status").json()["models"]
    for _, thread in runs:
        thread.join(300)
    assert busiest > 1  # /api/status saw them decode together
    assert (after["slots"], after["slots_busy"], after["queued"]) == (4, 0, 0)
    outs = [out for out, _ in runs]
    assert all(out.status == 200 for out in outs)
    # Each had its first token before any had its last: decoded together, not in turn.
    assert max(out.first or 0 for out in outs) < min(out.end or 0 for out in outs)


def test_a_request_waiting_for_a_slot_gets_keep_alives_then_its_answer(
    make_server: Callable[[str], Server],
) -> None:
    server = make_server(
        "[models.smollm2]\nparallel = 1\n"
        "[limits]\nsse_keepalive_seconds = 0.2\nslot_wait_seconds = 600\n"
    )
    first, first_thread = started(server, LONG, 100)
    wait_for_content(first)
    second, second_thread = started(server, "What is a cat?", 10)
    first_thread.join(300)
    second_thread.join(300)
    assert second.status == 200
    assert second.keepalives_before_content >= 1  # it waited, and the client knew
    assert second.first is not None
    assert first.end is not None
    assert second.first > first.end - 0.5  # its answer came when the slot came free
    assert [line for line in second.lines if line][-1] == "data: [DONE]"


def test_a_full_queue_is_429_and_a_long_wait_503_in_each_dialect(
    make_server: Callable[[str], Server],
) -> None:
    server = make_server(
        "[models.smollm2]\nparallel = 1\n[limits]\nmax_waiting = 1\nslot_wait_seconds = 1\n"
    )
    first, first_thread = started(server, LONG, 400)
    wait_for_content(first)
    with server.client() as client:
        # One may wait (max_waiting = 1); it gives up after slot_wait_seconds: 503.
        waited = client.post("/v1/chat/completions", json={**body("Hi", 5), "stream": False})
        assert waited.status_code == 503, waited.text
        assert "slot_wait_seconds" in waited.json()["error"]["message"]

        holder = threading.Thread(
            target=lambda: client.post(
                "/v1/chat/completions", json={**body("Hi", 5), "stream": False}
            )
        )
        holder.start()
        time.sleep(0.3)  # it is the one waiting now
        full = client.post("/v1/chat/completions", json={**body("Hi", 5), "stream": False})
        assert full.status_code == 429, full.text
        assert full.headers.get("Retry-After")
        assert full.json()["error"]["message"].startswith("model 'smollm2' is busy")
        native = client.post("/api/chat", json={"message": "Hi"})
        assert native.status_code == 429, native.text
        assert native.json()["error"]["code"] == "rate_limited"
        assert native.headers.get("Retry-After") == "5"
        holder.join(60)
    first_thread.join(300)


def test_one_user_cannot_take_every_slot(make_server: Callable[[str], Server]) -> None:
    server = make_server("[models.smollm2]\nparallel = 2\n[limits]\nslots_per_user = 1\n")
    with server.client() as admin:
        made = admin.post("/admin/users", json={})
        assert made.status_code == 200, made.text
        bob_key = made.json()["api_key"]
    alice_one, t1 = started(server, LONG, 300)
    wait_for_content(alice_one)
    alice_two, t2 = started(server, LONG, 300)  # over her share: waits
    time.sleep(0.5)
    bob, t3 = started(server, "What is a cat?", 20, key=bob_key)
    t3.join(300)
    assert bob.status == 200
    assert bob.end is not None
    assert alice_two.first is None or alice_two.first > bob.first  # bob went first
    assert alice_one.end is None or bob.end < alice_one.end
    t1.join(300)
    t2.join(300)
    assert alice_two.first is not None
    assert [line for line in alice_two.lines if line][-1] == "data: [DONE]"
