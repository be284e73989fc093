"""The grammars roost builds, tried on llama.cpp itself — in a child process
(grammar_child.py), since a grammar that crashes llama.cpp kills the process it is in."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.providers import constrain
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from roost.providers.fetch import WebFetcher
from roost.services.agents.tools import COMPACT_SPECS, SPECS
from roost.services.tools.bash import Bash
from roost.services.tools.builtin import builtin_tools

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
ASK = [ChatMessage("user", "Go.")]
BUILTIN = tuple(tool.spec for tool in builtin_tools(WebFetcher()).values())


def child(request: dict[str, Any], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.providers.grammar_child"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def answer(request: dict[str, Any]) -> dict[str, Any]:
    done = child(request)
    if done.returncode < 0:
        pytest.fail(
            f"llama.cpp died: {signal.Signals(-done.returncode).name}\n{done.stderr[-3000:]}"
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def calls(tools: tuple[ToolSpec, ...], mode: str = "required") -> str:
    planned = constrain.plan(ChatRequest(ASK, tools=tools, tool_choice=ToolChoice(mode)))  # type: ignore[arg-type]
    assert planned.grammar is not None
    return planned.grammar


def output(schema: dict[str, Any]) -> str:
    planned = constrain.plan(
        ChatRequest(ASK, response_format=ResponseFormat("json_schema", schema))
    )
    assert planned.grammar is not None
    return planned.grammar


def test_every_built_in_tool_gives_a_grammar_llama_cpp_accepts() -> None:
    # Each tool alone, the nine together (as a model with every switch on gets them, in
    # both modes), and MemGPT's functions, full and compact: every tool set roost offers.
    grammars = [calls((spec,)) for spec in BUILTIN]
    grammars += [calls(BUILTIN), calls(BUILTIN, "auto")]
    grammars += [calls(tuple(SPECS.values())), calls(tuple(COMPACT_SPECS.values()))]
    assert answer({"op": "parse", "grammars": grammars})["accepted"] == [True] * len(grammars)


def alike(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {"d0": {"type": "integer"}}
    for i in range(1, levels + 1):
        branch = {
            "type": "object",
            "properties": {"x": {"$ref": f"#/$defs/d{i - 1}"}},
            "required": ["x"],
        }
        defs[f"d{i}"] = {"anyOf": [branch, dict(branch)]}
    return {
        "type": "object",
        "properties": {"x": {"$ref": f"#/$defs/d{levels}"}},
        "required": ["x"],
        "$defs": defs,
    }


def open_paths(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, levels + 1):
        defs[f"d{i}"] = {"anyOf": [{"$ref": f"#/$defs/d{i - 1}"}] * 2}
    return {
        "type": "object",
        "properties": {"x": {"$ref": f"#/$defs/d{levels}"}},
        "required": ["x"],
        "$defs": defs,
    }


def strings(count: int, length: int) -> dict[str, Any]:
    names = [f"p{i}" for i in range(count)]
    return {
        "type": "object",
        "properties": {n: {"type": "string", "maxLength": length} for n in names},
        "required": names[:1],
    }


AT_THE_LIMITS = {
    "maxLength 800, the most kept": strings(1, 800),
    "ten of them: the schema's repetition budget": strings(10, 800),
    "maxLength 16,000, relaxed": strings(1, 16_000),
    "maxLength 1,048,576, relaxed": strings(1, 1_048_576),
    "maxItems 800": {"type": "array", "items": {"type": "integer"}, "maxItems": 800},
    "a pattern repeating 800 times in an optional group": {
        "type": "string",
        "pattern": "^(a{0,800})?$",
    },
    "a pattern with groups 16 deep": {
        "type": "string",
        "pattern": "^" + "(a" * 16 + ")?" * 16 + "$",
    },
    "256 enum values open together": {"enum": [f"value number {i}" for i in range(256)]},
    "128 optional properties": {
        "type": "object",
        "properties": {f"p{i}": {"type": "integer"} for i in range(128)},
    },
    "128 alternatives": {
        "anyOf": [
            {"type": "object", "properties": {f"p{i}": {"type": "string"}}, "required": [f"p{i}"]}
            for i in range(128)
        ]
    },
    "64 alike alternatives open together": alike(6),
    "256 ways through $ref'd alternatives": open_paths(8),
    "nested 31 levels": json.loads(
        '{"type": "object", "properties": {"a": ' * 31 + "{}" + "}}" * 31
    ),
}


def test_schemas_at_the_limits_parse_and_sample_on_llama_cpp() -> None:
    grammars = [output(schema) for schema in AT_THE_LIMITS.values()]
    assert answer({"op": "parse", "grammars": grammars})["accepted"] == [True] * len(grammars)
    sampled = answer({"op": "sample", "grammars": grammars, "tokens": 6})
    assert all(sampled["texts"]), dict(zip(AT_THE_LIMITS, sampled["texts"], strict=True))


def test_smollm2_calls_bash_under_its_real_schema() -> None:
    bash = Bash.spec
    request = {
        "op": "call",
        "tools": [
            {"name": bash.name, "description": bash.description, "parameters": bash.parameters}
        ],
        "prompt": "List the files in the current folder.",
        "max_tokens": 60,
    }
    result = answer(request)
    assert result["finish"] == "tool_calls"
    (call,) = result["calls"]
    assert call["name"] == "bash"
    assert isinstance(call["arguments"]["command"], str)
    assert call["arguments"]["command"]


# --- the evidence: what llama.cpp does with the grammars the limits keep it from ----------


def raw(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar: str = json_schema_to_gbnf(json.dumps(schema))
    return grammar


def test_without_the_limits_llama_cpp_refuses_ordinary_bounds_and_crashes_on_big_ones() -> None:
    refused = [raw({"type": "string", "maxLength": n}) for n in (1_010, 2_048, 16_000)]
    assert answer({"op": "parse", "grammars": refused})["accepted"] == [False] * 3
    crash = child({"op": "parse", "grammars": [raw({"type": "string", "maxLength": 1_048_576})]})
    assert crash.returncode == -signal.SIGSEGV


def test_without_the_limits_a_nul_in_a_pattern_aborts_llama_cpp_while_sampling() -> None:
    grammar = raw({"type": "string", "pattern": "^\\x00$"})
    assert answer({"op": "parse", "grammars": [grammar]})["accepted"] == [True]
    crash = child({"op": "sample", "grammars": [grammar], "tokens": 4})
    assert crash.returncode == -signal.SIGABRT
