"""200 concurrent streaming clients on /v1/chat/completions: added latency, throughput and
server memory, against the same clients sent straight to the upstream.

The upstream is benchmarks/_fast_upstream.py (32 tokens 10 ms apart, its own process);
roost runs as `roost serve` with it as an `openai` model, stateless (no session stored).
Each of CLIENTS raw-socket clients keeps one connection and streams `--requests`
completions back to back (`stream=true`, `include_usage`), all of them at once, first
straight to the upstream, then through roost, alternating for `--rounds` rounds.

Figures: p50 and p99 latency added by roost (through minus direct, whole answer), the
throughput ratio (answers/s through roost ÷ direct), and the server's RSS (VmRSS from
/proc/<pid>/status) idle after a warm-up and at its peak under the load.

    .venv/bin/python -m benchmarks.openai_streams [--clients 200] [--requests 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._figures import Figure, Size, pct
from benchmarks._server import free_port, start_roost, stop, wait_for_health
from benchmarks.proxy_overhead import Run, _pin, run
from benchmarks.websocket import raise_fd_limit, rss_kb

TOKENS = 32
DELAY_MS = 10.0
SIZES: dict[Size, dict[str, int]] = {
    "small": {"clients": 200, "requests": 3, "rounds": 1},
    "full": {"clients": 200, "requests": 10, "rounds": 3},
}


class PeakRss:
    """Samples a process's VmRSS every 20 ms in a thread, keeping the highest."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(clients: int, requests: int, rounds: int) -> list[Figure]:
    raise_fd_limit(4 * clients + 512)
    upstream_port, roost_port = free_port(), free_port()
    fast = str(Path(__file__).with_name("_fast_upstream.py"))
    upstream = subprocess.Popen(
        [sys.executable, fast, str(upstream_port), str(TOKENS), str(DELAY_MS)]
    )
    home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    (home / "config.toml").write_text(
        f'default_model = "fast"\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nmodel = "fast"\n'
    )
    roost = start_roost(home, roost_port)
    pinned = _pin([roost.pid], upstream.pid)
    try:
        wait_for_health(f"http://127.0.0.1:{roost_port}", roost)
        time.sleep(0.5)
        asyncio.run(run(roost_port, 8, 5, TOKENS))  # warm-up: imports, connections
        asyncio.run(run(upstream_port, 8, 5, TOKENS))
        time.sleep(1.0)
        idle = rss_kb(roost.pid)
        runs: dict[str, list[Run]] = {"direct": [], "roost": []}
        with PeakRss(roost.pid) as peak:
            for _ in range(rounds):
                for name, port in (("direct", upstream_port), ("roost", roost_port)):
                    runs[name].append(asyncio.run(run(port, clients, requests, TOKENS)))
        time.sleep(1.0)
        after = rss_kb(roost.pid)
    finally:
        stop(roost)
        upstream.terminate()
        upstream.wait(10)
    print(
        f"{clients} clients x {requests} streamed answers, {rounds} round(s); upstream "
        f"{TOKENS} tokens {DELAY_MS:g} ms apart; "
        f"{'roost on its own core' if pinned else 'no CPU pinning (one core)'}"
    )
    summary: dict[str, tuple[float, float, float]] = {}
    for name, results in runs.items():
        latencies = [x * 1000 for r in results for x in r.latencies]
        rate = statistics.median(r.throughput for r in results)
        summary[name] = (pct(latencies, 0.5), pct(latencies, 0.99), rate)
        print(
            f"{name:>6}: p50 {summary[name][0]:8.2f} ms  p99 {summary[name][1]:8.2f} ms  "
            f"{rate:8.1f} answers/s"
        )
    direct, through = summary["direct"], summary["roost"]
    print(
        f"RSS: idle {idle / 1024:.1f} MiB, peak under load {peak.peak / 1024:.1f} MiB, "
        f"idle again {after / 1024:.1f} MiB"
    )
    label = f"/v1 stream, {clients} clients"
    return [
        Figure(f"{label}: added p50", through[0] - direct[0], "ms", target="value <= 2"),
        Figure(f"{label}: added p99", through[1] - direct[1], "ms"),
        Figure(f"{label}: p50", through[0], "ms", direct[0]),
        Figure(f"{label}: throughput", through[2], "answers/s", direct[2], target="ratio >= 0.9"),
        Figure("server RSS idle (after warm-up)", idle / 1024, "MiB"),
        Figure(f"server RSS peak under {clients} streams", peak.peak / 1024, "MiB", idle / 1024),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=10, help="answers per client per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    measure(args.clients, args.requests, args.rounds)


if __name__ == "__main__":
    main()
