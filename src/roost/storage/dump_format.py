"""The `roost db export` file format: JSON Lines, and how each column type is written.

    {"format": "roost-export", "format_version": 1, "schema_revision": "0008", ...}
    {"table": "users", "columns": ["id", "name", "is_admin", "created_at"]}
    ["2b6…", "default", false, "2026-11-26T07:15:16.123456+00:00"]
    {"end": "users", "rows": 1}
    … one such block per table, parents before children …
    {"end": "roost-export", "tables": 13, "rows": 4711}

A row is an array in the block's column order. Datetimes are ISO 8601 UTC with
microseconds, bytes are base64, and a JSON column is its stored JSON *text* (or null for
SQL NULL), so that `null` in JSON and SQL NULL stay apart and the text comes back byte
for byte. The end lines let an import tell a complete file from a cut-off one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, LargeBinary, String, Text, cast
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from roost.storage.tables import UTCDateTime

FORMAT = "roost-export"
FORMAT_VERSION = 1


class RowError(ValueError):
    """A value in the file does not fit its column."""


class RawJSON(TypeDecorator[Any]):
    """A JSON column written as the exported text, untouched (no parse, no re-dump)."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None


@dataclass(frozen=True)
class ColumnCodec:
    name: str
    select: ColumnElement[Any]  # what the export selects
    bind_type: TypeEngine[Any]  # the type the import binds with
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def same(value: Any) -> Any:
    return value


def _expect(kind: type | tuple[type, ...], label: str) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        # bool is an int in Python; an integer column must not take true/false.
        if value is not None and (
            not isinstance(value, kind) or (isinstance(value, bool) and kind is int)
        ):
            raise RowError(f"expected {label}, got {type(value).__name__}")
        return value

    return decode


def _encode_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


def _decode_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"expected an ISO 8601 time, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise RowError(f"time without a UTC offset: {value[:40]!r}")
    return moment


def _encode_bytes(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _decode_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise RowError("not valid base64") from None


def _decode_json_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"expected JSON text, got {type(value).__name__}")
    try:
        json.loads(value)
    except ValueError:
        raise RowError(f"not valid JSON text: {value[:40]!r}") from None
    return value


def _plain(value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise RowError(f"cannot export a {type(value).__name__} value")
    return value


def codec(column: Column[Any]) -> ColumnCodec:
    """How one column is read, written to the file, and bound on import."""
    kind = column.type
    name = column.name
    if isinstance(kind, UTCDateTime):
        return ColumnCodec(name, column, kind, _encode_time, _decode_time)
    if isinstance(kind, LargeBinary):
        return ColumnCodec(name, column, kind, _encode_bytes, _decode_bytes)
    if isinstance(kind, JSON):
        # Read as text, cast by the database: the stored JSON exactly (asyncpg would
        # otherwise parse a json column whatever SQLAlchemy type it is given).
        raw = cast(column, Text).label(name)
        return ColumnCodec(name, raw, RawJSON(), same, _decode_json_text)
    if isinstance(kind, Boolean):
        return ColumnCodec(name, column, kind, same, _expect(bool, "true or false"))
    if isinstance(kind, Integer):
        return ColumnCodec(name, column, kind, same, _expect(int, "an integer"))
    if isinstance(kind, String):  # Text too
        return ColumnCodec(name, column, kind, same, _expect(str, "a string"))
    # A type added later that none of the above covers: JSON-native values pass through,
    # anything else fails the export loudly rather than being written lossily.
    return ColumnCodec(name, column, kind, _plain, _plain)


# One encoder for all lines: json.dumps with arguments builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)
