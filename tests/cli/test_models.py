"""`roost models`: configured models and whether each answers, against real local upstreams."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.upstreams import Upstream, anthropic_upstream, openai_upstream, unused_url

Invoke = Callable[..., Result]


@pytest.fixture
def gpt() -> Iterator[Upstream]:
    with openai_upstream() as up:
        yield up


@pytest.fixture
def claude() -> Iterator[Upstream]:
    with anthropic_upstream() as up:
        yield up


def configure(home: Path, default: str | None = None, **models: dict[str, Any]) -> None:
    lines = [f'default_model = "{default}"'] if default else []
    for name, table in models.items():
        lines.append(f"[models.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def by_name(result: Result) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_all_reachable_lists_every_model_and_exits_0(
    cli: Invoke, roost_home: Path, gpt: Upstream, claude: Upstream
) -> None:
    configure(
        roost_home,
        default="gpt",
        gpt={"provider": "openai", "model": "gpt-test", "base_url": gpt.base_url},
        claude={
            "provider": "anthropic",
            "model": "claude-test",
            "base_url": claude.base_url,
            "context_window": 100000,
        },
    )
    result = cli("models")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = [
        "NAME",
        "PROVIDER",
        "MODEL",
        "SIZE",
        "QUANT",
        "CONTEXT",
        "DEFAULT",
        "STATUS",
        "PROCESS",
    ]
    assert lines[0].split() == header
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    gpt_row = ["gpt", "openai", "gpt-test", "@", gpt.base_url, "-", "-", "8192", "yes", "ok", "-"]
    assert rows["gpt"] == gpt_row
    claude_row = [
        "claude",
        "anthropic",
        "claude-test",
        "@",
        claude.url,
        "-",
        "-",
        "100000",
        "ok",
        "-",
    ]
    assert rows["claude"] == claude_row
    assert rows["smollm2"][1] == "llamacpp"
    assert rows["smollm2"][2].endswith(".gguf")
    assert rows["smollm2"][3:6] == ["98.4", "MB", "Q4_1"]  # from the GGUF's header
    assert rows["smollm2"][-2:] == ["ok", "-"]  # no server runs on this home
    # Each remote model was asked for its model list, nothing more.
    assert [r.path for r in gpt.requests] == ["/v1/models"]
    assert [r.path for r in claude.requests] == ["/v1/models"]


def test_unreachable_models_give_reasons_and_exit_1(
    cli: Invoke, roost_home: Path, gpt: Upstream
) -> None:
    down = unused_url()
    gpt.set(fault="http_401")
    configure(
        roost_home,
        down={"provider": "openai", "model": "m", "base_url": down},
        denied={"provider": "openai", "model": "gpt-test", "base_url": gpt.base_url},
        nokey={"provider": "anthropic", "model": "c", "api_key_env": "ROOST_TEST_NO_SUCH_KEY"},
        nofile={"path": "models/missing.gguf", "n_ctx": 4096},
    )
    result = cli("models", "--json")
    assert result.exit_code == 1
    assert result.stderr == "roost: not reachable: denied, down, nofile, nokey\n"
    rows = by_name(result)
    assert list(rows) == ["denied", "down", "nofile", "nokey", "smollm2"]
    assert rows["down"] == {
        "name": "down",
        "provider": "openai",
        "model": "m",
        "base_url": down,
        "path": None,
        "size": None,
        "quantization": None,
        "context_window": 8192,
        "default": False,
        "pulled": False,
        "ok": False,
        "status": f"connection refused to {down}",
        "runner": None,
    }
    assert rows["denied"]["status"] == "HTTP 401: Incorrect API key provided: sk-wrong."
    assert "ROOST_TEST_NO_SUCH_KEY" in rows["nokey"]["status"]
    assert rows["nofile"]["path"] == str(roost_home / "models" / "missing.gguf")
    assert rows["nofile"]["context_window"] == 4096
    assert "is not a file" in rows["nofile"]["status"]
    assert rows["smollm2"]["ok"] is True
    assert rows["smollm2"]["default"] is True


def test_reasons_with_brackets_survive_the_table(cli: Invoke, roost_home: Path) -> None:
    configure(roost_home, nofile={"path": "missing.gguf"})
    result = cli("models")
    assert result.exit_code == 1
    assert "[models.nofile] path" in result.stdout


def test_a_file_that_is_not_gguf_is_not_usable(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "fake.gguf").write_text("not a model")
    configure(roost_home, fake={"path": "fake.gguf"})
    rows = by_name(cli("models", "--json"))
    assert rows["fake"]["status"] == f"{roost_home / 'fake.gguf'} is not a GGUF file"


def test_a_broken_config_is_a_config_error(cli: Invoke, roost_home: Path) -> None:
    (roost_home / "config.toml").write_text('[models.x]\nprovider = "nope"\n')
    result = cli("models")
    assert result.exit_code == 2
    assert result.stderr.startswith("roost: config error:")


def test_pulled_models_are_listed_shown_and_removed(cli: Invoke, roost_home: Path) -> None:
    from tests.store_helpers import PULLED, put_in_store

    stored = put_in_store(roost_home)
    folder = (roost_home / "models" / stored.files[0].path).parent
    (folder / f"{Path(stored.files[0].path).name}.0123456789abcdef.incomplete").write_bytes(b"x")
    (folder / f".{Path(stored.files[0].path).name}.lock").touch()
    rows = by_name(cli("models", "list", "--json"))
    assert rows[PULLED]["pulled"] is True
    assert rows["smollm2"]["pulled"] is False
    assert (rows[PULLED]["size"], rows[PULLED]["quantization"]) == (stored.size, "Q4_1")
    assert rows[PULLED]["context_window"] == 4096  # the GGUF's 8,192, capped

    shown = cli("models", "show", PULLED)
    assert shown.exit_code == 0, shown.output
    fields = {line[:16].strip(): line[16:] for line in shown.stdout.splitlines()}
    assert fields["pulled from"] == "test/smollm2-gguf @ 0123456789ab"
    assert fields["architecture"] == "llama"
    assert fields["parameters"] == "135M"
    assert fields["quantization"] == "Q4_1"
    assert fields["context length"] == "8192 (roost uses 4096)"
    assert fields["license"] == "apache-2.0"
    assert fields["chat template"].startswith("{% for message in messages %}")
    details = json.loads(cli("models", "show", PULLED, "--json").stdout)
    assert details["gguf"]["chat_template"].count("<|im_start|>") >= 2
    assert details["pulled"]["files"][0]["sha256"] == stored.files[0].sha256

    removed = cli("models", "rm", PULLED)
    assert removed.exit_code == 0, removed.output
    assert "deleted" in removed.stdout
    assert not (roost_home / "models" / stored.files[0].path).exists()
    assert not folder.exists()  # its partial download and pull lock went with it
    assert (roost_home / "models" / "manifest.json").exists()
    assert PULLED not in by_name(cli("models", "--json"))
    again = cli("models", "rm", PULLED)
    assert again.exit_code == 1
    assert "no pulled model named" in again.stderr
    unknown = cli("models", "show", "nope")
    assert unknown.exit_code == 1
    assert "nope" in unknown.stderr


def test_a_configured_model_is_not_removed_by_rm(cli: Invoke, roost_home: Path) -> None:
    configure(roost_home, gpt={"provider": "openai", "model": "m", "base_url": "http://x"})
    result = cli("models", "rm", "gpt")
    assert result.exit_code == 1
    assert "config.toml" in result.stderr
    assert "[models]" in result.stderr
