"""Routing by EndpointSlice hints (upstream ``pkg/proxy/topology_test.go`` cases, newest rules).

Plan: this proxy runs on node ``node-1`` in zone ``zone-a`` unless a case says
otherwise; endpoints are 10.1.2.3-10.1.2.6 port 80 (a, b, c, d), hinted for
zones ``zone-a``..``zone-d`` and for nodes ``node-1``..``node-3``. Hints count
without any Service annotation: whatever asked for them (``topology-mode:
Auto``, a ``trafficDistribution``), the proxy follows them.
"""

from __future__ import annotations

import pytest
from lightkube.models.discovery_v1 import EndpointHints, ForNode, ForZone

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.endpoints_change_tracker import endpoints_from_slice
from svclab.proxy.service_port import IPFamily, Protocol, ServiceName, ServicePort, ServicePortName
from svclab.proxy.topology import ZONE_LABEL, TopologyMode, categorize_endpoints, topology_mode

from .builders import endpoint, endpoint_slice

NODE = "node-1"
PORT = ServicePort(ServicePortName(ServiceName("ns", "svc"), "p80"), "172.30.0.1", 80, Protocol.TCP)
ETP_LOCAL = ServicePort(
    PORT.name, "172.30.0.1", 80, Protocol.TCP, node_port=30080, external_policy_local=True
)  # fmt: skip


def ep(
    last: int,
    zones: str = "",
    nodes: str = "",
    *,
    ready: bool = True,
    local: bool = False,
    terminating: bool = False,
) -> Endpoint:
    """Endpoint 10.1.2.<last>:80; ``zones``/``nodes`` are comma-separated hints."""
    node_hints = frozenset(filter(None, nodes.split(",")))
    return Endpoint(
        f"10.1.2.{last}",
        80,
        ready=ready,
        serving=ready or terminating,
        terminating=terminating,
        is_local=local,
        zone_hints=frozenset(filter(None, zones.split(","))),
        node_hints=node_hints,
        hinted_for_node=NODE in node_hints,
    )


def ips(endpoints: tuple[Endpoint, ...]) -> set[int]:
    return {int(e.ip.rsplit(".", 1)[1]) for e in endpoints}


ZONES_ABCA = [ep(3, "zone-a"), ep(4, "zone-b"), ep(5, "zone-c"), ep(6, "zone-a")]


@pytest.mark.parametrize(
    ("zone", "endpoints", "cluster"),
    [
        pytest.param("zone-a", ZONES_ABCA, {3, 6}, id="same-zone-filtering"),
        pytest.param(
            "zone-a", [ep(3, "zone-a"), ep(4, "zone-b"), ep(5, "zone-c"), ep(6, "zone-a", ready=False)], {3},
            id="unready-endpoint-in-zone-left-out",
        ),
        pytest.param(
            "zone-a",
            [ep(3, "zone-a", ready=False), ep(4, "zone-b"), ep(5, "zone-c"), ep(6, "zone-a", ready=False)],
            {4, 5},
            id="only-unready-in-zone-no-filtering",
        ),
        pytest.param(
            "zone-a", [ep(3, "zone-a"), ep(4, "zone-b"), ep(5), ep(6, "zone-a")], {3, 4, 5, 6},
            id="one-endpoint-without-hints-no-filtering",
        ),
        pytest.param(
            "zone-c",
            [ep(3, "zone-a,zone-b,zone-c"), ep(4, "zone-b,zone-c"), ep(5, "zone-b,zone-d"), ep(6, "zone-c")],
            {3, 4, 6},
            id="several-hints-per-endpoint",
        ),
        pytest.param("", [ep(3, "zone-a")], {3}, id="node-without-zone-label"),
        pytest.param("zone-b", [ep(3, "zone-a")], {3}, id="no-hint-for-this-zone-no-filtering"),
        pytest.param(
            "zone-a", [ep(3, "zone-b", ready=False, terminating=True), ep(4, "zone-a", ready=False)], {3},
            id="terminating-fallback-ignores-hints",
        ),
        pytest.param(
            "zone-a", [ep(3, "zone-a", NODE), ep(4, "zone-a", "node-2"), ep(5, "zone-b", "node-3")], {3},
            id="same-node",
        ),
        pytest.param(
            "zone-a", [ep(3, "zone-a", "node-2"), ep(4, "zone-a", "node-2"), ep(5, "zone-b", "node-3")], {3, 4},
            id="no-endpoint-for-this-node-falls-back-to-zone",
        ),
        pytest.param(
            "zone-a", [ep(3, "zone-a", NODE), ep(4, "zone-a"), ep(5, "zone-b", "node-3")], {3, 4},
            id="node-hints-incomplete-zone-used",
        ),
        pytest.param(
            "zone-a",
            [ep(3, "zone-a", NODE, ready=False), ep(4, "zone-a", "node-2"), ep(5, "zone-b", "node-3")],
            {4},
            id="this-nodes-endpoint-unready-falls-back-to-zone",
        ),
        pytest.param(
            "zone-c", [ep(3, "zone-a", "node-2"), ep(4, "zone-b", "node-3")], {3, 4},
            id="neither-node-nor-zone-hinted-no-filtering",
        ),
    ],
)  # fmt: skip
def test_cluster_endpoints_follow_hints(zone: str, endpoints: list[Endpoint], cluster: set[int]) -> None:
    labels = {ZONE_LABEL: zone} if zone else {}
    assert ips(categorize_endpoints(endpoints, PORT, labels).cluster) == cluster


def test_local_policy_ignores_topology_and_all_reachable_merges() -> None:
    """Upstream's "conflicting topology and localness require merging allEndpoints"."""
    endpoints = [
        ep(3, "zone-a", local=True),
        ep(4, "zone-b", local=True),
        ep(5, "zone-a"),
        ep(6, "zone-b"),
    ]
    result = categorize_endpoints(endpoints, ETP_LOCAL, {ZONE_LABEL: "zone-a"})
    assert (ips(result.cluster), ips(result.local), ips(result.all_reachable)) == ({3, 5}, {3, 4}, {3, 4, 5})


@pytest.mark.parametrize(
    ("endpoints", "zone", "mode"),
    [
        ([], "zone-a", TopologyMode.NONE),
        ([ep(3, "zone-a", NODE)], "zone-a", TopologyMode.SAME_NODE),
        ([ep(3, "zone-a", "node-2")], "zone-a", TopologyMode.SAME_ZONE),
        ([ep(3, "zone-a")], "zone-b", TopologyMode.NONE),
        ([ep(3, "zone-a", NODE, ready=False)], "zone-a", TopologyMode.NONE),
    ],
    ids=["no-endpoints", "node", "zone", "other-zone", "only-unready"],
)
def test_topology_mode(endpoints: list[Endpoint], zone: str, mode: str) -> None:
    assert topology_mode(endpoints, zone) == mode


def test_tracker_reads_zone_and_node_hints() -> None:
    hinted = endpoint("10.1.2.3", node=NODE)
    hinted.hints = EndpointHints(forZones=[ForZone(name="zone-a")], forNodes=[ForNode(name=NODE)])
    other = endpoint("10.1.2.4", node="node-2")
    other.hints = EndpointHints(forZones=[ForZone(name="zone-a")], forNodes=[ForNode(name="node-2")])
    parsed = endpoints_from_slice(endpoint_slice("ns", "svc", hinted, other), NODE, IPFamily.IPV4)
    assert parsed is not None
    found = {(e.ip, e.zone_hints, e.node_hints, e.hinted_for_node) for e in parsed[1][PORT.name]}
    assert found == {
        ("10.1.2.3", frozenset({"zone-a"}), frozenset({NODE}), True),
        ("10.1.2.4", frozenset({"zone-a"}), frozenset({"node-2"}), False),
    }
