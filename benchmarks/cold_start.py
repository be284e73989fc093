"""Cold start: `roost serve` to /health 200, against a bare uvicorn app started the same way."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks._figures import Figure, Size
from benchmarks._server import free_port, start_roost, stop, wait_for_health

ROUNDS: dict[Size, int] = {"small": 3, "full": 7}

BARE_APP = textwrap.dedent(
    """
    import sys, uvicorn
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def bare_round() -> float:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_APP, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return wait_for_health(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


def roost_round(home: Path) -> float:
    port = free_port()
    process = start_roost(home, port)
    try:
        return wait_for_health(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


def measure(rounds: int) -> list[Figure]:
    home = Path(tempfile.mkdtemp(prefix="roost-cold-"))
    first = roost_round(home)  # creates and migrates the database
    print(f"first start (new database): {first:.3f} s")
    bare, roost = [], []
    for _ in range(rounds):
        bare.append(bare_round())
        roost.append(roost_round(home))
    b, r = statistics.median(bare), statistics.median(roost)
    print(f"bare uvicorn app: {b:.3f} s   roost serve: {r:.3f} s (medians of {rounds})")
    print(f"ratio roost/bare: {r / b:.2f}; roost absolute {r:.3f} s (target < 1 s)")
    return [
        Figure("cold start: serve to /health 200", r, "s", b, target="value < 1"),
        Figure("cold start: first start, new database", first, "s"),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(ROUNDS[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS["full"])
    args = parser.parse_args()
    measure(args.rounds)


if __name__ == "__main__":
    main()
