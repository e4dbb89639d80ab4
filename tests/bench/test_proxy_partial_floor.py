"""The partial-sync floor of `svclab bench proxy`: its commands, its cleanup and its report line.

Address plan: none (the floor touches no address). The root tests work in a
fresh ``svclab-floor-<pid>-<mode>`` namespace that is deleted afterwards,
even when they fail. No timing assertions: the floor is a figure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from svclab.bench.proxy_partial_floor import FLOOR_CHAIN, partial_floor
from svclab.bench.proxy_report import ModeResult, render_result, result_from_json

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables-restore") or not shutil.which("nft"),
    reason="needs root, iptables and nft",
)


def test_only_the_modes_whose_partial_sync_commits_rules_have_a_floor() -> None:
    assert partial_floor("ipvs") is None and partial_floor("userspace") is None
    iptables, nftables = partial_floor("iptables"), partial_floor("nftables")
    assert iptables is not None and nftables is not None
    assert iptables.argv == ("iptables-restore", "-w", "--noflush")
    # one rule with a verdict (validated by the kernel) into a chain nothing jumps to
    assert f"-A {FLOOR_CHAIN} " in iptables.add and "-j RETURN" in iptables.add
    assert f"-X {FLOOR_CHAIN}" in iptables.remove
    assert "add rule ip kube-proxy kube-bench-floor counter return" in nftables.add
    assert "delete chain ip kube-proxy kube-bench-floor" in nftables.remove


def _result(kernel_floor: dict[str, object] | None) -> str:
    result = ModeResult("iptables", 10_000, 10, kernel="6.18")
    record = {"calls": {}, "tool_seconds": 0.3, "processes": 4, "process_names": ["iptables-restore"]}
    partial: dict[str, object] = {
        "step": "partial",
        "samples": [0.3, 0.35, 0.4],
        "median": 0.35,
        "runs": [{"seconds": s, "full": False, **record} for s in (0.3, 0.35, 0.4)],
    }
    if kernel_floor is not None:
        partial["kernel_floor"] = kernel_floor
    result.steps = {"partial": partial}
    return render_result(result_from_json(result.to_json()))


def test_report_shows_the_kernel_floor_beside_the_partial_sync() -> None:
    floor = {"samples": [0.25, 0.28, 0.31], "median": 0.28, "command": "iptables-restore -w --noflush"}
    text = _result(floor)
    assert re.search(
        r"partial floor \(kernel validation\)\s+median 280\.0 ms \(min 250\.0 ms, max 310\.0 ms; "
        r"iptables-restore -w --noflush of one rule\)",
        text,
    ), text
    assert "partial floor" not in _result(None)


@pytest.fixture
def netns(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"svclab-floor-{os.getpid()}-{request.node.callspec.params['mode']}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _run(netns: str, *argv: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], input=data, text=True, capture_output=True)


def _floor_chain_listing(netns: str, mode: str) -> str:
    if mode == "iptables":
        return _run(netns, "iptables-save", "-t", "nat").stdout
    return _run(netns, "nft", "list", "table", "ip", "kube-proxy").stdout


def _floor_rules(netns: str, mode: str) -> list[str]:
    """The floor chain's rules ("" lines dropped), as the tools list them."""
    if mode == "iptables":
        return [line for line in _floor_chain_listing(netns, mode).splitlines() if line.startswith(f"-A {FLOOR_CHAIN}")]
    listing = _run(netns, "nft", "list", "chain", "ip", "kube-proxy", FLOOR_CHAIN.lower()).stdout
    return [line.strip() for line in listing.splitlines() if "return" in line]


@needs_root
@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_floor_adds_one_rule_and_its_cleanup_leaves_nothing(netns: str, mode: str) -> None:
    floor = partial_floor(mode)
    assert floor is not None
    if mode == "nftables":  # the proxy's table exists when the bench measures
        assert _run(netns, "nft", "add", "table", "ip", "kube-proxy").returncode == 0
    chain = FLOOR_CHAIN if mode == "iptables" else FLOOR_CHAIN.lower()
    for _ in range(2):  # repeatable: each sample starts from a clean table
        added = _run(netns, *floor.argv, data=floor.add)
        assert added.returncode == 0, added.stderr
        assert len(_floor_rules(netns, mode)) == 1
        removed = _run(netns, *floor.argv, data=floor.remove)
        assert removed.returncode == 0, removed.stderr
        assert chain not in _floor_chain_listing(netns, mode)
