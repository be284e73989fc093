"""Limits on the JSON schemas that become llama.cpp grammars, checked before any grammar
is built.

A tool's parameters and a response_format schema become a GBNF grammar (constrain.py),
and llama.cpp's grammar code has hard edges, each measured (docs/tools.md, "Tool schemas
and JSON output on llama.cpp models"): it parses one nested group per ~450 bytes of C
stack, and the converter writes a string's `maxLength: n` as n nested groups, so 100,000
is a SIGSEGV; it refuses more than ~1,000 of them; it explores every alternative open at
one point, so `$ref` chains of alternatives take exponential time; and alternatives that
stay open together (two object branches alike) multiply its stacks with every level.

So each schema is walked here in the order and with the precedence of llama-cpp-python's
converter:

- what cannot be made safe is refused: an InvalidRequest naming the schema part and why
  (size, subschema and repetition totals are bounded over all schemas of a request);
- a length or item-count bound too large for a grammar is dropped from the schema the
  grammar is built from, and kept in `Bounded.relaxed` for schema_check to enforce on
  the parsed output;
- `$ref`s are rewritten to point into a `$defs` of their own (`Bounded.defs`), so that a
  tool's schema still resolves inside the call schema that wraps it, and recursion works.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from roost.core.errors import InvalidRequest
from roost.providers import schema_shapes as shapes
from roost.providers.schema_patterns import PatternError, scan_pattern, unwritable

MAX_DEPTH = 32  # nested subschemas, $ref hops included
MAX_JSON_DEPTH = 128  # raw JSON nesting, const/enum/default values included
MAX_SCHEMA_CHARS = 100_000  # all schemas of one request, as JSON text
MAX_SUBSCHEMAS = 2_048  # in all schemas of one request
MAX_PROPERTIES = 128  # of one object (the converter is cubic in optional ones)
MAX_ENUM = 256  # values of one enum
MAX_ALTERNATIVES = 128  # entries of one anyOf/oneOf/allOf/type list/tuple
MAX_OPEN = 512  # alternatives open at one point: anyOf, enum and $ref combined
MAX_AMBIGUITY = 64  # alike alternatives that can stay open together, multiplied
GRAMMAR_REPEAT = 800  # largest length/items bound or pattern count kept in a grammar
SCHEMA_REPEATS = 8_192  # such bounds kept for one schema, summed; past it they relax
REQUEST_REPEATS = 32_768  # the same for all schemas of one request; past it, refused
MAX_PATTERN_CHARS = 1_000
MAX_PATTERN_DEPTH = 16

# The converter's primitive types (llama_cpp.llama_grammar.PRIMITIVE_RULES).
_PRIMITIVES = {
    "boolean", "number", "integer", "string", "null", "object", "array", "value",
    "uuid", "char", "decimal-part", "integral-part",
}  # fmt: skip
DATE_FORMATS = {"date", "time", "date-time"}
UUID_FORMATS = {"uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"}


@dataclass(frozen=True)
class Bounded:
    """One schema, checked: what the grammar is built from, and what it cannot enforce."""

    schema: dict[str, Any]  # the schema as given; relaxed pointers refer into it
    grammar: dict[str, Any]  # relaxed bounds dropped, $refs pointing into `defs`
    defs: dict[str, Any]  # $ref targets, to be placed in the grammar root's $defs
    relaxed: dict[str, dict[str, int]]  # JSON pointer -> keyword -> bound, checked after


@dataclass
class _Node:
    index: int
    low: int  # Tarjan's lowlink: recursion shows as a component of more than one node
    open: bool = True  # on the component stack
    done: bool = False
    union: bool = False
    factor: int = 1  # alike alternatives of this union that can stay open together
    best: int = 1  # the largest product of factors on a path from here down
    profile: Counter[str] = field(default_factory=Counter)  # how this node's text starts


class Limiter:
    """Checks the schemas of one request, whose size, subschema and repetition totals
    are bounded together. What a schema relaxes depends on that schema alone, so that
    its output can be checked later from the schema (schema_check).

    `prop_order`: the converter's property order (calls put name before arguments),
    which decides the first key of an object.
    """

    def __init__(self, prop_order: Sequence[str] = ()) -> None:
        self.order = {name: i for i, name in enumerate(prop_order)}
        self.chars = 0
        self.subschemas = 0
        self.repeats = 0

    def bound(self, schema: object, where: str, tag: str) -> Bounded:
        """Check `schema` (refusing with `where` in the message); `tag` names its $defs."""
        _check_json_depth(schema, where)
        try:
            text = json.dumps(schema, sort_keys=True, allow_nan=False)
        except ValueError as exc:  # NaN/Infinity, or an integer of over 4,300 digits
            raise InvalidRequest(f"{where}: {exc}") from None
        self.chars += len(text)
        if self.chars > MAX_SCHEMA_CHARS:
            raise InvalidRequest(
                f"{where}: the request's schemas are {self.chars:,} characters of JSON in "
                f"all, more than {MAX_SCHEMA_CHARS:,}"
            )
        if not isinstance(schema, dict):
            raise InvalidRequest(f"{where}: the schema must be a JSON object")
        walk = _Walk(self, json.loads(text), where, tag)
        walk.visit(walk.root, "", 0)
        self.repeats += walk.repeats
        if self.repeats > REQUEST_REPEATS:
            raise InvalidRequest(
                f"{where}: the request's length bounds and patterns repeat {self.repeats:,} "
                f"times in all, more than {REQUEST_REPEATS:,}"
            )
        walk.root.pop("$defs", None)  # its entries that are used are in walk.defs()
        defs = walk.defs()
        _drop_unused_refs([walk.root, *defs.values()], f"#/$defs/{tag}-")
        return Bounded(schema, walk.root, defs, walk.relaxed)


def _drop_unused_refs(roots: list[Any], prefix: str) -> None:
    """Remove the $refs the converter never visits (it still resolves every one it sees,
    and they point into the $defs just removed)."""
    stack: list[object] = list(roots)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if ref is not None and not (isinstance(ref, str) and ref.startswith(prefix)):
                del item["$ref"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_json_depth(value: object, where: str) -> None:
    """Refuse JSON nested past MAX_JSON_DEPTH, before anything recurses into it (an
    explicit stack of iterators: memory in the depth, not the size)."""
    stack: list[Iterator[tuple[str, object]]] = [iter([("", value)])]
    path: list[str] = []
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            if path:
                path.pop()
            continue
        key, item = step
        if isinstance(item, dict):
            children: Iterator[tuple[str, object]] = ((_escape(k), v) for k, v in item.items())
        elif isinstance(item, list):
            children = ((str(i), v) for i, v in enumerate(item))
        else:
            continue
        if len(stack) > MAX_JSON_DEPTH:
            pointer = "".join(f"/{part}" for part in [*path[1:], key])
            raise InvalidRequest(
                f"{where}{_at(pointer)}: JSON nested deeper than {MAX_JSON_DEPTH} levels"
            )
        path.append(key)
        stack.append(children)


def _at(pointer: str) -> str:
    """ " at /json/pointer" for a message, its end only when it is long."""
    if not pointer:
        return ""
    return f" at {pointer}" if len(pointer) <= 300 else f" at …{pointer[-300:]}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Walk:
    """Depth-first over one schema's subschemas as the converter visits them, following
    $refs; Tarjan's strongly connected components find recursion."""

    def __init__(self, limiter: Limiter, root: dict[str, Any], where: str, tag: str) -> None:
        self.limiter = limiter
        self.root = root
        self.where = where
        self.tag = tag
        self.nodes: dict[int, _Node] = {}
        self.stack: list[tuple[int, str]] = []
        self.path: list[tuple[int, bool]] = []  # nodes being visited; entered by a leading edge?
        self.relaxed: dict[str, dict[str, int]] = {}
        self.targets: dict[str, tuple[str, dict[str, Any]]] = {}  # pointer -> (key, node)
        self.repeats = 0  # repetition kept in this schema's grammar

    def refuse(self, pointer: str, why: str) -> InvalidRequest:
        return InvalidRequest(f"{self.where}{_at(pointer)}: {why}")

    def defs(self) -> dict[str, Any]:
        return dict(self.targets.values())

    def visit(self, node: object, pointer: str, depth: int, leading: bool = True) -> _Node:
        if not isinstance(node, dict):
            raise self.refuse(pointer, "is not a JSON schema object")
        found = self.nodes.get(id(node))
        if found is not None:
            return found
        if depth > MAX_DEPTH:
            raise self.refuse(pointer, f"nested deeper than {MAX_DEPTH} levels")
        self.limiter.subschemas += 1
        if self.limiter.subschemas > MAX_SUBSCHEMAS:
            raise self.refuse(pointer, f"more than {MAX_SUBSCHEMAS} subschemas in the request")
        info = _Node(index=len(self.nodes), low=len(self.nodes))
        self.nodes[id(node)] = info
        self.stack.append((id(node), pointer))
        self.path.append((id(node), leading))
        profile: Counter[str] = Counter()
        for child, child_pointer, child_leading in self.children(node, pointer, info):
            seen = self.nodes.get(id(child)) if isinstance(child, dict) else None
            if seen is not None and not seen.done:
                self.left_recursion(id(child), child_leading, pointer)
            result = self.visit(child, child_pointer, depth + 1, child_leading)
            if seen is None:
                info.low = min(info.low, result.low)
            elif result.open:
                info.low = min(info.low, result.index)
            if result.done:  # an open one is recursion
                info.best = max(info.best, result.best)
                if child_leading:
                    profile += result.profile
        info.profile = profile + shapes.start(node, self.limiter.order)
        if info.union:
            self.alike(info, pointer)
        if info.low == info.index:
            self.close_component(info, node)
        self.path.pop()
        info.done = True
        return info

    def left_recursion(self, target: int, leading: bool, pointer: str) -> None:
        """Refuse a cycle back to a node being visited that passes through alternatives
        and $refs only: its rule would derive itself before writing anything (left
        recursion), which llama.cpp refuses."""
        where = next((i for i, (key, _) in enumerate(self.path) if key == target), None)
        if where is not None and leading and all(flag for _, flag in self.path[where + 1 :]):
            raise self.refuse(pointer, "refers back to itself before anything is written")

    def alike(self, info: _Node, pointer: str) -> None:
        """Bound the alternatives open at one point, and those that stay open together:
        each of those keeps its own grammar stacks at every nesting level below."""
        total = sum(info.profile.values())
        if total > MAX_OPEN:
            raise self.refuse(pointer, f"{total} alternatives open at once, more than {MAX_OPEN}")
        info.factor = shapes.alike(info.profile)
        info.best *= info.factor
        if info.best > MAX_AMBIGUITY:
            raise self.refuse(
                pointer,
                "alternatives that start alike (objects with the same first key, or arrays) "
                f"can stay open together {info.best} ways, more than {MAX_AMBIGUITY}",
            )

    def close_component(self, info: _Node, node: dict[str, Any]) -> None:
        members: list[tuple[_Node, str]] = []
        while True:
            key, pointer = self.stack.pop()
            members.append((self.nodes[key], pointer))
            if key == id(node):
                break
        best = max(member.best for member, _ in members)
        for member, pointer in members:
            member.open = False
            member.best = best
            if len(members) > 1 and member.factor > 1:
                raise self.refuse(
                    pointer,
                    "recursion ($ref) through alternatives that start alike: the grammar "
                    "would keep more of them open with every level",
                )

    def children(
        self, node: dict[str, Any], pointer: str, info: _Node
    ) -> Iterator[tuple[object, str, bool]]:
        """The subschemas the converter visits, as (schema, pointer, leading): checks and
        relaxes this node's own keywords on the way. Mirrors SchemaConverter.visit."""
        kind = node.get("type")
        form = node.get("format")
        if form is not None and not isinstance(form, str):
            raise self.refuse(pointer, "format must be a string")
        if node.get("$ref") is not None:
            target_pointer, target = self.resolve(node, pointer)
            yield target, target_pointer, True
        elif "oneOf" in node or "anyOf" in node:
            key = "oneOf" if node.get("oneOf") else "anyOf"
            if not node.get(key):
                empty = "oneOf" if "oneOf" in node else "anyOf"
                raise self.refuse(pointer, f"{empty} is empty: nothing can match")
            info.union = True
            for i, branch in enumerate(self.entries(node, key, pointer)):
                yield branch, f"{pointer}/{key}/{i}", True
        elif isinstance(kind, list):
            info.union = True
            for name in self.entries(node, "type", pointer):
                if not isinstance(name, str) or name not in _PRIMITIVES:
                    raise self.refuse(pointer, f"unknown type {json.dumps(name)[:100]}")
        elif "const" in node:
            pass
        elif "enum" in node:
            values = node["enum"]
            if not isinstance(values, list):
                raise self.refuse(pointer, "enum must be a list")
            if len(values) > MAX_ENUM:
                raise self.refuse(pointer, f"enum has {len(values)} values, more than {MAX_ENUM}")
            info.union = True
        elif kind in (None, "object") and (
            "properties" in node
            or ("additionalProperties" in node and node["additionalProperties"] is not True)
        ):
            yield from self.object_children(node, pointer)
        elif kind in (None, "object") and "allOf" in node:
            yield from self.all_of_children(node, pointer)
        elif kind in (None, "array") and ("items" in node or "prefixItems" in node):
            yield from self.array_children(node, pointer)
        elif kind in (None, "string") and "pattern" in node:
            self.pattern(node, pointer)
        elif kind in (None, "string") and (form in UUID_FORMATS or form in DATE_FORMATS):
            pass
        elif kind == "string" and ("minLength" in node or "maxLength" in node):
            self.repetition(node, pointer, "minLength", "maxLength")
        elif kind == "object" or not node:
            pass
        elif not isinstance(kind, str) or kind not in _PRIMITIVES:
            raise self.refuse(pointer, f"unknown type {json.dumps(kind)[:100]}")

    def entries(self, node: dict[str, Any], key: str, pointer: str) -> list[Any]:
        values = node[key]
        if not isinstance(values, list):
            raise self.refuse(pointer, f"{key} must be a list")
        if len(values) > MAX_ALTERNATIVES:
            raise self.refuse(
                pointer, f"{key} has {len(values)} entries, more than {MAX_ALTERNATIVES}"
            )
        return values

    def object_children(
        self, node: dict[str, Any], pointer: str
    ) -> Iterator[tuple[object, str, bool]]:
        properties = node.get("properties", {})
        if not isinstance(properties, dict):
            raise self.refuse(pointer, "properties must be an object")
        if len(properties) > MAX_PROPERTIES:
            raise self.refuse(pointer, f"{len(properties)} properties, more than {MAX_PROPERTIES}")
        for name, value in properties.items():
            yield value, f"{pointer}/properties/{_escape(name)}", False
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            yield extra, f"{pointer}/additionalProperties", False

    def all_of_children(
        self, node: dict[str, Any], pointer: str
    ) -> Iterator[tuple[object, str, bool]]:
        # The converter merges the components' properties into one object.
        parts = [
            (p, f"{pointer}/allOf/{i}") for i, p in enumerate(self.entries(node, "allOf", pointer))
        ]
        for part, part_pointer in parts:
            if not isinstance(part, dict):
                raise self.refuse(part_pointer, "is not a JSON schema object")
            if part.get("$ref") is not None:
                part_pointer, part = self.resolve(part, part_pointer)
            if isinstance(part.get("anyOf"), list):
                parts.extend((p, f"{part_pointer}/anyOf/{i}") for i, p in enumerate(part["anyOf"]))
            elif isinstance(part.get("properties"), dict):
                yield from self.object_children({"properties": part["properties"]}, part_pointer)
            if len(parts) > MAX_ALTERNATIVES:
                raise self.refuse(pointer, f"allOf has more than {MAX_ALTERNATIVES} parts")

    def array_children(
        self, node: dict[str, Any], pointer: str
    ) -> Iterator[tuple[object, str, bool]]:
        key = "items" if node.get("items") else "prefixItems"
        items = node.get(key)
        if isinstance(items, list):
            self.entries(node, key, pointer)
            for i, item in enumerate(items):
                yield item, f"{pointer}/{key}/{i}", False
        elif isinstance(items, dict):
            self.repetition(node, pointer, "minItems", "maxItems")
            yield items, f"{pointer}/{key}", False
        else:
            raise self.refuse(pointer, "items must be a schema or a list of schemas")

    def repetition(self, node: dict[str, Any], pointer: str, low_key: str, high_key: str) -> None:
        """Keep a length/items bound in the grammar if it is small enough and the request's
        budget allows; else drop it from the grammar and check it on the output."""
        for key in (low_key, high_key):
            value = node.get(key, 0)
            if type(value) is not int or value < 0:
                raise self.refuse(pointer, f"{key} must be a non-negative integer")
        low, high = node.get(low_key, 0), node.get(high_key)
        if high is not None and low > high:
            raise self.refuse(pointer, f"{low_key} {low} is more than {high_key} {high}")
        cost = low if high is None else high
        if cost <= GRAMMAR_REPEAT and self.repeats + cost <= SCHEMA_REPEATS:
            self.repeats += cost
            return
        relaxed = self.relaxed.setdefault(pointer, {})
        if high is not None:
            relaxed[high_key] = node.pop(high_key)
        if low > GRAMMAR_REPEAT or self.repeats + low > SCHEMA_REPEATS:
            if low_key in node:
                relaxed[low_key] = node.pop(low_key)
        else:
            self.repeats += low

    def pattern(self, node: dict[str, Any], pointer: str) -> None:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        pattern = node["pattern"]
        if not isinstance(pattern, str):
            raise self.refuse(pointer, "pattern must be a string")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise self.refuse(
                pointer, f"pattern is {len(pattern)} characters, more than {MAX_PATTERN_CHARS}"
            )
        try:
            cost = scan_pattern(pattern, GRAMMAR_REPEAT, MAX_PATTERN_DEPTH)
        except PatternError as exc:
            raise self.refuse(pointer, f"pattern {exc}") from None
        if self.repeats + cost > SCHEMA_REPEATS:
            raise self.refuse(
                pointer, f"the schema's bounds and patterns repeat more than {SCHEMA_REPEATS} times"
            )
        self.repeats += cost
        try:
            gbnf = json_schema_to_gbnf(json.dumps({"type": "string", "pattern": pattern}))
        except Exception as exc:  # the converter raises assorted errors on what it can't do
            raise self.refuse(pointer, f"pattern cannot become a grammar: {exc}") from None
        dead = unwritable(gbnf)
        if dead is not None:
            raise self.refuse(pointer, f"pattern asks for {dead}, which no model can write")

    def resolve(self, node: dict[str, Any], pointer: str) -> tuple[str, dict[str, Any]]:
        """The target of a local $ref; the ref is rewritten to its own entry in `defs`."""
        ref = node["$ref"]
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise self.refuse(
                pointer,
                f"$ref {json.dumps(ref)[:100]}: only local references (#/...) are supported",
            )
        target_pointer = ref[1:]
        known = self.targets.get(target_pointer)
        if known is None:
            target: Any = self.root
            for part in target_pointer.split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    raise self.refuse(pointer, f"$ref {json.dumps(ref)[:100]} points to nothing")
            if not isinstance(target, dict):
                raise self.refuse(pointer, f"$ref {json.dumps(ref)[:100]} is not a schema")
            known = (f"{self.tag}-{len(self.targets)}", target)
            self.targets[target_pointer] = known
        node["$ref"] = f"#/$defs/{known[0]}"
        return target_pointer, known[1]
