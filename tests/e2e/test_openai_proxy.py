"""A real `roost serve` proxying /v1 to an OpenAI-compatible upstream: the stream over a
real socket, and what happens when the client hangs up halfway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, sse_events
from tests.e2e.conftest import PASSWORD, Server
from tests.upstreams import Upstream, openai_upstream

pytestmark = [pytest.mark.e2e]

BODY = {
    "model": "remote",
    "messages": [{"role": "user", "content": "Count."}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with openai_upstream() as up:
        yield up


@pytest.fixture
def proxy(tmp_path: Path, upstream: Upstream) -> Iterator[Server]:
    home = tmp_path / "proxy"
    home.mkdir()
    (home / "config.toml").write_text(
        f'default_model = "remote"\n[models.remote]\nprovider = "openai"\n'
        f'base_url = "{upstream.base_url}"\nmodel = "gpt-test"\n'
    )
    server = Server(home, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_streamed_answer_arrives_whole(proxy: Server, upstream: Upstream) -> None:
    upstream.set(reply="one two three")
    with proxy.client(PASSWORD) as client:
        response = client.post("/v1/chat/completions", json=BODY)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-2])
    assert text == "one two three"
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["choices"] == []
    assert events[-2]["usage"]["completion_tokens"] == 3


def test_a_client_that_hangs_up_stops_the_upstream_stream(
    proxy: Server, upstream: Upstream
) -> None:
    upstream.set(reply=" ".join(["word"] * 200), chunk_delay=0.05)
    with (
        proxy.client(PASSWORD) as client,
        client.stream("POST", "/v1/chat/completions", json=BODY) as response,
    ):
        lines = response.iter_lines()
        seen = 0
        while seen < 3:
            line = next(lines)
            seen += line.startswith("data: ") and "word" in line
    # Leaving the block closed the connection; roost must hang up on the upstream.
    deadline = time.monotonic() + 5
    while upstream.abandoned == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.abandoned == 1
    log = (proxy.home / "server.log").read_text()
    assert "Traceback" not in log
