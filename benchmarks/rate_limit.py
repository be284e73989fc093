"""What the abuse bounds add to a request: the RateLimit middleware ÷ the bare app.

The /v1 proxy path has a budget of 2 ms added latency (benchmarks/proxy_overhead.py);
this measures the share the per-key rate limit and stream slots take of it, in-process,
on a trivial ASGI app, so nothing else is counted. Variants, alternated over rounds:
- bare: the app alone (the baseline)
- rate: through RateLimit, a known key with its own bucket (a token taken per request)
- stream: as rate, and the route opens a stream slot that the middleware releases
- guessing: unknown keys, each a new digest (charged to the address's bucket)

    .venv/bin/python -m benchmarks.rate_limit [--requests 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Message, Receive, Scope, Send

from benchmarks._figures import Figure, Size
from roost.api.limits import Bounds, RateLimit, open_stream

KEY = "roost_benchmark-key-0123456789abcdefghijklmnopqrstuvwxyz"


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
    open_stream(HTTPConnection(scope))
    await bare(scope, receive, send)


def scope_for(key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:31327"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"accept", b"text/event-stream"),
        ],
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


async def run(app: Any, scopes: list[dict[str, Any]]) -> float:
    """Seconds per request."""
    started = time.perf_counter()
    for scope in scopes:
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / len(scopes)


def limited(inner: Any) -> RateLimit:
    middleware = RateLimit(inner, Bounds(requests_per_minute=10**9, burst=10**9, max_streams=8))
    middleware.limiter.trust(hash(KEY.encode()))
    return middleware


async def measure(requests: int, rounds: int) -> dict[str, float]:
    """Median seconds per request of each variant."""
    known = [scope_for(KEY)] * requests
    guesses = [scope_for(f"guess-{n}") for n in range(requests)]
    variants = {
        "bare": (bare, known),
        "rate": (limited(bare), known),
        "stream": (limited(streaming), known),
        "guessing": (limited(bare), guesses),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (app, scopes) in variants.items():
            results[name].append(await run(app, scopes))
    return {name: statistics.median(values) for name, values in results.items()}


def figures(size: Size) -> list[Figure]:
    requests, rounds = (10_000, 3) if size == "small" else (50_000, 5)
    medians = asyncio.run(measure(requests, rounds))
    base = medians["bare"]
    return [
        Figure(f"rate limit: {name} (µs per request ÷ bare app)", value * 1e6, "µs", base * 1e6)
        for name, value in medians.items()
        if name != "bare"
    ]


async def main(requests: int, rounds: int) -> None:
    medians = await measure(requests, rounds)
    base = medians["bare"]
    print(f"{requests} requests x {rounds} rounds, median per request")
    print(f"{'variant':<10} {'us/request':>11} {'added us':>9} {'ratio':>6}")
    for name, value in medians.items():
        added = (value - base) * 1e6
        print(f"{name:<10} {value * 1e6:>11.2f} {added:>9.2f} {value / base:>6.2f}")
    print("budget for the whole /v1 proxy path: 2000 us added (issue 3)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
