"""Golden test: upstream's TestOverallNFTablesRules scenario renders to upstream's objects.

Address plan: see ``builders.py``; service CIDR 172.30.0.0/16, NodePort
address 192.168.0.2 as in upstream's nftables fake proxier.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.nftables.base import plan
from svclab.proxy.nftables.plan import NftOptions, make_endpoint, make_service_port
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_IP, TEST_NODE_OPTIONS, overall_scenario

OPTIONS = NftOptions(node=TEST_NODE_OPTIONS, service_cidrs=("172.30.0.0/16",), node_port_ips=(TEST_NODE_IP,))
_KIND_ORDER = {"table": 0, "set": 1, "map": 1, "chain": 2, "rule": 3, "element": 4}


def canonical(lines: list[str]) -> list[str]:
    """Sort objects; rules keep their order within a chain (upstream's nft test helper)."""
    kept = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]

    def key(line: str) -> tuple[int, str, str]:
        parts = line.split(" ", 5)
        kind = _KIND_ORDER[parts[1]]
        return (kind, parts[4].split(" ")[0] if len(parts) > 4 else "", "" if kind == 3 else line)

    return sorted(kept, key=key)


def render_overall() -> list[str]:
    services, slices = overall_scenario()
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, make_service_port)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    return plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, OPTIONS).dump()


def test_overall_rules_match_upstream(golden_dir: Path) -> None:
    """Upstream's expected text is read-only (see ``conftest.py``): no ``--update-golden`` here."""
    got, want = (
        canonical(render_overall()),
        canonical((golden_dir / "nftables" / "overall.nft").read_text().splitlines()),
    )
    diff = "\n".join(difflib.unified_diff(want, got, "upstream", "ours", lineterm=""))
    assert got == want, diff
