"""1,000 concurrent WebSocket clients on `roost serve`: server memory per connection and ping
round trips, against a bare Starlette/uvicorn WebSocket app measured the same way.

Each roost client authenticates, creates a session (`{"type":"session"}`) and holds the
connection open. Memory is the server process's RSS with the clients connected minus its
RSS with none (after a warm-up round of connections, so code paths and caches are already
in the baseline). Round trips are `ping` → `pong`: one client at a time while all are
connected (`rounds` x clients samples), then every client at once (`rounds` bursts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

SIZES: dict[Size, dict[str, int]] = {
    "small": {"count": 250, "rounds": 2},
    "full": {"count": 1000, "rounds": 5},
}
BATCH = 50  # connections opened at once (stays well inside the listen backlog)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_fd_limit(needed: int) -> None:
    """Clients here and connections in the server each take a descriptor; children inherit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {needed}; raise it (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def settle(pid: int, seconds: float = 1.5) -> int:
    await asyncio.sleep(seconds)
    return rss_kb(pid)


async def open_all(
    url: str, count: int, headers: dict[str, str], hello: bool
) -> list[ClientConnection]:
    async def one() -> ClientConnection:
        ws = await connect(url, additional_headers=headers, compression=None, max_queue=4)
        if hello:
            assert json.loads(await ws.recv())["type"] == "connected"
            await ws.send('{"type":"session"}')
            assert json.loads(await ws.recv())["type"] == "session"
        return ws

    sockets: list[ClientConnection] = []
    for start in range(0, count, BATCH):
        sockets += await asyncio.gather(*(one() for _ in range(min(BATCH, count - start))))
    return sockets


async def close_all(sockets: list[ClientConnection]) -> None:
    for start in range(0, len(sockets), BATCH):
        await asyncio.gather(*(ws.close() for ws in sockets[start : start + BATCH]))


async def ping(ws: ClientConnection) -> float:
    start = time.perf_counter()
    await ws.send('{"type":"ping"}')
    assert json.loads(await ws.recv())["type"] == "pong"
    return (time.perf_counter() - start) * 1000


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def measure(
    name: str, pid: int, url: str, headers: dict[str, str], count: int, hello: bool, rounds: int
) -> dict[str, float]:
    warm = await open_all(url, min(count, 100), headers, hello)  # code paths, caches, arenas
    for ws in warm[:10]:
        await ping(ws)
    await close_all(warm)
    baseline = await settle(pid)
    started = time.perf_counter()
    sockets = await open_all(url, count, headers, hello)
    opened = time.perf_counter() - started
    loaded = await settle(pid)
    per_kb = (loaded - baseline) / count
    single = [await ping(sockets[i % count]) for i in range(rounds * count)]
    burst: list[float] = []
    for _ in range(rounds):
        burst += await asyncio.gather(*(ping(ws) for ws in sockets))
    after = rss_kb(pid)
    await close_all(sockets)
    p50, p99 = percentiles(single)
    b50, b99 = percentiles(burst)
    print(
        f"{name:7s} baseline {baseline / 1024:6.1f} MB, with {count} clients "
        f"{loaded / 1024:6.1f} MB -> {per_kb:5.1f} KB per connection "
        f"(after the ping rounds {(after - baseline) / count:5.1f} KB); opened in {opened:.1f} s"
    )
    print(
        f"{'':7s} ping one at a time: p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
        f"all {count} at once: p50 {b50:.1f} ms, p99 {b99:.1f} ms"
    )
    return {"per_kb": per_kb, "p50": p50, "p99": p99, "b50": b50, "b99": b99}


async def run(count: int, rounds: int) -> list[Figure]:
    raise_fd_limit(2 * count + 512)
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    port = free_port()
    server = start_roost(home, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, server)
        # /health answers while the app is still being built; a keyed request waits for it.
        httpx.get(f"{base}/api/status", headers={"X-API-Key": PASSWORD}, timeout=60)
        roost = await measure(
            "roost",
            server.pid,
            f"ws://127.0.0.1:{port}/api/ws",
            {"X-API-Key": PASSWORD},
            count,
            True,
            rounds,
        )
    finally:
        stop(server)
    port = free_port()
    echo = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._echo_ws", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(0.5)
        for _ in range(100):
            try:
                async with connect(f"ws://127.0.0.1:{port}/ws", compression=None):
                    break
            except OSError:
                await asyncio.sleep(0.1)
        bare = await measure(
            "bare", echo.pid, f"ws://127.0.0.1:{port}/ws", {}, count, False, rounds
        )
    finally:
        stop(echo)
    print(
        f"roost/bare memory per connection: {roost['per_kb'] / max(bare['per_kb'], 0.1):.2f} "
        f"({roost['per_kb']:.1f} vs {bare['per_kb']:.1f} KB; target < 50 KB)"
    )
    print(
        f"roost/bare ping p99 one at a time: {roost['p99'] / bare['p99']:.2f}; "
        f"all at once: {roost['b99'] / bare['b99']:.2f}"
    )
    return [
        Figure(
            f"WebSocket memory per connection ({count})",
            roost["per_kb"],
            "KB",
            bare["per_kb"],
            target="value < 50",
        ),
        Figure("WebSocket ping p99, one at a time", roost["p99"], "ms", bare["p99"]),
        Figure(f"WebSocket ping p99, {count} at once", roost["b99"], "ms", bare["b99"]),
    ]


def figures(size: Size) -> list[Figure]:
    return asyncio.run(run(**SIZES[size]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.rounds))


if __name__ == "__main__":
    main()
