"""`roost users` and `roost keys`, straight on the database."""

from __future__ import annotations

import json
from collections.abc import Callable

from typer.testing import Result

Invoke = Callable[..., Result]


def test_users_create_list_delete_round_trip(cli: Invoke) -> None:
    made = cli("users", "create", "alice", "--admin")
    assert made.exit_code == 0, made.output
    assert "admin user 'alice'" in made.stdout
    assert cli("users", "create", "bob").exit_code == 0

    table = cli("users", "list")
    assert table.exit_code == 0
    assert "alice" in table.stdout
    assert "bob" in table.stdout

    listed = json.loads(cli("users", "list", "--json").stdout)
    by_name = {u["name"]: u for u in listed}
    assert by_name["alice"]["is_admin"] is True
    assert by_name["bob"]["is_admin"] is False
    assert "default" in by_name  # made on first start

    # By id as well as by name.
    gone = cli("users", "delete", by_name["bob"]["id"], "--yes")
    assert gone.exit_code == 0, gone.output
    names = {u["name"] for u in json.loads(cli("users", "list", "--json").stdout)}
    assert names == {"default", "alice"}


def test_delete_asks_first_and_no_means_no(cli: Invoke) -> None:
    cli("users", "create", "dave")
    refused = cli("users", "delete", "dave", input="n\n")
    assert refused.exit_code == 1
    assert "Delete user 'dave'" in refused.stdout
    assert "dave" in cli("users", "list").stdout
    agreed = cli("users", "delete", "dave", input="y\n")
    assert agreed.exit_code == 0
    assert "dave" not in cli("users", "list").stdout


def test_unknown_user_and_duplicate_and_default_are_refused_plainly(cli: Invoke) -> None:
    missing = cli("users", "delete", "nobody", "--yes")
    assert missing.exit_code == 1
    assert missing.stderr == "roost: no user 'nobody'\n"
    assert cli("users", "delete", "default", "--yes").exit_code == 1
    assert cli("users", "create", "erin").exit_code == 0
    again = cli("users", "create", "erin")
    assert again.exit_code == 1
    assert "Traceback" not in again.output
    assert cli("keys", "list", "nobody").exit_code == 1


def test_keys_create_list_revoke_round_trip(cli: Invoke) -> None:
    cli("users", "create", "bob")
    made = cli("keys", "create", "bob", "--name", "laptop")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert made.stdout == secret + "\n"  # stdout is the key alone, for $(...)
    assert secret.startswith("roost_")
    assert "not shown again" in made.stderr

    keys = json.loads(cli("keys", "list", "bob", "--json").stdout)
    assert len(keys) == 1
    assert keys[0]["name"] == "laptop"
    assert secret.startswith(keys[0]["prefix"])
    assert keys[0]["revoked_at"] is None
    table = cli("keys", "list", "bob")
    assert secret not in table.output
    assert "laptop" in table.stdout
    assert "active" in table.stdout

    revoked = cli("keys", "revoke", "bob", keys[0]["prefix"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(cli("keys", "list", "bob", "--json").stdout)[0]["revoked_at"]
    again = cli("keys", "revoke", "bob", keys[0]["id"])
    assert again.exit_code == 1
    assert "no active key" in again.stderr


def test_keys_of_one_user_cannot_be_revoked_through_another(cli: Invoke) -> None:
    cli("users", "create", "bob")
    cli("users", "create", "mallory")
    secret = cli("keys", "create", "bob").stdout.strip()
    assert cli("keys", "revoke", "mallory", secret[:12]).exit_code == 1
    assert json.loads(cli("keys", "list", "bob", "--json").stdout)[0]["revoked_at"] is None
