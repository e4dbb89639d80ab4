"""The adapters package's ``__all__`` is complete, sorted and importable (its modules': ``test_public_api`` above)."""

from __future__ import annotations

import ast
from pathlib import Path

import svclab.proxy.adapters as adapters

PACKAGE = Path(adapters.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    assert adapters.__all__ == sorted(adapters.__all__)
    for name in adapters.__all__:
        assert hasattr(adapters, name), name


def test_all_lists_every_public_import() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert imported == set(adapters.__all__)
