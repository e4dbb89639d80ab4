"""Shared fixtures for the proxy tests: golden-file handling."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="rewrite tests/golden files from the current output",
        )
    except ValueError:  # another conftest registered it already
        pass


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "root: needs root; runs in a throwaway network namespace")
