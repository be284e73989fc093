"""What `roost pull NAME` accepts, and how a repo's GGUF files are told apart by quantization.

Two forms, as Ollama and llama.cpp users type them:

- `hf.co/{owner}/{repo}:{quant}` (or `huggingface.co/...`; the quant may be left out): the
  repo's GGUF whose file name carries that quantization, case-insensitively (Ollama's rule:
  `Q4_1` matches `SmolLM2.Q4_1.gguf` and `smollm2-q4_1.gguf`, not `...Q4_1_4_4.gguf`);
- `{owner}/{repo}/{path}.gguf`: that file.

A split GGUF (`name-00001-of-00003.gguf`) is one model whose parts all come along.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from roost.core.errors import InvalidRequest

MAX_NAME = 300
MAX_FILE = 200
# The Hub's own rule for a namespace or a repo name (96 characters each at most).
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_QUANT = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}"
_FILE = r"[A-Za-z0-9_.+ ()\[\]-]+(?:/[A-Za-z0-9_.+ ()\[\]-]+)*\.gguf"
_HUB = re.compile(
    rf"(?:hf\.co|huggingface\.co)/(?P<owner>{_PART})/(?P<repo>{_PART})(?::(?P<quant>{_QUANT}))?"
)
_FILE_NAME = re.compile(rf"(?P<owner>{_PART})/(?P<repo>{_PART})/(?P<file>{_FILE})")

# A quantization label inside a file name: Q4_K_M, Q8_0, IQ4_XS, Q4_0_4_4, F16, BF16...
_LABEL = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d+(?:_[A-Za-z0-9]+)*|TQ\d_\d|B?F16|F32|MXFP4(?:_MOE)?)"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)

DEFAULT_QUANT = "Q4_K_M"
# Without `:{quant}`: the first of these the repo has (a balance of size and quality, the
# order llama.cpp's own docs recommend them in); else the repo's only GGUF model.
DEFAULT_ORDER = ("Q4_K_M", "Q4_K_S", "Q4_0", "Q5_K_M", "Q8_0")


@dataclass(frozen=True, slots=True)
class PullName:
    name: str  # the stored name: as typed, huggingface.co written hf.co
    repo: str  # owner/repo
    quant: str | None  # as typed; None: the default
    file: str | None  # a file named outright ({owner}/{repo}/{file}.gguf)


def parse(text: str) -> PullName:
    """The pull name's parts; InvalidRequest for anything else."""
    name = text.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidRequest(f"a model name to pull has 1 to {MAX_NAME} characters", "name")
    hub = _HUB.fullmatch(name)
    if hub is not None:
        owner, repo, quant = hub.group("owner", "repo", "quant")
        stored = f"hf.co/{owner}/{repo}" + (f":{quant}" if quant else "")
        return PullName(stored, f"{owner}/{repo}", quant, None)
    named = _FILE_NAME.fullmatch(name)
    if named is not None:
        file = named.group("file")
        if len(file) > MAX_FILE or any(p in ("", ".", "..") for p in file.split("/")):
            raise InvalidRequest(f"not a file name in a repo: {file!r}", "name")
        return PullName(name, f"{named.group('owner')}/{named.group('repo')}", None, file)
    shown = name if len(name) <= 80 else name[:77] + "..."
    raise InvalidRequest(
        f"cannot pull {shown!r}: name a GGUF on the Hugging Face Hub as "
        "hf.co/{owner}/{repo}:{quant} (e.g. hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M) "
        "or {owner}/{repo}/{file}.gguf",
        "name",
    )


def label(path: str) -> str | None:
    """The quantization a file name carries (upper case), e.g. "Q4_1"; the last one wins
    (`Q4_K_M/model-Q4_K_M-00001-of-00002.gguf`)."""
    found = _LABEL.findall(SPLIT.sub(".gguf", path))
    return found[-1].upper() if found else None


def carries(path: str, quant: str) -> bool:
    """The file name has `quant` as a whole token, in any case."""
    token = re.escape(quant)
    pattern = rf"(?<![A-Za-z0-9]){token}(?![A-Za-z0-9_])"
    return re.search(pattern, SPLIT.sub(".gguf", path), re.IGNORECASE) is not None


def first_part(path: str) -> str:
    """A split GGUF's first part's name for any of its parts (the name it is known by)."""
    match = SPLIT.search(path)
    if match is None:
        return path
    return f"{path[: match.start()]}-00001-of-{match.group(2)}.gguf"


def parts(path: str, files: Iterable[str]) -> list[str]:
    """Every part of the split GGUF `path` belongs to, in order, as listed in `files`;
    [path] for a file that is not split. Missing parts are reported by the caller."""
    match = SPLIT.search(path)
    if match is None:
        return [path]
    stem, count = path[: match.start()], int(match.group(2))
    wanted = [f"{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]
    present = {f.lower(): f for f in files}
    return [present.get(w.lower(), w) for w in wanted]


def models(files: Iterable[str]) -> list[str]:
    """The GGUF models among a repo's files: each split model once (its first part),
    vision projectors (`mmproj-*`) left out."""
    seen: dict[str, None] = {}
    for path in files:
        base = path.rsplit("/", 1)[-1].lower()
        if not base.endswith(".gguf") or base.startswith("mmproj"):
            continue
        seen.setdefault(first_part(path), None)
    return list(seen)


def quantizations(files: Iterable[str]) -> list[str]:
    """The quantization labels a repo's models carry, sorted, each once."""
    return sorted({q for m in models(files) if (q := label(m)) is not None})


def choose(files: Iterable[str], quant: str | None) -> tuple[str | None, str | None]:
    """(the model file to pull, the quant chosen when none was given); (None, None) when
    the repo has no such model. Raises InvalidRequest when `quant` names several models."""
    candidates = models(files)
    if quant is not None:
        found = [m for m in candidates if carries(m, quant)]
        if len(found) > 1:
            raise InvalidRequest(
                f"{quant} matches {len(found)} files ({', '.join(found[:5])}): "
                "name one as {owner}/{repo}/{file}.gguf",
                "name",
            )
        return (found[0] if found else None), None
    for default in DEFAULT_ORDER:
        found = [m for m in candidates if carries(m, default)]
        if len(found) == 1:
            return found[0], default
    if len(candidates) == 1:
        return candidates[0], label(candidates[0])
    return None, None
