"""`roost serve` as a real process: /health, the printed lines, HTTPS, keys made by the CLI."""

from __future__ import annotations

import signal
import ssl
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from typer.testing import Result

from roost.cli import tls

pytestmark = pytest.mark.e2e

Invoke = Callable[..., Result]
Serving = Callable[..., AbstractContextManager[Any]]


def test_serve_answers_health_and_says_where(serving: Serving, port: int) -> None:
    with serving() as server:
        assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
        output = server.output()
        assert f"roost listening on http://127.0.0.1:{port}" in output
        assert "Generated admin server password for this session: " in output
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(20)
    assert "Traceback" not in server.output()


def test_keys_made_by_the_cli_open_the_server(
    cli: Invoke, serving: Serving, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("users", "create", "carol").exit_code == 0
    secret = cli("keys", "create", "carol").stdout.strip()
    monkeypatch.setenv("ROOST_SERVER_PASS", "not-the-key")
    with serving() as server:
        ok = httpx.get(f"{server.url}/api/status", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200, ok.text
        assert "Generated admin server password" not in server.output()
        assert cli("keys", "revoke", "carol", secret[:12]).exit_code == 0
        refused = httpx.get(f"{server.url}/api/status", headers={"X-API-Key": secret})
        assert refused.status_code == 401


def test_use_ssl_serves_https_with_a_kept_certificate(
    serving: Serving, roost_home: Path, port: int
) -> None:
    with serving("--use-ssl", scheme="https") as server:
        insecure = httpx.get(f"{server.url}/health", verify=False)  # noqa: S501
        assert insecure.status_code == 200
        # The certificate names 127.0.0.1 and localhost, so a client can pin it.
        pinned = ssl.create_default_context(cafile=roost_home / tls.CERT_FILE)
        assert httpx.get(f"{server.url}/health", verify=pinned).status_code == 200
        localhost = f"https://localhost:{port}/health"
        assert httpx.get(localhost, verify=pinned).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health")  # not trusted by default, as it should not be
        assert f"roost listening on https://127.0.0.1:{port}" in server.output()
    key = roost_home / tls.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_certificate_is_made_once_and_then_reused(tmp_path: Path) -> None:
    cert, key, warning = tls.ensure_certificate(tmp_path, "127.0.0.1")
    assert warning is None
    first = cert.read_bytes(), key.read_bytes()
    assert tls.ensure_certificate(tmp_path, "127.0.0.1")[:2] == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == first
    parsed = x509.load_pem_x509_certificate(first[0])
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    days = (parsed.not_valid_after_utc - parsed.not_valid_before_utc).days
    assert days >= 3650


def test_certificate_for_another_host_is_kept_but_flagged(tmp_path: Path) -> None:
    tls.ensure_certificate(tmp_path, "127.0.0.1")
    _, _, warning = tls.ensure_certificate(tmp_path, "192.0.2.7")
    assert warning is not None
    assert "192.0.2.7" in warning


def test_serve_refuses_an_unsafe_combination(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "config.toml").write_text("[auth]\nrequired = false\n")
    result = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 2
    assert "loopback" in result.stderr


def test_an_unsafe_combination_is_refused_before_binding(
    cli: Invoke, roost_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[auth] required = false` on 0.0.0.0: refused before the server binds and says
    'listening' (was: bound 0.0.0.0, printed the line, then exited)."""
    from roost.cli import server

    def bind(*args: object) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(server, "run_server", bind)
    (roost_home / "config.toml").write_text("[auth]\nrequired = false\n")
    result = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 2, result.output
    assert "required = false is only allowed on a loopback bind address" in result.stderr
    assert "listening" not in result.output
