"""Table definitions. Migrations in `migrations/versions` must produce exactly these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

# Named constraints, so later migrations can alter them on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out.

    SQLite has no timezone type and hands back naive values; storing UTC and re-attaching
    it on the way out keeps every datetime aware and keeps text ordering chronological.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: use roost.core.clock.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("public_id", String(200), nullable=False),
    Column("title", String(500), nullable=False),
    Column("model", String(200), nullable=True),
    Column("system_prompt", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "public_id"),
    # Serves "this user's conversations, most recently active first".
    Index("ix_conversations_user_id_updated_at", "user_id", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),
    Column("role", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("reasoning", Text, nullable=True),
    Column("tool_calls", JSON, nullable=False, default=list, server_default=text("'[]'")),
    Column("model", String(200), nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The inbox message this row stores (role user) or answers (role assistant).
    Column("inbox_id", Integer, nullable=True),
    # Also the index for "messages of a conversation in order" and for counting them.
    UniqueConstraint("conversation_id", "seq"),
    # A queued message is stored once and answered once, whatever crashes in between.
    Index("ix_messages_inbox_id_role", "inbox_id", "role", unique=True),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("content", Text, nullable=False),
    Column("state", String(16), nullable=False),  # queued | delivering | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The replica delivering it: its claim lasts while that replica holds a live lease.
    Column("claimed_by", String(200), nullable=True),
    # The worker's "oldest open message of this session" and the per-user listings.
    Index("ix_inbox_conversation_id_state_id", "conversation_id", "state", "id"),
    Index("ix_inbox_user_id_state_id", "user_id", "state", "id"),
    Index("ix_inbox_state_next_attempt_at", "state", "next_attempt_at"),
    # Ids are never reused, even after a delete: messages carry them as inbox_id.
    sqlite_autoincrement=True,
)

# Coordination between replicas: one row per held lease ("conversation:12", "agent:3",
# "heartbeat:<user>", "replica:<holder>"); expired rows may be taken over by anyone.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # "Does this holder still hold anything?": whether its inbox claims are still alive.
    Index("ix_leases_holder_expires_at", "holder", "expires_at"),
)

# Tool calls waiting for the user's approval, so that an answer sent to any replica
# reaches the turn waiting on another (it polls its row).
approvals = Table(
    "approvals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("call_id", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("approved", Boolean, nullable=True),  # None until answered
    Index("ix_approvals_user_id_created_at", "user_id", "created_at"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Unique across users, not per user: kernel2 chat names a role by this id alone.
    Column("public_id", String(32), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("enable_l0_retrieval", Boolean, nullable=False),
    Column("enable_l1_retrieval", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Also the index for "this user's roles".
    UniqueConstraint("user_id", "name"),
)

memory_files = Table(
    "memory_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),  # relative to the workspace, "/" separators
    Column("content_hash", String(128), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("indexed_at", UTCDateTime, nullable=False),
    # Also the index for "this user's files".
    UniqueConstraint("user_id", "path"),
    # The target of memory_chunks' two-column key.
    UniqueConstraint("id", "user_id"),
)

memory_chunks = Table(
    "memory_chunks",
    metadata,
    # SQLite: an INTEGER PRIMARY KEY is the rowid, which the FTS5 index refers to.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_id", Integer, nullable=False),
    # Denormalised so that search filters hits without a join; the key below makes the
    # database guarantee that it always equals the file's owner.
    Column("user_id", String(36), nullable=False),
    Column("line_start", Integer, nullable=False),
    Column("line_end", Integer, nullable=False),
    Column("text", Text, nullable=False),
    # sha256 of the text: the embedding cache's key (null for rows from before 0004).
    Column("text_hash", String(64), nullable=True),
    ForeignKeyConstraint(
        ["file_id", "user_id"], ["memory_files.id", "memory_files.user_id"], ondelete="CASCADE"
    ),
    # Replacing or removing a file (and the cascade) finds its chunks by file_id.
    Index("ix_memory_chunks_file_id", "file_id"),
)

# Vectors by embedding model and chunk text hash: computed once, reused for every chunk
# with that text. SQLite's vec0 KNN tables are built from it at run time; PostgreSQL
# searches it directly (storage/memory_vectors_pg.py).
memory_embeddings = Table(
    "memory_embeddings",
    metadata,
    Column("model", String(300), primary_key=True),
    Column("text_hash", String(64), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # little-endian float32
)

# MemGPT-compatible agents (migration 0007). The persona and human blocks of core memory
# live on the agent row; recall memory is the agent's message transcript; archival
# passages get their own keyword index (raw DDL, below).
agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # A UUID, unique across users: MemGPT routes name an agent by this id alone.
    Column("public_id", String(36), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("preset", String(100), nullable=False),
    Column("model", String(200), nullable=True),
    Column("system", Text, nullable=False),
    Column("persona", Text, nullable=False),
    Column("human", Text, nullable=False),
    Column("persona_name", String(100), nullable=True),
    Column("human_name", String(100), nullable=True),
    Column("tools", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    # What older, evicted messages said; the prompt carries it instead of them.
    Column("summary", Text, nullable=True),
    # Messages with an id below this are out of the context window (still searchable).
    Column("context_from", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_run_at", UTCDateTime, nullable=True),
    # The target of the two-column keys below: a child row's owner is the agent's.
    UniqueConstraint("id", "user_id"),
)

agent_messages = Table(
    "agent_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("agent_id", Integer, nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("name", String(100), nullable=True),
    Column("tool_calls", JSON, nullable=True),
    Column("tool_call_id", String(64), nullable=True),
    Column("model", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["agent_id", "user_id"], ["agents.id", "agents.user_id"], ondelete="CASCADE"
    ),
    # "An agent's messages in order", both ways, and the cascade's lookup.
    Index("ix_agent_messages_agent_id_id", "agent_id", "id"),
)

agent_passages = Table(
    "agent_passages",
    metadata,
    # SQLite: the rowid that the FTS5 index refers to.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("agent_id", Integer, nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["agent_id", "user_id"], ["agents.id", "agents.user_id"], ondelete="CASCADE"
    ),
    Index("ix_agent_passages_agent_id_id", "agent_id", "id"),
)

# A user's named humans, personas, presets and tool registrations (`kind`), each a JSON
# object of that kind's fields. Built-in ones (sam_pov, memgpt_chat...) live in code.
agent_library = Table(
    "agent_library",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Also the index for "this user's items of a kind".
    UniqueConstraint("user_id", "kind", "name"),
)

# A turn's stream of events, kept for a while after it ends so that a client can resume
# it (Last-Event-ID, WebSocket `resume`) on any replica. `seq` is the event's id.
streams = Table(
    "streams",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=True),  # the conversation's public id
    Column("model", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    # Serves the purge: ended streams past their keep time, and abandoned ones.
    Index("ix_streams_ended_at", "ended_at"),
    Index("ix_streams_created_at", "created_at"),
    # Serves "turns started in this session lately" (a WebSocket watching a session).
    Index("ix_streams_user_id_session_id_created_at", "user_id", "session_id", "created_at"),
)

stream_events = Table(
    "stream_events",
    metadata,
    Column("stream_id", ForeignKey("streams.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event", Text, nullable=False),  # the event as JSON (services/streams/codec.py)
    Column("created_at", UTCDateTime, nullable=False),
)

# A conversation kept for a client that resends its whole history (services/threads.py):
# `key` is the digest of the messages a turn was asked with; the next request's history
# finds it (several conversations may share a key: the reply they stored tells them apart).
threads = Table(
    "threads",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("dialect", String(20), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# An OpenAI Responses response kept with `store` (api/responses, services/responses):
# a turn of one of the user's conversations. Its reply is the first assistant message
# after `input_seq`; `params` holds the request's parameters it echoes back.
responses = Table(
    "responses",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("input_seq", Integer, nullable=False),
    Column("model", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("params", JSON, nullable=False),
    Column("previous_response_id", String(40), nullable=True),
    Column("reply_message_id", Integer, nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("error", JSON, nullable=True),
    Column("incomplete_reason", String(40), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
)

# Made by migrations 0003, 0007 and 0008 in dialect-specific DDL that a Table cannot
# describe: SQLite's FTS5 table (with its shadow tables; triggers are not compared) and PostgreSQL's
# generated tsvector column with its GIN index.
# The memory_vec_* tables are sqlite-vec's, made at run time (storage/memory_vectors.py).
_RAW_DDL_TABLE_PREFIX = ("memory_fts", "memory_vec_", "agent_passages_fts", "messages_fts")
_RAW_DDL_COLUMNS = {("memory_chunks", "tsv"), ("agent_passages", "tsv"), ("messages", "tsv")}
_RAW_DDL_INDEXES = {"ix_memory_chunks_tsv", "ix_agent_passages_tsv", "ix_messages_tsv"}


def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    """Alembic's `include_name` hook: leave the raw-DDL objects above out of schema diffs."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(_RAW_DDL_TABLE_PREFIX)
    if type_ == "column":
        return (parent_names.get("table_name"), name) not in _RAW_DDL_COLUMNS
    if type_ == "index":
        return name not in _RAW_DDL_INDEXES
    return True
