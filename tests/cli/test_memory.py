"""`roost memory` on a real workspace and database, no server."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from roost.cli.memory import ReindexBar
from tests.cli.conftest import Invoke
from tests.upstreams import openai_upstream

NOTES = "# Memory\n\n## Rust Async Notes\nTokio runs futures on a work-stealing scheduler.\n"


def test_path_reindex_search_stats(cli: Invoke, roost_home: Path) -> None:
    shown = cli("memory", "path")
    assert shown.exit_code == 0, shown.output
    root = Path(shown.stdout.strip())
    assert root == roost_home / "workspace"
    (root / "MEMORY.md").write_text(NOTES)

    reindexed = cli("memory", "reindex")
    assert reindexed.exit_code == 0, reindexed.output
    assert "Indexed" in reindexed.stdout

    found = cli("memory", "search", "tokio scheduler", "--json")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert hits[0]["file"] == "MEMORY.md"
    assert (hits[0]["line_start"], hits[0]["line_end"]) == (1, 4)

    table = cli("memory", "search", "tokio")
    assert "MEMORY.md:1-4" in table.stdout

    stats = json.loads(cli("memory", "stats", "--json").stdout)
    assert stats["files"]["memory_md"]["size_bytes"] == len(NOTES)
    assert stats["index"]["chunks"] >= 1


def test_unknown_user_is_an_error(cli: Invoke) -> None:
    result = cli("memory", "search", "x", "--user", "nobody")
    assert result.exit_code == 1


def test_reindex_with_hybrid_search_times_the_embedding(cli: Invoke, roost_home: Path) -> None:
    # An embedding server that takes PAUSE per call: the probe that learns the dimension,
    # then one batch. The time printed is the whole run's, embedding included.
    pause = 0.6
    with openai_upstream(fault="slow", delay=pause) as up:
        (roost_home / "config.toml").write_text(
            f'[models.remote]\nprovider = "openai"\nmodel = "embed-test"\n'
            f'base_url = "{up.base_url}"\n\n[memory]\nembedding_model = "remote"\nwatch = false\n'
        )
        root = roost_home / "workspace"
        root.mkdir(parents=True, exist_ok=True)
        (root / "MEMORY.md").write_text(NOTES)
        reindexed = cli("memory", "reindex")
        calls = len(up.bodies("/v1/embeddings"))
    assert reindexed.exit_code == 0, reindexed.output
    match = re.search(r"embedded (\d+) chunks, in ([0-9.]+) s\.", reindexed.stdout)
    assert match, reindexed.stdout
    assert int(match[1]) >= 1
    assert calls >= 2
    assert float(match[2]) >= calls * pause


def test_reindex_bar_shows_each_phase() -> None:
    console = Console(file=io.StringIO(), record=True, force_terminal=True, width=100)
    with Progress(*ReindexBar.columns(), console=console, auto_refresh=False) as bar:
        show = ReindexBar(bar)
        show("files", 0, 2)
        show("files", 2, 2)
        show("model", 0, 0)
        show("embedding", 0, 5)
        show("embedding", 5, 5)
        bar.refresh()
    text = console.export_text()
    assert "Indexing files" in text
    assert "2/2" in text
    assert "Loading the embedding model" in text
    assert "Embedding chunks" in text
    assert "5/5" in text
