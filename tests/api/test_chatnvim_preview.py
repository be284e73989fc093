"""GET /session?id=: the self-contained HTML preview of a session."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest

from roost.config import Settings
from roost.core.chat import ToolCallChunk
from roost.providers.base import Finish, ReasoningChunk, TextChunk, UsageChunk
from roost.storage import MessageRepository
from tests.api.inbox_helpers import Steered, answered, post, until
from tests.conftest import Env, running


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with running(settings, Steered()) as value:
        yield value


async def page(env: Env, session: str) -> str:
    response = await env.client.get("/session", params={"id": session})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_script_in_a_message_is_shown_as_text(env: Env) -> None:
    attack = "<script>alert(1)</script>"
    await post(env, "xss", attack)
    await post(
        env,
        "xss",
        '<img src=x onerror="alert(2)"> [click](javascript:alert(3)) ![t](http://example.com/t.png)',
    )
    await answered(env, "xss", 2)
    text = await page(env, "xss")
    assert "<script" not in text.lower()  # the page has no script of its own either
    assert "<img" not in text.lower()
    assert 'href="javascript' not in text.lower()
    assert html.escape(attack, quote=False) in text
    assert "&lt;img src=x onerror=" in text
    response = await env.client.get("/session", params={"id": "xss"})
    assert "script-src" not in response.headers["content-security-policy"]  # none allowed
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_the_page_is_self_contained(env: Env) -> None:
    await post(env, "offline", "see http://example.com/page")
    await answered(env, "offline", 1)
    text = await page(env, "offline")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text
    assert "@import" not in text
    assert "url(" not in text
    assert '<meta name="viewport"' in text  # responsive


async def test_header_shows_the_session_settings(env: Env, settings: Settings) -> None:
    created = await env.client.post(
        "/api/sessions", json={"title": "Trip", "system_prompt": "Answer like a <pirate>."}
    )
    session = created.json()["session_id"]
    text = await page(env, session)
    assert f"<h1>{session}</h1>" in text
    assert "Answer like a &lt;pirate&gt;." in text
    assert ">scripted<" in text  # the model
    assert ">custom<" in text  # provider: installed by the tests, not configured
    assert str((settings.home / "workspace").resolve()) in text
    assert "No messages yet." in text


async def test_markdown_code_reasoning_tools_usage_and_errors(env: Env) -> None:
    # No tools offered: the scripted model's call is stored as made, not run by the loop.
    env.services.settings.tools.enabled = []
    call = ToolCallChunk("call_1", "get_weather", {"city": "Paris", "days": [1, 2]})
    env.scripts.queue.append(
        [
            ReasoningChunk("thinking it over"),
            TextChunk("**Bold** and code:\n\n```python\nprint('<b>')\n```\n"),
            call,
            UsageChunk(21, 8),
            Finish("tool_calls"),
        ]
    )
    await post(env, "rich", "show me everything")
    await answered(env, "rich", 1)
    text = await page(env, "rich")
    assert "<strong>Bold</strong>" in text
    assert "<pre><code class=\"language-python\">print('&lt;b&gt;')" in text
    assert re.search(r'<details class="reasoning"><summary>Thinking</summary>', text)
    assert '<details class="reasoning" open' not in text  # collapsed
    assert "thinking it over" in text
    assert "get_weather" in text
    assert (
        "&#34;city&#34;: &#34;Paris&#34;" in text or "&quot;city&quot;: &quot;Paris&quot;" in text
    )
    assert "\n  &#34;days&#34;: [\n    1," in text or "\n  &quot;days&quot;: [\n    1," in text
    assert "tokens: 21 prompt + 8 completion" in text
    assert "21 prompt + 8 completion = 29 total" in text  # the session's totals

    env.scripts.queue.append([TextChunk("half an ans"), ValueError("kaput")])
    await env.client.post("/api/chat", json={"message": "break", "session_id": "rich"})
    text = await page(env, "rich")
    assert 'class="msg assistant has-error"' in text
    assert "internal_error: kaput" in text


async def test_pending_messages_are_shown(env: Env) -> None:
    await post(env, "wait", "gate:w:being answered")
    await post(env, "wait", "waiting <em>turn</em>")
    text = await until(lambda: _page_with(env, "wait", '<span class="badge pending">delivering'))
    assert "waiting &lt;em&gt;turn&lt;/em&gt;" in text
    assert '<span class="badge pending">pending</span>' in text
    assert "· 2 pending" in text
    env.scripts.open("w")  # type: ignore[attr-defined]
    await answered(env, "wait", 2)
    assert '<span class="badge pending">' not in await page(env, "wait")


async def _page_with(env: Env, session: str, needle: str) -> str | None:
    text = await page(env, session)
    return text if needle in text else None


async def test_a_retry_shows_its_last_error(settings: Settings) -> None:
    settings.queue.retry_backoff = 30.0  # stays in backoff while we look
    async with running(settings, Steered()) as env:
        await post(env, "retry", "fail:1:first try fails")
        text = await until(lambda: _page_with(env, "retry", "attempt 1 failed"))
        assert "upstream refused attempt 1" in text
        assert "awaiting reply" in text
        assert text.count("fail:1:first try fails") == 1  # the stored message, not twice


async def test_sessions_of_other_apis_render(env: Env) -> None:
    made = (await env.client.post("/api/chat", json={"message": "from the native API"})).json()
    text = await page(env, made["session_id"])
    assert "from the native API" in text
    assert "you said: from the native API" in text


async def test_errors(env: Env) -> None:
    await post(env, "mine", "hello")
    assert (await env.client.get("/session")).status_code == 400
    assert (await env.client.get("/session", params={"id": ""})).status_code == 400
    missing = await env.client.get("/session", params={"id": "nope"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "session 'nope' not found"}
    bob = {"X-API-Key": await env.new_user_key("bob")}
    assert (await env.client.get("/session", params={"id": "mine"}, headers=bob)).status_code == 404
    unauth = await env.client.get("/session", params={"id": "mine"}, headers={"X-API-Key": ""})
    assert unauth.status_code == 401
    too_long = await env.client.get("/session", params={"id": "x" * 201})
    assert too_long.status_code == 400


async def test_tool_results_are_pretty_printed(env: Env) -> None:
    await post(env, "tools", "hello")
    await answered(env, "tools", 1)
    conversation = await env.services.conversations.get(env.services.auth.default_user, "tools")
    await MessageRepository(env.services.database).append(
        conversation.user_id, conversation.id, role="tool", content='{"temp": 21, "sky": "<b>"}'
    )
    text = await page(env, "tools")
    assert '<article class="msg tool"' in text
    assert '<details class="tool-result" open><summary>Tool result</summary>' in text
    assert "&#34;sky&#34;: &#34;&lt;b&gt;&#34;,\n  &#34;temp&#34;: 21" in text
