"""MemGPT-compatible agents: agents with core memory, their messages (recall memory),
archival passages with a keyword index, and each user's humans, personas, presets and
tool registrations.

The archival index is built like the memory index of 0003: an FTS5 table on SQLite
(kept in step by triggers: passages are inserted one at a time, so an insert trigger
costs nothing here), a generated tsvector column with a GIN index on PostgreSQL.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here rather than imported from tables.py: a migration must not change later.
_TS = sa.DateTime(timezone=True)

_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE agent_passages_fts USING fts5(
        text, content='agent_passages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER agent_passages_ai AFTER INSERT ON agent_passages BEGIN
        INSERT INTO agent_passages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER agent_passages_ad AFTER DELETE ON agent_passages BEGIN
        INSERT INTO agent_passages_fts(agent_passages_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER agent_passages_au AFTER UPDATE ON agent_passages BEGIN
        INSERT INTO agent_passages_fts(agent_passages_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
        INSERT INTO agent_passages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]

# The same tokenisation as memory_chunks.tsv (0003): 'simple', ASCII punctuation as spaces.
_TSV = "to_tsvector('simple', regexp_replace(text, '[!-/:-@[-`{-~]', ' ', 'g'))"
_PG_TSV = [
    f"ALTER TABLE agent_passages ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({_TSV}) STORED",
    "CREATE INDEX ix_agent_passages_tsv ON agent_passages USING gin (tsv)",
]


def _child(name: str, *columns: sa.Column[object]) -> None:
    """A table owned by an agent through the (agent_id, user_id) key."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        *columns,
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id", "user_id"],
            ["agents.id", "agents.user_id"],
            name=f"fk_{name}_agent_id_agents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("public_id", name=f"uq_{name}_public_id"),
    )
    op.create_index(f"ix_{name}_agent_id_id", name, ["agent_id", "id"])


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("preset", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("persona", sa.Text(), nullable=False),
        sa.Column("human", sa.Text(), nullable=False),
        sa.Column("persona_name", sa.String(100), nullable=True),
        sa.Column("human_name", sa.String(100), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("context_from", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("last_run_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_agents_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("public_id", name="uq_agents_public_id"),
        sa.UniqueConstraint("id", "user_id", name="uq_agents_id_user_id"),
    )
    op.create_index("ix_agents_user_id", "agents", ["user_id"])
    _child(
        "agent_messages",
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("tool_call_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
    )
    _child("agent_passages", sa.Column("text", sa.Text(), nullable=False))
    op.create_table(
        "agent_library",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_agent_library_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agent_library"),
        sa.UniqueConstraint("public_id", name="uq_agent_library_public_id"),
        sa.UniqueConstraint("user_id", "kind", "name", name="uq_agent_library_user_id_kind_name"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_FTS if dialect == "sqlite" else _PG_TSV:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("agent_passages_au", "agent_passages_ad", "agent_passages_ai"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE agent_passages_fts")
    op.drop_table("agent_library")
    op.drop_table("agent_passages")
    op.drop_table("agent_messages")
    op.drop_table("agents")
