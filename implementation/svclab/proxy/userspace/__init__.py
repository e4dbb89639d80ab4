"""userspace mode: the historic kube-proxy (removed upstream in 1.26), rebuilt for study.

Each TCP/UDP service port gets a listening socket in the proxy; iptables
portal rules (``rules``) steer ClusterIPs, external/LoadBalancer IPs and
NodePorts to it; the proxy picks an endpoint round robin with ClientIP
affinity and dial retries (``loadbalancer``) and relays bytes (``dial``, ``relay``:
splice in the kernel, ``tcp``; ``udp``: per-client sessions). ``proxier`` is the
``ModeBackend``; ``testing`` holds the fakes. The copy path's benchmark is
``svclab.bench.proxy_userspace``.
"""

from svclab.proxy.userspace.dial import BackendConnector, DialFailed, connect_backend, tcp_dialer
from svclab.proxy.userspace.loadbalancer import (
    ENDPOINT_DIAL_TIMEOUTS,
    EndpointAddress,
    MissingEndpoints,
    MissingServiceEntry,
    RoundRobinBalancer,
    dial_attempts,
)
from svclab.proxy.userspace.proxier import (
    PortAllocator,
    PortRangeExhausted,
    UserspaceOptions,
    UserspaceProxier,
    choose_host_ip,
    portal_for,
    usable_endpoints,
)
from svclab.proxy.userspace.relay import CopyMode
from svclab.proxy.userspace.rules import JUMP_RULES, Portal, RuleOptions, render_restore
from svclab.proxy.userspace.tcp import TcpProxySocket
from svclab.proxy.userspace.udp import DEFAULT_UDP_IDLE_TIMEOUT, UdpProxySocket, dial_udp

__all__ = [
    "BackendConnector",
    "CopyMode",
    "DEFAULT_UDP_IDLE_TIMEOUT",
    "DialFailed",
    "ENDPOINT_DIAL_TIMEOUTS",
    "EndpointAddress",
    "JUMP_RULES",
    "MissingEndpoints",
    "MissingServiceEntry",
    "PortAllocator",
    "PortRangeExhausted",
    "Portal",
    "RoundRobinBalancer",
    "RuleOptions",
    "TcpProxySocket",
    "UdpProxySocket",
    "UserspaceOptions",
    "UserspaceProxier",
    "choose_host_ip",
    "connect_backend",
    "dial_attempts",
    "dial_udp",
    "portal_for",
    "render_restore",
    "tcp_dialer",
    "usable_endpoints",
]
