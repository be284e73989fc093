"""A model in the store without a pull: the embedded GGUF linked in as a pulled file."""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

from roost.providers.llamacpp import embedded_model_path
from roost.providers.store.manifest import ModelStore, StoredFile, StoredModel

PULLED = "hf.co/test/smollm2-gguf:Q4_1"


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def put_in_store(
    home: Path, name: str = PULLED, file: str = "SmolLM2-135M-Instruct-Q4_1.gguf"
) -> StoredModel:
    source = embedded_model_path()
    relative = f"hf/test/smollm2-gguf/{file}"
    target = home / "models" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        try:
            os.link(source, target)  # the same bytes, no copy of 98 MB
        except OSError:
            shutil.copyfile(source, target)
    model = StoredModel(
        name=name,
        repo="test/smollm2-gguf",
        revision="0123456789abcdef0123456789abcdef01234567",
        quantization="Q4_1",
        files=(StoredFile(relative, source.stat().st_size, _sha256(source)),),
    )
    ModelStore.for_home(home).add(model)
    return model
