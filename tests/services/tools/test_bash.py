"""bash with real subprocesses (in the bubblewrap sandbox unless a test says otherwise):
workspace folder, no stdin, scrubbed env, timeout, cap. test_bash_sandbox.py: what the
sandbox keeps out."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import time
from pathlib import Path

import pytest

from roost.services.tools.base import ToolContext
from roost.services.tools.bash import Bash
from tests.services.tools.conftest import Env, refused

BASH = Bash()


@pytest.fixture
def on(env: Env) -> ToolContext:
    return env.with_settings(bash=True, bash_timeout=20)


@pytest.fixture(params=["bubblewrap", "none"])
def isolation(env: Env, request: pytest.FixtureRequest) -> ToolContext:
    """bash on, in the sandbox and (the operator's explicit opt-out) without it."""
    return env.with_settings(bash=True, bash_timeout=20, bash_sandbox=request.param)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, ProcessLookupError):  # gone between the lookup and the read
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its new parent


async def gone(pid: int) -> bool:
    for _ in range(100):
        if not alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


def marker() -> str:
    """A unique `sleep` argument (seconds) that finds the process from outside any sandbox."""
    return f"100.{secrets.randbelow(10**9):09d}"


def host_pids(argument: str) -> list[int]:
    """Live processes, as this process sees them, with `argument` in their command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in argv and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


async def running(argument: str) -> list[int]:
    for _ in range(500):
        if found := host_pids(argument):
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no process with {argument} in its command line")


async def none_left(argument: str) -> bool:
    for _ in range(100):
        if not host_pids(argument):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_off_unless_switched_on(env: Env) -> None:
    assert await refused(BASH, env.context, command="echo hi") == (
        "the bash tool is turned off ([tools] bash = false)"
    )


async def test_runs_in_the_workspace_and_reports_the_exit_code(env: Env, on: ToolContext) -> None:
    (env.root / "hello.txt").write_text("hi\n")
    got = await BASH.run(on, {"command": "pwd; echo home=$HOME; cat hello.txt; echo err >&2"})
    assert got == f"{env.root}\nhome={env.root}\nhi\nerr\n[exit code 0]"
    message = await refused(BASH, on, command="echo partial; exit 3")
    assert message == "partial\n[exit code 3]"
    assert await BASH.run(on, {"command": "true"}) == "[exit code 0]"


async def test_stdin_is_empty(on: ToolContext) -> None:
    got = await BASH.run(on, {"command": 'cat; read -r line; echo "status=$? line=[$line]"'})
    assert got == "status=1 line=[]\n[exit code 0]"


async def test_environment_has_no_secrets(on: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-leak")
    monkeypatch.setenv("ROOST_SERVER_PASS", "hunter2-do-not-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-do-not-leak")
    monkeypatch.setenv("DB_PASSWORD", "pw-do-not-leak")
    got = await BASH.run(on, {"command": "env"})
    assert "do-not-leak" not in got
    names = {line.split("=", 1)[0] for line in got.splitlines()[:-1]}
    assert names <= {"PATH", "HOME", "LANG", "TERM", "PWD", "SHLVL", "_"}
    assert "TERM=dumb" in got.splitlines()


async def test_timeout_kills_the_whole_process_group(isolation: ToolContext) -> None:
    on = isolation
    context = on.settings.model_copy(update={"bash_timeout": 1})
    child, grandchild = marker(), marker()
    command = f"sleep {child} & sh -c 'exec sleep {grandchild}' & wait"
    started = time.monotonic()
    call = asyncio.create_task(
        refused(BASH, ToolContext(on.user, on.workspace, on.memory, context), command=command)
    )
    children = await running(child) + await running(grandchild)
    message = await call
    assert time.monotonic() - started < 10
    assert message.endswith("[timed out after 1 s; the command was killed]")
    for pid in children:
        assert await gone(pid), f"process {pid} outlived the timeout"


async def test_background_jobs_do_not_outlive_the_command(isolation: ToolContext) -> None:
    child = marker()
    command = (
        f"sleep {child} & until grep -qs {child} /proc/$!/cmdline; do sleep 0.01; done; "
        "echo started"
    )
    started = time.monotonic()
    got = await BASH.run(isolation, {"command": command})
    assert time.monotonic() - started < 10  # not held up by the job's open output
    assert got == "started\n[exit code 0]"
    assert await none_left(child)


async def test_cancelling_the_call_kills_the_command(isolation: ToolContext) -> None:
    child = marker()
    task = asyncio.create_task(BASH.run(isolation, {"command": f"sleep {child}"}))
    [pid] = await running(child)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(pid)


async def test_output_is_capped_keeping_start_and_end(on: ToolContext) -> None:
    context = ToolContext(
        on.user, on.workspace, on.memory, on.settings.model_copy(update={"output_chars": 1_000})
    )
    got = await BASH.run(context, {"command": "seq 1 200000"})
    assert got.startswith("1\n2\n3\n")
    assert got.endswith("199999\n200000\n[exit code 0]")
    assert re.search(r"\n\[… \d+ characters of output cut …\]\n", got)
    assert len(got) < 1_100


async def test_endless_output_is_stopped(on: ToolContext) -> None:
    message = await refused(BASH, on, command="yes")
    assert message.startswith("y\ny\n")
    assert message.endswith("[stopped after more than 64 MiB of output]")


async def test_a_process_that_leaves_the_group_cannot_hold_the_call(
    isolation: ToolContext,
) -> None:
    on = isolation
    context = ToolContext(
        on.user, on.workspace, on.memory, on.settings.model_copy(update={"bash_timeout": 1})
    )
    child = marker()
    command = (
        f"setsid sh -c 'echo started > escaped.txt; exec sleep {child}' & "
        "until [ -s escaped.txt ]; do sleep 0.01; done; echo started"
    )
    started = time.monotonic()
    if on.settings.bash_sandbox == "none":  # it gets away; the call ends at the time limit
        got = await refused(BASH, context, command=command)
        assert time.monotonic() - started < 5  # the timeout, not the escaped sleep
        assert got == "started\n[timed out after 1 s; the command was killed]"
        for pid in await running(child):
            os.kill(pid, signal.SIGKILL)
    else:  # the sandbox's PID namespace ends with the command, and the process with it
        got = await BASH.run(context, {"command": command})
        assert time.monotonic() - started < 1
        assert got == "started\n[exit code 0]"
        assert await none_left(child)
