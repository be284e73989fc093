"""Database handle: URLs, migrations, SQLite settings, transactions, failures."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.exc import OperationalError

from roost.core.clock import utcnow
from roost.core.errors import ConfigError, Unavailable
from roost.storage import Database, UserRepository, sqlite_driver
from roost.storage.db import async_url
from roost.storage.errors import translate_errors
from roost.storage.migrate import HEAD_REVISION, current_revision, head_revision
from roost.storage.tables import include_name, metadata
from roost.storage.tables import users as users_table

TABLES = {
    "users",
    "api_keys",
    "conversations",
    "messages",
    "roles",
    "memory_files",
    "memory_chunks",
    "memory_embeddings",
    "alembic_version",
}


def _schema_diff(conn: Connection) -> list[object]:
    # include_name skips the search objects that migration 0003 makes in raw DDL.
    opts = {"compare_type": True, "include_name": include_name}
    context = MigrationContext.configure(conn, opts=opts)
    return list(compare_metadata(context, metadata))


async def test_migrations_create_the_schema_at_head(db: Database) -> None:
    assert head_revision() == HEAD_REVISION == "0012"  # the constant follows the files
    async with db.read() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        revision = await conn.run_sync(current_revision)
        diff = await conn.run_sync(_schema_diff)
    assert tables >= TABLES
    assert revision == HEAD_REVISION
    assert diff == [], "migrations and tables.py disagree"


async def test_reconnect_is_idempotent_and_keeps_data(db_url: str) -> None:
    first = Database(db_url)
    await first.connect()
    await first.connect()  # a second call on an open handle does nothing
    alice = await UserRepository(first).create("alice")
    await first.close()
    await first.close()

    second = Database(db_url)
    await second.connect()
    try:
        assert await UserRepository(second).get(alice.id) == alice
        async with second.read() as conn:
            assert await conn.run_sync(current_revision) == HEAD_REVISION
            versions = await conn.scalar(text("SELECT count(*) FROM alembic_version"))
        assert versions == 1
    finally:
        await second.close()


async def test_processes_starting_together_migrate_once(db_url: str) -> None:
    handles = [Database(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(h.connect() for h in handles))
        assert await UserRepository(handles[0]).list() == []
    finally:
        for handle in handles:
            await handle.close()


async def test_sqlite_connection_settings(db: Database, db_url: str) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    assert Path(async_url(db_url).database or "").is_file()  # parent dir was created
    # Check several pooled connections, not just the first one.
    async with db.read() as a, db.read() as b:
        for conn in (a, b):
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 5000


async def test_write_commits_or_rolls_back(db: Database, users: UserRepository) -> None:
    alice = await users.create("alice")

    async def delete_then_fail() -> None:
        async with db.write() as conn:
            await conn.execute(users_table.delete())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await delete_then_fail()
    assert await users.get(alice.id) == alice


async def test_timestamps_come_back_aware_utc(db: Database, users: UserRepository) -> None:
    alice = await users.create("alice")
    async with db.read() as conn:
        stored = await conn.scalar(select(users_table.c.created_at))
    assert stored is not None
    assert stored.utcoffset() is not None
    assert stored == alice.created_at


async def test_locked_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite+aiosqlite:///{path}", busy_timeout=0.1)
    await db.connect()
    other = sqlite_driver.connect(str(path), isolation_level=None)  # another process, say
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable, match="locked"):
            await UserRepository(db).create("alice")
        other.execute("ROLLBACK")
        # The failed write released the in-process writer lock.
        assert (await UserRepository(db).create("alice")).name == "alice"
    finally:
        other.close()
        await db.close()


@pytest.mark.parametrize(
    ("driver_message", "expected"),
    [
        ("database or disk is full", "disk holding the database is full"),
        ("attempt to write a readonly database", "read-only"),
        ("database is locked", "locked by another writer"),
        ("unable to open database file", "cannot open the database file"),
    ],
)
def test_operational_errors_become_unavailable(driver_message: str, expected: str) -> None:
    error = OperationalError("INSERT ...", {}, sqlite3.OperationalError(driver_message))
    with pytest.raises(Unavailable, match=expected), translate_errors():
        raise error


def test_other_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="bug"), translate_errors():
        raise ValueError("bug")


async def test_unreachable_postgresql_is_unavailable() -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    with pytest.raises(Unavailable, match="database unavailable"):
        await db.connect()
    await db.close()


def test_urls() -> None:
    assert async_url("sqlite:////tmp/x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u@h/d").drivername == "postgresql+asyncpg"
    assert async_url("sqlite:///~/r.db").database == str(Path("~/r.db").expanduser())
    assert Database("postgresql://u:secret@h/d").url == "postgresql+asyncpg://u:***@h/d"
    assert Database("sqlite:////tmp/x.db").dialect == "sqlite"
    for bad in (
        "mysql://u@h/d",
        "sqlite://",
        "sqlite:///:memory:",
        "nonsense",
        "sqlite+pysqlite:///x",
    ):
        with pytest.raises(ConfigError, match="database_url"):
            async_url(bad)


async def test_use_before_connect_is_an_error() -> None:
    db = Database("sqlite:////nonexistent/x.db")
    with pytest.raises(RuntimeError, match="connect"):
        async with db.read():
            pass


async def test_concurrent_sqlite_writes_are_serialised(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL has no single writer; row locking is tested with messages")

    # Each write reads then writes; two interleaved writers would pick the same name.
    async def add_next() -> None:
        async with db.write() as conn:
            count = await conn.scalar(select(func.count()).select_from(users_table))
            await conn.execute(
                insert(users_table).values(
                    id=f"id-{count}", name=f"user-{count}", is_admin=False, created_at=utcnow()
                )
            )

    await asyncio.gather(*(add_next() for _ in range(10)))
    async with db.read() as conn:
        names = set((await conn.scalars(select(users_table.c.name))).all())
    assert names == {f"user-{n}" for n in range(10)}


async def test_read_only_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writable = Database(f"sqlite:///{path}")
    await writable.connect()
    await writable.close()
    # A read-only open stands in for file permissions, which root would ignore.
    read_only = Database(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    await read_only.connect()  # already at head: nothing to write
    try:
        assert await UserRepository(read_only).list() == []
        with pytest.raises(Unavailable, match="read-only"):
            await UserRepository(read_only).create("alice")
    finally:
        await read_only.close()


async def test_a_new_sqlite_file_is_owner_only(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'roost.db'}")
    await db.connect()
    try:
        assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
        assert (tmp_path / "new" / "roost.db").stat().st_mode & 0o777 == 0o600
    finally:
        await db.close()
