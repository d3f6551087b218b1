"""The import contract (pyproject.toml, run by scripts/test.sh) holds, and it
fails when the domain imports Firebase or a layer imports one above it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(functions_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package in ``functions_dir``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(functions_dir)}
    return subprocess.run(  # noqa: S603 - our own tool on our own tree
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_package_keeps_its_contracts(tmp_path: Path) -> None:
    done = lint_imports(ROOT / "functions", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("domain/lifecycle.py", "import google.cloud.firestore", "The domain is pure"),
        ("domain/identity.py", "from firebase_admin import auth", "The domain is pure"),
        ("domain/usage.py", "from generations_live.services import billing", "Layers"),
        ("adapters/accounts.py", "from generations_live.entrypoints import edge", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    copy = tmp_path / "functions"
    shutil.copytree(
        ROOT / "functions" / "generations_live",
        copy / "generations_live",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    target = copy / "generations_live" / module
    target.write_text(f"{target.read_text(encoding='utf-8')}\n{line}\n", encoding="utf-8")
    done = lint_imports(copy, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout
    assert "BROKEN" in done.stdout
