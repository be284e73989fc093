"""`roost users create|list|delete`: accounts, straight on the database."""

from __future__ import annotations

from typing import Annotated

import typer

from roost.cli.display import JsonOption, iso, print_json, print_table, when
from roost.cli.errors import reports_errors
from roost.cli.runtime import run_with_services
from roost.config import load_settings
from roost.core.records import User

app = typer.Typer(
    help="Manage users (works on the database; no server needed).", no_args_is_help=True
)


def user_json(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "name": user.name,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
    }


@app.command()
@reports_errors
def create(
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    admin: Annotated[bool, typer.Option("--admin", help="May use the admin routes.")] = False,
) -> None:
    """Create a user. Give them a key with `roost keys create NAME`."""
    user = run_with_services(load_settings(), lambda s: s.users.create(name, is_admin=admin))
    role = "admin user" if user.is_admin else "user"
    typer.echo(f"Created {role} '{user.name}' (id {user.id}).")


@app.command("list")
@reports_errors
def list_users(as_json: JsonOption = False) -> None:
    """List users."""
    users = run_with_services(load_settings(), lambda s: s.users.list(limit=10_000))
    if as_json:
        print_json([user_json(u) for u in users])
        return
    rows = [[u.id, u.name, "yes" if u.is_admin else "", when(u.created_at)] for u in users]
    print_table(["ID", "NAME", "ADMIN", "CREATED"], rows, "No users.")


@app.command()
@reports_errors
def delete(
    user: Annotated[str, typer.Argument(help="Name or id of the user.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with their keys and conversations."""
    settings = load_settings()
    if not yes:
        # Resolve first, so the question names the real user and a typo fails before it.
        found = run_with_services(settings, lambda s: s.users.resolve(user))
        typer.confirm(
            f"Delete user '{found.name}' (id {found.id}) with all their keys and conversations?",
            abort=True,
        )
        user = found.id
    deleted = run_with_services(settings, lambda s: s.users.delete(user))
    typer.echo(f"Deleted user '{deleted.name}' (id {deleted.id}).")
