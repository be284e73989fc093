"""What a GGUF file says about itself, read in Python (no llama.cpp, nothing loaded).

Read in the server process before a model loads: its context length and chat template set
the model's defaults, and its shape gives the memory estimate. A split GGUF's metadata is in
its first part; its tensors (the parameter count) are spread over all of them.

The header is walked here (gguf_header.py) rather than with `gguf.GGUFReader`, which builds
a numpy view of every vocabulary string: 1.8 s for the 135M model's 49k tokens, several
seconds for a 150k vocabulary, on every model listing. The walk skips those arrays and
takes milliseconds. The `gguf` package still names the quantization types.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.core.errors import ConfigError
from roost.providers import gguf_header

SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
# A model's trained window can be 128k tokens or more; its KV cache would take far more
# memory than its weights. Unset n_ctx means this much at most (Ollama's default too).
DEFAULT_CONTEXT_CAP = 4096


@dataclass(frozen=True, slots=True)
class GgufInfo:
    path: Path
    files: tuple[Path, ...]
    size: int  # bytes of every part
    architecture: str
    name: str | None
    parameters: int  # counted from the tensors
    size_label: str | None  # general.size_label, e.g. "135M"
    quantization: str | None  # from general.file_type, e.g. "Q4_K_M"
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    chat_template: str | None
    license: str | None
    pooling: bool  # an embedding model (no chat)

    @property
    def default_n_ctx(self) -> int | None:
        if self.context_length is None:
            return None
        return min(self.context_length, DEFAULT_CONTEXT_CAP)

    def kv_bytes_per_token(self) -> int | None:
        """f16 K and V for one token in every layer; None when the file does not say."""
        if not (self.block_count and self.head_count):
            return None
        kv_heads = self.head_count_kv or self.head_count
        if self.key_length and self.value_length:
            k, v = self.key_length, self.value_length
        elif self.embedding_length:
            k = v = self.embedding_length // self.head_count
        else:
            return None
        return self.block_count * kv_heads * (k + v) * 2

    def parameters_text(self) -> str:
        if self.size_label:
            return self.size_label
        count = float(self.parameters)
        for unit in ("", "K", "M", "B", "T"):
            if count < 1000:
                return f"{count:.3g}{unit}"
            count /= 1000
        return f"{count:.3g}P"


def split_parts(path: Path) -> tuple[Path, ...]:
    """A split GGUF's parts in order, from its first one's name; else the file alone."""
    match = SPLIT.search(path.name)
    if match is None:
        return (path,)
    count = int(match.group(2))
    stem = path.name[: match.start()]
    return tuple(path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1))


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # per-layer values (some architectures): the largest
        value = max(value) if value else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _quantization(file_type: Any) -> str | None:
    from gguf import LlamaFileType

    if file_type is None:
        return None
    try:
        name = LlamaFileType(int(file_type)).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").replace("ALL_", "") if name != "GUESSED" else None


_cache: dict[tuple[str, int, int], GgufInfo] = {}
_cache_lock = threading.Lock()


def read(path: Path) -> GgufInfo:
    """The file's metadata (cached per path, size and mtime); ConfigError when unreadable."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        found = _read(path)
        with _cache_lock:
            _cache[key] = found
    return found


def _read(path: Path) -> GgufInfo:
    parts = split_parts(path)
    headers = []
    for part in parts:
        try:
            headers.append(gguf_header.read_header(part, values=part == parts[0]))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"a part of the split GGUF {path} is missing: {exc.filename}"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read {part}: {exc.strerror or exc}") from None
        except gguf_header.BadHeader as exc:
            raise ConfigError(f"{part} is not a readable GGUF file: {exc}") from None
    fields = headers[0].values
    arch = str(fields.get("general.architecture") or "unknown")

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    def arch_int(key: str) -> int | None:
        return _int(fields.get(f"{arch}.{key}"))

    return GgufInfo(
        path=path,
        files=parts,
        size=sum(p.stat().st_size for p in parts),
        architecture=arch,
        name=text("general.name"),
        parameters=sum(h.parameters for h in headers),
        size_label=text("general.size_label"),
        quantization=_quantization(fields.get("general.file_type")),
        context_length=arch_int("context_length"),
        embedding_length=arch_int("embedding_length"),
        block_count=arch_int("block_count"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        key_length=arch_int("attention.key_length"),
        value_length=arch_int("attention.value_length"),
        chat_template=text("tokenizer.chat_template"),
        license=text("general.license"),
        pooling=f"{arch}.pooling_type" in fields,
    )
