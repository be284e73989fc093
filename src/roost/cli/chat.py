"""`roost chat` (interactive, with history) and `roost ask` (one question), in-process."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.errors import fail, reports_errors
from roost.config import load_settings
from roost.core.events import TurnFailed

if TYPE_CHECKING:
    from roost.cli.session import ChatSession

ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="A model named in config (default: default_model)."),
]
SessionOption = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Continue this session, or start one with this id."),
]
EXIT_WORDS = frozenset({"/exit", "/quit", "/bye"})
PROMPT = "> "


def _banner(chat: ChatSession, model: str) -> str:
    count = chat.history_length()
    if chat.session_id is None:
        where = "a new session"
    elif count is None:
        where = f"new session '{chat.session_id}'"
    else:
        where = f"session '{chat.session_id}' ({count} messages so far)"
    return f"Chatting with {model} in {where}. /exit or Ctrl-D quits; Ctrl-C stops a reply."


def _read_line() -> str | None:
    """The next message, or None when the user is done (EOF, Ctrl-C, /exit)."""
    while True:
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return None
        text = line.strip()
        if text.lower() in EXIT_WORDS:
            return None
        if text:
            return line


@reports_errors
def chat(model: ModelOption = None, session: SessionOption = None) -> None:
    """Chat with a model in this terminal; the conversation is saved as a session."""
    from roost.cli.session import ChatSession  # rich and asyncio: not for `roost --help`

    settings = load_settings()
    with ChatSession(settings, model=model, session_id=session) as talk:
        name = talk.load_model()
        talk.console.print(_banner(talk, name), style="dim", markup=False)
        turns = 0
        while (line := _read_line()) is not None:
            turns += 1
            try:
                outcome = talk.send(line)
            except KeyboardInterrupt:
                talk.console.print("[stopped]", style="dim", markup=False)
                continue
            if isinstance(outcome, TurnFailed):
                talk.console.print(f"roost: {outcome.message}", style="red", markup=False)
            typer.echo("")
        if turns and talk.session_id is not None:
            talk.console.print(
                f"Session {talk.session_id} saved; continue it with "
                f"`roost chat --session {talk.session_id}`.",
                style="dim",
                markup=False,
            )


@reports_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")],
    model: ModelOption = None,
    session: SessionOption = None,
) -> None:
    """Ask one question and stream the answer to stdout."""
    if question == "-":
        question = sys.stdin.read()
    from roost.cli.session import ChatSession

    settings = load_settings()
    with ChatSession(settings, model=model, session_id=session) as talk:
        talk.load_model()
        outcome = talk.send(question)  # Ctrl-C: the turn is cancelled, then exit 130
    if isinstance(outcome, TurnFailed):
        fail(outcome.message)
