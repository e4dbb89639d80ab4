"""The plan cache the iptables and nftables backends share: name order, identity skip, re-plan, removal.

Address plan: ClusterIPs 172.30.0.0/16, pod IPs 10.180.0.0/16 (``builders.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.naming import hash8, hash16
from svclab.proxy.plan_cache import plan_all, replan, sorted_plans
from svclab.proxy.provider import ProxyState
from svclab.proxy.service_port import Protocol, ServiceName, ServicePort, ServicePortName


def spn(ns: str, name: str, port: str = "p80", protocol: Protocol = Protocol.TCP) -> ServicePortName:
    return ServicePortName(ServiceName(ns, name), port, protocol)


def port(name: ServicePortName, ip: str) -> ServicePort:
    return ServicePort(name=name, cluster_ip=ip, port=80, protocol=name.protocol)


A, B, B_UDP, C = spn("ns1", "a"), spn("ns1", "b"), spn("ns1", "b", protocol=Protocol.UDP), spn("ns2", "a")
PLANNED: list[ServicePortName] = []


def plan_port(
    name: ServicePortName, sp: ServicePort, eps: Sequence[Endpoint], labels: Mapping[str, str]
) -> tuple[str, ...]:
    PLANNED.append(name)
    return (str(name), *(str(ep) for ep in eps))


def state(
    ports: Mapping[ServicePortName, ServicePort],
    eps: Mapping[ServicePortName, tuple[Endpoint, ...]],
    *changed: ServicePortName,
) -> ProxyState:
    return ProxyState(ports, eps, "node", {}, frozenset(changed))


def test_full_plan_is_in_name_order() -> None:
    ports = {C: port(C, "172.30.0.3"), B_UDP: port(B_UDP, "172.30.0.2"), A: port(A, "172.30.0.1"), B: port(B, "")}
    cache = plan_all(state(ports, {}), plan_port)
    assert list(cache) == [A, B, B_UDP, C]  # namespace, Service, port, then TCP before UDP
    assert sorted_plans(cache) == [(str(n),) for n in (A, B, B_UDP, C)]


def test_replan_skips_unchanged_objects_replans_changed_and_drops_deleted() -> None:
    ports = {A: port(A, "172.30.0.1"), B: port(B, "172.30.0.2")}
    eps = {A: (Endpoint("10.180.0.1", 80),)}
    cache = plan_all(state(ports, eps), plan_port)
    PLANNED.clear()
    moved = {A: (Endpoint("10.180.0.9", 80),)}
    new_ports = {A: ports[A], C: port(C, "172.30.0.3")}  # B deleted, C added, A's endpoints moved
    updated, changes = replan(cache, state(new_ports, moved, A, B, C), plan_port)
    assert PLANNED == [A, C]
    assert [(c.name, c.old, c.new) for c in changes] == [
        (A, (str(A), "10.180.0.1:80"), (str(A), "10.180.0.9:80")),
        (B, (str(B),), None),
        (C, None, (str(C),)),
    ]
    assert set(updated) == {A, C} and set(cache) == {A, B}  # the old mapping is left as it was
    PLANNED.clear()
    again, changes = replan(updated, state(new_ports, moved, A), plan_port)
    assert (PLANNED, changes, again) == ([], [], updated)  # same objects: nothing re-planned


def test_chain_name_hashes_are_upstreams() -> None:
    assert hash16("ns1/svc1:p80tcp") == "XPGD46QRK7WJZT7O"
    assert hash8("ns1/svc1/tcp/p80") == "ULMVA6XW"
