"""Run the Alembic migrations from code: no alembic.ini on disk, no CLI needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every roost process.
_PG_MIGRATION_LOCK = 0x726F6F7374


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config for `alembic.command.*`; env.py runs on the connection given here."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> None:
    """Bring the schema to head inside the caller's transaction."""
    if connection.dialect.name == "postgresql":
        # Replicas starting together must not race to create the same tables.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
    command.upgrade(alembic_config(connection), "head")
