"""Golden files: upstream's expected text is read-only, ``--update-golden`` rewrites only our own output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import OWN_OUTPUT

TESTS = Path(__file__).resolve().parent
UPSTREAM = {"iptables/overall.rules", "nftables/overall.nft", "iptables/ipv6-nodeport-local.rules"}


def test_every_golden_file_is_upstreams_ours_or_recorded(golden_dir: Path) -> None:
    files = {str(p.relative_to(golden_dir)) for p in golden_dir.rglob("*") if p.is_file() and p.name != "README.md"}
    recorded = {f for f in files if f.startswith("explain/") and "/recorded/" in f}
    assert files - recorded == UPSTREAM | OWN_OUTPUT and not UPSTREAM & OWN_OUTPUT
    assert not recorded & OWN_OUTPUT


def test_upstream_text_cannot_be_rewritten(own_golden: Callable[[str, str], str]) -> None:
    for relative in sorted(UPSTREAM):
        with pytest.raises(ValueError, match="upstream's expected text"):
            own_golden(relative, "our output")


def test_no_test_writes_golden_files_itself() -> None:
    for source in TESTS.rglob("*.py"):
        if source.name in ("conftest.py", Path(__file__).name):
            continue
        text = source.read_text()
        assert not ("golden" in text and "write_text" in text), f"{source} writes a golden file"
