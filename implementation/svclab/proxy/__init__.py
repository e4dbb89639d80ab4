"""svclab.proxy: the reference kube-proxy.

Shared model on top (upstream ``pkg/proxy``): service ports, endpoints, the two
change trackers, topology, the bounded-frequency runner and the ``Provider``
interface with its mode-agnostic ``Proxier``. One package per mode
(``iptables``, ``nftables``, ``ipvs``, ``userspace``), none importing another;
each has a pure ``plan`` (or ``rules``) part, a ``proxier`` backend and a
``mode`` module with its entry in the mode registry (``modes``), which
everything that offers modes reads. The modes reach the kernel only through
``adapters`` (iptables, nft, ipset, IPVS netlink; their fakes and packet
tracers in ``adapters.testing``). What several modes share instead of
copying sits up here: ``options`` (the node's settings every mode's options
embed), ``plan_cache`` and ``naming`` (the iptables and nftables backends'
per-port plans and chain-name hash), ``full_sync`` (when a backend rewrites
everything) and ``dump`` (how a mode's rules read from outside).
``command``/``service`` are the imperative shell.
"""

from svclab.proxy.endpoint import Endpoint, EndpointFactory, EndpointsMap
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker, EndpointsUpdateResult
from svclab.proxy.provider import ModeBackend, Provider, Proxier, ProxierOptions, ProxyState, SyncReport
from svclab.proxy.runner import BoundedFrequencyRunner
from svclab.proxy.service_change_tracker import ServiceChangeTracker, ServiceUpdateResult
from svclab.proxy.service_port import (
    IPFamily,
    Protocol,
    ServiceName,
    ServicePort,
    ServicePortFactory,
    ServicePortMap,
    ServicePortName,
)
from svclab.proxy.topology import CategorizedEndpoints, categorize_endpoints

__all__ = [
    "BoundedFrequencyRunner",
    "CategorizedEndpoints",
    "Endpoint",
    "EndpointFactory",
    "EndpointsChangeTracker",
    "EndpointsMap",
    "EndpointsUpdateResult",
    "IPFamily",
    "ModeBackend",
    "Protocol",
    "Provider",
    "Proxier",
    "ProxierOptions",
    "ProxyState",
    "ServiceChangeTracker",
    "ServiceName",
    "ServicePort",
    "ServicePortFactory",
    "ServicePortMap",
    "ServicePortName",
    "ServiceUpdateResult",
    "SyncReport",
    "categorize_endpoints",
]
