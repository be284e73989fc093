"""Workspace: templates, path confinement, file listing and daily logs."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from roost.core.errors import InvalidRequest
from roost.services.memory.workspace import TEMPLATES, Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_first_start_writes_templates_in_a_private_folder(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    assert stat.S_IMODE((tmp_path / "ws").stat().st_mode) == 0o700
    assert (workspace.root / "MEMORY.md").read_text() == TEMPLATES["MEMORY.md"]
    assert "Standing tasks" in (workspace.root / "HEARTBEAT.md").read_text()
    assert (workspace.root / "memory").is_dir()
    assert workspace.markdown_files() == ["HEARTBEAT.md", "MEMORY.md"]


def test_templates_are_written_once_and_never_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace(root)
    (root / "MEMORY.md").write_text("# Mine\n- I like tea\n")
    (root / "HEARTBEAT.md").unlink()  # removed on purpose: it must stay removed
    Workspace(root)
    assert (root / "MEMORY.md").read_text() == "# Mine\n- I like tea\n"
    assert not (root / "HEARTBEAT.md").exists()


def test_an_existing_folder_of_notes_gets_no_templates(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "MEMORY.md").write_text("existing")
    Workspace(root)
    assert (root / "MEMORY.md").read_text() == "existing"
    assert not (root / "HEARTBEAT.md").exists()


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../x.md",
        "/etc/passwd",
        "/tmp/x.md",
        "a/../../x.md",
        "a/../b.md",
        "..",
        "notes.txt",
        "MEMORY",
        "memory/",
        ".md",
        "a\x00.md",
        "a\\b.md",
        "..\\x.md",
        ".git/x.md",
        "x" * 510 + ".md",
    ],
)
def test_paths_that_could_escape_or_are_not_markdown_are_refused(
    workspace: Workspace, path: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        workspace.resolve(path)
    assert caught.value.param == "path"


def test_symlinks_leading_outside_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("secret")
    (workspace.root / "leak.md").symlink_to(outside / "secret.md")
    (workspace.root / "door").symlink_to(outside)
    (workspace.root / "passwd.md").symlink_to("/etc/passwd")
    for path in ("leak.md", "door/secret.md", "door/new.md", "passwd.md"):
        with pytest.raises(InvalidRequest):
            workspace.resolve(path)
    assert "leak.md" not in workspace.markdown_files()
    assert "door/secret.md" not in workspace.markdown_files()


def test_paths_inside_are_normalized(workspace: Workspace) -> None:
    assert workspace.resolve("./notes//rust.md") == workspace.root / "notes" / "rust.md"
    assert workspace.normalize("memory/2024-01-15.md") == "memory/2024-01-15.md"
    (workspace.root / "alias.md").symlink_to(workspace.root / "MEMORY.md")
    assert workspace.resolve("alias.md") == workspace.root / "alias.md"


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "./",
        "../../etc/passwd",
        "/etc/passwd",
        "a/../../x.txt",
        "a/../b.py",
        "..",
        "a\x00.txt",
        "a\\b.txt",
        ".git/config",
        "notes/.env",
        "x" * 513,
    ],
)
def test_any_file_paths_follow_the_same_rules(workspace: Workspace, path: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        workspace.resolve_any(path)
    assert caught.value.param == "path"


def test_any_file_symlinks_leading_outside_are_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (workspace.root / "leak.txt").symlink_to(outside / "secret.txt")
    (workspace.root / "door").symlink_to(outside)
    (workspace.root / "passwd").symlink_to("/etc/passwd")
    for path in ("leak.txt", "door/secret.txt", "door/new.txt", "passwd"):
        with pytest.raises(InvalidRequest, match="outside the workspace"):
            workspace.resolve_any(path)


def test_any_file_paths_inside_are_normalized(workspace: Workspace) -> None:
    assert workspace.resolve_any("./src//main.py") == workspace.root / "src" / "main.py"
    assert workspace.normalize_any("data/a.csv") == "data/a.csv"
    assert workspace.normalize_any("MEMORY.md") == "MEMORY.md"
    (workspace.root / "inner").symlink_to(workspace.root / "memory")
    assert workspace.resolve_any("inner/x.txt") == workspace.root / "inner" / "x.txt"


def test_markdown_files_skips_hidden_other_and_linked_folders(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = workspace.root
    (root / "notes" / "deep").mkdir(parents=True)
    (root / "notes" / "deep" / "a.md").write_text("a")
    (root / "notes" / "b.txt").write_text("b")
    (root / ".git").mkdir()
    (root / ".git" / "c.md").write_text("c")
    (root / ".hidden.md").write_text("d")
    (root / "loop").symlink_to(root)  # would walk forever if followed
    (root / "dir.md").mkdir()  # a folder named like a file
    os.symlink(root / "notes" / "deep" / "a.md", root / "alias.md")
    assert workspace.markdown_files() == [
        "HEARTBEAT.md",
        "MEMORY.md",
        "alias.md",
        "notes/deep/a.md",
    ]


def test_indexable_matches_the_listing(workspace: Workspace) -> None:
    (workspace.root / "notes").mkdir()
    (workspace.root / "notes" / "a.md").write_text("a")
    (workspace.root / "linked").symlink_to(workspace.root / "notes")
    assert workspace.indexable("notes/a.md") == "notes/a.md"
    assert workspace.indexable("linked/a.md") is None  # listed by its real path only
    assert workspace.indexable("notes/missing.md") is None
    assert workspace.indexable("../x.md") is None


def test_append_daily_starts_a_log_with_a_heading(workspace: Workspace) -> None:
    now = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    assert workspace.daily_log_path(date(2024, 1, 15)) == (
        workspace.root / "memory" / "2024-01-15.md"
    )
    assert workspace.append_daily("first entry\n", now) == "memory/2024-01-15.md"
    workspace.append_daily("second entry\n", now)
    text = (workspace.root / "memory" / "2024-01-15.md").read_text()
    assert text == "# 2024-01-15\n\nfirst entry\n\nsecond entry\n"
