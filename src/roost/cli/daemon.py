"""`roost daemon start|stop|status|restart|reload`: the server in the background.

`start` runs `python -m roost.cli serve` in its own session with its output appended to
$ROOST_HOME/logs/roost.log, records its pid in $ROOST_HOME/roost.pid (and its address in
daemon.json beside it) and returns once /health answers. `stop`, `status` and `reload`
read those files only, so they work even while config.toml is broken.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli import process
from roost.cli.errors import EXIT_ERROR, EXIT_NOT_RUNNING, reports_errors
from roost.cli.serve import (
    LISTENING,
    HostOption,
    LogLevel,
    MaybeLogLevelOption,
    PortOption,
    SslOption,
    server_overrides,
)
from roost.config import default_home, load_settings

app = typer.Typer(help="Run the server in the background.", no_args_is_help=True)

TAIL_LINES = 20
_URL = re.compile(re.escape(LISTENING) + r" (https?://\S+)")

StartTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the server to answer.")
]
StopTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait after SIGTERM before SIGKILL.")
]


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def pid(self) -> Path:
        return self.home / "roost.pid"

    @property
    def state(self) -> Path:
        return self.home / "daemon.json"

    @property
    def log(self) -> Path:
        return self.home / "logs" / "roost.log"

    def clear(self) -> None:
        self.pid.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _serve_args(
    host: str | None, port: int | None, use_ssl: bool | None, log_level: LogLevel | None
) -> list[str]:
    """The flags given, to pass on to `roost serve`; unset ones stay unset there too."""
    args: list[str] = []
    if host is not None:
        args += ["--host", host]
    if port is not None:
        args += ["--port", str(port)]
    if use_ssl is not None:
        args.append("--use-ssl" if use_ssl else "--no-ssl")
    if log_level is not None:
        args += ["--log-level", log_level.value]
    return args


def _healthy(url: str) -> bool:
    import httpx

    try:
        # Our own child on this machine, possibly with its self-signed certificate: the
        # probe sends nothing secret and only asks whether the server answers.
        response = httpx.get(f"{url}/health", timeout=2.0, verify=False, trust_env=False)  # noqa: S501
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _wait_ready(pid: int, paths: Paths, offset: int, timeout: float) -> tuple[str | None, str]:
    """(url, "") once /health answers, else (None, why not)."""
    deadline = time.monotonic() + timeout
    url: str | None = None
    while time.monotonic() < deadline:
        if not process.is_running(pid):
            return None, "the server exited while starting"
        if url is None:
            found = _URL.search(_log_since(paths.log, offset))
            url = found.group(1) if found else None
        if url is not None and _healthy(url):
            return url, ""
        time.sleep(0.1)
    return None, f"the server did not answer within {timeout:g} s"


def _open_log(path: Path) -> int:
    # mkdir(parents=True) gives parents the default mode: make the private home first.
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # it may hold prompts and replies: the owner's only
    return fd


def _start(paths: Paths, args: list[str], timeout: float) -> None:
    from roost.services.container import admin_password_from_env, generate_admin_password

    pid = process.read_pid(paths.pid)
    if pid is not None and process.is_running(pid):
        url = paths.read_state().get("url", "?")
        typer.echo(f"roost is already running (pid {pid}) at {url}")
        return
    paths.clear()  # a stale pid file from a server that died
    env = {**os.environ, "ROOST_HOME": str(paths.home)}
    # Made here, not in the server: the server would only print it to its log file.
    password = None
    if admin_password_from_env() is None:
        password = env["ROOST_SERVER_PASS"] = generate_admin_password()
    fd = _open_log(paths.log)
    try:
        os.write(
            fd, f"--- roost daemon start {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z ---\n".encode()
        )
        offset = os.lseek(fd, 0, os.SEEK_END)
        argv = [sys.executable, "-m", "roost.cli", "serve", *args]
        pid = process.spawn(argv, env, fd)
    finally:
        os.close(fd)
    process.write_private(paths.pid, f"{pid}\n")
    url, problem = _wait_ready(pid, paths, offset, timeout)
    if url is None:
        if process.is_running(pid):
            process.terminate(pid, 5.0)
        paths.clear()
        tail = _log_since(paths.log, offset).splitlines()[-TAIL_LINES:]
        typer.echo(f"roost: {problem}; the end of {paths.log}:", err=True)
        for line in tail:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(EXIT_ERROR)
    state = {"pid": pid, "url": url, "args": args, "started_at": datetime.now(UTC).isoformat()}
    process.write_private(paths.state, json.dumps(state) + "\n")
    typer.echo(f"roost started (pid {pid}), listening on {url}")
    typer.echo(f"Log: {paths.log}")
    if password is not None:
        typer.echo(f"Generated admin server password for this session: {password}")


def _stop(paths: Paths, timeout: float) -> None:
    pid = process.read_pid(paths.pid)
    if pid is None:
        typer.echo("roost is not running")
        return
    if not process.is_running(pid):
        paths.clear()
        typer.echo("roost is not running (removed a stale pid file)")
        return
    graceful = process.terminate(pid, timeout)
    paths.clear()
    how = "" if graceful else f" (killed: it did not stop within {timeout:g} s)"
    typer.echo(f"roost stopped (pid {pid}){how}")


@app.command()
@reports_errors
def start(
    host: HostOption = None,
    port: PortOption = None,
    use_ssl: SslOption = None,
    log_level: MaybeLogLevelOption = None,
    timeout: StartTimeout = 15.0,
) -> None:
    """Start the server in the background and wait until it answers."""
    settings = load_settings(overrides=server_overrides(host, port, use_ssl))  # fail early
    _start(Paths(settings.home), _serve_args(host, port, use_ssl, log_level), timeout)


@app.command()
@reports_errors
def stop(timeout: StopTimeout = 20.0) -> None:
    """Stop the background server: SIGTERM, then SIGKILL after the timeout."""
    _stop(Paths(default_home()), timeout)


@app.command()
@reports_errors
def status() -> None:
    """Say whether the background server runs, where and as which pid (exit 3 if not)."""
    paths = Paths(default_home())
    pid = process.read_pid(paths.pid)
    if pid is None or not process.is_running(pid):
        if pid is not None:
            paths.clear()
        typer.echo("roost is not running")
        raise typer.Exit(EXIT_NOT_RUNNING)
    url = paths.read_state().get("url")
    typer.echo(f"roost is running (pid {pid}) at {url or 'an unknown address'}")
    if url and not _healthy(url):
        typer.echo(f"roost: warning: {url}/health does not answer", err=True)


@app.command()
@reports_errors
def reload() -> None:
    """Re-read the consumers' keys (secrets.toml) in the running server: sends it SIGHUP."""
    paths = Paths(default_home())
    pid = process.read_pid(paths.pid)
    if pid is None or not process.is_running(pid):
        typer.echo("roost is not running")
        raise typer.Exit(EXIT_NOT_RUNNING)
    os.kill(pid, signal.SIGHUP)
    typer.echo(f"roost (pid {pid}) is reloading its consumers; it logs the outcome in {paths.log}")


@app.command()
@reports_errors
def restart(
    host: HostOption = None,
    port: PortOption = None,
    use_ssl: SslOption = None,
    log_level: MaybeLogLevelOption = None,
    timeout: StartTimeout = 15.0,
) -> None:
    """Stop the background server and start it again (with the last flags if none given)."""
    # Check the settings before stopping anything: a broken config must not cost the
    # running server.
    settings = load_settings(overrides=server_overrides(host, port, use_ssl))
    paths = Paths(settings.home)
    args = _serve_args(host, port, use_ssl, log_level)
    if not args:
        previous = paths.read_state().get("args", [])
        args = [str(a) for a in previous] if isinstance(previous, list) else []
    _stop(paths, 20.0)
    _start(paths, args, timeout)
