"""Byte sizes people write ("8GiB", "512 MB") and read ("5.2 GiB")."""

from __future__ import annotations

import re

# K, M, G, T alone are binary, as in systemd's MemoryMax and `free -h`.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "k": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gib": 2**30,
    "t": 2**40,
    "tib": 2**40,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")


def parse(value: int | str) -> int:
    """Bytes; ValueError for anything else than a count of bytes or a size with a unit."""
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a text such as '8GiB'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size must not be negative")
        return value
    match = _SIZE.match(value.strip().lower())
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(
            f"{value[:40]!r} is not a size: write bytes or a number with a unit "
            "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def human(size: int) -> str:
    """`5.2 GiB`, `372 MiB`, `12 KiB`: binary units, one decimal from GiB up."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:.0f} MiB"
    if size >= 2**10:
        return f"{size / 2**10:.0f} KiB"
    return f"{size} B"


def decimal(size: int) -> str:
    """`98.4 MB`, `4.1 GB`: decimal units, as Ollama and the Hugging Face Hub print file
    sizes (memory is `human`'s binary units)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1000
    return f"{value:.1f} TB"
