"""The chat.nvim inbox: queued messages, and the inbox id on the messages that answer them.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here rather than imported from tables.py: a migration must not change later.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_inbox_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_inbox_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        # SQLite's AUTOINCREMENT: a deleted row's id is never handed out again.
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_inbox_conversation_id_state_id", "inbox", ["conversation_id", "state", "id"]
    )
    op.create_index("ix_inbox_user_id_state_id", "inbox", ["user_id", "state", "id"])
    op.create_index("ix_inbox_state_next_attempt_at", "inbox", ["state", "next_attempt_at"])
    op.add_column("messages", sa.Column("inbox_id", sa.Integer(), nullable=True))
    op.create_index("ix_messages_inbox_id_role", "messages", ["inbox_id", "role"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_messages_inbox_id_role", table_name="messages")
    with op.batch_alter_table("messages") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("inbox_id")
    op.drop_index("ix_inbox_state_next_attempt_at", table_name="inbox")
    op.drop_index("ix_inbox_user_id_state_id", table_name="inbox")
    op.drop_index("ix_inbox_conversation_id_state_id", table_name="inbox")
    op.drop_table("inbox")
