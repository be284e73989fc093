"""`roost pull NAME`: a GGUF model from the Hugging Face Hub into the model store.

Runs the pull in this process (no server needed); a running server sees the model at its
next request. Progress is a rich bar per file (size, speed, time left) on stdout; a failure
is one line on stderr and exit status 1. Ctrl-C stops the download and keeps the partial
file: the same command again resumes it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.errors import EXIT_INTERRUPTED, fail, reports_errors
from roost.config import load_settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from roost.providers.store.progress import PullProgress


NAME_WIDTH = 32  # the file's name before its bar, shortened at the start


def _size(count: int) -> str:
    from rich.filesize import decimal

    return decimal(count)


class _Display:
    """PullProgress events as rich progress bars, one per file."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = Console(highlight=False)
        self.progress: Progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Display:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tasks:  # started with the first download: no empty bar before it
            self.progress.stop()

    def say(self, text: str) -> None:
        self.console.print(text, markup=False)

    def __call__(self, event: PullProgress) -> None:
        if event.status == "downloading" and event.file is not None:
            task = self._tasks.get(event.file)
            if task is None:
                self.progress.start()
                name = event.file.rsplit("/", 1)[-1]
                if len(name) > NAME_WIDTH:
                    name = "…" + name[-(NAME_WIDTH - 1) :]  # the end: quant, part number
                self._tasks[event.file] = self.progress.add_task(
                    name, total=event.total, completed=event.completed or 0
                )
            else:
                self.progress.update(task, completed=event.completed or 0)
        elif event.status == "verifying" and event.file is not None:
            if event.file not in self._tasks:  # already on disk: hashed, not downloaded
                self.say(f"verifying {event.file} ({_size(event.total or 0)}, already here)")
        elif event.message and (event.status != "success" or "up to date" in event.message):
            self.say(event.message)


class _HubLog(logging.Handler):
    """huggingface_hub's warnings (e.g. a dropped connection it resumes) as one dim line
    above the bars, not its own stderr lines."""

    def __init__(self, display: _Display) -> None:
        super().__init__(logging.WARNING)
        self._display = display

    def emit(self, record: logging.LogRecord) -> None:
        first = record.getMessage().strip().splitlines()
        if first:
            self._display.say(f"hub: {first[0][:200]}")


@reports_errors
def pull(
    name: Annotated[
        str,
        typer.Argument(
            help="hf.co/{owner}/{repo}:{quant} (the quant may be left out: Q4_K_M, or the "
            "nearest the repo has), or {owner}/{repo}/{file}.gguf."
        ),
    ],
) -> None:
    """Download a GGUF model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN) into the
    model store; verified, resumable, usable by its name at once."""
    from roost.providers.store import hub
    from roost.providers.store.manifest import ModelStore

    settings = load_settings()
    store = ModelStore.for_home(settings.home)
    hub_logger = logging.getLogger("huggingface_hub")
    display = _Display()
    handler = _HubLog(display)
    saved: dict[str, Any] = {"propagate": hub_logger.propagate, "handlers": hub_logger.handlers}
    hub_logger.handlers = [handler]
    hub_logger.propagate = False
    try:
        with display:
            model = hub.pull(name, store, on_progress=display)
    except KeyboardInterrupt:
        fail(
            f"pull of {name} interrupted; the partial download is kept: run the same "
            "command again to resume it",
            EXIT_INTERRUPTED,
        )
    finally:
        hub_logger.handlers = saved["handlers"]
        hub_logger.propagate = saved["propagate"]
    quant = f", {model.quantization}" if model.quantization else ""
    typer.echo(f"{model.name}: {_size(model.size)}{quant}, verified (sha256)")
    typer.echo(f"stored in {store.model_path(model)}")
    typer.echo(f'use it by its name, e.g. roost ask -m {model.name} "hello"')
