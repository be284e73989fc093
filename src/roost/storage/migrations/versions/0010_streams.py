"""Resumable streams: each turn's stream events, kept for a while after the turn ends.

Revision ID: 0010
Revises: 0008
Create Date: 2025-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here rather than imported from tables.py: a migration must not change later.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_streams_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_streams"),
    )
    op.create_index("ix_streams_ended_at", "streams", ["ended_at"])
    op.create_index("ix_streams_created_at", "streams", ["created_at"])
    op.create_index(
        "ix_streams_user_id_session_id_created_at",
        "streams",
        ["user_id", "session_id", "created_at"],
    )
    op.create_table(
        "stream_events",
        sa.Column("stream_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["streams.id"],
            name="fk_stream_events_stream_id_streams",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stream_id", "seq", name="pk_stream_events"),
    )


def downgrade() -> None:
    op.drop_table("stream_events")
    op.drop_index("ix_streams_user_id_session_id_created_at", table_name="streams")
    op.drop_index("ix_streams_created_at", table_name="streams")
    op.drop_index("ix_streams_ended_at", table_name="streams")
    op.drop_table("streams")
