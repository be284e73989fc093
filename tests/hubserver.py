"""A local stand-in for the Hugging Face Hub: what `huggingface_hub` asks when roost pulls.

A real HTTP server on a free 127.0.0.1 port (a thread with http.server; bodies go out with
sendfile, so it is not the bottleneck of the pull benchmark). It answers:

- `GET /api/models/{owner}/{repo}[/revision/{rev}]` (`HfApi.model_info`, `?blobs=True`): the
  commit and the siblings with size and `lfs.sha256`;
- `HEAD`/`GET /{owner}/{repo}/resolve/{rev}/{path}`: X-Repo-Commit, ETag and X-Linked-Etag
  (the SHA-256), X-Linked-Size, Content-Length, Accept-Ranges; `Range: bytes=N-` → 206;
- 404 with the Hub's X-Error-Code (RepoNotFound, EntryNotFound, RevisionNotFound), so
  huggingface_hub raises its own errors; a gated repo answers 401 GatedRepo without
  `Authorization: Bearer <token>` (403 with another token).

It counts the body bytes it sent per file, and can cut a file's download after N bytes
(drops the connection, once), send a file slowly, or send corrupted bytes.

`python -m tests.hubserver FILE...` serves files as repo `test/bench` until killed (the
pull benchmark's server, a process of its own): prints its URL, then each file's SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

TOKEN = "hf_test_token_for_the_gated_repo"
REPO_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"
_API = re.compile(rf"/api/models/(?P<repo>{REPO_NAME})(?:/revision/(?P<rev>[^/]+))?")
_RESOLVE = re.compile(rf"/(?P<repo>{REPO_NAME})/resolve/(?P<rev>[^/]+)/(?P<path>.+)")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            sha.update(chunk)
    return sha.hexdigest()


_hashes: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        _hashes[key] = sha256_file(path)
    return _hashes[key]


@dataclass
class Repo:
    files: dict[str, Path]  # path in the repo -> file on disk
    commit: str
    gated: bool = False
    extra: dict[str, bytes] = field(default_factory=dict)  # small non-LFS files (README.md)


@dataclass
class Request:
    method: str
    path: str  # the repo file (resolve requests) or the URL path
    start: int  # the Range start (0 without one)
    sent: int  # body bytes sent
    authorization: str | None


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.served: Counter[str] = Counter()  # "owner/repo/path" -> body bytes sent
        self.requests: list[Request] = []
        self.cut_after: dict[str, int] = {}  # file -> drop the connection after N bytes, once
        self.pace: dict[str, float] = {}  # file -> seconds per MB sent (a slow network)
        self.corrupt: set[str] = set()  # files whose bodies have a flipped byte
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def add(
        self,
        repo: str,
        files: dict[str, Path],
        *,
        gated: bool = False,
        extra: dict[str, bytes] | None = None,
    ) -> Repo:
        commit = hashlib.sha1(repo.encode()).hexdigest()  # noqa: S324  # a fake commit id
        self.repos[repo] = Repo(dict(files), commit, gated, dict(extra or {}))
        return self.repos[repo]

    def sha256(self, repo: str, path: str) -> str:
        return cached_sha256(self.repos[repo].files[path])

    def resolves(self, key: str) -> list[Request]:
        """The GET requests for one file ("owner/repo/path")."""
        return [r for r in self.requests if r.method == "GET" and r.path == key]

    def start(self) -> str:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self.served[request.path] += request.sent


@contextmanager
def running(hub: FakeHub) -> Iterator[FakeHub]:
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    _key = ""
    protocol_version = "HTTP/1.1"  # huggingface_hub's client keeps connections open

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _error(
        self, status: int, code: str | None, message: str, commit: str | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _repo(self, repo_id: str, rev: str | None) -> Repo | None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if rev not in (None, "main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return repo

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _answer(self) -> None:
        path = unquote(urlsplit(self.path).path)
        api = _API.fullmatch(path)
        if api is not None and self.command == "GET":
            self._info(api.group("repo"), api.group("rev"))
            return
        resolve = _RESOLVE.fullmatch(path)
        if resolve is not None:
            self._resolve(resolve.group("repo"), resolve.group("rev"), resolve.group("path"))
            return
        self._error(404, None, "Not Found")

    def _info(self, repo_id: str, rev: str | None) -> None:
        repo = self._repo(repo_id, rev)
        if repo is None:
            return
        siblings: list[dict[str, Any]] = []
        for name, file in repo.files.items():
            size = file.stat().st_size
            sha = cached_sha256(file)
            siblings.append(
                {
                    "rfilename": name,
                    "size": size,
                    "blobId": hashlib.sha1(sha.encode()).hexdigest(),  # noqa: S324
                    "lfs": {"sha256": sha, "size": size, "pointerSize": 134},
                }
            )
        for name, data in repo.extra.items():
            siblings.append({"rfilename": name, "size": len(data), "blobId": "0" * 40})
        body = json.dumps(
            {
                "_id": repo.commit[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.commit,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "tags": ["gguf"],
                "siblings": siblings,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._note(path=f"/api/models/{repo_id}", start=0, sent=len(body))

    def _note(self, *, path: str, start: int, sent: int) -> None:
        self.fake._record(
            Request(self.command, path, start, sent, self.headers.get("Authorization"))
        )

    def _resolve(self, repo_id: str, rev: str, name: str) -> None:
        repo = self._repo(repo_id, rev)
        if repo is None:
            return
        if repo.gated:
            auth = self.headers.get("Authorization")
            if auth != f"Bearer {TOKEN}":
                status = 403 if auth else 401
                message = (
                    f"Access to model {repo_id} is restricted. You must have access to it "
                    "and be authenticated to access it. Please log in."
                )
                self._error(status, "GatedRepo", message, repo.commit)
                return
        if name in repo.extra:
            data = repo.extra[name]
            self.send_response(200)
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')  # noqa: S324
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)
            return
        file = repo.files.get(name)
        if file is None:
            self._error(404, "EntryNotFound", f"{name} does not exist", repo.commit)
            return
        self._send_file(f"{repo_id}/{name}", file, repo.commit)

    def _send_file(self, key: str, file: Path, commit: str) -> None:
        size = file.stat().st_size
        sha = cached_sha256(file)
        start, end = 0, size
        ranged = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        if ranged is not None:
            start = int(ranged.group(1))
            end = min(size, int(ranged.group(2)) + 1) if ranged.group(2) else size
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if ranged else 200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{sha}"')
        self.send_header("X-Linked-Etag", f'"{sha}"')
        self.send_header("X-Linked-Size", str(size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            self._note(path=key, start=start, sent=0)
            return
        sent = 0
        try:
            sent = self._body(key, file, start, end)
        finally:
            self._note(path=key, start=start, sent=sent)

    def _body(self, key: str, file: Path, start: int, end: int) -> int:
        """Send [start, end) of the file; returns the bytes sent."""
        fake = self.fake
        self._key = key
        stop = end
        cut = fake.cut_after.pop(key, None)
        if cut is not None:
            stop = min(end, max(start, cut))
        sent = 0
        with file.open("rb") as handle:
            if key in fake.corrupt and start <= size_half(file) < stop:
                middle = size_half(file)
                sent += self._sendfile(handle, start, middle)
                handle.seek(middle)
                byte = handle.read(1)
                self.wfile.write(bytes([byte[0] ^ 0xFF]))
                sent += 1 + self._sendfile(handle, middle + 1, stop)
            else:
                sent += self._sendfile(handle, start, stop)
            if cut is not None and stop < end:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        return sent

    def _sendfile(self, handle: Any, start: int, stop: int) -> int:
        """os.sendfile in a loop, counting what left even when the client hangs up."""
        offset = start
        pace = self.fake.pace.get(self._key, 0.0)
        piece = (1 << 20) if pace else (8 << 20)
        try:
            while offset < stop:
                count = os.sendfile(
                    self.connection.fileno(), handle.fileno(), offset, min(stop - offset, piece)
                )
                if count == 0:
                    break
                offset += count
                if pace:
                    time.sleep(pace * count / (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return offset - start


def size_half(file: Path) -> int:
    return file.stat().st_size // 2


def smollm2_files(model: Path) -> dict[str, Path]:
    """The test repo `test/smollm2-gguf`: the embedded model under quant names (the same
    bytes)."""
    return {
        "SmolLM2-135M-Instruct-Q4_1.gguf": model,
        "SmolLM2-135M-Instruct-Q8_0.gguf": model,
        "SmolLM2-135M-Instruct-IQ4_XS.gguf": model,
    }


def split_files(parts: list[Path]) -> dict[str, Path]:
    """The test repo `test/smollm2-split-gguf`: a split GGUF in a folder, as large repos
    keep them (`Q4_1/name-Q4_1-00001-of-00003.gguf`)."""
    return {f"Q4_1/{part.name}": part for part in parts}


def build_hub(model: Path, split: list[Path]) -> FakeHub:
    """The repos the pull tests use (not started): test/smollm2-gguf, its split version
    test/smollm2-split-gguf, and test/gated-gguf (HF_TOKEN = TOKEN)."""
    hub = FakeHub()
    hub.add("test/smollm2-gguf", smollm2_files(model), extra={"README.md": b"# test\n"})
    hub.add("test/smollm2-split-gguf", split_files(split))
    hub.add("test/gated-gguf", {"SmolLM2-135M-Instruct-Q4_K_M.gguf": model}, gated=True)
    return hub


@contextmanager
def hub_in_env(model: Path, split: list[Path], hf_home: Path, env: Any) -> Iterator[FakeHub]:
    """build_hub's repos served, with HF_ENDPOINT at them in `env` (a pytest
    MonkeyPatch), HF_HOME at `hf_home`, and no token or offline switch from the caller."""
    with running(build_hub(model, split)) as hub:
        env.setenv("HF_ENDPOINT", hub.url)
        env.setenv("HF_HOME", str(hf_home))
        env.delenv("HF_TOKEN", raising=False)
        env.delenv("HF_HUB_OFFLINE", raising=False)
        yield hub


def make_split(model: Path, out: Path, parts: int = 3) -> list[Path]:
    """A real split GGUF of `model` (the gguf package's writer, as llama.cpp's gguf-split
    writes them: split.no / split.count / split.tensors.count in every part, the metadata
    in the first), named `{stem}-0000i-of-0000N.gguf` in `out`."""
    import logging

    import gguf
    from gguf.scripts.gguf_new_metadata import copy_with_new_metadata

    out.mkdir(parents=True, exist_ok=True)
    stem = model.name.removesuffix(".gguf").replace(".", "-")
    names = [out / f"{stem}-{i:05d}-of-{parts:05d}.gguf" for i in range(1, parts + 1)]
    if all(n.exists() for n in names):
        return names
    reader = gguf.GGUFReader(model)
    field_ = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    assert field_ is not None
    tensors = len(reader.tensors)
    writer = gguf.GGUFWriter(
        out / f"{stem}.gguf", str(field_.contents()), split_max_tensors=-(-tensors // parts)
    )
    logging.getLogger("gguf-new-metadata").setLevel(logging.WARNING)
    copy_with_new_metadata(reader, writer, {}, [])
    missing = [n for n in names if not n.exists()]
    assert not missing, f"the split wrote other files than {missing}"
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    hub = FakeHub()
    hub.add("test/bench", {f.name: f for f in args.files})
    url = hub.start()
    print(url, flush=True)
    for file in args.files:
        print(file.name, cached_sha256(file), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
