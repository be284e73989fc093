"""LlamaChat against a real `roost serve`: the seed's curl example, the OpenAI SDK's
transcription, and uploads that must not make the server's memory grow."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.audio import FOX, FOX_WORDS, TWO_SENTENCES, encoded, words
from tests.conftest import free_port
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e
KEY = "mobile-app-0123456789abcdef0123"
OTHER = "zapier-0123456789abcdef01234567"
MB = 1024 * 1024

# The seed's "Full integration example", verbatim.
SEED_EXAMPLE = """\
# 1. Create a conversation
CONV=$(curl -s -X POST https://your-host/api/conversations \\
     -H "X-Api-Key: your-api-key" | jq -r '.id')

# 2. Send messages
curl -s -X POST https://your-host/api/conversations/$CONV/messages \\
     -H "X-Api-Key: your-api-key" \\
     -H "Content-Type: application/json" \\
     -d '{"content": "Hola, ¿cómo estás?"}'
"""


@pytest.fixture
def llamachat(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    secrets = home / "secrets.toml"
    secrets.write_text(f'[consumers]\nmobile-app = "{KEY}"\nzapier = "{OTHER}"\n')
    secrets.chmod(0o600)
    server = Server(home, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.model
def test_the_seed_integration_example_runs_as_written(llamachat: Server) -> None:
    # Only the placeholders change: the host (roost serves http here) and the key.
    script = SEED_EXAMPLE.replace("https://your-host", llamachat.url).replace("your-api-key", KEY)
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    answer = json.loads(done.stdout)
    assert answer["role"] == "assistant"
    assert answer["content"].strip()

    with llamachat.client(KEY) as client:
        [conversation] = client.get("/api/conversations").json()
        assert conversation["title"] != "New Conversation"  # written by the model
        assert 0 < len(conversation["title"]) <= 60
        detail = client.get(f"/api/conversations/{conversation['id']}").json()
        assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
        assert detail["messages"][0]["content"] == "Hola, ¿cómo estás?"
    with llamachat.client(OTHER) as other:
        assert other.get(f"/api/conversations/{conversation['id']}").status_code == 404


def test_openai_sdk_transcribes(llamachat: Server) -> None:
    with openai.OpenAI(base_url=f"{llamachat.url}/v1", api_key=KEY, timeout=120) as sdk:
        with FOX.open("rb") as handle:
            plain = sdk.audio.transcriptions.create(model="whisper-1", file=handle)
        assert words(plain.text) >= FOX_WORDS
        webm = ("fox.webm", encoded(FOX, "webm"), "audio/webm")
        assert words(sdk.audio.transcriptions.create(model="whisper-1", file=webm).text) >= (
            FOX_WORDS
        )
        with TWO_SENTENCES.open("rb") as handle:
            detailed = sdk.audio.transcriptions.create(
                model="whisper-1",
                file=handle,
                response_format="verbose_json",
                timestamp_granularities=["segment", "word"],
            )
        assert detailed.language == "english"
        assert detailed.segments is not None
        assert len(detailed.segments) == 2
        assert detailed.words is not None
        with TWO_SENTENCES.open("rb") as handle:
            srt = sdk.audio.transcriptions.create(
                model="whisper-1", file=handle, response_format="srt"
            )
        assert isinstance(srt, str)
        assert srt.startswith("1\n00:00:00,")
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"hi" * 500))
        assert "WAV" in str(caught.value)


def _peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _body(total: int, name: str = "big.mp3") -> Iterator[bytes]:
    yield (
        f'--b\r\nContent-Disposition: form-data; name="audio"; filename="{name}"\r\n'
        "Content-Type: audio/mpeg\r\n\r\n"
    ).encode()
    noise = os.urandom(MB)
    for _ in range(total // MB):
        yield noise
    yield b"\r\n--b--\r\n"


def test_large_uploads_do_not_grow_the_servers_memory(llamachat: Server) -> None:
    assert llamachat.process is not None
    pid = llamachat.process.pid
    headers = {"X-Api-Key": KEY, "Content-Type": "multipart/form-data; boundary=b"}
    with httpx.Client(base_url=llamachat.url, timeout=120) as client:
        # Warm up: the speech model loads on the first transcription.
        files = {"audio": ("fox.wav", FOX.read_bytes())}
        warm = client.post("/api/transcription", headers={"X-Api-Key": KEY}, files=files)
        assert warm.status_code == 200
        before = _peak_rss(pid)

        # 90 MB that is not audio: all of it is received (to a temporary file), then refused.
        corrupt = client.post("/api/transcription", headers=headers, content=_body(90 * MB))
        assert corrupt.status_code == 400
        assert "MP3" in corrupt.json()["error"]

        # 101 MB, streamed without a length: cut off at the bound.
        chunked = client.post("/api/transcription", headers=headers, content=_body(101 * MB))
        assert chunked.status_code == 413
        assert set(chunked.json()) == {"error"}

        # 101 MB with its length declared (httpx sends Content-Length for bytes): refused
        # before it is read.
        declared = client.post(
            "/api/transcription", headers=headers, content=b"".join(_body(101 * MB))
        )
        assert declared.status_code == 413
        grown = _peak_rss(pid) - before
    assert grown < 32 * MB, f"the server's peak memory grew by {grown / MB:.1f} MB"
    assert "Traceback" not in (llamachat.home / "server.log").read_text()
