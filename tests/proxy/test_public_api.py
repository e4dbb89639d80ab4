"""The package's ``__all__`` is complete, sorted and importable, every module's too; modes stay independent."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import svclab.proxy as proxy
from svclab.proxy.modes import mode_names

PACKAGE = Path(proxy.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    assert proxy.__all__ == sorted(proxy.__all__)
    for name in proxy.__all__:
        assert hasattr(proxy, name), name


@pytest.mark.parametrize(
    "module", [m.name for m in pkgutil.walk_packages(proxy.__path__, "svclab.proxy.")], ids=lambda name: name
)
def test_every_modules_all_is_sorted_and_resolves(module: str) -> None:
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", [])
    assert list(names) == sorted(names)
    assert [name for name in names if not hasattr(imported, name)] == []


def test_all_lists_every_public_import() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert imported == set(proxy.__all__)


def test_modes_do_not_import_each_other() -> None:
    packages = [name for name in mode_names() if (PACKAGE / name / "__init__.py").exists()]
    assert packages == ["iptables", "nftables", "ipvs", "userspace"]
    for mode in packages:
        for source in (PACKAGE / mode).glob("*.py"):
            text = source.read_text()
            for other in packages:
                if other != mode:
                    assert f"svclab.proxy.{other}" not in text, f"{source} imports {other}"


def test_adapters_know_no_mode() -> None:
    for source in (PACKAGE / "adapters").rglob("*.py"):
        text = source.read_text()
        for mode in mode_names():
            assert f"svclab.proxy.{mode}" not in text, f"{source} imports the {mode} mode"


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
