"""/metrics of a real `roost serve`: on the main port with the admin key, and on the
`[metrics]` listener without one; a metrics address that cannot be used stops the start."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import backend
from tests.conftest import free_port
from tests.e2e.conftest import PASSWORD, Server

pytestmark = pytest.mark.e2e


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_the_main_port_and_the_metrics_listener(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = Server(tmp_path, free_port())
    server.start({**backend.dedicated_env("metrics"), "ROOST_METRICS_PORT": str(metrics_port)})
    try:
        with server.client() as client:
            assert client.get("/api/sessions").status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        bearer = {"Authorization": f"Bearer {PASSWORD}"}
        main = httpx.get(f"{server.url}/metrics", headers=bearer)
        assert main.status_code == 200
        listener = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")  # no key there
        assert listener.status_code == 200
        found = families(listener.text)
        sessions = [
            value
            for labels, value in found["roost_http_requests"]
            if labels["route"] == "/api/sessions" and labels["status"] == "200"
        ]
        assert sessions == [1.0]
        assert found["roost_open_websockets"] == []  # a family with no series yet
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/api/sessions").status_code == 404
        log = (tmp_path / "server.log").read_text()
        assert f"roost metrics on http://127.0.0.1:{metrics_port}/metrics" in log
    finally:
        server.stop()
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    with socket.socket() as again:  # the listener let go of its port
        again.bind(("127.0.0.1", metrics_port))


def test_a_metrics_port_in_use_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = Server(tmp_path, free_port())
        with pytest.raises(RuntimeError, match=rf"cannot listen for metrics on 127.0.0.1:{port}"):
            server.start({"ROOST_METRICS_PORT": str(port)})
    assert server.process is not None
    assert server.process.returncode != 0


def test_a_remote_metrics_bind_must_be_allowed(tmp_path: Path) -> None:
    server = Server(tmp_path, free_port())
    env = {"ROOST_METRICS_PORT": str(free_port()), "ROOST_METRICS_BIND": "0.0.0.0"}
    with pytest.raises(RuntimeError, match=r"allow_remote = true"):
        server.start(env)
