"""A MemGPT agent on the embedded SmolLM2: real, grammar-constrained function calls.

With one step allowed, the step may only call send_message; the grammar makes even the
135M model emit a well-formed call with inner thoughts, so the stream is the seed's four
events. (Which function the model picks when it may pick any is up to the model.)
"""

from __future__ import annotations

import json

import pytest

from roost.config import Settings
from tests.api.memgpt_helpers import events_of, kinds, new_agent
from tests.conftest import running

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]


async def test_smollm2_answers_through_send_message(settings: Settings) -> None:
    settings.memory.watch = False
    settings.agents.model = "smollm2"
    settings.agents.max_steps = 1
    async with running(settings) as env:
        agent_id = await new_agent(env.client)
        response = await env.client.post(
            f"/api/agents/{agent_id}/messages",
            json={"message": "Hi! My name is Chad. What is your name?", "stream": True},
            timeout=600,
        )
        events = events_of(response.text)
        assert kinds(events) == [
            "internal_monologue",
            "function_call",
            "assistant_message",
            "function_return",
        ], response.text
        assert events[0]["internal_monologue"].strip()
        assert events[1]["function_call"].startswith("send_message({'message': ")
        assert events[2]["assistant_message"].strip()
        newest = await env.client.get(
            f"/api/agents/{agent_id}/messages", params={"start": 0, "count": 3}
        )
        tool, assistant, _user = newest.json()["messages"]
        call = assistant["tool_calls"][0]["function"]
        assert call["name"] == "send_message"
        assert json.loads(call["arguments"]) == {"message": events[2]["assistant_message"]}
        assert assistant["model"] == "smollm2"
        assert json.loads(tool["text"])["status"] == "OK"
