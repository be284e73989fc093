"""Consumers from secrets.toml / appsettings.secrets.json become users with one key each."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.core.errors import ConfigError, Unauthorized
from roost.services.consumers import read_consumers
from roost.services.container import Services, build_services
from tests import backend
from tests.conftest import ADMIN_PASSWORD, make_settings

A = "key-of-the-mobile-app-000001"
B = "key-of-zapier-000000000000002"


def secrets(home: Path, text: str, mode: int = 0o600) -> None:
    path = home / "secrets.toml"
    path.write_text(text)
    os.chmod(path, mode)


@pytest.fixture
async def services(home: Path) -> AsyncIterator[Services]:
    built = await build_services(make_settings(home), admin_password=ADMIN_PASSWORD)
    try:
        yield built
    finally:
        await built.close()


async def who(services: Services, key: str) -> str:
    return (await services.auth.authenticate(key, loopback=True)).user.name


def test_no_files_no_consumers(home: Path) -> None:
    assert read_consumers(home) == {}


def test_toml_and_json_are_merged(home: Path) -> None:
    secrets(home, f'[consumers]\nmobile-app = "{A}"\n')
    path = home / "appsettings.secrets.json"
    path.write_text(json.dumps({"Consumer": {"ApiKeys": {"zapier": B, "mobile-app": A}}}))
    os.chmod(path, 0o600)
    assert read_consumers(home) == {"mobile-app": A, "zapier": B}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f'[consumers]\n"bad name" = "{A}"\n', "consumer name 'bad name'"),
        ('[consumers]\nshort = "abc123"\n', "16-512 characters"),
        ("[consumers]\nnumber = 12345678901234567890\n", "must be a string"),
        (f'[consumers]\na = "{A}"\nb = "{A}"\n', "'a' and 'b' have the same key"),
        ('consumers = "x"\n', "must be a table"),
        ("[consumers\n", "not valid TOML"),
        ('[consumers]\nspaced = "a key with spaces inside!!"\n', "whitespace"),
    ],
)
def test_bad_files_are_config_errors(home: Path, text: str, problem: str) -> None:
    secrets(home, text)
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(")):
        read_consumers(home)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602])
def test_a_file_others_can_read_or_write_is_refused(home: Path, mode: int) -> None:
    secrets(home, f'[consumers]\nmobile-app = "{A}"\n', mode)
    with pytest.raises(ConfigError) as caught:
        read_consumers(home)
    assert "every user of this machine" in caught.value.message
    assert f"chmod 600 {home / 'secrets.toml'}" in caught.value.message
    os.chmod(home / "secrets.toml", 0o640)  # the group may read it
    assert read_consumers(home) == {"mobile-app": A}


async def test_reconcile_adds_changes_and_removes(home: Path, services: Services) -> None:
    secrets(home, f'[consumers]\nmobile-app = "{A}"\nzapier = "{B}"\n')
    first = await services.consumers.reconcile()
    assert (first.added, first.changed, first.removed) == (["mobile-app", "zapier"], [], [])
    assert await who(services, A) == "consumer:mobile-app"
    assert await who(services, B) == "consumer:zapier"
    again = await services.consumers.reconcile()
    assert (again.added, again.changed, again.removed) == ([], [], [])

    new_a = A + "-rotated"
    secrets(home, f'[consumers]\nmobile-app = "{new_a}"\n')
    second = await services.consumers.reconcile()
    assert (second.changed, second.removed) == (["mobile-app"], ["zapier"])
    for old in (A, B):  # at once: the auth cache is dropped
        with pytest.raises(Unauthorized):
            await services.auth.authenticate(old, loopback=True)
    assert await who(services, new_a) == "consumer:mobile-app"
    user = await services.users.resolve("consumer:mobile-app")
    keys = await services.users.list_keys(user)
    # Oldest first: the old key revoked, the new one active; both named for the consumer.
    assert [(k.name, k.revoked_at is None) for k in keys] == [
        ("mobile-app", False),
        ("mobile-app", True),
    ]

    # Back in the file: the same user, so its conversations are there again.
    secrets(home, f'[consumers]\nmobile-app = "{new_a}"\nzapier = "{B}"\n')
    third = await services.consumers.reconcile()
    assert third.changed == ["zapier"]
    assert await who(services, B) == "consumer:zapier"


async def test_the_secret_is_stored_hashed(home: Path, services: Services) -> None:
    secrets(home, f'[consumers]\nmobile-app = "{A}"\n')
    await services.consumers.reconcile()
    stored = await backend.stored_text(home)
    assert b"mobile-app" in stored  # the consumer's rows are there
    assert A.encode() not in stored


async def test_keys_that_would_impersonate_are_refused(home: Path, services: Services) -> None:
    secrets(home, f'[consumers]\nsneaky = "{ADMIN_PASSWORD}-0000"\n')
    await services.consumers.reconcile()  # a different string: fine
    secrets(home, f'[consumers]\nsneaky = "{ADMIN_PASSWORD}"\n')
    with pytest.raises(ConfigError, match="admin password"):
        await services.consumers.reconcile()
    person = await services.users.create("alice")
    alice_key = (await services.users.create_key(person)).secret
    secrets(home, f'[consumers]\nsneaky = "{alice_key}"\n')
    with pytest.raises(ConfigError, match="another user already has"):
        await services.consumers.reconcile()
    assert await who(services, alice_key) == "alice"


async def test_reload_keeps_the_consumers_when_the_file_is_bad(
    home: Path, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    secrets(home, f'[consumers]\nmobile-app = "{A}"\n')
    assert await services.consumers.reload() is not None
    secrets(home, f'[consumers]\nmobile-app = "{A}"\n', 0o644)
    assert await services.consumers.reload() is None
    assert "consumers not reloaded" in caplog.text
    assert await who(services, A) == "consumer:mobile-app"


async def test_consumer_names_are_reserved(services: Services) -> None:
    from roost.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=r"consumers of secrets\.toml"):
        await services.users.create("consumer:eve")
