"""Checking a call's arguments against the tool's own JSON schema.

Models send what they like; each tool declares a small schema (strings, integers,
booleans) and gets back checked values, or a ToolError that names the field so the model
can fix its next call. The schema the model sees and the checks are one text.
"""

from __future__ import annotations

from typing import Any

from roost.core.chat import ToolSpec
from roost.services.tools.base import ToolError

_TYPES = {"string": "a string", "integer": "an integer", "boolean": "true or false"}


def schema(properties: dict[str, dict[str, Any]], *required: str) -> dict[str, Any]:
    """A tool's parameters: an object of these fields, `required` ones, nothing else."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


class Arguments:
    """A call's checked arguments; absent optional fields read as their schema default."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def string(self, name: str) -> str:
        value = self._values[name]
        assert isinstance(value, str)
        return value

    def optional_string(self, name: str) -> str | None:
        value = self._values.get(name)
        assert value is None or isinstance(value, str)
        return value

    def integer(self, name: str) -> int:
        value = self._values[name]
        assert isinstance(value, int)
        return value

    def optional_integer(self, name: str) -> int | None:
        value = self._values.get(name)
        assert value is None or isinstance(value, int)
        return value

    def boolean(self, name: str) -> bool:
        value = self._values[name]
        assert isinstance(value, bool)
        return value


def parse(spec: ToolSpec, arguments: object) -> Arguments:
    """Check `arguments` against `spec.parameters`; a ToolError names what is wrong."""
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    properties: dict[str, dict[str, Any]] = spec.parameters["properties"]
    for name in arguments:
        if name not in properties:
            known = ", ".join(properties)
            raise ToolError(f"unknown argument '{name}' ({spec.name} takes: {known})")
    values: dict[str, Any] = {}
    for name, rules in properties.items():
        value = arguments.get(name)
        if value is None:  # models send null for optional fields they leave out
            if name in spec.parameters["required"]:
                raise ToolError(f"missing required argument '{name}'")
            values[name] = rules.get("default")
            continue
        values[name] = _check(name, rules, value)
    return Arguments(values)


def _check(name: str, rules: dict[str, Any], value: object) -> object:
    kind = rules["type"]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # 5.0 from a model that writes every number as a float
    if not _is_type(kind, value):
        raise ToolError(f"argument '{name}' must be {_TYPES[kind]}")
    if isinstance(value, str):
        if len(value) < rules.get("minLength", 0):
            raise ToolError(f"argument '{name}' must not be empty")
        if "maxLength" in rules and len(value) > rules["maxLength"]:
            raise ToolError(f"argument '{name}' must be at most {rules['maxLength']} characters")
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in rules and value < rules["minimum"]:
            raise ToolError(f"argument '{name}' must be at least {rules['minimum']}")
        if "maximum" in rules and value > rules["maximum"]:
            raise ToolError(f"argument '{name}' must be at most {rules['maximum']}")
    return value


def _is_type(kind: str, value: object) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    raise AssertionError(f"schema type {kind!r} is not supported")
