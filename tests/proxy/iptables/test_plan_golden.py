"""Golden test: upstream's TestOverallIPTablesRules scenario renders to upstream's rules.

Address plan: see ``builders.py`` (upstream conventions; pod CIDR 10.0.0.0/8,
node 192.168.0.2, localhost NodePorts and nfacct counters enabled as in
upstream's fake proxier).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.iptables.plan import PlanOptions, make_endpoint, make_service_port, plan
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_OPTIONS, overall_scenario

OPTIONS = PlanOptions(node=TEST_NODE_OPTIONS, nfacct=True)


def sorted_by_chain(text: str) -> str:
    """Canonical form: per table, chain lines sorted, rules stably grouped by chain."""
    out: list[str] = []
    for block in text.strip().split("COMMIT"):
        lines = [ln for ln in block.strip().splitlines() if ln]
        if not lines:
            continue
        decls = sorted(ln for ln in lines if ln.startswith(":"))
        rules = [ln for ln in lines if ln.startswith("-")]
        rules.sort(key=lambda ln: ln.split()[1])  # stable: order within a chain kept
        out += [lines[0], *decls, *rules, "COMMIT"]
    return "\n".join(out)


def render_overall() -> str:
    services, slices = overall_scenario()
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, make_service_port)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    ports = svc_tracker.apply({}).service_ports
    endpoints = ep_tracker.apply({}).endpoints
    return plan(ports, endpoints, OPTIONS).render()


def test_overall_rules_match_upstream(golden_dir: Path) -> None:
    """Upstream's expected text is read-only (see ``conftest.py``): no ``--update-golden`` here."""
    got = sorted_by_chain(render_overall())
    want = sorted_by_chain((golden_dir / "iptables" / "overall.rules").read_text())
    diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "upstream", "ours", lineterm=""))
    assert got == want, diff
