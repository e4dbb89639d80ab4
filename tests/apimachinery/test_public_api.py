"""svclab.apimachinery's shape: complete, sorted ``__all__`` per module, and purity.

apimachinery is the bottom layer: its modules import the standard library and
each other, nothing from the rest of svclab and no third-party package (no
lightkube, no aiohttp), so any layer can use it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

import svclab.apimachinery as apimachinery

MODULES = sorted(info.name for info in pkgutil.iter_modules(apimachinery.__path__))


def test_the_concepts_are_all_there() -> None:
    assert MODULES == [
        "fields",
        "labels",
        "merge_patch",
        "netutils",
        "remotecommand",
        "selection",
        "spdy",
        "validation",
    ]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(f"svclab.apimachinery.{name}")
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    }
    assert module.__all__ == sorted(module.__all__)
    assert public <= set(module.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_imports_only_the_standard_library_and_itself(name: str) -> None:
    source = Path(apimachinery.__path__[0], f"{name}.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            continue  # a sibling module
        if isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]]
        elif isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        else:
            continue
        for root in roots:
            assert root in sys.stdlib_module_names or root == "__future__", f"{name} imports {root}"
