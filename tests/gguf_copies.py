"""Copies of the shipped SmolLM2 GGUF with another chat template in their metadata, as a
model from the Hub might carry (written with the `gguf` package's reader and writer, the
way its gguf_new_metadata script does)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import gguf

from roost.providers.llamacpp import embedded_model_path

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
_TEMPLATE_KEY = gguf.Keys.Tokenizer.CHAT_TEMPLATE


_COPIES: dict[str | None, Path] = {}


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.jinja").read_text()


def smollm2_with(chat_template: str | None) -> Path:
    """SmolLM2 with this template (None: none at all), written once per test run."""
    if chat_template not in _COPIES:
        if not _COPIES:
            folder = Path(tempfile.mkdtemp(prefix="roost-gguf-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        else:
            folder = next(iter(_COPIES.values())).parent
        target = folder / f"smollm2-{len(_COPIES)}.gguf"
        _COPIES[chat_template] = with_chat_template(embedded_model_path(), target, chat_template)
    return _COPIES[chat_template]


def with_chat_template(source: Path, target: Path, chat_template: str | None) -> Path:
    """`target`: `source` with `chat_template` as its template (None: no template)."""
    reader = gguf.GGUFReader(source)
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    assert arch is not None
    writer = gguf.GGUFWriter(target, arch=str(arch.contents()), endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name in (gguf.Keys.General.ARCHITECTURE,) or field.name.startswith("GGUF."):
            continue  # written by the writer itself
        if field.name.startswith(_TEMPLATE_KEY):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name,
            tensor.data.shape,
            tensor.data.dtype,
            tensor.data.nbytes,
            tensor.tensor_type,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return target
