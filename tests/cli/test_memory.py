"""`roost memory` on a real workspace and database, no server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Invoke

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
