"""Schemas are bounded before they become grammars (schema_limits), relaxed bounds are
checked on the output (schema_check): pure Python, no model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from roost.core.errors import InvalidRequest, ProviderError
from roost.providers import constrain
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ProviderEvent,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)
from roost.providers.schema_check import violation
from roost.providers.schema_limits import (
    GRAMMAR_REPEAT,
    MAX_DEPTH,
    REQUEST_REPEATS,
    SCHEMA_REPEATS,
    Limiter,
)
from roost.providers.schema_patterns import unwritable
from roost.services.tools.bash import MAX_COMMAND_CHARS, Bash

ASK = [ChatMessage("user", "hi")]


def tool(parameters: dict[str, Any], name: str = "x") -> ToolSpec:
    return ToolSpec(name, "a tool", parameters)


def call_plan(*tools: ToolSpec) -> constrain.Plan:
    return constrain.plan(ChatRequest(ASK, tools=tools, tool_choice=ToolChoice("required")))


def json_plan(schema: dict[str, Any]) -> constrain.Plan:
    return constrain.plan(ChatRequest(ASK, response_format=ResponseFormat("json_schema", schema)))


def refused(schema: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as caught:
        json_plan(schema)
    return caught.value.message


def nested(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    for _ in range(levels):
        leaf = {"type": "object", "properties": {"a": leaf}}
    return leaf


def string(**bounds: int) -> dict[str, Any]:
    return {"type": "object", "properties": {"s": {"type": "string", **bounds}}, "required": ["s"]}


# --- what the issue found ---------------------------------------------------------------


def test_a_megabyte_max_length_leaves_the_grammar_and_is_checked_after() -> None:
    params = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 1048576}}}
    planned = call_plan(tool(params))
    assert planned.grammar is not None
    assert len(planned.grammar) < 2000  # was 8 MB of nested groups: SIGSEGV in llama.cpp
    bounded = Limiter().bound(params, "w", "t")
    assert bounded.relaxed == {"/properties/text": {"maxLength": 1048576}}
    assert "maxLength" not in bounded.grammar["properties"]["text"]
    assert params["properties"]["text"]["maxLength"] == 1048576  # the client's is untouched


def test_the_bash_tool_keeps_its_command_bound_out_of_the_grammar() -> None:
    planned = call_plan(Bash.spec)
    assert planned.grammar is not None
    bounded = Limiter().bound(Bash.spec.parameters, "w", "t")
    assert bounded.relaxed == {"/properties/command": {"maxLength": MAX_COMMAND_CHARS}}


def test_480_levels_of_nesting_is_a_400_naming_where() -> None:
    message = refused(nested(480, {"type": "string"}))
    assert message.startswith("response_format schema at …")
    assert message.endswith("/properties/a: JSON nested deeper than 128 levels")


def test_nesting_deeper_than_the_limit_names_the_schema_part() -> None:
    items: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        items = {"type": "array", "items": items}
    params = {"type": "object", "properties": {"a": items}}
    with pytest.raises(InvalidRequest) as caught:
        call_plan(tool(params))
    assert caught.value.message == (
        "tool 'x' parameters at /properties/a" + "/items" * 32 + ": nested deeper than 32 levels"
    )
    json_plan(nested(MAX_DEPTH - 1, {"type": "string"}))  # within the limit: fine


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ({"enum": list(range(300))}, ": enum has 300 values, more than 256"),
        (
            {"type": "object", "properties": {f"p{i}": {} for i in range(200)}},
            ": 200 properties, more than 128",
        ),
        ({"anyOf": [{"type": "null"}] * 200}, ": anyOf has 200 entries, more than 128"),
        ({"anyOf": []}, ": anyOf is empty: nothing can match"),
        ({"type": "strange"}, ': unknown type "strange"'),
        ({"type": ["string", {"a": 1}]}, ': unknown type {"a": 1}'),
        (
            string(minLength=10, maxLength=5),
            " at /properties/s: minLength 10 is more than maxLength 5",
        ),
        (string(maxLength=-1), " at /properties/s: maxLength must be a non-negative integer"),
        (
            {"type": "string", "pattern": "^a{1000000}$"},
            ": pattern repeats 1000000 times, more than 800",
        ),
        ({"type": "string", "pattern": "^(a{0,500})(b{0,500})$"}, "repeats 1000 times in all"),
        (
            {"type": "string", "pattern": "^" + "(" * 40 + "a" + ")" * 40 + "$"},
            "nested deeper than 16",
        ),
        (
            {"type": "string", "pattern": "^\\x00$"},
            ': pattern asks for "\\x00", which no model can write',
        ),
        (
            {"type": "string", "pattern": "^[z-a]$"},
            ": pattern asks for [z-a], which no model can write",
        ),
        ({"type": "string", "pattern": "^[^\\x01-\\U0010FFFF]$"}, "which no model can write"),
        ({"type": "string", "pattern": "^a{1,x}$"}, "a quantifier {1,x} that is not"),
        (
            {"type": "string", "pattern": "abc"},
            "pattern cannot become a grammar: Pattern must start",
        ),
        ({"$ref": "https://example.com/s.json"}, "only local references (#/...) are supported"),
        ({"$ref": "#/$defs/missing"}, '$ref "#/$defs/missing" points to nothing'),
        ({"type": "string", "format": {"x": 1}}, ": format must be a string"),
        ({"properties": {"a": 5}}, " at /properties/a: is not a JSON schema object"),
    ],
)
def test_unsafe_schemas_are_refused_saying_where_and_why(schema: dict[str, Any], why: str) -> None:
    assert why in refused(schema)


def test_a_left_recursive_chain_of_alternatives_is_bounded() -> None:
    # 2**k ways through $ref'd alternatives: llama.cpp walks each one (exponential time).
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, 11):
        defs[f"d{i}"] = {"anyOf": [{"$ref": f"#/$defs/d{i - 1}"}] * 2}
    schema = {"type": "object", "properties": {"x": {"$ref": "#/$defs/d10"}}, "$defs": defs}
    assert refused(schema) == (
        "response_format schema at /$defs/d10: 1024 alternatives open at once, more than 512"
    )


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"$ref": "#"}, ""),
        ({"anyOf": [{"$ref": "#"}, {"type": "null"}]}, " at /anyOf/0"),
        ({"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}}, " at /properties/a"),
    ],
)
def test_left_recursion_is_refused_but_recursion_inside_a_value_is_fine(
    schema: dict[str, Any], where: str
) -> None:
    # llama.cpp refuses a rule that derives itself before writing anything.
    assert refused(schema) == (
        f"response_format schema{where}: refers back to itself before anything is written"
    )
    assert json_plan({"type": "object", "properties": {"next": {"$ref": "#"}}}).grammar


def alike(levels: int) -> dict[str, Any]:
    """Two identical object branches per level: both stay open all the way down."""
    defs: dict[str, Any] = {"d0": {"type": "integer"}}
    for i in range(1, levels + 1):
        branch = {
            "type": "object",
            "properties": {"x": {"$ref": f"#/$defs/d{i - 1}"}},
            "required": ["x"],
        }
        defs[f"d{i}"] = {"anyOf": [branch, dict(branch)]}
    return {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{levels}"}}, "$defs": defs}


def test_alike_alternatives_that_multiply_the_grammar_stacks_are_refused() -> None:
    json_plan(alike(6))  # 64 ways
    assert "can stay open together 128 ways, more than 64" in refused(alike(7))


def test_recursion_through_alike_alternatives_is_refused_but_a_tree_is_fine() -> None:
    branch = {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}
    message = refused({"$ref": "#/$defs/n", "$defs": {"n": {"anyOf": [branch, dict(branch)]}}})
    assert "recursion ($ref) through alternatives that start alike" in message
    tree = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
                "required": ["kids"],
            },
            {"type": "string"},
        ]
    }
    assert json_plan({"$ref": "#/$defs/n", "$defs": {"n": tree}}).grammar


def test_objects_with_different_first_keys_are_not_alike() -> None:
    schema = alike(6)  # 64 ways below each branch
    schema["properties"]["x"] = {
        "anyOf": [
            {
                "type": "object",
                "properties": {f"k{i}": {"$ref": "#/$defs/d6"}},
                "required": [f"k{i}"],
            }
            for i in range(8)
        ]
    }
    json_plan(schema)  # 8 branches, but each one's first key tells them apart
    schema["properties"]["x"]["anyOf"][1]["required"] = []  # this one could start with any key
    assert "can stay open together 128 ways" in json_plan_or_refusal(schema)


def json_plan_or_refusal(schema: dict[str, Any]) -> str:
    try:
        json_plan(schema)
    except InvalidRequest as exc:
        return exc.message
    return "planned"


def test_the_requests_schemas_share_one_size_budget() -> None:
    big = {"type": "object", "description": "x" * 60_000}
    json_plan(big)
    with pytest.raises(InvalidRequest, match=r"the request's schemas are .* more than 100,000"):
        call_plan(tool(big, "a"), tool(big, "b"))


# --- relaxing ------------------------------------------------------------------------------


def test_bounds_within_the_limit_stay_in_the_grammar() -> None:
    bounded = Limiter().bound(string(minLength=1, maxLength=GRAMMAR_REPEAT), "w", "t")
    assert bounded.relaxed == {}
    assert bounded.grammar["properties"]["s"]["maxLength"] == GRAMMAR_REPEAT


def test_a_small_minimum_stays_when_the_maximum_leaves() -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 5000}
    bounded = Limiter().bound(schema, "w", "t")
    assert bounded.relaxed == {"": {"maxItems": 5000}}
    assert bounded.grammar["minItems"] == 2


def test_a_schemas_repetition_budget_relaxes_the_bounds_past_it() -> None:
    properties = {f"p{i:02}": {"type": "string", "maxLength": 800} for i in range(12)}
    bounded = Limiter().bound({"type": "object", "properties": properties}, "w", "t")
    kept = SCHEMA_REPEATS // 800
    assert sorted(bounded.relaxed) == [f"/properties/p{i:02}" for i in range(kept, 12)]


def test_a_requests_repetition_total_is_refused_past_its_budget() -> None:
    properties = {f"p{i}": {"type": "string", "maxLength": 800} for i in range(10)}
    many = [tool({"type": "object", "properties": properties}, f"t{i}") for i in range(5)]
    with pytest.raises(InvalidRequest, match=f"more than {REQUEST_REPEATS:,}"):
        call_plan(*many)


def test_refs_are_rewritten_so_a_tools_schema_resolves_inside_the_call_and_recursion_works() -> (
    None
):
    node = {
        "type": "object",
        "properties": {"next": {"$ref": "#/$defs/node"}, "label": {"type": "string"}},
    }
    params = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {"node": node},
    }
    planned = call_plan(
        tool(params), tool({"type": "object", "properties": {"self": {"$ref": "#"}}}, "y")
    )
    assert planned.grammar is not None
    assert "t0-0 ::=" in planned.grammar
    assert "t1-0 ::=" in planned.grammar
    # A root that is itself a $ref works too (the converter alone fails on it).
    assert json_plan({"$ref": "#/$defs/node", "$defs": {"node": node}}).grammar


# --- checking the output -------------------------------------------------------------------


def test_violation_names_the_bound_and_where() -> None:
    params = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "string", "maxLength": 2000}},
            "code": {"type": "string", "minLength": 900},
        },
    }
    bounded = Limiter().bound(params, "w", "t")
    assert violation(bounded, {"items": ["a" * 2000], "code": "b" * 900}) is None
    assert violation(bounded, {"items": ["ok", "a" * 2001]}) == (
        "/items/1 is 2001 characters long, more than 2000 (maxLength)"
    )
    assert violation(bounded, {"code": "short"}) == (
        "/code is 5 characters long, fewer than 900 (minLength)"
    )


def test_violation_follows_the_branch_the_grammar_took() -> None:
    schema = {
        "anyOf": [
            {"type": "integer"},
            {"$ref": "#/$defs/long"},
        ],
        "$defs": {"long": {"type": "string", "maxLength": 5000}},
    }
    bounded = Limiter().bound(schema, "w", "t")
    assert violation(bounded, 7) is None
    assert violation(bounded, "x" * 5000) is None
    assert violation(bounded, "x" * 5001) == (
        "the value is 5001 characters long, more than 5000 (maxLength)"
    )


async def replay(*events: ProviderEvent) -> AsyncIterator[ProviderEvent]:
    for event in events:
        yield event


async def test_a_tool_call_past_a_relaxed_bound_is_a_provider_error() -> None:
    params = string(maxLength=2000)
    good = json.dumps({"name": "x", "arguments": {"s": "a" * 2000}})
    out = [
        e
        async for e in constrain.as_calls(
            replay(TextChunk(good), Finish("stop")), "call", (tool(params),)
        )
    ]
    assert isinstance(out[0], ToolCallChunk)
    bad = json.dumps({"name": "x", "arguments": {"s": "a" * 2001}})
    with pytest.raises(ProviderError) as caught:
        async for _ in constrain.as_calls(
            replay(TextChunk(bad), Finish("stop")), "call", (tool(params),)
        ):
            pass
    assert caught.value.message == (
        "the model's call to 'x' breaks its schema: "
        "/s is 2001 characters long, more than 2000 (maxLength)"
    )


async def test_json_output_past_a_relaxed_bound_is_a_provider_error_after_the_text() -> None:
    planned = json_plan(string(maxLength=3000))
    assert planned.bounds is not None
    text = json.dumps({"s": "a" * 3001})
    seen: list[ProviderEvent] = []

    async def drain() -> None:
        async for event in constrain.as_calls(
            replay(TextChunk(text[:10]), TextChunk(text[10:]), Finish("stop")),
            planned.mode,
            (),
            planned.bounds,
        ):
            seen.append(event)

    with pytest.raises(ProviderError, match=r"JSON output breaks its schema: /s is 3001"):
        await drain()
    assert "".join(e.text for e in seen if isinstance(e, TextChunk)) == text
    # Within the bound, and cut off (not JSON yet): passed through as before.
    for ok in (json.dumps({"s": "a" * 3000}), '{"s": "aaa'):
        events = [
            e
            async for e in constrain.as_calls(
                replay(TextChunk(ok), Finish("length")), "json", (), planned.bounds
            )
        ]
        assert events[-1] == Finish("length")
    assert json_plan(string(maxLength=30)).bounds is None  # nothing relaxed: nothing to check


async def test_a_call_nested_too_deeply_to_read_is_a_provider_error() -> None:
    deep = '{"name": "x", "arguments": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(ProviderError, match="nested too deeply"):
        async for _ in constrain.as_calls(
            replay(TextChunk(deep), Finish("stop")), "call", (tool({}),)
        ):
            pass


def test_tool_choice_naming_no_tool_is_a_400() -> None:
    with pytest.raises(InvalidRequest, match="tool_choice names 'nope', which is not a tool"):
        constrain.plan(ChatRequest(ASK, tools=(tool({}),), tool_choice=ToolChoice("tool", "nope")))


# --- grammar text no model can write -------------------------------------------------------


@pytest.mark.parametrize(
    ("gbnf", "dead"),
    [
        ('root ::= "a" [b-c]\n', None),
        ('root ::= "\\x00"\n', '"\\x00"'),
        ('root ::= "ok\\u0000"\n', '"ok\\u0000"'),
        ('root ::= "\\\\x00"\n', None),  # an escaped backslash, then "x00"
        ("root ::= [\\x00]\n", "[\\x00]"),
        ("root ::= [^\\x01-\\U0010FFFF]\n", "[^\\x01-\\U0010FFFF]"),
        ("root ::= [^\\x02-\\U0010FFFF]\n", None),  # \x01 is left
        ("root ::= [^\\x0A\\x0D]\n", None),
        ("root ::= []\n", None),  # no element at all: matches the empty string
        ('root ::= "a" # [z-a] in a comment\n', None),
    ],
)
def test_unwritable_finds_what_no_token_can_produce(gbnf: str, dead: str | None) -> None:
    assert unwritable(gbnf) == dead
