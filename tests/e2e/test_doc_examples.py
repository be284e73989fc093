"""Every curl example in docs/*.md and README.md, run as written against a real server.

The examples are taken from the markdown: `$PW`, `$KEY` and MemGPT's `ilovellms` become the
admin password, the documented host and port this server's (9464: its `[metrics]`
listener's), and the ids the docs show
(sessions, conversations, agents, roles) ids made here. `curl … -d X` repeats the example
before it with another body. Each must answer below 500 and with the documented status:
the one shown (`HTTP/1.1 404 …`), else a 4xx for an error body, else a 2xx.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
CONSUMER, OTHER = "abc123def456ghi789jkl012", "def456ghi789jkl012mno345"

# What needs a setup this test does not make, by a piece of the command.
SKIPPED = {
    "--cacert": "needs a server started with --use-ssl on another port",
    "@long.wav": "needs the speech worker killed mid-transcription",
    "@big.wav": "needs a 100 MB upload",
    '"use echo"': "needs the echo tool enabled and a model that calls it",
    "appr_": "needs a tool call waiting for approval",
    "Last-Event-ID": "needs a stream cut mid-turn (tests/api/test_native_streams.py)",
    "memory/2026-11-26.md": "a file the heartbeat wrote on that day",
}


@dataclass
class Example:
    page: str
    command: str
    output: str

    @property
    def name(self) -> str:
        return f"{self.page}: {self.command[:80]}"

    def status(self) -> tuple[int, int]:
        """The documented status, as a range."""
        shown = re.search(r"^HTTP/[\d.]+ (\d{3})", self.output, re.M)
        if shown:
            return int(shown[1]), int(shown[1])
        if re.match(r'\s*\{"(error|success":false)', self.output):
            return 400, 499
        return 200, 299


def _examples() -> list[Example]:
    found: list[Example] = []
    for page in PAGES:
        previous = ""
        for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), re.S):
            lines = block.split("\n")
            i = 0
            while i < len(lines):
                if not re.match(r"\s*(\$ )?curl\b", lines[i]):
                    i += 1
                    continue
                command = lines[i].strip().removeprefix("$ ")
                while i + 1 < len(lines) and (command.endswith("\\") or command.count("'") % 2):
                    i += 1
                    if command.endswith("\\"):
                        command = command[:-1].rstrip() + " " + lines[i].strip()
                    else:  # a quoted body that goes on over lines
                        command += "\n" + lines[i]
                i += 1
                output = []
                while i < len(lines) and not re.match(r"\s*(\$ )?curl\b", lines[i]):
                    output.append(lines[i])
                    i += 1
                command = re.sub(r"\s+#.*$", "", command)  # a comment after the command
                if re.match(r"curl (…|\.\.\.) ", command) or " ... " in command:
                    body = command.split(" -d ", 1)[1]
                    command = previous.split(" -d ", 1)[0] + " -d " + body
                else:
                    previous = command
                found.append(Example(page.name, command, "\n".join(output)))
    return found


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def metrics_port() -> int:
    """The server's `[metrics]` listener: the docs' 127.0.0.1:9464."""
    return free_port()


@pytest.fixture(scope="module")
def ollama_port() -> int:
    """The server's `[ollama]` listener: the docs' 127.0.0.1:11434."""
    return free_port()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, metrics_port: int, ollama_port: int
) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("home")
    secrets = home / "secrets.toml"
    secrets.write_text(f'[consumers]\nmobile-app = "{CONSUMER}"\nzapier = "{OTHER}"\n')
    secrets.chmod(0o600)
    instance = Server(home, free_port())
    env = {
        **backend.dedicated_env("docs"),
        "ROOST_METRICS_PORT": str(metrics_port),
        "ROOST_OLLAMA_PORT": str(ollama_port),
    }
    instance.start(env)  # a database of its own: per-test resets must not empty it
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def ids(server: Server) -> dict[str, str]:
    """The ids the docs show → ids of things made here."""
    made: dict[str, str] = {}
    with server.client() as client:
        for shown in (
            "7e785ab1-02d2-4766-83f7-f84c49bf8a43",
            "a4a3946d-f768-457c-90fe-12cda66ac173",
            "5ff66a6b-8dbf-49bc-8a25-8a1740ec8491",
            "<id>",
        ):
            made[shown] = client.post("/api/sessions", json={}).json()["session_id"]
        made['"session_id": "..."'] = f'"session_id": "{made["<id>"]}"'
        conversation = client.post("/api/conversations", headers={"X-API-Key": CONSUMER})
        made["03cdae6206a82d8637a8602a"] = conversation.json()["id"]
    return made


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the examples run: the audio files they upload, a 10 MB body."""
    where = tmp_path_factory.mktemp("cwd")
    for audio in AUDIO.glob("*.wav"):
        shutil.copy(audio, where)
    (where / "10MB.json").write_text('{"message": "' + "a" * (10 * 1024 * 1024) + '"}')
    return where


def _runnable(
    example: Example, server: Server, ids: dict[str, str], metrics_port: int, ollama_port: int
) -> str:
    command = example.command.replace("ilovellms", PASSWORD)
    command = re.sub(r"(https?://)?(localhost|127\.0\.0\.1):(31327|7777)", server.url, command)
    command = command.replace("127.0.0.1:9464", f"127.0.0.1:{metrics_port}")
    command = command.replace("127.0.0.1:11434", f"127.0.0.1:{ollama_port}")
    for shown, real in ids.items():
        command = command.replace(shown, real)
    return command + " -s -o response.out -w '%{http_code}' --max-time 300"


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) > 80
    for piece in SKIPPED:  # every skip still names an example
        assert any(piece in e.command for e in EXAMPLES), piece


@pytest.mark.timeout(1800)
def test_every_curl_example_in_the_docs_works_as_written(
    server: Server, ids: dict[str, str], workdir: Path, metrics_port: int, ollama_port: int
) -> None:
    env = {**os.environ, "PW": PASSWORD, "KEY": PASSWORD}
    failures: list[str] = []
    for example in EXAMPLES:
        if any(piece in example.command for piece in SKIPPED):
            continue
        if "/api/queue/1" in example.command:  # documented: once answered, 404
            _wait_for_an_empty_queue(server)
        command = _runnable(example, server, ids, metrics_port, ollama_port)
        result = subprocess.run(
            ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True
        )
        body = (workdir / "response.out").read_text(errors="replace")
        status = int(result.stdout[-3:] or 0)
        low, high = example.status()
        if status >= 500 or not low <= status <= high:
            failures.append(
                f"{example.name}\n  -> {status} (documented {low}-{high}): {body[:300]}"
            )
            continue
        _remember(example, body, ids)
    assert failures == [], "\n".join(failures)


def _remember(example: Example, body: str, ids: dict[str, str]) -> None:
    """Ids later examples use: the MemGPT agent and the kernel2 role made here, and the
    OpenAI Responses response and function call ids (responses.md: the first in the
    documented output stands for the first in the real one)."""
    for pattern in (r'"id": ?"(resp_[0-9a-f]+)"', r'"call_id": ?"(call_[0-9a-f]+)"'):
        shown, real = re.search(pattern, example.output), re.search(pattern, body)
        if shown and real:
            ids.setdefault(shown[1], real[1])
    try:
        answer = json.loads(body)
    except ValueError:
        return
    if not isinstance(answer, dict):
        return
    if "agent_state" in answer:
        ids["<agent_id>"] = answer["agent_state"]["id"]
    if '"name":"Tutor","description"' in example.command:
        ids["role_o0rulo"] = answer["data"]["id"]


def _wait_for_an_empty_queue(server: Server) -> None:
    with server.client() as client:
        for _ in range(600):
            if not client.get("/api/queue").json()["messages"]:
                return
            time.sleep(0.5)
    raise AssertionError("chat.nvim's queue was not answered in 5 minutes")
