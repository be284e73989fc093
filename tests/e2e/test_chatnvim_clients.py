"""chat.nvim's documented clients (seed 003) against a real `roost serve` with the embedded
model: its curl, Python (`requests`) and Node (`axios`) examples as written, with only the
port and the key changed; then the queued messages are answered by the real model."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SEED_URL = "http://127.0.0.1:7777"
SEED_KEY = "your-secret-key"

CURL = [
    """curl -X POST http://127.0.0.1:7777/ \\
-H "X-API-Key: your-secret-key" \\
-H "Content-Type: application/json" \\
-d '{"session": "2024-01-15-10-30-00", "content": "Hello from curl!"}'""",
    """curl -H "X-API-Key: your-secret-key" http://127.0.0.1:7777/sessions""",
    """curl "http://127.0.0.1:7777/session?id=2024-01-15-10-30-00" \\
-H "X-API-Key: your-secret-key\"""",
]

PY_SEND = """import requests
# Send a message to a session
url = "http://127.0.0.1:7777/"
headers = {
"X-API-Key": "your-secret-key",
"Content-Type": "application/json"
}
data = {
"session": "python-script",
"content": "Message from Python script"
}
response = requests.post(url, json=data, headers=headers)
print(f"Status: {response.status_code}")
"""

PY_SESSIONS = """import requests
# Get session list
headers = {"X-API-Key": "your-secret-key"}
sessions_response = requests.get("http://127.0.0.1:7777/sessions", headers=headers)
if sessions_response.status_code == 200:
    sessions = sessions_response.json()
    print(f"Active sessions: {sessions}")
"""

PY_PREVIEW = """import requests
# Get HTML preview
headers = {"X-API-Key": "your-secret-key"}
params = {"id": "2024-01-15-10-30-00"}
response = requests.get("http://127.0.0.1:7777/session", headers=headers, params=params)
if response.status_code == 200:
    html_content = response.text
    print("Preview generated successfully")
"""

PY_BACKUP = """import requests
import json
def backup_sessions():
    headers = {'X-API-Key': 'your-secret-key'}
    response = requests.get('http://127.0.0.1:7777/sessions', headers=headers)
    sessions = response.json()
    for session_id in sessions:
        # Backup each session
        preview = requests.get(
            'http://127.0.0.1:7777/session',
            params={'id': session_id},
            headers=headers
        )
        with open(f'backup_{session_id}.html', 'w') as f:
            f.write(preview.text)
backup_sessions()
"""

NODE_SEND = """const axios = require('axios');
// Send a message to a session
async function sendMessage(sessionId, content) {
  try {
    const response = await axios.post('http://127.0.0.1:7777/', {
      session: sessionId,
      content: content
    }, {
      headers: {
        'X-API-Key': 'your-secret-key',
        'Content-Type': 'application/json'
      }
    });
    console.log('Message sent successfully');
  } catch (error) {
    console.error('Error:', error.response?.status);
  }
}
sendMessage('2024-01-15-10-30-00', 'Hello from Node.js!');
"""

NODE_SESSIONS = """const axios = require('axios');
// Get all active sessions
async function getSessions() {
  try {
    const response = await axios.get('http://127.0.0.1:7777/sessions', {
      headers: { 'X-API-Key': 'your-secret-key' }
    });
    console.log('Active sessions:', response.data);
    return response.data;
  } catch (error) {
    console.error('Error:', error.response?.status);
  }
}
getSessions();
"""


def adapt(source: str, server: Server, key: str = PASSWORD) -> str:
    return source.replace(SEED_URL, server.url).replace(SEED_KEY, key)


def run(argv: list[str], cwd: Path, *, stderr: bool = False) -> str:
    """What the program printed (on stderr too, with `stderr`)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + (done.stderr if stderr else "")


def python(source: str, server: Server, cwd: Path, key: str = PASSWORD) -> str:
    return run([sys.executable, "-c", adapt(source, server, key)], cwd)


def replies(server: Server, session: str, count: int, timeout: float = 240) -> list[str]:
    """The session's assistant replies once `count` exist (the embedded model is slow)."""
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while True:
            detail = client.get(f"/api/sessions/{session}").json()
            answers = [m for m in detail["messages"] if m["role"] == "assistant"]
            if len(answers) >= count:
                assert all(m["error"] is None for m in answers), answers
                return [m["content"] for m in answers]
            assert time.monotonic() < deadline, detail
            time.sleep(0.5)


def test_seed_curl_and_python_examples(server: Server, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    sent = run(["bash", "-c", adapt(CURL[0], server) + " -s -w '%{http_code}'"], tmp_path)
    assert sent == "204"
    assert run(["bash", "-c", adapt(CURL[1], server)], tmp_path) == '["2024-01-15-10-30-00"]'
    assert "<!DOCTYPE html>" in run(["bash", "-c", adapt(CURL[2], server)], tmp_path)

    assert python(PY_SEND, server, tmp_path) == "Status: 204\n"
    assert python(PY_SEND, server, tmp_path, key="wrong") == "Status: 401\n"
    listed = python(PY_SESSIONS, server, tmp_path)
    assert listed == "Active sessions: ['2024-01-15-10-30-00', 'python-script']\n"
    assert python(PY_PREVIEW, server, tmp_path) == "Preview generated successfully\n"

    # The embedded model answers both queued messages, each once.
    (curl_reply,) = replies(server, "2024-01-15-10-30-00", 1)
    (python_reply,) = replies(server, "python-script", 1)
    assert curl_reply.strip()
    assert python_reply.strip()

    python(PY_BACKUP, server, tmp_path)
    backup = (tmp_path / "backup_python-script.html").read_text()
    assert "Message from Python script" in backup


def _install_axios(into: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the seed's Node.js examples")
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "axios@1"],
        cwd=into,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install axios from the registry: {done.stderr[-500:]}")


def test_seed_node_axios_examples(server: Server, tmp_path: Path) -> None:
    _install_axios(tmp_path)
    assert run(["node", "-e", adapt(NODE_SEND, server)], tmp_path) == "Message sent successfully\n"
    listed = run(["node", "-e", adapt(NODE_SESSIONS, server)], tmp_path)
    assert listed == "Active sessions: [ '2024-01-15-10-30-00' ]\n"
    failed = run(["node", "-e", adapt(NODE_SEND, server, key="wrong")], tmp_path, stderr=True)
    assert failed == "Error: 401\n"
    (answer,) = replies(server, "2024-01-15-10-30-00", 1)
    assert answer.strip()
