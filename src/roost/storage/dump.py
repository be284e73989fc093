"""`roost db export|import`: the whole database, losslessly, between SQLite and PostgreSQL.

The tables are the SQLAlchemy metadata's, parents first, so a table a later migration
adds is exported with no change here. Left out, because they are derived and rebuilt:
SQLite's FTS5 keyword tables (and their shadow tables), rebuilt from the rows at the
end of an import; PostgreSQL's generated `tsv` columns, computed by the server as rows
go in; sqlite-vec's `memory_vec_*` KNN tables, rebuilt from `memory_embeddings` at run
time; `alembic_version`, which the header carries. Rows keep their ids, public ids and
timestamps; id sequences are set past the highest id (and past the source's own
counter, so an id freed by a delete is not handed out again).

Both directions stream in batches, so memory stays bounded however big the tables are.
An import is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Table, column, delete, func, insert, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from roost import __version__
from roost.core.clock import utcnow
from roost.core.errors import Conflict, InvalidRequest, RoostError
from roost.storage import migrate
from roost.storage.db import Database
from roost.storage.dump_format import FORMAT, FORMAT_VERSION, RowError, codec, dumps, same
from roost.storage.schema import SQLITE_FTS_TABLES, known_revisions
from roost.storage.tables import metadata

BATCH = 500

# Metadata tables deliberately not exported, with the reason (none so far: every table
# holds data someone would miss). The derived tables above are not in the metadata.
NOT_EXPORTED: dict[str, str] = {}


class ExportWriteError(RoostError):
    """The output could not be written (full disk, closed pipe)."""


def exported_tables() -> list[Table]:
    return [t for t in metadata.sorted_tables if t.name not in NOT_EXPORTED]


@dataclass
class DumpSummary:
    revision: str
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# --- export ---------------------------------------------------------------------------


def _emit(out: IO[str], line: str) -> None:
    try:
        out.write(line + "\n")
    except OSError as exc:  # not the database's fault: keep it out of translate_errors
        raise ExportWriteError(f"cannot write the export: {exc.strerror or exc}") from None


async def export_database(database: Database, out: IO[str]) -> DumpSummary:
    """Write every exported table of `database` (at head) to `out` from one snapshot."""
    async with database.read() as conn:
        if database.dialect == "postgresql":
            # One consistent snapshot across all tables, as on SQLite.
            await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        revision = await conn.run_sync(migrate.current_revision)
        if revision != migrate.HEAD_REVISION:
            raise Conflict(
                f"the database is at revision {revision or 'none'}, not at head "
                f"{migrate.HEAD_REVISION}: run `roost db migrate` first"
            )
        tables = exported_tables()
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": revision,
            "roost_version": __version__,
            "source": database.dialect,
            "exported_at": utcnow().isoformat(timespec="microseconds"),
            "tables": [t.name for t in tables],
            "sequences": await _read_sequences(conn, tables),
        }
        _emit(out, dumps(header))
        summary = DumpSummary(revision)
        for tbl in tables:
            summary.rows[tbl.name] = await _export_table(conn, tbl, out)
        _emit(out, dumps({"end": FORMAT, "tables": len(tables), "rows": summary.total}))
    return summary


async def _export_table(conn: AsyncConnection, tbl: Table, out: IO[str]) -> int:
    codecs = [codec(c) for c in tbl.columns]
    _emit(out, dumps({"table": tbl.name, "columns": [c.name for c in codecs]}))
    query = select(*[c.select for c in codecs]).order_by(*tbl.primary_key.columns)
    result = await conn.stream(query.execution_options(yield_per=BATCH))
    # Most columns go out as they come; convert only the others (times, bytes).
    converted = [(i, c.encode) for i, c in enumerate(codecs) if c.encode is not same]
    count = 0
    async for rows in result.partitions():
        lines = []
        for row in rows:
            values = list(row)
            try:
                for i, encode in converted:
                    values[i] = encode(values[i])
            except RowError as exc:
                raise InvalidRequest(f"{tbl.name}: {exc}") from None
            lines.append(dumps(values))
        _emit(out, "\n".join(lines))
        count += len(rows)
    _emit(out, dumps({"end": tbl.name, "rows": count}))
    return count


async def _read_sequences(conn: AsyncConnection, tables: list[Table]) -> dict[str, int]:
    """The next id each id counter would hand out, where that is more than max(id) + 1."""
    found: dict[str, int] = {}
    if conn.dialect.name == "sqlite":
        exists = await conn.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        )
        if exists:
            names = {t.name for t in tables}
            for name, seq in await conn.execute(text("SELECT name, seq FROM sqlite_sequence")):
                if name in names:
                    found[name] = int(seq) + 1
        return found
    for tbl in tables:
        key = tbl.autoincrement_column
        if key is None:
            continue
        sequence = await conn.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": tbl.name, "c": key.name}
        )
        if sequence is None:
            continue
        # The name comes quoted from PostgreSQL itself; it cannot be bound.
        query = text(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
        row = (await conn.execute(query)).one()
        found[tbl.name] = int(row[0]) + 1 if row[1] else int(row[0])
    return found


# --- import ---------------------------------------------------------------------------


class DumpReader:
    """Reads an export line by line; every complaint names the line."""

    def __init__(self, source: IO[str], name: str) -> None:
        self._lines = iter(source)
        self._name = name
        self.line = 0

    def fail(self, message: str) -> InvalidRequest:
        return InvalidRequest(f"{self._name}: line {self.line}: {message}")

    def _raw(self) -> str | None:
        """The next line, None at the end; read errors become InvalidRequest (an OSError
        would pass for a database failure inside the import's transaction)."""
        try:
            raw = next(self._lines)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise self.fail("not UTF-8 text: not a roost export") from None
        except (OSError, EOFError) as exc:  # a damaged .gz, a read error
            raise self.fail(f"cannot read: {exc}") from None
        self.line += 1
        return raw

    def next(self) -> Any:
        raw = self._raw()
        if raw is None:
            if self.line == 0:
                raise self.fail("the file is empty: not a roost export")
            raise self.fail("the file ends early (cut off?)")
        try:
            return json.loads(raw)
        except ValueError:
            raise self.fail("not a JSON line: not a roost export (or damaged)") from None

    def header(self) -> dict[str, Any]:
        """Read and check the first line, before anything touches the target."""
        head = self.next()
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise self.fail("not a roost export (no roost-export header)")
        version = head.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise self.fail(
                f"export format version {version} is newer than this roost's "
                f"({FORMAT_VERSION}): upgrade roost"
            )
        revision = head.get("schema_revision")
        if not isinstance(revision, str):
            raise self.fail("bad header: no schema_revision")
        if revision != migrate.HEAD_REVISION:
            if revision in known_revisions():
                raise self.fail(
                    f"the export is at schema revision {revision}, this roost is at "
                    f"{migrate.HEAD_REVISION}: import it with the roost that made it, run "
                    "`roost db migrate` there, and export again"
                )
            raise self.fail(
                f"the export is at schema revision {revision}, which this roost does not "
                f"know (head is {migrate.HEAD_REVISION}): it was made by a newer roost"
            )
        if not isinstance(head.get("sequences", {}), dict):
            raise self.fail("bad header: sequences")
        return head

    def end(self) -> None:
        """Nothing may follow the final line (two exports glued together, say)."""
        while (raw := self._raw()) is not None:
            if raw.strip():
                raise self.fail("more lines after the end of the export")


async def import_database(
    database: Database, reader: DumpReader, header: dict[str, Any], *, replace: bool
) -> DumpSummary:
    """Load an export (header already read) into `database`, which must be at head."""
    tables = {t.name: t for t in exported_tables()}
    summary = DumpSummary(migrate.HEAD_REVISION)
    async with database.write() as conn:
        await _make_room(conn, list(tables.values()), replace=replace)
        while True:
            start = reader.next()
            if isinstance(start, dict) and start.get("end") == FORMAT:
                break
            if not isinstance(start, dict) or not isinstance(start.get("table"), str):
                raise reader.fail("expected a table header")
            name = start["table"]
            if name not in tables:
                raise reader.fail(f"unknown table {name!r} (not in this roost's schema)")
            if name in summary.rows:
                raise reader.fail(f"table {name} appears twice")
            summary.rows[name] = await _import_table(conn, reader, tables[name], start)
        missing = sorted(set(tables) - set(summary.rows))
        if missing:
            raise reader.fail(f"the export has no block for table(s) {', '.join(missing)}")
        if start.get("rows") != summary.total:
            raise reader.fail("the row count at the end does not match the rows read")
        reader.end()
        await _fix_sequences(conn, list(tables.values()), header.get("sequences", {}))
        if conn.dialect.name == "sqlite":
            await _rebuild_fts(conn)
    return summary


async def _rebuild_fts(conn: AsyncConnection) -> None:
    """Reindex every FTS5 table from its content table (not all have insert triggers).

    Found in sqlite_master rather than listed, so that one a later migration adds is
    rebuilt too; the names come from SQLite's catalogue, not from the file.
    """
    found = await conn.execute(
        text(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND lower(sql) LIKE 'create virtual table % using fts5%'"
        )
    )
    names = [row[0] for row in found]
    missing = set(SQLITE_FTS_TABLES) - set(names)
    if missing:  # the schema check ran before; this is a second line of defence
        raise Conflict(f"the target lacks its keyword tables {sorted(missing)}")
    for fts in names:
        await conn.exec_driver_sql(f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')')  # noqa: S608


async def _make_room(conn: AsyncConnection, tables: list[Table], *, replace: bool) -> None:
    counts = {t.name: await conn.scalar(select(func.count()).select_from(t)) for t in tables}
    filled = {name: n for name, n in counts.items() if n}
    if not filled:
        return
    if not replace:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in filled.items())
        raise Conflict(
            f"the target database is not empty: {listed}; import into an empty database, "
            "or pass --replace to delete all of its rows first"
        )
    for tbl in reversed(tables):  # children first
        await conn.execute(delete(tbl))


async def _import_table(
    conn: AsyncConnection, reader: DumpReader, tbl: Table, start: dict[str, Any]
) -> int:
    names = start.get("columns")
    expected = {c.name for c in tbl.columns}
    if not isinstance(names, list) or sorted(map(str, names)) != sorted(expected):
        raise reader.fail(f"table {tbl.name}: the columns differ from this roost's schema")
    codecs = [codec(tbl.c[n]) for n in names]
    target = table(tbl.name, *[column(c.name, c.bind_type) for c in codecs])
    statement = insert(target)
    batch: list[dict[str, Any]] = []
    count = 0
    while True:
        row = reader.next()
        if isinstance(row, dict):
            if row.get("end") != tbl.name:
                raise reader.fail(f"table {tbl.name}: expected a row or its end line")
            break
        if not isinstance(row, list) or len(row) != len(codecs):
            raise reader.fail(f"table {tbl.name}: a row must be a list of {len(codecs)} values")
        try:
            batch.append({c.name: c.decode(v) for c, v in zip(codecs, row, strict=True)})
        except RowError as exc:
            raise reader.fail(f"table {tbl.name}: {exc}") from None
        count += 1
        if len(batch) >= BATCH:
            await _insert(conn, statement, batch, tbl.name, reader)
            batch = []
    if batch:
        await _insert(conn, statement, batch, tbl.name, reader)
    if row.get("rows") != count:
        raise reader.fail(
            f"table {tbl.name}: {count} rows read, the end line says {row.get('rows')}"
        )
    return count


async def _insert(
    conn: AsyncConnection,
    statement: Any,
    batch: list[dict[str, Any]],
    name: str,
    reader: DumpReader,
) -> None:
    try:
        await conn.execute(statement, batch)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        # A constraint or a value the target refuses (PostgreSQL takes no NUL in text).
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise reader.fail(f"table {name}: the target refused a row: {reason}") from None


def _sequence_floor(sequences: dict[str, Any], name: str) -> int:
    value = sequences.get(name, 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


async def _fix_sequences(conn: AsyncConnection, tables: list[Table], sequences: Any) -> None:
    """Point every id counter past the imported ids (explicit ids do not move them)."""
    for tbl in tables:
        key = tbl.autoincrement_column
        if key is None:
            continue
        floor = _sequence_floor(sequences, tbl.name)
        if conn.dialect.name == "postgresql":
            key_column = tbl.c[key.name]
            top = select(func.coalesce(func.max(key_column), 0)).scalar_subquery()
            sequence = func.pg_get_serial_sequence(tbl.name, key.name)
            await conn.execute(select(func.setval(sequence, func.greatest(top + 1, floor), False)))
        elif tbl.dialect_options["sqlite"].get("autoincrement"):
            # AUTOINCREMENT tables keep their counter in sqlite_sequence; others use max+1.
            top = await conn.scalar(select(func.max(tbl.c[key.name])))
            seq = max((top or 0), floor - 1)
            params = {"t": tbl.name, "seq": seq}
            await conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), params)
            await conn.execute(
                text("INSERT INTO sqlite_sequence(name, seq) VALUES (:t, :seq)"), params
            )
