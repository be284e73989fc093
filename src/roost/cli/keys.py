"""`roost keys create|list|revoke`: API keys, straight on the database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.display import JsonOption, iso, print_json, print_table, when
from roost.cli.errors import reports_errors
from roost.cli.runtime import run_with_services
from roost.config import load_settings
from roost.core.records import ApiKey, NewApiKey

if TYPE_CHECKING:
    from roost.services.container import Services

app = typer.Typer(
    help="Manage API keys (works on the database; no server needed).", no_args_is_help=True
)

UserArgument = Annotated[str, typer.Argument(help="Name or id of the key's owner.")]


def _state(key: ApiKey) -> str:
    return f"revoked {when(key.revoked_at)}" if key.revoked_at else "active"


@app.command()
@reports_errors
def create(
    user: UserArgument,
    name: Annotated[
        str, typer.Option("--name", "-n", help="A label to tell keys apart.")
    ] = "default",
) -> None:
    """Create a key. The secret is printed once, alone on stdout, and never again."""

    async def action(services: Services) -> tuple[str, NewApiKey]:
        owner = await services.users.resolve(user)
        return owner.name, await services.users.create_key(owner, name)

    owner, new = run_with_services(load_settings(), action)
    # The notes go to stderr so that `KEY=$(roost keys create bob)` captures the key alone.
    typer.echo(f"Created key '{new.key.name}' (id {new.key.id}) for user '{owner}':", err=True)
    typer.echo(new.secret)
    typer.echo("Store it now: it is not shown again.", err=True)


@app.command("list")
@reports_errors
def list_keys(user: UserArgument, as_json: JsonOption = False) -> None:
    """List a user's keys (prefixes only: secrets are never stored)."""

    async def action(services: Services) -> list[ApiKey]:
        return await services.users.list_keys(await services.users.resolve(user))

    keys = run_with_services(load_settings(), action)
    if as_json:
        print_json(
            [
                {
                    "id": k.id,
                    "name": k.name,
                    "prefix": k.prefix,
                    "created_at": iso(k.created_at),
                    "last_used_at": iso(k.last_used_at),
                    "revoked_at": iso(k.revoked_at),
                }
                for k in keys
            ]
        )
        return
    rows = [
        [k.id, k.name, f"{k.prefix}…", when(k.created_at), when(k.last_used_at), _state(k)]
        for k in keys
    ]
    print_table(["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "STATE"], rows, "No keys.")


@app.command()
@reports_errors
def revoke(
    user: UserArgument,
    key: Annotated[str, typer.Argument(help="The key's id or its prefix.")],
) -> None:
    """Revoke a key: requests with it are refused from now on."""

    async def action(services: Services) -> str:
        owner = await services.users.resolve(user)
        await services.users.revoke_key(owner, key)
        return owner.name

    owner = run_with_services(load_settings(), action)
    typer.echo(f"Revoked key '{key}' of user '{owner}'.")
