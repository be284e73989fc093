"""read_file, write_file, edit_file on real files, confined to the workspace."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from roost.services.tools.file_tools import EditFile, ReadFile, WriteFile
from roost.services.tools.memory_tools import MemorySearch
from tests.services.tools.conftest import Env, refused

READ, WRITE, EDIT = ReadFile(), WriteFile(), EditFile()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../../etc/passwd", "path must not contain '..'"),
        ("notes/../../x.txt", "path must not contain '..'"),
        ("/etc/passwd", "path must be relative to the workspace"),
        (".env", "path must not name hidden files or folders"),
        ("a/.git/config", "path must not name hidden files or folders"),
        ("a\\..\\b", "path must not contain NUL bytes or backslashes"),
        (".", "path must name a file"),
    ],
)
async def test_paths_that_could_escape_are_refused(env: Env, path: str, message: str) -> None:
    assert await refused(READ, env.context, path=path) == message
    assert await refused(WRITE, env.context, path=path, content="x") == message
    assert await refused(EDIT, env.context, path=path, old_text="a", new_text="b") == message


async def test_symlinks_out_of_the_workspace_are_refused(env: Env, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    (env.root / "leak.txt").symlink_to(outside / "secret.txt")
    (env.root / "door").symlink_to(outside)
    (env.root / "passwd").symlink_to("/etc/passwd")
    for path in ("leak.txt", "door/secret.txt", "door/new.txt", "passwd"):
        message = "path leads outside the workspace"
        assert await refused(READ, env.context, path=path) == message
        assert await refused(WRITE, env.context, path=path, content="x") == message
        assert await refused(EDIT, env.context, path=path, old_text="top", new_text="x") == message
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert sorted(os.listdir(outside)) == ["secret.txt"]


async def test_write_creates_folders_and_replaces_atomically(env: Env) -> None:
    result = await WRITE.run(env.context, {"path": "src/app/main.py", "content": "print(1)\n"})
    assert result == "Created src/app/main.py (9 bytes)."
    target = env.root / "src" / "app" / "main.py"
    assert target.read_text() == "print(1)\n"
    target.chmod(0o640)
    result = await WRITE.run(env.context, {"path": "src/app/main.py", "content": "print(2)\n"})
    assert result == "Replaced src/app/main.py (9 bytes)."
    assert target.read_text() == "print(2)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the user's mode is kept
    assert sorted(os.listdir(target.parent)) == ["main.py"]  # no temporary left behind
    (env.root / "folder").mkdir()
    assert await refused(WRITE, env.context, path="folder", content="x") == "path names a folder"
    long = "x" * 1_000_001
    assert await refused(WRITE, env.context, path="b.txt", content=long) == (
        "argument 'content' must be at most 1000000 characters"
    )
    big = "€" * 400_000  # fewer characters, more bytes
    assert await refused(WRITE, env.context, path="b.txt", content=big) == (
        "argument 'content' must be at most 1048576 bytes"
    )
    assert not (env.root / "b.txt").exists()


async def test_markdown_writes_and_edits_are_indexed_at_once(env: Env) -> None:
    search = MemorySearch()
    await WRITE.run(env.context, {"path": "notes/trip.md", "content": "Train to Lyon at 9.\n"})
    hits = json.loads(await search.run(env.context, {"query": "Lyon"}))["hits"]
    assert [hit["file"] for hit in hits] == ["notes/trip.md"]
    await EDIT.run(env.context, {"path": "notes/trip.md", "old_text": "Lyon", "new_text": "Turin"})
    assert json.loads(await search.run(env.context, {"query": "Lyon"}))["hits"] == []
    hits = json.loads(await search.run(env.context, {"query": "Turin"}))["hits"]
    assert [hit["file"] for hit in hits] == ["notes/trip.md"]
    # Other files are not memory: writing them leaves the index alone.
    await WRITE.run(env.context, {"path": "notes/trip.txt", "content": "Zanzibar\n"})
    assert json.loads(await search.run(env.context, {"query": "Zanzibar"}))["hits"] == []


async def test_read_whole_ranges_and_limits(env: Env) -> None:
    (env.root / "data.csv").write_text("".join(f"row {n}\n" for n in range(1, 11)))
    got = await READ.run(env.context, {"path": "data.csv", "offset": 3, "limit": 2})
    assert got == "[data.csv, lines 3-4]\nrow 3\nrow 4\n[more lines follow: offset=5]"
    got = await READ.run(env.context, {"path": "data.csv", "offset": 9})
    assert got == "[data.csv, lines 9-10]\nrow 9\nrow 10\n[end of file]"
    (env.root / "no-newline.txt").write_text("a\nb")
    got = await READ.run(env.context, {"path": "no-newline.txt"})
    assert got == "[no-newline.txt, lines 1-2]\na\nb\n[end of file]"
    assert await refused(READ, env.context, path="no-newline.txt", offset=4) == (
        "line 4 is past the end: the file has 2 lines"
    )
    assert await refused(READ, env.context, path="missing.txt") == "missing.txt: no such file"
    (env.root / "dir").mkdir()
    assert await refused(READ, env.context, path="dir") == "dir is a folder, not a file"


async def test_binary_pipes_and_huge_lines(env: Env) -> None:
    (env.root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert (
        await refused(READ, env.context, path="image.png") == "image.png is a binary file, not text"
    )
    assert await refused(EDIT, env.context, path="image.png", old_text="PNG", new_text="x") == (
        "image.png is a binary file, not text"
    )
    os.mkfifo(env.root / "pipe")  # opening it would block forever
    assert await refused(READ, env.context, path="pipe") == "pipe is not a regular file"
    (env.root / "min.js").write_text("x" * 3_000_000)  # one line, far over the limit
    got = await READ.run(env.with_settings(output_chars=1_000), {"path": "min.js"})
    assert got.startswith("[min.js, line 1]\n" + "x" * 1000 + "[… line 1 is cut at 1000")
    assert got.endswith("[more lines follow: offset=2]")
    assert len(got) < 1_200


async def test_edit_replaces_exactly_one_match(env: Env) -> None:
    path = env.root / "config.ini"
    path.write_bytes(b"[a]\r\nport = 80\r\n[b]\r\nport = 80\r\nhost = x\r\n")
    message = await refused(
        EDIT, env.context, path="config.ini", old_text="port = 80", new_text="port = 81"
    )
    assert message == (
        "old_text matches 2 places in config.ini; include more surrounding text to make it "
        "unique, or set replace_all to true"
    )
    assert path.read_bytes() == b"[a]\r\nport = 80\r\n[b]\r\nport = 80\r\nhost = x\r\n"
    result = await EDIT.run(
        env.context,
        {"path": "config.ini", "old_text": "[b]\r\nport = 80", "new_text": "[b]\r\nport = 81"},
    )
    assert result == "Edited config.ini: replaced 1 place."
    assert path.read_bytes() == b"[a]\r\nport = 80\r\n[b]\r\nport = 81\r\nhost = x\r\n"  # CRLF kept
    result = await EDIT.run(
        env.context,
        {"path": "config.ini", "old_text": "port", "new_text": "listen", "replace_all": True},
    )
    assert result == "Edited config.ini: replaced 2 places."
    assert path.read_bytes().count(b"listen = ") == 2


async def test_edit_refusals_leave_the_file_alone(env: Env) -> None:
    path = env.root / "a.txt"
    path.write_text("alpha beta\n")
    assert await refused(EDIT, env.context, path="a.txt", old_text="gamma", new_text="x") == (
        "old_text was not found in a.txt; read the file and copy the text exactly"
    )
    assert await refused(EDIT, env.context, path="a.txt", old_text="beta", new_text="beta") == (
        "old_text and new_text are the same: nothing to change"
    )
    assert await refused(EDIT, env.context, path="a.txt", old_text="", new_text="x") == (
        "argument 'old_text' must not be empty"
    )
    assert await refused(EDIT, env.context, path="b.txt", old_text="a", new_text="x") == (
        "b.txt: no such file"
    )
    (env.root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    assert await refused(EDIT, env.context, path="latin1.txt", old_text="caf", new_text="x") == (
        "latin1.txt is not UTF-8 text"
    )
    assert path.read_text() == "alpha beta\n"


async def test_writing_through_a_link_inside_keeps_the_link(env: Env) -> None:
    (env.root / "real.txt").write_text("old\n")
    (env.root / "alias.txt").symlink_to(env.root / "real.txt")
    await WRITE.run(env.context, {"path": "alias.txt", "content": "new\n"})
    assert (env.root / "alias.txt").is_symlink()
    assert (env.root / "real.txt").read_text() == "new\n"
