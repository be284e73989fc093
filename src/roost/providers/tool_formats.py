"""How a model family writes tool calls in its reply, told from its chat template.

A template that renders `tools` also teaches the model a way to call them; the reply then
holds calls in that family's own syntax, which is parsed here:

- hermes (Hermes, Qwen 2.5/3, and the many models trained on that format):
  `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, one block per call;
- llama3 (Llama 3.1+): a JSON object `{"name": ..., "parameters": {...}}` as the whole
  reply, possibly after `<|python_tag|>`;
- mistral: `[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]`, or the newer
  `[TOOL_CALLS]name[ARGS]{...}`.

Each format says where a call begins in the text so far (`start`), how much of the tail
could still be the beginning of one (`holdback`, not streamed yet), and reads the calls
from there to the end (`parse`: None when that text is not a well-formed set of calls).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any]


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _json_at(text: str, pos: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, pos)
    except (json.JSONDecodeError, RecursionError):
        return None


def _call(value: Any, name: str | None = None) -> Call | None:
    """A call from its JSON: `name` plus `arguments` (or `parameters`), an object or a
    string holding one."""
    if name is None:
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return None
        name = value["name"]
        value = value["arguments"] if "arguments" in value else value.get("parameters", {})
    if isinstance(value, str):
        parsed = _json_at(value, _skip_space(value, 0))
        if parsed is None or _skip_space(value, parsed[1]) != len(value):
            return None
        value = parsed[0]
    if not isinstance(value, dict):
        return None
    return Call(name, value)


def _partial_suffix(text: str, marker: str) -> int:
    """The length of the longest tail of `text` that begins `marker`."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class ToolFormat:
    name = ""
    marker = ""  # the text that opens a call
    # A marker that is one special token in the model's vocabulary is kept in the reply
    # text (llama.cpp leaves control tokens out otherwise).
    markers: tuple[str, ...] = ()

    def start(self, text: str) -> int | None:
        index = text.find(self.marker)
        return index if index >= 0 else None

    def holdback(self, text: str) -> int:
        return _partial_suffix(text, self.marker)

    def parse(self, text: str) -> list[Call] | None:
        raise NotImplementedError

    def call_id(self, call_id: str) -> str:
        """A call id in the shape the template accepts."""
        return call_id


class Hermes(ToolFormat):
    name = "hermes"
    marker = "<tool_call>"
    markers = ("<tool_call>", "</tool_call>")

    def parse(self, text: str) -> list[Call] | None:
        calls: list[Call] = []
        pos = _skip_space(text, 0)
        while pos < len(text):
            if not text.startswith("<tool_call>", pos):
                return None
            found = _json_at(text, _skip_space(text, pos + len("<tool_call>")))
            call = _call(found[0]) if found else None
            if found is None or call is None:
                return None
            calls.append(call)
            pos = _skip_space(text, found[1])
            if text.startswith("</tool_call>", pos):
                pos = _skip_space(text, pos + len("</tool_call>"))
            elif pos < len(text):  # an unclosed block is only forgiven at the very end
                return None
        return calls or None


_LLAMA_OPEN = re.compile(r'\s*\{\s*"(?:name|type)"')


class Llama3(ToolFormat):
    name = "llama3"
    marker = "<|python_tag|>"
    markers = ("<|python_tag|>",)

    def start(self, text: str) -> int | None:
        if _LLAMA_OPEN.match(text):
            return 0
        return super().start(text)

    def holdback(self, text: str) -> int:
        # A reply that opens with `{` may be a call: held until it says `"name"` or not.
        opening = text.lstrip()
        if not opening or (opening[0] == "{" and _could_open(opening[1:].lstrip())):
            return len(text)
        return super().holdback(text)

    def parse(self, text: str) -> list[Call] | None:
        pos = _skip_space(text, 0)
        if text.startswith(self.marker, pos):
            pos = _skip_space(text, pos + len(self.marker))
        calls: list[Call] = []
        while pos < len(text):
            found = _json_at(text, pos)
            call = _call(found[0]) if found else None
            if found is None or call is None:
                return None
            calls.append(call)
            pos = _skip_space(text, found[1])
            if text.startswith(";", pos):  # 3.2 and 3.3 separate several calls so
                pos = _skip_space(text, pos + 1)
        return calls or None


def _could_open(rest: str) -> bool:
    return any(word.startswith(rest) for word in ('"name"', '"type"'))


_MISTRAL_NAME = re.compile(r"\s*([A-Za-z0-9_.-]+)(?:\[CALL_ID\][A-Za-z0-9]+)?\[ARGS\]")


class Mistral(ToolFormat):
    name = "mistral"
    marker = "[TOOL_CALLS]"
    markers = ("[TOOL_CALLS]", "[ARGS]", "[CALL_ID]")

    def parse(self, text: str) -> list[Call] | None:
        calls: list[Call] = []
        pos = _skip_space(text, 0)
        while pos < len(text):
            if not text.startswith(self.marker, pos):
                return None
            pos = _skip_space(text, pos + len(self.marker))
            named = _MISTRAL_NAME.match(text, pos)
            found = _json_at(text, named.end() if named else pos)
            if found is None:
                return None
            if named is not None:
                call = _call(found[0], named.group(1))
                if call is None:
                    return None
                calls.append(call)
            else:
                listed = found[0] if isinstance(found[0], list) else [found[0]]
                read = [_call(item) for item in listed]
                if not read or any(c is None for c in read):
                    return None
                calls.extend(c for c in read if c is not None)
            pos = _skip_space(text, found[1])
        return calls or None

    def call_id(self, call_id: str) -> str:
        # Mistral's templates refuse ids that are not 9 letters and digits.
        if len(call_id) == 9 and call_id.isalnum():
            return call_id
        return hashlib.sha256(call_id.encode()).hexdigest()[:9]


def detect(source: str) -> ToolFormat | None:
    """The call format a template teaches, or None when it renders no tools or in a way
    roost does not read (those models call tools through the grammar path)."""
    if not re.search(r"\btools\b", source):
        return None
    if "<tool_call>" in source:
        return Hermes()
    if "[TOOL_CALLS]" in source:
        return Mistral()
    if "<|python_tag|>" in source or ("<|start_header_id|>" in source and '"parameters"' in source):
        return Llama3()
    return None
