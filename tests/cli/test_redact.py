"""The log filter masks every form of credential, as the server would decode it."""

from __future__ import annotations

import logging

import pytest

from roost.cli.redact import Redact, redact, redact_target

SECRET = "s3cret-Passw0rd"


@pytest.mark.parametrize(
    "target",
    [
        f"/api/ws?token={SECRET}",
        f"/api/ws?%74oken={SECRET}",
        f"/api/ws?tok%65n={SECRET}",
        f"/api/ws?%54%4F%4B%45%4E={SECRET}",
        f"/api/ws?a=1&%74oken={SECRET}&b=2",
        f"/admin/users/keys?api%5Fkey={SECRET}",
        f"/api/ws?token=ab'{SECRET}",  # a raw quote in the value does not end it
        f"/api/ws?token={SECRET}%22x",
        "/api/sessions?q=%72oost_abcdefghijklmnop",  # a roost key, percent-encoded
    ],
)
def test_query_credentials_are_masked_decoded(target: str) -> None:
    cleaned = redact_target(target)
    assert SECRET not in cleaned
    assert "abcdefghijklmnop" not in cleaned
    assert cleaned.startswith(target.split("?")[0] + "?")


def test_other_parameters_are_kept() -> None:
    assert redact_target("/api/search?q=monkey&limit=5") == "/api/search?q=monkey&limit=5"
    assert redact("limit=5 keyword=x") == "limit=5 keyword=x"


@pytest.mark.parametrize(
    "text",
    [
        f"{{'query_string': b'%74oken={SECRET}'}}",
        f"[(b'x-api-key', b'{SECRET}'), (b'host', b'x')]",
        f"[(b'x-api-key', b\"it's,{SECRET}\")]",  # repr switches quotes; commas inside
        f"[(b'authorization', b'Bearer a,{SECRET}')]",
        f"< x-api-key: a,b){SECRET}",
        f"< Authorization: Basic {SECRET}",
    ],
)
def test_header_values_are_masked_whole(text: str) -> None:
    assert SECRET not in redact(text)


def test_a_websocket_line_is_masked_through_its_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/api/ws?tok%65n=a'{SECRET}"),
        None,
    )
    assert Redact().filter(record)
    assert SECRET not in record.getMessage()
    assert record.getMessage().endswith('"WebSocket /api/ws?tok%65n=***" [accepted]')
