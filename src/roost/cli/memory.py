"""`roost memory search|reindex|stats|path`: the markdown workspace and its index.

They work on the files and the database directly; no server is needed (a running server's
watcher picks up whatever these change).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from roost.cli.display import JsonOption, iso, print_json, print_table
from roost.cli.errors import reports_errors
from roost.cli.runtime import run_with_services
from roost.config import load_settings

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn, TaskID

    from roost.core.records import User
    from roost.services.container import Services

app = typer.Typer(help="Search and index the memory workspace.", no_args_is_help=True)

UserOption = Annotated[str, typer.Option("--user", "-u", help="Whose workspace (name or id).")]


async def _user(services: Services, name: str) -> User:
    return await services.users.resolve(name)


@app.command()
@reports_errors
def search(
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 10,
    user: UserOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Search the workspace: best matches first, with file and lines."""

    async def action(services: Services) -> list[Any]:
        return list(await services.memory.search(await _user(services, user), query, limit))

    hits = run_with_services(load_settings(), action)
    if as_json:
        print_json([asdict(hit) for hit in hits])
        return
    rows = [
        [f"{h.file}:{h.line_start}-{h.line_end}", f"{h.score:.3f}", _preview(h.content)]
        for h in hits
    ]
    print_table(["WHERE", "SCORE", "TEXT"], rows, "No matches.")


def _preview(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class ReindexBar:
    """One progress line per phase of a reindex, each with its own count and clock: the
    index pass over the files, then with hybrid search the embedding model's load and
    the embedding of new chunks (what used to be silence after 100%)."""

    LABELS: ClassVar[dict[str, str]] = {
        "files": "Indexing files",
        "model": "Loading the embedding model",
        "embedding": "Embedding chunks",
    }

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        task = self._tasks.get(phase)
        if task is None:
            for earlier in self._tasks.values():  # a new phase ends the ones before it
                end = self._bar.tasks[earlier].total or 1
                self._bar.update(earlier, total=end, completed=end)
                self._bar.stop_task(earlier)
            task = self._bar.add_task(self.LABELS.get(phase, phase), total=None)
            self._tasks[phase] = task
        self._bar.update(task, completed=done, total=total or None)

    @staticmethod
    def columns() -> list[ProgressColumn]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        return [
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]


@app.command()
@reports_errors
def reindex(
    user: UserOption = "default",
    force: Annotated[bool, typer.Option("--force", help="Re-read unchanged files too.")] = False,
) -> None:
    """Bring the index up to date with the workspace files (and embed new chunks when
    search is hybrid)."""
    from rich.progress import Progress

    with Progress(*ReindexBar.columns(), transient=True) as bar:
        progress = ReindexBar(bar)

        async def action(services: Services) -> Any:
            owner = await _user(services, user)
            return await services.memory.reindex(owner, force=force, progress=progress)

        result = run_with_services(load_settings(), action)
    embedded = f", embedded {result.embedded} chunks" if result.embedded else ""
    typer.echo(
        f"Indexed {result.indexed} files ({result.chunks} chunks), skipped {result.skipped} "
        f"unchanged, removed {result.removed}{embedded}, in {result.seconds:.2f} s."
    )


@app.command()
@reports_errors
def stats(user: UserOption = "default", as_json: JsonOption = False) -> None:
    """Workspace files and index size."""

    async def action(services: Services) -> Any:
        return await services.memory.stats(await _user(services, user))

    found = run_with_services(load_settings(), action)
    data = asdict(found)
    data["index"]["last_indexed"] = iso(found.index.last_indexed)
    if as_json:
        print_json(data)
        return
    files, index = data["files"], data["index"]
    print_table(
        ["WHAT", "VALUE"],
        [
            ["workspace", data["workspace"]],
            ["files", str(files["total"])],
            [
                "MEMORY.md",
                f"{files['memory_md']['size_bytes']} bytes, {files['memory_md']['lines']} lines",
            ],
            ["HEARTBEAT.md", f"{files['heartbeat_md']['size_bytes']} bytes"],
            [
                "daily logs",
                f"{files['daily_logs']['count']} ({files['daily_logs']['total_size_bytes']} bytes)",
            ],
            ["chunks", str(index["chunks"])],
            ["last indexed", index["last_indexed"] or "never"],
            ["database", f"{index['database_size_bytes']} bytes"],
        ],
        "",
    )


@app.command()
@reports_errors
def path(user: UserOption = "default") -> None:
    """Print the workspace folder (e.g. `cd $(roost memory path)`)."""

    async def action(services: Services) -> str:
        return str(services.memory.workspace_for(await _user(services, user)).root)

    typer.echo(run_with_services(load_settings(), action))
