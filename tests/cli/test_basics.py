"""version, help, config path/show, and how configuration errors are reported."""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from roost import __version__
from tests import backend

Invoke = Callable[..., Result]
RunRoost = Callable[..., subprocess.CompletedProcess[str]]


def test_version_command_and_flag(cli: Invoke) -> None:
    for args in (["version"], ["--version"]):
        result = cli(*args)
        assert result.exit_code == 0
        assert result.stdout == f"roost {__version__}\n"


def test_help_lists_the_commands(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("serve", "daemon", "chat", "ask", "users", "keys", "config", "version"):
        assert command in result.stdout
    assert cli("server", "--help").exit_code == 0  # the MemGPT spelling is an alias


def test_config_path_works_even_when_the_file_is_broken(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "config.toml").write_text("this is not toml [")
    result = cli("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(roost_home / "config.toml")


def test_config_show_is_toml_with_every_layer_applied(
    cli: Invoke, roost_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (roost_home / "config.toml").write_text('[chat]\nsystem_prompt = "Be brief."\n')
    monkeypatch.setenv("ROOST_SERVER_PORT", "4242")
    result = cli("config", "show")
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.stdout)  # the output can be pasted into config.toml
    assert shown["server"]["port"] == 4242
    assert shown["chat"]["system_prompt"] == "Be brief."
    assert shown["models"]["smollm2"]["provider"] == "llamacpp"
    assert "home" not in shown  # ROOST_HOME is not a key config.toml accepts
    assert f"ROOST_HOME = {roost_home}" in result.stdout


def test_config_show_never_prints_a_database_password(
    cli: Invoke, roost_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(backend.URL_ENV, raising=False)  # the file's URL is the subject here
    url = "postgresql://roost:s3cret-pw@db.example/roost"
    (roost_home / "config.toml").write_text(f'database_url = "{url}"\n')
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "s3cret-pw" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["database_url"] == "postgresql://roost:***@db.example/roost"


def test_unknown_key_is_one_line_and_exit_2(cli: Invoke, roost_home: Path) -> None:
    config = roost_home / "config.toml"
    config.write_text("[server]\nprot = 8080\n")
    for args in (["config", "show"], ["users", "list"], ["serve"], ["ask", "hi"]):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "server.prot" in result.stderr
        assert str(config) in result.stderr
        assert "Traceback" not in result.output
        assert result.stderr.count("\n") == 1


def test_serve_process_reports_config_errors_without_traceback(
    roost_home: Path, run_roost: RunRoost
) -> None:
    (roost_home / "config.toml").write_text("[server]\nprot = 8080\n")
    done = run_roost("serve")
    assert done.returncode == 2
    assert "unknown key 'server.prot'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_config_error_found_while_starting_is_still_one_line(
    roost_home: Path, run_roost: RunRoost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(backend.URL_ENV, raising=False)  # the file's URL is the subject here
    # database_url is only checked when the app opens the database, inside uvicorn.
    (roost_home / "config.toml").write_text('database_url = "mysql://u:pw@host/db"\n')
    done = run_roost("serve", "--port", "0")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("roost: config error: database_url")
    assert "pw@" not in done.stderr


def test_bad_flag_value_is_a_config_error(cli: Invoke) -> None:
    result = cli("serve", "--port", "70000")
    assert result.exit_code == 2
    assert "server.port" in result.stderr
    assert "Traceback" not in result.output


def test_serve_refuses_when_the_server_is_disabled(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "config.toml").write_text("[server]\nenabled = false\n")
    result = cli("serve")
    assert result.exit_code == 2
    assert "enabled = false" in result.stderr


def _helps(cli: Invoke, *path: str) -> list[tuple[str, str]]:
    """`--help` of this command and of every sub-command under it: (command, output)."""
    from typer.main import get_command

    from roost.cli.main import app

    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    found = [(" ".join(path) or "roost", result.stdout)]
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for name in getattr(command, "commands", {}):
        found += _helps(cli, *path, name)
    return found


def test_help_text_is_shown_as_written(cli: Invoke) -> None:
    helps = _helps(cli)
    assert len(helps) > 20
    for command, text in helps:
        assert "<bool>" not in text, (command, text)  # flags take no value
    root = dict(helps)["roost"]
    assert "with the [speech] engine" in root  # not swallowed as markup
    assert "server" in root.replace("serve ", "")  # the alias is listed
    assert "The same as `serve`" in root
