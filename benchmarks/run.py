"""Run every benchmark in benchmarks/, print one table, and write it as JSON.

    benchmarks/run                      # --small: every benchmark at a quick size
    benchmarks/run --full               # the sizes the issues' targets were set for
    benchmarks/run --only inbox --only cold_start
    benchmarks/run --compare benchmarks/results/20261126T081500Z.json

A benchmark is any module here whose name does not start with `_` and that defines
`figures(size) -> list[Figure]` (see benchmarks/_figures.py); new modules plug in by
defining it. Each runs in its own process (a crash, a hang or CPU pinning in one does
not touch the next), with its printed details kept in benchmarks/results/<stamp>/<name>.log.
A benchmark that cannot run here (a missing browser, say) is reported as skipped.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TIMEOUT = {"small": 900, "full": 3600}  # seconds per benchmark


def discover() -> list[str]:
    """Modules defining a top-level `figures` (found without importing them)."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_") or path.stem == "run":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.FunctionDef) and n.name == "figures" for n in tree.body):
            names.append(path.stem)
    return names


def child(name: str, size: str, out: Path) -> int:
    """Run one benchmark in this process and write its outcome to `out`."""
    result: dict[str, Any]
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        found = module.figures(size)
        result = {"status": "ok", "figures": [f.as_json() for f in found]}
    except ImportError as exc:
        result = {"status": "skipped", "reason": f"missing dependency: {exc}"}
    except SystemExit as exc:  # a benchmark's way of saying it cannot run here
        result = {"status": "skipped", "reason": str(exc.code)}
    except BaseException as exc:
        traceback.print_exc()
        result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    out.write_text(json.dumps(result))
    return 0


def run_one(name: str, size: str, logs: Path) -> dict[str, Any]:
    out = logs / f"{name}.json"
    log = logs / f"{name}.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "--child", name, size, str(out)],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a timeout can end the whole group
        )
        try:
            process.wait(TIMEOUT[size])
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
    seconds = time.monotonic() - started
    if out.exists():
        result: dict[str, Any] = json.loads(out.read_text())
        out.unlink()
    elif process.returncode == -9:
        result = {"status": "failed", "reason": f"timed out after {TIMEOUT[size]} s"}
    else:
        result = {"status": "failed", "reason": f"exited with {process.returncode}"}
    return {"name": name, "seconds": round(seconds, 1), "log": str(log.relative_to(ROOT)), **result}


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if magnitude >= 0.01 else f"{value:.2g}"


def table(results: list[dict[str, Any]], previous: dict[str, float] | None = None) -> str:
    head = ["figure", "value", "unit", "baseline", "ratio", "target", "met"]
    if previous is not None:
        head.append("previous")
    rows: list[list[str]] = []
    for bench in results:
        if bench["status"] != "ok":
            rows.append([f"{bench['name']}: {bench['status']}", bench.get("reason", "")[:90]])
            continue
        for f in bench["figures"]:
            met = {True: "yes", False: "NO", None: ""}[f["met"]]
            row = [f["name"], _num(f["value"]), f["unit"], _num(f["baseline"]), _num(f["ratio"])]
            row += [f["target"], met]
            if previous is not None:
                row.append(_num(previous.get(f["name"])))
            rows.append(row)
    widths = [len(h) for h in head]
    for row in rows:
        if len(row) == len(head):
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        if len(row) != len(head):  # a skipped or failed benchmark: one free-form line
            lines.append(f"{row[0]} ({row[1]})")
            continue
        cells = [row[0].ljust(widths[0])]
        cells += [
            c.rjust(w) if i in (1, 3, 4) else c.ljust(w)
            for i, (c, w) in enumerate(zip(row[1:], widths[1:], strict=True), start=1)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def _previous(path: Path) -> dict[str, float]:
    data = json.loads(path.read_text())
    return {
        f["name"]: f["value"]
        for bench in data["benchmarks"]
        if bench["status"] == "ok"
        for f in bench["figures"]
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1], argv[2], Path(argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--small", dest="size", action="store_const", const="small")
    sizes.add_argument("--full", dest="size", action="store_const", const="full")
    parser.add_argument("--only", action="append", metavar="NAME", help="run just these")
    parser.add_argument("--compare", type=Path, metavar="JSON", help="an earlier run's JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    size = args.size or "small"
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in args.only]
    previous = _previous(args.compare) if args.compare else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS / stamp
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        print(f"[{len(results) + 1}/{len(names)}] {name} ({size}) ...", flush=True)
        outcome = run_one(name, size, logs)
        note = outcome.get("reason") or f"{len(outcome.get('figures', []))} figures"
        print(f"    {outcome['status']} in {outcome['seconds']} s: {note}", flush=True)
        results.append(outcome)
    report = {
        "started": stamp,
        "size": size,
        "commit": _git_commit(),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": sys.version},
        "benchmarks": results,
    }
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(results, previous))
    print(f"\nwritten to {out.relative_to(ROOT)} (logs in {logs.relative_to(ROOT)}/)")
    return 0 if all(r["status"] != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
