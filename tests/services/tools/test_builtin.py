"""The nine built-in tools: names, schemas written for models, and argument checking."""

from __future__ import annotations

from typing import Any

import pytest

from roost.config import BUILTIN_TOOLS
from roost.providers.fetch import WebFetcher
from roost.services.tools.args import parse
from roost.services.tools.base import ToolError
from roost.services.tools.builtin import builtin_tools
from tests.services.tools.conftest import Env, refused

TOOLS = builtin_tools(WebFetcher())


def test_all_nine_by_the_names_the_config_uses() -> None:
    assert list(TOOLS) == list(BUILTIN_TOOLS)
    assert {name for name, tool in TOOLS.items() if tool.dangerous} == {
        "bash",
        "write_file",
        "edit_file",
        "web_fetch",
    }


@pytest.mark.parametrize("name", BUILTIN_TOOLS)
def test_schemas_are_closed_objects_with_described_fields(name: str) -> None:
    spec = TOOLS[name].spec
    assert spec.name == name
    assert 40 < len(spec.description) < 500
    schema = spec.parameters
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"]
    assert set(schema["required"]) <= set(schema["properties"])
    for field in schema["properties"].values():
        assert field["type"] in ("string", "integer", "boolean")
        assert field["description"]
        if field["type"] == "string":
            assert field["maxLength"] > 0  # every string has a bound


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "missing required argument 'query'"),
        ({"query": None}, "missing required argument 'query'"),
        ({"query": 5}, "argument 'query' must be a string"),
        ({"query": ""}, "argument 'query' must not be empty"),
        ({"query": "x" * 1001}, "argument 'query' must be at most 1000 characters"),
        ({"query": "x", "limit": "5"}, "argument 'limit' must be an integer"),
        ({"query": "x", "limit": True}, "argument 'limit' must be an integer"),
        ({"query": "x", "limit": 2.5}, "argument 'limit' must be an integer"),
        ({"query": "x", "limit": 0}, "argument 'limit' must be at least 1"),
        ({"query": "x", "limit": 21}, "argument 'limit' must be at most 20"),
        (
            {"query": "x", "top_k": 3},
            "unknown argument 'top_k' (memory_search takes: query, limit)",
        ),
        ([], "arguments must be a JSON object"),
    ],
)
def test_bad_arguments_name_the_field(arguments: Any, message: str) -> None:
    with pytest.raises(ToolError) as caught:
        parse(TOOLS["memory_search"].spec, arguments)
    assert caught.value.message == message


def test_defaults_nulls_and_whole_floats() -> None:
    spec = TOOLS["memory_search"].spec
    assert parse(spec, {"query": "x"}).integer("limit") == 5
    assert parse(spec, {"query": "x", "limit": None}).integer("limit") == 5
    assert parse(spec, {"query": "x", "limit": 7.0}).integer("limit") == 7
    edit = parse(TOOLS["edit_file"].spec, {"path": "a", "old_text": "b", "new_text": ""})
    assert edit.boolean("replace_all") is False
    with pytest.raises(ToolError, match="argument 'replace_all' must be true or false"):
        parse(
            TOOLS["edit_file"].spec,
            {"path": "a", "old_text": "b", "new_text": "", "replace_all": 1},
        )


async def test_every_tool_reports_a_wrong_argument_instead_of_failing(env: Env) -> None:
    for name, tool in TOOLS.items():
        context = env.with_settings(bash=True, web_fetch=True)
        message = await refused(tool, context, nonsense=1)
        assert message.startswith("unknown argument 'nonsense'"), name
