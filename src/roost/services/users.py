"""Users and their API keys (the `roost users` / `roost keys` commands and admin routes)."""

from __future__ import annotations

import builtins
from collections.abc import Callable

from roost.core.errors import InvalidRequest, NotFound
from roost.core.records import ApiKey, NewApiKey, User
from roost.services.consumers import CONSUMER_PREFIX
from roost.storage.keys import KeyRepository
from roost.storage.users import UserRepository

MAX_NAME = 200


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidRequest(f"{what} must be 1-{MAX_NAME} characters")
    return name


class UserService:
    def __init__(
        self,
        users: UserRepository,
        keys: KeyRepository,
        on_revoke: Callable[[], None] = lambda: None,
    ) -> None:
        self._users = users
        self._keys = keys
        self._on_revoke = on_revoke  # drops cached logins, so a revoked key stops at once

    async def create(
        self, name: str, *, is_admin: bool = False, user_id: str | None = None
    ) -> User:
        name = _check_name(name, "user name")
        if name.startswith(CONSUMER_PREFIX):
            raise InvalidRequest(
                f"user names starting with '{CONSUMER_PREFIX}' are the consumers of secrets.toml"
            )
        return await self._users.create(name, is_admin=is_admin, user_id=user_id)

    async def resolve(self, id_or_name: str) -> User:
        user = await self._users.get(id_or_name) or await self._users.get_by_name(id_or_name)
        if user is None:
            raise NotFound(f"no user '{id_or_name}'")
        return user

    async def list(self, *, after: str | None = None, limit: int = 100) -> list[User]:
        return await self._users.list(after=after, limit=limit)

    async def delete(self, id_or_name: str) -> User:
        user = await self.resolve(id_or_name)
        if user.name == "default":
            raise InvalidRequest("the default user cannot be deleted")
        await self._users.delete(user.id)
        self._on_revoke()
        return user

    async def create_key(self, user: User, name: str = "default") -> NewApiKey:
        return await self._keys.create(user.id, _check_name(name, "key name"))

    async def list_keys(self, user: User) -> builtins.list[ApiKey]:
        return await self._keys.list(user.id)

    async def revoke_any(self, secret_id_or_prefix: str) -> ApiKey:
        """Revoke a key named by its secret, id or prefix, whoever owns it (admin routes)."""
        found = await self._keys.find_active(secret_id_or_prefix)
        matches = [found[0]] if found is not None else await self._keys.find(secret_id_or_prefix)
        if not matches:
            raise NotFound("API key does not exist")
        if len(matches) > 1:
            raise InvalidRequest("that prefix names several keys; give the key's id")
        key = matches[0]
        await self._keys.revoke(key.user_id, key.id)
        self._on_revoke()
        return key

    async def revoke_key(self, user: User, key_id_or_prefix: str) -> None:
        revoked = await self._keys.revoke(user.id, key_id_or_prefix)
        self._on_revoke()
        if not revoked:
            raise NotFound(f"no active key '{key_id_or_prefix}' for user '{user.name}'")
