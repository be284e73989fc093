"""Settings: defaults < $ROOST_HOME/config.toml < environment (ROOST_*) < CLI flags.

The pydantic models below are the one declarative table of settings: they give the
defaults, validate the file, the environment and the flags alike, and `roost config show`
prints them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from roost.config.metrics import MetricsSettings as MetricsSettings
from roost.config.models import EMBEDDED_DEFAULTS as EMBEDDED_DEFAULTS
from roost.config.models import EMBEDDED_MODEL as EMBEDDED_MODEL
from roost.config.models import ModelSettings as ModelSettings
from roost.config.models import _default_models
from roost.config.ollama import OllamaSettings as OllamaSettings
from roost.config.runners import RunnerSettings as RunnerSettings
from roost.config.section import _Section as _Section
from roost.config.speech import SpeechSettings as SpeechSettings
from roost.config.tools import BUILTIN_TOOLS as BUILTIN_TOOLS
from roost.config.tools import DEFAULT_TOOLS as DEFAULT_TOOLS
from roost.config.tools import ToolName as ToolName
from roost.config.tools import ToolSettings as ToolSettings
from roost.core.errors import ConfigError
from roost.core.ids import new_password

ENV_PREFIX = "ROOST_"
# Environment variables that look like settings but are secrets read elsewhere.
_NOT_SETTINGS = {"ROOST_HOME", "ROOST_SERVER_PASS", "ROOST_TEST_DATABASE_URL"}


def is_loopback_bind(bind: str) -> bool:
    """An address only this machine can reach: one local user, as far as defaults go."""
    return bind in {"::1", "localhost"} or bind.startswith("127.")


class ServerSettings(_Section):
    enabled: bool = Field(True, description="false: `roost serve` refuses to start the HTTP server")
    port: int = Field(31327, ge=0, le=65535, description="TCP port")
    bind: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 exposes roost")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed by CORS (none: CORS closed)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header names accepted besides the bind address and localhost",
    )
    use_ssl: bool = Field(False, description="Serve HTTPS with a self-signed certificate")

    @property
    def loopback(self) -> bool:
        return is_loopback_bind(self.bind)


class AuthSettings(_Section):
    required: bool = Field(
        True, description="false lets loopback clients in without a key (loopback bind only)"
    )


class LimitSettings(_Section):
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest JSON request body")
    max_message_chars: int = Field(100_000, ge=1, description="Longest chat message")
    max_messages: int = Field(
        2048, ge=1, description="Most messages in one OpenAI-style chat request"
    )
    sse_keepalive_seconds: float = Field(
        15.0, gt=0, description="Idle seconds before an SSE keep-alive comment"
    )
    ws_stall_seconds: float = Field(
        30.0, gt=0, le=3600, description="Seconds a WebSocket client may leave messages unread"
    )
    # Unset: off on a loopback bind (one local user), on (600, 8) when others can reach it.
    requests_per_minute: int | None = Field(
        None,
        ge=0,
        description="Requests a minute per API key (per address for unknown keys); 0: off; "
        "unset: off on a loopback bind, 600 otherwise",
    )
    burst: int | None = Field(
        None, ge=1, description="Requests a key may send at once (unset: requests_per_minute)"
    )
    max_streams: int | None = Field(
        None,
        ge=0,
        description="SSE and WebSocket streams open at once per API key; 0: off; unset: off "
        "on a loopback bind, 8 otherwise",
    )
    slots_per_user: int | None = Field(
        None,
        ge=1,
        description="Slots of one local model ([models.NAME] parallel) one API key's user may "
        "hold at once; the rest wait while others go ahead; unset: all on a loopback bind, "
        "half (at least 1) otherwise",
    )
    slot_wait_seconds: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Seconds a request waits for a busy local model's slot (then 503); "
        "streams get keep-alives meanwhile",
    )
    max_waiting: int = Field(
        64, ge=0, le=100_000, description="Requests that may wait for one local model (then 429)"
    )
    header_timeout: float = Field(
        10.0, gt=0, le=600, description="Seconds a client has to send a request's headers"
    )
    body_timeout: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's body, plus one for every 64 KiB "
        "received; then 408 and the connection is closed",
    )
    max_json_depth: int = Field(
        128,
        ge=8,
        le=512,
        description="Deepest nesting of [ and { in a JSON body, WebSocket message or tool-call "
        "arguments (deeper: 400)",
    )
    failed_auths_per_minute: int = Field(
        10,
        ge=0,
        description="Failed authentications a minute per client address, on every bind "
        "(then 429; keys roost issued are still checked); 0: off",
    )


class ChatSettings(_Section):
    system_prompt: str = Field(
        "You are a helpful assistant.", description="System prompt of new conversations"
    )


class MemorySettings(_Section):
    workspace: Path | None = Field(
        None,
        description="The default user's markdown workspace (relative: to ROOST_HOME; unset: "
        "$ROOST_HOME/workspace); other users get $ROOST_HOME/workspaces/<user id>",
    )
    chunk_tokens: int = Field(400, ge=32, le=8192, description="Index chunk size, in tokens")
    chunk_overlap: int = Field(80, ge=0, description="Tokens shared by neighbouring chunks")
    watch: bool = Field(True, description="Re-index workspace files as they change")
    debounce_ms: int = Field(
        300,
        ge=10,
        le=60_000,
        description="Longest time the watcher groups changes before re-indexing",
    )
    include_in_chat: bool = Field(
        True, description="Default for include_memory: memory context in chat prompts"
    )
    context_tokens: int = Field(
        600, ge=0, description="Most prompt tokens memory context may take in a chat turn"
    )
    search_hits: int = Field(3, ge=0, le=20, description="Search hits added to a chat prompt")
    # Off by default: with it on, every conversation's text flows into every later prompt
    # through today's log, which costs prompt room and mixes unrelated conversations.
    log_turns: bool = Field(
        False, description="Append each finished chat turn to today's daily log"
    )
    embedding_model: str | None = Field(
        None,
        description="A configured model that embeds (llamacpp, openai, sentence-transformers): "
        "turns on hybrid keyword + vector search; unset: keyword search only",
    )
    keyword_weight: float = Field(
        1.0, ge=0.0, le=10.0, description="Hybrid search: weight of the keyword rank in fusion"
    )
    vector_weight: float = Field(
        1.0, ge=0.0, le=10.0, description="Hybrid search: weight of the vector rank in fusion"
    )


class HeartbeatSettings(_Section):
    enabled: bool = Field(False, description="Work through HEARTBEAT.md's open tasks on a timer")
    interval: str = Field(
        "30m", pattern=r"^\d+(\.\d+)?\s*(ms|s|m|h)$", description="Time between ticks: 90s, 30m, 2h"
    )
    active_hours: dict[str, str] | None = Field(
        None,
        description='Only tick between these local times, e.g. {start = "08:00", end = "22:00"}',
    )
    timezone: str | None = Field(None, description="IANA zone for active_hours (unset: local)")
    model: str | None = Field(None, description="Model for heartbeat turns (unset: default)")


class AgentSettings(_Section):
    """MemGPT-compatible agents (/api/agents)."""

    model: str | None = Field(None, description="Model of new MemGPT agents (unset: default_model)")
    max_steps: int = Field(
        10, ge=1, le=100, description="Most model steps for one message (request_heartbeat chains)"
    )
    summarize_at: float = Field(
        0.75,
        ge=0.2,
        le=0.95,
        description="Summarise older messages when they fill this share of the window's room "
        "for messages",
    )
    max_agents: int = Field(1000, ge=1, le=100_000, description="Most agents one user may have")
    queue_timeout: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="Seconds a message waits for the agent's running turn before a 409",
    )


class QueueSettings(_Section):
    """The chat.nvim inbox: a durable per-session queue answered by a background worker."""

    poll_interval: float = Field(
        5.0, gt=0, le=3600, description="Seconds between queue checks (new messages wake it)"
    )
    max_attempts: int = Field(
        5, ge=1, le=100, description="Turns tried per queued message before it is marked failed"
    )
    retry_backoff: float = Field(
        2.0, gt=0, le=3600, description="Seconds before the first retry; doubles on each retry"
    )
    retry_backoff_max: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between two retries, in seconds"
    )
    max_parallel: int = Field(
        4, ge=1, le=256, description="Sessions whose queued messages are answered at once"
    )
    max_pending: int = Field(
        10_000, ge=1, description="Most queued (not yet answered) messages per user"
    )
    lease_seconds: float = Field(
        15.0,
        ge=0.5,
        le=3600,
        description="Replicas: how long a turn's lease lasts without renewal (renewed every "
        "third of it); a dead replica's work is taken over after this",
    )


class StreamSettings(_Section):
    """Resumable streams: each stored turn's events, for clients that reconnect."""

    keep_seconds: float = Field(
        900.0, ge=0, le=7 * 86_400, description="Seconds a turn's events are kept after it ends"
    )
    idle_seconds: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="A resumed stream with no new event for this long is closed",
    )


class Settings(_Section):
    home: Path = Field(
        default_factory=lambda: Path("~/.roost").expanduser(),
        description="Data directory; set with ROOST_HOME",
    )
    database_url: str | None = Field(
        None, description="postgresql+asyncpg://... (unset: SQLite at $ROOST_HOME/roost.db)"
    )
    database_busy_timeout: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Seconds a write waits for another process's lock on the database "
        "before the request is answered 503",
    )
    default_model: str = Field(EMBEDDED_MODEL, description="Model used when a request names none")
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    heartbeat: HeartbeatSettings = Field(default_factory=HeartbeatSettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    streams: StreamSettings = Field(default_factory=StreamSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    runners: RunnerSettings = Field(default_factory=RunnerSettings)
    models: dict[str, ModelSettings] = Field(default_factory=_default_models)

    @model_validator(mode="after")
    def _tools_know_home(self) -> Settings:
        self.tools._home = self.home.expanduser()  # the bash sandbox hides it
        return self

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home / 'roost.db'}"

    def model(self, name: str | None) -> tuple[str, ModelSettings]:
        chosen = name or self.default_model
        return chosen, self.models[chosen]


def default_home() -> Path:
    return Path(os.environ.get("ROOST_HOME") or "~/.roost").expanduser()


def _describe(error: Any) -> str:
    loc = error["loc"]
    key = ".".join(str(part) for part in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    got = error.get("input")
    return f"'{key}': {error['msg']} (got {got!r})"


def _validate(data: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid settings in {source}: {problems}") from None


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _env_names() -> dict[str, tuple[str, ...]]:
    """ROOST_<KEY> for top-level scalars, ROOST_<SECTION>_<KEY> for section keys."""
    names: dict[str, tuple[str, ...]] = {}
    for key, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            for sub in annotation.model_fields:
                names[f"{ENV_PREFIX}{key}_{sub}".upper()] = (key, sub)
        elif key not in {"models", "home"}:
            names[f"{ENV_PREFIX}{key}".upper()] = (key,)
    return names


def _parse_env_value(raw: str) -> Any:
    """Environment values are TOML literals when they parse as one, else plain strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(base: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = base
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"'{part}' must be a table")
    node[path[-1]] = value


def load_settings(
    home: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, ...], Any] | None = None,
) -> Settings:
    """Build Settings from the layers; any problem is a ConfigError naming key and source."""
    env = dict(os.environ) if env is None else env
    home = (home or Path(env.get("ROOST_HOME") or "~/.roost")).expanduser()
    path = home / "config.toml"
    data = _read_file(path)
    # The embedded model stays available when a file adds models of its own.
    models = data.setdefault("models", {})
    if isinstance(models, dict):
        own = models.get(EMBEDDED_MODEL, {})
        models[EMBEDDED_MODEL] = {**EMBEDDED_DEFAULTS, **own} if isinstance(own, dict) else own
    if "home" in data:
        raise ConfigError(f"unknown key 'home' in {path}: set ROOST_HOME instead")
    _validate(data, str(path))  # file errors name the file, before other layers mix in

    names = _env_names()
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        if name not in names:
            continue  # other tools' ROOST_* variables are not ours to refuse
        _merge(data, names[name], _parse_env_value(value))
        _validate(data, f"environment variable {name}")
    for key_path, value in (overrides or {}).items():
        if value is not None:
            _merge(data, key_path, value)
    data["home"] = home
    settings = _validate(data, "command-line flags")
    # default_model may also name a pulled model: the provider registry checks it against
    # config.toml's models and the store's together.
    return settings


PASSWORD_VARIABLES = ("ROOST_SERVER_PASS", "MEMGPT_SERVER_PASS")


def admin_password_from_env(env: dict[str, str] | None = None) -> str | None:
    """The admin password set by the user (MemGPT's variable works too), if any."""
    env = dict(os.environ) if env is None else env
    for name in PASSWORD_VARIABLES:
        if env.get(name):
            return env[name]
    return None


def generate_admin_password() -> str:
    return new_password()
