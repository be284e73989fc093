"""A user's memory workspace: a private folder of markdown files, and its path rules.

Every path that comes from a client goes through `Workspace.normalize`/`resolve`, which
refuse anything that could name a file outside the folder, including through symlinks.
(A symlink swapped in between the check and the use can still win that race; the
workspace belongs to the same local user who could do so, so that is not defended.)
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path

from roost.core.errors import InvalidRequest

MAX_PATH_CHARS = 512
NAME_MAX_BYTES = 255  # one file or folder name, as Linux and macOS allow it
MEMORY_FILE = "MEMORY.md"
HEARTBEAT_FILE = "HEARTBEAT.md"
DAILY_DIR = "memory"
DAILY_LOG = re.compile(r"memory/\d{4}-\d{2}-\d{2}\.md")

# Guidance sits in HTML comments: visible to whoever edits the file, left out of prompts.
TEMPLATES = {
    MEMORY_FILE: """# Memory

<!--
Durable facts the assistant should always know: who you are, your preferences,
ongoing projects, decisions made. Keep it short; every line is sent with each chat.
Day-to-day notes belong in memory/YYYY-MM-DD.md instead.
-->
""",
    HEARTBEAT_FILE: """# Heartbeat

<!--
Standing tasks the assistant checks on a schedule, one per line, for example:
- [ ] Every morning, summarise yesterday's daily log.
Remove a line when the task is done. An empty list means nothing to do.
-->
""",
}


def _refuse(reason: str) -> InvalidRequest:
    return InvalidRequest(f"path {reason}", param="path")


def _parts(relative: str) -> list[str]:
    """The parts of a client's path, after the rules every workspace path follows."""
    if not relative:
        raise _refuse("must not be empty")
    if len(relative) > MAX_PATH_CHARS:
        raise _refuse(f"must be at most {MAX_PATH_CHARS} characters")
    if "\x00" in relative or "\\" in relative:
        raise _refuse("must not contain NUL bytes or backslashes")
    if relative.startswith("/"):
        raise _refuse("must be relative to the workspace")
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse("must not contain '..'")
    if any(part.startswith(".") for part in parts):
        # Hidden folders are not indexed; files there would be invisible to search.
        raise _refuse("must not name hidden files or folders")
    if any(len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES for part in parts):
        raise _refuse(f"must not have a name longer than {NAME_MAX_BYTES} bytes")
    return parts


class Workspace:
    def __init__(self, root: Path) -> None:
        root = root.expanduser()
        first_start = not root.exists() or not any(root.iterdir())
        root.mkdir(mode=0o700, parents=True, exist_ok=True)  # memory is private
        self.root = root.resolve()
        if first_start:
            self._write_templates()

    def _write_templates(self) -> None:
        (self.root / DAILY_DIR).mkdir(mode=0o700, exist_ok=True)
        for name, text in TEMPLATES.items():
            try:
                with (self.root / name).open("x", encoding="utf-8") as handle:  # never overwrite
                    handle.write(text)
            except FileExistsError:
                pass

    def normalize(self, relative: str) -> str:
        """The canonical "a/b.md" form of a client's path; InvalidRequest if not allowed."""
        parts = _parts(relative)
        if not parts or not parts[-1].endswith(".md") or parts[-1] == ".md":
            raise InvalidRequest("only .md files can be read or written", param="path")
        return "/".join(parts)

    def resolve(self, relative: str) -> Path:
        """The file a client's path names, confined to the workspace (symlinks followed)."""
        path = self.root / self.normalize(relative)
        if not self.contains(path):
            raise _refuse("leads outside the workspace")
        return path

    def normalize_any(self, relative: str) -> str:
        """Like `normalize`, for a file of any kind (the file tools read code, data, ...)."""
        parts = _parts(relative)
        if not parts:
            raise _refuse("must name a file")
        return "/".join(parts)

    def resolve_any(self, relative: str) -> Path:
        """Like `resolve`, for a file of any kind: same confinement, symlinks followed."""
        path = self.root / self.normalize_any(relative)
        if not self.contains(path):
            raise _refuse("leads outside the workspace")
        return path

    def contains(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == self.root or real.is_relative_to(self.root)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def markdown_files(self) -> list[str]:
        """Relative paths of the *.md files under the root, sorted.

        Hidden entries are skipped, and so are symlinked folders (inside ones would list
        files twice and could loop; outside ones are not ours) and links to files outside.
        """
        found: list[str] = []
        pending = [self.root]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:  # vanished or unreadable: it has no files to index
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif entry.name.endswith(".md") and self._indexable_entry(entry):
                        found.append(self.relative(Path(entry.path)))
                except OSError:
                    continue
        # Names a client could not use (see normalize) stay out of the index too.
        return sorted(p for p in found if len(p) <= MAX_PATH_CHARS and "\\" not in p)

    def _indexable_entry(self, entry: os.DirEntry[str]) -> bool:
        if not entry.is_symlink():
            return entry.is_file(follow_symlinks=False)
        return entry.is_file() and self.contains(Path(entry.path))

    def indexable(self, relative: str) -> str | None:
        """The normalized path if `markdown_files` would list that file, else None."""
        try:
            normalized = self.normalize(relative)
            path = self.resolve(normalized)
        except InvalidRequest:
            return None
        folder = path.parent
        while folder != self.root:
            if folder.is_symlink():
                return None
            folder = folder.parent
        return normalized if path.is_file() else None

    def daily_log_relative(self, day: date) -> str:
        return f"{DAILY_DIR}/{day.isoformat()}.md"

    def daily_log_path(self, day: date) -> Path:
        return self.root / self.daily_log_relative(day)

    def append_daily(self, text: str, now: datetime) -> str:
        """Append to the log of `now`'s date (a new log starts with a heading)."""
        relative = self.daily_log_relative(now.date())
        path = self.resolve(relative)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(f"# {now.date().isoformat()}\n")
        except FileExistsError:
            pass
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text if text.startswith("\n") else "\n" + text)
        return relative
