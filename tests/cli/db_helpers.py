"""Shared by the `roost db` tests: a roost filled the way users fill it, its rows read
back table by table, and throwaway PostgreSQL databases."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from roost.config import Settings
from roost.storage.db import Database
from roost.storage.dump import exported_tables
from roost.storage.dump_format import codec
from tests.api.inbox_helpers import Steered, answered, post
from tests.api.memgpt_helpers import new_agent, say
from tests.conftest import ADMIN_PASSWORD, running

PG_ENV = "ROOST_TEST_DATABASE_URL"
# Read once at import: the CLI fixtures clear every ROOST_* variable for each test.
_PG_URL = os.environ.get(PG_ENV)


def pg_admin_dsn() -> str:
    raw = _PG_URL
    if not raw:
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL side of the db command tests")
    return make_url(raw).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(pg_admin_dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    # A thread of its own: async tests call this with their event loop running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (named after this branch), dropped afterwards."""
    dsn = pg_admin_dsn()
    name = f"roost_dbcli_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(dsn)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every exported table's rows in id order: Python values, then JSON columns as text."""
    database = Database(url, migrate=False)
    await database.connect()
    found: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with database.read() as conn:
            for table in exported_tables():
                order = list(table.primary_key.columns)
                values = (await conn.execute(select(table).order_by(*order))).all()
                raw = [codec(c).select for c in table.columns]
                texts = (await conn.execute(select(*raw).order_by(*order))).all()
                found[table.name] = [(*a, *b) for a, b in zip(values, texts, strict=True)]
    finally:
        await database.close()
    return found


async def scalar(url: str, sql: str) -> Any:
    database = Database(url, migrate=False)
    await database.connect()
    try:
        async with database.read() as conn:
            return await conn.scalar(text(sql))
    finally:
        await database.close()


@dataclass
class Filled:
    """What a user sees of the roost, to compare with another server's answers."""

    keys: dict[str, str] = field(default_factory=dict)  # user name -> secret
    revoked: str = ""
    agent: str = ""
    session: str = ""
    views: dict[str, Any] = field(default_factory=dict)  # "who GET path" -> JSON


def view_paths(filled: Filled) -> list[tuple[str, str]]:
    """(user, path) pairs whose answers must survive a move unchanged."""
    agent, session = filled.agent, filled.session
    return [
        ("alice", "/api/sessions"),
        ("alice", f"/api/sessions/{session}"),
        ("alice", "/api/search?q=lisbon"),
        ("alice", "/api/kernel2/roles"),
        ("alice", "/api/memory/search?q=purr"),
        ("admin", "/api/sessions/inbox-session"),
        ("admin", "/api/agents"),
        ("admin", f"/api/agents/{agent}/memory"),
        ("admin", f"/api/agents/{agent}/archival/all"),
        ("admin", f"/api/agents/{agent}/messages?start=0&count=50"),
        ("admin", "/api/humans"),
        ("admin", "/api/memory/search?q=wombat"),
    ]


def headers(filled: Filled, who: str) -> dict[str, str]:
    return {"X-API-Key": ADMIN_PASSWORD if who == "admin" else filled.keys[who]}


async def fill(settings: Settings) -> Filled:
    """Use a roost like its users do: accounts and keys, chats, a role, an agent with
    memory and archival passages, an answered inbox message, workspace files."""
    filled = Filled()
    async with running(settings, Steered()) as env:
        users = env.services.users
        for name in ("alice", "bob"):
            user = await users.create(name)
            filled.keys[name] = (await users.create_key(user)).secret
        bob = await users.resolve("bob")
        spare = await users.create_key(bob, "old laptop")
        await users.revoke_key(bob, spare.key.id)
        filled.revoked = spare.secret

        client = env.client
        alice = headers(filled, "alice")
        made = await client.post(
            "/api/chat", json={"message": "Planning a trip to Lisbon 🚋"}, headers=alice
        )
        assert made.status_code == 200, made.text
        filled.session = made.json()["session_id"]
        again = await client.post(
            "/api/chat",
            json={"message": "Groceries: eggs and milk", "session_id": filled.session},
            headers=alice,
        )
        assert again.status_code == 200, again.text
        role = await client.post(
            "/api/kernel2/roles",
            json={"name": "Tutor", "system_prompt": "Be patient.", "enable_l0_retrieval": True},
            headers=alice,
        )
        assert role.status_code == 201, role.text
        put = await client.put(
            "/api/memory/files/notes/cats.md", json={"content": "Cats purr.\n"}, headers=alice
        )
        assert put.status_code == 200, put.text
        mine = await client.put(
            "/api/memory/files/zoo.md", json={"content": "# Zoo\n\nA wombat digs.\n"}
        )
        assert mine.status_code == 200, mine.text

        filled.agent = await new_agent(client)
        for passage in ("Chad's boat is called Wavelength", "Chad prefers green tea"):
            stored = await client.post(
                f"/api/agents/{filled.agent}/archival", json={"content": passage}
            )
            assert stored.status_code == 200, stored.text
        env.scripts.queue.append(say("Hello Chad, nice to meet you."))
        spoke = await client.post(
            f"/api/agents/{filled.agent}/messages", json={"message": "hi", "role": "user"}
        )
        assert spoke.status_code == 200, spoke.text
        human = await client.post("/api/humans", json={"name": "ada", "text": "Name: Ada"})
        assert human.status_code == 200, human.text

        await post(env, "inbox-session", "queued hello")
        await answered(env, "inbox-session", 1)

        for who, path in view_paths(filled):
            response = await client.get(path, headers=headers(filled, who))
            assert response.status_code == 200, (path, response.text)
            filled.views[f"{who} {path}"] = response.json()
    return filled
