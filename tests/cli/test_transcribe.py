"""`roost transcribe FILE` in-process, and consumers reloaded by `roost daemon reload`."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from tests.audio import FOX, FOX_WORDS, TWO_SENTENCES, encoded, words
from tests.cli.conftest import RunRoost

Invoke = Callable[..., Result]
A = "mobile-app-key-1234567890abcdef"
B = "zapier-key-1234567890abcdef0000"


def test_transcribe_prints_the_text(cli: Invoke, tmp_path: Path) -> None:
    clip = tmp_path / "memo.ogg"
    clip.write_bytes(encoded(FOX, "ogg"))
    result = cli("transcribe", str(clip))
    assert result.exit_code == 0, result.output
    assert words(result.stdout) >= FOX_WORDS


def test_transcribe_formats(cli: Invoke) -> None:
    srt = cli("transcribe", str(TWO_SENTENCES), "--format", "srt")
    assert srt.exit_code == 0
    assert srt.stdout.startswith("1\n00:00:00,")
    assert "\n2\n00:00:0" in srt.stdout
    verbose = json.loads(cli("transcribe", str(TWO_SENTENCES), "-f", "verbose_json").stdout)
    assert len(verbose["segments"]) == 2
    assert verbose["words"]


def test_transcribe_errors_are_one_line(cli: Invoke, tmp_path: Path) -> None:
    missing = cli("transcribe", str(tmp_path / "nope.wav"))
    assert missing.exit_code == 1
    assert "No such file" in missing.stderr
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all " * 10)
    refused = cli("transcribe", str(text))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("roost: 'notes.wav' is not a readable WAV file")
    assert "Traceback" not in refused.output
    french = cli("transcribe", str(FOX), "--language", "fr")
    assert "only an English model" in french.stderr


def test_transcribe_with_whispercpp_unconfigured_is_a_config_error(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_SPEECH_PROVIDER", "whispercpp")
    result = cli("transcribe", str(FOX))
    assert result.exit_code == 2
    assert "config error" in result.stderr
    assert "model_path" in result.stderr


def _secrets(home: Path, text: str, mode: int = 0o600) -> None:
    path = home / "secrets.toml"
    path.write_text(text)
    os.chmod(path, mode)


def _status(url: str, key: str) -> int:
    # Generous: the first request to a daemon on a loaded CI machine can take seconds.
    response = httpx.post(f"{url}/api/conversations", headers={"X-Api-Key": key}, timeout=30)
    return response.status_code


@pytest.mark.e2e
def test_daemon_reload_applies_the_secrets_file_without_a_restart(
    no_daemon_left: Path, run_roost: RunRoost, port: int
) -> None:
    home = no_daemon_left
    _secrets(home, f'[consumers]\nmobile-app = "{A}"\n')
    started = run_roost("daemon", "start", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}"
    assert (_status(url, A), _status(url, B)) == (200, 401)

    _secrets(home, f'[consumers]\nzapier = "{B}"\n')
    reloaded = run_roost("daemon", "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    assert "reloading its consumers" in reloaded.stdout
    deadline = time.monotonic() + 10
    while _status(url, B) != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (_status(url, A), _status(url, B)) == (401, 200)
    log = (home / "logs" / "roost.log").read_text()
    assert re.search(r"consumers reloaded: 1 active \(added: zapier; .*removed: mobile-app\)", log)

    # A broken file on reload keeps the server and its consumers as they were.
    _secrets(home, f'[consumers]\nzapier = "{B}"\n', 0o644)
    assert run_roost("daemon", "reload").returncode == 0
    deadline = time.monotonic() + 10
    while "consumers not reloaded" not in (home / "logs" / "roost.log").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _status(url, B) == 200
    assert run_roost("daemon", "status").returncode == 0
    assert run_roost("daemon", "stop").returncode == 0
    assert run_roost("daemon", "reload").returncode == 3  # nothing to reload


@pytest.mark.e2e
def test_serve_refuses_a_world_readable_secrets_file(run_roost: RunRoost, roost_home: Path) -> None:
    _secrets(roost_home, f'[consumers]\nmobile-app = "{A}"\n', 0o644)
    result = run_roost("serve", "--port", "0", timeout=60)
    assert result.returncode == 2
    assert "every user of this machine can read it (mode 0644)" in result.stderr
    assert f"chmod 600 {roost_home / 'secrets.toml'}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
