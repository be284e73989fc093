"""MemGPT agents: steps per second and roost's overhead per step, and the memory of
1,000 idle agents.

The agents' model is a minimal OpenAI-compatible upstream in its own process (raw asyncio,
a prebuilt streamed reply: one send_message call), so what is measured is roost: the HTTP
request, storing the user message, building the prompt (core memory, counts, window),
the OpenAI SDK call, running the function, storing the step's messages, the response.

- steps/s: messages (one step each) answered per second, 1 and 8 agents at a time.
- overhead per step: p50 latency through roost minus p50 of the same upstream request
  sent directly by the same client (the baseline, measured in the same run).
- memory: roost's RSS once warmed up (the measured agents used), then after creating 1,000 more
  agents and sending each one message (so each has been run once), per agent.

    .venv/bin/python -m benchmarks.memgpt_agents [--messages 300] [--agents 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

SIZES: dict[Size, dict[str, int]] = {
    "small": {"messages": 64, "agents": 150},
    "full": {"messages": 300, "agents": 1000},
}

POOL = 96  # agents the step measurements use in turn
HEAD = {"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": 1, "model": "fast"}


def _chunks() -> bytes:
    arguments = json.dumps({"inner_thoughts": "Answer briefly.", "message": "Hello!"})
    call = {"index": 0, "id": "call_fast", "type": "function"}
    deltas = [
        ({"role": "assistant", "content": None}, None),
        ({"tool_calls": [{**call, "function": {"name": "send_message", "arguments": ""}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}, None),
        ({}, "tool_calls"),
    ]
    frames = [
        {**HEAD, "choices": [{"index": 0, "delta": d, "finish_reason": f}]} for d, f in deltas
    ]
    frames.append(
        {
            **HEAD,
            "choices": [],
            "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920},
        }
    )
    body = b"".join(f"data: {json.dumps(f)}\n\n".encode() for f in frames) + b"data: [DONE]\n\n"
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def _upstream(port: int) -> None:
    response = _chunks()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def run(roost: str, upstream: str, messages: int, agents_n: int, pid: int) -> list[Figure]:
    found: list[Figure] = []
    headers = {"authorization": f"Bearer {PASSWORD}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=roost, headers=headers, timeout=60, limits=limits
    ) as client:

        async def new_agent(name: str) -> str:
            response = await client.post("/api/agents", json={"config": {"name": name}})
            response.raise_for_status()
            return str(response.json()["agent_state"]["id"])

        async def send(agent: str) -> float:
            start = time.perf_counter()
            response = await client.post(f"/api/agents/{agent}/messages", json={"message": "hi"})
            if response.status_code != 200 or response.json()["usage"]["step_count"] != 1:
                raise RuntimeError(response.text)
            return time.perf_counter() - start

        body = {
            "model": "fast",
            "messages": [{"role": "user", "content": "x" * 4000}],
            "stream": True,
        }

        async def direct(http: httpx.AsyncClient) -> float:
            start = time.perf_counter()
            async with http.stream("POST", f"{upstream}/chat/completions", json=body) as response:
                async for _ in response.aiter_bytes():
                    pass
            return time.perf_counter() - start

        # A pool of agents, used in turn, so that histories stay short (a step reads and
        # sends the agent's whole in-context window, which grows with its history).
        warm = [await new_agent(f"warm{i}") for i in range(POOL)]
        for agent in warm:
            await send(agent)
        async with httpx.AsyncClient(timeout=60, limits=limits) as raw:
            for _ in range(20):
                await direct(raw)
            print(f"{'agents at once':>14} {'path':>7} {'p50 ms':>8} {'steps/s':>8}")
            for concurrent in (1, 8):
                rounds = max(1, messages // concurrent)
                roost_lat: list[float] = []
                direct_lat: list[float] = []
                started = time.perf_counter()
                for index in range(rounds):
                    first = (index * concurrent) % POOL
                    batch = warm[first : first + concurrent]
                    roost_lat += await asyncio.gather(*(send(a) for a in batch))
                roost_rate = len(roost_lat) / (time.perf_counter() - started)
                started = time.perf_counter()
                for _ in range(rounds):
                    direct_lat += await asyncio.gather(*(direct(raw) for _ in range(concurrent)))
                direct_rate = len(direct_lat) / (time.perf_counter() - started)
                r50, d50 = statistics.median(roost_lat) * 1000, statistics.median(direct_lat) * 1000
                print(f"{concurrent:>14} {'roost':>7} {r50:>8.2f} {roost_rate:>8.1f}")
                print(f"{concurrent:>14} {'direct':>7} {d50:>8.2f} {direct_rate:>8.1f}")
                print(
                    f"{concurrent:>14} overhead per step {r50 - d50:.2f} ms (p50), "
                    f"steps/s ratio {roost_rate / direct_rate:.3f} of the upstream alone"
                )
                label = f"MemGPT, {concurrent} agent{'s' if concurrent > 1 else ''} at once"
                found += [
                    Figure(f"{label}: overhead per step p50", r50 - d50, "ms"),
                    Figure(f"{label}: steps/s", roost_rate, "/s", direct_rate),
                ]

        # The baseline: everything loaded and used (SDK, model client, caches).
        await asyncio.sleep(1.0)
        baseline_rss = rss_kib(pid)
        ids = [await new_agent(f"idle{i}") for i in range(agents_n)]
        for start in range(0, len(ids), 16):
            await asyncio.gather(*(send(a) for a in ids[start : start + 16]))
        await asyncio.sleep(1.0)
        after = rss_kib(pid)
        print(
            f"\nRSS: {baseline_rss / 1024:.1f} MiB warmed up with {POOL} agents, "
            f"{after / 1024:.1f} MiB after {agents_n} more agents, each run once and now idle: "
            f"{(after - baseline_rss) / agents_n:.1f} KiB per agent "
            f"(ratio {after / baseline_rss:.3f} of the baseline)"
        )
        per_agent = (after - baseline_rss) / agents_n
        found.append(Figure("MemGPT RSS per idle agent", per_agent, "KiB"))
        found.append(
            Figure("MemGPT RSS after the idle agents", after / 1024, "MiB", baseline_rss / 1024)
        )
    return found


def measure(messages: int, agents: int) -> list[Figure]:
    upstream_port, roost_port = free_port(), free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.memgpt_agents", "--upstream-only", str(upstream_port)],
        cwd=Path(__file__).resolve().parents[1],
    )
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        '[agents]\nmodel = "fast"\nmax_agents = 100000\n\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nmodel = "fast"\napi_key = "k"\n'
        "context_window = 32768\n"
    )
    roost = start_roost(home, roost_port)
    try:
        wait_for_health(f"http://127.0.0.1:{roost_port}", roost)
        return asyncio.run(
            run(
                f"http://127.0.0.1:{roost_port}",
                f"http://127.0.0.1:{upstream_port}/v1",
                messages,
                agents,
                roost.pid,
            )
        )
    finally:
        stop(roost)
        upstream.terminate()
        upstream.wait(10)


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per measurement")
    parser.add_argument("--agents", type=int, default=1000, help="idle agents for the RSS figure")
    parser.add_argument("--upstream-only", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream_only:
        asyncio.run(_upstream(args.upstream_only))
        return
    measure(args.messages, args.agents)


if __name__ == "__main__":
    main()
