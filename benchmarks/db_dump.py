"""`roost db export|import`: throughput, and memory that stays flat as tables grow.

Builds a SQLite roost with one user, 100 conversations and N messages (~300 characters
each), then measures, all in this run:

- export time ÷ reading the same rows with a plain streamed SELECT (the baseline): the
  cost of encoding and writing the file;
- import time (into a fresh SQLite file, and into PostgreSQL when
  ROOST_TEST_DATABASE_URL is set) ÷ inserting the same rows, already decoded and in
  memory, in the same batches (the baseline): the cost of reading and checking the file;
- peak Python memory (tracemalloc) of export and import at N/4 and at N messages: a
  ratio near 1 means memory does not grow with the table.

    python -m benchmarks.db_dump [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.dump import BATCH, DumpReader, export_database, import_database
from roost.storage.tables import conversations, messages, users

WORDS = [
    "the",
    "a",
    "plan",
    "trip",
    "lisbon",
    "tram",
    "eggs",
    "milk",
    "garden",
    "tomato",
    "python",
    "async",
    "index",
    "query",
]


async def build(url: str, count: int) -> None:
    database = Database(url)
    await database.connect()
    rng = random.Random(7)
    now = utcnow()
    user = str(uuid.uuid4())
    async with database.write() as conn:
        await conn.execute(insert(users), [{"id": user, "name": "u", "created_at": now}])
        await conn.execute(
            insert(conversations),
            [
                {
                    "id": n + 1,
                    "user_id": user,
                    "public_id": str(uuid.uuid4()),
                    "title": f"chat {n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(100)
            ],
        )
        for start in range(0, count, 5000):
            rows = [
                {
                    "conversation_id": n % 100 + 1,
                    "seq": n // 100 + 1,
                    "role": "user" if n % 2 else "assistant",
                    "content": " ".join(rng.choices(WORDS, k=60)),
                    "tool_calls": [],
                    "created_at": now,
                }
                for n in range(start, min(count, start + 5000))
            ]
            await conn.execute(insert(messages), rows)
    await database.close()


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


async def peak(action: Callable[[], Awaitable[Any]]) -> int:
    tracemalloc.start()
    try:
        await action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def opened(url: str, migrate: bool = False) -> Database:
    database = Database(url, migrate=migrate)
    await database.connect()
    return database


async def read_plain(url: str) -> None:
    database = await opened(url)
    async with database.read() as conn:
        result = await conn.stream(select(messages).execution_options(yield_per=BATCH))
        async for _ in result.partitions():
            pass
    await database.close()


async def export_to(url: str, path: Path) -> None:
    database = await opened(url)
    with path.open("w", encoding="utf-8") as out:
        await export_database(database, out)
    await database.close()


async def import_from(path: Path, url: str) -> None:
    database = await opened(url, migrate=True)
    with path.open(encoding="utf-8") as source:
        reader = DumpReader(source, path.name)
        await import_database(database, reader, reader.header(), replace=True)
    await database.close()


async def insert_plain(rows: list[dict[str, Any]], url: str) -> None:
    """The import baseline: the same messages, decoded already, in the same batches."""
    database = await opened(url, migrate=True)
    async with database.write() as conn:
        await conn.execute(messages.delete())
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(messages), rows[start : start + BATCH])
    await database.close()


async def message_rows(url: str) -> list[dict[str, Any]]:
    database = await opened(url)
    async with database.read() as conn:
        found = [dict(r._mapping) for r in await conn.execute(select(messages))]
    await database.close()
    return found


class PgDatabase:
    """A throwaway PostgreSQL database when ROOST_TEST_DATABASE_URL names a server."""

    def __init__(self) -> None:
        raw = os.environ.get("ROOST_TEST_DATABASE_URL")
        self.admin = (
            make_url(raw).set(drivername="postgresql").render_as_string(hide_password=False)
            if raw
            else None
        )
        self.name = f"roost_dbcli_bench_{uuid.uuid4().hex[:8]}"

    async def _run(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def __aenter__(self) -> str | None:
        if self.admin is None:
            return None
        await self._run(f'CREATE DATABASE "{self.name}"')
        url = make_url(self.admin).set(drivername="postgresql+asyncpg", database=self.name)
        return url.render_as_string(hide_password=False)

    async def __aexit__(self, *_: object) -> None:
        if self.admin is not None:
            await self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def import_line(label: str, dump: Path, url: str, rows: list[dict[str, Any]]) -> None:
    # The messages' parents must exist for the baseline: import first, then time both.
    await import_from(dump, url)
    took = await timed(lambda: import_from(dump, url))
    base = await timed(lambda: insert_plain(rows, url))
    print(
        f"import into {label:10} {took:6.2f} s  {len(rows) / took:9.0f} messages/s   "
        f"plain insert {base:6.2f} s   ratio {took / base:4.2f}"
    )


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small, big = f"sqlite+aiosqlite:///{root / 's.db'}", f"sqlite+aiosqlite:///{root / 'b.db'}"
        await build(small, count // 4)
        await build(big, count)
        dump = root / "dump.jsonl"

        read = await timed(lambda: read_plain(big))
        export = await timed(lambda: export_to(big, dump))
        size = dump.stat().st_size / 1e6
        print(f"{count} messages, export file {size:.0f} MB")
        print(
            f"export            {export:6.2f} s  {count / export:9.0f} messages/s   "
            f"plain read   {read:6.2f} s   ratio {export / read:4.2f}"
        )
        rows = await message_rows(big)
        target = f"sqlite+aiosqlite:///{root / 'target.db'}"
        await import_line("SQLite", dump, target, rows)
        async with PgDatabase() as pg:
            if pg is None:
                print("import into PostgreSQL: skipped (set ROOST_TEST_DATABASE_URL)")
            else:
                await import_line("PostgreSQL", dump, pg, rows)
        del rows

        small_dump = root / "small.jsonl"
        export_small = await peak(lambda: export_to(small, small_dump))
        export_big = await peak(lambda: export_to(big, dump))
        import_small = await peak(lambda: import_from(small_dump, target))
        import_big = await peak(lambda: import_from(dump, target))
        mib = 1024 * 1024
        print(
            f"peak memory, export: {export_small / mib:.1f} MiB at {count // 4} messages, "
            f"{export_big / mib:.1f} MiB at {count} (ratio {export_big / export_small:.2f}, "
            "table ratio 4.00)"
        )
        print(
            f"peak memory, import: {import_small / mib:.1f} MiB at {count // 4} messages, "
            f"{import_big / mib:.1f} MiB at {count} (ratio {import_big / import_small:.2f}, "
            "table ratio 4.00)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().messages))
