"""Pulling over HTTP: POST /api/models/pull and DELETE /api/models/{name} on a real
`roost serve` whose HF_ENDPOINT is a local stand-in for the Hub (tests/hubserver.py),
serving the embedded SmolLM2 GGUF under test repo names.

The pull runs in a child process (`roost.providers.store.pull_worker`); these tests find
it in /proc by its command line, which names the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.providers.llamacpp import embedded_model_path
from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server
from tests.hubserver import FakeHub, running, smollm2_files

pytestmark = [pytest.mark.e2e, pytest.mark.model]

REPO = "test/smollm2-gguf"
MORE = "test/smollm2-more"  # more quant names, for pulls that must not share a file
PULLED = f"hf.co/{REPO}:Q4_1"
# A slowed file comes at 5 MiB/s: its pull takes ~20 s, time enough for what a test does
# meanwhile (the test waits for events, never for a time).
SLOW = 0.2  # seconds per MiB
CHUNK = 10 * 1024 * 1024  # how far a download gets before a test hangs up
WAIT = 60.0


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    model = embedded_model_path()
    fake.add(REPO, smollm2_files(model))
    fake.add(MORE, {f"SmolLM2-135M-Instruct-{q}.gguf": model for q in ("Q5_K_M", "Q6_K", "Q2_K")})
    with running(fake):
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hub: FakeHub) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("pull") / "home"
    home.mkdir()
    # A model of config.toml's (never asked: no request uses it) beside the built-in one.
    (home / "config.toml").write_text(
        '[models.remote]\nprovider = "openai"\nmodel = "gpt-test"\n'
        'base_url = "http://127.0.0.1:9/v1"\napi_key = "sk-test"\n'
    )
    instance = Server(home, free_port())
    instance.start({**backend.dedicated_env("pull"), "HF_ENDPOINT": hub.url})
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def slow(hub: FakeHub) -> Iterator[Callable[[str], str]]:
    """Slow down a file's downloads (until `hub.pace.pop(key)` or the test ends); returns
    the file's key in the hub's counters."""
    slowed: list[str] = []

    def down(key: str) -> str:
        hub.pace[key] = SLOW
        slowed.append(key)
        return key

    yield down
    for key in slowed:
        hub.pace.pop(key, None)


def store(server: Server) -> Path:
    return server.home / "models"


def workers(server: Server) -> list[int]:
    """The pids of this server's pull processes (their command line names its store)."""
    found = []
    root = str(store(server)).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"roost.providers.store.pull_worker" in argv and root in argv:
            found.append(int(entry.name))
    return found


def runners_of(path: Path) -> list[int]:
    """The pids of model runners loading `path`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"roost.providers.runner" in argv and str(path).encode() in argv:
            found.append(int(entry.name))
    return found


def until(check: Callable[[], Any], what: str, seconds: float = WAIT) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def manifest_names(server: Server) -> list[str]:
    path = store(server) / "manifest.json"
    if not path.exists():
        return []
    return [m["name"] for m in json.loads(path.read_text())["models"]]


def body(name: str) -> dict[str, Any]:
    return {"model": name}


def pull_lines(client: httpx.Client, name: str) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with client.stream("POST", "/api/models/pull", json={"name": name}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
    return response, lines


def test_an_admin_pull_streams_ollamas_statuses_and_the_model_answers(
    server: Server, admin: httpx.Client, hub: FakeHub
) -> None:
    response, lines = pull_lines(admin, PULLED)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    digest = "sha256:" + hub.sha256(REPO, "SmolLM2-135M-Instruct-Q4_1.gguf")
    size = embedded_model_path().stat().st_size
    assert lines[0] == {"status": "pulling manifest"}
    progress = [line for line in lines if "completed" in line]
    assert progress, lines
    for line in progress:
        assert line == {
            "status": f"pulling {digest.removeprefix('sha256:')[:12]}",
            "digest": digest,
            "total": size,
            "completed": line["completed"],
        }
    done = [line["completed"] for line in progress]
    assert done == sorted(done)
    assert done[-1] == size
    statuses = [line["status"] for line in lines]
    tail = statuses[statuses.index("verifying sha256 digest") :]
    assert tail == ["verifying sha256 digest", "writing manifest", "success"]
    assert lines[-1] == {"status": "success", "name": PULLED}
    assert not any("error" in line for line in lines)
    assert workers(server) == []
    # Listed at once, with what it is; and it answers.
    listed = {m["name"]: m for m in admin.get("/api/models").json()["models"]}
    assert listed[PULLED]["pulled"] is True
    assert (listed[PULLED]["size"], listed[PULLED]["quantization"]) == (size, "Q4_1")
    assert listed["smollm2"]["pulled"] is False
    assert PULLED in {m["id"] for m in admin.get("/v1/models").json()["data"]}
    chat = admin.post(
        "/v1/chat/completions",
        json={
            "model": PULLED,
            "messages": [{"role": "user", "content": "Say hi"}],
            "max_tokens": 8,
        },
    )
    assert chat.status_code == 200, chat.text
    assert chat.json()["model"] == PULLED
    assert chat.json()["choices"][0]["message"]["content"].strip()
    # Pulled again, non-streaming: up to date, nothing downloaded again.
    served = hub.served[f"{REPO}/SmolLM2-135M-Instruct-Q4_1.gguf"]
    again = admin.post("/api/models/pull", json={"model": PULLED, "stream": False})
    assert again.status_code == 200, again.text
    assert again.headers["content-type"] == "application/json"
    assert again.json() == {
        "status": "success",
        "name": PULLED,
        "size": size,
        "quantization": "Q4_1",
    }
    assert hub.served[f"{REPO}/SmolLM2-135M-Instruct-Q4_1.gguf"] == served


def test_a_non_admin_is_refused(server: Server, admin: httpx.Client, hub: FakeHub) -> None:
    key = admin.post("/admin/users", json={}).json()["api_key"]
    asked = len(hub.requests)
    with server.client(key) as user:
        for method, path, body in (
            ("POST", "/api/models/pull", {"model": f"hf.co/{REPO}:Q8_0"}),
            ("DELETE", f"/api/models/{PULLED}", None),
        ):
            refused = user.request(method, path, json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "forbidden"
            assert "admin" in refused.json()["error"]["message"]
        assert user.get("/api/models").json()["can_pull"] is False
    assert admin.get("/api/models").json()["can_pull"] is True
    assert len(hub.requests) == asked  # the Hub was never asked


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"model": "not a model name"}, 400, "cannot pull"),
        ({"model": "hf.co/" + "a" * 300}, 400, "300"),
        ({"model": 7}, 400, "model"),
        ({}, 400, "Missing required parameter: model"),
        ({"model": "hf.co/test/absent-gguf:Q4_1"}, 404, "repository does not exist"),
        ({"model": f"hf.co/{REPO}:Q2_K"}, 404, "it has: IQ4_XS, Q4_1, Q8_0"),
    ],
)
def test_what_fails_before_the_download_is_a_plain_error(
    server: Server, admin: httpx.Client, body: dict[str, Any], status: int, says: str
) -> None:
    for stream in (True, False):
        answer = admin.post("/api/models/pull", json={**body, "stream": stream})
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert says in answer.json()["error"]["message"]
    assert workers(server) == []


def test_hanging_up_cancels_the_pull_and_the_next_pull_resumes(
    server: Server, admin: httpx.Client, hub: FakeHub, slow: Callable[[str], str]
) -> None:
    name, file = f"hf.co/{REPO}:Q8_0", "SmolLM2-135M-Instruct-Q8_0.gguf"
    key = slow(f"{REPO}/{file}")
    with admin.stream("POST", "/api/models/pull", json={"model": name}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # (kept: a dropped iterator closes the connection)
        for line in lines:
            if json.loads(line).get("completed", 0) >= CHUNK:
                break
        assert len(workers(server)) == 1
    # The client left: the child is terminated, nothing is in the manifest, the partial
    # file stays.
    until(lambda: workers(server) == [], "the pull process ended")
    assert name not in manifest_names(server)
    assert name not in {m["name"] for m in admin.get("/api/models").json()["models"]}
    [partial] = (store(server) / "hf" / REPO).glob(f"{file}.*.incomplete")
    kept = partial.stat().st_size
    assert kept >= CHUNK
    # The next pull asks only for the rest.
    hub.pace.pop(key)
    done = admin.post("/api/models/pull", json={"model": name, "stream": False})
    assert done.status_code == 200, done.text
    until(lambda: [r for r in hub.resolves(key) if r.start == kept], "a GET of the rest only")
    assert (
        store(server) / "hf" / REPO / file
    ).stat().st_size == embedded_model_path().stat().st_size
    assert name in manifest_names(server)


def test_a_non_streaming_pull_ends_when_its_client_hangs_up(
    server: Server, hub: FakeHub, slow: Callable[[str], str]
) -> None:
    name = f"hf.co/{MORE}:Q6_K"
    slow(f"{MORE}/SmolLM2-135M-Instruct-Q6_K.gguf")
    body = json.dumps({"model": name, "stream": False}).encode()
    request = (
        f"POST /api/models/pull HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"X-API-Key: {PASSWORD}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(request + body)
        until(lambda: workers(server), "the pull process started")
    until(lambda: workers(server) == [], "the pull process ended")
    assert name not in manifest_names(server)


def test_one_pull_per_name_and_at_most_two_at_once(
    server: Server, admin: httpx.Client, hub: FakeHub, slow: Callable[[str], str]
) -> None:
    first, second, third = (f"hf.co/{MORE}:{q}" for q in ("Q5_K_M", "Q6_K", "Q2_K"))
    key = slow(f"{MORE}/SmolLM2-135M-Instruct-Q5_K_M.gguf")
    slow(f"{MORE}/SmolLM2-135M-Instruct-Q6_K.gguf")
    with contextlib.ExitStack() as stack:
        one, two = (stack.enter_context(server.client()) for _ in range(2))
        leader = stack.enter_context(one.stream("POST", "/api/models/pull", json={"model": first}))
        follower = stack.enter_context(two.stream("POST", "/api/models/pull", json=body(first)))
        lines = follower.iter_lines()
        assert json.loads(next(lines)) == {"status": "pulling manifest"}
        assert json.loads(next(lines))["status"].startswith("pulling ")
        # A second name runs beside it; a third is one too many.
        with admin.stream("POST", "/api/models/pull", json=body(second)) as beside:
            beside_lines = beside.iter_lines()
            next(beside_lines)
            busy = admin.post("/api/models/pull", json=body(third))
            assert busy.status_code == 429, busy.text
            assert busy.headers["retry-after"] == "10"
            assert "at most 2" in busy.json()["error"]["message"]
        until(lambda: len(workers(server)) == 1, "the second pull cancelled")
        # The leader leaves; the pull goes on for the follower (cancelled, it would end in
        # an error line, and a later pull would ask the Hub again).
        leader.close()
        rest = [json.loads(line) for line in lines]
        assert rest[-1] == {"status": "success", "name": first}
    until(lambda: hub.resolves(key), "the hub noted the download")  # (noted after it sent)
    assert len(hub.resolves(key)) == 1  # one download for both, never restarted
    assert first in manifest_names(server)
    assert admin.post("/api/models/pull", json={**body(third), "stream": False}).status_code == 200


def test_a_pull_process_killed_by_a_signal_is_an_error_line(
    server: Server, admin: httpx.Client, slow: Callable[[str], str]
) -> None:
    name = f"hf.co/{REPO}:IQ4_XS"
    slow(f"{REPO}/SmolLM2-135M-Instruct-IQ4_XS.gguf")
    with admin.stream("POST", "/api/models/pull", json={"model": name}) as response:
        lines = response.iter_lines()
        for line in lines:
            if "completed" in json.loads(line):
                break
        [pid] = workers(server)
        os.kill(pid, signal.SIGKILL)
        rest = [json.loads(line) for line in lines]
    assert "SIGKILL" in rest[-1]["error"]
    assert rest[-1]["error"].startswith(f"the pull of '{name}' stopped")
    assert name not in manifest_names(server)


def test_delete_removes_a_pulled_model_and_stops_its_runner(
    server: Server, admin: httpx.Client
) -> None:
    name = f"hf.co/{MORE}:Q2_K"
    pulled = admin.post("/api/models/pull", json={"model": name, "stream": False})
    assert pulled.status_code == 200, pulled.text
    file = store(server) / "hf" / MORE / "SmolLM2-135M-Instruct-Q2_K.gguf"
    chat = admin.post(
        "/v1/chat/completions",
        json={"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    assert chat.status_code == 200, chat.text
    assert runners_of(file)
    gone = admin.delete(f"/api/models/{name}")
    assert gone.status_code == 200, gone.text
    size = embedded_model_path().stat().st_size
    assert gone.json() == {"name": name, "deleted": True, "size": size}
    assert not file.exists()
    until(lambda: not runners_of(file), "its runner stopped")
    assert name not in {m["id"] for m in admin.get("/v1/models").json()["data"]}
    assert name not in manifest_names(server)
    again = admin.delete(f"/api/models/{name}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"
    built_in = admin.delete("/api/models/smollm2")
    assert built_in.status_code == 409
    assert "built-in" in built_in.json()["error"]["message"]
    configured = admin.delete("/api/models/remote")
    assert configured.status_code == 409
    assert "config.toml" in configured.json()["error"]["message"]
    assert "remote" in {m["id"] for m in admin.get("/v1/models").json()["data"]}


def test_pulled_with_the_cli_the_running_server_serves_it_and_rm_takes_it_away(
    server: Server, admin: httpx.Client, hub: FakeHub
) -> None:
    """The issue's path as a user walks it, with a server running on the same home: `roost
    pull`, the model answers by name at once (no restart), `roost models list` shows its
    size and quantization, `roost models rm` and it is gone from /v1/models."""
    name = f"hf.co/{MORE}:Q6_K"
    pulled = server.cli("pull", name)
    assert pulled.returncode == 0, pulled.stderr
    assert name in {m["id"] for m in admin.get("/v1/models").json()["data"]}
    chat = admin.post(
        "/v1/chat/completions",
        json={"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    assert chat.status_code == 200, chat.text
    file = store(server) / "hf" / MORE / "SmolLM2-135M-Instruct-Q6_K.gguf"
    assert runners_of(file)

    listed = {row["name"]: row for row in json.loads(server.cli("models", "list", "--json").stdout)}
    assert listed[name]["pulled"] is True
    assert listed[name]["size"] == embedded_model_path().stat().st_size
    assert listed[name]["quantization"] == "Q4_1"  # what the file's header says it is

    removed = server.cli("models", "rm", name)
    assert removed.returncode == 0, removed.stderr
    assert name not in {m["id"] for m in admin.get("/v1/models").json()["data"]}
    until(lambda: not runners_of(file), "its runner stopped")
    assert not file.exists()
