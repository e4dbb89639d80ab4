"""The Services and EndpointSlices `svclab bench proxy` programs, and the changes it makes.

Address plan: Service ``bench/svc-I`` has ClusterIP 172.30.0.0/16 + I + 1,
one TCP port ``http`` 80 -> 8080, and one EndpointSlice with E ready endpoints
on another node, pod IPs 10.0.0.0/8 + I*E + K + 1. Replacement endpoints for
the changes come from 10.200.0.0/16, so they never collide with the original
ones. Building the objects is side-effect-free.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

__all__ = ["BENCH_NAMESPACE", "NODE_IP", "NODE_NAME", "Scenario", "build_scenario", "endpoint_change", "service_change"]

BENCH_NAMESPACE = "bench"
#: the node the proxy runs on; every endpoint is on another node (no local-ness shortcuts)
NODE_NAME = "bench-node"
NODE_IP = "192.168.0.2"
_OTHER_NODE = "bench-node-2"
_CLUSTER_IPS = ipaddress.ip_network("172.30.0.0/16")
_POD_IPS = ipaddress.ip_network("10.0.0.0/8")
_SPARE_POD_IPS = ipaddress.ip_network("10.200.0.0/16")


@dataclass(frozen=True, slots=True)
class Scenario:
    """N Services and their EndpointSlices, index-aligned."""

    services: tuple[Service, ...]
    slices: tuple[EndpointSlice, ...]
    endpoints_per_service: int


def _service(index: int, *, affinity: bool = False) -> Service:
    spec = ServiceSpec(
        type="ClusterIP",
        clusterIP=str(_CLUSTER_IPS[index + 1]),
        ports=[ServicePort(name="http", port=80, targetPort=8080, protocol="TCP")],
        sessionAffinity="ClientIP" if affinity else "None",
    )
    return Service(metadata=ObjectMeta(namespace=BENCH_NAMESPACE, name=f"svc-{index}"), spec=spec)


def _slice(index: int, ips: list[str]) -> EndpointSlice:
    ready = EndpointConditions(ready=True, serving=True, terminating=False)
    return EndpointSlice(
        metadata=ObjectMeta(
            namespace=BENCH_NAMESPACE, name=f"svc-{index}-1", labels={"kubernetes.io/service-name": f"svc-{index}"}
        ),
        addressType="IPv4",
        ports=[EndpointPort(name="http", port=8080, protocol="TCP")],
        endpoints=[Endpoint(addresses=[ip], nodeName=_OTHER_NODE, conditions=ready) for ip in ips],
    )


def _pod_ips(index: int, count: int) -> list[str]:
    first = index * count + 1
    return [str(_POD_IPS[first + k]) for k in range(count)]


def build_scenario(services: int, endpoints_per_service: int) -> Scenario:
    """``services`` Services with ``endpoints_per_service`` ready endpoints each."""
    if services > _CLUSTER_IPS.num_addresses - 2:
        raise ValueError(f"at most {_CLUSTER_IPS.num_addresses - 2} Services fit the ClusterIP range")
    return Scenario(
        tuple(_service(i) for i in range(services)),
        tuple(_slice(i, _pod_ips(i, endpoints_per_service)) for i in range(services)),
        endpoints_per_service,
    )


def endpoint_change(scenario: Scenario, index: int, generation: int) -> EndpointSlice:
    """Service ``index``'s slice with its first endpoint replaced (a pod rescheduled).

    Each ``generation`` gives a different replacement address, so successive
    changes of one Service are all real changes.
    """
    ips = _pod_ips(index, scenario.endpoints_per_service)
    ips[0] = str(_SPARE_POD_IPS[1 + generation % (_SPARE_POD_IPS.num_addresses - 2)])
    return _slice(index, ips)


def service_change(index: int, *, affinity: bool) -> Service:
    """Service ``index`` with ClientIP session affinity switched on or off."""
    return _service(index, affinity=affinity)
