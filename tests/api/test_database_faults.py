"""Database faults through every dialect: a write lock held by another process beyond the
busy timeout, and a full disk (a real tmpfs of a few MB, filled up).

Every write answers 503 in the dialect's own shape, quickly, with a message that says
what is wrong; stateless dialects (which write nothing) keep answering; nothing is
corrupted (PRAGMA integrity_check); and the same conversation works again once the
cause is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.config import Settings
from roost.storage import sqlite_driver
from tests import backend
from tests.api.fault_dialects import ALL, CHATNVIM, NATIVE, NATIVE_STREAM, Dialect
from tests.api.test_upstream_faults import good, remote
from tests.conftest import free_port, running
from tests.upstreams import openai_upstream

DIALECTS = [*ALL, CHATNVIM]
BUSY = 0.3  # seconds a write waits for the lock


def integrity(path: Path) -> str:
    conn = sqlite_driver.connect(str(path))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another connection (as another process would) holding SQLite's write lock."""
    other = sqlite_driver.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def expect_unavailable(dialect: Dialect, response: object, needle: str) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    if dialect.stateless:  # writes nothing, so a locked or full database does not matter
        assert dialect.error_of(response) is None, response.text
        return
    assert response.status_code == 503, (dialect.name, response.status_code, response.text)
    message = dialect.error_of(response)
    assert message, response.text
    assert "database unavailable" in message, message
    assert needle in message, message


@backend.sqlite_only("the lock held is SQLite's write lock")
@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
async def test_a_locked_database_is_503_and_recovers(settings: Settings, dialect: Dialect) -> None:
    port = free_port()
    remote(settings, port)
    settings.database_busy_timeout = BUSY
    database = settings.home / "roost.db"
    with openai_upstream(port=port) as up:
        up.set(**good(dialect))
        async with running(settings) as env:
            target = await dialect.prepare(env)
            with write_lock(database):
                started = time.monotonic()
                refused = await dialect.send(env, target, "while locked")
                assert time.monotonic() - started < BUSY * 10 + 5
                expect_unavailable(dialect, refused, "locked")
            answered = await dialect.send(env, target, "after the lock")
            assert dialect.error_of(answered) is None, answered.text
            rows = await dialect.stored(env, target)
    assert integrity(database) == "ok"
    if rows is not None:  # the refused message was not stored; the next one was answered
        assert [r[1] for r in rows if r[0] == "user"] == ["after the lock"]
        assert rows[-1][0] == "assistant"
        assert rows[-1][2] is None


@backend.sqlite_only("the lock held is SQLite's write lock")
@pytest.mark.parametrize("dialect", [NATIVE, NATIVE_STREAM], ids=str)
async def test_a_lock_taken_mid_turn_fails_the_turn_with_503(
    settings: Settings, dialect: Dialect
) -> None:
    """The user message is stored, then the lock is taken while the model streams: saving
    the reply fails, and the client hears 503 (not a 500, not silence)."""
    port = free_port()
    remote(settings, port)
    settings.database_busy_timeout = BUSY
    database = settings.home / "roost.db"
    with openai_upstream(port=port) as up:
        up.set(**good(dialect), chunk_delay=0.1)
        async with running(settings) as env:
            target = await dialect.prepare(env)
            import asyncio

            sending = asyncio.create_task(dialect.send(env, target, "one two three four"))
            while not up.bodies("/v1/chat/completions"):
                await asyncio.sleep(0.01)
            with write_lock(database):
                response = await sending
            up.set(chunk_delay=0.0)
            again = await dialect.send(env, target, "after the lock")
            rows = await dialect.stored(env, target)
    message = dialect.error_of(response)
    assert message
    assert "the reply could not be saved" in message
    assert "locked" in message
    if dialect is NATIVE:
        assert response.status_code == 503
    assert dialect.error_of(again) is None
    assert integrity(database) == "ok"
    # The interrupted turn's question is kept; it has no reply (none could be written).
    assert rows is not None
    assert [r[:2] for r in rows] == [
        ("user", "one two three four"),
        ("user", "after the lock"),
        ("assistant", "re: after the lock"),
    ]


# --- a full disk ------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    """Write a file until the file system has no byte left; return it."""
    filler = mount / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
            block = b"\0" * size
            while True:
                try:
                    out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(out.fileno())
    return filler


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
async def test_a_full_disk_is_503_and_recovers(
    settings: Settings, tiny_disk: Path, dialect: Dialect
) -> None:
    port = free_port()
    remote(settings, port)
    database = tiny_disk / "roost.db"
    settings.database_url = f"sqlite+aiosqlite:///{database}"
    with openai_upstream(port=port) as up:
        up.set(**good(dialect))
        async with running(settings) as env:
            target = await dialect.prepare(env)
            filler = fill(tiny_disk)
            # A few pages of rows and index: the write must grow the WAL.
            text = "full disk " * 190  # within every dialect's message limit
            refused = await dialect.send(env, target, text)
            expect_unavailable(dialect, refused, "full")
            filler.unlink()
            answered = await dialect.send(env, target, "after the disk was freed")
            assert dialect.error_of(answered) is None, answered.text
            rows = await dialect.stored(env, target)
    assert integrity(database) == "ok"
    if rows is not None:
        assert [r[1] for r in rows if r[0] == "user"] == ["after the disk was freed"]
        assert rows[-1][0] == "assistant"
        assert rows[-1][2] is None
