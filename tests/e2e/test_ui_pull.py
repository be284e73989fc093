"""The UI's "Pull a model…" in a real Chromium against `roost serve`, whose HF_ENDPOINT is
the local stand-in for the Hub (tests/hubserver.py): progress with bytes and speed, cancel
(the server's pull process goes), pull again (it resumes), the new model selected; hidden
from a user who is not an admin. The browser fixtures are tests/e2e/test_ui.py's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from roost.providers.llamacpp import embedded_model_path
from tests import backend
from tests.conftest import free_port
from tests.e2e import test_ui
from tests.e2e.conftest import Server
from tests.e2e.test_pull_http import SLOW, until, workers
from tests.e2e.test_ui import Page, login
from tests.hubserver import FakeHub, running, smollm2_files

pytestmark = test_ui.pytestmark  # e2e; skipped without a chromium

# test_ui's browser and page fixtures (registered by their own names); page's `roost` is
# this module's.
browser, page = test_ui.browser, test_ui.page
REPO = "test/smollm2-gguf"
NAME = f"hf.co/{REPO}:Q4_1"
FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.add(REPO, smollm2_files(embedded_model_path()))
    with running(fake):
        yield fake


@pytest.fixture(scope="module")
def roost(tmp_path_factory: pytest.TempPathFactory, hub: FakeHub) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("ui-pull") / "home"
    home.mkdir()
    server = Server(home, free_port())
    server.start({**backend.dedicated_env("ui_pull"), "HF_ENDPOINT": hub.url})
    try:
        yield server
    finally:
        server.stop()


def options(page: Page) -> list[str]:
    return list(page.eval_on_selector_all("#model option", "os => os.map(o => o.textContent)"))


def test_an_admin_pulls_a_model_cancels_resumes_and_gets_it_selected(
    page: Page, roost: Server, hub: FakeHub
) -> None:
    key = f"{REPO}/{FILE}"
    hub.pace[key] = SLOW
    try:
        login(page, roost)
        assert options(page) == ["smollm2", "Pull a model…"]
        page.select_option("#model", label="Pull a model…")
        page.wait_for_selector("#pull[open]")
        assert page.input_value("#model") == "smollm2"  # the picker still shows the model in use
        page.fill("#pull-name", NAME)
        page.click("#pull-start")
        # Progress: the bar, bytes done of the total, and a speed, while it downloads.
        page.wait_for_function(
            "() => document.getElementById('pull-state').textContent.includes('/s')"
        )
        state = page.inner_text("#pull-state")
        assert re.fullmatch(r"[\d.]+ MB / 98\.4 MB · [\d.]+ [KMG]?B/s", state), state
        assert page.locator("#pull-bar").is_visible()
        assert 0 < float(page.eval_on_selector("#pull-bar", "b => b.value / b.max")) < 1
        assert page.locator("#pull-start").is_disabled()
        [pid] = workers(roost)
        # Cancel: the request is aborted and the server's pull process ends.
        page.click("#pull-cancel")
        page.wait_for_function(
            "() => document.getElementById('pull-state').textContent.startsWith('Cancelled')"
        )
        until(lambda: workers(roost) == [], f"the pull process {pid} ended")
        assert NAME not in options(page)
    finally:
        hub.pace.pop(key, None)
    # Pull again: it resumes, and the new model is in the picker, selected.
    page.click("#pull-start")
    page.wait_for_function("() => !document.getElementById('pull').open")
    assert options(page) == [NAME, "smollm2", "Pull a model…"]  # sorted by name
    assert page.input_value("#model") == NAME
    until(lambda: [r for r in hub.resolves(key) if r.start > 0], "a GET of the rest only")


def test_bad_names_show_the_servers_reason(page: Page, roost: Server) -> None:
    login(page, roost)
    page.select_option("#model", label="Pull a model…")
    page.fill("#pull-name", "hf.co/test/absent-gguf:Q4_1")
    page.click("#pull-start")
    page.wait_for_selector("#pull-error:not([hidden])")
    assert "the repository does not exist" in page.inner_text("#pull-error")
    assert not page.locator("#pull-start").is_disabled()
    page.click("#pull-close")
    page.wait_for_function("() => !document.getElementById('pull').open")


def test_a_user_who_is_not_an_admin_has_no_pull(page: Page, roost: Server) -> None:
    with roost.client() as admin:
        key = admin.post("/admin/users", json={}).json()["api_key"]
    login(page, roost, key)
    page.wait_for_selector("#app:not([hidden])")
    assert "Pull a model…" not in options(page)
    assert options(page)  # the models are there
    refused = httpx.post(
        f"{roost.url}/api/models/pull", json={"model": NAME}, headers={"X-API-Key": key}
    )
    assert refused.status_code == 403
