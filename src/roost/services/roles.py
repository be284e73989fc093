"""kernel2 roles: named system prompts a chat request selects with `metadata.role_id`."""

from __future__ import annotations

from roost.core.errors import InvalidRequest, NotFound
from roost.core.records import Role, User
from roost.storage.roles import RoleRepository

MAX_NAME = 100
MAX_DESCRIPTION = 1_000
MAX_SYSTEM_PROMPT = 20_000


def _name(value: str) -> str:
    # Stripped so that "Tutor" and "Tutor " cannot both exist and look the same.
    value = value.strip()
    if not value or len(value) > MAX_NAME:
        raise InvalidRequest(f"name must be 1-{MAX_NAME} characters", param="name")
    return value


def _description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidRequest(
            f"description must be at most {MAX_DESCRIPTION} characters", param="description"
        )
    return value


def _system_prompt(value: str) -> str:
    # Not stripped: whitespace inside a prompt is the author's; only an empty one is useless.
    if not value.strip() or len(value) > MAX_SYSTEM_PROMPT:
        raise InvalidRequest(
            f"system_prompt must be 1-{MAX_SYSTEM_PROMPT} characters", param="system_prompt"
        )
    return value


def _not_found(role_id: str) -> NotFound:
    return NotFound(f"role '{role_id}' not found")


class RoleService:
    def __init__(self, roles: RoleRepository) -> None:
        self._roles = roles

    async def create(
        self,
        user: User,
        *,
        name: str,
        system_prompt: str,
        description: str = "",
        enable_l0_retrieval: bool = False,
        enable_l1_retrieval: bool = False,
    ) -> Role:
        """A new role; a name the user already has is a Conflict."""
        return await self._roles.create(
            user.id,
            name=_name(name),
            description=_description(description),
            system_prompt=_system_prompt(system_prompt),
            enable_l0_retrieval=enable_l0_retrieval,
            enable_l1_retrieval=enable_l1_retrieval,
        )

    async def get(self, user: User, role_id: str) -> Role:
        found = await self._roles.get(user.id, role_id)
        if found is None:
            raise _not_found(role_id)
        return found

    async def resolve(self, user: User, role_id: str) -> Role:
        """The role a chat request names; NotFound (never another user's role) otherwise."""
        return await self.get(user, role_id)

    async def list(self, user: User, *, limit: int = 50, offset: int = 0) -> tuple[list[Role], int]:
        """One page of the user's roles, oldest first, and how many exist."""
        page = await self._roles.list(user.id, limit=limit, offset=offset)
        return page, await self._roles.count(user.id)

    async def update(
        self,
        user: User,
        role_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        system_prompt: str | None = None,
        enable_l0_retrieval: bool | None = None,
        enable_l1_retrieval: bool | None = None,
    ) -> Role:
        """Change the fields given (None leaves a field as it is)."""
        updated = await self._roles.update(
            user.id,
            role_id,
            name=None if name is None else _name(name),
            description=None if description is None else _description(description),
            system_prompt=None if system_prompt is None else _system_prompt(system_prompt),
            enable_l0_retrieval=enable_l0_retrieval,
            enable_l1_retrieval=enable_l1_retrieval,
        )
        if updated is None:
            raise _not_found(role_id)
        return updated

    async def delete(self, user: User, role_id: str) -> None:
        if not await self._roles.delete(user.id, role_id):
            raise _not_found(role_id)
