"""Every module of svclab.controllers (``slices`` included) declares a complete, sorted ``__all__``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import svclab.controllers

MODULES = sorted(m.name for m in pkgutil.walk_packages(svclab.controllers.__path__, prefix="svclab.controllers."))

pytestmark = pytest.mark.timeout(2)


@pytest.mark.parametrize("name", ["svclab.controllers", *MODULES])
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=str), f"{name}.__all__ is not sorted"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", None) == name
    }
    assert public <= set(exported), f"{name} leaves out {sorted(public - set(exported))}"
