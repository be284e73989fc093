"""The layer rules of DESIGN.md §2, checked by import-linter, and the code-quality gates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root / "src"), "PATH": str(BIN)},
        timeout=120,
    )


def test_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("api/deps.py", "import roost.storage.db\n", "Dialects reach storage"),
        ("api/deps.py", "import roost.providers.registry\n", "Dialects reach storage"),
        ("services/status.py", "import fastapi\n", "Services know no HTTP"),
        ("services/status.py", "import sqlalchemy\n", "Services know no HTTP"),
        ("core/ids.py", "import roost.config\n", "Core is pure"),
        ("storage/__init__.py", "import roost.services\n", "Layers"),
    ],
)
def test_contracts_catch_a_violation(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """Plant one forbidden import in a copy of the tree: the contract must break."""
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "roost" / module
    target.write_text(line + target.read_text())
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "mypy"), "--strict", "src/roost"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_500_lines() -> None:
    long = [
        (str(p.relative_to(ROOT)), n)
        for p in (ROOT / "src").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    ]
    assert long == []
