"""Runner restart: time from a model runner's death (SIGKILL) to the next answered request.

roost runs the embedded model in a child process of the server, a "runner" (its command
line contains `roost.providers.runner`). This starts `roost serve`, loads the model with a
first request, then per round: times small requests on the warm runner (the baseline),
finds the runner among the server's descendants (/proc), kills it with SIGKILL and at once
sends the same small request (`POST /v1/chat/completions`, not streamed, 8 tokens), again
after each failure (10 ms apart), until one is answered with 200 and content. The
restart path is the time from the kill to that answer (so it includes the supervisor's
noticing the death, its backoff before a restart, the new process's start and model
load); ratio = restart ÷ warm request. The output lists what the failed attempts got.

Rounds are `--gap` seconds apart (default: 1 s more than the 30 s a runner must live for
roost's supervisor to count it healthy), so every kill is a first crash, not one of a
crash streak whose backoff doubles each time.

Without a runner process (models still run in-process) it prints "no runner process
found" and exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._figures import Figure, Size
from benchmarks._proctree import cmdline, descendants
from benchmarks._server import PASSWORD, free_port, start_roost, stop, wait_for_health

RUNNER = "roost.providers.runner"
REQUEST: dict[str, Any] = {
    "model": "smollm2",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 8,
    "temperature": 0.0,
}
RETRY_PAUSE = 0.01  # seconds between a failed attempt and the next
RECOVERY_LIMIT = 300.0  # seconds: give up on a restart after this
SIZES: dict[Size, dict[str, int]] = {"small": {"kills": 2}, "full": {"kills": 6}}
GAP = 31.0
FIRST_WARM = 5.0  # seconds of warm requests before the first kill


def find_runner(server: int, wait: float = 10.0) -> int | None:
    """The pid of the server's runner child (waiting up to `wait` s for one to appear)."""
    deadline = time.monotonic() + wait
    while True:
        for pid in descendants(server):
            if RUNNER in cmdline(pid):
                return pid
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def no_runner(server: int) -> BaseException:
    seen = [f"{pid}: {cmdline(pid)[:80]}" for pid in descendants(server)] or ["none"]
    what = f"no runner process found among the server's children ({'; '.join(seen)})"
    if importlib.util.find_spec(RUNNER) is None:
        # Not a failure: this roost has no runner yet (the model runs in-process).
        return SystemExit(f"{what}: this roost has no {RUNNER} (models run in-process)")
    return RuntimeError(what)


def answered(client: httpx.Client) -> tuple[bool, str]:
    """One small request: (answered with 200 and content, what came back)."""
    try:
        response = client.post("/v1/chat/completions", json=REQUEST)
    except httpx.TransportError as exc:
        return False, type(exc).__name__
    if response.status_code != 200:
        try:
            reason = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            reason = response.text
        return False, f"HTTP {response.status_code} ({reason[:80]})"
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False, "200 without a chat completion"
    return (True, "200") if content else (False, "200 without content")


def timed(client: httpx.Client) -> float:
    start = time.perf_counter()
    ok, what = answered(client)
    if not ok:
        raise RuntimeError(f"a request on a warm runner failed: {what}")
    return time.perf_counter() - start


def measure(kills: int, gap: float = GAP) -> list[Figure]:
    home = Path(tempfile.mkdtemp(prefix="roost-bench-restart-"))
    port = free_port()
    server = start_roost(home, port)
    warm: list[float] = []
    restarts: list[float] = []
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {PASSWORD}"},
            timeout=120,
        )
        timed(client)  # loads the model (starts the runner)
        if find_runner(server.pid) is None:
            raise no_runner(server.pid)
        next_kill = time.monotonic() + FIRST_WARM
        for k in range(kills):
            this_round: list[float] = []
            while time.monotonic() < next_kill or len(this_round) < 3:
                this_round.append(timed(client))
                time.sleep(0.2)
            warm += this_round
            runner = find_runner(server.pid, wait=0)
            if runner is None:
                raise no_runner(server.pid)
            start = time.perf_counter()
            os.kill(runner, signal.SIGKILL)
            outcomes: list[str] = []
            while True:
                ok, what = answered(client)
                outcomes.append(what)
                if ok:
                    break
                if time.perf_counter() - start > RECOVERY_LIMIT:
                    raise RuntimeError(f"no answer {RECOVERY_LIMIT:.0f} s after the kill")
                time.sleep(RETRY_PAUSE)
            seconds = time.perf_counter() - start
            restarts.append(seconds)
            next_kill = time.monotonic() + gap
            new = find_runner(server.pid, wait=0)
            failed = [o for o in outcomes if o != "200"]
            print(
                f"  kill {k + 1}: runner {runner} SIGKILL -> answered after "
                f"{1000 * seconds:7.1f} ms ({len(outcomes)} request(s)"
                f"{': ' + ', '.join(failed) + ' first' if failed else ''}); "
                f"new runner {new}; warm requests before it: "
                f"median {1000 * statistics.median(this_round):.1f} ms of {len(this_round)}"
            )
        client.close()
    finally:
        stop(server)
    warm_ms = 1000 * statistics.median(warm)
    restart_ms = 1000 * statistics.median(restarts)
    worst_ms = 1000 * max(restarts)
    print(f"warm small request: median {warm_ms:.1f} ms of {len(warm)}")
    print(f"kill -> next answer: median {restart_ms:.1f} ms, slowest {worst_ms:.1f} ms")
    print(f"ratio restart/warm: {restart_ms / warm_ms:.2f}")
    return [
        Figure("runner restart: kill to next answer", restart_ms, "ms", warm_ms),
        Figure("runner restart: slowest kill to next answer", worst_ms, "ms", warm_ms),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(SIZES[size]["kills"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=SIZES["full"]["kills"])
    parser.add_argument(
        "--gap", type=float, default=GAP, help="seconds from one recovery to the next kill"
    )
    args = parser.parse_args()
    measure(args.kills, args.gap)


if __name__ == "__main__":
    main()
