"""`roost db migrate|check|export|import`: the database itself, no server needed.

Every command works on the configured database (`database_url`, or SQLite in
ROOST_HOME) unless `--database-url` names another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, cast

import typer

from roost.cli.errors import EXIT_ERROR, fail, reports_errors
from roost.config import load_settings

if TYPE_CHECKING:
    from roost.storage.db import Database
    from roost.storage.schema import SchemaStatus

app = typer.Typer(
    help="Migrate, check, export and import the database (no server needed).",
    no_args_is_help=True,
)

EXIT_BEHIND = 4  # `roost db migrate` fixes it
EXIT_MISMATCH = 5  # a newer roost's database, or a schema changed by hand: do not touch

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The database to work on (default: the configured one). A password here is "
        "visible to other local users; prefer ROOST_DATABASE_URL.",
        show_default=False,
    ),
]


def _url(given: str | None) -> str:
    return given or load_settings().db_url


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for PostgreSQL or a `file:` URI)."""
    from roost.storage.db import async_url

    parsed = async_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database.startswith("file:"):
        return None
    return Path(database)


def _require_existing(url: str) -> None:
    """Reading commands must not create an empty SQLite file where none was."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        fail(f"no database at {path} (nothing to read; `roost db migrate` creates one)")


@contextlib.asynccontextmanager
async def _opened(url: str) -> AsyncIterator[Database]:
    from roost.storage.db import Database

    database = Database(url, migrate=False)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def _status(database: Database) -> SchemaStatus:
    from roost.storage import schema

    async with database.read() as conn:
        return await conn.run_sync(schema.status)


@app.command()
@reports_errors
def migrate(database_url: UrlOption = None) -> None:
    """Bring the database to this roost's schema (run before starting upgraded servers)."""
    from roost.storage import migrate as migrations

    url = _url(database_url)

    async def go() -> tuple[str, SchemaStatus, SchemaStatus]:
        async with _opened(url) as database:
            before = await _status(database)
            if before.state in ("empty", "behind"):
                async with database.write() as conn:
                    await conn.run_sync(migrations.upgrade)
                return database.url, before, await _status(database)
            return database.url, before, before

    shown, before, after = asyncio.run(go())
    if before.state == "unknown":
        fail(before.describe(), EXIT_MISMATCH)
    if before is after:
        if after.ok:
            typer.echo(f"Database {shown} is already at head revision {after.head}.")
            return
        fail(after.describe(), EXIT_MISMATCH)
    typer.echo(f"Migrated database {shown} from {before.revision or 'none'} to {after.revision}.")
    if not after.ok:
        fail(after.describe(), EXIT_MISMATCH)


@app.command()
@reports_errors
def check(database_url: UrlOption = None) -> None:
    """Exit 0 when the database is at head and its schema matches; otherwise say why.

    Exit codes: 4 behind or empty (run `roost db migrate`), 5 made by a newer roost or
    changed by hand, 1 unreachable, 2 bad settings.
    """
    url = _url(database_url)
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        fail(f"no database at {path}: run `roost db migrate`", EXIT_BEHIND)

    async def go() -> tuple[str, SchemaStatus]:
        async with _opened(url) as database:
            return database.url, await _status(database)

    shown, status = asyncio.run(go())
    if status.ok:
        typer.echo(f"{shown}: {status.describe()}.")
        return
    code = EXIT_BEHIND if status.state in ("empty", "behind") else EXIT_MISMATCH
    fail(f"{shown}: {status.describe()}", code)


@app.command("export")
@reports_errors
def export(
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="File to write ('-': stdout). A name ending in .gz is gzipped."
        ),
    ] = "-",
    database_url: UrlOption = None,
) -> None:
    """Write the whole database as JSON Lines (a header names its schema revision).

    Users, API key hashes, conversations, messages, roles, agents with their memory and
    archival passages, the inbox, the memory index and the MemGPT library: everything
    except indexes that are rebuilt from it. The workspace files are not in the
    database; copy ROOST_HOME/workspace* alongside. The file is private (mode 600).
    """
    from roost.storage.dump import export_database

    url = _url(database_url)
    _require_existing(url)

    async def go(out: IO[str]) -> tuple[str, int, int, str]:
        async with _opened(url) as database:
            summary = await export_database(database, out)
            return database.url, summary.total, len(summary.rows), summary.revision

    with _output(output) as out:
        shown, rows, tables, revision = asyncio.run(go(out))
    where = "stdout" if output == "-" else output
    typer.echo(
        f"Exported {rows} rows from {tables} tables of {shown} (revision {revision}) to {where}.",
        err=True,
    )


@app.command("import")
@reports_errors
def import_(
    source: Annotated[str, typer.Argument(help="An export file ('-': stdin; .gz is read too).")],
    database_url: UrlOption = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete every row of a non-empty target first.")
    ] = False,
) -> None:
    """Load an export into an empty database (made and migrated if it has no schema).

    Ids, public ids and timestamps stay as they were, so keys keep authenticating and
    links keep working. It is one transaction: on any error the target is left as it was.
    """
    from roost.storage import migrate as migrations
    from roost.storage.dump import DumpReader, import_database

    url = _url(database_url)
    with _input(source) as stream:
        reader = DumpReader(stream, "stdin" if source == "-" else source)
        header = reader.header()  # a wrong file fails here, before the target is opened

        async def go() -> tuple[str, int, int]:
            async with _opened(url) as database:
                status = await _status(database)
                if status.state == "empty":
                    async with database.write() as conn:
                        await conn.run_sync(migrations.upgrade)
                elif not status.ok:
                    fail(f"target {database.url}: {status.describe()}", EXIT_ERROR)
                summary = await import_database(database, reader, header, replace=replace)
                return database.url, summary.total, len(summary.rows)

        shown, rows, tables = asyncio.run(go())
    typer.echo(f"Imported {rows} rows into {tables} tables of {shown}.")


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """stdout, or a private temporary file that replaces `path` only once complete."""
    if path == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            yield out
            out.flush()
        finally:
            out.detach()  # leave sys.stdout open for whoever prints next
        return
    target = Path(path).expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    # mkstemp makes it 0600: the export holds every conversation and key hash.
    try:
        with os.fdopen(fd, "wb") as raw:
            packed = (
                cast("IO[bytes]", gzip.GzipFile(filename=target.name, mode="wb", fileobj=raw))
                if target.suffix == ".gz"
                else raw
            )
            out = io.TextIOWrapper(packed, encoding="utf-8", newline="\n")
            yield out
            out.detach()  # flushes; closing would close `raw` too early
            if packed is not raw:
                packed.close()  # writes the gzip trailer; leaves `raw` open
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _input(path: str) -> Iterator[IO[str]]:
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        opened = False
    else:
        raw = open(Path(path).expanduser(), "rb")  # noqa: SIM115  # closed below
        opened = True
    try:
        peek = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        stream = cast("IO[bytes]", gzip.GzipFile(fileobj=raw)) if peek == b"\x1f\x8b" else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
        try:
            yield text
        finally:
            text.detach()
    finally:
        if opened:
            raw.close()
