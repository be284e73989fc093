"""Proxy overhead of /v1/chat/completions: through roost ÷ straight to the same upstream.

The upstream is benchmarks/_fast_upstream.py (a minimal OpenAI-compatible server in its
own process); roost runs as `roost serve` with that upstream as an `openai` model. A
raw-socket client (its own cost is the same on every path) streams completions with
`include_usage` over keep-alive connections, 1 and 50 at a time. With one client, the
paths take turns request by request; with 50, their runs alternate, several rounds, so
drift on a noisy machine hits all alike.

A third path is the floor: benchmarks/_bare_relay.py, the same server stack (uvicorn and
aiohttp) relaying bytes and doing nothing else. Its added latency is what any relay built
on that stack costs on this machine (a request that finds the process idle runs on cold
caches: on some machines that alone is a millisecond or two); roost's own share is its
added latency over the bare relay's.

On a machine with two or more cores, roost gets a core of its own and the upstream and
the client share another, as when the model server runs on its own hardware; otherwise
roost's CPU use would slow the upstream's token clock and count twice.

    .venv/bin/python -m benchmarks.proxy_overhead [--tokens 32] [--delay-ms 10] [--rounds 3]

Target (issue 3): added p50 ≤ 2 ms, throughput ≥ 0.9 of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

SIZES: dict[Size, dict[str, int]] = {
    "small": {"rounds": 1, "requests": 300},
    "full": {"rounds": 3, "requests": 1500},
}

BODY = json.dumps(
    {
        "model": "fast",
        "messages": [{"role": "user", "content": "Say something."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()


def request_bytes(port: int) -> bytes:
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {PASSWORD}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += (await reader.readexactly(size + 2))[:-2]


def check_complete(body: bytes, tokens: int) -> None:
    """Every answer must be whole: all the words, then [DONE]."""
    if body.count(b"word") != tokens or not body.rstrip().endswith(b"[DONE]"):
        raise RuntimeError(f"incomplete answer: {body[-200:]!r}")


@dataclass
class Run:
    latencies: list[float]
    wall: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall


async def run(port: int, clients: int, per_client: int, tokens: int) -> Run:
    request = request_bytes(port)
    latencies: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(per_client):
                start = time.perf_counter()
                writer.write(request)
                body = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                check_complete(body, tokens)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return Run(latencies, time.perf_counter() - started)


async def paired(ports: dict[str, int], count: int, tokens: int) -> dict[str, Run]:
    """One client, requests to each path taking turns (the order swapping each time) on
    one kept-alive connection per path: each pair meets the same moment of a noisy machine,
    where whole runs one after the other met different ones (at one client the added
    latency is a few ms on top of ~330, well inside such drift)."""
    connections = {
        name: await asyncio.open_connection("127.0.0.1", port) for name, port in ports.items()
    }
    requests = {name: request_bytes(port) for name, port in ports.items()}
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for i in range(count):
            for name in list(ports)[:: 1 if i % 2 == 0 else -1]:
                reader, writer = connections[name]
                start = time.perf_counter()
                writer.write(requests[name])
                body = await read_response(reader)
                latencies[name].append(time.perf_counter() - start)
                check_complete(body, tokens)
    finally:
        for _, writer in connections.values():
            writer.close()
    return {name: Run(values, sum(values)) for name, values in latencies.items()}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _pin(roost_pids: list[int], upstream_pid: int) -> bool:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        return False
    # The relays' threads start after this (the model client, SQLite) and inherit it.
    for pid in roost_pids:
        os.sched_setaffinity(pid, set(cores[1:]))
    os.sched_setaffinity(upstream_pid, {cores[0]})
    os.sched_setaffinity(0, {cores[0]})
    return True


def measure(
    tokens: int = 32, delay_ms: float = 10.0, rounds: int = 3, requests: int = 1500
) -> list[Figure]:
    upstream_port, roost_port = free_port(), free_port()
    upstream = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("_fast_upstream.py")),
            str(upstream_port),
            str(tokens),
            str(delay_ms),
        ]
    )
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        f'default_model = "fast"\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nmodel = "fast"\n'
    )
    roost = start_roost(home, roost_port)
    bare_port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("_bare_relay.py")),
            str(bare_port),
            f"http://127.0.0.1:{upstream_port}",
        ]
    )
    pinned = _pin([roost.pid, bare.pid], upstream.pid)
    paths = {"direct": upstream_port, "bare": bare_port, "roost": roost_port}
    found: list[Figure] = []
    try:
        wait_for_health(f"http://127.0.0.1:{roost_port}", roost)
        wait_for_health(f"http://127.0.0.1:{bare_port}", bare)
        time.sleep(0.5)  # let the upstream listen too
        for port in paths.values():  # warm-up: imports, connections
            asyncio.run(run(port, 4, 5, tokens))
        print(
            f"upstream: {tokens} tokens, {delay_ms} ms apart; "
            f"{rounds} alternating rounds; "
            f"{'roost on its own core' if pinned else 'no CPU pinning (one core)'}\n"
        )
        print(f"{'clients':>7} {'path':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for clients in (1, 50):
            total = 60 if clients == 1 else requests
            runs: dict[str, list[Run]] = {name: [] for name in paths}
            for _ in range(rounds):
                if clients == 1:
                    for name, result in asyncio.run(paired(paths, total, tokens)).items():
                        runs[name].append(result)
                    continue
                for name, port in paths.items():
                    runs[name].append(asyncio.run(run(port, clients, total // clients, tokens)))
            summary: dict[str, tuple[float, float, float]] = {}
            for name, results in runs.items():
                latencies = [x for r in results for x in r.latencies]
                rate = statistics.median(r.throughput for r in results)
                summary[name] = (pct(latencies, 0.5), pct(latencies, 0.99), rate)
                p50, p99, rate = summary[name]
                print(f"{clients:>7} {name:>6} {p50:>8.2f} {p99:>8.2f} {rate:>8.1f}")
            added = summary["roost"][0] - summary["direct"][0]
            floor = summary["bare"][0] - summary["direct"][0]
            ratio = summary["roost"][2] / summary["direct"][2]
            print(
                f"{clients:>7} added p50 {added:+.2f} ms (target ≤ 2), "
                f"throughput ratio {ratio:.3f} (target ≥ 0.9)\n"
                f"{clients:>7} a bare relay adds {floor:+.2f} ms: roost's own share "
                f"{added - floor:+.2f} ms\n"
            )
            if clients == 1:  # the requests were paired: the median of each pair's difference
                diffs = [
                    (r - d) * 1000
                    for dr, rr in zip(runs["direct"], runs["roost"], strict=True)
                    for d, r in zip(dr.latencies, rr.latencies, strict=True)
                ]
                print(f"{clients:>7} median paired difference {statistics.median(diffs):+.2f} ms\n")
            direct, through = summary["direct"], summary["roost"]
            label = f"/v1 proxy, {clients} client{'s' if clients > 1 else ''}"
            found += [
                Figure(f"{label}: added p50", added, "ms", target="value <= 2"),
                Figure(f"{label}: a bare relay's added p50", floor, "ms"),
                Figure(f"{label}: added p50 over a bare relay", added - floor, "ms"),
                Figure(f"{label}: p99", through[1], "ms", direct[1]),
                Figure(
                    f"{label}: throughput", through[2], "req/s", direct[2], target="ratio >= 0.9"
                ),
            ]
    finally:
        stop(roost)
        bare.terminate()
        bare.wait(10)
        upstream.terminate()
        upstream.wait(10)
    return found


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32, help="content chunks per reply")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="upstream ms per token")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500, help="per run at 50 clients")
    args = parser.parse_args()
    measure(args.tokens, args.delay_ms, args.rounds, args.requests)


if __name__ == "__main__":
    main()
