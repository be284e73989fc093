"""Replica coordination: the leases table, the replica that claimed an inbox message, and
tool approvals that any replica can answer.

Revision ID: 0009
Revises: 0008
Create Date: 2025-01-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_index("ix_leases_holder_expires_at", "leases", ["holder", "expires_at"])
    op.add_column("inbox", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_approvals_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_user_id_created_at", "approvals", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_approvals_user_id_created_at", table_name="approvals")
    op.drop_table("approvals")
    with op.batch_alter_table("inbox") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("claimed_by")
    op.drop_index("ix_leases_holder_expires_at", table_name="leases")
    op.drop_table("leases")
