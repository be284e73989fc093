"""Alembic environment: migrations always run on a connection roost hands over.

roost.storage.migrate puts that connection in `config.attributes`; Database.connect()
calls it on every start, so there is no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context

from roost.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "roost migrations need a connection: use roost.storage.migrate.alembic_config(conn)"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
