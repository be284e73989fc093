"""The bounds a grammar could not hold, checked on the model's parsed output.

schema_limits drops a `maxLength: 16000` (and the like) from the grammar and records it
as relaxed; once the model has written its call or JSON, this walks the value with the
schema, as the grammar did (same keyword precedence, `anyOf` as any branch that fits),
and reports the first relaxed bound the value breaks. Everything else the grammar has
already enforced, so a value that fits no branch for another reason is not reported: the
checks here only choose the branch the grammar followed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from roost.providers.schema_limits import DATE_FORMATS, UUID_FORMATS, Bounded

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_WORDS = {
    "maxLength": ("characters long", "more than"),
    "minLength": ("characters long", "fewer than"),
    "maxItems": ("items", "more than"),
    "minItems": ("items", "fewer than"),
}


@dataclass(frozen=True, slots=True)
class _Miss:
    message: str
    bound: bool  # a relaxed bound (reported), not a shape the grammar already rules out


def violation(bounded: Bounded, value: object) -> str | None:
    """Where and how `value` breaks a bound its grammar could not enforce, or None."""
    if not bounded.relaxed:
        return None
    try:
        miss = _Checker(bounded).check(bounded.schema, "", value, "")
    except RecursionError:
        return "the value is nested too deeply to check"
    return miss.message if miss is not None and miss.bound else None


def _is(value: object, kind: object) -> bool:
    types = _TYPES.get(kind) if isinstance(kind, str) else None
    if types is None:  # the converter's other primitives ("value", "uuid", ...)
        return True
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


_SHAPE = _Miss("does not fit the schema", bound=False)


class _Checker:
    def __init__(self, bounded: Bounded) -> None:
        self.root = bounded.schema
        self.relaxed = bounded.relaxed

    def resolve(self, ref: str) -> tuple[str, Any]:
        target: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        return ref[1:], target

    def bounds(self, pointer: str, size: int, path: str) -> _Miss | None:
        for keyword, bound in self.relaxed.get(pointer, {}).items():
            unit, side = _WORDS[keyword]
            if size > bound if keyword.startswith("max") else size < bound:
                where = path or "the value"
                return _Miss(f"{where} is {size} {unit}, {side} {bound} ({keyword})", True)
        return None

    def check(self, node: Any, pointer: str, value: Any, path: str) -> _Miss | None:
        """Mirrors SchemaConverter.visit (and schema_limits._Walk.children)."""
        if not isinstance(node, dict):
            return None
        kind = node.get("type")
        if node.get("$ref") is not None:
            target_pointer, target = self.resolve(node["$ref"])
            return self.check(target, target_pointer, value, path)
        if "oneOf" in node or "anyOf" in node:
            key = "oneOf" if node.get("oneOf") else "anyOf"
            return self.any_of(node[key], f"{pointer}/{key}", value, path)
        if isinstance(kind, list):
            return None if any(_is(value, k) for k in kind) else _SHAPE
        if "const" in node:
            return None if _same(value, node["const"]) else _SHAPE
        if "enum" in node:
            return None if any(_same(value, v) for v in node["enum"]) else _SHAPE
        if kind in (None, "object") and (
            "properties" in node
            or ("additionalProperties" in node and node["additionalProperties"] is not True)
        ):
            return self.object(node, pointer, value, path)
        if kind in (None, "object") and "allOf" in node:
            return self.all_of(node, pointer, value, path)
        if kind in (None, "array") and ("items" in node or "prefixItems" in node):
            return self.array(node, pointer, value, path)
        form = node.get("format")
        if kind in (None, "string") and (
            "pattern" in node or form in UUID_FORMATS or form in DATE_FORMATS
        ):
            return None if isinstance(value, str) else _SHAPE
        if kind == "string":
            if not isinstance(value, str):
                return _SHAPE
            return self.bounds(pointer, len(value), path)
        if kind == "object" or not node:
            return None if isinstance(value, dict) else _SHAPE
        return None if _is(value, kind) else _SHAPE

    def any_of(self, branches: list[Any], pointer: str, value: Any, path: str) -> _Miss | None:
        misses = []
        for i, branch in enumerate(branches):
            miss = self.check(branch, f"{pointer}/{i}", value, path)
            if miss is None:
                return None
            misses.append(miss)
        return next((m for m in misses if m.bound), _SHAPE)

    def object(self, node: dict[str, Any], pointer: str, value: Any, path: str) -> _Miss | None:
        if not isinstance(value, dict):
            return _SHAPE
        properties = node.get("properties") or {}
        if any(name not in value for name in node.get("required") or []):
            return _SHAPE
        extra = node.get("additionalProperties")
        for name, item in value.items():
            escaped = name.replace("~", "~0").replace("/", "~1")
            if name in properties:
                miss = self.check(
                    properties[name], f"{pointer}/properties/{escaped}", item, f"{path}/{escaped}"
                )
            elif isinstance(extra, dict):
                miss = self.check(
                    extra, f"{pointer}/additionalProperties", item, f"{path}/{escaped}"
                )
            else:
                miss = None
            if miss is not None:
                return miss
        return None

    def all_of(self, node: dict[str, Any], pointer: str, value: Any, path: str) -> _Miss | None:
        if not isinstance(value, dict):
            return _SHAPE
        parts = [(p, f"{pointer}/allOf/{i}") for i, p in enumerate(node["allOf"])]
        for part, part_pointer in parts:
            if isinstance(part, dict) and part.get("$ref") is not None:
                part_pointer, part = self.resolve(part["$ref"])
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("anyOf"), list):
                parts.extend((p, f"{part_pointer}/anyOf/{i}") for i, p in enumerate(part["anyOf"]))
            elif isinstance(part.get("properties"), dict):
                miss = self.object({"properties": part["properties"]}, part_pointer, value, path)
                if miss is not None:
                    return miss
        return None

    def array(self, node: dict[str, Any], pointer: str, value: Any, path: str) -> _Miss | None:
        if not isinstance(value, list):
            return _SHAPE
        key = "items" if node.get("items") else "prefixItems"
        items = node[key]
        if isinstance(items, list):
            pairs = [(items[i], f"{pointer}/{key}/{i}") for i in range(min(len(items), len(value)))]
        else:
            miss = self.bounds(pointer, len(value), path)
            if miss is not None:
                return miss
            pairs = [(items, f"{pointer}/{key}")] * len(value)
        for i, (item_schema, item_pointer) in enumerate(pairs):
            miss = self.check(item_schema, item_pointer, value[i], f"{path}/{i}")
            if miss is not None:
                return miss
        return None
