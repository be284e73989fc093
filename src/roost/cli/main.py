"""The `roost` command: wires the command modules together."""

from __future__ import annotations

from typing import Annotated

import typer

from roost import __version__
from roost.cli import (
    chat,
    configuration,
    daemon,
    db,
    heartbeat,
    keys,
    memory,
    models,
    ps,
    pull,
    serve,
    stop,
    transcribe,
    users,
)

app = typer.Typer(
    name="roost",
    help="roost: a local-first AI assistant server that speaks the APIs your clients use.",
    no_args_is_help=True,
    add_completion=False,
    # Locals can hold the admin password or API keys; never print them in a traceback.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain click help: rich markup would eat "[speech]" in help texts and label every
    # flag `<bool>`; the sub-commands inherit this.
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"roost {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = None,
) -> None:
    """roost: a local-first AI assistant server that speaks the APIs your clients use."""


app.command("serve")(serve.serve)
# MemGPT's command is `memgpt server`; its users type that out of habit.
app.command("server", help="The same as `serve` (MemGPT's name for it).")(serve.serve)
app.add_typer(daemon.app, name="daemon")
daemon.app.command("heartbeat")(heartbeat.heartbeat)
app.command("chat")(chat.chat)
app.command("ask")(chat.ask)
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(configuration.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(models.app, name="models")
app.command("ps")(ps.ps)
app.command("stop")(stop.stop)
app.command("pull")(pull.pull)
app.add_typer(memory.app, name="memory")
app.command("transcribe")(transcribe.transcribe)


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(f"roost {__version__}")


def main() -> None:
    app(prog_name="roost")
