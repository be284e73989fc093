"""A process and its descendants, read from /proc (Linux; no psutil).

roost may run a model in a child process (a "runner"), so a server's memory is the sum
over its process tree, and a benchmark that kills the runner must find it among the
server's children.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """Direct children of `pid`: /proc/<pid>/task/*/children, else a scan of /proc/*/stat."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
        for task in tasks:
            found += [int(p) for p in (task / "children").read_text().split()]
        return sorted(set(found))
    except OSError:  # the process is gone, or a kernel without CONFIG_PROC_CHILDREN
        pass
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = children(pid)
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo += children(child)
    return out


def cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _status_kib(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status (0 for a process gone or a zombie)."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmHWM")


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split among the processes sharing them, so the
    sum over a tree does not count a page twice (RSS sums do)."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class TreeMemory:
    """Memory of a process and of each live descendant, in KiB."""

    rss: int
    pss: int
    children: dict[int, tuple[str, int, int]]  # pid -> (command line, RSS, PSS)

    @property
    def children_rss(self) -> int:
        return sum(rss for _, rss, _ in self.children.values())

    @property
    def total_rss(self) -> int:
        return self.rss + self.children_rss

    @property
    def total_pss(self) -> int:
        return self.pss + sum(pss for _, _, pss in self.children.values())

    def describe(self, name: str) -> str:
        lines = [f"{name}: {mib(self.total_rss)} RSS ({mib(self.total_pss)} PSS) in all"]
        lines.append(f"  server process: {mib(self.rss)} RSS, {mib(self.pss)} PSS")
        for pid, (command, rss, pss) in self.children.items():
            lines.append(f"  child {pid}: {mib(rss)} RSS, {mib(pss)} PSS: {command[:100]}")
        if not self.children:
            lines.append("  (no child processes)")
        return "\n".join(lines)


def tree_memory(pid: int) -> TreeMemory:
    kids = {p: (cmdline(p), rss_kib(p), pss_kib(p)) for p in descendants(pid)}
    return TreeMemory(rss_kib(pid), pss_kib(pid), {p: v for p, v in kids.items() if v[1]})


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"
