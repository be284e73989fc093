"""Who is calling: admin password, per-user API keys, or trusted loopback."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from roost.core.clock import utcnow
from roost.core.errors import Unauthorized
from roost.core.ids import key_hash
from roost.core.records import User
from roost.storage.keys import KeyRepository

# Recording every use would turn each read request into a write; a minute is plenty.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    is_admin: bool
    via: str  # "password" | "key" | "loopback"


class AuthService:
    def __init__(
        self,
        keys: KeyRepository,
        default_user: User,
        admin_password: str,
        *,
        required: bool = True,
    ) -> None:
        self._keys = keys
        self._default_user = default_user
        self._password_hash = key_hash(admin_password)
        self._required = required

    @property
    def default_user(self) -> User:
        return self._default_user

    def is_admin_password(self, secret: str) -> bool:
        # Compare digests so the time taken says nothing about the password.
        return hmac.compare_digest(key_hash(secret), self._password_hash)

    async def authenticate(self, secret: str | None, *, loopback: bool) -> Principal:
        if not secret:
            if not self._required and loopback:
                return Principal(self._default_user, is_admin=False, via="loopback")
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        # Always do the key lookup, so a correct password and a wrong key take the same time.
        found = await self._keys.find_active(secret)
        if self.is_admin_password(secret):
            return Principal(self._default_user, is_admin=True, via="password")
        if found is None:
            raise Unauthorized("invalid API key")
        key, user = found
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            await self._keys.touch(key.id, now)
        return Principal(user, is_admin=user.is_admin, via="key")
