"""Shared fixtures for the proxy tests: golden files, and which of them ``--update-golden`` may rewrite.

``tests/golden/iptables/overall.rules`` and ``tests/golden/nftables/overall.nft``
hold upstream's expected text (``TestOverallIPTablesRules``,
``TestOverallNFTablesRules``): they are read-only, our output must match
them, never the other way round. ``tests/golden/iptables/ipv6-nodeport-local.rules`` is upstream's text too
(its two IPv6 localhost-NodePort cases). ``tests/golden/ipvs/overall.txt``,
``tests/golden/userspace/overall.rules`` and the IPv6 twins of the overall
scenario (``iptables/overall-ipv6.rules``, ``nftables/overall-ipv6.nft``) are our own output (upstream has no
such overall test for ipvs, and removed the userspace mode), pinned so that
a change shows in review; ``--update-golden`` rewrites those only.
``tests/golden/explain/<mode>/recorded/`` holds dumps recorded on live
nodes (read-only, like upstream's text); ``explain/<mode>/<case>.txt`` is
``svclab explain``'s output over them (ours).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
#: the modes and cases ``svclab explain``'s golden outputs cover (tests/proxy/explain/test_recorded.py)
EXPLAIN_MODES = ("iptables", "nftables", "ipvs", "userspace")
EXPLAIN_CASES = ("web", "web-sticky", "web-local-nodeport", "nobody", "web-from-node", "web-hairpin")
#: golden files that are our own output; every other file under tests/golden is upstream's text or a recording
OWN_OUTPUT = frozenset(
    {
        "ipvs/overall.txt",
        "ipvs/overall-ipv6.txt",
        "userspace/overall.rules",
        "iptables/overall-ipv6.rules",
        "nftables/overall-ipv6.nft",
    }
    | {f"explain/{mode}/{case}.txt" for mode in EXPLAIN_MODES for case in EXPLAIN_CASES}
)


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="rewrite the golden files that are our own output (never upstream's expected text)",
        )
    except ValueError:  # another conftest registered it already
        pass


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture
def own_golden(request: pytest.FixtureRequest) -> Callable[[str, str], str]:
    """``own_golden(relative_path, current)``: the expected text of one of our own golden files,
    first rewritten to ``current`` under ``--update-golden``. Upstream's files are refused."""

    def expected(relative: str, current: str) -> str:
        if relative not in OWN_OUTPUT:
            raise ValueError(f"tests/golden/{relative} holds upstream's expected text: read it, never write it")
        path = GOLDEN / relative
        if request.config.getoption("--update-golden"):
            path.write_text(current)
        return path.read_text()

    return expected


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "root: needs root; runs in a throwaway network namespace")
