"""SIGKILL a real `roost serve` in the middle of each write path; after the restart,
nothing is lost or answered twice. The guarantee per path (docs/reliability.md):

- a chat turn (native stream, /v1 with a session, LlamaChat): a user message is either
  absent (and the client saw its request fail) or present exactly once, followed by
  exactly one assistant row: the reply, or an error (`interrupted: ...` for a turn the
  crash cut, recorded at the next start). A client that got a whole answer finds it.
- kernel2 (stateless): nothing is stored; the server comes back and answers.
- a MemGPT agent message: absent (the client saw its request fail) or present exactly
  once with exactly one reply: a turn the crash cut is run again at the next start (on
  PostgreSQL: by the replica that takes over the dead one's expired lease on the agent).
- a memory file write: the file holds one whole version (never a torn one) and the
  index agrees with it after the restart.

The model is a real OpenAI-compatible HTTP server in this process (tests/upstreams.py)
that streams slowly, so the kills land before, during and after model calls.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Server
from tests.upstreams import ToolCall, openai_upstream

pytestmark = pytest.mark.e2e

ROUNDS = 4
SPREAD = 3.0  # seconds after the request over which the kills are spread
WORDS = " ".join(f"w{i}" for i in range(16))  # ~16 chunks: about a second of streaming
SEND = ToolCall("send_message", {"inner_thoughts": "Reply.", "message": "Agent reply"}, id="c1")


def configure(home: Path, base_url: str) -> None:
    (home / "config.toml").write_text(
        f"""default_model = "remote"

[models.remote]
provider = "openai"
model = "gpt-test"
base_url = "{base_url}"
api_key = "sk-test"

[agents]
model = "remote"

[memory]
include_in_chat = false
log_turns = false
watch = false
"""
    )


@dataclass
class Outcome:
    text: str
    ok: bool = False  # the client received a whole, successful answer
    detail: str = ""


Send = Callable[[httpx.Client, str, str], bool]


def _sse_done(response: httpx.Response, done: Callable[[Any], bool]) -> bool:
    if response.status_code != 200:
        return False
    for line in response.iter_lines():
        if line.startswith("data: {") and done(json.loads(line[6:])):
            return True
    return False


def native_send(client: httpx.Client, target: str, text: str) -> bool:
    body = {"message": text, "session_id": target}
    with client.stream("POST", "/api/chat/stream", json=body) as response:
        return _sse_done(response, lambda e: e.get("type") == "done")


def v1_send(client: httpx.Client, target: str, text: str) -> bool:
    body = {
        "model": "remote",
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "metadata": {"session_id": target},
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        return _sse_done(
            response, lambda e: bool(e.get("choices")) and e["choices"][0]["finish_reason"]
        )


def kernel2_send(client: httpx.Client, target: str, text: str) -> bool:
    body = {"messages": [{"role": "user", "content": text}], "stream": True}
    with client.stream("POST", "/api/kernel2/chat", json=body) as response:
        return _sse_done(
            response, lambda e: bool(e.get("choices")) and e["choices"][0]["finish_reason"]
        )


def llamachat_send(client: httpx.Client, target: str, text: str) -> bool:
    response = client.post(f"/api/conversations/{target}/messages", json={"content": text})
    return response.status_code == 200


def memgpt_send(client: httpx.Client, target: str, text: str) -> bool:
    response = client.post(f"/api/agents/{target}/messages", json={"message": text})
    return response.status_code == 200


def memory_send(client: httpx.Client, target: str, text: str) -> bool:
    response = client.put(f"/api/memory/files/{target}", json={"content": text})
    return response.status_code == 200


def attempt(server: Server, send: Send, target: str, text: str, delay: float) -> Outcome:
    """Send in a thread, kill -9 the server `delay` seconds later, report what the client
    saw."""
    with server.client() as client:
        # Warm up (the app is built and the model client made lazily, seconds on a busy
        # machine), so that the kill lands in the request itself: a stateless call stores
        # nothing.
        warm = {"model": "remote", "messages": [{"role": "user", "content": "warm"}]}
        assert client.post("/v1/chat/completions", json=warm).status_code == 200
    outcome = Outcome(text)

    def run() -> None:
        try:
            with server.client() as client:
                outcome.ok = send(client, target, text)
        except httpx.HTTPError as exc:
            outcome.detail = type(exc).__name__

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(delay)
    server.kill()
    thread.join(30)
    assert not thread.is_alive(), "the client hung after the server died"
    return outcome


def conversation_rows(client: httpx.Client, path: str) -> list[tuple[str, str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"], m["error"]) for m in response.json()["messages"]]


def check_turns(rows: list[tuple[str, str, Any]], outcomes: list[Outcome], seed: int) -> None:
    """Strictly user, answer, user, answer...; each sent message at most once, in order."""
    assert len(rows) % 2 == 0, f"an unanswered message (seed {seed}): {rows}"
    pairs = list(zip(rows[::2], rows[1::2], strict=True))
    asked = [user[1] for user, _ in pairs]
    for (user, answer), text in zip(pairs, asked, strict=True):
        assert user[0] == "user", (seed, rows)
        assert answer[0] == "assistant", (seed, rows)
        if answer[2] is None:
            assert answer[1] == f"re: {text}", (seed, rows)
        else:
            assert answer[2].startswith(("interrupted:", "provider_error:")), (seed, rows)
    sent = [o.text for o in outcomes]
    assert asked == [t for t in sent if t in asked], f"lost order or duplicates (seed {seed})"
    for outcome in outcomes:
        if outcome.ok:  # a whole answer seen by the client is stored, as seen
            index = asked.index(outcome.text)
            assert pairs[index][1][1:] == (f"re: {outcome.text}", None), (seed, rows)


@dataclass
class Killed:
    server: Server
    target: str
    outcomes: list[Outcome]
    seed: int


@contextmanager
def killed_rounds(
    tmp_path: Path,
    behavior: dict[str, Any],
    prepare: Callable[[httpx.Client], str],
    send: Send,
    text_of: Callable[[int], str],
) -> Iterator[Killed]:
    """ROUNDS starts of the server, each killed during one request; then a last start."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    home = tmp_path / "home"
    home.mkdir()
    with openai_upstream(**behavior) as upstream:
        configure(home, upstream.base_url)
        server = Server(home, free_port())
        try:
            server.start()
            with server.client() as client:
                target = prepare(client)
            outcomes = []
            for round_ in range(ROUNDS):
                if round_:
                    server.start()
                # Spread over before, during and after the answer (about a second).
                delay = (round_ + rng.random()) * SPREAD / ROUNDS
                outcomes.append(attempt(server, send, target, text_of(round_), delay))
            server.start()
            yield Killed(server, target, outcomes, seed)
        finally:
            server.stop()
    log = (home / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/sessions").json()["session_id"])


def question(round_: int) -> str:
    return f"question {round_}: {WORDS}"


ECHO = {"echo": True, "chunk_delay": 0.06}


def new_agent(client: httpx.Client) -> str:
    made = client.post("/api/agents", json={"config": {"name": "killed"}})
    return str(made.json()["agent_state"]["id"])


def new_conversation(client: httpx.Client) -> str:
    return str(client.post("/api/conversations").json()["id"])


CHAT_PATHS = {
    # name: (prepare, send, where the conversation is read)
    "native": (new_session, native_send, "/api/sessions/{}"),
    "v1": (lambda c: "kill-v1", v1_send, "/api/sessions/{}"),
    "llamachat": (new_conversation, llamachat_send, "/api/conversations/{}"),
}


@pytest.mark.parametrize("name", sorted(CHAT_PATHS))
def test_a_killed_chat_turn_is_answered_once_or_recorded_as_interrupted(
    tmp_path: Path, name: str
) -> None:
    prepare, send, path = CHAT_PATHS[name]
    with (
        killed_rounds(tmp_path, ECHO, prepare, send, question) as run,
        run.server.client() as client,
    ):
        where = path.format(run.target)
        found = client.get(where)
        # /v1 creates its session with the first stored message: none may exist yet.
        rows = conversation_rows(client, where) if found.status_code == 200 else []
        check_turns(rows, run.outcomes, run.seed)
        # The kills did land while messages were being answered.
        assert rows, f"no round got as far as storing its message (seed {run.seed})"
        assert send(client, run.target, "after the kills")  # the conversation works
        after = conversation_rows(client, where)
    assert after[-2:] == [
        ("user", "after the kills", None),
        ("assistant", "re: after the kills", None),
    ]


def test_a_killed_kernel2_chat_leaves_nothing_behind(tmp_path: Path) -> None:
    with (
        killed_rounds(tmp_path, ECHO, lambda c: "", kernel2_send, question) as run,
        run.server.client() as client,
    ):
        assert kernel2_send(client, "", "after the kills")
        assert client.get("/api/sessions").json()["sessions"] == []


def agent_history(client: httpx.Client, agent: str) -> tuple[list[str], list[int]]:
    """The agent's user messages, oldest first, and the replies after each."""
    params = {"start": 0, "count": 500}
    listed = client.get(f"/api/agents/{agent}/messages", params=params).json()["messages"]
    users: list[str] = []
    replies: list[int] = []
    for message in reversed(listed):  # listed newest first
        if message["role"] == "user":
            packed = json.loads(message["text"])
            if packed.get("type") == "user_message":
                users.append(packed["message"])
                replies.append(0)
        elif message["role"] == "assistant" and replies:
            replies[-1] += 1
    return users, replies


def test_a_killed_memgpt_turn_is_answered_exactly_once(tmp_path: Path) -> None:
    behavior = {"reply": "", "tool_calls": (SEND,), "chunk_delay": 0.15}
    asked = "agent question {}".format
    with (
        killed_rounds(tmp_path, behavior, new_agent, memgpt_send, asked) as run,
        run.server.client() as client,
    ):
        # Messages a kill cut short are answered again in the background after the start.
        deadline = time.monotonic() + 60
        users, replies = agent_history(client, run.target)
        while any(count == 0 for count in replies) and time.monotonic() < deadline:
            time.sleep(0.2)
            users, replies = agent_history(client, run.target)
        assert memgpt_send(client, run.target, "after the kills")
        users, replies = agent_history(client, run.target)
    seed = run.seed
    sent = [o.text for o in run.outcomes] + ["after the kills"]
    assert users == [t for t in sent if t in users], f"duplicated or reordered (seed {seed})"
    assert len(users) > 1, f"no round got as far as storing its message (seed {seed})"
    for outcome in run.outcomes:
        if outcome.ok:
            assert outcome.text in users, f"an answered message was lost (seed {seed})"
    assert replies == [1] * len(users), (seed, users, replies)


def version(n: int) -> str:
    # Large enough that writing and indexing it takes a while.
    return f"# Version {n}\n\nmarker{n}okapi\n\n" + ("filler text for the index. " * 8000)


def test_a_killed_memory_write_leaves_one_whole_version(tmp_path: Path) -> None:
    target = "notes/killed.md"
    with (
        killed_rounds(tmp_path, {}, lambda c: target, memory_send, version) as run,
        run.server.client() as client,
    ):
        file = client.get(f"/api/memory/files/{target}")
        searches = {
            n: client.get("/api/memory/search", params={"q": f"marker{n}okapi"}).json()
            for n in range(ROUNDS)
        }
    seed, outcomes = run.seed, run.outcomes
    if file.status_code == 404:
        assert not any(o.ok for o in outcomes), f"a written file was lost (seed {seed})"
        return
    versions = [version(n) for n in range(ROUNDS)]
    assert file.text in versions, f"a torn file (seed {seed})"
    current = versions.index(file.text)
    last_ok = max((n for n, o in enumerate(outcomes) if o.ok), default=-1)
    assert current >= last_ok, f"an acknowledged write was lost (seed {seed})"
    for n, found in searches.items():
        files = [r["file"] for r in found["results"]]
        assert (target in files) == (n == current), (seed, n, current, files)
