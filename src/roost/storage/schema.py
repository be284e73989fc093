"""Where a database stands against this roost's migrations: `roost db check|migrate`.

`Database.connect()` migrates on its own; these look before anything is changed, so
that an operator (or a deploy script) can tell "behind, run the migrations" from "made
by a newer roost, do not touch" from "at head but altered by hand".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection, inspect

from roost.storage import migrate
from roost.storage.tables import include_name, metadata

# The keyword indexes that migrations 0003, 0007 and 0008 make in raw DDL, which the
# metadata comparison leaves out (tables.include_name); checked by name instead.
SQLITE_FTS_TABLES = ("memory_fts", "agent_passages_fts", "messages_fts")
PG_TSV_COLUMNS = (("memory_chunks", "tsv"), ("agent_passages", "tsv"), ("messages", "tsv"))

State = Literal["current", "empty", "behind", "unknown", "drifted"]


@dataclass(frozen=True)
class SchemaStatus:
    state: State
    revision: str | None  # what alembic_version says (None: no schema at all)
    head: str
    problems: list[str] = field(default_factory=list)  # for "drifted": what differs

    @property
    def ok(self) -> bool:
        return self.state == "current"

    def describe(self) -> str:
        shown = self.revision or "none"
        if self.state == "current":
            return f"database is at head revision {self.head} and its schema matches"
        if self.state == "empty":
            return f"database has no roost schema; run `roost db migrate` (head is {self.head})"
        if self.state == "behind":
            return (
                f"database is at revision {shown}, behind head {self.head}; run `roost db migrate`"
            )
        if self.state == "unknown":
            return (
                f"database is at revision {shown}, which this roost does not know (head is "
                f"{self.head}): it was migrated by a newer roost; upgrade roost, do not migrate"
            )
        listed = "; ".join(self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        return f"database is at revision {shown} but its schema differs: {listed}{more}"


def known_revisions() -> list[str]:
    """This roost's revisions, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def status(connection: Connection) -> SchemaStatus:
    """Compare the database on `connection` with this roost's head (read only)."""
    head = migrate.HEAD_REVISION
    revision = migrate.current_revision(connection)
    if revision is None:
        return SchemaStatus("empty", None, head)
    if revision != head:
        state: State = "behind" if revision in known_revisions() else "unknown"
        return SchemaStatus(state, revision, head)
    problems = _differences(connection)
    return SchemaStatus("drifted" if problems else "current", revision, head, problems)


def _differences(connection: Connection) -> list[str]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    opts = {"compare_type": True, "include_name": include_name}
    context = MigrationContext.configure(connection, opts=opts)
    problems = [_describe_diff(diff) for diff in compare_metadata(context, metadata)]
    inspector = inspect(connection)
    if connection.dialect.name == "sqlite":
        present = set(inspector.get_table_names())
        problems += [f"missing table {name}" for name in SQLITE_FTS_TABLES if name not in present]
    else:
        for table, column in PG_TSV_COLUMNS:
            names = {c["name"] for c in inspector.get_columns(table)}
            if column not in names:
                problems.append(f"missing column {table}.{column}")
    return problems


def _describe_diff(diff: object) -> str:
    # compare_metadata yields tuples like ("add_table", Table) or lists of column changes.
    if isinstance(diff, list):
        return ", ".join(_describe_diff(item) for item in diff)
    if isinstance(diff, tuple) and diff:
        action, *rest = diff
        named = [item if isinstance(item, str) else getattr(item, "name", None) for item in rest]
        subject = ".".join(n for n in named if isinstance(n, str))
        if action.startswith("add_"):
            return f"missing {action[4:]} {subject}".strip()
        if action.startswith("remove_"):
            return f"unexpected {action[7:]} {subject}".strip()
        if action.startswith("modify_"):
            # ("modify_type", schema, table, column, info, old, new)
            table, column = (rest[1], rest[2]) if len(rest) > 2 else ("?", "?")
            return f"{action[7:]} of {table}.{column} differs"
        return f"{action} {subject}".strip()
    return str(diff)
