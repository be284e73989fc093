"""Settings layers and their error messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roost.config import load_settings
from roost.config.reference import reference, reference_table
from roost.core.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def write(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_defaults_without_a_file(home: Path) -> None:
    settings = load_settings(home=home, env={})
    assert (settings.server.bind, settings.server.port, settings.server.enabled) == (
        "127.0.0.1",
        31327,
        True,
    )
    assert settings.default_model == "smollm2"
    assert settings.db_url == f"sqlite+aiosqlite:///{home / 'roost.db'}"


def test_seed_server_section_works_as_written(home: Path) -> None:
    write(home, '[server]\nenabled = true\nport = 31327\nbind = "127.0.0.1"\n')
    settings = load_settings(home=home, env={})
    assert settings.server.port == 31327


def test_layers_file_then_env_then_flags(home: Path) -> None:
    write(home, "[server]\nport = 1000\n[limits]\nmax_message_chars = 50\n")
    assert load_settings(home=home, env={}).server.port == 1000
    env = {"ROOST_SERVER_PORT": "2000", "ROOST_DATABASE_URL": "postgresql+asyncpg://x/y"}
    settings = load_settings(home=home, env=env)
    assert settings.server.port == 2000
    assert settings.limits.max_message_chars == 50  # untouched by env
    assert settings.db_url == "postgresql+asyncpg://x/y"
    flagged = load_settings(home=home, env=env, overrides={("server", "port"): 3000})
    assert flagged.server.port == 3000


def test_roost_home_from_environment(tmp_path: Path) -> None:
    settings = load_settings(env={"ROOST_HOME": str(tmp_path)})
    assert settings.home == tmp_path


def test_unknown_key_names_key_and_file(home: Path) -> None:
    write(home, "[server]\nprot = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=home, env={})
    assert "server.prot" in caught.value.message
    assert str(home / "config.toml") in caught.value.message


def test_wrong_type_names_key_and_file(home: Path) -> None:
    write(home, '[server]\nport = "high"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(home=home, env={})
    assert "server.port" in caught.value.message
    assert "config.toml" in caught.value.message


def test_bad_env_value_names_the_variable(home: Path) -> None:
    with pytest.raises(ConfigError, match="ROOST_SERVER_PORT"):
        load_settings(home=home, env={"ROOST_SERVER_PORT": "lots"})


def test_invalid_toml_is_a_config_error(home: Path) -> None:
    write(home, "[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(home=home, env={})


def test_added_models_keep_the_embedded_one(home: Path) -> None:
    write(home, '[models.big]\npath = "big.gguf"\nn_ctx = 8192\n')
    settings = load_settings(home=home, env={})
    assert set(settings.models) == {"smollm2", "big"}
    assert settings.models["big"].n_ctx == 8192


def test_default_model_must_exist(home: Path) -> None:
    """Checked where the models are known: config.toml's and the store's (pulled) ones."""
    from roost.providers.catalog import check_default

    write(home, 'default_model = "nope"\n')
    settings = load_settings(home=home, env={})
    with pytest.raises(ConfigError, match="nope"):
        check_default(settings)


def test_every_setting_is_documented() -> None:
    """The docs table is generated from the settings models; regenerate it when this fails."""
    text = DOCS.read_text()
    missing = [key for key, *_ in reference() if f"`{key}`" not in text]
    assert missing == []
    assert reference_table() in text


def test_embedded_model_defaults_are_greedy_and_overridable(home: Path) -> None:
    assert load_settings(home=home, env={}).models["smollm2"].temperature == 0.0
    write(home, "[models.smollm2]\nmax_tokens = 64\n")
    embedded = load_settings(home=home, env={}).models["smollm2"]
    assert (embedded.max_tokens, embedded.temperature, embedded.repeat_penalty) == (64, 0.0, 1.15)


def test_the_settings_table_has_four_columns_and_plain_defaults() -> None:
    """`str | None` must not split a row into five columns; paths show as paths."""
    table = reference_table()
    for row in table.splitlines():
        cells = [c for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 4, row
    assert "PosixPath" not in table
    assert "| `home` | Path | `~/.roost` |" in table
    assert "next release" not in DOCS.read_text()  # remote models work today
