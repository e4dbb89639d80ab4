"""Builders for Services and EndpointSlices, plus upstream's overall test scenario.

Address plan (upstream ``proxier_test.go`` conventions):
pod IPs 10.0.0.0/8, ClusterIPs 172.30.0.0/16, node IPs 192.168.0.0/24 (this
node 192.168.0.2), external IPs 192.168.99.0/24, LoadBalancer IPs 1.2.3.4 and
5.6.7.8, non-cluster clients 203.0.113.0/24, LB source range 203.0.113.0/25.

IPv6 twin of that plan (``V6``, ours: upstream has no IPv6 overall case):
pod IPs fd00:10::/32 (endpoints fd00:10:180::N), ClusterIPs
fd00:172:30::4N, this node 2001:db8::2, external IPs 2001:db8:99::N,
LoadBalancer IPs 2001:db8:1::4 and 2001:db8:5::8, non-cluster clients
2001:db8:203::/48, LB source range 2001:db8:203::/49.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lightkube.models.core_v1 import (
    ClientIPConfig,
    LoadBalancerIngress,
    LoadBalancerStatus,
    ServicePort,
    ServiceSpec,
    ServiceStatus,
    SessionAffinityConfig,
)
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import IPFamily

TEST_NODE = "test-node"
TEST_NODE_IP = "192.168.0.2"
TEST_NODE_IPS = ("192.168.0.2", "192.168.1.2", "192.168.99.11")
CLUSTER_CIDR = "10.0.0.0/8"
EXTERNAL_CLIENT = "203.0.113.2"
EXTERNAL_CLIENT_BLOCKED = "203.0.113.130"
#: this node as upstream's fake proxiers see it
TEST_NODE_OPTIONS = NodeOptions(cluster_cidr=CLUSTER_CIDR, node_ips=(TEST_NODE_IP,))

#: every IPv4 address of the overall scenario and its IPv6 twin (see the module docstring)
V6 = {
    "10.0.0.0/8": "fd00:10::/32",
    "192.168.0.2": "2001:db8::2",
    "203.0.113.2": "2001:db8:203::2",
    "203.0.113.130": "2001:db8:203:8000::2",
    " 203.0.113.0/25": " 2001:db8:203::/49",
    "1.2.3.4": "2001:db8:1::4",
    "5.6.7.8": "2001:db8:5::8",
    "192.168.99.22": "2001:db8:99::22",
    "192.168.99.33": "2001:db8:99::33",
    **{f"172.30.0.4{n}": f"fd00:172:30::4{n}" for n in range(1, 7)},
    **{f"10.180.0.{n}": f"fd00:10:180::{n}" for n in range(1, 6)},
}
TEST_NODE_IP_V6 = V6[TEST_NODE_IP]
EXTERNAL_CLIENT_V6 = V6[EXTERNAL_CLIENT]
EXTERNAL_CLIENT_BLOCKED_V6 = V6[EXTERNAL_CLIENT_BLOCKED]
#: this node as an IPv6 proxier sees it
TEST_NODE_OPTIONS_V6 = NodeOptions(cluster_cidr=V6[CLUSTER_CIDR], node_ips=(TEST_NODE_IP_V6,), family=IPFamily.IPV6)


def service(
    ns: str, name: str, cluster_ip: str, *ports: tuple[str, int, int], protocol: str = "TCP", **spec: Any
) -> Service:
    """A Service; ports are (name, port, nodePort); ``lb_ip`` sets status ingress."""
    lb_ip = spec.pop("lb_ip", None)
    affinity = spec.pop("affinity_seconds", None)
    if affinity is not None:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = SessionAffinityConfig(clientIP=ClientIPConfig(timeoutSeconds=affinity))
    status = ServiceStatus(loadBalancer=LoadBalancerStatus(ingress=[LoadBalancerIngress(ip=lb_ip)] if lb_ip else None))
    return Service(
        metadata=ObjectMeta(namespace=ns, name=name),
        spec=ServiceSpec(
            clusterIP=cluster_ip,
            ports=[
                ServicePort(name=p, port=port, nodePort=node_port or None, protocol=protocol)
                for p, port, node_port in ports
            ],
            **{"type": "ClusterIP", **spec},
        ),
        status=status,
    )


def endpoint(
    ip: str,
    node: str | None = None,
    ready: bool | None = None,
    serving: bool | None = None,
    terminating: bool | None = None,
) -> Endpoint:
    """One EndpointSlice endpoint."""
    conditions = EndpointConditions(ready=ready, serving=serving, terminating=terminating)
    return Endpoint(addresses=[ip], nodeName=node, conditions=conditions)


def endpoint_slice(
    ns: str,
    svc: str,
    *endpoints: Endpoint,
    port: tuple[str, int] = ("p80", 80),
    protocol: str = "TCP",
    suffix: str = "1",
    trigger_time: str | None = None,
    address_type: str = "IPv4",
) -> EndpointSlice:
    """An EndpointSlice (IPv4 unless ``address_type``) of Service ``ns/svc`` with one port."""
    annotations = {"endpoints.kubernetes.io/last-change-trigger-time": trigger_time} if trigger_time else None
    return EndpointSlice(
        metadata=ObjectMeta(
            namespace=ns, name=f"{svc}-{suffix}", annotations=annotations, labels={"kubernetes.io/service-name": svc}
        ),
        addressType=address_type,
        endpoints=list(endpoints),
        ports=[EndpointPort(name=port[0], port=port[1], protocol=protocol)],
    )


def overall_scenario(family: IPFamily = IPFamily.IPV4) -> tuple[list[Service], list[EndpointSlice]]:
    """The Services and slices of upstream's TestOverall{IPTables,NFTables}Rules (IPv6: with ``V6``'s
    addresses, IPv6 slices)."""
    if family is IPFamily.IPV6:
        return _ipv6_twin(*overall_scenario())
    services = [
        service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)),
        service(
            "ns2",
            "svc2",
            "172.30.0.42",
            ("p80", 80, 3001),
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            lb_ip="1.2.3.4",
            externalIPs=["192.168.99.22"],
            healthCheckNodePort=30000,
        ),
        service("ns3", "svc3", "172.30.0.43", ("p80", 80, 3003), type="NodePort"),
        service("ns4", "svc4", "172.30.0.44", ("p80", 80, 0), type="NodePort", externalIPs=["192.168.99.33"]),
        service(
            "ns5",
            "svc5",
            "172.30.0.45",
            ("p80", 80, 3002),
            type="LoadBalancer",
            externalTrafficPolicy="Cluster",
            lb_ip="5.6.7.8",
            healthCheckNodePort=30000,
            loadBalancerSourceRanges=[" 203.0.113.0/25"],
            affinity_seconds=10800,
        ),
        service("ns6", "svc6", "172.30.0.46", ("p80", 80, 0)),
    ]
    slices = [
        endpoint_slice("ns1", "svc1", endpoint("10.180.0.1")),
        endpoint_slice("ns2", "svc2", endpoint("10.180.0.2")),
        endpoint_slice("ns3", "svc3", endpoint("10.180.0.3")),
        endpoint_slice("ns4", "svc4", endpoint("10.180.0.4"), endpoint("10.180.0.5", node=TEST_NODE)),
        endpoint_slice("ns5", "svc5", endpoint("10.180.0.3")),
    ]
    return services, slices


def _ipv6_twin(services: list[Service], slices: list[EndpointSlice]) -> tuple[list[Service], list[EndpointSlice]]:
    """The same objects with every address swapped for its ``V6`` twin (single-stack IPv6)."""

    def swap(value: Any) -> Any:
        return [swap(v) for v in value] if isinstance(value, list) else V6.get(value, value)

    for svc in services:
        spec = svc.spec
        spec.clusterIP = swap(spec.clusterIP)
        spec.externalIPs = swap(spec.externalIPs)
        spec.loadBalancerSourceRanges = swap(spec.loadBalancerSourceRanges)
        for ingress in svc.status.loadBalancer.ingress or ():
            ingress.ip = swap(ingress.ip)
    for eps in slices:
        eps.addressType = "IPv6"
        for ep in eps.endpoints:
            ep.addresses = swap(ep.addresses)
    return services, slices


async def until(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within 2,000 event-loop turns (not wall time): what a
    served proxier does with the fake API's events, without a clock in the test."""
    for _ in range(2000):
        if condition():
            return True
        await asyncio.sleep(0)
    return False
