"""In-process services for the commands that need no server (chat, ask, users, keys)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

from roost.config import Settings

if TYPE_CHECKING:
    from roost.services.container import Services

T = TypeVar("T")


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    # Imported here: the services pull in SQLAlchemy, which `roost --help` does not need.
    from roost.services import container

    # Nothing authenticates in-process; the password only completes the wiring.
    password = container.admin_password_from_env() or container.generate_admin_password()
    services = await container.build_services(settings, admin_password=password)
    try:
        yield services
    finally:
        await services.close()


def run_with_services(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    """Open the services, run one action on them, close them again."""

    async def go() -> T:
        async with open_services(settings) as services:
            return await action(services)

    return asyncio.run(go())
