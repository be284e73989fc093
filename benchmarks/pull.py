"""`roost pull` throughput: MB/s of `hub.pull` from a local fake Hub ÷ `curl -o` of the same
file from the same server, rounds alternating (which goes first alternates too). A third
contender, `curl -o` then `sha256sum`, is the same download verified by hand: roost's pull
verifies every byte against the Hub's SHA-256, and on a 2-core machine that hashing
(1.7 GB/s with SHA-NI) shares the cores with the download and the server.

The server (tests/hubserver.py) runs in a process of its own and sends bodies with
sendfile. The file is the embedded model padded with zeros to `--mb` megabytes (the 98 MB
model alone is over in ~0.1 s: too short to time on a shared machine). Each pull starts
from an empty store and includes everything a pull does: the model info request, the
HEAD, the download, the SHA-256 check and the manifest write. curl's time is its whole
process, as a user would run it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._figures import Figure, Size
from roost.providers.llamacpp import embedded_model_path
from roost.providers.store import hub
from roost.providers.store.manifest import ModelStore

SIZES: dict[Size, dict[str, int]] = {
    "small": {"rounds": 3, "mb": 300},
    "full": {"rounds": 7, "mb": 500},
}
FILE = "bench-Q4_1.gguf"


def padded_model(folder: Path, mb: int) -> Path:
    path = folder / FILE
    with path.open("wb") as out, embedded_model_path().open("rb") as model:
        shutil.copyfileobj(model, out, 8 << 20)
        left = mb * 1_000_000 - out.tell()
        block = bytes(8 << 20)
        while left > 0:
            left -= out.write(block[: min(left, len(block))])
    return path


def start_hub(file: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hubserver", str(file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    proc.stdout.readline()  # the file's SHA-256: the server has read the file once
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError("the fake Hub did not start")
    return proc, url


def curl_round(url: str, out: Path, verify: bool = False) -> float:
    """`curl -o`; with `verify`, then `sha256sum` of the file, as a careful user checks a
    download by hand (what `roost pull` does as it downloads)."""
    start = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", str(out), url], check=True)
    if verify:
        subprocess.run(["sha256sum", str(out)], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    out.unlink()
    return seconds


def pull_round(store_root: Path) -> float:
    shutil.rmtree(store_root, ignore_errors=True)
    store = ModelStore(store_root)
    start = time.perf_counter()
    hub.pull(f"test/bench/{FILE}", store, on_progress=lambda _: None)
    return time.perf_counter() - start


def measure(rounds: int, mb: int) -> list[Figure]:
    if shutil.which("curl") is None:
        raise RuntimeError("curl is not installed")
    work = Path(tempfile.mkdtemp(prefix="roost-pull-bench-"))
    saved = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_HOME", "HF_TOKEN")}
    proc = None
    try:
        file = padded_model(work, mb)
        size_mb = file.stat().st_size / 1e6
        proc, url = start_hub(file)
        os.environ.update(HF_ENDPOINT=url, HF_HOME=str(work / "hf-home"))
        os.environ.pop("HF_TOKEN", None)
        resolve = f"{url}/test/bench/resolve/main/{FILE}"
        pull_round(work / "store")  # warm-up: imports, connections, the page cache
        curl_round(resolve, work / "curl.out")
        pulls, curls, checked = [], [], []
        for i in range(rounds):
            order = ("pull", "curl", "curl+sha256sum")
            for side in order[i % 3 :] + order[: i % 3]:
                if side == "pull":
                    seconds = pull_round(work / "store")
                    pulls.append(size_mb / seconds)
                elif side == "curl":
                    seconds = curl_round(resolve, work / "curl.out")
                    curls.append(size_mb / seconds)
                else:
                    seconds = curl_round(resolve, work / "curl.out", verify=True)
                    checked.append(size_mb / seconds)
                print(
                    f"  {side}: {size_mb:.0f} MB in {seconds:.3f} s = {size_mb / seconds:.0f} MB/s"
                )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)
    pull_rate, curl_rate = statistics.median(pulls), statistics.median(curls)
    paired = statistics.median(p / c for p, c in zip(pulls, curls, strict=True))
    print(f"roost pull: {pull_rate:.0f} MB/s (median of {rounds}, {size_mb:.0f} MB file)")
    print(f"curl -o:    {curl_rate:.0f} MB/s (median of {rounds})")
    print(f"ratio pull/curl: {pull_rate / curl_rate:.3f} (target >= 0.9)")
    print(f"median of per-round ratios: {paired:.3f}")
    checked_rate = statistics.median(checked)
    print(f"curl -o && sha256sum: {checked_rate:.0f} MB/s (median of {rounds})")
    print(f"ratio pull/(curl + sha256sum): {pull_rate / checked_rate:.3f}")
    return [
        Figure("pull from a local Hub: MB/s", pull_rate, "MB/s", curl_rate, target="ratio >= 0.9"),
        Figure("pull: median per-round ratio to curl", paired, target="value >= 0.9"),
        Figure("pull ÷ curl then sha256sum (both verified)", pull_rate, "MB/s", checked_rate),
    ]


def figures(size: Size) -> list[Figure]:
    return measure(**SIZES[size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=SIZES["full"]["rounds"])
    parser.add_argument("--mb", type=int, default=SIZES["full"]["mb"])
    args = parser.parse_args()
    measure(args.rounds, args.mb)


if __name__ == "__main__":
    main()
