"""Full-text search over messages, for the browser UI's sidebar search.

Same recipe as 0003's memory index: SQLite gets an external-content FTS5 table kept in
step by triggers, PostgreSQL a generated tsvector column with a GIN index (see 0003 for
why 'simple' and why ASCII punctuation becomes spaces first). Existing messages are
indexed by the migration itself.

Revision ID: 0008
Revises: 0007
Create Date: 2025-01-08
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# Messages arrive one at a time, so an insert trigger costs nothing worth batching.
_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    """CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
]

_TSV = "to_tsvector('simple', regexp_replace(content, '[!-/:-@[-`{-~]', ' ', 'g'))"
_PG_TSV = [
    f"ALTER TABLE messages ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({_TSV}) STORED",
    "CREATE INDEX ix_messages_tsv ON messages USING gin (tsv)",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_FTS if dialect == "sqlite" else _PG_TSV:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("messages_fts_au", "messages_fts_ad", "messages_fts_ai"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE messages_fts")
    else:
        op.execute("DROP INDEX ix_messages_tsv")
        op.execute("ALTER TABLE messages DROP COLUMN tsv")
