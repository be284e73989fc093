"""`roost config show|path`: the effective settings and where the file lives."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

from roost.cli.display import JsonOption
from roost.cli.errors import reports_errors
from roost.config import default_home, load_settings

app = typer.Typer(help="Show the settings roost would use.", no_args_is_help=True)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def redact_url(url: str) -> str:
    """A database URL without its password: `config show` output gets pasted into issues."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # JSON escapes are valid TOML ones


def to_toml(data: dict[str, Any], prefix: str = "") -> list[str]:
    """TOML for a nested dict of plain values; unset (None) values become comments, since
    TOML has no null and the line still tells which key could be set."""
    lines: list[str] = []
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if key in tables:
            continue
        if value is None:
            lines.append(f"# {_key(key)} = (not set)")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, table in tables.items():
        name = f"{prefix}.{_key(key)}" if prefix else _key(key)
        inner = to_toml(table, name)
        # A table holding only tables ([models] here) needs no header of its own.
        if any(not isinstance(v, dict) for v in table.values()) or not table:
            lines += ["", f"[{name}]"]
        lines += inner
    return lines


@app.command()
@reports_errors
def show(as_json: JsonOption = False) -> None:
    """Print the effective settings: defaults < config.toml < ROOST_* environment."""
    settings = load_settings()
    data = settings.model_dump(mode="json")
    if data.get("database_url"):
        data["database_url"] = redact_url(data["database_url"])
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    home = data.pop("home")  # set by ROOST_HOME, not a key config.toml accepts
    header = [
        f"# Effective settings: built-in defaults < {settings.config_path} < ROOST_* environment.",
        f"# ROOST_HOME = {home}",
    ]
    if not settings.database_url:
        header.append(f"# database (from ROOST_HOME): {redact_url(settings.db_url)}")
    typer.echo("\n".join([*header, "", *to_toml(data)]))


@app.command()
def path() -> None:
    """Print the path of config.toml (whether or not it exists, or parses)."""
    typer.echo(str(default_home() / "config.toml"))
