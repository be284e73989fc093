"""`roost db migrate|check|export|import`: exit codes, a lossless SQLite → PostgreSQL
move served by a real server afterwards, and bad input refused with nothing changed."""

from __future__ import annotations

import asyncio
import gzip
import json
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from roost.config import Settings
from roost.storage.migrate import HEAD_REVISION
from tests import backend
from tests.cli.conftest import RunRoost
from tests.cli.db_helpers import (
    Filled,
    fill,
    fresh_pg_database,
    headers,
    scalar,
    table_rows,
    view_paths,
)
from tests.conftest import ADMIN_PASSWORD

Invoke = Callable[..., Result]
Serving = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet (for SQLite: a file that does not exist)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'other' / 'roost.db'}"
        return
    with fresh_pg_database() as url:
        yield url


def _sqlite_url(home: Path) -> str:
    return f"sqlite+aiosqlite:///{home / 'roost.db'}"


def _unscored(view: Any) -> Any:
    """Search ranks are the backend's own (bm25 vs ts_rank): the same hits, any order."""
    if isinstance(view, dict):
        found = {k: _unscored(v) for k, v in view.items() if k not in ("score", "rank")}
        if isinstance(found.get("results"), list):
            found["results"] = sorted(found["results"], key=json.dumps)
        return found
    if isinstance(view, list):
        return [_unscored(v) for v in view]
    return view


# --- the move -------------------------------------------------------------------------


@backend.sqlite_only("the source roost is a SQLite file")
async def test_a_sqlite_roost_moves_to_postgresql_losslessly(
    settings: Settings,
    roost_home: Path,
    run_roost: RunRoost,
    serving: Serving,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    filled = await fill(settings)
    source = _sqlite_url(roost_home)
    before = await table_rows(source)
    assert all(before[name] for name in ("users", "api_keys", "messages", "agent_passages"))
    assert all(before[name] for name in ("inbox", "roles", "memory_files", "agent_library"))

    dump = tmp_path / "roost.jsonl"
    exported = run_roost("db", "export", "--output", str(dump))
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    header = json.loads(dump.read_text().splitlines()[0])
    assert header["schema_revision"] == HEAD_REVISION
    assert header["source"] == "sqlite"

    with fresh_pg_database() as pg:
        imported = run_roost("db", "import", str(dump), "--database-url", pg)
        assert imported.returncode == 0, imported.stderr
        total = sum(len(rows) for rows in before.values())
        assert f"Imported {total} rows" in imported.stdout
        after = await table_rows(pg)
        for name, rows in before.items():  # table by table, for a readable failure
            assert after[name] == rows, name
        assert (
            await scalar(
                pg,
                "SELECT count(*) FROM agent_passages WHERE tsv @@ "
                "to_tsquery('simple', 'wavelength')",
            )
            == 1
        )
        checked = run_roost("db", "check", "--database-url", pg)
        assert checked.returncode == 0, checked.stderr

        # And back: PostgreSQL's export loads into SQLite with the very same rows.
        back = tmp_path / "back.jsonl"
        assert run_roost("db", "export", "-o", str(back), "--database-url", pg).returncode == 0
        assert json.loads(back.read_text().splitlines()[0])["source"] == "postgresql"
        copy = f"sqlite+aiosqlite:///{tmp_path / 'back' / 'roost.db'}"
        returned = run_roost("db", "import", str(back), "--database-url", copy)
        assert returned.returncode == 0, returned.stderr
        assert await table_rows(copy) == before

        monkeypatch.setenv("ROOST_DATABASE_URL", pg)
        monkeypatch.setenv("ROOST_SERVER_PASS", ADMIN_PASSWORD)
        with serving() as server:
            _same_answers(server.url, filled)
            _still_writable(server.url, filled)


def _same_answers(base: str, filled: Filled) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for who, path in view_paths(filled):
            response = client.get(path, headers=headers(filled, who))
            assert response.status_code == 200, (path, response.text)
            expected = filled.views[f"{who} {path}"]
            assert _unscored(response.json()) == _unscored(expected), path
        search = client.get("/api/search?q=lisbon", headers=headers(filled, "alice")).json()
        assert search["total"] > 0  # the tsvector index is there and filled
        refused = client.get("/api/status", headers={"X-API-Key": filled.revoked})
        assert refused.status_code == 401
        bob = client.get("/api/sessions", headers=headers(filled, "bob"))
        assert bob.status_code == 200


def _still_writable(base: str, filled: Filled) -> None:
    """New rows get new ids: the sequences were moved past the imported ones."""
    with httpx.Client(base_url=base, timeout=30) as client:
        role = client.post(
            "/api/kernel2/roles",
            json={"name": "Second", "system_prompt": "p"},
            headers=headers(filled, "alice"),
        )
        assert role.status_code == 201, role.text
        passage = client.post(
            f"/api/agents/{filled.agent}/archival",
            json={"content": "after the move"},
            headers=headers(filled, "admin"),
        )
        assert passage.status_code == 200, passage.text


@backend.sqlite_only("SQLite to SQLite")
async def test_sqlite_to_sqlite_round_trip_keeps_rows_and_search(
    settings: Settings, roost_home: Path, cli: Invoke, tmp_path: Path
) -> None:
    await fill(settings)
    dump = tmp_path / "roost.jsonl.gz"
    exported = await asyncio.to_thread(cli, "db", "export", "-o", str(dump))
    assert exported.exit_code == 0, exported.output
    with gzip.open(dump, "rt") as unpacked:
        assert unpacked.readline().startswith('{"format":"roost-export"')
    target = f"sqlite+aiosqlite:///{tmp_path / 'copy' / 'roost.db'}"
    imported = await asyncio.to_thread(cli, "db", "import", str(dump), "--database-url", target)
    assert imported.exit_code == 0, imported.output
    assert await table_rows(target) == await table_rows(_sqlite_url(roost_home))
    # The FTS5 tables were rebuilt from the rows: each finds what the original finds.
    for sql in (
        "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH 'purr'",
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'lisbon'",
        "SELECT count(*) FROM agent_passages_fts WHERE agent_passages_fts MATCH 'wavelength'",
    ):
        expected = await scalar(_sqlite_url(roost_home), sql)
        assert expected > 0
        assert await scalar(target, sql) == expected, sql
    source_next = await scalar(
        _sqlite_url(roost_home), "SELECT seq FROM sqlite_sequence WHERE name = 'inbox'"
    )
    assert await scalar(target, "SELECT seq FROM sqlite_sequence WHERE name = 'inbox'") == (
        source_next
    )


# --- migrate and check ----------------------------------------------------------------


def test_migrate_and_check_say_where_the_database_stands(cli: Invoke, blank_url: str) -> None:
    url = ("--database-url", blank_url)
    empty = cli("db", "check", *url)
    assert empty.exit_code == 4, empty.output
    assert "roost db migrate" in empty.output
    migrated = cli("db", "migrate", *url)
    assert migrated.exit_code == 0, migrated.output
    assert f"from none to {HEAD_REVISION}" in migrated.output
    ok = cli("db", "check", *url)
    assert ok.exit_code == 0, ok.output
    assert f"head revision {HEAD_REVISION}" in ok.output
    again = cli("db", "migrate", *url)
    assert again.exit_code == 0
    assert "already at head" in again.output

    _set_revision(blank_url, "0005")
    behind = cli("db", "check", *url)
    assert behind.exit_code == 4
    assert "behind head" in behind.output

    _set_revision(blank_url, "9999")
    newer = cli("db", "check", *url)
    assert newer.exit_code == 5
    assert "newer roost" in newer.output
    refused = cli("db", "migrate", *url)
    assert refused.exit_code == 5
    assert "newer roost" in refused.output
    assert _revision(blank_url) == "9999"  # nothing was touched

    _set_revision(blank_url, HEAD_REVISION)
    _execute(blank_url, "DROP INDEX ix_inbox_state_next_attempt_at")
    drifted = cli("db", "check", *url)
    assert drifted.exit_code == 5, drifted.output
    assert "ix_inbox_state_next_attempt_at" in drifted.output


def test_migrate_brings_an_old_database_with_data_to_head(cli: Invoke, blank_url: str) -> None:
    async def at_0005() -> None:
        from alembic import command

        from roost.storage.db import Database
        from roost.storage.migrate import alembic_config

        database = Database(blank_url, migrate=False)
        await database.connect()
        try:
            async with database.write() as conn:
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0005"))
                await conn.exec_driver_sql(
                    "INSERT INTO users (id, name, is_admin, created_at) "
                    "VALUES ('u1', 'old', false, '2025-01-01 00:00:00')"
                )
        finally:
            await database.close()

    asyncio.run(at_0005())
    behind = cli("db", "check", "--database-url", blank_url)
    assert behind.exit_code == 4
    assert "at revision 0005, behind head" in behind.output
    migrated = cli("db", "migrate", "--database-url", blank_url)
    assert migrated.exit_code == 0, migrated.output
    assert f"from 0005 to {HEAD_REVISION}" in migrated.output
    assert cli("db", "check", "--database-url", blank_url).exit_code == 0
    assert asyncio.run(scalar(blank_url, "SELECT name FROM users")) == "old"


def test_check_on_an_unreachable_or_missing_database(cli: Invoke, tmp_path: Path) -> None:
    closed = cli("db", "check", "--database-url", "postgresql+asyncpg://roost@127.0.0.1:9/x")
    assert closed.exit_code == 1
    assert "cannot reach the database server" in closed.output
    missing = tmp_path / "nowhere" / "roost.db"
    gone = cli("db", "check", "--database-url", f"sqlite:///{missing}")
    assert gone.exit_code == 4
    assert "no database at" in gone.output
    exported = cli("db", "export", "--database-url", f"sqlite:///{missing}")
    assert exported.exit_code == 1
    assert "no database at" in exported.output
    assert not missing.exists()  # reading commands do not create one
    bad = cli("db", "check", "--database-url", "mysql://x/y")
    assert bad.exit_code == 2
    assert "only sqlite and postgresql" in bad.output


def _execute(url: str, sql: str) -> None:
    async def go() -> None:
        from roost.storage.db import Database

        database = Database(url, migrate=False)
        await database.connect()
        try:
            async with database.write() as conn:
                await conn.exec_driver_sql(sql)
        finally:
            await database.close()

    asyncio.run(go())


def _set_revision(url: str, revision: str) -> None:
    _execute(url, f"UPDATE alembic_version SET version_num = '{revision}'")  # noqa: S608


def _revision(url: str) -> str:
    return str(asyncio.run(scalar(url, "SELECT version_num FROM alembic_version")))


# --- bad input ------------------------------------------------------------------------


@pytest.fixture
def dump(cli: Invoke, tmp_path: Path) -> Path:
    """An export of a small roost (a user, a key, a chat)."""
    assert cli("users", "create", "carol").exit_code == 0
    assert cli("keys", "create", "carol").exit_code == 0
    path = tmp_path / "small.jsonl"
    result = cli("db", "export", "-o", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_a_non_empty_target_is_refused_unless_replaced(
    cli: Invoke, dump: Path, blank_url: str
) -> None:
    url = ("--database-url", blank_url)
    assert cli("db", "import", str(dump), *url).exit_code == 0
    rows = asyncio.run(table_rows(blank_url))
    twice = cli("db", "import", str(dump), *url)
    assert twice.exit_code == 1
    assert "not empty" in twice.output
    assert "--replace" in twice.output
    assert asyncio.run(table_rows(blank_url)) == rows
    assert cli("users", "create", "dave").exit_code == 0  # the source moves on
    newer = dump.parent / "newer.jsonl"
    assert cli("db", "export", "-o", str(newer)).exit_code == 0
    replaced = cli("db", "import", str(newer), *url, "--replace")
    assert replaced.exit_code == 0, replaced.output
    names = {row[1] for row in asyncio.run(table_rows(blank_url))["users"]}
    assert names == {"default", "carol", "dave"}


def _broken(dump: Path, change: Callable[[list[str]], list[str]]) -> Path:
    lines = dump.read_text().splitlines()
    path = dump.parent / "broken.jsonl"
    path.write_text("".join(f"{line}\n" for line in change(lines)))
    return path


def _header(lines: list[str], **changes: Any) -> list[str]:
    return [json.dumps({**json.loads(lines[0]), **changes}), *lines[1:]]


def _bad_time(lines: list[str]) -> list[str]:
    users = lines.index(next(line for line in lines if line.startswith('{"table":"users"')))
    row = json.loads(lines[users + 1])
    row[-1] = "yesterday"
    return [*lines[: users + 1], json.dumps(row), *lines[users + 2 :]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: ["hello, world"], "not a JSON line"),
        (lambda lines: ['{"users": []}'], "not a roost export"),
        (lambda lines: _header(lines, schema_revision="9999"), "newer roost"),
        (lambda lines: _header(lines, schema_revision="0005"), "export again"),
        (lambda lines: _header(lines, format_version=99), "upgrade roost"),
        (lambda lines: lines[:-3], "ends early"),
        (lambda lines: [], "the file is empty"),
        (lambda lines: lines + lines, "more lines after the end"),
        (lambda lines: _header(lines, schema_revision=None), "no schema_revision"),
        (_bad_time, "not an ISO 8601 time"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(
    cli: Invoke,
    dump: Path,
    tmp_path: Path,
    change: Callable[[list[str]], list[str]],
    message: str,
) -> None:
    target = tmp_path / "target" / "roost.db"
    url = f"sqlite+aiosqlite:///{target}"
    broken = _broken(dump, change)
    result = cli("db", "import", str(broken), "--database-url", url)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    if target.exists():  # only a file that got past its header was opened at all
        assert all(not rows for rows in asyncio.run(table_rows(url)).values())


def test_a_missing_file_is_reported(cli: Invoke, tmp_path: Path) -> None:
    result = cli("db", "import", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1
    assert "No such file" in result.output
    assert "Traceback" not in result.output


def test_a_bad_file_changes_nothing_on_postgresql(cli: Invoke, dump: Path) -> None:
    with fresh_pg_database() as pg:
        cut = _broken(dump, lambda lines: lines[:-1])  # everything but the final line
        result = cli("db", "import", str(cut), "--database-url", pg)
        assert result.exit_code == 1
        assert "ends early" in result.output
        assert all(not rows for rows in asyncio.run(table_rows(pg)).values())
        assert cli("db", "import", str(dump), "--database-url", pg).exit_code == 0


@backend.sqlite_only("the source roost is a SQLite file")
def test_a_row_postgresql_cannot_store_is_named_and_nothing_lands(
    cli: Invoke, roost_home: Path, tmp_path: Path
) -> None:
    assert cli("users", "create", "carol").exit_code == 0
    # SQLite keeps a NUL character in text; PostgreSQL's text type cannot hold one.
    nul = "UPDATE users SET name = 'car' || char(0) || 'ol' WHERE name = 'carol'"
    _execute(_sqlite_url(roost_home), nul)
    path = tmp_path / "nul.jsonl"
    assert cli("db", "export", "-o", str(path)).exit_code == 0
    with fresh_pg_database() as pg:
        result = cli("db", "import", str(path), "--database-url", pg)
        assert result.exit_code == 1, result.output
        assert "table users: the target refused a row" in result.output
        assert all(not rows for rows in asyncio.run(table_rows(pg)).values())


def test_export_to_stdout_imports_from_stdin(cli: Invoke, dump: Path, tmp_path: Path) -> None:
    printed = cli("db", "export")
    assert printed.exit_code == 0
    assert printed.stdout == dump.read_text().replace(
        json.loads(dump.read_text().splitlines()[0])["exported_at"],
        json.loads(printed.stdout.splitlines()[0])["exported_at"],
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'piped' / 'roost.db'}"
    piped = cli("db", "import", "-", "--database-url", url, input=printed.stdout)
    assert piped.exit_code == 0, piped.output
