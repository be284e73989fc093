"""Showing records: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def when(moment: datetime | None) -> str:
    """Local time to the minute: what a person compares with their clock."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "-"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo(empty, err=True)
        return
    table = Table(*columns, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        table.add_row(*row)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 1000  # piped: rich would assume 80 columns and cut the ids short
    console.print(table)
