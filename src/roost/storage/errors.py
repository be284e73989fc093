"""Turn driver failures that are about the environment, not the query, into Unavailable.

A locked, full, read-only or unreachable database is something an operator fixes or a
client retries; it must not surface as a bare 500 with a driver traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from roost.core.errors import Conflict, InvalidRequest, Unavailable
from roost.storage import sqlite_driver

# SQLite reports these only as message text (sqlite3 exposes no error codes before 3.11).
_SQLITE_MESSAGES = {
    "database is locked": "the database is locked by another writer; try again",
    "database table is locked": "the database is locked by another writer; try again",
    "database or disk is full": "the disk holding the database is full",
    "readonly database": "the database is read-only (check file permissions)",
    "unable to open database file": "cannot open the database file (check path and permissions)",
    "disk i/o error": "disk I/O error on the database file",
}

# PostgreSQL SQLSTATE classes/codes that mean "not now" rather than "bad query".
_PG_STATES = {
    "08": "cannot reach the database server",
    "40": "the database aborted the transaction under contention; try again",
    "53": "the database server is out of resources (disk, memory or connections)",
    "57": "the database server is shutting down or not accepting connections",
    "25006": "the database is read-only",
    "28": "the database server refused the login",
    "3D000": "the database does not exist",
}


# PostgreSQL text cannot hold a NUL character (SQLite can): the client's text is invalid.
_PG_INVALID_TEXT = frozenset({"22021", "22P05"})  # invalid byte sequence, untranslatable

_RAW_ERRORS: tuple[type[Exception], ...] = (OSError, DBAPIError, *sqlite_driver.error_types())


def _raw_operational(exc: BaseException) -> bool:
    # sqlite3's and sqlean's OperationalError are different classes with one name.
    return isinstance(exc, sqlite_driver.error_types()) and type(exc).__name__ == "OperationalError"


def _is_integrity(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError) or type(exc).__name__ == "IntegrityError"


def unavailable_reason(exc: BaseException) -> str | None:
    """Why `exc` means the database is unusable right now, or None for other errors."""
    if isinstance(exc, OSError):  # e.g. connection refused before any driver error
        return f"cannot reach the database server: {exc.strerror or exc}"
    if _is_integrity(exc):
        return None
    if not isinstance(exc, (DBAPIError, *sqlite_driver.error_types())):
        return None
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        for prefix in (state, state[:2]):
            if prefix in _PG_STATES:
                return f"{_PG_STATES[prefix]} ({orig})"
    text = str(orig).lower()
    for needle, reason in _SQLITE_MESSAGES.items():
        if needle in text:
            return reason
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return f"database error: {orig}"
    if isinstance(exc, OperationalError | InterfaceError) or _raw_operational(exc):
        return f"database error: {orig}"
    return None


@contextmanager
def translate_errors(on_error: Callable[[str], None] | None = None) -> Iterator[None]:
    """`on_error` hears of each driver error that is not the client's doing or a
    constraint: "unavailable" (locked, full, unreachable...) or "other"."""
    try:
        yield
    except _RAW_ERRORS as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        if getattr(orig, "sqlstate", None) in _PG_INVALID_TEXT:
            raise InvalidRequest("text must not contain NUL (\\u0000) characters") from exc
        if _lone_surrogate(exc):
            raise InvalidRequest(_SURROGATE) from exc
        reason = unavailable_reason(exc)
        if on_error is not None and not _is_integrity(exc):
            on_error("other" if reason is None else "unavailable")
        if reason is None:
            raise
        raise Unavailable(f"database unavailable: {reason}") from exc
    except Exception as exc:
        # asyncpg encodes parameters itself; SQLAlchemy wraps its UnicodeEncodeError.
        if _lone_surrogate(exc):
            raise InvalidRequest(_SURROGATE) from exc
        raise


_SURROGATE = "text must be valid Unicode, without a lone surrogate escape (\\ud800-\\udfff)"


def _lone_surrogate(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # a short cause chain; bounded in case it loops
        if seen is None:
            return False
        if isinstance(seen, UnicodeEncodeError) and seen.reason == "surrogates not allowed":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """A unique constraint said no: report it as the domain's Conflict."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(message) from exc
