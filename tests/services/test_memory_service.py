"""MemoryService: workspaces per user, validation, files, stats, chat context, turn logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roost.config import Settings
from roost.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from roost.core.records import User
from roost.services.memory import MemoryService
from tests.services.memory_fake import REPO_KINDS, FakeMemoryIndex, memory_index

NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
DEFAULT = User("u-default", "default", True, NOW)
OTHER = User("u-other", "alice", False, NOW)


@pytest.fixture
async def memory(settings: Settings) -> AsyncIterator[MemoryService]:
    settings.memory.watch = False  # these tests index through the service itself
    service = MemoryService(settings, FakeMemoryIndex(), clock=lambda: NOW)
    await service.start(DEFAULT)
    yield service
    await service.close()


def local(days: int = 0) -> str:
    return f"memory/{(NOW.astimezone().date() + timedelta(days=days)).isoformat()}.md"


async def words(text: str) -> int:
    return len(text.split())


def test_workspaces_default_other_and_configured(settings: Settings, tmp_path: Path) -> None:
    service = MemoryService(settings, FakeMemoryIndex())
    assert service.workspace_for(DEFAULT).root == (settings.home / "workspace").resolve()
    other = service.workspace_for(OTHER).root
    assert other == (settings.home / "workspaces" / "u-other").resolve()
    assert (other / "MEMORY.md").exists()
    settings.memory.workspace = tmp_path / "notes"
    configured = MemoryService(settings, FakeMemoryIndex())
    assert configured.workspace_for(DEFAULT).root == (tmp_path / "notes").resolve()


async def test_start_indexes_existing_files_and_sets_status(settings: Settings) -> None:
    settings.memory.watch = False
    root = settings.home / "workspace"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.md").write_text("alpha\n")
    service = MemoryService(settings, FakeMemoryIndex())
    assert service.status() == (0, 0)
    await service.start(DEFAULT)
    assert service.status() == (1, 1)  # a folder with notes gets no templates
    await service.close()


@pytest.mark.parametrize("limit", [0, 101, -1])
async def test_search_limit_is_checked(memory: MemoryService, limit: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await memory.search(DEFAULT, "tea", limit)
    assert caught.value.param == "limit"


@pytest.mark.parametrize("query", ["", "   ", "x" * 10_001])
async def test_search_query_is_checked(memory: MemoryService, query: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await memory.search(DEFAULT, query)
    assert caught.value.param == "q"


@pytest.mark.parametrize("kind", REPO_KINDS)
async def test_written_files_are_searchable_at_once(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    settings.memory.watch = False
    async with memory_index(kind, tmp_path) as (repo, user_id):
        user = User(user_id, "default", True, NOW)
        service = MemoryService(settings, repo)
        await service.start(user)
        await service.write_file(user, "projects/boat.md", "# Boat\n\nvarnish the hull\n")
        assert await service.read_file(user, "projects/boat.md") == "# Boat\n\nvarnish the hull\n"
        hits = await service.search(user, "varnish", 5)
        assert [(h.file, h.line_start, h.line_end) for h in hits] == [("projects/boat.md", 1, 3)]
        assert service.status() == (3, 3)
        await service.write_file(user, "projects/boat.md", "sold\n")
        assert await service.search(user, "varnish", 5) == []
        await service.close()


async def test_file_access_is_confined(memory: MemoryService) -> None:
    for path in ("../x.md", "/etc/passwd", "a/../../x.md", "notes.txt"):
        with pytest.raises(InvalidRequest):
            await memory.write_file(DEFAULT, path, "x")
        with pytest.raises(InvalidRequest):
            await memory.read_file(DEFAULT, path)
    with pytest.raises(NotFound):
        await memory.read_file(DEFAULT, "missing.md")
    with pytest.raises(PayloadTooLarge):
        await memory.write_file(DEFAULT, "big.md", "x" * (1024 * 1024 + 1))
    assert not (memory.workspace_for(DEFAULT).root / "big.md").exists()


async def test_users_have_separate_workspaces_and_indexes(memory: MemoryService) -> None:
    await memory.write_file(OTHER, "secret.md", "alice's pangolin\n")
    assert await memory.search(DEFAULT, "pangolin") == []
    assert [h.file for h in await memory.search(OTHER, "pangolin")] == ["secret.md"]
    assert memory.status()[0] == 2  # the default user's numbers only


async def test_stats_mirror_the_seed_shape(memory: MemoryService) -> None:
    await memory.write_file(DEFAULT, "MEMORY.md", "# Memory\n- likes tea\n")
    await memory.write_file(DEFAULT, "memory/2024-01-14.md", "yesterday\n")
    await memory.write_file(DEFAULT, "memory/2024-01-15.md", "today\n")
    await memory.write_file(DEFAULT, "memory/notes.md", "not a daily log\n")
    stats = await memory.stats(DEFAULT)
    assert stats.workspace == str(memory.workspace_for(DEFAULT).root)
    assert stats.files.total == 5
    assert (stats.files.memory_md.size_bytes, stats.files.memory_md.lines) == (21, 2)
    assert stats.files.heartbeat_md.lines > 0
    assert (stats.files.daily_logs.count, stats.files.daily_logs.total_size_bytes) == (2, 16)
    assert stats.index.chunks == 5
    assert stats.index.last_indexed is not None
    assert stats.index.database_size_bytes == 4096


async def test_context_has_memory_logs_and_a_labelled_hit(memory: MemoryService) -> None:
    await memory.write_file(DEFAULT, "MEMORY.md", "# Memory\n\n- Name: Sam\n- Likes tea\n")
    await memory.write_file(DEFAULT, local(-1), "# day\n\n- fixed the bike\n")
    await memory.write_file(DEFAULT, local(), "# day\n\n- planning a kayak trip\n")
    await memory.write_file(DEFAULT, "notes/kayak.md", "# Kayak\n\nrent the kayak in Oban\n")
    await memory.write_file(DEFAULT, local(-7), "old kayak note\n")
    context = await memory.context_for(
        DEFAULT, "where do I rent a kayak?", budget_tokens=500, count_tokens=words
    )
    assert context is not None
    assert "[MEMORY.md, lines 1-4]\n# Memory\n\n- Name: Sam\n- Likes tea" in context
    assert f"[{local(-1)}, lines 1-3, yesterday's log]" in context
    assert f"[{local()}, lines 1-3, today's log]" in context
    assert "[notes/kayak.md, lines 1-3, search result]\n# Kayak\n\nrent the kayak in Oban" in (
        context
    )
    # Hits are only the best search_hits (3), today's log is not repeated as a hit.
    assert context.count("search result") == 2
    assert context.count("planning a kayak trip") == 1
    assert context.index("MEMORY.md") < context.index(local()) < context.index("notes/kayak")


async def test_context_fits_the_budget_dropping_hits_then_logs_then_memory(
    memory: MemoryService,
) -> None:
    facts = "\n".join(f"- fact {n} about tea" for n in range(1, 21))
    await memory.write_file(DEFAULT, "MEMORY.md", facts + "\n")
    log = "\n".join(f"- entry {n}" for n in range(1, 31))
    await memory.write_file(DEFAULT, local(), log + "\n")
    await memory.write_file(DEFAULT, "notes/tea.md", "tea shop on Main street\n")
    await memory.write_file(DEFAULT, "notes/tea2.md", "green tea\n")
    full = await memory.context_for(DEFAULT, "tea shop", budget_tokens=10_000, count_tokens=words)
    assert full is not None
    assert "notes/tea.md" in full
    assert "notes/tea2.md" in full

    one_hit = await memory.context_for(
        DEFAULT, "tea shop", budget_tokens=await words(full) - 1, count_tokens=words
    )
    assert one_hit is not None
    assert "notes/tea.md" in one_hit  # the better hit stays
    assert "notes/tea2.md" not in one_hit

    no_hits = await memory.context_for(
        DEFAULT, "tea shop", budget_tokens=await words(one_hit) - 1, count_tokens=words
    )
    assert no_hits is not None
    assert "search result" not in no_hits
    assert "- entry 1\n" in no_hits
    assert "- fact 20 about tea" in no_hits

    budget = 120  # room for all of MEMORY.md and the end of the log
    trimmed = await memory.context_for(DEFAULT, "tea", budget_tokens=budget, count_tokens=words)
    assert trimmed is not None
    assert await words(trimmed) <= budget
    assert "- fact 20 about tea" in trimmed
    assert "- entry 30" in trimmed
    assert "- entry 1\n" not in trimmed
    kept = trimmed.split(f"[{local()}, lines ")[1].split("-")[0]
    assert int(kept) > 1  # the label names the lines that are really there

    tiny = await memory.context_for(DEFAULT, "tea", budget_tokens=30, count_tokens=words)
    assert tiny is not None
    assert await words(tiny) <= 30
    assert local() not in tiny
    assert tiny.startswith("[MEMORY.md, lines 1-")
    assert "- fact 1 about tea" in tiny
    assert "- fact 20 about tea" not in tiny

    assert await memory.context_for(DEFAULT, "tea", budget_tokens=2, count_tokens=words) is None


async def test_untouched_templates_give_no_context(memory: MemoryService) -> None:
    assert await memory.context_for(DEFAULT, "hello", budget_tokens=500, count_tokens=words) is None


async def test_append_turn_writes_todays_log(memory: MemoryService, settings: Settings) -> None:
    settings.memory.log_turns = True  # off by default
    await memory.append_turn(DEFAULT, "What is\n# the capital of France?", "Paris.")
    await memory.append_turn(DEFAULT, "x" * 2000, "ok")
    text = await memory.read_file(DEFAULT, local())
    stamp = NOW.astimezone().strftime("%H:%M")
    assert text.startswith(f"# {NOW.astimezone().date().isoformat()}\n")
    assert f"## {stamp}\n\n**User:** What is # the capital of France?\n" in text
    assert "**Assistant:** Paris.\n" in text
    long_line = next(line for line in text.splitlines() if line.startswith("**User:** xxx"))
    assert len(long_line) == len("**User:** ") + 500
    assert long_line.endswith("…")
    assert [h.file for h in await memory.search(DEFAULT, "France")] == [local()]


async def test_append_turn_can_be_switched_off(settings: Settings) -> None:
    settings.memory.log_turns = False
    service = MemoryService(settings, FakeMemoryIndex(), clock=lambda: NOW)
    await service.append_turn(DEFAULT, "hello", "hi")
    assert not service.workspace_for(DEFAULT).daily_log_path(NOW.astimezone().date()).exists()


async def test_writing_through_a_link_inside_keeps_the_link(memory: MemoryService) -> None:
    root = memory.workspace_for(DEFAULT).root
    (root / "alias.md").symlink_to(root / "MEMORY.md")
    await memory.write_file(DEFAULT, "alias.md", "- owns a bike\n")
    assert (root / "alias.md").is_symlink()
    assert (root / "MEMORY.md").read_text() == "- owns a bike\n"
    assert "MEMORY.md" in {hit.file for hit in await memory.search(DEFAULT, "bike")}


async def test_append_file_adds_a_line_and_indexes_at_once(memory: MemoryService) -> None:
    root = memory.workspace_for(DEFAULT).root
    (root / "notes").mkdir()
    (root / "notes" / "todo.md").write_text("- buy milk")  # no final newline
    assert await memory.append_file(DEFAULT, "notes/todo.md", "- fix the gate\n") == "notes/todo.md"
    assert (root / "notes" / "todo.md").read_text() == "- buy milk\n- fix the gate\n"
    assert [h.file for h in await memory.search(DEFAULT, "gate")] == ["notes/todo.md"]
    assert await memory.append_file(DEFAULT, "new/list.md", "- first\n") == "new/list.md"
    assert (root / "new" / "list.md").read_text() == "- first\n"


async def test_append_file_defaults_to_todays_log(memory: MemoryService) -> None:
    assert await memory.append_file(DEFAULT, None, "- walked the dog\n") == local()
    text = await memory.read_file(DEFAULT, local())
    assert text == f"# {NOW.astimezone().date().isoformat()}\n\n- walked the dog\n"
    assert [h.file for h in await memory.search(DEFAULT, "walked")] == [local()]


async def test_append_file_is_confined_and_bounded(memory: MemoryService, tmp_path: Path) -> None:
    root = memory.workspace_for(DEFAULT).root
    outside = tmp_path / "outside.md"
    outside.write_text("mine\n")
    (root / "leak.md").symlink_to(outside)
    for path in ("../x.md", "/etc/passwd", "notes.txt", "leak.md", ".hidden.md"):
        with pytest.raises(InvalidRequest):
            await memory.append_file(DEFAULT, path, "x\n")
    (root / "dir.md").mkdir()
    with pytest.raises(InvalidRequest, match="folder"):
        await memory.append_file(DEFAULT, "dir.md", "x\n")
    with pytest.raises(PayloadTooLarge):
        await memory.append_file(DEFAULT, "big.md", "x" * (1024 * 1024 + 1))
    assert outside.read_text() == "mine\n"
    assert not (root / "big.md").exists()
