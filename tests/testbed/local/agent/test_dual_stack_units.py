"""The node agent on a dual-stack node (issue 18): pure parts only.

Address plan: node 172.18.0.3 and fc00:f853:ccd:e793::3; pod CIDRs
10.244.1.0/24 (gateway .1, pods from .2) and fd00:10:244:1::/64 (gateway ::1,
pods from ::2); the tiny 10.244.9.0/30 (room for one pod) and
fd00:10:244:9::/126 (room for one pod too).
"""

from __future__ import annotations

import pytest

from svclab.testbed.local.agent.containers import container_env
from svclab.testbed.local.agent.ipam import IPAllocator, PodCIDRExhausted, PodIPAllocator
from svclab.testbed.local.agent.node import NodeOptions, node_manifest, node_status
from svclab.testbed.local.agent.sandbox import Sandbox
from svclab.testbed.local.agent.status import ContainerView, RunState, SandboxFacts, pod_status

DUAL_CIDRS = ("10.244.1.0/24", "fd00:10:244:1::/64")
NODE_IPS = ("172.18.0.3", "fc00:f853:ccd:e793::3")
T0 = "2026-01-01T00:00:00Z"


def _strs(addresses: object) -> list[str]:
    return [str(a) for a in addresses]  # type: ignore[attr-defined]


def test_ipv6_allocator_skips_the_network_and_gateway() -> None:
    ipam = IPAllocator("fd00:10:244:1::/64")
    assert _strs([ipam.allocate("a"), ipam.allocate("b")]) == ["fd00:10:244:1::2", "fd00:10:244:1::3"]
    with pytest.raises(ValueError):
        ipam.reserve("c", "fd00:10:244:1::1")  # cni0's


def test_dual_allocator_gives_one_address_per_family_primary_first() -> None:
    ipam = PodIPAllocator(DUAL_CIDRS)
    assert _strs(ipam.allocate("a")) == ["10.244.1.2", "fd00:10:244:1::2"]
    assert _strs(ipam.allocate("b")) == ["10.244.1.3", "fd00:10:244:1::3"]
    assert _strs(ipam.allocate("a")) == ["10.244.1.2", "fd00:10:244:1::2"]  # stable per key
    ipam.release("a")
    assert {k: _strs(v) for k, v in ipam.in_use().items()} == {"b": ["10.244.1.3", "fd00:10:244:1::3"]}
    assert _strs(ipam.networks) == list(DUAL_CIDRS)


def test_dual_allocator_is_all_or_nothing() -> None:
    ipam = PodIPAllocator(["10.244.1.0/24", "fd00:10:244:9::/126"])
    ipam.allocate("a")  # takes the one IPv6 pod address
    with pytest.raises(PodCIDRExhausted):
        ipam.allocate("b")
    assert set(ipam.in_use()) == {"a"}  # b's IPv4 address went back
    assert _strs(ipam.allocate("a")) == ["10.244.1.2", "fd00:10:244:9::2"]


def test_dual_allocator_reserves_each_address_in_its_family() -> None:
    ipam = PodIPAllocator(DUAL_CIDRS)
    ipam.reserve("old", ["fd00:10:244:1::7", "10.244.1.7"])  # order does not matter
    assert _strs(ipam.in_use()["old"]) == ["10.244.1.7", "fd00:10:244:1::7"]
    with pytest.raises(ValueError):
        ipam.reserve("other", ["fd00:10:244:2::2"])  # another node's CIDR
    with pytest.raises(ValueError):
        ipam.reserve("other", ["10.244.1.7"])  # taken


def test_sandbox_records_from_before_dual_stack_still_load() -> None:
    old = Sandbox("u", "ns", "p", "netns", "veth", "10.244.1.2", 0, 0, "/nonexistent")
    assert old.ips == ("10.244.1.2",)
    dual = Sandbox("u", "ns", "p", "netns", "veth", "10.244.1.2", 0, 0, "/x", secondary_ip="fd00:10:244:1::2")
    assert dual.ips == ("10.244.1.2", "fd00:10:244:1::2")


def test_dual_node_registers_both_cidrs_and_both_internal_ips() -> None:
    options = NodeOptions("n", ",".join(NODE_IPS), ",".join(DUAL_CIDRS))
    assert node_manifest(options)["spec"] == {"podCIDR": DUAL_CIDRS[0], "podCIDRs": list(DUAL_CIDRS)}
    addresses = node_status(options, T0)["addresses"]
    assert addresses == [
        {"type": "InternalIP", "address": NODE_IPS[0]},
        {"type": "InternalIP", "address": NODE_IPS[1]},
        {"type": "Hostname", "address": "n"},
    ]


def test_dual_pod_status_lists_both_families_primary_first() -> None:
    pod_ips = ("10.244.1.2", "fd00:10:244:1::2")
    facts = SandboxFacts(pod_ips[0], NODE_IPS[0], T0, pod_ips, NODE_IPS)
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}]}, "status": {}}
    view = ContainerView(name="c", image="i", state=RunState.RUNNING, started_at=T0, ready=True)
    status = pod_status(pod, [view], facts, T0)
    assert status["podIP"] == pod_ips[0] and status["hostIP"] == NODE_IPS[0]
    assert status["podIPs"] == [{"ip": pod_ips[0]}, {"ip": pod_ips[1]}]
    assert status["hostIPs"] == [{"ip": NODE_IPS[0]}, {"ip": NODE_IPS[1]}]


def test_downward_api_plural_ip_fields_are_comma_separated() -> None:
    fields = ("status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs")
    container = {"env": [{"name": f.replace(".", "_"), "valueFrom": {"fieldRef": {"fieldPath": f}}} for f in fields]}
    env = container_env(container, {"metadata": {"name": "p"}}, ["10.244.1.2", "fd00:10:244:1::2"], NODE_IPS)
    assert [env[f.replace(".", "_")] for f in fields] == [
        "10.244.1.2",
        "10.244.1.2,fd00:10:244:1::2",
        NODE_IPS[0],
        ",".join(NODE_IPS),
    ]
