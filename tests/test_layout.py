"""The tree's habits, checked: small modules, short functions, tests that mirror the code.

Limits from the project's style: a module over 500 lines holds more than one
concept; a function over 60 lines does more than one thing.  tests/ mirrors
implementation/svclab/ so that the tests of a package are found where it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "implementation" / "svclab"
TESTS = ROOT / "tests"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# tests/ folders that hold data, or test what lives outside implementation/svclab (conformance/)
NOT_PACKAGES = {"golden", "data", "conformance_harness", "conformance_map", "__pycache__"}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py"))


def test_the_walk_sees_the_tree() -> None:
    # guards the checks below against passing on an empty or moved tree
    assert len(_sources()) > 100
    assert PACKAGE / "proxy" / "iptables" in _packages()


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small(path: Path) -> None:
    lines = path.read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it by concept"


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} ({length} lines, line {node.lineno})")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short(path: Path) -> None:
    assert _long_functions(path) == []


def test_long_function_check_counts_the_body(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert _long_functions(sample) == [f"long ({MAX_FUNCTION_LINES + 1} lines, line 1)"]


def _test_folders() -> list[Path]:
    return sorted(
        d for d in TESTS.rglob("*") if d.is_dir() and not NOT_PACKAGES.intersection(d.relative_to(TESTS).parts)
    )


@pytest.mark.parametrize("folder", _test_folders(), ids=lambda p: str(p.relative_to(TESTS)))
def test_test_folder_mirrors_a_package(folder: Path) -> None:
    package = PACKAGE / folder.relative_to(TESTS)
    assert (package / "__init__.py").exists(), f"no package svclab/{folder.relative_to(TESTS)} for these tests"


def _misplaced(test_file: Path) -> str | None:
    """The folder a test named after a subpackage belongs in, when it sits elsewhere."""
    folder = test_file.parent.relative_to(TESTS)
    stem = test_file.stem.removeprefix("test_")
    base = PACKAGE / folder
    for package in _packages():
        if base not in package.parents:
            continue
        if stem == package.name or stem.startswith(package.name + "_"):
            return str(Path("tests") / package.relative_to(PACKAGE))
    return None


@pytest.mark.parametrize("test_file", sorted(TESTS.rglob("test_*.py")), ids=lambda p: str(p.relative_to(TESTS)))
def test_tests_of_a_subpackage_live_in_its_folder(test_file: Path) -> None:
    if NOT_PACKAGES.intersection(test_file.relative_to(TESTS).parts):
        pytest.skip("not a test of implementation/svclab")
    assert _misplaced(test_file) is None, f"move it to {_misplaced(test_file)}/"
