"""Which database the tests run on: SQLite files (the default) or PostgreSQL.

`ROOST_TEST_BACKEND=postgresql` (with `ROOST_TEST_DATABASE_URL` naming the server) makes
every test that opens roost's database use PostgreSQL instead of the SQLite file in its
ROOST_HOME. Creating a database per test would be slow, so the session creates one, migrates
it once, and before each test empties every table (one round trip of a few milliseconds).
The URL reaches the code under test as ROOST_DATABASE_URL:
through `make_settings` and the `settings` fixture in-process, and through the environment
for `roost` subprocesses. A server that outlives one test (a module-scoped fixture) would be
emptied under its feet, so it takes a database of its own from `dedicated_env`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

BACKEND_ENV = "ROOST_TEST_BACKEND"
SERVER_ENV = "ROOST_TEST_DATABASE_URL"
URL_ENV = "ROOST_DATABASE_URL"  # the setting `database_url`, as the code under test reads it

BACKEND = os.environ.get(BACKEND_ENV, "sqlite").strip().lower() or "sqlite"
if BACKEND not in {"sqlite", "postgresql"}:
    raise pytest.UsageError(f"{BACKEND_ENV} must be sqlite or postgresql, not {BACKEND!r}")
ON_POSTGRES = BACKEND == "postgresql"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip on the PostgreSQL run a test that is about SQLite itself (files, its driver)."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite-specific: {reason}")


def plain_dsn(url: str, database: str | None = None) -> str:
    """The URL as asyncpg takes it (no +driver), optionally naming another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def async_url(server: str, database: str) -> str:
    return (
        make_url(server)
        .set(drivername="postgresql+asyncpg", database=database)
        .render_as_string(hide_password=False)
    )


# Empties every table and rewinds the sequences. DELETE with the foreign-key triggers off
# (session_replication_role, superuser only) takes a few milliseconds; TRUNCATE makes new
# files for each table it empties (~50-250 ms), which over the suite would be minutes, so
# it is the fallback for a non-superuser, and only for the tables a test wrote to.
_DELETE = """
DO $$
DECLARE
  name text;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR name IN
    SELECT quote_ident(tablename) FROM pg_tables
    WHERE schemaname = 'public' AND tablename <> 'alembic_version'
  LOOP
    EXECUTE 'DELETE FROM ' || name;
  END LOOP;
  FOR name IN
    SELECT quote_ident(sequencename) FROM pg_sequences
    WHERE schemaname = 'public' AND last_value IS NOT NULL
  LOOP
    PERFORM setval(name, 1, false);
  END LOOP;
END $$
"""

_TRUNCATE = """
DO $$
DECLARE
  dirty text[] := '{}';
  name text;
  used boolean;
BEGIN
  FOR name IN
    SELECT quote_ident(tablename) FROM pg_tables
    WHERE schemaname = 'public' AND tablename <> 'alembic_version'
  LOOP
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM ' || name || ')' INTO used;
    IF used THEN
      dirty := dirty || name;
    END IF;
  END LOOP;
  IF array_length(dirty, 1) > 0 THEN
    EXECUTE 'TRUNCATE ' || array_to_string(dirty, ', ') || ' CASCADE';
  END IF;
  FOR name IN
    SELECT quote_ident(sequencename) FROM pg_sequences
    WHERE schemaname = 'public' AND last_value IS NOT NULL
  LOOP
    PERFORM setval(name, 1, false);
  END LOOP;
END $$
"""

_KICK = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


class PostgresDatabases:
    """The session's throwaway databases on one server, dropped when the session ends."""

    def __init__(self, server: str) -> None:
        self._server = server
        self._prefix = f"roost_t_{uuid.uuid4().hex[:10]}"
        # Its own loop on its own thread: a fixture may call in while another loop runs on
        # the main thread (sync Playwright's, a test's), where run_until_complete refuses.
        self._loop = asyncio.new_event_loop()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="roost-test-pg")
        self._created: list[str] = []
        self._main: Any = None  # the asyncpg connection that resets the main database
        self._reset_sql = _DELETE
        self.url = self.create("main")

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self._thread.submit(self._loop.run_until_complete, coro).result()

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(plain_dsn(self._server))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create(self, tag: str) -> str:
        """A new empty database, migrated to head; its asyncpg URL."""
        name = f"{self._prefix}_{len(self._created)}_{tag}"  # unique if a tag comes again
        self._run(self._admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        url = async_url(self._server, name)
        self._run(_migrate(url))
        return url

    def reset(self) -> None:
        """Empty the main database; connections a finished test leaked are cut if they
        hold a lock the reset needs."""
        self._run(self._reset())

    async def _reset(self) -> None:
        if self._main is None:
            self._main = await asyncpg.connect(plain_dsn(self.url))
            await self._main.execute("SET lock_timeout = '5s'")
        try:
            await self._main.execute(self._reset_sql)
        except asyncpg.exceptions.InsufficientPrivilegeError:
            self._reset_sql = _TRUNCATE
            await self._reset()
        except asyncpg.exceptions.LockNotAvailableError:
            await self._main.execute(_KICK)
            await self._main.execute(self._reset_sql)

    def close(self) -> None:
        try:
            if self._main is not None:
                self._run(self._main.close())
            for name in self._created:
                self._run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            self._thread.submit(self._loop.close).result()
            self._thread.shutdown()


async def _migrate(url: str) -> None:
    from roost.storage import Database

    database = Database(url)
    await database.connect()
    await database.close()


_databases: PostgresDatabases | None = None


def start_session() -> None:
    """Create the session's main database (PostgreSQL run only); call once per session."""
    global _databases
    if not ON_POSTGRES:
        return
    server = os.environ.get(SERVER_ENV)
    if not server:
        raise pytest.UsageError(f"{BACKEND_ENV}=postgresql needs {SERVER_ENV} (the server)")
    _databases = PostgresDatabases(server)


def end_session() -> None:
    global _databases
    if _databases is not None:
        _databases.close()
        _databases = None


def reset() -> None:
    if _databases is not None:
        _databases.reset()


def database_env() -> dict[str, str]:
    """ROOST_DATABASE_URL for the current test's database ({} on SQLite: the home's file)."""
    return {URL_ENV: _databases.url} if _databases is not None else {}


def dedicated_env(tag: str) -> dict[str, str]:
    """ROOST_DATABASE_URL of a new database of its own, for a server that outlives a test
    ({} on SQLite, where each home has its own file anyway). `tag`: [a-z0-9_], to name it."""
    return {URL_ENV: _databases.create(tag)} if _databases is not None else {}


async def stored_text(home: Path) -> bytes:
    """All that the test's database holds, to check what a reader of it could see: the
    SQLite file's bytes with its write-ahead log (where recent rows still are), or every
    row of every PostgreSQL table as text."""
    if _databases is None:
        files = [home / "roost.db", home / "roost.db-wal"]
        return b"".join(path.read_bytes() for path in files if path.exists())
    conn = await asyncpg.connect(plain_dsn(_databases.url))
    try:
        names = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'"
        )
        rows: list[str] = []
        for name in names:  # quote_ident made them safe to build into the query
            query = "SELECT t::text AS row FROM " + name["name"] + " AS t"  # noqa: S608
            rows.extend(row["row"] for row in await conn.fetch(query))
        return "\n".join(rows).encode()
    finally:
        await conn.close()


def database_url(home: Path) -> str:
    """The URL a Database for this test opens: the PostgreSQL database, or a file in home."""
    if _databases is not None:
        return _databases.url
    return f"sqlite+aiosqlite:///{home / 'roost.db'}"
