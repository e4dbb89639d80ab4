"""Service ports as kube-proxy sees them (upstream ``pkg/proxy/serviceport.go``).

A Service with N ports becomes N independent *service ports*, each keyed by a
``ServicePortName`` (namespace, name, port name, protocol). The value holds
every field a proxy mode needs, already normalised: addresses parsed for one IP
family, traffic policies resolved to booleans, session-affinity timeout in
seconds (0 means no affinity).

Modes add their own precomputed fields (chain names) by subclassing
``ServicePort`` and passing a factory to the change tracker, as upstream's
``newServiceInfo`` callback does. Everything here is pure.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_AFFINITY_TIMEOUT_SECONDS",
    "IPFamily",
    "Protocol",
    "ServiceName",
    "ServicePort",
    "ServicePortFactory",
    "ServicePortMap",
    "ServicePortName",
    "service_ports_from_service",
    "sloppy_address",
]

#: ``sessionAffinityConfig.clientIP.timeoutSeconds`` default (3 hours).
DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800


class Protocol(str, enum.Enum):
    """L4 protocol of a service port, spelled as the API spells it."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"

    @property
    def l4(self) -> str:
        """The lower-case spelling used by iptables and nft (``tcp``)."""
        return self.value.lower()


class IPFamily(str, enum.Enum):
    """The address family one proxier instance handles."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"

    def owns(self, address: str) -> bool:
        """Whether ``address`` (an IP or CIDR) belongs to this family."""
        try:
            version = ipaddress.ip_network(address.strip(), strict=False).version
        except ValueError:
            return False
        return version == (4 if self is IPFamily.IPV4 else 6)


@dataclass(frozen=True, slots=True, order=True)
class ServiceName:
    """namespace/name of a Service (never joined into one string as a key)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class ServicePortName:
    """One port of one Service; ``str()`` gives upstream's ``ns/name:port``."""

    service: ServiceName
    port: str
    protocol: Protocol = Protocol.TCP

    def __str__(self) -> str:
        return f"{self.service}:{self.port}" if self.port else str(self.service)


@dataclass(frozen=True, slots=True)
class ServicePort:
    """What a proxy needs to know about one service port (upstream BaseServicePortInfo).

    ``external_policy_local`` is true only for NodePort/LoadBalancer Services
    with ``externalTrafficPolicy: Local``; ``health_check_node_port`` is set only
    for LoadBalancers with that policy, as upstream's ``NeedsHealthCheck``. No
    topology field: the proxy follows EndpointSlice hints whatever asked for them
    (upstream dropped its topology-annotation check when node hints came).
    """

    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: Protocol
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_vips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    session_affinity_seconds: int = 0
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def externally_accessible(self) -> bool:
        """Reachable from outside the cluster (NodePort, external or LB IPs)."""
        return bool(self.node_port or self.external_ips or self.load_balancer_vips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Some traffic class (internal or external) uses Cluster policy."""
        return (not self.internal_policy_local) or (self.externally_accessible and not self.external_policy_local)

    @property
    def uses_local_endpoints(self) -> bool:
        """Some traffic class (internal or external) uses Local policy."""
        return self.internal_policy_local or (self.externally_accessible and self.external_policy_local)


ServicePortMap = Mapping[ServicePortName, ServicePort]
ServicePortFactory = Callable[[ServicePort], ServicePort]


def _get(obj: Any, *path: str) -> Any:
    for attr in path:
        if obj is None:
            return None
        obj = getattr(obj, attr, None)
    return obj


def sloppy_address(text: str) -> str:
    """An address or CIDR as upstream's ``ParseIPSloppy``/``ParseCIDRSloppy`` then ``String()`` write it:
    IPv4 leading zeros read as decimal (old API servers accepted them), the canonical spelling, a
    CIDR's host bits cleared: ``172.30.0.041`` -> ``172.30.0.41``, ``203.0.113.000/025`` ->
    ``203.0.113.0/25``. Text that is no address comes back stripped but unchanged."""
    address, slash, prefix = text.strip().partition("/")
    octets = address.split(".")
    if len(octets) == 4 and all(o.isdigit() for o in octets):
        address = ".".join(str(int(o)) for o in octets)
    if slash and prefix.isdigit():
        prefix = str(int(prefix))
    try:
        return str(
            ipaddress.ip_network(f"{address}/{prefix}", strict=False) if slash else ipaddress.ip_address(address)
        )
    except ValueError:
        return address + slash + prefix


def _family_ips(family: IPFamily, values: Any) -> tuple[str, ...]:
    return tuple(ip for v in (values or ()) if v for ip in (sloppy_address(v),) if family.owns(ip))


def service_ports_from_service(
    service: Any,
    family: IPFamily,
    factory: ServicePortFactory | None = None,
) -> dict[ServicePortName, ServicePort]:
    """Split a Service (lightkube model or look-alike) into its service ports.

    Side-effect-free. Returns {} for Services a proxy ignores: ExternalName,
    headless (``clusterIP: None`` or empty) and Services without a ClusterIP of
    ``family`` (upstream ``ShouldSkipService`` plus family filtering).
    """
    spec = service.spec
    if spec is None or spec.type == "ExternalName":
        return {}
    cluster_ips = list(spec.clusterIPs or ([spec.clusterIP] if spec.clusterIP else []))
    family_ips = [ip for ip in map(sloppy_address, cluster_ips) if ip != "None" and family.owns(ip)]
    if not family_ips:
        return {}
    name = ServiceName(service.metadata.namespace or "default", service.metadata.name)
    node_port_capable = spec.type in ("NodePort", "LoadBalancer")
    external_local = node_port_capable and spec.externalTrafficPolicy == "Local"
    affinity = 0
    if spec.sessionAffinity == "ClientIP":
        affinity = _get(spec, "sessionAffinityConfig", "clientIP", "timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT_SECONDS
    ingress = _get(service, "status", "loadBalancer", "ingress") or ()
    lb_ips = _family_ips(family, [i.ip for i in ingress if i.ip]) if spec.type == "LoadBalancer" else ()
    result: dict[ServicePortName, ServicePort] = {}
    for port in spec.ports or ():
        protocol = Protocol(port.protocol or "TCP")
        port_name = ServicePortName(name, port.name or "", protocol)
        base = ServicePort(
            name=port_name,
            cluster_ip=family_ips[0],
            port=port.port,
            protocol=protocol,
            node_port=(port.nodePort or 0) if node_port_capable else 0,
            external_ips=_family_ips(family, spec.externalIPs),
            load_balancer_vips=lb_ips,
            load_balancer_source_ranges=_family_ips(family, spec.loadBalancerSourceRanges) if lb_ips else (),
            session_affinity_seconds=affinity,
            external_policy_local=external_local,
            internal_policy_local=spec.internalTrafficPolicy == "Local",
            health_check_node_port=(spec.healthCheckNodePort or 0)
            if external_local and spec.type == "LoadBalancer"
            else 0,
        )
        result[port_name] = factory(base) if factory else base
    return result
