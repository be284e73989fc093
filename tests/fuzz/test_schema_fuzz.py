"""Generated tool and response_format schemas against a real `roost serve` on the embedded
model: no server death, no runner crash, no 5xx but a model cut off (502 provider_error).

Every answer must be a 200, a 400 naming what is wrong, or a 502 provider_error that is
not a crashed model process; at the end the server, its /health and its model runner
(no restarts) must all be as they were. Failures are collected, not raised, so one run
reports them all and nothing is shrunk. The seed is fixed: CI runs the same cases.
ROOST_SCHEMA_FUZZ_EXAMPLES sets the number of cases (default 40: about a minute on two idle
cores).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import Server
from tests.fuzz.schemas import SCHEMAS, Schema

# The model's grammar path is the same on either database: once, on the SQLite run.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.model,
    backend.sqlite_only("grammars do not touch the database"),
]

EXAMPLES = int(os.environ.get("ROOST_SCHEMA_FUZZ_EXAMPLES", "40"))
MODES = st.sampled_from(["required", "auto", "json"])


def body(mode: str, schema: Schema, second: Schema | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "smollm2",
        "max_tokens": 6,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Fill it in."}],
    }
    if mode == "json":
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": schema},
        }
        return request
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    if second is not None:
        tools.append({"type": "function", "function": {"name": "g", "parameters": second}})
    request["tools"] = tools
    request["tool_choice"] = mode
    return request


def problem(response: httpx.Response) -> str | None:
    """What is wrong with this answer, if anything."""
    status = response.status_code
    if status == 200:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"{status} without an error object"
    if status == 400 and error.get("message"):
        return None
    if status == 502 and error.get("code") == "provider_error":
        return "a crashed model process" if "crashed" in error.get("message", "") else None
    return f"{status} {error}"


def test_generated_schemas_never_hurt_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, free_port())
    server.start()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    try:
        with server.client() as client:

            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(MODES, SCHEMAS, st.none() | SCHEMAS)
            def send(mode: str, schema: Schema, second: Schema | None) -> None:
                request = body(mode, schema, second)
                try:
                    response = client.post("/v1/chat/completions", json=request, timeout=90)
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {json.dumps(request)[:1500]}")
                    return
                statuses[response.status_code] += 1
                wrong = problem(response)
                if wrong is not None:
                    failures.append(f"{wrong}\n{json.dumps(request)[:1500]}")

            send()
            assert server.process is not None
            assert server.process.poll() is None, "the server died"
            assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
            models = client.get("/api/models").json()["models"]
            (smollm2,) = [m for m in models if m["name"] == "smollm2"]
    finally:
        server.stop()
    summary = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    print(f"{sum(statuses.values())} requests in {time.monotonic() - started:.0f} s; {summary}")
    assert failures == [], "\n\n".join(failures[:20])
    assert smollm2["restarts"] == 0, (home / "server.log").read_text()[-5000:]
    assert statuses[200] > 0
    assert statuses[400] > 0
