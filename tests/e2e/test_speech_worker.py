"""A real `roost serve`: audio is decoded and transcribed in a worker process, so a crafted
file cannot grow the server's memory and a killed worker costs one request."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from roost.providers.speech.supervisor import WORKER_MODULE
from tests.audio import FOX, FOX_WORDS, words
from tests.e2e.conftest import Server
from tests.speech_inputs import flac_bomb, long_recording

pytestmark = pytest.mark.e2e
MB = 1024 * 1024


def _memory(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def _speech_workers(server: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == server and fields[0] != "Z" and WORKER_MODULE in cmdline:
            found.append(int(entry.name))
    return found


def _fox(client: httpx.Client) -> None:
    answer = client.post("/api/transcription", files={"audio": ("fox.wav", FOX.read_bytes())})
    assert answer.status_code == 200, answer.text
    assert words(answer.json()["text"]) >= FOX_WORDS


def test_the_crafted_flac_is_refused_and_the_server_does_not_grow(server: Server) -> None:
    assert server.process is not None
    pid = server.process.pid
    bomb = flac_bomb()
    assert len(bomb) < 220 * 1024
    with server.client() as client:
        _fox(client)  # the worker is started and its model loaded
        before = _memory(pid)

        llamachat = client.post("/api/transcription", files={"audio": ("memo.flac", bomb)})
        assert llamachat.status_code in (400, 413), llamachat.text
        assert set(llamachat.json()) == {"error"}  # LlamaChat's shape
        assert "'memo.flac'" in llamachat.json()["error"]

        openai = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("memo.flac", bomb)},
            data={"model": "whisper-1"},
        )
        assert openai.status_code in (400, 413), openai.text
        error = openai.json()["error"]  # OpenAI's shape
        assert error["type"] == "invalid_request_error"
        assert "'memo.flac'" in error["message"]

        after = _memory(pid)
        rss, peak = (f"{before[k] / MB:.0f} → {after[k] / MB:.0f} MB" for k in ("VmRSS", "VmHWM"))
        print(f"server RSS {rss}, peak {peak}")
        assert after["VmHWM"] - before["VmHWM"] < 200 * MB
        assert client.get("/health").status_code == 200
        _fox(client)
    assert "Traceback" not in (server.home / "server.log").read_text()


def test_kill_9_of_the_speech_worker_costs_one_request(server: Server) -> None:
    assert server.process is not None
    with server.client() as client:
        _fox(client)
        [worker] = _speech_workers(server.process.pid)

        # Mid-job: a minute of speech takes PocketSphinx several seconds.
        answers: list[httpx.Response] = []
        long = threading.Thread(
            target=lambda: answers.append(
                client.post(
                    "/v1/audio/transcriptions",
                    files={"file": ("long.wav", long_recording(60))},
                    data={"model": "whisper-1"},
                )
            )
        )
        long.start()
        time.sleep(1.5)
        assert not answers, "the transcription ended before the worker could be killed"
        os.kill(worker, signal.SIGKILL)
        long.join(60)
        [killed] = answers
        assert killed.status_code == 502, killed.text
        message = killed.json()["error"]["message"]
        assert "speech process crashed (SIGKILL)" in message
        assert "'long.wav'" in message

        _fox(client)  # the next request starts a new worker
        [second] = _speech_workers(server.process.pid)
        assert second != worker

        # Between jobs: the idle worker is found dead and replaced.
        os.kill(second, signal.SIGKILL)
        time.sleep(0.2)
        _fox(client)
        assert client.get("/health").status_code == 200
