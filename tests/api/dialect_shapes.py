"""Each dialect's own error envelope, written out here rather than taken from the code."""

from __future__ import annotations

from typing import Any

DIALECTS = (
    "native",
    "openai",
    "kernel2",
    "memgpt",
    "chatnvim",
    "llamachat",
    "ollama",
    "anthropic",
    "responses",
)


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def error_shape_ok(dialect: str, status: int, body: Any) -> bool:
    """The dialect's own error envelope, written out here rather than taken from the code."""
    if not isinstance(body, dict):
        return False
    if dialect == "native":
        error = body.get("error")
        return set(body) == {"error"} and isinstance(error, dict) and _is_str(error.get("message"))
    if dialect in ("openai", "responses"):
        error = body.get("error")
        return isinstance(error, dict) and {"message", "type", "param", "code"} <= set(error)
    if dialect == "kernel2":
        return (
            body.get("success") is False
            and body.get("code") == status
            and _is_str(body.get("message"))
        )
    if dialect == "memgpt":
        return set(body) == {"detail"} and _is_str(body["detail"])
    if dialect in ("chatnvim", "llamachat", "ollama"):
        return set(body) == {"error"} and _is_str(body["error"])
    if dialect == "anthropic":
        error = body.get("error")
        return (
            set(body) == {"type", "error"}
            and body["type"] == "error"
            and isinstance(error, dict)
            and _is_str(error.get("type"))
            and _is_str(error.get("message"))
        )
    raise AssertionError(f"unknown dialect {dialect}")
