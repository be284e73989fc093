"""`roost pull` as a user runs it: a real `roost` process against a local fake Hub
(tests/hubserver.py, HF_ENDPOINT), then `roost ask` with the pulled model."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.providers.llamacpp import embedded_model_path
from tests.cli.conftest import RunRoost
from tests.conftest import free_port
from tests.hubserver import TOKEN, FakeHub, hub_in_env, make_split

MODEL = embedded_model_path()
SIZE = MODEL.stat().st_size
Q4_1 = "test/smollm2-gguf/SmolLM2-135M-Instruct-Q4_1.gguf"
STORED = "models/hf/test/smollm2-gguf/SmolLM2-135M-Instruct-Q4_1.gguf"


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_split(MODEL, tmp_path_factory.mktemp("split"))


@pytest.fixture
def fake(split: list[Path], roost_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with hub_in_env(MODEL, split, roost_home.parent / "hf-home", monkeypatch) as server:
        yield server


def manifest(home: Path) -> dict[str, dict[str, object]]:
    path = home / "models" / "manifest.json"
    if not path.exists():
        return {}
    return {m["name"]: m for m in json.loads(path.read_text())["models"]}


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("roost: ")
    return lines[0].removeprefix("roost: ")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.model
def test_pull_then_ask(fake: FakeHub, roost_home: Path, run_roost: RunRoost) -> None:
    done = run_roost("pull", "hf.co/test/smollm2-gguf:Q4_1")
    assert done.returncode == 0, done.stderr
    assert "SmolLM2-135M-Instruct-Q4_1.gguf" in done.stdout
    assert "98.4/98.4 MB" in done.stdout  # the bar, as it ended
    assert "hf.co/test/smollm2-gguf:Q4_1: 98.4 MB, Q4_1, verified (sha256)" in done.stdout
    assert f"stored in {roost_home / STORED}" in done.stdout
    entry = manifest(roost_home)["hf.co/test/smollm2-gguf:Q4_1"]
    sha = fake.sha256("test/smollm2-gguf", "SmolLM2-135M-Instruct-Q4_1.gguf")
    assert entry["files"] == [{"path": STORED.removeprefix("models/"), "size": SIZE, "sha256": sha}]
    assert sha256(roost_home / STORED) == sha
    assert fake.served[Q4_1] == SIZE

    (roost_home / "config.toml").write_text(
        '[models."hf.co/test/smollm2-gguf:Q4_1"]\nmax_tokens = 12\nseed = 1\n'
    )
    asked = run_roost("ask", "-m", "hf.co/test/smollm2-gguf:Q4_1", "hi", timeout=240)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip()

    again = run_roost("pull", "hf.co/test/smollm2-gguf:Q4_1")
    assert again.returncode == 0, again.stderr
    assert "hf.co/test/smollm2-gguf:Q4_1 is up to date" in again.stdout
    assert fake.served[Q4_1] == SIZE  # nothing downloaded again


def test_an_interrupted_pull_resumes(fake: FakeHub, roost_home: Path, run_roost: RunRoost) -> None:
    fake.pace[Q4_1] = 0.05  # 20 MB/s: ~5 s for the file
    folder = roost_home / STORED
    proc = subprocess.Popen(
        [sys.executable, "-m", "roost.cli", "pull", "hf.co/test/smollm2-gguf:Q4_1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = list(folder.parent.glob("*.incomplete"))
            if partial and partial[0].stat().st_size >= SIZE // 3:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "interrupted; the partial download is kept" in err
    assert "hf.co/test/smollm2-gguf:Q4_1" not in manifest(roost_home)
    (partial,) = folder.parent.glob("*.incomplete")
    kept = partial.stat().st_size
    assert SIZE // 3 <= kept < SIZE

    fake.pace.clear()
    done = run_roost("pull", "hf.co/test/smollm2-gguf:Q4_1")
    assert done.returncode == 0, done.stderr
    second = fake.resolves(Q4_1)[-1]
    assert (second.start, second.sent) == (kept, SIZE - kept)  # only the rest
    assert sha256(folder) == fake.sha256("test/smollm2-gguf", "SmolLM2-135M-Instruct-Q4_1.gguf")
    assert "hf.co/test/smollm2-gguf:Q4_1" in manifest(roost_home)


def test_a_corrupted_download_fails_verification(
    fake: FakeHub, roost_home: Path, run_roost: RunRoost
) -> None:
    fake.corrupt.add(Q4_1)
    message = one_line_error(run_roost("pull", "hf.co/test/smollm2-gguf:Q4_1"))
    assert message.startswith("SmolLM2-135M-Instruct-Q4_1.gguf failed verification")
    assert manifest(roost_home) == {}
    assert not list((roost_home / STORED).parent.glob("SmolLM2*"))  # nor a partial file


def test_errors_are_one_line(
    fake: FakeHub, run_roost: RunRoost, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert one_line_error(run_roost("pull", "hf.co/test/absent:Q4_1")) == (
        f"no model hf.co/test/absent on {fake.url}: the repository does not exist; "
        "a private repo needs HF_TOKEN"
    )
    assert one_line_error(run_roost("pull", "hf.co/test/smollm2-gguf:Q6_K")) == (
        "hf.co/test/smollm2-gguf has no Q6_K quantization; it has: IQ4_XS, Q4_1, Q8_0"
    )
    assert one_line_error(run_roost("pull", "llama3")).startswith("cannot pull 'llama3': name")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    offline = one_line_error(run_roost("pull", "hf.co/test/smollm2-gguf:Q4_1"))
    assert offline.startswith("cannot reach http://127.0.0.1:")
    assert offline.endswith("(offline?)")


def test_the_default_quant_is_said(fake: FakeHub, roost_home: Path, run_roost: RunRoost) -> None:
    done = run_roost("pull", "hf.co/test/smollm2-gguf")
    assert done.returncode == 0, done.stderr
    assert "no quantization given: using Q8_0 (the repo has no Q4_K_M)" in done.stdout
    assert manifest(roost_home)["hf.co/test/smollm2-gguf"]["quantization"] == "Q8_0"


@pytest.mark.model
def test_a_split_gguf(
    fake: FakeHub, roost_home: Path, run_roost: RunRoost, split: list[Path]
) -> None:
    done = run_roost("pull", "hf.co/test/smollm2-split-gguf:Q4_1")
    assert done.returncode == 0, done.stderr
    files = manifest(roost_home)["hf.co/test/smollm2-split-gguf:Q4_1"]["files"]
    assert isinstance(files, list)
    assert [Path(f["path"]).name for f in files] == [p.name for p in split]
    for part in split:
        assert fake.served[f"test/smollm2-split-gguf/Q4_1/{part.name}"] == part.stat().st_size
    (roost_home / "config.toml").write_text(
        '[models."hf.co/test/smollm2-split-gguf:Q4_1"]\nmax_tokens = 12\nseed = 1\n'
    )
    asked = run_roost("ask", "-m", "hf.co/test/smollm2-split-gguf:Q4_1", "hi", timeout=240)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip()


def test_a_gated_repo_needs_hf_token(
    fake: FakeHub, roost_home: Path, run_roost: RunRoost, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert one_line_error(run_roost("pull", "hf.co/test/gated-gguf")) == (
        f"hf.co/test/gated-gguf is gated: accept its terms on {fake.url}, then set HF_TOKEN "
        "to a token of that account"
    )
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    done = run_roost("pull", "hf.co/test/gated-gguf")
    assert done.returncode == 0, done.stderr
    key = "test/gated-gguf/SmolLM2-135M-Instruct-Q4_K_M.gguf"
    gets = [r for r in fake.requests if r.path == key and r.method == "GET"]
    assert gets
    assert {r.authorization for r in gets} == {f"Bearer {TOKEN}"}
    assert "hf.co/test/gated-gguf" in manifest(roost_home)
