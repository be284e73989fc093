"""Memory index: full indexing speed, re-indexing one edited file, and search latency.

Generates a workspace of about 100,000 chunks (≈ 50 MB of markdown) in a temp ROOST_HOME,
then through roost's MemoryService (keyword index on SQLite):

- full index throughput in MB/s (target ≥ 20 MB/s);
- re-index after editing one file: the watcher's path (that file alone) and a full
  check of the workspace (target ≤ 50 ms);
- search p50/p99 through the service ÷ the very same bm25 statement run directly on the
  SQLite file on a plain connection (target ≤ 1.5).

    .venv/bin/python -m benchmarks.memory_index [--mb 50] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._figures import Figure, Size
from roost.config import load_settings
from roost.services.container import build_services
from roost.storage import sqlite_driver
from roost.storage.memory import SQLITE_SEARCH_SQL, fts5_match

# Topic words that recur across the workspace (split at spaces).
COMMON = re.findall(
    r"\w+",
    "rust async tokio future scheduler garden tomato sun water soil python asyncio "
    "loop database index query vector search memory note meeting project deadline "
    "budget travel flight hotel paris berlin recipe bread flour yeast oven music "
    "guitar chord running marathon training sleep coffee tea book chapter author idea "
    "plan review",
)
SIZES: dict[Size, dict[str, int]] = {
    "small": {"megabytes": 8, "queries": 100},
    "full": {"megabytes": 50, "queries": 200},
}


def vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Words with Zipf-like frequencies, as in natural text: a few very common, most rare."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    made = {"".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(size)}
    words = COMMON + sorted(made)
    weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    return words, weights  # cumulative: random.choices would re-add them on every call


def generate(root: Path, megabytes: int, rng: random.Random) -> int:
    """Daily-log-like files of ~25 KB: headings and 10 to 14 word lines."""
    words, weights = vocabulary(rng)
    target = megabytes * 1_000_000
    written = 0
    day = 0
    (root / "memory").mkdir(parents=True, exist_ok=True)
    while written < target:
        lines: list[str] = []
        size = 0
        while size < 25_000:
            if rng.random() < 0.08:
                line = "## " + " ".join(rng.choices(words, cum_weights=weights, k=3)).title()
            else:
                line = (
                    " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(10, 14))) + "."
                )
            lines.append(line)
            size += len(line) + 1
        text = "\n".join(lines) + "\n"
        name = f"memory/{2000 + day // 365:04d}-{day % 12 + 1:02d}-{day % 28 + 1:02d}-{day}.md"
        (root / name).write_text(text)
        written += len(text.encode())
        day += 1
    return written


def fts5_floor(database: Path) -> float:
    """Seconds SQLite's FTS5 alone takes to index the chunk texts roost made (same
    tokenizer and settings, one INSERT ... SELECT in a fresh file): the floor for keyword
    indexing."""
    folder = Path(tempfile.mkdtemp(prefix="roost-fts5-floor-"))
    db = sqlite_driver.connect(str(folder / "floor.db"))
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"ATTACH DATABASE '{database}' AS roost")
        db.execute("CREATE TABLE c(id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO c(text) SELECT text FROM roost.memory_chunks")
        db.commit()
        db.execute(
            "CREATE VIRTUAL TABLE f USING fts5(text, content='c', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        # The settings roost's migrations give memory_fts (0003, 0004).
        db.execute("INSERT INTO f(f, rank) VALUES ('automerge', 8)")
        db.execute("INSERT INTO f(f, rank) VALUES ('hashsize', ?)", (16 << 20,))
        started = time.perf_counter()
        with db:
            db.execute("INSERT INTO f(rowid, text) SELECT id, text FROM c")
        return time.perf_counter() - started
    finally:
        db.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(megabytes: int, queries: int) -> list[Figure]:
    rng = random.Random(7)
    home = Path(tempfile.mkdtemp(prefix="roost-memory-bench-"))
    settings = load_settings(home=home, env={"ROOST_HOME": str(home)})
    settings.memory.watch = False
    services = await build_services(settings, admin_password="bench")
    try:
        user = services.auth.default_user
        workspace = services.memory.workspace_for(user)
        size = generate(workspace.root, megabytes, rng)
        started = time.perf_counter()
        result = await services.memory.reindex(user, force=True)
        seconds = time.perf_counter() - started
        print(f"workspace: {size / 1e6:.1f} MB, {result.indexed} files, {result.chunks} chunks")
        print(f"full index: {seconds:.2f} s = {size / 1e6 / seconds:.1f} MB/s (target ≥ 20)")
        floor = fts5_floor(home / "roost.db")
        print(
            f"  baseline: FTS5 alone indexing the same chunk texts in one statement: "
            f"{floor:.2f} s = {size / 1e6 / floor:.1f} MB/s; roost ÷ baseline time "
            f"{seconds / floor:.2f}"
        )

        edited = sorted((workspace.root / "memory").glob("*.md"))[10]
        relative = edited.relative_to(workspace.root).as_posix()
        content = edited.read_text() + "An edited line about zebras.\n"
        started = time.perf_counter()
        await services.memory.write_file(user, relative, content)  # writes and re-indexes it
        one = time.perf_counter() - started
        edited.write_text(edited.read_text() + "Another edit about okapis.\n")
        started = time.perf_counter()
        check = await services.memory.reindex(user)
        full = time.perf_counter() - started
        print(
            f"re-index one edited file: {one * 1000:.1f} ms (save + index, target ≤ 50); "
            f"full check of all files: {full * 1000:.0f} ms ({check.indexed} re-indexed, "
            f"{check.skipped} unchanged)"
        )
        assert (await services.memory.search(user, "okapis", 1))[0].file == relative

        # Two topic words, as people type them: neither among the ~30 most frequent words
        # (which are in nearly every chunk) nor so rare that nothing matches.
        words, _ = vocabulary(random.Random(7))
        terms = [" ".join(rng.sample(words[30:3000], 2)) for _ in range(queries)]
        roost_times: list[float] = []
        direct_times: list[float] = []
        db = sqlite_driver.connect(str(home / "roost.db"))
        try:
            for query in terms:  # interleaved, so drift hits both alike
                started = time.perf_counter()
                await services.memory.search(user, query, 10)
                roost_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                params = {"match": fts5_match(query), "user_id": user.id, "limit": 10}
                db.execute(SQLITE_SEARCH_SQL, params).fetchall()
                direct_times.append(time.perf_counter() - started)
        finally:
            db.close()
        r50, r99 = pct(roost_times, 0.5), pct(roost_times, 0.99)
        d50, d99 = pct(direct_times, 0.5), pct(direct_times, 0.99)
        print(f"search via roost: p50 {r50:.2f} ms, p99 {r99:.2f} ms")
        print(f"search direct:    p50 {d50:.2f} ms, p99 {d99:.2f} ms")
        print(
            f"ratio p50 {r50 / d50:.2f}, p99 {r99 / d99:.2f} (target ≤ 1.5); "
            f"mean {statistics.mean(roost_times) / statistics.mean(direct_times):.2f}"
        )
        rate, floor_rate = size / 1e6 / seconds, size / 1e6 / floor
        return [
            Figure("memory full index", rate, "MB/s", floor_rate, target="value >= 20"),
            Figure("memory re-index one edited file", one * 1000, "ms", target="value <= 50"),
            Figure("memory search p50", r50, "ms", d50, target="ratio <= 1.5"),
            Figure("memory search p99", r99, "ms", d99, target="ratio <= 1.5"),
        ]
    finally:
        await services.close()


def figures(size: Size) -> list[Figure]:
    return asyncio.run(main(**SIZES[size]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.mb, args.queries))
