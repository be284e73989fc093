"""The browser UI in a real Chromium (Debian's, driven by Playwright) against `roost serve`.

The model is a real OpenAI-compatible HTTP server (tests/upstreams.py) whose replies each
test sets, so streaming timing, tool calls and hostile output are under the test's control.
Screenshots go to tests/e2e/artifacts/ (ignored by git). Skipped, with the reason, when no
Chromium is installed (.ci/run installs it with apt).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server
from tests.upstreams import Behavior, ToolCall, Upstream, openai_upstream

CHROMIUM = os.environ.get("ROOST_TEST_CHROMIUM") or shutil.which("chromium") or ""
ARTIFACTS = Path(__file__).parent / "artifacts"

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM, reason="no chromium on PATH (apt-get install chromium)"),
]

Page = Any  # playwright's sync Page; its stubs are not worth importing here
TIMEOUT_MS = 20_000


def configure(home: Path, base_url: str) -> None:
    (home / "config.toml").write_text(
        f"""default_model = "remote"

[models.remote]
provider = "openai"
model = "gpt-test"
base_url = "{base_url}"
api_key = "sk-test"

[memory]
include_in_chat = false
watch = false
"""
    )


def behave(upstream: Upstream, **behavior: Any) -> None:
    """Replace (not merge) how the fake model answers the next requests."""
    if "tool_calls" in behavior:
        behavior["tool_calls"] = tuple(behavior["tool_calls"])
    upstream.behavior = Behavior(**behavior)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with openai_upstream() as up:
        yield up


@pytest.fixture(scope="module")
def roost(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("ui") / "home"
    home.mkdir()
    configure(home, upstream.base_url)
    server = Server(home, free_port())
    server.start(backend.dedicated_env("ui"))  # per-test resets must not empty it
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, roost: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context; afterwards, every request it made went to roost only."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    seen: list[str] = []
    context.on("request", lambda r: seen.append(r.url))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        context.close()
    origins = {roost.url, roost.url.replace("http:", "ws:")}
    assert seen, "the page made no request"
    foreign = [url for url in seen if not any(url.startswith(o + "/") for o in origins)]
    assert foreign == [], "requests left the roost origin"
    assert errors == [], "the page threw"


def login(page: Page, server: Server, key: str = PASSWORD) -> None:
    page.goto(server.url + "/")
    page.fill("#login-key", key)
    page.press("#login-key", "Enter")
    if key == PASSWORD:
        page.wait_for_selector("#app:not([hidden])")


def send(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def last_reply(page: Page) -> Any:
    return page.locator("article.msg.assistant").last


def test_wrong_key_shows_the_login_screen_again(page: Page, roost: Server) -> None:
    login(page, roost, key="not-the-key")
    error = page.locator("#login-error")
    error.wait_for()
    assert "not accepted" in error.inner_text()
    assert page.locator("#app").is_hidden()
    assert page.evaluate("sessionStorage.getItem('roost.key')") is None


def test_unreachable_server_has_its_own_screen(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = Server(home, free_port())
    server.start()
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(server.url + "/")
        server.stop()  # the page is loaded; now the server is gone
        tab.fill("#login-key", PASSWORD)
        tab.press("#login-key", "Enter")
        tab.wait_for_selector("#offline:not([hidden])", timeout=TIMEOUT_MS)
        assert server.url in tab.inner_text("#offline")
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "unreachable.png"))
    finally:
        context.close()
        server.stop()


def test_a_message_typed_while_loading_is_not_lost(
    page: Page, roost: Server, upstream: Upstream
) -> None:
    """The app shows only when its first view is ready: a message sent at once is answered,
    not wiped (or its turn stopped) by the first route, however slow the loading is."""
    behave(upstream, reply="Typed early, answered.")
    held: list[Any] = []
    page.route("**/api/models", lambda route: held.append(route))
    page.goto(roost.url + "/")
    page.fill("#login-key", PASSWORD)
    page.press("#login-key", "Enter")
    page.wait_for_function("() => document.getElementById('login').hidden")
    while not held:  # the model list is still loading
        page.wait_for_timeout(20)
    assert page.locator("#app").is_hidden()
    assert page.locator("#login").is_hidden()
    held[0].continue_()
    page.wait_for_selector("#app:not([hidden])")
    send(page, "sent the moment the app appeared")
    page.wait_for_selector("article.assistant:not(.streaming)")
    assert "Typed early, answered." in last_reply(page).inner_text()
    assert "sent the moment" in page.locator("article.msg.user").last.inner_text()


def test_chat_streams_and_survives_a_reload(page: Page, roost: Server, upstream: Upstream) -> None:
    words = " ".join(f"word{n}" for n in range(12))
    behave(upstream, reply=words, chunk_delay=0.15)
    login(page, roost)
    send(page, "Tell me twelve words")
    reply = last_reply(page)
    # Tokens show while the reply is still streaming.
    page.wait_for_function(
        "() => { const m = [...document.querySelectorAll('article.assistant')].pop();"
        " return m && m.classList.contains('streaming') && m.innerText.includes('word2'); }"
    )
    assert "word11" not in reply.inner_text()
    page.wait_for_selector("article.assistant:not(.streaming)")
    assert "word11" in reply.inner_text()
    assert "Tokens:" in page.inner_text("#usage")
    session_id = page.evaluate("location.hash").split("/")[-1]
    assert page.locator(f'#sessions li[data-session="{session_id}"]').count() == 1
    page.reload()
    page.wait_for_selector("#app:not([hidden])")  # the key survived in sessionStorage
    page.locator(f'#sessions li[data-session="{session_id}"] button').click()
    page.wait_for_selector("article.msg.assistant")
    texts = page.locator("#messages article").all_inner_texts()
    assert "Tell me twelve words" in texts[0]
    assert "word11" in texts[1]


def test_stop_and_escape_end_a_reply(page: Page, roost: Server, upstream: Upstream) -> None:
    behave(upstream, reply=" ".join(f"w{n}" for n in range(200)), chunk_delay=0.1)
    login(page, roost)
    send(page, "A long one please")
    page.wait_for_function("() => document.querySelector('#messages').innerText.includes('w3')")
    page.click("#stop")
    page.wait_for_selector("text=Stopped.")
    assert "w199" not in last_reply(page).inner_text()
    assert page.locator("#send").is_visible()
    send(page, "Another long one")
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.assistant')].pop().innerText.includes('w3')"
    )
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.assistant')].pop().innerText"
        ".includes('Stopped.')"
    )


def test_shift_enter_is_a_new_line(page: Page, roost: Server, upstream: Upstream) -> None:
    behave(upstream, echo=True)
    login(page, roost)
    page.fill("#input", "line one")
    page.press("#input", "Shift+Enter")
    page.type("#input", "line two")
    assert page.input_value("#input") == "line one\nline two"
    assert page.locator("article.msg").count() == 0
    page.press("#input", "Enter")
    page.wait_for_selector("article.assistant:not(.streaming)")
    assert page.input_value("#input") == ""


def test_approve_and_deny_a_tool_call(page: Page, roost: Server, upstream: Upstream) -> None:
    call = ToolCall("write_file", {"path": "approved.md", "content": "yes"}, id="c1")
    behave(upstream, tool_calls=[call], calls_once=True, reply="Finished.")
    login(page, roost)
    send(page, "Write the file")
    box = page.locator(".approval").last
    box.wait_for()
    assert "write_file" in box.inner_text()
    assert "approved.md" in box.inner_text()
    box.locator("button.approve").click()
    page.wait_for_selector(".approval .state:text('Approved')")
    page.wait_for_selector("article.assistant:not(.streaming)")
    assert "Finished." in last_reply(page).inner_text()
    tool = last_reply(page).locator("details.tool")
    assert tool.get_attribute("open") is None  # collapsed
    assert (roost.home / "workspace" / "approved.md").read_text() == "yes"

    call = ToolCall("write_file", {"path": "denied.md", "content": "no"}, id="c2")
    behave(upstream, tool_calls=[call], calls_once=True, reply="Skipped it.")
    page.click("#new-session")  # calls_once: a history with a tool result gets no call
    page.wait_for_function("() => !document.querySelector('#messages article')")
    send(page, "Write another")
    page.wait_for_function("() => document.querySelectorAll('.approval').length === 1")
    page.locator(".approval button.deny").last.click()
    page.wait_for_selector(".approval .state:text('Denied')")
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.assistant')].pop().innerText"
        ".includes('Skipped it.')"
    )
    assert not (roost.home / "workspace" / "denied.md").exists()


HOSTILE = (
    '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2"> '
    "**bold** and [a link](javascript:window.pwned=3)\n\n```python\nprint('<b>hi</b>')\n```"
)


def test_model_html_is_shown_as_text(page: Page, roost: Server, upstream: Upstream) -> None:
    behave(upstream, reply=HOSTILE)
    login(page, roost)
    send(page, "Say something nasty")
    page.wait_for_selector("article.assistant:not(.streaming)")
    reply = last_reply(page)
    text = reply.inner_text()
    assert "<script>window.pwned = 1</script>" in text
    assert '<img src=x onerror="window.pwned = 2">' in text
    assert page.evaluate("window.pwned") is None
    assert reply.locator("script, img").count() == 0
    assert reply.locator("strong").inner_text() == "bold"
    assert reply.locator("a").count() == 0  # only http(s) links become links
    assert reply.locator(".code code").inner_text() == "print('<b>hi</b>')"
    assert reply.locator(".code button.copy").count() == 1


def test_sidebar_search_rename_and_delete(page: Page, roost: Server, upstream: Upstream) -> None:
    behave(upstream, reply="Noted.")
    login(page, roost)
    send(page, "My aardvark is called Rufus")
    page.wait_for_selector("article.assistant:not(.streaming)")
    page.fill("#search", "aardvark")
    hit = page.locator("#search-results li").first
    hit.locator("mark").first.wait_for()
    assert hit.locator("mark").first.inner_text().lower() == "aardvark"
    page.once("dialog", lambda d: d.accept("Pets"))
    page.click("#rename")
    page.wait_for_function("() => document.querySelector('#session-title').innerText === 'Pets'")
    assert "Pets" in page.inner_text("#sessions")
    session_id = page.evaluate("location.hash").split("/")[-1]
    page.click("#new-session")
    page.wait_for_function("() => location.hash === '#/chat'")
    hit.click()
    page.wait_for_function(f"() => location.hash === '#/chat/{session_id}'")
    page.wait_for_selector("text=My aardvark is called Rufus")
    page.once("dialog", lambda d: d.accept())
    page.click("#delete")
    page.wait_for_function("() => location.hash === '#/chat'")
    with httpx.Client(base_url=roost.url, headers={"X-API-Key": PASSWORD}) as client:
        assert client.get(f"/api/sessions/{session_id}").status_code == 404


def test_memory_edit_search_and_open_a_hit(page: Page, roost: Server) -> None:
    login(page, roost)
    page.click("#nav-memory")
    page.locator("#memory-stats dd").first.wait_for()
    page.click("button.edit[data-file='MEMORY.md']")
    page.wait_for_selector("#editor:not([hidden])")
    content = (
        "# Memory\n\nline two\nline three\n\n## Pets\nThe quokka lives in Perth.\n"
        "<script>window.pwned = 4</script>\n"
    )
    page.fill("#editor-text", content)
    page.click("#editor button[type=submit]")
    page.wait_for_selector("#editor-state:text('Saved.')")
    assert (roost.home / "workspace" / "MEMORY.md").read_text() == content
    page.fill("#memory-q", "quokka")
    page.press("#memory-q", "Enter")
    hit = page.locator("#memory-hits li button").first
    hit.locator("mark").first.wait_for()
    assert "MEMORY.md" in hit.inner_text()
    hit.click()
    page.wait_for_selector("#memory-file:not([hidden])")
    marked = page.locator("#memory-file-text .line.hit")
    assert "The quokka lives in Perth." in marked.all_inner_texts()
    assert "<script>window.pwned = 4</script>" in page.inner_text("#memory-file-text")
    assert page.evaluate("window.pwned") is None
    page.click("button.edit[data-file='HEARTBEAT.md']")
    page.wait_for_function(
        "() => document.querySelector('#editor-name').innerText === 'HEARTBEAT.md'"
    )
    page.fill("#editor-text", "# Heartbeat\n\n- [ ] water the plants\n")
    page.click("#editor button[type=submit]")
    page.wait_for_selector("#editor-state:text('Saved.')")
    assert "water the plants" in (roost.home / "workspace" / "HEARTBEAT.md").read_text()


def test_status_page(page: Page, roost: Server) -> None:
    login(page, roost)
    page.click("#nav-status")
    page.wait_for_selector("#status dd")
    text = page.inner_text("#status")
    for label in ("Model", "Uptime", "Heartbeat last run", "Heartbeat next run", "Queue depth"):
        assert label in text
    assert "remote" in text


def test_phone_width(browser: Any, roost: Server, upstream: Upstream) -> None:
    behave(upstream, reply="Small screens work.")
    context = browser.new_context(viewport={"width": 375, "height": 700}, is_mobile=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        tab = context.new_page()
        login(tab, roost)
        assert tab.locator("#menu").is_visible()
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        box = tab.locator("aside").bounding_box()
        assert box["x"] + box["width"] <= 0  # the sidebar waits off-screen
        send(tab, "hello from a phone")
        tab.wait_for_selector("article.assistant:not(.streaming)")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        tab.click("#menu")
        tab.wait_for_function(
            "() => document.querySelector('aside').getBoundingClientRect().x >= 0"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "phone.png"))
    finally:
        context.close()


def test_dark_preference_is_respected(browser: Any, roost: Server) -> None:
    colors = []
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        try:
            tab = context.new_page()
            tab.goto(roost.url + "/")
            colors.append(tab.evaluate("getComputedStyle(document.body).backgroundColor"))
        finally:
            context.close()
    assert colors[0] != colors[1]


def test_a_failed_reply_shows_its_error_with_retry(
    page: Page, roost: Server, upstream: Upstream
) -> None:
    behave(upstream, fault="http_500")
    login(page, roost)
    send(page, "Will this work?")
    error = page.locator("article.assistant div.error")
    error.wait_for()
    assert "provider_error" in error.inner_text()
    assert page.locator("#send").is_visible()
    behave(upstream, reply="It works now.")
    error.locator("button.retry").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.assistant')].pop().innerText"
        ".includes('It works now.')"
    )
    assert page.locator("article.assistant div.error").count() == 0


def test_a_restarted_server_continues_the_same_session(
    browser: Any, tmp_path: Path, upstream: Upstream
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    configure(home, upstream.base_url)
    server = Server(home, free_port())
    server.start()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        behave(upstream, reply="First.")
        tab = context.new_page()
        login(tab, server)
        send(tab, "one")
        tab.wait_for_selector("article.assistant:not(.streaming)")
        session_id = tab.evaluate("location.hash").split("/")[-1]
        server.stop()
        server.start()  # the page's WebSocket closed; the next message reconnects
        behave(upstream, reply="Second.")
        send(tab, "two")
        tab.wait_for_function(
            "() => [...document.querySelectorAll('article.assistant')].pop().innerText"
            ".includes('Second.')"
        )
        with httpx.Client(base_url=server.url, headers={"X-API-Key": PASSWORD}) as client:
            messages = client.get(f"/api/sessions/{session_id}").json()["messages"]
        assert [m["content"] for m in messages] == ["one", "First.", "two", "Second."]
    finally:
        context.close()
        server.stop()
