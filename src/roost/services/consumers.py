"""Consumers: clients (a mobile app, Zapier) named in a secrets file, each with one key.

`$ROOST_HOME/secrets.toml` has `[consumers] name = "key"`; LlamaChat's own
`appsettings.secrets.json` (`{"Consumer": {"ApiKeys": {name: key}}}`) is read too when it
is there. Each consumer is a user named `consumer:<name>` whose one active key is the one
in the file, stored hashed like every key. The files are read at start and on SIGHUP
(`roost daemon reload`): new consumers get a user, a changed key replaces the old one at
once, and a consumer taken out of the file loses its key (its conversations stay, so
putting it back restores them).
"""

from __future__ import annotations

import json
import logging
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.core.errors import ConfigError, Conflict
from roost.core.records import User
from roost.storage.keys import KeyRepository
from roost.storage.users import UserRepository

log = logging.getLogger(__name__)

CONSUMER_PREFIX = "consumer:"
TOML_FILE = "secrets.toml"
JSON_FILE = "appsettings.secrets.json"
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 512
MAX_CONSUMERS = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Reconciled:
    active: list[str]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"{path} holds API keys but every user of this machine can "
            f"{'read' if mode & stat.S_IROTH else 'write'} it (mode {stat.S_IMODE(mode):04o}); "
            f"make it private with: chmod 600 {path}"
        )


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    table = data.get("consumers", {})
    if not isinstance(table, dict):
        raise ConfigError(f"'consumers' in {path} must be a table of name = \"key\"")
    return table


def _from_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    section = data.get("Consumer", {}) if isinstance(data, dict) else None
    keys = section.get("ApiKeys", {}) if isinstance(section, dict) else None
    if not isinstance(keys, dict):
        raise ConfigError(f"Consumer:ApiKeys in {path} must be an object of name: key")
    return keys


def read_consumers(home: Path) -> dict[str, str]:
    """name → key from the secrets files in `home`; ConfigError names file and problem."""
    found: dict[str, str] = {}
    for name, reader in ((TOML_FILE, _from_toml), (JSON_FILE, _from_json)):
        path = home / name
        try:
            _check_private(path)
            entries = reader(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        for consumer, key in entries.items():
            if not _NAME.match(consumer):
                raise ConfigError(
                    f"consumer name '{consumer[:100]}' in {path} must be 1-100 letters, digits, "
                    "'.', '_' or '-'"
                )
            if not isinstance(key, str) or not MIN_KEY_CHARS <= len(key) <= MAX_KEY_CHARS:
                raise ConfigError(
                    f"the key of consumer '{consumer}' in {path} must be a string of "
                    f"{MIN_KEY_CHARS}-{MAX_KEY_CHARS} characters"
                )
            if key != key.strip() or any(c.isspace() for c in key):
                raise ConfigError(f"the key of consumer '{consumer}' in {path} has whitespace")
            if found.get(consumer, key) != key:
                raise ConfigError(
                    f"consumer '{consumer}' has different keys in {TOML_FILE} and {JSON_FILE}"
                )
            found[consumer] = key
    if len(found) > MAX_CONSUMERS:
        raise ConfigError(f"at most {MAX_CONSUMERS} consumers, not {len(found)}")
    owners: dict[str, str] = {}
    for consumer, key in found.items():
        if key in owners:
            raise ConfigError(f"consumers '{owners[key]}' and '{consumer}' have the same key")
        owners[key] = consumer
    return found


class ConsumerService:
    def __init__(
        self,
        home: Path,
        users: UserRepository,
        keys: KeyRepository,
        *,
        is_admin_password: Callable[[str], bool],
        on_change: Callable[[], None],
    ) -> None:
        self._home = home
        self._users = users
        self._keys = keys
        self._is_admin_password = is_admin_password
        self._on_change = on_change  # drops cached logins, so a removed key stops at once

    async def _user(self, name: str) -> User:
        full = CONSUMER_PREFIX + name
        try:
            return await self._users.create(full)
        except Conflict:  # created by an earlier start, or by another replica just now
            user = await self._users.get_by_name(full)
            if user is None:
                raise
            return user

    async def _check_keys(self, wanted: dict[str, str], existing: dict[str, User]) -> None:
        """Refuse, before changing anything, keys that would let one caller be another."""
        for name, key in wanted.items():
            if self._is_admin_password(key):
                raise ConfigError(f"consumer '{name}' has the admin password as its key")
            owner = await self._keys.owner_of(key)
            mine = existing.get(name)
            if owner is not None and (mine is None or owner != mine.id):
                raise ConfigError(f"consumer '{name}' has a key that another user already has")

    async def reconcile(self) -> Reconciled:
        """Make the consumer users and keys match the files; ConfigError leaves all as it was."""
        wanted = read_consumers(self._home)
        existing = {
            user.name.removeprefix(CONSUMER_PREFIX): user
            for user in await self._users.list_named_with(CONSUMER_PREFIX)
        }
        await self._check_keys(wanted, existing)
        result = Reconciled(active=sorted(wanted))
        try:
            for name, key in sorted(wanted.items()):
                user = existing.get(name) or await self._user(name)
                if await self._keys.put_secret(user.id, name, key):
                    (result.changed if name in existing else result.added).append(name)
            for name, user in sorted(existing.items()):
                if name not in wanted and await self._keys.revoke_all(user.id):
                    result.removed.append(name)
        finally:
            if result.added or result.changed or result.removed:
                self._on_change()
        return result

    async def start(self) -> Reconciled:
        """At start: reconcile, and a ConfigError refuses the start."""
        result = await self.reconcile()
        if result.active or result.removed:
            log.info(
                "consumers: %s%s",
                ", ".join(result.active) or "none",
                f" (keys revoked: {', '.join(result.removed)})" if result.removed else "",
            )
        return result

    async def reload(self) -> Reconciled | None:
        """For SIGHUP: reconcile, or log why not and keep the consumers as they were."""
        try:
            result = await self.reconcile()
        except ConfigError as exc:
            log.error("consumers not reloaded, the previous ones stay: %s", exc.message)
            return None
        log.info(
            "consumers reloaded: %d active (added: %s; key changed: %s; removed: %s)",
            len(result.active),
            ", ".join(result.added) or "none",
            ", ".join(result.changed) or "none",
            ", ".join(result.removed) or "none",
        )
        return result
