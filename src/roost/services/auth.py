"""Who is calling: admin password, per-user API keys, or trusted loopback."""

from __future__ import annotations

import contextlib
import hmac
import math
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from roost.core.clock import utcnow
from roost.core.errors import RateLimited, Unauthorized
from roost.core.ids import is_issued_key, key_hash
from roost.core.records import User
from roost.services.auth_failures import FailureThrottle
from roost.storage.keys import KeyRepository

# Recording every use would turn each read request into a write; a minute is plenty.
_TOUCH_EVERY = timedelta(minutes=1)
# A database lookup per request costs more than the rest of a small request; a valid key
# is remembered briefly. A revocation anywhere on this machine (this server, the CLI)
# touches a marker file that every process checks (one stat), so it takes effect at once.
CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000


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
        marker: Path | None = None,
        failures_per_minute: int = 0,
    ) -> None:
        """`failures_per_minute`: failed authentications an address may make (0: any)."""
        self._keys = keys
        self._default_user = default_user
        self._password_hash = key_hash(admin_password)
        self._required = required
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._marker = marker
        self._marker_seen = self._marker_version()
        self._failures = FailureThrottle(failures_per_minute) if failures_per_minute else None

    def _marker_version(self) -> int:
        try:
            return self._marker.stat().st_mtime_ns if self._marker else 0
        except OSError:
            return 0

    def forget(self) -> None:
        """Drop remembered keys here and, through the marker, in other processes."""
        self._cache.clear()
        if self._marker is not None:
            with contextlib.suppress(OSError):
                self._marker.touch(mode=0o600)
                os.utime(self._marker, ns=(time.time_ns(), time.time_ns()))

    def _cached(self, digest: str) -> Principal | None:
        version = self._marker_version()
        if version != self._marker_seen:
            self._marker_seen = version
            self._cache.clear()
        cached = self._cache.get(digest)
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    @property
    def default_user(self) -> User:
        return self._default_user

    def is_admin_password(self, secret: str) -> bool:
        # Compare digests so the time taken says nothing about the password.
        return hmac.compare_digest(key_hash(secret), self._password_hash)

    async def authenticate(
        self, secret: str | None, *, loopback: bool, address: str | None = None
    ) -> Principal:
        """`address`: the client's, when the secret came over the network; failures from
        one address are throttled (services/auth_failures.py)."""
        if not secret:
            if not self._required and loopback:
                return Principal(self._default_user, is_admin=False, via="loopback")
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        throttle = self._failures
        if throttle is None or address is None:
            return await self._check(secret)
        wait = throttle.take(address)
        if wait > 0.0:
            if is_issued_key(secret):  # unguessable: checking it reveals nothing
                return await self._check(secret, password=False)
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"too many failed authentications from this address: retry in {seconds} s",
                retry_after=seconds,
            )
        try:
            principal = await self._check(secret)
        except Unauthorized:
            raise  # the token stays taken: one failure
        except BaseException:
            throttle.give_back(address)
            raise
        throttle.give_back(address)
        return principal

    async def _check(self, secret: str, *, password: bool = True) -> Principal:
        digest = key_hash(secret)
        cached = self._cached(digest)
        if cached is not None and (password or cached.via != "password"):
            return cached
        principal = await self._lookup(secret, digest, password=password)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = (principal, time.monotonic() + CACHE_SECONDS)
        return principal

    async def _lookup(self, secret: str, digest: str, *, password: bool) -> Principal:
        # Always do the key lookup, so a correct password and a wrong key take the same time.
        found = await self._keys.find_active(secret)
        if password and hmac.compare_digest(digest, self._password_hash):
            return Principal(self._default_user, is_admin=True, via="password")
        if found is None:
            raise Unauthorized("invalid API key")
        key, user = found
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            await self._keys.touch(key.id, now)
        return Principal(user, is_admin=user.is_admin, via="key")
