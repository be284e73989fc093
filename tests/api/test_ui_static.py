"""The browser UI's files: GET / and /ui/..., content types, CSP, caching; POST / unchanged."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from roost.api.ui import CSP
from tests.conftest import Env

STATIC = resources.files("roost.web").joinpath("static")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/icon.svg", "image/svg+xml"),
    ],
)
async def test_files_are_served_with_headers(env: Env, path: str, kind: str) -> None:
    response = await env.client.get(path, headers={"X-API-Key": ""})  # no key needed
    assert response.status_code == 200
    assert response.headers["content-type"] == kind
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    etag = response.headers["etag"]
    again = await env.client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_csp_forbids_inline_script_and_other_origins() -> None:
    assert "script-src 'self';" in CSP
    assert "unsafe" not in CSP
    assert "default-src 'none'" in CSP
    assert "http" not in CSP


def test_no_file_references_another_origin_or_inline_script() -> None:
    for file in STATIC.iterdir():
        text = file.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), file.name
        assert "innerHTML" not in text, file.name
        assert "outerHTML" not in text, file.name
        assert "insertAdjacentHTML" not in text, file.name
        assert "document.write" not in text, file.name
    html = STATIC.joinpath("index.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="/ui/app.js">']
    assert " on" not in re.sub(r"\s+", " ", html).replace(" one", "")  # no onclick= etc.


@pytest.mark.parametrize(
    "path", ["/ui/nope.js", "/ui/..%2Fapi.py", "/ui/API.JS", "/ui/a.py", "/ui/.hidden.js"]
)
async def test_unknown_files_are_404(env: Env, path: str) -> None:
    response = await env.client.get(path)
    assert response.status_code == 404


async def test_post_root_is_still_the_chatnvim_inbox(env: Env) -> None:
    response = await env.client.post("/", json={"session": "2024-01-15-10-30-00", "content": "hi"})
    assert response.status_code == 204
    assert (await env.client.put("/")).status_code == 404
