"""A venv with pymemgpt 0.3.25's client, made once and kept under roost's venv.

pymemgpt cannot be a `test` extra: its own requirements (numpy<2, httpx<0.26, chromadb,
lancedb, all of llama-index) conflict with roost's, and pip has no per-requirement
--no-deps. So the first test that needs it makes `<venv>/pymemgpt-client-<hash>/`
with `python -m venv` and installs requirements.txt there with `--no-deps` (about 50
wheels, about 300 MB with pandas and numpy, a minute or two); later runs reuse it. The hash covers
requirements.txt, so changing a pin makes a fresh one. Delete the folder to rebuild.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("requirements.txt")
FLOW = Path(__file__).with_name("flow.py")


def _home() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return Path(sys.prefix) / f"pymemgpt-client-{digest}"


def client_python() -> Path:
    """The python of the client's venv, made on first use (under a lock: one maker)."""
    home = _home()
    python = home / "bin" / "python"
    ready = home / ".ready"
    if ready.exists():
        return python
    with (Path(sys.prefix) / ".pymemgpt-client.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return python
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", "--no-input", "-r", str(REQUIREMENTS)], check=True)
        ready.touch()
    return python


def client_env() -> dict[str, str]:
    home = _home()
    # llama-index (imported by memgpt.client) downloads NLTK data at import unless it is
    # there; the client never uses it, so empty folders stand in for it (no network).
    for name in ("corpora/stopwords", "tokenizers/punkt"):
        (home / "nltk_data" / name).mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**keep, "NLTK_DATA": str(home / "nltk_data"), "PYTHONWARNINGS": "ignore"}
