"""The Database handle: engine, connection settings, migrations, read and write scopes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from roost.core.errors import ConfigError, Unavailable
from roost.storage import migrate, sqlite_driver
from roost.storage.errors import translate_errors

Dialect = Literal["sqlite", "postgresql"]
_ASYNC_DRIVERS: dict[str, str] = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
_WRITE_OPTION = "roost_write"


def async_url(raw: str) -> URL:
    """Parse a database URL, choosing the async driver when none is named."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("database_url is not a valid database URL") from None
    backend = "postgresql" if url.get_backend_name() == "postgres" else url.get_backend_name()
    shown = url.render_as_string(hide_password=True)
    if backend not in _ASYNC_DRIVERS:
        raise ConfigError(f"database_url {shown}: only sqlite and postgresql are supported")
    driver = _ASYNC_DRIVERS[backend]
    if "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+{driver}")
    elif url.get_driver_name() != driver:
        raise ConfigError(f"database_url {shown}: use the {backend}+{driver} driver")
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            # Every pooled connection would get its own empty database.
            raise ConfigError("database_url: in-memory SQLite is not supported; name a file")
        if not url.database.startswith("file:"):  # a SQLite URI is taken as written
            url = url.set(database=str(Path(url.database).expanduser()))
    return url


def _enable_wal(database: str, timeout: float) -> None:
    """Switch the file to WAL before the pool opens it.

    The switch needs an exclusive lock and SQLite does not wait for one (busy_timeout
    does not apply), so processes starting together retry here. Once the file is in WAL
    mode, which is persistent, the per-connection pragma below is a no-op.
    """
    deadline = time.monotonic() + timeout
    conn = sqlite_driver.connect(database, timeout=timeout)
    try:
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite_driver.error_types() as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)
    finally:
        conn.close()


def _sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of sqlite3's hands (its legacy mode skips it before SELECT and
        # DDL) so that `_begin` below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")  # set by _enable_wal; kept if reset
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe in WAL, far fewer fsyncs
            # 32 MiB page cache (default 2 MiB), used only as a connection needs it: bulk
            # indexing no longer spills half-built FTS5 pages to the WAL mid-transaction
            # (full index ~20% faster in benchmarks/memory_index.py).
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.execute("PRAGMA foreign_keys=ON")  # off by default, per connection
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock up front, so a read-then-write transaction can
        # never fail halfway on SQLITE_BUSY; readers take a consistent snapshot.
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _create_private(path: Path) -> None:
    """Conversations are private: make the folder and file owner-only before SQLite does
    (SQLite gives its -wal and -shm files the database file's permissions)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class Database:
    """One per process. `connect()` migrates to the latest schema before anything else."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = 5.0,
        migrate: bool = True,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """`on_error`: told the kind of each driver error (storage/errors.py), for /metrics."""
        self._url = async_url(url)
        self._on_error = on_error
        # Off only for `roost db check|export|import`, which must see the schema as it is.
        self._migrate = migrate
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._engine: AsyncEngine | None = None
        # SQLite allows one writer at a time; queueing writers here instead of in
        # busy_timeout retries keeps them in arrival order and off "database is locked".
        self._write_lock = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self._url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def has_vectors(self) -> bool:
        """Whether vector search can run here: on PostgreSQL always (a brute-force scan,
        storage/memory_vectors_pg.py), on SQLite when sqlite-vec is loaded."""
        return self.dialect == "postgresql" or sqlite_driver.vectors_available()

    @property
    def url(self) -> str:
        """The URL with any password hidden, fit for logs and error messages."""
        return self._url.render_as_string(hide_password=True)

    async def connect(self) -> None:
        if self._engine is not None:
            return
        try:
            self._engine = await self._open()
        except Unavailable as exc:  # say which database, for the operator
            raise Unavailable(f"{exc.message} [{self.url}]") from exc

    async def _open(self) -> AsyncEngine:
        if self.dialect == "sqlite":
            await self._prepare_sqlite_file()
            module = sqlite_driver.dbapi_module()
            engine = (
                create_async_engine(self._url, module=module)
                if module is not None
                else create_async_engine(self._url)
            )
            _sqlite_hooks(engine.sync_engine, self._busy_timeout_ms)
        else:
            # Pre-ping: a pooled connection may have died with a server restart.
            engine = create_async_engine(self._url, pool_pre_ping=True)
        try:
            if self._migrate:
                async with self._write_on(engine) as conn:
                    await conn.run_sync(migrate.upgrade)
            else:  # still fail here, not later, when the database cannot be reached
                with translate_errors(self._on_error):
                    async with engine.connect() as conn:
                        await conn.exec_driver_sql("SELECT 1")
        except BaseException:
            await engine.dispose()
            raise
        return engine

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries; on SQLite its statements share one snapshot."""
        engine = self._require()
        with translate_errors(self._on_error):
            async with engine.connect() as conn:
                yield conn

    def write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        return self._write_on(self._require())

    @contextlib.asynccontextmanager
    async def _write_on(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        lock = self._write_lock if self.dialect == "sqlite" else contextlib.nullcontext()
        async with lock:
            with translate_errors(self._on_error):
                async with engine.connect() as conn:
                    if self.dialect == "sqlite":
                        await conn.execution_options(**{_WRITE_OPTION: True})
                    async with conn.begin():
                        yield conn

    def _require(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database.connect() has not been called")
        return self._engine

    async def _prepare_sqlite_file(self) -> None:
        database = self._url.database or ""
        if database.startswith("file:"):
            return  # a SQLite URI carries its own flags (mode=ro...); open it only as given
        try:
            await asyncio.to_thread(_create_private, Path(database))
        except OSError as exc:
            raise Unavailable(f"cannot create the directory for {database}: {exc}") from exc
        with translate_errors(self._on_error):
            await asyncio.to_thread(_enable_wal, database, self._busy_timeout_ms / 1000)
