"""Vectors for hybrid memory search (each chunk's text hash, the embedding cache), and a
larger FTS5 buffer for bulk indexing.

The cache is keyed by (embedding model, text hash), so a chunk whose text is unchanged
(after an edit elsewhere in its file, or in another file) is never embedded twice. The
KNN index itself (a sqlite-vec vec0 table) is derived from this cache and made at run
time, when the embedding model's dimension is known; see storage/memory_vectors.py.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


# FTS5 buffers new terms in memory and writes a segment when the buffer passes this size
# (default 1 MiB). A 50 MB workspace then makes hundreds of small segments that must be
# merged again; with 16 MiB the full index runs about twice as fast (measured with
# benchmarks/memory_index.py) for at most that much memory while indexing.
_FTS_HASHSIZE = 16 << 20
_SET_HASHSIZE = "INSERT INTO memory_fts(memory_fts, rank) VALUES ('hashsize', {})"


def upgrade() -> None:
    # Nullable: rows indexed before this revision get theirs when their file is
    # re-chunked (the indexer's content salt changed with this revision, so all are).
    # A plain ADD COLUMN (no batch copy): memory_chunks carries FTS5 triggers.
    op.add_column("memory_chunks", sa.Column("text_hash", sa.String(64), nullable=True))
    op.create_table(
        "memory_embeddings",
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_hash", name="pk_memory_embeddings"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SET_HASHSIZE.format(_FTS_HASHSIZE))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SET_HASHSIZE.format(1 << 20))  # SQLite's default
    op.drop_table("memory_embeddings")
    op.drop_column("memory_chunks", "text_hash")
