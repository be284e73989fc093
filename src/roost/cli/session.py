"""A conversation driven from the terminal, for `roost chat` and `roost ask`.

The services are async; the terminal is not. ChatSession keeps one asyncio.Runner (one
event loop) for its lifetime and enters it for each step, so `input()` runs in the main
thread between steps and Ctrl-C raises KeyboardInterrupt there as in any program. Inside
a step, the runner turns Ctrl-C into cancelling that step, then KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import typer
from rich.console import Console

from roost.cli.runtime import open_services
from roost.config import Settings
from roost.core.errors import NotFound
from roost.core.events import ContentDelta, ReasoningDelta, TurnDone, TurnFailed

if TYPE_CHECKING:
    from roost.services.container import Services
    from roost.services.turns import TurnHandle

# After Ctrl-C the turn is cancelled and saves what it has; this bounds the wait for that.
CANCEL_WAIT_SECONDS = 10.0


@runtime_checkable
class Loadable(Protocol):
    """Providers that load a model before their first reply (llama.cpp does)."""

    @property
    def loaded(self) -> bool: ...

    async def load(self) -> object: ...


class ChatSession:
    def __init__(self, settings: Settings, *, model: str | None, session_id: str | None) -> None:
        self._settings = settings
        self._runner = asyncio.Runner()
        self._stack = AsyncExitStack()
        self._services: Services | None = None
        self.model = model
        self.session_id = session_id
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def __enter__(self) -> Self:
        try:
            self._services = self._runner.run(
                self._stack.enter_async_context(open_services(self._settings))
            )
        except BaseException:
            self._runner.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self._stack.aclose())
        finally:
            self._runner.close()

    @property
    def services(self) -> Services:
        assert self._services is not None, "use ChatSession as a context manager"
        return self._services

    def load_model(self) -> str:
        """Resolve the model name and load it now, behind a spinner. Returns the name."""
        registry = self.services.providers
        name, provider = registry.get(self.model)  # an unknown name lists the configured ones
        if isinstance(provider, Loadable) and not provider.loaded:
            with self.console.status(f"Loading model {name} …"):
                self._runner.run(provider.load())
        self.model = name
        return name

    def history_length(self) -> int | None:
        """Messages already in the chosen session; None for a session yet to be made."""
        if self.session_id is None:
            return None
        user = self.services.auth.default_user
        try:
            _, messages = self._runner.run(
                self.services.conversations.with_messages(user, self.session_id)
            )
        except NotFound:
            return None
        return len(messages)

    def send(self, text: str) -> TurnDone | TurnFailed:
        """One turn, streamed to stdout. Ctrl-C cancels it (what was said is saved) and
        then raises KeyboardInterrupt for the caller to decide what comes next."""
        handle = self._runner.run(
            self.services.turns.start(
                self.services.auth.default_user,
                text,
                session_id=self.session_id,
                # A named session (`--session work`) is made on first use.
                create_session=self.session_id is not None,
                model=self.model,
            )
        )
        self.session_id = handle.conversation.public_id
        try:
            return self._runner.run(self._stream(handle))
        except KeyboardInterrupt:
            handle.cancel()
            with contextlib.suppress(TimeoutError):
                self._runner.run(asyncio.wait_for(handle.result(), CANCEL_WAIT_SECONDS))
            raise

    async def _stream(self, handle: TurnHandle) -> TurnDone | TurnFailed:
        final: TurnDone | TurnFailed = TurnFailed(
            "internal_error", "the turn ended without a result"
        )
        ended_line = True
        status = self.console.status("Thinking …")
        status.start()
        try:
            async for event in handle.events():
                if isinstance(event, ContentDelta | ReasoningDelta | TurnDone | TurnFailed):
                    status.stop()  # idempotent; output must not interleave with the spinner
                if isinstance(event, ContentDelta) and event.text:
                    typer.echo(event.text, nl=False)
                    ended_line = event.text.endswith("\n")
                elif isinstance(event, TurnDone | TurnFailed):
                    final = event
        finally:
            status.stop()
            if not ended_line:
                typer.echo("")
            sys.stdout.flush()
        return final
