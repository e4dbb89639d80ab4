"""The ipvs proxier's partial syncs against a whole re-plan, over random change sequences.

Address plan: ClusterIPs 172.30.0.1-4 (fewer than Services, so ports of
different Services share bound addresses and set entries), pod IPs
10.180.0.1-6, this node 192.168.0.2 on eth0 (the fake's default devices),
external IPs 192.168.99.1-2 (one is also used as a LoadBalancer IP),
LoadBalancer IPs 1.2.3.4 / 5.6.7.8, source ranges 203.0.113.0/25 (excludes
the node) and 192.168.0.0/24 (admits it), NodePorts 30001-30003 (may collide).

After every sync: the incremental planner's ruleset equals ``plan`` of the
whole state, and the fake kernel equals a fresh proxier's after one full
sync of that state, but for TCP real servers still draining connections
(clients are put on random real servers); once the clients leave, one more
sync without changes removes those too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from types import SimpleNamespace
from typing import Any

import pytest
from lightkube.models.discovery_v1 import EndpointHints, ForZone

from svclab.proxy.ipvs.plan import IpvsOptions, plan
from svclab.proxy.ipvs.testing import IpvsFakes
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions, ProxyState

from ..builders import TEST_NODE, TEST_NODE_IP, endpoint, endpoint_slice, service

OPTIONS = IpvsOptions(node=NodeOptions(cluster_cidr="10.0.0.0/8", node_ips=(TEST_NODE_IP,)))
SERVICES = [("ns1", "a"), ("ns1", "b"), ("ns2", "a"), ("ns2", "c"), ("ns3", "d")]
CLUSTER_IPS = [f"172.30.0.{i}" for i in range(1, 5)]
POD_IPS = [f"10.180.0.{i}" for i in range(1, 7)]
EXTERNAL_IPS = ["192.168.99.1", "192.168.99.2"]
LB_IPS = ["1.2.3.4", "5.6.7.8", "192.168.99.1"]
SOURCE_RANGES = ["203.0.113.0/25", "192.168.0.0/24"]
PORTS = [("http", 80), ("alt", 8080)]
ZONE = "topology.kubernetes.io/zone"


def random_service(rng: random.Random, ns: str, name: str) -> Any:
    """A Service with random ports, type, policies, affinity, external and LoadBalancer IPs."""
    kind = rng.choice(["ClusterIP", "NodePort", "LoadBalancer"])
    ports = [
        (p, number, rng.choice([0, 30001, 30002, 30003]) if kind != "ClusterIP" else 0)
        for p, number in rng.sample(PORTS, rng.randint(1, 2))
    ]
    spec: dict[str, Any] = {"type": kind, "protocol": rng.choice(["TCP", "TCP", "UDP", "SCTP"])}
    if rng.random() < 0.4:
        spec["externalIPs"] = rng.sample(EXTERNAL_IPS, rng.randint(1, 2))
    if rng.random() < 0.3:
        spec["affinity_seconds"] = rng.choice([60, 10800])
    if kind != "ClusterIP" and rng.random() < 0.5:
        spec["externalTrafficPolicy"] = "Local"
        spec["healthCheckNodePort"] = rng.choice([31000, 31001])
    if rng.random() < 0.2:
        spec["internalTrafficPolicy"] = "Local"
    if kind == "LoadBalancer":
        spec["lb_ip"] = rng.choice(LB_IPS)
        if rng.random() < 0.5:
            spec["loadBalancerSourceRanges"] = rng.sample(SOURCE_RANGES, rng.randint(1, 2))
    svc = service(ns, name, rng.choice(CLUSTER_IPS), *ports, **spec)
    if rng.random() < 0.3:
        assert svc.metadata is not None
        svc.metadata.annotations = {"service.kubernetes.io/topology-mode": "Auto"}
    return svc


def random_slice(rng: random.Random, ns: str, name: str, svc: Any) -> Any:
    """An EndpointSlice for one of ``svc``'s ports, with random pods, nodes, conditions and zones."""
    port = rng.choice(svc.spec.ports)
    pods = []
    for ip in rng.sample(POD_IPS, rng.randint(0, 4)):
        pod = endpoint(
            ip,
            node=rng.choice([TEST_NODE, "other-node"]),
            ready=rng.random() < 0.8,
            serving=True,
            terminating=rng.random() < 0.2,
        )
        if rng.random() < 0.7:
            pod.hints = EndpointHints(forZones=[ForZone(name=rng.choice(["z1", "z2"]))])
        pods.append(pod)
    return endpoint_slice(ns, name, *pods, port=(port.name, port.port), protocol=port.protocol, suffix=port.name)


class World:
    """The Services and slices one proxier was told about, and a random change to them."""

    def __init__(self, rng: random.Random, proxier: Proxier) -> None:
        self.rng, self.proxier = rng, proxier
        self.services: dict[tuple[str, str], Any] = {}
        self.slices: dict[tuple[str, str, str], Any] = {}

    def change(self) -> None:
        key = self.rng.choice(SERVICES)
        old = self.services.get(key)
        roll = self.rng.random()
        if old is None or roll < 0.35:  # add, or change ports/type/IPs/policies/affinity
            self.services[key] = random_service(self.rng, *key)
            self.proxier.on_service(old, self.services[key])
        elif roll < 0.75:
            sl = random_slice(self.rng, *key, old)
            self.slices[(*key, sl.metadata.name)] = sl
            self.proxier.on_endpoint_slice(sl)
        elif roll < 0.85:
            for slice_key in [k for k in self.slices if k[:2] == key][:1]:
                self.proxier.on_endpoint_slice(self.slices.pop(slice_key), removed=True)
        elif roll < 0.95:
            self.proxier.on_service(self.services.pop(key), None)
        else:
            self.proxier.on_node(
                SimpleNamespace(metadata=SimpleNamespace(labels={ZONE: self.rng.choice(["z1", "z2"])}))
            )


def kernel(fake: IpvsFakes) -> dict[str, Any]:
    """What a fake kernel holds, without the call records and real servers draining connections."""
    serving = {
        key: {status.server for status in servers.values() if status.server.weight or status.idle}
        for key, servers in fake.ipvs.destinations.items()
    }
    return {
        "services": fake.ipvs.services,
        "real_servers": serving,
        "devices": fake.ipvs.devices,
        "ipsets": fake.ipset.sets,
        "tables": fake.iptables.tables,
    }


def add_clients(rng: random.Random, fake: IpvsFakes) -> None:
    """Connections on one random real server, so removing its endpoint drains it."""
    ipvs = fake.ipvs
    busy = [
        (ipvs.services[key], status.server) for key, servers in ipvs.destinations.items() for status in servers.values()
    ]
    if busy:
        vs, rs = rng.choice(busy)
        ipvs.set_connections(vs, rs, active=rng.randint(0, 2), inactive=rng.randint(0, 1))


def full_sync_of(proxier: Proxier) -> tuple[IpvsFakes, dict[str, int]]:
    """A fresh proxier's full sync of ``proxier``'s current state."""
    fake = IpvsFakes()
    state = ProxyState(proxier.service_ports, proxier.endpoints, TEST_NODE, proxier.node_labels, frozenset())
    counts = fake.backend(OPTIONS).sync_rules(state)
    return fake, counts


@pytest.mark.parametrize("seed", range(40), ids=lambda seed: f"seed-{seed}")
def test_partial_syncs_equal_a_whole_plan_and_a_full_sync(seed: int) -> None:
    rng = random.Random(seed)
    fake = IpvsFakes()
    backend = fake.backend(OPTIONS)
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE))
    world = World(rng, proxier)
    for step in range(30):
        for _ in range(rng.randint(1, 3)):
            world.change()
        report = asyncio.run(proxier.sync())
        assert report.full == (step == 0)
        has_node_ports = any(p.node_port for p in proxier.service_ports.values())
        opts = dataclasses.replace(OPTIONS, node_port_ips=(TEST_NODE_IP,) if has_node_ports else ())
        assert backend.applied == plan(proxier.service_ports, proxier.endpoints, opts, proxier.node_labels)
        reference, counts = full_sync_of(proxier)
        assert kernel(fake) == kernel(reference), f"step {step}"
        assert report.rules_by_table == counts
        add_clients(rng, fake)
    for key, vs in fake.ipvs.services.items():  # clients leave: the next sync finishes draining
        for status in list(fake.ipvs.destinations[key].values()):
            fake.ipvs.set_connections(vs, status.server, active=0)
    asyncio.run(proxier.sync())
    assert (fake.ipvs.services, fake.ipvs.destinations) == (reference.ipvs.services, reference.ipvs.destinations)
    assert not backend.draining


def test_failed_planning_makes_the_next_sync_full() -> None:
    """The changes a failed sync consumed are gone, so the next sync must not be partial."""
    fake = IpvsFakes()
    backend = fake.backend(OPTIONS)
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE))
    proxier.on_service(None, service("ns1", "web", "172.30.0.1", ("http", 80, 0)))
    asyncio.run(proxier.sync())
    proxier.on_service(None, service("ns1", "np", "172.30.0.2", ("http", 80, 30001), type="NodePort"))
    broken = fake.ipvs.local_addresses
    fake.ipvs.local_addresses = None  # type: ignore[assignment,method-assign]
    with pytest.raises(TypeError):
        asyncio.run(proxier.sync())
    fake.ipvs.local_addresses = broken  # type: ignore[method-assign]
    assert asyncio.run(proxier.sync()).full
    assert sorted(str(vs) for vs in fake.ipvs.services.values()) == [
        "172.30.0.1:80/TCP",
        "172.30.0.2:80/TCP",
        "192.168.0.2:30001/TCP",
    ]
