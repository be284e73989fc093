"""chat.nvim inbox: messages accepted per second on POST / ÷ raw single-row inserts into the
same SQLite file, and end-to-end delivery latency at the default 5 s poll interval.

roost runs as `roost serve`; its model is benchmarks/_fast_upstream.py answering at once
(an "instant" OpenAI-compatible model), so the worker delivers while POSTs arrive and
both compete for the one SQLite writer, as they would in use. Clients are raw sockets
over keep-alive connections, 1 and 16 at a time, spread over 8 sessions.

Baseline: Python's sqlite3 inserting one row per transaction (BEGIN IMMEDIATE, INSERT,
COMMIT) into a scratch table of roost's own database file, with roost's settings (WAL,
synchronous=NORMAL), while roost is idle.

"parked": the same POSTs while every delivery slot waits on a model that takes minutes,
so accepting does not compete with deliveries: the cost of POST / alone.

Latency: messages posted 50 ms apart to 4 sessions; each one's latency is the time from
sending the POST to the reply row's created_at (one clock: same machine). With the
wake-up on POST it should be milliseconds, not the poll interval.

    .venv/bin/python -m benchmarks.inbox [--messages 1000] [--latency-messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, wait_for_health

SESSIONS = 8
SIZES: dict[Size, dict[str, int]] = {
    "small": {"messages": 200, "latency_messages": 40},
    "full": {"messages": 1000, "latency_messages": 200},
}


def post_bytes(port: int, session: str, content: str) -> bytes:
    body = json.dumps({"session": session, "content": content}).encode()
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {PASSWORD}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def accept_rate(port: int, clients: int, total: int, tag: str) -> float:
    """POSTs per second, `clients` connections each sending its share back to back."""
    per_client = total // clients

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in range(per_client):
                session = f"bench-{(index + n) % SESSIONS}"
                writer.write(post_bytes(port, session, f"{tag} {index}.{n}"))
                head = await reader.readuntil(b"\r\n\r\n")  # 204: no body
                if not head.startswith(b"HTTP/1.1 204"):
                    raise RuntimeError(head.decode(errors="replace"))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return per_client * clients / (time.perf_counter() - started)


def raw_insert_rate(database: Path, total: int) -> float:
    conn = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, body TEXT)")
        started = time.perf_counter()
        for n in range(total):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_raw (body) VALUES (?)", (f"message {n}",))
            conn.execute("COMMIT")
        rate = total / (time.perf_counter() - started)
        conn.execute("DROP TABLE bench_raw")
        return rate
    finally:
        conn.close()


def drained(client: httpx.Client, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/api/queue", params={"limit": 1}).json()["messages"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the queue did not drain")
        time.sleep(0.1)


def latencies(client: httpx.Client, count: int) -> list[float]:
    sent: dict[str, float] = {}
    for n in range(count):
        content = f"latency probe {n}"
        sent[content] = time.time()
        response = client.post("/", json={"session": f"latency-{n % 4}", "content": content})
        response.raise_for_status()
        time.sleep(0.05)
    drained(client)
    result: list[float] = []
    for session in range(4):
        messages = client.get(f"/api/sessions/latency-{session}").json()["messages"]
        for question, answer in zip(messages[::2], messages[1::2], strict=True):
            replied = datetime.fromisoformat(answer["created_at"].replace("Z", "+00:00"))
            result.append(replied.timestamp() - sent[question["content"]])
    if len(result) != count:
        raise RuntimeError(f"{len(result)} replies for {count} messages")
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def serving(token_delay_ms: float) -> Iterator[tuple[Path, int, httpx.Client]]:
    """roost with a model that answers 4 tokens, `token_delay_ms` apart."""
    upstream_port, roost_port = free_port(), free_port()
    fast = str(Path(__file__).with_name("_fast_upstream.py"))
    upstream = subprocess.Popen(
        [sys.executable, fast, str(upstream_port), "4", str(token_delay_ms)]
    )
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        f'default_model = "fast"\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nmodel = "fast"\ntimeout = 600\n'
    )
    roost = start_roost(home, roost_port)
    url = f"http://127.0.0.1:{roost_port}"
    try:
        wait_for_health(url, roost)
        with httpx.Client(base_url=url, headers={"X-API-Key": PASSWORD}, timeout=60) as client:
            yield home, roost_port, client
    finally:
        roost.kill()  # the data is thrown away; no need to let turns finish
        roost.wait(10)
        upstream.terminate()
        upstream.wait(10)


def measure(messages: int, latency_messages: int) -> list[Figure]:
    found: list[Figure] = []

    with serving(0) as (home, port, client):
        asyncio.run(accept_rate(port, 4, 40, "warm-up"))  # imports, the model client
        drained(client)
        raw = raw_insert_rate(home / "roost.db", messages)
        print(f"raw sqlite3 single-row inserts into roost.db: {raw:,.0f}/s\n")
        print(f"{'model':>8} {'clients':>7} {'accepted/s':>11} {'÷ raw':>7} {'drained in':>11}")
        for clients in (1, 16):
            rate = asyncio.run(accept_rate(port, clients, messages, "bench"))
            started = time.perf_counter()
            drained(client)
            took = time.perf_counter() - started
            print(f"{'instant':>8} {clients:>7} {rate:>11,.0f} {rate / raw:>7.4f} {took:>9.1f} s")
            found.append(Figure(f"inbox POST /, {clients} clients, delivering", rate, "/s", raw))
        delays = latencies(client, latency_messages)

    # The same POSTs while the worker has nothing to do but wait on a model that takes
    # minutes: what accepting costs without deliveries competing for the writer.
    with serving(60_000) as (home, port, client):
        asyncio.run(accept_rate(port, 4, 8, "warm-up"))
        time.sleep(2)
        for clients in (1, 16):
            rate = asyncio.run(accept_rate(port, clients, messages, "bench"))
            print(f"{'parked':>8} {clients:>7} {rate:>11,.0f} {rate / raw:>7.4f} {'-':>11}")
            found.append(Figure(f"inbox POST /, {clients} clients, parked", rate, "/s", raw))

    print(
        f"\ndelivery latency (instant model), {len(delays)} messages 50 ms apart, poll interval "
        f"5 s: p50 {pct(delays, 0.5):.1f} ms, p99 {pct(delays, 0.99):.1f} ms, "
        f"mean {statistics.fmean(delays) * 1000:.1f} ms "
        f"(p99 ÷ poll interval {pct(delays, 0.99) / 5000:.4f})"
    )
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        value = pct(delays, q)
        # The baseline is the poll interval; the wake-up on POST should beat it by far.
        found.append(
            Figure(f"inbox delivery latency {label}", value, "ms", 5000.0, target="ratio <= 0.1")
        )
    return found


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="POSTs per rate run")
    parser.add_argument("--latency-messages", type=int, default=200)
    args = parser.parse_args()
    measure(args.messages, args.latency_messages)


if __name__ == "__main__":
    main()
