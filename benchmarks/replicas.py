"""Chat throughput with replicas: turns per second on POST /api/chat with an instant model,
1 vs 2 `roost serve` replicas on one PostgreSQL database, and SQLite vs PostgreSQL on one.

The model is benchmarks/_fast_upstream.py (4 tokens, no delay): what is measured is roost
and its database. Clients: `--clients` keep-alive connections, each in its own session,
spread evenly over the replicas, sending `--turns` turns in all. Baseline: one replica on
PostgreSQL (for the replica ratio) and one replica on SQLite (for the database ratio),
measured in the same run.

Where the time goes: the same turns run once more in this process (the app over an
in-process client, the same fast upstream), counting the SQL statements per turn by kind,
and the PostgreSQL transactions per turn come from pg_stat_database.

    .venv/bin/python -m benchmarks.replicas [--turns 600] [--clients 16]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

from benchmarks._figures import Figure, Size
from benchmarks._server import PASSWORD, free_port, start_roost, wait_for_health

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def plain_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def admin(dsn: str, sql: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@contextmanager
def pg_database(base: str) -> Iterator[str]:
    name = f"roost_lease_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(plain_dsn(base), f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(plain_dsn(base), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def upstream() -> Iterator[int]:
    port = free_port()
    fast = str(Path(__file__).with_name("_fast_upstream.py"))
    process = subprocess.Popen([sys.executable, fast, str(port), "4", "0"])
    try:
        time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def config(model_port: int, database_url: str | None) -> str:
    text = ""
    if database_url is not None:
        text += f'database_url = "{database_url}"\n'
    return text + (
        f'default_model = "fast"\n[models.fast]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:{model_port}/v1"\nmodel = "fast"\ntimeout = 600\n'
        "[memory]\ninclude_in_chat = false\nwatch = false\nlog_turns = false\n"
    )


@contextmanager
def replicas(count: int, model_port: int, database_url: str | None) -> Iterator[list[str]]:
    """`count` roost servers; with no database URL each uses (its own) SQLite."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            home = Path(tempfile.mkdtemp(prefix="roost-bench-"))
            (home / "config.toml").write_text(config(model_port, database_url))
            port = free_port()
            processes.append(start_roost(home, port))
            urls.append(f"http://127.0.0.1:{port}")
            wait_for_health(urls[-1], processes[-1])
        yield urls
    finally:
        for process in processes:
            process.kill()
            process.wait(10)


async def throughput(urls: list[str], clients: int, turns: int) -> float:
    """Turns per second: each client its own session, sending its share back to back."""
    per_client = turns // clients
    headers = {"X-API-Key": PASSWORD}
    pool = [httpx.AsyncClient(base_url=u, headers=headers, timeout=120) for u in urls]

    async def client(index: int) -> None:
        http = pool[index % len(pool)]
        body: dict[str, Any] = {"message": "hello", "include_memory": False}
        for _ in range(per_client):
            response = await http.post("/api/chat", json=body)
            response.raise_for_status()
            body["session_id"] = response.json()["session_id"]

    try:
        await asyncio.gather(*(client(i) for i in range(clients)))  # warm-up: sessions exist
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        return per_client * clients / (time.perf_counter() - started)
    finally:
        for http in pool:
            await http.aclose()


async def pg_commits(database_url: str) -> int:
    value = await admin(
        plain_dsn(database_url),
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    return int(value)


def statement_kind(sql: str) -> str:
    words = re.sub(r"\s+", " ", sql.strip()).split(" ")
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    target = ""
    for marker in ("INTO", "UPDATE", "FROM"):
        if marker in upper:
            target = words[upper.index(marker) + 1].strip('"')
            break
    if verb == "UPDATE":
        target = words[1].strip('"')
    return f"{verb} {target}".strip()


async def census(
    model_port: int, database_url: str | None, turns: int
) -> tuple[Counter[str], float, float]:
    """In this process, `turns` chat turns in one session: SQL statements per kind (and
    connection checkouts: on PostgreSQL each is a pre-ping round trip), then the time per
    turn with the database leases and without them (the in-process lock alone)."""
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    from roost.app import create_app
    from roost.config import load_settings

    home = Path(tempfile.mkdtemp(prefix="roost-census-"))
    (home / "config.toml").write_text(config(model_port, database_url))
    settings = load_settings(home=home, env={"ROOST_HOME": str(home)})
    counts: Counter[str] = Counter()
    counting = False

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if counting:
            counts[statement_kind(statement)] += 1

    def checkout(*_args: Any) -> None:
        if counting:
            counts["(connection checkout)"] += 1

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Pool, "checkout", checkout)
    try:
        app = create_app(settings, admin_password=PASSWORD)
        async with LifespanManager(app, startup_timeout=60) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            headers = {"X-API-Key": PASSWORD}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1:31327", headers=headers
            ) as client:
                body: dict[str, Any] = {"message": "hello", "include_memory": False}
                first = await client.post("/api/chat", json=body)
                body["session_id"] = first.json()["session_id"]

                async def run(rounds: int = turns // 5) -> float:
                    started = time.perf_counter()
                    for _ in range(rounds):
                        (await client.post("/api/chat", json=body)).raise_for_status()
                    return (time.perf_counter() - started) / rounds * 1000

                counting = True
                await run(turns)
                counting = False
                # Alternate rounds with and without the leases (the in-process lock alone,
                # as before leases), so that load from elsewhere hits both alike.
                services = app.state.services
                leases = services.turns._leases
                on: list[float] = []
                off: list[float] = []
                for _ in range(5):
                    services.turns._leases = leases
                    on.append(await run())
                    services.turns._leases = None
                    off.append(await run())
                services.turns._leases = leases
                with_leases, without = statistics.median(on), statistics.median(off)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        event.remove(Pool, "checkout", checkout)
    return counts, with_leases, without


@dataclass
class Measured:
    rates: dict[str, float]  # setup -> turns/s
    commits: dict[str, float]  # "pg, N" -> PostgreSQL commits per turn
    sqlite_counts: Counter[str]
    pg_counts: Counter[str]
    lease_ms: tuple[float, float, float, float]  # sqlite on/off, postgresql on/off


def measure(turns: int, clients: int, pg: str) -> Measured:
    rates: dict[str, float] = {}
    commits: dict[str, float] = {}
    with upstream() as model_port:
        with replicas(1, model_port, None) as urls:
            rates["sqlite, 1 replica"] = asyncio.run(throughput(urls, clients, turns))
        for count in (1, 2):
            with pg_database(pg) as url, replicas(count, model_port, url) as urls:
                before = asyncio.run(pg_commits(url))
                rate = asyncio.run(throughput(urls, clients, turns))
                done = 2 * (turns // clients) * clients  # warm-up + measured
                commits[f"pg, {count}"] = (asyncio.run(pg_commits(url)) - before) / done
                rates[f"postgresql, {count} replica{'s' if count > 1 else ''}"] = rate
        sqlite_counts, sqlite_on, sqlite_off = asyncio.run(census(model_port, None, 50))
        with pg_database(pg) as url:
            pg_counts, pg_on, pg_off = asyncio.run(census(model_port, url, 50))
    return Measured(
        rates, commits, sqlite_counts, pg_counts, (sqlite_on, sqlite_off, pg_on, pg_off)
    )


def figures(size: Size) -> list[Figure]:
    turns = 150 if size == "small" else 600
    m = measure(turns, 16, os.environ.get("ROOST_TEST_DATABASE_URL", DEFAULT_PG))
    one_pg, sqlite = m.rates["postgresql, 1 replica"], m.rates["sqlite, 1 replica"]
    sqlite_on, sqlite_off, pg_on, pg_off = m.lease_ms
    return [
        Figure(
            "replicas: 2 ÷ 1 replica on PostgreSQL",
            m.rates["postgresql, 2 replicas"],
            "turns/s",
            one_pg,
        ),
        Figure("replicas: PostgreSQL ÷ SQLite, 1 replica", one_pg, "turns/s", sqlite),
        Figure("replicas: PostgreSQL commits per turn", m.commits["pg, 1"]),
        Figure("replicas: turn with leases ÷ without, SQLite", sqlite_on, "ms", sqlite_off),
        Figure("replicas: turn with leases ÷ without, PostgreSQL", pg_on, "ms", pg_off),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pg", default=os.environ.get("ROOST_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()

    m = measure(args.turns, args.clients, args.pg)
    results, commits = m.rates, m.commits
    sqlite_counts, pg_counts = m.sqlite_counts, m.pg_counts
    sqlite_on, sqlite_off, pg_on, pg_off = m.lease_ms

    one_pg = results["postgresql, 1 replica"]
    print(f"chat turns/s, instant model, {args.clients} clients, {args.turns} turns\n")
    print(f"{'setup':<24} {'turns/s':>8} {'÷ pg x1':>8} {'÷ sqlite':>9}")
    for name, rate in results.items():
        print(
            f"{name:<24} {rate:>8.1f} {rate / one_pg:>8.2f} "
            f"{rate / results['sqlite, 1 replica']:>9.2f}"
        )
    print(
        f"\nPostgreSQL commits per turn (pg_stat_database, includes lease renewals): "
        f"1 replica {commits['pg, 1']:.1f}, 2 replicas {commits['pg, 2']:.1f}"
    )
    print("\nSQL statements per turn (in-process census, 50 turns in one session):")
    kinds = sorted(set(sqlite_counts) | set(pg_counts), key=lambda k: -pg_counts[k])
    print(f"  {'statement':<32} {'sqlite':>7} {'postgresql':>11}")
    for kind in kinds:
        print(f"  {kind:<32} {sqlite_counts[kind] / 50:>7.2f} {pg_counts[kind] / 50:>11.2f}")
    statements = [k for k in kinds if not k.startswith("(")]
    print(
        f"  {'total statements':<32} {sum(sqlite_counts[k] for k in statements) / 50:>7.2f} "
        f"{sum(pg_counts[k] for k in statements) / 50:>11.2f}"
    )
    print(
        "\nmedian ms per turn, one session, in process, 5 alternating rounds: "
        f"sqlite {sqlite_on:.1f} with leases, "
        f"{sqlite_off:.1f} without ({sqlite_on / sqlite_off:.2f}x); postgresql {pg_on:.1f} "
        f"with, {pg_off:.1f} without ({pg_on / pg_off:.2f}x)"
    )


if __name__ == "__main__":
    main()
