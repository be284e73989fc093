"""Vector memory search on PostgreSQL: the brute-force scan's time and memory.

Builds one user's memory index of N chunks (100 per file) with a random 384-dimension
vector each (MiniLM's size) in the embedding cache, plus another user with as many
chunks (that the scan must leave out), in a throwaway PostgreSQL database (server from
ROOST_TEST_DATABASE_URL), and the same data in a SQLite file; then measures, same run:

- `PgMemoryVectorRepository.nearest()` p50/p95 for k = 30 (hybrid search's depth at the
  default limit of 10), against sqlite-vec's KNN on the same vectors (the baseline) and a
  plain streamed SELECT of the same (chunk id, vector) rows (the transfer alone);
- peak Python memory (tracemalloc) of one nearest() at N/4 and at N chunks: a ratio near
  1 means memory does not grow with the user's chunks (the scan goes in batches).

    python -m benchmarks.memory_vectors [--chunks 10000] [--queries 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks._figures import Figure, Size
from benchmarks.db_dump import peak
from roost.core.records import MemoryChunk
from roost.storage import Database, UserRepository
from roost.storage.memory import MemoryIndexRepository, text_hash
from roost.storage.memory_vectors import MemoryVectorRepository
from roost.storage.memory_vectors_pg import PgMemoryVectorRepository

DIM = 384
K = 30
MODEL = "bench:minilm"
SIZES: dict[Size, dict[str, int]] = {
    "small": {"chunks": 10_000, "queries": 30},
    "full": {"chunks": 100_000, "queries": 30},
}
Store = MemoryVectorRepository | PgMemoryVectorRepository


async def fill(database: Database, store: Store, user: str, count: int, seed: int) -> None:
    """`count` chunks of 100 per file, each with its own random vector cached."""
    rng = np.random.default_rng(seed)
    index = MemoryIndexRepository(database)
    for start in range(0, count, 5000):
        items = []
        vectors: dict[str, bytes] = {}
        for first in range(start, min(count, start + 5000), 100):
            chunks = []
            for n in range(first, min(count, first + 100)):
                body = f"{user} chunk {n}"
                chunks.append(MemoryChunk(n + 1, n + 1, body))
                vectors[text_hash(body)] = rng.standard_normal(DIM).astype("<f4").tobytes()
            items.append((f"notes/{first // 100}.md", f"h{first}", 1, chunks))
        await index.replace_files(user, items)
        await store.store(MODEL, DIM, vectors)


async def build(url: str, count: int) -> tuple[Database, Store, str, str]:
    database = Database(url)
    await database.connect()
    users = UserRepository(database)
    user, other = (await users.create("measured")).id, (await users.create("other")).id
    store: Store = (
        PgMemoryVectorRepository(database)
        if database.dialect == "postgresql"
        else MemoryVectorRepository(database)
    )
    table = await store.ensure_table(MODEL, DIM)
    for who, seed in ((user, 1), (other, 2)):
        await fill(database, store, who, count, seed)
        await store.fill(who, MODEL, table)
    if database.dialect == "postgresql":
        async with database.write() as conn:  # the statistics autovacuum would gather
            await conn.exec_driver_sql("ANALYZE")
    return database, store, user, table


async def plain_scan(database: Database, user: str) -> None:
    """The same rows nearest() reads, streamed and dropped: the transfer alone."""
    sql = text(
        "SELECT c.id, e.vector FROM memory_files AS f "
        "JOIN memory_chunks AS c ON c.file_id = f.id "
        "JOIN memory_embeddings AS e ON e.model = :m AND e.text_hash = c.text_hash "
        "WHERE f.user_id = :u"
    )
    async with database.read() as conn:
        result = await conn.stream(sql.execution_options(yield_per=682), {"m": MODEL, "u": user})
        async for _ in result.partitions():
            pass


async def timings(action: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    await action()  # warm: plans cached, pages in shared buffers
    found = []
    for _ in range(rounds):
        started = time.perf_counter()
        await action()
        found.append(time.perf_counter() - started)
    return found


class PgDatabase:
    """A throwaway PostgreSQL database on the ROOST_TEST_DATABASE_URL server."""

    def __init__(self, server: str) -> None:
        self.admin = make_url(server).set(drivername="postgresql")
        self.name = f"roost_vec_bench_{uuid.uuid4().hex[:8]}"

    async def _run(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def __aenter__(self) -> str:
        await self._run(f'CREATE DATABASE "{self.name}"')
        url = self.admin.set(drivername="postgresql+asyncpg", database=self.name)
        return url.render_as_string(hide_password=False)

    async def __aexit__(self, *_: object) -> None:
        await self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def measure(chunks: int, queries: int, server: str) -> list[Figure]:
    rng = np.random.default_rng(9)
    query = [rng.standard_normal(DIM).astype("<f4").tobytes() for _ in range(queries)]
    found: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        lite, lite_store, lite_user, lite_table = await build(
            f"sqlite+aiosqlite:///{Path(tmp) / 'v.db'}", chunks
        )
        async with PgDatabase(server) as url, PgDatabase(server) as small_url:
            pg, store, user, table = await build(url, chunks)
            small, small_store, small_user, small_table = await build(small_url, chunks // 4)
            try:
                turn = iter(range(1 << 30))

                def nearest(s: Store, u: str, t: str) -> Callable[[], Awaitable[Any]]:
                    return lambda: s.nearest(u, t, query[next(turn) % queries], K)

                scan = await timings(nearest(store, user, table), queries)
                vec0 = await timings(nearest(lite_store, lite_user, lite_table), queries)
                plain = await timings(lambda: plain_scan(pg, user), queries)
                p50, p95 = (
                    statistics.median(scan) * 1000,
                    statistics.quantiles(scan, n=20)[18] * 1000,
                )
                print(f"{chunks} chunks of {DIM} dimensions, k = {K}, {queries} queries")
                print(f"PostgreSQL scan  p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
                print(f"  plain SELECT   p50 {statistics.median(plain) * 1000:7.1f} ms")
                print(f"sqlite-vec KNN   p50 {statistics.median(vec0) * 1000:7.1f} ms")
                found.append(
                    Figure(
                        f"vector search, PostgreSQL scan, {chunks} chunks p50",
                        p50,
                        "ms",
                        statistics.median(vec0) * 1000,
                    )
                )
                low = await peak(nearest(small_store, small_user, small_table))
                high = await peak(nearest(store, user, table))
                mib = 1 << 20
                print(
                    f"peak memory of one nearest(): {low / mib:.1f} MiB at {chunks // 4} "
                    f"chunks, {high / mib:.1f} MiB at {chunks} (ratio {high / low:.2f})"
                )
                found.append(
                    Figure(
                        "vector search peak memory, N ÷ N/4 chunks",
                        high / low,
                        target="value <= 1.5",
                    )
                )
            finally:
                await small.close()
                await pg.close()
        await lite.close()
    return found


def figures(size: Size) -> list[Figure]:
    server = os.environ.get("ROOST_TEST_DATABASE_URL")
    if not server:
        raise SystemExit("set ROOST_TEST_DATABASE_URL to a PostgreSQL server")
    return asyncio.run(measure(**SIZES[size], server=server))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=SIZES["small"]["chunks"])
    parser.add_argument("--queries", type=int, default=SIZES["small"]["queries"])
    args = parser.parse_args()
    server = os.environ.get("ROOST_TEST_DATABASE_URL")
    if not server:
        raise SystemExit("set ROOST_TEST_DATABASE_URL to a PostgreSQL server")
    asyncio.run(measure(args.chunks, args.queries, server))
