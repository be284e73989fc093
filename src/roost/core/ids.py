"""Identifier and secret generation."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

KEY_PREFIX = "roost_"
KEY_PREFIX_LEN = 12  # characters of the secret kept in clear, to tell keys apart


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


_ISSUED_KEY = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")


def is_issued_key(secret: str) -> bool:
    """Shaped like a key `new_api_key` makes: 256 random bits, too many to guess."""
    return _ISSUED_KEY.fullmatch(secret) is not None


def new_password() -> str:
    return secrets.token_urlsafe(24)


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_prefix(secret: str) -> str:
    return secret[:KEY_PREFIX_LEN]


ROLE_ID_PREFIX = "role_"
_ROLE_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_role_id() -> str:
    """`role_` + 6 of [a-z0-9]: short enough to type, 2.2e9 values (storage retries a clash)."""
    return ROLE_ID_PREFIX + "".join(secrets.choice(_ROLE_ID_ALPHABET) for _ in range(6))


def new_hex_id() -> str:
    """24 hex digits, the shape of the MongoDB ObjectIds LlamaChat clients expect."""
    return secrets.token_hex(12)
