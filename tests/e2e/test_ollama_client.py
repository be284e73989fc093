"""The real `ollama` client, unchanged, against `roost serve` on the embedded model, at
both of the dialect's addresses: /ollama on the main port and the --ollama-port listener's
root. The model's answers are not judged, only their form."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from roost.providers.llamacpp import embedded_model_path
from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server
from tests.hubserver import FakeHub, smollm2_files
from tests.hubserver import running as hub_running

pytestmark = pytest.mark.e2e

ROOST = (sys.executable, "-m", "roost.cli")
PULLED = "hf.co/test/smollm2-gguf:Q4_1"
KEY = {"Authorization": f"Bearer {PASSWORD}"}
SHORT = {"num_predict": 16, "temperature": 0, "seed": 1}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "The city"}},
                "required": ["city"],
            },
        },
    }
]
# A conversation whose earlier turn called the tool: the 135M model follows its example.
WITH_A_CALL = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    },
    {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    {"role": "assistant", "content": "It is sunny."},
    {"role": "user", "content": "Weather in Rome?"},
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    home = tmp_path_factory.mktemp("ollama")
    (home / "config.toml").write_text('[models.embed]\nprovider = "llamacpp"\n')
    ollama_port = free_port()
    server = Server(home, free_port())
    hub = FakeHub()  # the Hub /api/pull fetches from: the embedded GGUF under a test name
    hub.add(PULLED.removeprefix("hf.co/").split(":")[0], smollm2_files(embedded_model_path()))
    with hub_running(hub):
        env = {**backend.dedicated_env("ollama"), "HF_ENDPOINT": hub.url}
        server.start(env, args=("--ollama-port", str(ollama_port)))
        try:
            yield server, ollama_port
        finally:
            server.stop()


@pytest.fixture(params=["prefix", "listener"])
def client(request: pytest.FixtureRequest, running: tuple[Server, int]) -> Iterator[ollama.Client]:
    server, port = running
    host = f"{server.url}/ollama" if request.param == "prefix" else f"http://127.0.0.1:{port}"
    with ollama.Client(host=host, headers=KEY) as value:
        yield value


def test_list_show_ps(client: ollama.Client) -> None:
    names = [m.model for m in client.list().models]
    assert "smollm2:latest" in names
    assert "embed:latest" in names
    listed = next(m for m in client.list().models if m.model == "smollm2:latest")
    assert listed.size
    assert listed.size > 1_000_000
    assert listed.details is not None
    assert listed.details.format == "gguf"
    assert listed.details.quantization_level
    shown = client.show("smollm2")
    assert shown.modelinfo is not None
    arch = shown.modelinfo["general.architecture"]
    assert shown.modelinfo[f"{arch}.context_length"] > 0
    assert shown.capabilities is not None
    assert "completion" in shown.capabilities
    assert shown.template  # the GGUF's chat template
    client.chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], options=SHORT)
    loaded = [m.model for m in client.ps().models]
    assert "smollm2:latest" in loaded


def test_chat_not_streamed_and_streamed(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    result = client.chat(model="smollm2", messages=messages, options=SHORT)
    assert result.message.role == "assistant"
    assert result.message.content
    assert result.done
    assert result.done_reason in ("stop", "length")
    assert result.eval_count
    assert result.prompt_eval_count
    assert result.total_duration
    assert result.total_duration > 0
    parts = list(client.chat(model="smollm2:latest", messages=messages, stream=True, options=SHORT))
    assert [p.done for p in parts][-1] is True
    assert not any(p.done for p in parts[:-1])
    assert "".join(p.message.content or "" for p in parts) == result.message.content
    assert parts[-1].eval_count == result.eval_count


def test_chat_with_a_format_schema(client: ollama.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = client.chat(
        model="smollm2",
        messages=[{"role": "user", "content": "Give a name and an age as JSON"}],
        format=schema,
        options={"num_predict": 60, "temperature": 0},
    )
    answer = json.loads(result.message.content or "")
    assert isinstance(answer["name"], str)
    assert isinstance(answer["age"], int)


def test_chat_with_tools(client: ollama.Client) -> None:
    options = {"num_predict": 80, "temperature": 0, "seed": 1}
    result = client.chat(model="smollm2", messages=WITH_A_CALL, tools=TOOLS, options=options)
    calls = result.message.tool_calls or []
    assert calls, result.message.content
    assert calls[0].function.name == "get_weather"
    assert isinstance(calls[0].function.arguments, dict)
    assert isinstance(calls[0].function.arguments.get("city"), str)
    parts = list(
        client.chat(
            model="smollm2", messages=WITH_A_CALL, tools=TOOLS, options=options, stream=True
        )
    )
    streamed = [c for p in parts for c in p.message.tool_calls or []]
    assert [c.function.name for c in streamed] == ["get_weather"]
    assert parts[-1].done
    assert not any(p.done for p in parts[:-1])


def test_generate(client: ollama.Client) -> None:
    result = client.generate(model="smollm2", prompt="The sky is", options=SHORT)
    assert result.response
    assert result.done
    parts = list(client.generate(model="smollm2", prompt="The sky is", options=SHORT, stream=True))
    assert "".join(p.response for p in parts) == result.response


def test_embed(client: ollama.Client) -> None:
    result = client.embed(model="embed", input=["roost keeps conversations", "a bird"])
    assert len(result.embeddings) == 2
    first = result.embeddings[0]
    assert len(first) > 100
    assert math.isclose(math.sqrt(sum(x * x for x in first)), 1.0, rel_tol=1e-4)
    assert result.embeddings[0] != result.embeddings[1]
    legacy = client.embeddings(model="embed", prompt="roost keeps conversations")
    assert len(legacy.embedding) == len(first)


def test_pull(client: ollama.Client) -> None:
    statuses = [p.status for p in client.pull(PULLED, stream=True)]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert client.pull(PULLED).status == "success"  # stream false: one answer, once done
    assert PULLED in [m.model for m in client.list().models]  # its own tag, no :latest
    answer = client.chat(model=PULLED, messages=[{"role": "user", "content": "Hi"}], options=SHORT)
    assert answer.message.content


def test_wrong_key_and_errors(running: tuple[Server, int], client: ollama.Client) -> None:
    server, port = running
    for host in (f"{server.url}/ollama", f"http://127.0.0.1:{port}"):
        wrong = ollama.Client(host=host, headers={"Authorization": "Bearer not-a-key"})
        with wrong, pytest.raises(ollama.ResponseError) as caught:
            wrong.list()
        assert caught.value.status_code == 401
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert (caught.value.status_code, caught.value.error) == (404, "model 'llama3.2' not found")


def test_the_listener_answers_at_its_root(running: tuple[Server, int]) -> None:
    server, port = running
    probe = httpx.get(f"http://127.0.0.1:{port}/")
    assert (probe.status_code, probe.text) == (200, "Ollama is running")
    assert httpx.get(f"{server.url}/ollama/").text == "Ollama is running"
    assert httpx.get(f"http://127.0.0.1:{port}/api/version").json()["version"]
    log = (server.home / "server.log").read_text()
    assert f"roost ollama on http://127.0.0.1:{port}" in log


def test_auth_false_is_refused_off_loopback_before_binding(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "ROOST_HOME": str(tmp_path),
        "ROOST_OLLAMA_AUTH": "false",
        "ROOST_OLLAMA_BIND": "0.0.0.0",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "roost.cli",
            "serve",
            "--port",
            str(free_port()),
            "--ollama-port",
            str(port),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "[ollama] auth = false is only allowed" in done.stderr
    with socket.socket() as again:  # nothing was bound
        again.bind(("127.0.0.1", port))
