"""Every module of svclab.testbed and svclab.run declares a sorted ``__all__`` naming its
public classes and functions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import svclab.run
import svclab.testbed

MODULES = sorted(
    m.name
    for package in (svclab.testbed, svclab.run)
    for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
)
# Packages whose __init__ only documents its modules.
NO_ALL = {"svclab.testbed", "svclab.testbed.local", "svclab.testbed.local.agent", "svclab.testbed.commands"}


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    if name in NO_ALL:
        assert not hasattr(module, "__all__") or module.__all__ == sorted(module.__all__)
        return
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", None) == name
    }
    assert public <= set(exported), f"{name} leaves out {sorted(public - set(exported))}"
