"""Storage: the only place with SQL.

SQLAlchemy 2 async Core tables, Alembic migrations and one repository per aggregate,
on SQLite (the default) or PostgreSQL. Repositories take and return `roost.core.records`.
"""

from roost.storage.conversations import ConversationRepository
from roost.storage.db import Database
from roost.storage.keys import KeyRepository
from roost.storage.messages import MessageRepository
from roost.storage.users import UserRepository

__all__ = [
    "ConversationRepository",
    "Database",
    "KeyRepository",
    "MessageRepository",
    "UserRepository",
]
