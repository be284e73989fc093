"""Cost of recording turns for resumable streams: recorded ÷ unrecorded, same run.

A scripted model streams `--tokens` tokens per turn, instantly (no model time at all,
so the recording's share is as large as it can be) or one every `--token-ms`. Rounds
alternate recording on and off. `--gap-ms` pauses between turns (a user reading the
reply); with none, a turn starts while the last one's final batch is being written.
Reported per turn: p50 time from `start()` to the first event, p50 time to the last
event, and the database writes
the recorder made (events are batched: 50 ms or 64 events a write). Then how fast a
resume replays a finished stream from the database.

    .venv/bin/python -m benchmarks.stream_resume [--tokens 256] [--turns 40] [--rounds 3]
        [--token-ms 0] [--gap-ms 0]
        [--database-url postgresql+asyncpg://...]   (default: a temporary SQLite file)

With a PostgreSQL URL the run creates a throwaway database on that server and drops it.

For benchmarks/run: the defaults (instant, the worst case: no target), then a model's
pace (64 tokens 10 ms apart), where on/off should be ≈ 1 (checked as ≤ 1.1).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from benchmarks._figures import Figure, Size
from roost.config import load_settings
from roost.core.records import User
from roost.providers.base import Finish, TextChunk, UsageChunk
from roost.providers.registry import ProviderRegistry
from roost.providers.scripted import ScriptedProvider
from roost.services.container import Services, build_services
from roost.services.streams import StreamService

# Per pace: instant (the defaults at full size) and a model's pace, where the target holds.
SIZES: dict[Size, dict[str, int]] = {
    "small": {"tokens": 256, "turns": 5, "rounds": 1, "paced_turns": 5},
    "full": {"tokens": 256, "turns": 40, "rounds": 3, "paced_turns": 20},
}
PACED = {"tokens": 64, "token_ms": 10}
PACED_TARGET = "ratio <= 1.1"  # "on/off ≈ 1 at a realistic pace"


def scripted_reply(tokens: int, delay: float) -> list[Any]:
    script: list[Any] = []
    for i in range(tokens):
        script.append(TextChunk(f" t{i}"))
        if delay:
            script.append(delay)
    return [*script, UsageChunk(5, tokens), Finish("stop")]


async def one_turn(services: Services, user: User) -> tuple[float, float]:
    begin = time.perf_counter()
    handle = await services.turns.start(user, "go", use_tools=False, include_memory=False)
    first = last = 0.0
    async for _event in handle.events():
        last = time.perf_counter() - begin
        if not first:
            first = last
    return first, last


class CountingStore:
    """Counts the recorder's writes to the real repository."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def append(self, *args: Any, **kwargs: Any) -> None:
        self.writes += 1
        await self.inner.append(*args, **kwargs)


async def main(
    tokens: int, turns: int, rounds: int, database_url: str | None, delay: float, gap: float
) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = load_settings(home=home, env={"ROOST_HOME": str(home)})
        settings.database_url = database_url
        settings.default_model = "instant"
        settings.memory.watch = False
        settings.memory.log_turns = False
        registry = ProviderRegistry(settings)
        registry.install("instant", ScriptedProvider(lambda _r: scripted_reply(tokens, delay)))
        services = await build_services(settings, admin_password="x", providers=registry)
        try:
            await services.streams.start()
            user = services.auth.default_user
            streams: StreamService = services.streams
            counting = CountingStore(streams._store)
            streams._store = counting  # type: ignore[assignment]
            results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
            writes = 0
            for _ in range(rounds):
                for mode in ("off", "on"):
                    services.turns._streams = streams if mode == "on" else None
                    before = counting.writes
                    for _ in range(turns):
                        results[mode].append(await one_turn(services, user))
                        await asyncio.sleep(gap)
                    await asyncio.sleep(0.2)  # the last batches land
                    if mode == "on":
                        writes += counting.writes - before
            # Resume: replay a finished stream from the database.
            services.turns._streams = streams
            handle = await services.turns.start(user, "go", use_tools=False, include_memory=False)
            await handle.result()
            await asyncio.sleep(0.2)
            assert handle.stream_id is not None
            begin = time.perf_counter()
            followed = await streams.follow(user.id, handle.stream_id, 0)
            replayed = 0
            async for _ in followed.events:
                replayed += 1
            replay_seconds = time.perf_counter() - begin
        finally:
            await services.close()

    def p50(mode: str, index: int) -> float:
        return statistics.median(r[index] for r in results[mode]) * 1000

    db = "PostgreSQL" if database_url else "SQLite"
    pace = f"a token every {delay * 1000:g} ms" if delay else "instant"
    print(f"{db}, {tokens} tokens a turn ({pace}), {turns * rounds} turns each way, ", end="")
    print(f"{gap * 1000:g} ms between turns")
    per_token = f"{delay * 1000:g} ms/token" if delay else "instant"
    name = f"stream resume, {db}, {per_token}"
    target = PACED_TARGET if delay else ""  # instant is the worst case, not a target
    found = []
    for label, index in (("first event", 0), ("last event", 1)):
        off, on = p50("off", index), p50("on", index)
        print(f"  {label:11} p50  off {off:7.2f} ms   on {on:7.2f} ms   on/off {on / off:5.2f}")
        found.append(Figure(f"{name}: {label} p50", on, "ms", off, target=target))
    per_turn = writes / (turns * rounds)
    print(f"  database writes per recorded turn: {per_turn:.1f}")
    print(f"  resume replay: {replayed} events in {replay_seconds * 1000:.1f} ms")
    found.append(Figure(f"{name}: db writes per turn", per_turn))
    found.append(Figure(f"{name}: resume replay", replayed / replay_seconds, "events/s"))
    return found


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def on_throwaway(server_url: str | None, *args: Any) -> list[Figure]:
    if server_url is None:
        return await main(*args[:3], None, *args[3:])
    name = f"roost_bench_streams_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
        return await main(*args[:3], url.render_as_string(hide_password=False), *args[3:])
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def figures(size: Size) -> list[Figure]:
    sizes = SIZES[size]
    instant = asyncio.run(main(sizes["tokens"], sizes["turns"], sizes["rounds"], None, 0.0, 0.0))
    paced_tokens, delay = PACED["tokens"], PACED["token_ms"] / 1000
    paced = asyncio.run(main(paced_tokens, sizes["paced_turns"], sizes["rounds"], None, delay, 0.0))
    return instant + paced


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--token-ms", type=float, default=0.0, help="model time per token")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="pause between turns")
    args = parser.parse_args()
    delay, gap = args.token_ms / 1000, args.gap_ms / 1000
    asyncio.run(on_throwaway(args.database_url, args.tokens, args.turns, args.rounds, delay, gap))
