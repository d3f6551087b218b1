"""The tree keeps its shape: collection names live in the adapters, and main.py
exports exactly the registry."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from generations_live.adapters import collections
from generations_live.domain.outputs import OUTPUTS_PREFIX

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ROOT / "functions" / "generations_live" / "adapters"
# Code that reaches Firestore through the adapters, never by spelling a path.
CHECKED = [
    ROOT / "functions" / "generations_live",
    ROOT / "functions" / "main.py",
    ROOT / "scripts",
    ROOT / "bench",
    ROOT / "tests" / "harness",
]
NAMES = {
    value for name, value in vars(collections).items() if name.isupper() and isinstance(value, str)
}
# Short names are also plain words ("billing" names a rollup too): they count
# where they name a path, in a call that opens one or in a string with a slash.
DISTINCT = {name for name in NAMES if "_" in name}
PATH_CALLS = {"collection", "collection_group", "document"}
# Cloud Storage object prefixes share words with collections but are no Firestore path.
STORAGE_PREFIXES = {OUTPUTS_PREFIX}


def python_files() -> Iterator[Path]:
    for place in CHECKED:
        files = [place] if place.is_file() else sorted(place.rglob("*.py"))
        yield from (path for path in files if ADAPTERS not in path.parents)


def spelled_collections(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every string in the source that names a collection."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    # Docstrings may name paths: they document the data model.
    documented = [
        owner.body[0].value
        for owner in ast.walk(tree)
        if isinstance(owner, ast.Module | ast.ClassDef | ast.FunctionDef)
        and owner.body
        and isinstance(owner.body[0], ast.Expr)
        and isinstance(owner.body[0].value, ast.Constant)
    ]
    for node in ast.walk(tree):
        if any(node is docstring for docstring in documented):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in PATH_CALLS:
                found.extend(
                    (argument.lineno, argument.value)
                    for argument in node.args
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in STORAGE_PREFIXES:
                continue
            segments = set(node.value.split("/"))
            if node.value in DISTINCT or ("/" in node.value and segments & NAMES):
                found.append((node.lineno, node.value))
    return sorted(set(found))


def test_no_collection_name_is_spelled_outside_the_adapters() -> None:
    spelled = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in python_files()
        for line, text in spelled_collections(path.read_text(encoding="utf-8"))
    }
    assert spelled == {}


def test_the_check_finds_a_spelled_collection() -> None:
    source = (
        '"""A module about users/{uid}/generations."""\n'
        'db.collection("billing").document(uid)\n'
        'feed = "live_generations"\n'
        'path = f"users/{uid}/generations"\n'
        'rollup_name = "billing"\n'
    )
    assert sorted({line for line, _ in spelled_collections(source)}) == [2, 3, 4]
