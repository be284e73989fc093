"""The Host check parses the header strictly and refuses a request with two of them."""

from __future__ import annotations

import pytest

from roost.api.guards import parse_host
from tests.api.dialect_shapes import error_shape_ok
from tests.api.wsclient import AsgiSocket, Rejected
from tests.conftest import ADMIN_PASSWORD, Env

# One cheap read per dialect.
READS = {
    "native": "/api/sessions",
    "openai": "/v1/models",
    "kernel2": "/api/kernel2/roles",
    "memgpt": "/api/agents",
    "chatnvim": "/sessions",
    "llamachat": "/api/conversations",
}


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost:31327", "localhost"),
        ("127.0.0.1:1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("[::1]:31327", "::1"),
        ("[FE80::1]:80", "fe80::1"),
        ("roost.example.org", "roost.example.org"),
        ("my-box", "my-box"),
        # Malformed: None, whatever a lenient split would have made of it.
        ("[::1]evil.com", None),
        ("[::1]:31327evil", None),
        ("[::1]:", None),
        ("[::1", None),
        ("[evil.com]", None),
        ("[::1]:80:80", None),
        ("::1", None),  # IPv6 needs brackets
        ("localhost:", None),
        ("localhost:http", None),
        ("localhost:99999999", None),
        ("localhost:31327:1", None),
        ("evil.com@127.0.0.1", None),
        ("127.0.0.1/evil", None),
        ("127.0.0.1 evil.com", None),
        ("local_host", None),
        ("", None),
    ],
)
def test_hosts_are_parsed_strictly(raw: str, name: str | None) -> None:
    assert parse_host(raw) == name


@pytest.mark.parametrize(
    "host", ["[::1]evil.com", "[::1]:31327evil.com", "[::1", "::1", "localhost:x", "a b"]
)
async def test_malformed_hosts_are_refused_in_each_dialect(env: Env, host: str) -> None:
    for dialect, path in READS.items():
        response = await env.client.get(path, headers={"Host": host})
        assert response.status_code == 400, (dialect, host, response.text)
        assert error_shape_ok(dialect, 400, response.json()), (dialect, response.text)
    with pytest.raises(Rejected) as refused:
        async with AsgiSocket(env.app, headers={"host": host, "X-API-Key": ADMIN_PASSWORD}):
            pass
    assert refused.value.code == 1008


@pytest.mark.parametrize(
    "hosts",
    [
        ["evil.example", "127.0.0.1:31327"],  # judged by the last, before
        ["127.0.0.1:31327", "evil.example"],
        ["localhost", "localhost"],  # even two of ours: ambiguous, refused
    ],
)
async def test_two_host_headers_are_refused(env: Env, hosts: list[str]) -> None:
    for dialect, path in READS.items():
        headers = [("Host", host) for host in hosts] + [("X-API-Key", ADMIN_PASSWORD)]
        response = await env.client.get(path, headers=headers)
        assert response.status_code == 400, (dialect, hosts, response.text)
        assert error_shape_ok(dialect, 400, response.json()), (dialect, response.text)
        assert "Host" in response.text
    socket = AsgiSocket(env.app, headers={"X-API-Key": ADMIN_PASSWORD})
    others = [h for h in socket.scope["headers"] if h[0] != b"host"]
    socket.scope["headers"] = others + [(b"host", host.encode()) for host in hosts]
    with pytest.raises(Rejected) as refused:
        async with socket:
            pass
    assert refused.value.code == 1008


async def test_well_formed_hosts_of_ours_still_pass(env: Env) -> None:
    for host in ("localhost", "127.0.0.1:31327", "[::1]:31327", "[::1]"):
        response = await env.client.get("/api/sessions", headers={"Host": host})
        assert response.status_code == 200, (host, response.text)
