"""SQLite through sqlean.py, so that the sqlite-vec extension can load.

Many Pythons (this project's CI among them) build `sqlite3` without
`enable_load_extension`; sqlean.py is a drop-in `sqlite3` with a current SQLite (FTS5
included) that can load extensions. SQLAlchemy's aiosqlite dialect takes the DBAPI
module as a parameter, so the async engine gets an aiosqlite that opens sqlean
connections, with sqlean's own exception classes (SQLAlchemy wraps errors by them).
Everything in roost that opens the database file goes through `connect()` below, never
the standard `sqlite3` (see there why). Where sqlean or sqlite-vec is missing, the
standard driver is used and vector search is off; keyword search works either way.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import types
from typing import Any

log = logging.getLogger(__name__)

_ERROR_NAMES = (
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "sqlite_version",
    "sqlite_version_info",
)


@functools.cache
def _sqlean() -> types.ModuleType | None:
    try:
        import sqlean  # type: ignore[import-untyped]
        import sqlite_vec  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return None
    module: types.ModuleType = sqlean
    return module


def vectors_available() -> bool:
    """True when connections made by `dbapi_module()` have sqlite-vec loaded."""
    return _sqlean() is not None


def error_types() -> tuple[type[Exception], ...]:
    """The exception bases raw driver errors may have (the standard and sqlean's)."""
    sqlean = _sqlean()
    return (sqlite3.Error,) if sqlean is None else (sqlite3.Error, sqlean.Error)


def _open(sqlean: Any, database: str, **kwargs: Any) -> Any:
    import sqlite_vec

    conn = sqlean.connect(database, **kwargs)
    conn.enable_load_extension(True)
    try:
        sqlite_vec.load(conn)
    finally:
        conn.enable_load_extension(False)  # nothing else may load code into it
    return conn


def connect(database: str, **kwargs: Any) -> Any:
    """A plain (sync) connection through the same SQLite library the engine uses.

    Never mix two SQLite libraries on one file in one process: each keeps its own table
    of POSIX locks, so they do not see each other's locks, and closing a file in one
    drops the other's locks (SQLite's "multiple copies" corruption hazard).
    """
    sqlean = _sqlean()
    return (
        sqlite3.connect(database, **kwargs) if sqlean is None else _open(sqlean, database, **kwargs)
    )


@functools.cache
def dbapi_module() -> Any | None:
    """The `module=` for create_async_engine, or None to use the standard driver."""
    sqlean = _sqlean()
    if sqlean is None:
        return None
    import aiosqlite
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

    shim = types.ModuleType("roost_aiosqlean")

    def connect(database: str, iter_chunk_size: int = 64, **kwargs: Any) -> Any:
        return aiosqlite.Connection(lambda: _open(sqlean, database, **kwargs), iter_chunk_size)

    shim.connect = connect  # type: ignore[attr-defined]
    shim.Connection = aiosqlite.Connection  # type: ignore[attr-defined]
    for name in _ERROR_NAMES:
        setattr(shim, name, getattr(sqlean, name))
    return AsyncAdapt_aiosqlite_dbapi(shim, sqlean)
