"""GGUF metadata read in Python: the same answers as the `gguf` library's own reader, and a
clear error (no hang, no huge allocation) for a damaged or hostile file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from roost.core.errors import ConfigError
from roost.providers import gguf_info
from roost.providers.gguf_header import read_header
from roost.providers.llamacpp import embedded_model_path


def test_the_header_walk_agrees_with_the_gguf_library() -> None:
    from gguf import GGUFReader

    path = embedded_model_path()
    reader = GGUFReader(path, "r")
    expected = {key: field.contents() for key, field in reader.fields.items()}
    header = read_header(path)
    for key, value in header.values.items():
        assert expected[key] == value, key
    # Only the big arrays (the vocabulary, its scores and merges) are skipped.
    skipped = set(expected) - set(header.values)
    assert skipped <= {
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.scores",
        "GGUF.version",
        "GGUF.tensor_count",
        "GGUF.kv_count",
    }
    assert header.parameters == sum(int(t.n_elements) for t in reader.tensors)


def test_what_the_embedded_model_says_about_itself() -> None:
    info = gguf_info.read(embedded_model_path())
    assert (info.architecture, info.quantization, info.size_label) == ("llama", "Q4_1", "135M")
    assert (info.context_length, info.default_n_ctx) == (8192, 4096)
    assert info.kv_bytes_per_token() == 30 * 3 * (64 + 64) * 2
    assert info.chat_template is not None
    assert "<|im_start|>" in info.chat_template
    assert len(info.files) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"NOPE" + bytes(20), "does not start with GGUF"),
        (b"GGUF" + struct.pack("<I", 9) + bytes(16), "version 9"),
        # 2**60 key/value pairs promised in a 24-byte file
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 2**60), "larger than the file"),
        # a key whose length runs past the end
        (b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**40) + bytes(8), "ends early"),
    ],
)
def test_a_damaged_file_is_a_clear_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=reason):
        gguf_info.read(path)


def test_a_truncated_model_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(embedded_model_path().read_bytes()[:100_000])
    with pytest.raises(ConfigError, match="ends early"):
        gguf_info.read(path)


def test_a_split_gguf_names_its_missing_part(tmp_path: Path) -> None:
    first = tmp_path / "m-00001-of-00002.gguf"
    first.write_bytes(embedded_model_path().read_bytes())
    assert gguf_info.split_parts(first) == (first, tmp_path / "m-00002-of-00002.gguf")
    with pytest.raises(ConfigError, match=r"m-00002-of-00002\.gguf"):
        gguf_info.read(first)
