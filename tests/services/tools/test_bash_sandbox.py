"""The bash sandbox with real bubblewrap and real bash: what a command can and cannot reach.

A model's command is the attacker here: it must not read the server's environment
(ROOST_SERVER_PASS is admin everywhere), $ROOST_HOME (database, secrets, keys), anything
outside the workspace for writing, or the network unless the operator allows it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.config import Settings
from roost.services.memory.workspace import Workspace
from roost.services.tools.base import ToolContext
from roost.services.tools.bash import Bash
from tests.services.tools.conftest import Env, refused

BASH = Bash()
ROOT = Path(__file__).resolve().parents[3]


def context(env: Env, settings: Settings, **changes: Any) -> ToolContext:
    """The default user's context with bash on and $ROOST_HOME known, as the server has it."""
    tools = settings.tools.model_copy(update={"bash": True, "bash_timeout": 20, **changes})
    return ToolContext(env.user, env.context.workspace, env.memory, tools)


def run_in_a_server_process(home: Path, command: str, secret: str) -> str:
    """The tool's output when the process running it was started with the secret in its
    environment, as `roost serve` is with ROOST_SERVER_PASS."""
    request = {
        "home": str(home),
        "workspace": str(home / "workspace"),
        "command": command,
        "settings": {"bash": True, "bash_timeout": 20},
    }
    environ = {**os.environ, "ROOST_SERVER_PASS": secret, "ROOST_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.services.tools.bash_child"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environ,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return str(answer["text"])


def test_the_server_environment_is_out_of_reach(tmp_path: Path) -> None:
    secret = "admin-" + secrets.token_hex(16)
    command = (
        "echo parent=$PPID; tr '\\0' '\\n' < /proc/$PPID/environ; "
        "echo init; tr '\\0' '\\n' < /proc/1/environ; "
        "echo all; cat /proc/[0-9]*/environ | tr '\\0' '\\n'; true"
    )
    got = run_in_a_server_process(tmp_path / "home", command, secret)
    assert secret not in got
    assert "ROOST_SERVER_PASS" not in got
    assert "ROOST_HOME" not in got
    # the reads worked: they found the sandbox's own processes, with nothing to give away
    assert "parent=1\n" in got
    assert "PATH=/usr/local/bin:/usr/bin:/bin" in got


async def test_roost_home_is_not_visible(env: Env, settings: Settings) -> None:
    home = settings.home
    assert env.root.is_relative_to(home)  # the default layout: $ROOST_HOME/workspace
    secret = secrets.token_hex(16)
    (home / "roost.db").write_text(f"database {secret}\n")
    (home / "secrets.toml").write_text(f'[consumer]\napi_keys = ["{secret}"]\n')
    (home / "workspaces" / "someone").mkdir(parents=True)
    (home / "workspaces" / "someone" / "MEMORY.md").write_text(f"{secret}\n")
    command = (
        f"cat {home}/roost.db ../roost.db {home}/secrets.toml "
        f"{home}/workspaces/someone/MEMORY.md; echo listing; ls -A {home}; true"
    )
    got = await BASH.run(context(env, settings), {"command": command})
    assert secret not in got
    for path in ("roost.db", "../roost.db", "secrets.toml", "workspaces/someone/MEMORY.md"):
        name = path if path.startswith("..") else f"{home}/{path}"
        assert f"cat: {name}: No such file or directory" in got
    assert got.endswith("listing\nworkspace\n[exit code 0]")  # only the workspace is there


async def test_only_harmless_system_files_are_visible(env: Env, settings: Settings) -> None:
    hidden = ["/etc/shadow", "/etc/ssl/private", "/root", "/var", "/run", "/home", "/srv"]
    # (a folder the workspace lies in is there, as the way to it)
    hidden = [path for path in hidden if not env.root.is_relative_to(path)]
    command = (
        f"for path in {' '.join(hidden)}; do "
        'test -e "$path" && echo "visible: $path"; done; '
        "cat /etc/passwd > /dev/null && ls /etc/ssl/certs > /dev/null && awk 'BEGIN { print 1 }'"
    )
    got = await BASH.run(context(env, settings), {"command": command})
    assert got == "1\n[exit code 0]"


async def test_roost_home_inside_the_workspace_is_covered(env: Env, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "everything")
    home = workspace.root / ".roost"
    home.mkdir()
    (home / "secrets.toml").write_text("password = 'hidden-from-bash'\n")
    (workspace.root / "notes.txt").write_text("visible\n")
    tools = Settings(home=home).tools.model_copy(update={"bash": True, "bash_timeout": 20})
    got = await BASH.run(
        ToolContext(env.user, workspace, env.memory, tools),
        {"command": "cat notes.txt; ls -A .roost; cat .roost/secrets.toml; touch .roost/x; true"},
    )
    assert "visible\n" in got
    assert "hidden-from-bash" not in got
    assert "cat: .roost/secrets.toml: No such file or directory" in got
    assert "Read-only file system" in got
    assert sorted(path.name for path in home.iterdir()) == ["secrets.toml"]

    # a workspace that is $ROOST_HOME itself cannot be shown without it: refused
    tools = Settings(home=workspace.root).tools.model_copy(update={"bash": True})
    message = await refused(BASH, ToolContext(env.user, workspace, env.memory, tools), command="ls")
    assert "workspace that is $ROOST_HOME itself" in message


async def test_writes_persist_in_the_workspace_and_nowhere_else(
    env: Env, settings: Settings, tmp_path: Path
) -> None:
    probe = Path("/roost-sandbox-probe-" + secrets.token_hex(8))
    system = Path("/usr/roost-sandbox-probe-" + secrets.token_hex(8))
    outside = tmp_path / "outside.txt"
    command = (
        "echo kept > made.txt && mkdir -p sub && echo deep > sub/file.txt && echo wrote; "
        f"echo lost > {outside}; echo lost > {probe}; echo lost > {system}; "
        "echo scratch > /tmp/scratch.txt && cat /tmp/scratch.txt; true"
    )
    try:
        got = await BASH.run(context(env, settings), {"command": command})
        assert "wrote\n" in got
        assert (env.root / "made.txt").read_text() == "kept\n"
        assert (env.root / "sub" / "file.txt").read_text() == "deep\n"
        assert not outside.exists()
        assert not probe.exists()
        assert not system.exists()
        assert f"{probe}: Read-only file system" in got
        assert f"{system}: Read-only file system" in got
        assert "scratch\n" in got  # the sandbox's own /tmp works, and is gone after
        later = await BASH.run(
            context(env, settings),
            {"command": "cat made.txt; test -e /tmp/scratch.txt || echo gone"},
        )
        assert later == "kept\ngone\n[exit code 0]"
    finally:
        probe.unlink(missing_ok=True)  # only there if the sandbox failed
        system.unlink(missing_ok=True)


async def test_network_is_off_unless_switched_on(env: Env, settings: Settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        command = f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
        message = await refused(BASH, context(env, settings), command=command)
        assert "connected" not in message
        assert "Connection refused" in message or "Network is unreachable" in message
        got = await BASH.run(context(env, settings, bash_network=True), {"command": command})
        assert got == "connected\n[exit code 0]"


async def test_without_bubblewrap_bash_refuses_and_says_how_to_install_it(
    env: Env, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("roost.services.tools.sandbox.BWRAP", str(tmp_path / "no-bwrap"))
    marker = env.root / "ran.txt"
    message = await refused(BASH, context(env, settings), command="touch ran.txt")
    assert "apt-get install bubblewrap" in message
    assert '[tools] bash_sandbox = "none"' in message
    assert not marker.exists()  # nothing ran


async def test_bash_sandbox_none_is_an_explicit_opt_out(
    env: Env, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("roost.services.tools.sandbox.BWRAP", str(tmp_path / "no-bwrap"))
    outside = tmp_path / "outside.txt"
    got = await BASH.run(
        context(env, settings, bash_sandbox="none"),
        {"command": f"echo unconfined > {outside}; echo parent=$PPID"},
    )
    assert outside.read_text() == "unconfined\n"  # the server's user, anywhere
    assert f"parent={os.getpid()}\n" in got  # the server's own process tree


def test_bash_sandbox_accepts_only_known_values() -> None:
    assert Settings().tools.bash_sandbox == "bubblewrap"
    assert Settings().tools.bash_network is False
    with pytest.raises(ValueError, match="bash_sandbox"):
        Settings.model_validate({"tools": {"bash_sandbox": "firejail"}})
