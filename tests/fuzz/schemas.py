"""Hypothesis strategies for JSON schemas that try to hurt a grammar: deep nesting, huge
bounds, odd types, recursion via $ref, odd patterns, big enums (test_schema_fuzz.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]

KEYS = st.sampled_from(["a", "b", "next", "name", "arguments", "x y", "~/", "é", ""])
TYPES = st.sampled_from(
    ["string", "integer", "number", "boolean", "null", "object", "array", "value", "strange"]
)
BOUNDS = st.one_of(
    st.integers(0, 40),
    st.sampled_from([799, 800, 801, 1_000, 2_048, 16_000, 1_048_576, 10**12]),
    st.integers(-3, -1),
    st.sampled_from([2.5, "10", True, None]),
)
PATTERNS = st.one_of(
    st.sampled_from(
        [
            "^a{1000000}$",
            "^a{0,100000}$",
            "^(ab){100000}$",
            "^" + "(" * 300 + "a" + ")" * 300 + "$",
            "^((a{0,400})(b{0,400}))?$",
            "^\\x00$",
            "^\\u0000$",
            "^[z-a]$",
            "^[^\\x01-\\U0010FFFF]$",
            "^[a-z]{1,10}$",
            "^(a|b)*c?$",
            "^.{0,900}$",
            "^a{2,1}$",
            "^a{,5}$",
            "^(?:a)$",
            "^\\d+$",
            "abc",
            "^[$",
        ]
    ),
    st.text(max_size=20).map(lambda body: f"^{body}$"),
)
REFS = st.sampled_from(
    [
        "#",
        "#/properties/a",
        "#/$defs/n",
        "#/$defs/n/properties/next",
        "#/$defs/missing",
        "#/anyOf/0",
        "#/required",
        "https://example.com/schema.json",
        "other.json#/a",
    ]
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8))


def _big_enum(size: int) -> Schema:
    return {"enum": [f"value number {i}" for i in range(size)]}


def _many_properties(count: int) -> Schema:
    return {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(count)}}


def _deep(leaf: Schema, levels: int, how: str) -> Schema:
    for _ in range(levels):
        if how == "properties":
            leaf = {"type": "object", "properties": {"a": leaf}, "required": ["a"]}
        elif how == "items":
            leaf = {"type": "array", "items": leaf}
        else:
            leaf = {"anyOf": [leaf, {"type": "null"}]}
    return leaf


def _alike(levels: int) -> Schema:
    """Two identical object branches per level, through $refs: stacks that multiply."""
    defs: Schema = {"d0": {"type": "integer"}}
    for i in range(1, levels + 1):
        branch = {
            "type": "object",
            "properties": {"x": {"$ref": f"#/$defs/d{i - 1}"}},
            "required": ["x"],
        }
        defs[f"d{i}"] = {"anyOf": [branch, dict(branch)]}
    return {"$ref": f"#/$defs/d{levels}", "$defs": defs}


LEAVES: st.SearchStrategy[Schema] = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(TYPES, st.lists(TYPES, max_size=3), SCALARS),
            "minLength": BOUNDS,
            "maxLength": BOUNDS,
            "pattern": PATTERNS,
            "format": st.sampled_from(["date", "time", "uuid", "email", 5]),
            "minimum": st.sampled_from([0, -(10**20), 1.5]),
        },
    ),
    st.fixed_dictionaries({"type": st.just("string")}, optional={"maxLength": BOUNDS}),
    st.fixed_dictionaries({"$ref": REFS}),
    st.fixed_dictionaries({"enum": st.lists(SCALARS, max_size=5)}),
    st.fixed_dictionaries({"const": SCALARS}),
)


def _compound(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    objects = st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(KEYS, children, max_size=4)},
        optional={
            "required": st.lists(KEYS, max_size=3),
            "additionalProperties": st.one_of(st.booleans(), children),
        },
    )
    arrays = st.fixed_dictionaries(
        {"type": st.just("array"), "items": st.one_of(children, st.lists(children, max_size=3))},
        optional={"minItems": BOUNDS, "maxItems": BOUNDS},
    )
    unions = st.builds(
        lambda key, branches: {key: branches},
        st.sampled_from(["anyOf", "oneOf", "allOf"]),
        st.lists(children, max_size=4),
    )
    return st.one_of(objects, arrays, unions)


RECURSIVE: st.SearchStrategy[Schema] = st.recursive(LEAVES, _compound, max_leaves=10)


def _with_defs(schema: Schema, node: Schema) -> Schema:
    return {**schema, "$defs": {"n": node}}


SCHEMAS: st.SearchStrategy[Schema] = st.one_of(
    RECURSIVE,
    st.builds(_with_defs, RECURSIVE, RECURSIVE),
    st.builds(
        _deep, LEAVES, st.integers(1, 600), st.sampled_from(["properties", "items", "anyOf"])
    ),
    st.integers(0, 3_000).map(_big_enum),
    st.integers(0, 300).map(_many_properties),
    st.integers(1, 12).map(_alike),
)
