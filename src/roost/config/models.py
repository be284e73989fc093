"""`[models.NAME]`: one model's settings, and the built-in model's defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from roost.config.runners import check_keep_alive
from roost.config.section import _Section
from roost.config.tools import ToolName


class ModelSettings(_Section):
    provider: Literal["llamacpp", "openai", "anthropic", "sentence-transformers"] = Field(
        "llamacpp",
        description="Runtime: llamacpp (a supervised local process), openai (any "
        "OpenAI-compatible server), anthropic, sentence-transformers (local embeddings only)",
    )
    path: str | None = Field(
        None,
        description="llamacpp: GGUF file (unset: built-in SmolLM2); sentence-transformers: "
        "model folder (unset: built-in all-MiniLM-L6-v2); relative to ROOST_HOME",
    )
    n_ctx: int = Field(
        2048,
        ge=128,
        description="llamacpp: context window in tokens (unset: the GGUF's trained context, "
        "at most 4096; 2048 when the file does not say)",
    )
    n_threads: int | None = Field(None, ge=1, description="llamacpp: threads (unset: all cores)")
    parallel: int = Field(
        4,
        ge=1,
        le=64,
        description="llamacpp: requests decoded together in one batch; each has the whole "
        "n_ctx window, so the KV cache takes parallel x n_ctx tokens",
    )
    chat_template: str | None = Field(
        None,
        description="llamacpp: the chat template instead of the GGUF's own: a Jinja file "
        '(relative to ROOST_HOME) or "chatml" (unset: the GGUF\'s, else ChatML)',
    )
    model: str | None = Field(None, description="Remote providers: the upstream model name")
    base_url: str | None = Field(None, description="Remote providers: API base URL")
    api_key: str | None = Field(
        None, description="Remote providers: the API key (prefer api_key_env: keys in files leak)"
    )
    api_key_env: str | None = Field(None, description="Remote providers: env var holding the key")
    timeout: float = Field(
        120.0, gt=0, description="Remote providers: seconds to wait for the next byte upstream"
    )
    connect_timeout: float = Field(
        10.0, gt=0, description="Remote providers: seconds to wait for a connection"
    )
    context_window: int | None = Field(None, ge=128, description="Remote providers: tokens")
    temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Sampling temperature (remote models: sent only when set)"
    )
    top_p: float = Field(
        0.9, gt=0.0, le=1.0, description="Nucleus sampling (remote models: sent only when set)"
    )
    top_k: int = Field(40, ge=0, description="Top-k sampling (0: off)")
    repeat_penalty: float = Field(1.1, ge=0.0, description="Penalty for repeated tokens")
    max_tokens: int = Field(
        1024, ge=1, description="Longest reply, in tokens (remote models: sent only when set)"
    )
    seed: int | None = Field(None, description="Sampling seed (unset: random)")
    tools: list[ToolName] | None = Field(
        None, description="Tools this model may call (unset: [tools] enabled; [] for none)"
    )
    keep_alive: str | int | float | None = Field(
        None,
        description='llamacpp: how long this model stays loaded when idle ("5m", seconds, 0, '
        "-1: never; unset: [runners] keep_alive)",
    )

    _keep_alive = field_validator("keep_alive", mode="before")(check_keep_alive)


# The embedded 135M model has near-ties on its first token for plain questions, so any
# sampling makes it answer at random; greedy with a repeat penalty and a cap keeps it useful.
# A [models.smollm2] table in config.toml is laid over these.
EMBEDDED_MODEL = "smollm2"
# No tools either: described tools take a third of its 2,048-token window, and a 135M
# model calls them at random. Give a bigger model `tools`.
EMBEDDED_DEFAULTS: dict[str, Any] = {
    "temperature": 0.0,
    "repeat_penalty": 1.15,
    "max_tokens": 256,
    "tools": [],
}


def _default_models() -> dict[str, ModelSettings]:
    return {EMBEDDED_MODEL: ModelSettings(**EMBEDDED_DEFAULTS)}
