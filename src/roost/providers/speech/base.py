"""The speech-to-text interface, beside the chat one: an audio file in, a transcript out."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol, TypeVar

from roost.core.errors import RoostError
from roost.core.speech import SpeechOptions, Transcript

T = TypeVar("T")


class SpeechProvider(Protocol):
    """An engine. Bad audio raises InvalidRequest; an engine failure raises ProviderError."""

    name: str

    async def transcribe(
        self, file: BinaryIO, filename: str | None, options: SpeechOptions
    ) -> Transcript: ...

    async def probe(self) -> str | None:
        """None when the engine can be used, else why not. Cheap: loads no weights."""
        ...

    async def close(self) -> None: ...


class Cancelled(RoostError):
    """The caller went away; the worker thread stops at its next chunk."""


async def in_thread(work: Callable[[threading.Event], T]) -> T:
    """Run blocking `work` in a worker thread; cancelling the caller sets its stop event.

    The thread is not killed (it cannot be): `work` checks the event between chunks."""
    stop = threading.Event()
    task = asyncio.ensure_future(asyncio.to_thread(work, stop))
    task.add_done_callback(_retrieve)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.set()
        raise


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A caller that was cancelled never reads the result; reading it here keeps asyncio
    # from reporting a "never retrieved" exception.
    if not task.cancelled():
        task.exception()
