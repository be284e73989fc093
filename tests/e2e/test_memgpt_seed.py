"""The MemGPT seed's three curl examples, run as written (the port aside) with curl against
a real `roost serve` started with MEMGPT_SERVER_PASS=ilovellms.

The agents' model is an OpenAI-compatible upstream (tests/upstreams.py) that answers every
step with a send_message call, so the streamed events can be checked exactly; the same
loop on the embedded model is tested in tests/services/test_agents_llamacpp.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.memgpt_helpers import events_of, kinds
from tests.conftest import free_port
from tests.e2e.conftest import Server
from tests.upstreams import ToolCall, Upstream, openai_upstream

pytestmark = [pytest.mark.e2e]

MESSAGE = (
    "Ah, the age-old question, Chad. The meaning of life is as subjective as the life "
    "itself. 42, as the supercomputer 'Deep Thought' calculated in 'The Hitchhiker's Guide "
    "to the Galaxy', is indeed an answer, but maybe not the one we're after."
)
THOUGHTS = 'A fascinating question. It seems Chad may be referencing "The Hitchhiker\'s Guide".'


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    call = ToolCall("send_message", {"inner_thoughts": THOUGHTS, "message": MESSAGE}, id="call_1")
    with openai_upstream(reply="", tool_calls=(call,)) as up:
        yield up


@pytest.fixture
def memgpt_server(tmp_path: Path, upstream: Upstream) -> Iterator[Server]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[agents]\nmodel = "upstream"\n\n[models.upstream]\nprovider = "openai"\n'
        f'model = "gpt-test"\nbase_url = "{upstream.base_url}"\napi_key = "k"\n'
    )
    server = Server(home, free_port())
    # MemGPT's variable names the password; an empty ROOST_SERVER_PASS defers to it.
    server.start({"ROOST_SERVER_PASS": "", "MEMGPT_SERVER_PASS": "ilovellms"})
    try:
        yield server
    finally:
        server.stop()


def curl(script: str, port: int) -> str:
    """Run the seed's curl command with its port replaced; the response body."""
    script = script.replace("localhost:8283", f"localhost:{port}")
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_PROXY": "*"},
        check=True,
    )
    return result.stdout


CREATE = """curl --request POST \\
     --url http://localhost:8283/api/agents \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer ilovellms' \\
     --header 'content-type: application/json' \\
     --data '
{
  "config": {
    "name": "MyCustomAgent",
    "preset": "memgpt_chat",
    "human": "cs_phd",
    "persona": "sam_pov"
  }
}
'"""

SEND = """curl --request POST \\
     --url http://localhost:8283/api/agents/<agent_id>/messages \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer ilovellms' \\
     --header 'content-type: application/json' \\
     --data @- <<EOF
{
  "agent_id": "<agent_id>",
  "message": "what's the meaning of life? someone told me it's 42...",
  "stream": true,
  "role": "user"
}
EOF"""

CREATE_USER = """curl --request POST \\
     --url http://localhost:8283/admin/users \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer ilovellms' \\
     --header 'content-type: application/json' \\
     --data '{}'"""


def test_the_seeds_three_curl_examples(memgpt_server: Server, upstream: Upstream) -> None:
    port = memgpt_server.port
    created: dict[str, Any] = json.loads(curl(CREATE, port))
    state = created["agent_state"]
    agent_id = state["id"]
    assert state["name"] == "MyCustomAgent"
    assert state["user_id"]  # the default user, whom the admin password acts as
    assert "Chad" in state["state"]["human"]

    body = curl(SEND.replace("<agent_id>", agent_id), port)
    events = events_of(body)
    assert kinds(events) == [
        "internal_monologue",
        "function_call",
        "assistant_message",
        "function_return",
    ]
    assert events[0]["internal_monologue"] == THOUGHTS
    assert events[1]["function_call"] == f"send_message({ {'message': MESSAGE}!r})"
    assert events[2]["assistant_message"] == MESSAGE
    assert events[3]["function_return"] == "None"
    assert events[3]["status"] == "success"
    assert all(e["date"].endswith("+00:00") for e in events)
    assert not body.rstrip().endswith("[DONE]")  # the legacy stream just closes
    asked = upstream.bodies("/v1/chat/completions")[0]
    assert json.loads(asked["messages"][-1]["content"])["message"].startswith("what's the meaning")

    user = json.loads(curl(CREATE_USER, port))
    assert set(user) == {"user_id", "api_key"}
    mine = curl(
        f"curl -s --url http://localhost:8283/api/agents "
        f"--header 'authorization: Bearer {user['api_key']}'",
        port,
    )
    assert json.loads(mine) == {"num_agents": 0, "agents": []}  # not the admin's agent
    made = curl(
        CREATE.replace("Bearer ilovellms", f"Bearer {user['api_key']}"),
        port,
    )
    assert json.loads(made)["agent_state"]["user_id"] == user["user_id"]
    theirs = curl(
        f"curl -s -o /dev/null -w '%{{http_code}}' --url "
        f"http://localhost:8283/api/agents/{agent_id}/config "
        f"--header 'authorization: Bearer {user['api_key']}'",
        port,
    )
    assert theirs == "404"
