"""How a subschema's grammar starts, to tell which alternatives can stay open together.

llama.cpp keeps one grammar stack per alternative still possible; alternatives whose
text starts differently (a string and an object, objects with different first keys) die
within a few characters, but two objects with the same first key (or two arrays) stay
open together while the model writes inside them, and below each nesting level their
stacks multiply. A profile counts a node's alternatives by how they start.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

ANY_OBJECT = "{"  # an object whose first key is not known: alike with every object
ARRAY = "["
SCALAR = "."  # strings, numbers, literals: they hold no nested alternatives


def start(node: dict[str, Any], order: Mapping[str, int]) -> Counter[str]:
    """The profile of a node that is not a union of others (anyOf/oneOf/$ref), with the
    converter's precedence; `order` is its property order."""
    kind = node.get("type")
    if node.get("$ref") is not None or "oneOf" in node or "anyOf" in node:
        return Counter()
    if isinstance(kind, list):
        return sum((_type(k) for k in kind), Counter())
    if "const" in node:
        return Counter({SCALAR: 1})
    if "enum" in node:
        return Counter({SCALAR: len(node["enum"])})
    if kind in (None, "object") and ("properties" in node or "additionalProperties" in node):
        return Counter({_first_key(node, order): 1})
    if kind in (None, "object") and "allOf" in node:
        return Counter({ANY_OBJECT: 1})
    if kind in (None, "array") and ("items" in node or "prefixItems" in node):
        return Counter({ARRAY: 1})
    if kind == "object" or not node:
        return Counter({ANY_OBJECT: 1})
    return _type(kind)


def alike(profile: Counter[str]) -> int:
    """The most alternatives of a profile that can stay open together."""
    keyed = [n for k, n in profile.items() if k not in (ANY_OBJECT, ARRAY, SCALAR)]
    return max(1, profile[ARRAY], profile[ANY_OBJECT] + max(keyed, default=0))


def _type(kind: object) -> Counter[str]:
    if kind == "object":
        return Counter({ANY_OBJECT: 1})
    if kind == "array":
        return Counter({ARRAY: 1})
    if kind == "value":  # the converter's "any JSON value"
        return Counter({ANY_OBJECT: 1, ARRAY: 1, SCALAR: 1})
    return Counter({SCALAR: 1})


def _first_key(node: dict[str, Any], order: Mapping[str, int]) -> str:
    """The key every instance of this object starts with (the converter writes required
    properties first, in `order`, then as listed), if there is one."""
    properties = node.get("properties") or {}
    required = node.get("required") or []
    if not isinstance(required, list):
        return ANY_OBJECT
    names = sorted(
        enumerate(properties), key=lambda item: (order.get(item[1], len(order)), item[0])
    )
    for _, name in names:
        if name in required:
            return "{" + json.dumps(name)
    return ANY_OBJECT
