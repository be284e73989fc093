"""The tool loop through /api/chat, /api/chat/stream and /api/approvals.

A scripted model calls tools; the tools here are small test tools installed in the
registry (the built-in ones have their own tests), so each test shows one rule of the
loop: results go back to the model, calls are stored, dangerous calls wait for approval.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roost.config import Settings
from roost.providers.base import Finish, TextChunk, ToolCallChunk, ToolSpec, UsageChunk
from roost.providers.scripted import reply
from roost.services.tools.base import ToolContext, ToolError
from tests.conftest import Env, running, sse_events


class Echo:
    spec = ToolSpec("echo", "Echo the text", {"type": "object", "properties": {"text": {}}})
    dangerous = False

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        self.calls.append(arguments)
        if arguments.get("text") == "fail":
            raise ToolError("echo refuses to say fail")
        return f"echo: {arguments.get('text')}"


class Touch:
    """Dangerous: creates a file in the caller's workspace."""

    spec = ToolSpec("touch", "Create a file", {"type": "object", "properties": {"name": {}}})
    dangerous = True

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        (context.workspace.root / str(arguments["name"])).write_text("made\n")
        return "created"


def call(name: str, arguments: dict[str, Any], call_id: str = "c1") -> list[Any]:
    return [ToolCallChunk(call_id, name, arguments), UsageChunk(5, 3), Finish("tool_calls")]


@pytest.fixture
async def tools_env(settings: Settings) -> Any:
    settings.tools.approval_timeout = 5.0
    async with running(settings) as env:
        echo = Echo()
        env.services.tools.install("echo", echo)
        env.services.tools.install("touch", Touch())
        yield env, echo


def enable(env: Env, *names: str) -> None:
    # Past validation: config only accepts built-in names, these are test tools.
    env.services.settings.tools.__dict__["enabled"] = list(names)


async def test_results_go_back_to_the_model_and_tools_used_lists_calls(tools_env: Any) -> None:
    env, echo = tools_env
    enable(env, "echo")
    env.scripts.queue += [call("echo", {"text": "hi"}), reply("The echo said hi.")]
    response = await env.client.post("/api/chat", json={"message": "use echo"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "The echo said hi."
    assert body["tools_used"] == [{"name": "echo", "arguments": {"text": "hi"}}]
    assert body["tokens"] == {"prompt": 15, "completion": 7, "total": 22}  # both steps
    assert echo.calls == [{"text": "hi"}]
    second = env.provider.requests[-1]
    assert [m.role for m in second.messages][-3:] == ["user", "assistant", "tool"]
    assert second.messages[-1].content == "echo: hi"
    assert second.messages[-1].tool_call_id == "c1"
    assert [t.name for t in second.tools] == ["echo"]
    # Stored on the reply, with the result.
    session = body["session_id"]
    detail = (await env.client.get(f"/api/sessions/{session}")).json()
    stored = detail["messages"][-1]["tool_calls"]
    assert stored == [
        {
            "id": "c1",
            "name": "echo",
            "arguments": {"text": "hi"},
            "result": "echo: hi",
            "is_error": False,
            "status": "ok",
        }
    ]
    # The next turn replays the call and its result to the model.
    env.scripts.queue.append(reply("Again."))
    await env.client.post("/api/chat", json={"message": "again", "session_id": session})
    replay = [(m.role, m.content) for m in env.provider.requests[-1].messages[1:]]
    assert replay == [
        ("user", "use echo"),
        ("assistant", ""),
        ("tool", "echo: hi"),
        ("assistant", "The echo said hi."),
        ("user", "again"),
    ]


async def test_stream_has_tool_start_and_tool_end(tools_env: Any) -> None:
    env, _ = tools_env
    enable(env, "echo")
    env.scripts.queue += [call("echo", {"text": "fail"}), reply("Sorry.")]
    response = await env.client.post("/api/chat/stream", json={"message": "go"})
    events = [e for e in sse_events(response.text) if e != "[DONE]"]
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["session", "tool_start", "tool_end"]
    assert events[1] == {
        "type": "tool_start",
        "id": "c1",
        "name": "echo",
        "arguments": {"text": "fail"},
    }
    assert events[2]["is_error"] is True
    assert events[2]["output"] == "echo refuses to say fail"
    assert kinds[-1] == "done"
    assert events[-1]["tools_used"] == [{"name": "echo", "arguments": {"text": "fail"}}]


async def test_unknown_tool_and_step_limit(tools_env: Any) -> None:
    env, echo = tools_env
    enable(env, "echo")
    env.services.settings.tools.max_steps = 2
    env.scripts.queue += [call("nope", {}), call("echo", {"text": "x"}, "c2")]
    response = await env.client.post("/api/chat", json={"message": "loop"})
    assert response.status_code == 200
    # Step 1 asked for an unknown tool (reported); step 2 was the last: no tools offered,
    # so its call is not run and the turn ends.
    last = env.provider.requests[-1]
    assert last.tool_choice.mode == "none"
    assert "no tool named 'nope'" in last.messages[-1].content
    assert echo.calls == []


async def _pending(env: Env, key: str | None = None) -> list[dict[str, Any]]:
    for _ in range(200):
        headers = {"X-API-Key": key} if key else None
        found = (await env.client.get("/api/approvals", headers=headers)).json()["approvals"]
        if found:
            return list(found)
        await asyncio.sleep(0.01)
    return []


async def test_dangerous_call_waits_for_approval(tools_env: Any, settings: Settings) -> None:
    env, _ = tools_env
    enable(env, "touch")
    target = settings.home / "workspace" / "made.md"
    env.scripts.queue += [call("touch", {"name": "made.md"}), reply("Done.")]
    turn = asyncio.create_task(env.client.post("/api/chat/stream", json={"message": "make"}))
    [pending] = await _pending(env)
    assert pending["name"] == "touch"
    assert pending["arguments"] == {"name": "made.md"}
    assert not target.exists()  # paused
    other = await env.new_user_key("mallory")
    theirs = await env.client.get("/api/approvals", headers={"X-API-Key": other})
    assert theirs.json() == {"approvals": []}
    stolen = await env.client.post(
        f"/api/approvals/{pending['id']}", json={"approve": True}, headers={"X-API-Key": other}
    )
    assert stolen.status_code == 404
    bad = await env.client.post(f"/api/approvals/{pending['id']}", json={"approve": "yes"})
    assert bad.status_code == 400
    ok = await env.client.post(f"/api/approvals/{pending['id']}", json={"approve": True})
    assert ok.json() == {"id": pending["id"], "approved": True}
    events = sse_events((await turn).text)
    kinds = [e["type"] for e in events if e != "[DONE]"]
    assert kinds[:4] == ["session", "tool_start", "approval_required", "tool_end"]
    assert target.read_text() == "made\n"
    again = await env.client.post(f"/api/approvals/{pending['id']}", json={"approve": True})
    assert again.status_code == 404  # answered ones are gone


async def test_denied_and_timed_out_calls_do_not_run(tools_env: Any, settings: Settings) -> None:
    env, _ = tools_env
    enable(env, "touch")
    target = settings.home / "workspace" / "denied.md"
    env.scripts.queue += [call("touch", {"name": "denied.md"}), reply("Ok.")]
    turn = asyncio.create_task(env.client.post("/api/chat", json={"message": "make"}))
    [pending] = await _pending(env)
    await env.client.post(f"/api/approvals/{pending['id']}", json={"approve": False})
    assert (await turn).status_code == 200
    assert not target.exists()
    told = env.provider.requests[-1].messages[-1]
    assert told.role == "tool"
    assert "denied" in told.content

    env.services.approvals._timeout = 0.2  # no answer: denied after the timeout
    env.scripts.queue += [call("touch", {"name": "denied.md"}), reply("Ok.")]
    response = await env.client.post("/api/chat", json={"message": "make"})
    assert response.status_code == 200
    assert not target.exists()
    assert "did not answer in time" in env.provider.requests[-1].messages[-1].content


@pytest.mark.parametrize(("mode", "waits"), [("never", False), ("always", True)])
async def test_approval_modes(tools_env: Any, mode: str, waits: bool) -> None:
    env, echo = tools_env
    enable(env, "echo")
    env.services.settings.tools.approval = mode  # type: ignore[assignment]
    env.services.approvals._timeout = 0.3
    env.scripts.queue += [call("echo", {"text": "a"}), reply("Ok.")]
    response = await env.client.post("/api/chat/stream", json={"message": "go"})
    kinds = [e["type"] for e in sse_events(response.text) if e != "[DONE]"]
    assert ("approval_required" in kinds) is waits
    assert echo.calls == ([] if waits else [{"text": "a"}])


async def test_no_tools_for_a_model_configured_without(tools_env: Any) -> None:
    env, _ = tools_env
    enable(env, "echo")
    from roost.config import ModelSettings

    env.services.settings.models["scripted"] = ModelSettings(provider="llamacpp", tools=[])
    env.scripts.queue.append(reply("Plain."))
    await env.client.post("/api/chat", json={"message": "hi"})
    assert env.provider.requests[-1].tools == ()
    del env.services.settings.models["scripted"]


async def test_text_before_a_call_is_kept(tools_env: Any) -> None:
    env, _ = tools_env
    enable(env, "echo")
    env.scripts.queue += [
        [TextChunk("Let me check. "), *call("echo", {"text": "x"})],
        reply("Found it."),
    ]
    body = (await env.client.post("/api/chat", json={"message": "go"})).json()
    assert body["response"] == "Let me check. Found it."


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_native_tool_calling_providers_run_the_loop(settings: Settings, kind: str) -> None:
    """Real SDKs against real local upstreams: the call arrives through the vendor's own
    tool-calling format, the result goes back in it, and the answer follows."""
    from roost.config import ModelSettings
    from tests.upstreams import ToolCall as UpstreamCall
    from tests.upstreams import anthropic_upstream, openai_upstream

    start = openai_upstream if kind == "openai" else anthropic_upstream
    with start(
        reply="The echo said hi.",
        tool_calls=(UpstreamCall("echo", {"text": "hi"}, id="call_1"),),
        calls_once=True,
    ) as up:
        settings.models["remote"] = ModelSettings(
            provider=kind, model="m", base_url=up.base_url, api_key="k"
        )
        settings.default_model = "remote"
        async with running(settings) as env:
            echo = Echo()
            env.services.tools.install("echo", echo)
            enable(env, "echo")
            response = await env.client.post("/api/chat", json={"message": "use echo"})
            assert response.status_code == 200, response.text
            body = response.json()
    assert body["response"] == "The echo said hi."
    assert body["tools_used"] == [{"name": "echo", "arguments": {"text": "hi"}}]
    assert echo.calls == [{"text": "hi"}]
    path = "/v1/chat/completions" if kind == "openai" else "/v1/messages"
    first, second = up.bodies(path)
    assert [t.get("name") or t["function"]["name"] for t in first["tools"]] == ["echo"]
    sent = second["messages"][-1]
    if kind == "openai":
        assert sent == {"role": "tool", "tool_call_id": "call_1", "content": "echo: hi"}
    else:
        assert sent["content"][0]["type"] == "tool_result"
        assert sent["content"][0]["tool_use_id"] == "call_1"


# --- the built-in tools through the loop (the acceptance) -----------------------


async def test_builtin_memory_search_is_called_and_listed(env: Env, settings: Settings) -> None:
    (settings.home / "workspace" / "MEMORY.md").write_text("# Memory\n\nThe gate code is 4417.\n")
    await env.services.memory.reindex(await _default_user(env))
    env.scripts.queue += [call("memory_search", {"query": "gate code"}), reply("It is 4417.")]
    body = (await env.client.post("/api/chat", json={"message": "gate code?"})).json()
    assert body["response"] == "It is 4417."
    assert body["tools_used"] == [{"name": "memory_search", "arguments": {"query": "gate code"}}]
    result = env.provider.requests[-1].messages[-1]
    assert result.role == "tool"
    assert "4417" in result.content
    assert "MEMORY.md" in result.content


async def _default_user(env: Env) -> Any:
    return env.services.auth.default_user


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "outside-link/passwd"])
async def test_read_file_outside_the_workspace_is_refused_to_the_model(
    env: Env, settings: Settings, tmp_path: Any, path: str
) -> None:
    (settings.home / "workspace" / "outside-link").symlink_to("/etc")
    env.scripts.queue += [call("read_file", {"path": path}), reply("I cannot read that.")]
    response = await env.client.post("/api/chat/stream", json={"message": "read it"})
    ends = [e for e in sse_events(response.text) if e != "[DONE]" and e["type"] == "tool_end"]
    assert ends[0]["is_error"] is True
    told = env.provider.requests[-1].messages[-1].content
    assert "root:" not in told  # nothing of the file reached the model
    assert told == ends[0]["output"]


async def test_builtin_write_file_waits_then_is_denied_or_runs(
    env: Env, settings: Settings
) -> None:
    target = settings.home / "workspace" / "notes" / "todo.txt"
    arguments = {"path": "notes/todo.txt", "content": "buy milk\n"}
    for approve in (False, True):
        env.scripts.queue += [call("write_file", arguments), reply("Ok.")]
        turn = asyncio.create_task(env.client.post("/api/chat", json={"message": "write"}))
        [pending] = await _pending(env)
        assert pending["name"] == "write_file"
        assert not target.exists()
        await env.client.post(f"/api/approvals/{pending['id']}", json={"approve": approve})
        assert (await turn).status_code == 200
        assert target.exists() is approve
    assert target.read_text() == "buy milk\n"
