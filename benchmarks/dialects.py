"""The same turn through each dialect of issue 22 ÷ through /v1/chat/completions.

One `roost serve` on the embedded model; the same question, greedy, the same number of
tokens, asked through OpenAI's chat completions (the baseline), Ollama's /api/chat,
Anthropic's /v1/messages and OpenAI's /v1/responses, each as its clients send it by
default (Ollama and Anthropic keep the conversation, Responses stores the response),
rounds alternating; and /v1/chat/completions keeping the turn in a new session
(metadata.session_id), the same stored turn, which tells the dialect's own cost apart.
Medians of the whole request's time, streamed and not.

    .venv/bin/python -m benchmarks.dialects [--rounds 30] [--tokens 24]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

QUESTION = "Name three colours of the rainbow."
Call = Callable[[httpx.Client, bool], None]


def _openai(tokens: int) -> Call:
    def call(client: httpx.Client, stream: bool) -> None:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": tokens,
            "temperature": 0,
            "stream": stream,
        }
        _send(client, "/v1/chat/completions", body, {})

    return call


def _openai_stored(tokens: int) -> Call:
    """The same turn kept in a new session (metadata.session_id), as the others keep it."""

    def call(client: httpx.Client, stream: bool) -> None:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": tokens,
            "temperature": 0,
            "stream": stream,
            "metadata": {"session_id": uuid.uuid4().hex},
        }
        _send(client, "/v1/chat/completions", body, {})

    return call


def _ollama(tokens: int) -> Call:
    def call(client: httpx.Client, stream: bool) -> None:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": QUESTION}],
            "options": {"num_predict": tokens, "temperature": 0},
            "stream": stream,
        }
        _send(client, "/ollama/api/chat", body, {})

    return call


def _anthropic(tokens: int) -> Call:
    def call(client: httpx.Client, stream: bool) -> None:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": tokens,
            "temperature": 0,
            "stream": stream,
        }
        _send(client, "/v1/messages", body, {"anthropic-version": "2023-06-01"})

    return call


def _responses(tokens: int) -> Call:
    def call(client: httpx.Client, stream: bool) -> None:
        body = {
            "model": "smollm2",
            "input": QUESTION,
            "max_output_tokens": tokens,
            "temperature": 0,
            "stream": stream,
        }
        _send(client, "/v1/responses", body, {})

    return call


def _send(client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    with client.stream("POST", path, json=body, headers=headers) as response:
        text = response.read()
        if response.status_code != 200 or not text:
            raise RuntimeError(f"{path}: {response.status_code} {text[:300]!r}")


def measure(rounds: int, tokens: int) -> dict[tuple[str, bool], list[float]]:
    dialects = {
        "openai": _openai(tokens),
        "openai+session": _openai_stored(tokens),
        "ollama": _ollama(tokens),
        "anthropic": _anthropic(tokens),
        "responses": _responses(tokens),
    }
    times: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_roost(Path(folder), port)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, server, timeout=120)
            headers = {"Authorization": f"Bearer {PASSWORD}"}
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for call in dialects.values():  # warm: model loaded, prompt cached
                    call(client, False)
                for index in range(rounds):
                    order = list(dialects.items())
                    if index % 2:
                        order.reverse()
                    for stream in (False, True):
                        for name, call in order:
                            started = time.perf_counter()
                            call(client, stream)
                            seconds = time.perf_counter() - started
                            times.setdefault((name, stream), []).append(seconds)
        finally:
            stop(server)
    return times


def figures(size: Size) -> list[Figure]:
    rounds = 10 if size == "small" else 30
    times = measure(rounds, 24)
    out: list[Figure] = []
    for stream in (False, True):
        base = statistics.median(times[("openai", stream)]) * 1000
        mode = "streamed" if stream else "one JSON"
        kept = statistics.median(times[("openai+session", stream)]) * 1000
        for name in ("ollama", "anthropic", "responses"):
            value = statistics.median(times[(name, stream)]) * 1000
            out.append(
                Figure(
                    f"{name} turn ({mode}) ÷ /v1/chat/completions",
                    value,
                    "ms",
                    baseline=base,
                    target="ratio <= 1.05",
                )
            )
            out.append(Figure(f"{name} turn ({mode}) ÷ /v1 kept in a session", value, "ms", kept))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=24)
    args = parser.parse_args()
    times = measure(args.rounds, args.tokens)
    print(f"{'dialect':<16}{'mode':<8}{'p50 ms':>10}{'ratio':>8}")
    for stream in (False, True):
        base = statistics.median(times[("openai", stream)])
        for name in ("openai", "openai+session", "ollama", "anthropic", "responses"):
            p50 = statistics.median(times[(name, stream)])
            mode = "stream" if stream else "json"
            print(f"{name:<16}{mode:<8}{p50 * 1000:>10.1f}{p50 / base:>8.3f}")


if __name__ == "__main__":
    main()
