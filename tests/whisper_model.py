"""A tiny whisper.cpp model with random weights, written at test time.

No real whisper model can be fetched here, so the whisper.cpp path is exercised with a
file of the real ggml layout (the one whisper.cpp's convert-pt-to-ggml.py writes) but
toy sizes: it loads and runs like any model and produces meaningless text. It tests the
plumbing — decoding, windows, segment times — not recognition.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

N_VOCAB = 51864  # English-only: the special tokens' ids follow from this
N_AUDIO_CTX = 1500  # 30 s of 10 ms mel frames, halved by the second convolution
N_TEXT_CTX = 448
N_MELS = 80
N_FFT = 201
STATE = 32
HEADS = 2
LAYERS = 1


# With ftype 1 the matrices and convolutions are float16 (ggml's im2col wants that),
# the rest float32, as in the models whisper.cpp publishes.
def _is_half(name: str, shape: tuple[int, ...]) -> bool:
    return name.endswith(".weight") and len(shape) >= 2 and "ln" not in name.split(".")[-2]


def _tensor(out: list[bytes], name: str, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    """ggml order: shape[0] varies fastest."""
    half = _is_half(name, shape)
    values = rng.standard_normal(int(np.prod(shape))) * 0.05
    data = values.astype("<f2" if half else "<f4")
    encoded = name.encode()
    out.append(struct.pack("<3i", len(shape), len(encoded), 1 if half else 0))
    out.append(struct.pack(f"<{len(shape)}i", *shape))
    out.append(encoded)
    out.append(data.tobytes())


def _block(out: list[bytes], prefix: str, rng: np.random.Generator, cross: bool) -> None:
    s = STATE
    parts: list[tuple[str, tuple[int, ...]]] = [
        ("mlp_ln.weight", (s,)),
        ("mlp_ln.bias", (s,)),
        ("mlp.0.weight", (s, 4 * s)),
        ("mlp.0.bias", (4 * s,)),
        ("mlp.2.weight", (4 * s, s)),
        ("mlp.2.bias", (s,)),
    ]
    for attn in ("attn", "cross_attn") if cross else ("attn",):
        parts += [
            (f"{attn}_ln.weight", (s,)),
            (f"{attn}_ln.bias", (s,)),
            (f"{attn}.query.weight", (s, s)),
            (f"{attn}.query.bias", (s,)),
            (f"{attn}.key.weight", (s, s)),
            (f"{attn}.value.weight", (s, s)),
            (f"{attn}.value.bias", (s,)),
            (f"{attn}.out.weight", (s, s)),
            (f"{attn}.out.bias", (s,)),
        ]
    for name, shape in parts:
        _tensor(out, prefix + name, shape, rng)


def write_tiny_model(path: Path, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    out = [b"lmgg"]
    hparams = (N_VOCAB, N_AUDIO_CTX, STATE, HEADS, LAYERS, N_TEXT_CTX, STATE, HEADS, LAYERS)
    out.append(struct.pack("<11i", *hparams, N_MELS, 1))  # ftype 1: mostly float16
    out.append(struct.pack("<2i", N_MELS, N_FFT))
    out.append((rng.random(N_MELS * N_FFT) * 0.01).astype("<f4").tobytes())
    # The text tokens (the specials follow from N_VOCAB); whisper.cpp looks up " " itself.
    words = [b" ", *(f" w{i}".encode() for i in range(1, 50256))]
    out.append(struct.pack("<i", len(words)))
    out += [struct.pack("<I", len(w)) + w for w in words]
    s = STATE
    for name, shape in (
        ("encoder.positional_embedding", (s, N_AUDIO_CTX)),
        ("encoder.conv1.weight", (3, N_MELS, s)),
        ("encoder.conv1.bias", (1, s)),
        ("encoder.conv2.weight", (3, s, s)),
        ("encoder.conv2.bias", (1, s)),
        ("encoder.ln_post.weight", (s,)),
        ("encoder.ln_post.bias", (s,)),
        ("decoder.positional_embedding", (s, N_TEXT_CTX)),
        ("decoder.token_embedding.weight", (s, N_VOCAB)),
        ("decoder.ln.weight", (s,)),
        ("decoder.ln.bias", (s,)),
    ):
        _tensor(out, name, shape, rng)
    for layer in range(LAYERS):
        _block(out, f"encoder.blocks.{layer}.", rng, cross=False)
        _block(out, f"decoder.blocks.{layer}.", rng, cross=True)
    path.write_bytes(b"".join(out))
    return path
