"""Storage fixtures: every test runs on a real SQLite file and, when
ROOST_TEST_DATABASE_URL is set, on PostgreSQL too (a throwaway database per session)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from roost.core.records import User
from roost.storage import (
    ConversationRepository,
    Database,
    KeyRepository,
    MessageRepository,
    UserRepository,
)
from tests import backend

PG_ENV = "ROOST_TEST_DATABASE_URL"


def _run(coro: Coroutine[Any, Any, None]) -> None:
    # Session setup runs outside the per-test event loops; use a private one.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _plain_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for this test session."""
    raw = os.environ.get(PG_ENV)
    if not raw:
        pytest.skip(f"set {PG_ENV} to run the storage tests on PostgreSQL")
    name = f"roost_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(_plain_dsn(raw), f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(raw)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _run(_admin(_plain_dsn(raw), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The PostgreSQL run (tests/backend.py) leaves the SQLite half to the SQLite run.
@pytest.fixture(params=["postgresql"] if backend.ON_POSTGRES else ["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no tables at all) for one test."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'roost.db'}"
    url: str = request.getfixturevalue("pg_url")
    _run(_admin(_plain_dsn(url), "DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def users(db: Database) -> UserRepository:
    return UserRepository(db)


@pytest.fixture
def keys(db: Database) -> KeyRepository:
    return KeyRepository(db)


@pytest.fixture
def conversations(db: Database) -> ConversationRepository:
    return ConversationRepository(db)


@pytest.fixture
def messages(db: Database) -> MessageRepository:
    return MessageRepository(db)


@pytest.fixture
async def alice(users: UserRepository) -> User:
    return await users.create("alice")


@pytest.fixture
async def bob(users: UserRepository) -> User:
    return await users.create("bob")
