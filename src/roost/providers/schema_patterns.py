"""`pattern` regexes in schemas, and grammar text no model can write.

llama-cpp-python's converter copies a pattern into the grammar almost verbatim: `{m,n}`
becomes m copies and n-m nested optional groups (llama.cpp parses one nesting level per
C stack frame pair), groups stay groups, and escapes and character classes reach
llama.cpp's own parser unchanged. A pattern can so ask for what no token can produce —
a NUL character (`\\x00`), an empty class (`[z-a]`) — and llama.cpp then aborts the
process while sampling ("Unexpected empty grammar stack"). Patterns cannot be relaxed
like length bounds (the output would have to be matched with a regex engine, which a
pattern can stall), so one that is too big or can never be written is refused.
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}
_SIMPLE_ESCAPES = {"t": 9, "r": 13, "n": 10, "\\": 92, '"': 34, "[": 91, "]": 93}


class PatternError(ValueError):
    """Why a pattern is refused, in words for the client."""


def scan_pattern(pattern: str, max_repeat: int, max_depth: int) -> int:
    """The grammar repetition a pattern costs (its quantifiers' largest counts, summed).

    Raises PatternError for quantifiers above `max_repeat`, groups nested deeper than
    `max_depth`, and NUL characters. Follows the converter's reading of a pattern: a
    backslash escapes the next character, `[...]` runs to the first unescaped `]`.
    """
    if "\x00" in pattern:
        raise PatternError("contains a NUL character")
    total = depth = i = 0
    length = len(pattern)
    while i < length:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i += 1
            while i < length and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            depth += 1
            if depth > max_depth:
                raise PatternError(f"has groups nested deeper than {max_depth}")
        elif char == ")":
            depth -= 1
        elif char == "{":
            end = pattern.find("}", i)
            if end < 0:
                break  # the converter reports the unbalanced brace
            count = _largest_count(pattern[i + 1 : end], max_repeat)
            total += count
            i = end
        i += 1
    if total > max_repeat:
        raise PatternError(f"repeats {total} times in all, more than {max_repeat}")
    return total


def _largest_count(body: str, max_repeat: int) -> int:
    largest = 0
    for part in (p.strip() for p in body.split(",")):
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or len(part) > 7:
            raise PatternError(f"has a quantifier {{{body}}} that is not {{m}}, {{m,}} or {{m,n}}")
        if int(part) > max_repeat:
            raise PatternError(f"repeats {int(part)} times, more than {max_repeat}")
        largest = max(largest, int(part))
    return largest


def unwritable(gbnf: str) -> str | None:
    """The first string literal or character class in `gbnf` that no model can write
    (a NUL character, code points past U+10FFFF, a class that matches nothing), if any.

    Reads escapes as llama.cpp does. Text llama.cpp cannot parse at all is left to it:
    it refuses that grammar cleanly.
    """
    i, length = 0, len(gbnf)
    while i < length:
        char = gbnf[i]
        if char == "#":
            end = gbnf.find("\n", i)
            i = length if end < 0 else end
        elif char == '"':
            start, i = i, i + 1
            while i < length and gbnf[i] != '"':
                point, i = _char(gbnf, i)
                if point is None:
                    return None
                if not 0 < point <= _MAX_CODE_POINT:
                    return gbnf[start : i + 1]
            i += 1
        elif char == "[":
            start = i
            ranges, negated, i = _char_class(gbnf, i + 1)
            if ranges is None:
                return None
            if not _class_matches_something(ranges, negated):
                return gbnf[start:i]
        else:
            i += 1
    return None


def _char(text: str, i: int) -> tuple[int | None, int]:
    """One character as llama.cpp's parse_char reads it: (code point, next index)."""
    if text[i] != "\\":
        return ord(text[i]), i + 1
    kind = text[i + 1 : i + 2]
    if kind in _HEX_DIGITS:
        digits = text[i + 2 : i + 2 + _HEX_DIGITS[kind]]
        if len(digits) < _HEX_DIGITS[kind] or any(
            c not in "0123456789abcdefABCDEF" for c in digits
        ):
            return None, i + 2
        return int(digits, 16), i + 2 + len(digits)
    if kind in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[kind], i + 2
    return None, i + 2


def _char_class(text: str, i: int) -> tuple[list[tuple[int, int]] | None, bool, int]:
    """The ranges of the class whose body starts at `i`, whether negated, and the index
    just past its `]`; None for ranges when llama.cpp would not parse it."""
    negated = text[i : i + 1] == "^"
    i += negated
    ranges: list[tuple[int, int]] = []
    while i < len(text) and text[i] != "]":
        low, i = _char(text, i)
        if low is None:
            return None, negated, i
        high = low
        if text[i : i + 1] == "-" and text[i + 1 : i + 2] not in ("]", ""):
            high_point, i = _char(text, i + 1)
            if high_point is None:
                return None, negated, i
            high = high_point
        ranges.append((low, high))
    return ranges, negated, i + 1


def _class_matches_something(ranges: list[tuple[int, int]], negated: bool) -> bool:
    """Does the class allow a code point in 1..U+10FFFF (what token pieces can hold)?"""
    usable = sorted((max(lo, 1), min(hi, _MAX_CODE_POINT)) for lo, hi in ranges if lo <= hi)
    usable = [(lo, hi) for lo, hi in usable if lo <= hi]
    if not negated:
        return bool(usable) or not ranges  # `[]` is parsed as no element at all
    reach = 0  # every code point up to `reach` is excluded
    for lo, hi in usable:
        if lo > reach + 1:
            return True
        reach = max(reach, hi)
    return reach < _MAX_CODE_POINT
