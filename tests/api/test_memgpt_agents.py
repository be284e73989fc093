"""The MemGPT dialect in process: agents, their memory, and messages to them.

A scripted model makes the function calls, so each test shows one rule: the seed's event
order, heartbeat chains and the step limit, core memory edits, summarising, one turn at a
time per agent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from roost.config import Settings
from roost.providers.base import ToolChoice
from roost.providers.scripted import reply
from tests.api.memgpt_helpers import SEED_CONFIG, call, events_of, kinds, new_agent, say
from tests.conftest import Env, running

SEED_QUESTION = "what's the meaning of life? someone told me it's 42..."


@pytest.fixture
async def env(settings: Settings) -> Any:
    settings.memory.watch = False
    async with running(settings) as value:
        yield value


async def test_create_agent_as_the_seed_does(env: Env) -> None:
    response = await env.client.post("/api/agents", json={"config": SEED_CONFIG})
    assert response.status_code == 200, response.text
    body = response.json()
    state = body["agent_state"]
    assert state["name"] == "MyCustomAgent"
    assert state["user_id"] == env.services.auth.default_user.id  # the admin password's user
    assert state["preset"] == "memgpt_chat"
    # "cs_phd" and "sam_pov" name built-in texts; the names are kept in metadata.
    assert state["state"]["human"].startswith("This is what I know so far about the user")
    assert "I am Sam." in state["state"]["persona"]
    assert state["metadata"]["human"] == "cs_phd"
    assert state["state"]["memory"]["persona"]["limit"] == 2000
    assert isinstance(state["created_at"], int)
    assert state["llm_config"]["model"] == "scripted"
    assert "send_message" in state["tools"]
    assert "core_memory_append" in state["tools"]
    assert body["preset"]["name"] == "memgpt_chat"
    assert body["preset"]["functions_schema"]


async def test_unknown_human_or_persona_is_literal_text(env: Env) -> None:
    agent_id = await new_agent(env.client, human="Name: Ada", persona="I am terse.")
    memory = (await env.client.get(f"/api/agents/{agent_id}/memory")).json()
    assert memory["core_memory"] == {"human": "Name: Ada", "persona": "I am terse."}
    assert memory["recall_memory"] == 0
    assert memory["archival_memory"] == 0


async def test_stream_is_the_seeds_four_events_in_order(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue.append(say("Ah, the age-old question, Chad. 'Deep Thought' said 42."))
    body = {"agent_id": agent_id, "message": SEED_QUESTION, "stream": True, "role": "user"}
    response = await env.client.post(f"/api/agents/{agent_id}/messages", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert kinds(events) == [
        "internal_monologue",
        "function_call",
        "assistant_message",
        "function_return",
    ]
    thought, function_call, said, returned = events
    assert thought["internal_monologue"] == "Thinking about the user's message."
    # Python's repr, as MemGPT writes it: double quotes when the text has a single quote.
    assert function_call["function_call"] == (
        "send_message({'message': \"Ah, the age-old question, Chad. 'Deep Thought' said 42.\"})"
    )
    assert said["assistant_message"] == "Ah, the age-old question, Chad. 'Deep Thought' said 42."
    assert returned == {**returned, "function_return": "None", "status": "success"}
    # The assistant message's id on the first three, the tool message's on the return.
    assert thought["id"] == function_call["id"] == said["id"] != returned["id"]
    assert thought["date"].endswith("+00:00")
    # The model was asked for a call, with the MemGPT functions and inner_thoughts first.
    request = env.provider.requests[-1]
    assert request.tool_choice == ToolChoice("required")
    assert {t.name for t in request.tools} == {
        "send_message",
        "pause_heartbeats",
        "conversation_search",
        "conversation_search_date",
        "archival_memory_insert",
        "archival_memory_search",
        "core_memory_append",
        "core_memory_replace",
    }
    assert next(iter(request.tools[0].parameters["properties"])) == "inner_thoughts"
    system = request.messages[0].content
    assert "<persona>" in system
    assert "Chad" in system
    assert json.loads(request.messages[-1].content)["message"] == SEED_QUESTION


async def test_not_streamed_gives_messages_and_usage(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue.append(say("Hello from roost!"))
    response = await env.client.post(
        f"/api/agents/{agent_id}/messages", json={"message": "hi", "role": "user"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert kinds(body["messages"]) == [
        "internal_monologue",
        "function_call",
        "assistant_message",
        "function_return",
    ]
    assert body["usage"] == {
        "completion_tokens": 20,
        "prompt_tokens": 100,
        "total_tokens": 120,
        "step_count": 1,
    }


async def test_heartbeat_chains_steps_one_group_each(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue += [
        call(
            "archival_memory_insert",
            {
                "inner_thoughts": "Worth keeping.",
                "content": "Chad likes tea",
                "request_heartbeat": True,
            },
        ),
        say("Noted: you like tea."),
    ]
    response = await env.client.post(
        f"/api/agents/{agent_id}/messages",
        json={"message": "I like tea", "stream_steps": True},
    )
    events = events_of(response.text)
    assert kinds(events) == [
        "[DONE_GEN]",
        "internal_monologue",
        "function_call",
        "function_return",
        "[DONE_STEP]",
        "[DONE_GEN]",
        "internal_monologue",
        "function_call",
        "function_return",
        "[DONE_STEP]",
        "[DONE]",
    ]
    first_call = events[2]["function_call"]
    assert first_call["name"] == "archival_memory_insert"
    assert json.loads(first_call["arguments"]) == {
        "content": "Chad likes tea",
        "request_heartbeat": True,
    }
    # The second step saw the result and MemGPT's heartbeat message.
    second = env.provider.requests[-1].messages
    assert second[-2].role == "tool"
    assert json.loads(second[-2].content)["status"] == "OK"
    assert json.loads(second[-1].content)["type"] == "heartbeat"
    archival = (await env.client.get(f"/api/agents/{agent_id}/archival")).json()
    assert [p["contents"] for p in archival["archival_memory"]] == ["Chad likes tea"]


async def test_step_limit_ends_with_a_forced_send_message(env: Env) -> None:
    env.services.settings.agents.max_steps = 3
    agent_id = await new_agent(env.client)
    searching = {"inner_thoughts": "Look again.", "query": "tea", "request_heartbeat": True}
    env.scripts.queue += [call("conversation_search", searching)] * 2 + [say("I give up looking.")]
    response = await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "tea?"})
    body = response.json()
    assert body["usage"]["step_count"] == 3
    assert [r.tool_choice for r in env.provider.requests] == [
        ToolChoice("required"),
        ToolChoice("required"),
        ToolChoice("tool", "send_message"),
    ]
    assert body["messages"][-2] == {
        **body["messages"][-2],
        "assistant_message": "I give up looking.",
    }


async def test_failed_function_gets_another_step_and_is_reported(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue += [
        call(
            "core_memory_replace",
            {
                "inner_thoughts": "Fix the name.",
                "name": "human",
                "old_content": "Bob",
                "new_content": "Robert",
                "request_heartbeat": False,
            },
        ),
        say("Sorry, I could not update that."),
    ]
    body = (await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "x"})).json()
    returned = [m for m in body["messages"] if "function_return" in m]
    assert returned[0]["status"] == "error"
    assert "old_content was not found" in returned[0]["function_return"]
    assert body["usage"]["step_count"] == 2  # a failure returns control to the model


async def test_core_memory_edits_are_kept_and_bounded(env: Env) -> None:
    agent_id = await new_agent(env.client, human="First name: Chad")
    env.scripts.queue += [
        call(
            "core_memory_append",
            {
                "inner_thoughts": "Remember.",
                "name": "human",
                "content": "Likes sailing",
                "request_heartbeat": True,
            },
        ),
        call(
            "core_memory_append",
            {
                "inner_thoughts": "Too much.",
                "name": "human",
                "content": "x" * 2000,
                "request_heartbeat": True,
            },
        ),
        say("Got it."),
    ]
    body = (
        await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "I sail"})
    ).json()
    returns = [m for m in body["messages"] if "function_return" in m]
    assert [r["status"] for r in returns] == ["success", "error", "success"]
    assert "2000 characters" in returns[1]["function_return"]
    memory = (await env.client.get(f"/api/agents/{agent_id}/memory")).json()
    assert memory["core_memory"]["human"] == "First name: Chad\nLikes sailing"
    # The next step's system prompt showed the edit.
    assert "Likes sailing" in env.provider.requests[1].messages[0].content


async def test_update_memory_route_and_its_limit(env: Env) -> None:
    agent_id = await new_agent(env.client)
    url = f"/api/agents/{agent_id}/memory"
    response = await env.client.post(url, json={"human": "Name: Ada", "persona": None})
    body = response.json()
    assert body["new_core_memory"]["human"] == "Name: Ada"
    assert body["old_core_memory"]["human"] != "Name: Ada"  # MemGPT 0.3 returned old twice
    assert body["new_core_memory"]["persona"] == body["old_core_memory"]["persona"]
    too_long = await env.client.post(url, json={"persona": "x" * 2001})
    assert too_long.status_code == 400
    assert "2000" in too_long.json()["detail"]
    after = (await env.client.get(url)).json()["core_memory"]
    assert after["persona"] == body["new_core_memory"]["persona"]  # nothing changed


async def test_archival_insert_list_pages_and_delete(env: Env) -> None:
    agent_id = await new_agent(env.client)
    url = f"/api/agents/{agent_id}/archival"
    ids = []
    for text in ("alpha note", "beta note", "gamma note"):
        response = await env.client.post(url, json={"content": text})
        ids += response.json()["ids"]
    long_ids = (await env.client.post(url, json={"content": "word " * 1000})).json()["ids"]
    assert len(long_ids) == 3  # chunked, like MemGPT
    page = (await env.client.get(url, params={"after": ids[0], "limit": 1})).json()
    assert page["archival_memory"] == [{"id": ids[1], "contents": "beta note"}]
    before = (await env.client.get(url, params={"before": ids[2]})).json()
    assert [p["id"] for p in before["archival_memory"]] == ids[:2]
    every = (await env.client.get(f"{url}/all")).json()["archival_memory"]
    assert len(every) == 6
    deleted = await env.client.delete(url, params={"id": ids[1]})
    assert deleted.json() == {"message": f"Memory id={ids[1]} successfully deleted"}
    assert (await env.client.delete(url, params={"id": ids[1]})).status_code == 404
    unknown = await env.client.get(url, params={"after": "nope"})
    assert unknown.status_code == 404


async def test_archival_search_finds_by_keyword(env: Env) -> None:
    agent_id = await new_agent(env.client)
    url = f"/api/agents/{agent_id}/archival"
    for text in ("Chad's boat is called Wavelength", "Chad prefers green tea", "unrelated"):
        await env.client.post(url, json={"content": text})
    env.scripts.queue += [
        call(
            "archival_memory_search",
            {
                "inner_thoughts": "Check archival.",
                "query": "boat name",
                "request_heartbeat": True,
            },
        ),
        say("Your boat is Wavelength."),
    ]
    body = (
        await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "boat?"})
    ).json()
    result = body["messages"][2]["function_return"]
    assert result.startswith("Showing 1 of 1 results (page 0/0):")
    assert "Wavelength" in result
    assert "green tea" not in result


async def test_recall_messages_and_conversation_search(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue += [say("Hi Chad!")]
    await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "hello, I'm Chad"})
    newest = (
        await env.client.get(f"/api/agents/{agent_id}/messages", params={"start": 0, "count": 10})
    ).json()["messages"]
    assert [m["role"] for m in newest] == ["tool", "assistant", "user"]
    assistant = newest[1]
    assert assistant["tool_calls"][0]["tool_call_type"] == "function"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "message": "Hi Chad!"
    }
    assert assistant["text"] == "Thinking about the user's message."
    assert json.loads(newest[2]["text"])["type"] == "user_message"
    assert all(m["in_context"] for m in newest)
    cursor = (
        await env.client.get(
            f"/api/agents/{agent_id}/messages-cursor",
            params={"before": newest[0]["id"], "limit": 1},
        )
    ).json()["messages"]
    assert [m["id"] for m in cursor] == [assistant["id"]]
    env.scripts.queue += [
        call(
            "conversation_search",
            {"inner_thoughts": "?", "query": "CHAD", "request_heartbeat": True},
        ),
        say("Found you."),
    ]
    body = (
        await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "who?"})
    ).json()
    assert "hello, I'm Chad" in body["messages"][2]["function_return"]


async def test_text_answers_become_send_message(env: Env) -> None:
    agent_id = await new_agent(env.client)
    env.scripts.queue.append(reply("plain words"))  # an upstream that ignored tool_choice
    body = (await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": "x"})).json()
    assert kinds(body["messages"]) == ["function_call", "assistant_message", "function_return"]
    assert body["messages"][1]["assistant_message"] == "plain words"


async def test_older_messages_are_summarised_when_the_window_fills(env: Env) -> None:
    env.provider._window = 700  # a small model: the prompt fills it after a few turns
    agent_id = await new_agent(env.client)
    long = "tell me about sailing " * 20
    summarised = False
    for turn in range(6):
        env.scripts.queue.append(say(f"answer {turn} " + "wind " * 30))
        if turn >= 1:
            # When the loop asks for a summary (no tools), this answers it.
            env.scripts.queue.insert(0, reply("We talked about sailing."))
        before = len(env.provider.requests)
        await env.client.post(f"/api/agents/{agent_id}/messages", json={"message": long})
        asked = env.provider.requests[before:]
        if any(not r.tools for r in asked):
            summarised = True
            break
        env.scripts.queue.clear()
    assert summarised
    last = env.provider.requests[-1]
    assert "We talked about sailing." in last.messages[0].content
    newest = (
        await env.client.get(f"/api/agents/{agent_id}/messages", params={"start": 0, "count": 100})
    ).json()["messages"]
    assert not all(m["in_context"] for m in newest)  # evicted, still in recall memory


async def test_a_second_message_waits_or_gets_409(env: Env) -> None:
    agent_id = await new_agent(env.client)
    url = f"/api/agents/{agent_id}/messages"
    env.scripts.queue += [[0.3, *say("first")], say("second")]
    first = asyncio.create_task(env.client.post(url, json={"message": "one"}))
    await asyncio.sleep(0.1)
    refused = await env.client.post(url, params={"wait": "false"}, json={"message": "now?"})
    assert refused.status_code == 409
    assert refused.headers["x-should-retry"] == "false"
    assert "answering another message" in refused.json()["detail"]
    second = await env.client.post(url, json={"message": "two"})  # waits its turn
    assert (await first).json()["messages"][2]["assistant_message"] == "first"
    assert second.json()["messages"][2]["assistant_message"] == "second"
    # In order: the second prompt already holds the first turn.
    texts = [m.content for m in env.provider.requests[-1].messages]
    assert any("one" in t for t in texts)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"message": "  "}, 400, "message must not be empty"),
        ({"message": "x", "stream_tokens": True}, 400, "stream_steps must be 'true'"),
        ({"message": "x", "role": "tool"}, 400, "role"),
        ({}, 400, "message"),
    ],
)
async def test_bad_messages_are_400_in_memgpts_shape(
    env: Env, body: dict[str, Any], status: int, detail: str
) -> None:
    agent_id = await new_agent(env.client)
    response = await env.client.post(f"/api/agents/{agent_id}/messages", json=body)
    assert response.status_code == status
    assert detail in response.json()["detail"]


async def test_rename_list_and_delete(env: Env) -> None:
    agent_id = await new_agent(env.client)
    renamed = await env.client.patch(f"/api/agents/{agent_id}/rename", json={"agent_name": "Sam 2"})
    assert renamed.json()["agent_state"]["name"] == "Sam 2"
    bad = await env.client.patch(f"/api/agents/{agent_id}/rename", json={"agent_name": "no/slash"})
    assert bad.status_code == 400
    listed = (await env.client.get("/api/agents")).json()
    assert listed["num_agents"] == 1
    assert listed["agents"][0]["memory"]["core_memory"]["human"].startswith("This is what")
    deleted = await env.client.delete(f"/api/agents/{agent_id}")
    assert deleted.json() == {"message": f"Agent agent_id={agent_id} successfully deleted"}
    assert (await env.client.get(f"/api/agents/{agent_id}/config")).status_code == 404


async def test_create_agent_input_errors(env: Env) -> None:
    for config, detail in [
        ({"preset": "memgpt_chat"}, "config.name is required"),
        ({"name": "a", "preset": "nope"}, "preset 'nope' not found"),
        ({"name": "a", "persona": "x" * 2001}, "2000"),
        ({"name": "a", "function_names": 5}, "function_names"),
        ({"name": "a", "model": "missing"}, "model 'missing'"),
    ]:
        response = await env.client.post("/api/agents", json={"config": config})
        assert 400 <= response.status_code < 500, config
        assert detail in response.json()["detail"], response.json()
    assert (await env.client.get("/api/agents")).json()["num_agents"] == 0


async def test_humans_personas_presets_and_tools(env: Env, tmp_path: Any) -> None:
    client = env.client
    humans = (await client.get("/api/humans")).json()["humans"]
    assert {"basic", "cs_phd"} <= {h["name"] for h in humans}
    made = (await client.post("/api/humans", json={"name": "ada", "text": "Name: Ada"})).json()
    assert made["name"] == "ada"
    assert made["user_id"] == env.services.auth.default_user.id
    assert (await client.get("/api/humans/ada")).json()["text"] == "Name: Ada"
    agent_id = await new_agent(client, human="ada")
    memory = (await client.get(f"/api/agents/{agent_id}/memory")).json()
    assert memory["core_memory"]["human"] == "Name: Ada"
    assert (await client.delete("/api/humans/ada")).json()["name"] == "ada"
    assert (await client.get("/api/humans/ada")).status_code == 404
    assert (await client.delete("/api/personas/sam_pov")).status_code == 400  # built in
    preset = (await client.get("/api/presets/memgpt_chat")).json()
    assert preset["system"].startswith("You are MemGPT")
    created = await client.post(
        "/api/presets",
        json={
            "name": "terse",
            "system": "Be terse.",
            "functions_schema": preset["functions_schema"],
        },
    )
    assert created.json()["preset"]["system"] == "Be terse."
    assert (await client.post("/api/presets", json={"name": "terse"})).status_code == 409
    terse = await new_agent(client, preset="terse", human=None, persona=None)
    assert (await client.get(f"/api/agents/{terse}/config")).json()["agent_state"][
        "system"
    ] == "Be terse."
    # Tool source is stored and shown, never run.
    marker = tmp_path / "ran"
    source = f"def evil(self):\n    open({str(marker)!r}, 'w').write('x')\n"
    tool = {"json_schema": {"name": "evil", "parameters": {}}, "source_code": source, "tags": ["x"]}
    registered = await client.post("/api/tools", json=tool)
    assert registered.status_code == 200
    assert registered.json()["source_code"] == source
    assert not marker.exists()
    assert (await client.post("/api/tools", json=tool)).status_code == 409
    assert (await client.post("/api/tools", json={**tool, "update": True})).status_code == 200
    names = {t["name"] for t in (await client.get("/api/tools")).json()["tools"]}
    assert {"evil", "send_message", "core_memory_append"} <= names
    assert (await client.delete("/api/tools/evil")).status_code == 200
    assert (await client.get("/api/tools/evil")).status_code == 404


async def test_native_routes_keep_their_own_error_shape(env: Env) -> None:
    response = await env.client.get("/api/sessions/nope")
    assert "error" in response.json()
    response = await env.client.get("/api/agents/nope/config")
    assert response.json() == {"detail": "Agent agent_id=nope not found."}
