"""A GGUF file's header: its key/value metadata and its tensors' shapes, walked with struct.

Large arrays (the vocabulary, its scores and merges) are skipped, not decoded: only scalars,
strings and small arrays are kept. Every count is checked against the bytes left, so a
damaged or hostile file fails with BadHeader instead of a huge allocation.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
SMALL_ARRAY = 1024  # arrays longer than this are skipped (per-layer values are kept)
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class BadHeader(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    values: dict[str, Any]
    parameters: int  # elements over all tensors in this file


class _Cursor:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise BadHeader("the header ends early")
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return value

    def skip(self, size: int) -> None:
        if size < 0 or self.at + size > len(self.data):
            raise BadHeader("the header ends early")
        self.at += size

    def string(self, keep: bool = True) -> str | None:
        size = self.take("<Q")
        start = self.at
        self.skip(size)
        if not keep:
            return None
        return bytes(self.data[start : self.at]).decode("utf-8", "replace")

    def count(self, least_bytes_each: int) -> int:
        n = int(self.take("<Q"))
        if n * least_bytes_each > len(self.data) - self.at:
            raise BadHeader(f"a count of {n} is larger than the file")
        return n

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            value = self.take(_SCALARS[kind])
            return value if keep else None
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item = int(self.take("<I"))
            n = self.count(1 if item != _ARRAY else 12)
            keep_items = keep and n <= SMALL_ARRAY and item != _ARRAY
            if item in _SCALARS and not keep_items:
                self.skip(n * struct.calcsize(_SCALARS[item]))
                return None
            items = [self.value(item, keep_items) for _ in range(n)]
            return items if keep_items else None
        raise BadHeader(f"unknown value type {kind}")


def read_header(path: Path, *, values: bool = True) -> Header:
    """The header of one file (of a split GGUF: one part). `values=False` keeps no metadata
    (a split's later parts only add tensors)."""
    with path.open("rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            raise BadHeader("the file is empty") from None
    with data:
        cursor = _Cursor(data)
        if cursor.data[:4] != MAGIC:
            raise BadHeader("it does not start with GGUF")
        cursor.at = 4
        version = int(cursor.take("<I"))
        if version not in (2, 3):
            raise BadHeader(f"GGUF version {version} is not supported")
        tensors = cursor.count(24)
        pairs = cursor.count(12)
        found: dict[str, Any] = {}
        for _ in range(pairs):
            key = cursor.string() or ""
            kind = int(cursor.take("<I"))
            value = cursor.value(kind, keep=values)
            if values and value is not None:
                found[key] = value
        parameters = 0
        for _ in range(tensors):
            cursor.string(keep=False)
            dims = int(cursor.take("<I"))
            if dims > 8:
                raise BadHeader(f"a tensor with {dims} dimensions")
            elements = 1
            for _ in range(dims):
                elements *= int(cursor.take("<Q"))
            cursor.skip(4 + 8)  # type, offset
            parameters += elements
        return Header(version, found, parameters)
