"""roost's own routes read a JSON body as JSON whatever its Content-Type says: `curl -d`
without `-H "Content-Type: application/json"` labels it a form (issue 19, item 11)."""

from __future__ import annotations

import pytest

from roost.providers.scripted import reply
from tests.conftest import Env

LABELS = [None, "application/x-www-form-urlencoded", "text/plain"]


def _headers(label: str | None) -> dict[str, str]:
    return {} if label is None else {"Content-Type": label}


@pytest.mark.parametrize("label", LABELS)
async def test_a_json_body_is_read_whatever_its_label(env: Env, label: str | None) -> None:
    headers = _headers(label)
    made = await env.client.post("/api/sessions", content=b'{"title": "Trip"}', headers=headers)
    assert made.status_code == 200, made.text
    session = made.json()["session_id"]
    renamed = await env.client.patch(
        f"/api/sessions/{session}", content=b'{"title": "Lisbon"}', headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Lisbon"
    written = await env.client.put(
        "/api/memory/files/HEARTBEAT.md", content=b'{"content": "# Heartbeat\\n"}', headers=headers
    )
    assert written.status_code == 200, written.text
    answered = await env.client.post(
        "/api/approvals/appr_nope", content=b'{"approve": true}', headers=headers
    )
    assert answered.status_code == 404, answered.text  # read, then not found
    env.scripts.queue.append(reply("Hello."))
    chat = await env.client.post("/api/chat", content=b'{"message": "hi"}', headers=headers)
    assert chat.status_code == 200, chat.text


async def test_a_form_body_is_told_it_is_not_json(env: Env) -> None:
    response = await env.client.post(
        "/api/chat", content=b"message=hi", headers=_headers(LABELS[1])
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]
