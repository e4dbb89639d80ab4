"""The package's ``__all__`` is complete, sorted and importable; modes stay independent."""

from __future__ import annotations

import ast
from pathlib import Path

import svclab.proxy as proxy

PACKAGE = Path(proxy.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    assert proxy.__all__ == sorted(proxy.__all__)
    for name in proxy.__all__:
        assert hasattr(proxy, name), name


def test_all_lists_every_public_import() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert imported == set(proxy.__all__)


def test_modes_do_not_import_each_other() -> None:
    modes = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    for mode in modes:
        for source in (PACKAGE / mode).glob("*.py"):
            text = source.read_text()
            for other in modes:
                if other != mode:
                    assert f"svclab.proxy.{other}" not in text, f"{source} imports {other}"


def test_core_does_not_need_kube() -> None:
    for name in (
        "service_port",
        "endpoint",
        "service_change_tracker",
        "endpoints_change_tracker",
        "topology",
        "runner",
        "provider",
    ):
        assert "svclab.kube" not in (PACKAGE / f"{name}.py").read_text()
