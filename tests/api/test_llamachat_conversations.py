"""LlamaChat conversations (seed 004): consumers' keys, create, send, list, read, errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from roost.config import Settings
from roost.core.errors import ProviderError
from roost.providers.base import ChatRequest
from roost.providers.scripted import reply
from tests.conftest import Env, running

MOBILE = "mobile-app-key-0123456789abcdef"
ZAPIER = "zapier-key-fedcba9876543210"


def write_secrets(home: Path, text: str, mode: int = 0o600) -> Path:
    path = home / "secrets.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def consumers(home: Path) -> Path:
    return write_secrets(home, f'[consumers]\nmobile-app = "{MOBILE}"\nzapier = "{ZAPIER}"\n')


def as_(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}


async def test_seed_flow_create_send_and_title(settings: Settings, consumers: Path) -> None:
    async with running(settings) as env:
        created = await env.client.post("/api/conversations", headers=as_(MOBILE))
        assert created.status_code == 200
        body = created.json()
        assert set(body) == {"id", "title"}
        assert re.fullmatch(r"[0-9a-f]{24}", body["id"])
        assert body["title"] == "New Conversation"

        env.scripts.queue += [reply("The capital of France is Paris."), reply("Capital of France")]
        sent = await env.client.post(
            f"/api/conversations/{body['id']}/messages",
            headers=as_(MOBILE),
            json={"content": "  What is the capital of France?  "},
        )
        assert sent.status_code == 200
        assert sent.json() == {"role": "assistant", "content": "The capital of France is Paris."}
        # The message is stored trimmed; the title came from the model, after the reply.
        turn, title = env.provider.requests[-2:]
        assert turn.messages[-1].content == "What is the capital of France?"
        assert "What is the capital of France?" in title.messages[-1].content

        listed = await env.client.get("/api/conversations", headers=as_(MOBILE))
        assert [(c["id"], c["title"]) for c in listed.json()] == [(body["id"], "Capital of France")]
        detail = (
            await env.client.get(f"/api/conversations/{body['id']}", headers=as_(MOBILE))
        ).json()
        assert detail["title"] == "Capital of France"
        assert [(m["role"], m["content"]) for m in detail["messages"]] == [
            ("user", "What is the capital of France?"),
            ("assistant", "The capital of France is Paris."),
        ]


async def test_the_full_history_goes_to_the_model_and_the_title_is_written_once(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(ZAPIER))).json()["id"]
        for text in ("first", "second", "third"):
            response = await env.client.post(
                f"/api/conversations/{cid}/messages", headers=as_(ZAPIER), json={"content": text}
            )
            assert response.json()["content"] == f"you said: {text}"
        turns = [r for r in env.provider.requests if "Write a title" not in r.messages[-1].content]
        assert [m.content for m in turns[-1].messages if m.role != "system"] == [
            "first",
            "you said: first",
            "second",
            "you said: second",
            "third",
        ]
        titles = [r for r in env.provider.requests if "Write a title" in r.messages[-1].content]
        assert len(titles) == 1


async def test_history_beyond_the_window_drops_the_oldest_turns(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        env.provider._window = 200  # the scripted model counts a word a token
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        long = " ".join(["word"] * 40)
        for index in range(6):
            response = await env.client.post(
                f"/api/conversations/{cid}/messages",
                headers=as_(MOBILE),
                json={"content": f"{index} {long}"},
            )
            assert response.status_code == 200
        last: ChatRequest = next(
            r
            for r in reversed(env.provider.requests)
            if "Write a title" not in r.messages[-1].content
        )
        assert last.messages[-1].content.startswith("5 ")
        assert not any(m.content.startswith("0 ") for m in last.messages)


async def test_title_falls_back_to_a_clean_cut_of_the_message(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        question = (
            "Could you please explain in simple words how photosynthesis turns sunlight into "
            "sugar inside the leaves of green plants?"
        )
        env.scripts.queue += [reply("Plants use light."), [ProviderError("title model down")]]
        sent = await env.client.post(
            f"/api/conversations/{cid}/messages", headers=as_(MOBILE), json={"content": question}
        )
        assert sent.json()["content"] == "Plants use light."
        title = (await env.client.get(f"/api/conversations/{cid}", headers=as_(MOBILE))).json()[
            "title"
        ]
        assert title == "Could you please explain in simple words how photosynthesis…"
        assert len(title) <= 60


async def test_consumers_see_only_their_own_conversations(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        for method, path, body in (
            ("POST", f"/api/conversations/{cid}/messages", {"content": "hi"}),
            ("GET", f"/api/conversations/{cid}", None),
        ):
            response = await env.client.request(method, path, headers=as_(ZAPIER), json=body)
            assert response.status_code == 404
            assert response.json() == {"error": f"conversation '{cid}' not found"}
        assert (await env.client.get("/api/conversations", headers=as_(ZAPIER))).json() == []
        detail = await env.client.get(f"/api/conversations/{cid}", headers=as_(MOBILE))
        assert detail.json()["messages"] == []  # B's attempt stored nothing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"content": ""},
            "'content' must be 1-2000 characters after trimming whitespace (it has 0)",
        ),
        ({"content": "   \n "}, "'content' must be 1-2000 characters"),
        ({"content": "x" * 2001}, "(it has 2001)"),
        ({"content": 5}, "'content' must be a string"),
        (["content"], "must be a JSON object"),
        ({}, "Missing required parameter: content"),
        (None, "'content' field"),
    ],
)
async def test_bad_content_is_400_and_stores_nothing(
    settings: Settings, consumers: Path, body: object, message: str
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        kwargs = {"json": body} if body is not None else {}
        response = await env.client.post(
            f"/api/conversations/{cid}/messages", headers=as_(MOBILE), **kwargs
        )
        assert response.status_code == 400
        assert set(response.json()) == {"error"}
        assert message in response.json()["error"]
        detail = await env.client.get(f"/api/conversations/{cid}", headers=as_(MOBILE))
        assert detail.json()["messages"] == []
        assert env.provider.requests == []


async def test_json_is_read_whatever_the_content_type(settings: Settings, consumers: Path) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        # What `curl -d` sends without -H: JSON labelled as a form.
        response = await env.client.post(
            f"/api/conversations/{cid}/messages",
            headers={**as_(MOBILE), "Content-Type": "application/x-www-form-urlencoded"},
            content=b'{"content": "hi"}',
        )
        assert response.json() == {"role": "assistant", "content": "you said: hi"}


async def test_2000_characters_are_fine_and_invalid_json_is_400(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        ok = await env.client.post(
            f"/api/conversations/{cid}/messages", headers=as_(MOBILE), json={"content": "y" * 2000}
        )
        assert ok.status_code == 200
        broken = await env.client.post(
            f"/api/conversations/{cid}/messages",
            headers={**as_(MOBILE), "Content-Type": "application/json"},
            content=b'{"content": ',
        )
        assert broken.status_code == 400
        assert broken.json() == {"error": "request body is not valid JSON"}


async def test_keys_are_checked(settings: Settings, consumers: Path) -> None:
    async with running(settings) as env:
        env.client.headers.pop("X-API-Key")
        for headers in ({}, {"X-Api-Key": "not-a-key-of-anyone-here"}):
            response = await env.client.post("/api/conversations", headers=headers)
            assert response.status_code == 401
            assert set(response.json()) == {"error"}
        # Header names are case-insensitive; the seed writes X-Api-Key.
        assert (
            await env.client.post("/api/conversations", headers={"x-api-key": MOBILE})
        ).status_code == 200


async def test_model_failure_is_502_and_the_turn_is_recorded(
    settings: Settings, consumers: Path
) -> None:
    async with running(settings) as env:
        cid = (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
        env.scripts.queue.append([ProviderError("upstream said no")])
        response = await env.client.post(
            f"/api/conversations/{cid}/messages", headers=as_(MOBILE), json={"content": "hello"}
        )
        assert response.status_code == 502
        assert response.json() == {"error": "upstream said no"}
        detail = (await env.client.get(f"/api/conversations/{cid}", headers=as_(MOBILE))).json()
        assert detail["title"] == "New Conversation"  # no title from a failed exchange
        assert [(m["role"], m["error"]) for m in detail["messages"]] == [
            ("user", None),
            ("assistant", "provider_error: upstream said no"),
        ]


async def test_other_api_routes_keep_their_own_error_shapes(env: Env) -> None:
    native = await env.client.get("/api/sessions/nope")
    assert native.json() == {"error": {"code": "not_found", "message": "session 'nope' not found"}}
    llamachat = await env.client.get("/api/conversations/nope")
    assert llamachat.json() == {"error": "conversation 'nope' not found"}
    kernel2 = await env.client.get("/api/kernel2/roles/nope")
    assert kernel2.json()["success"] is False


async def test_a_llamachat_conversation_is_a_native_session(env: Env) -> None:
    cid = (await env.client.post("/api/conversations")).json()["id"]
    await env.client.post(f"/api/conversations/{cid}/messages", json={"content": "hello"})
    session = (await env.client.get(f"/api/sessions/{cid}")).json()
    assert [m["content"] for m in session["messages"]] == ["hello", "you said: hello"]


async def test_list_is_bounded(settings: Settings, consumers: Path) -> None:
    async with running(settings) as env:
        made = [
            (await env.client.post("/api/conversations", headers=as_(MOBILE))).json()["id"]
            for _ in range(3)
        ]
        page = await env.client.get("/api/conversations?limit=2&offset=1", headers=as_(MOBILE))
        assert [c["id"] for c in page.json()] == [made[1], made[0]]
        too_many = await env.client.get("/api/conversations?limit=5000", headers=as_(MOBILE))
        assert too_many.status_code == 400
        assert set(too_many.json()) == {"error"}
