"""userspace mode, imperative part: proxy sockets plus one ``iptables-restore`` per sync.

``UserspaceProxier`` is the ``ModeBackend``. Each ``sync_rules``:

1. closes the proxy sockets of service ports that went away or whose
   addressing changed (upstream ``sameConfig``), releasing their proxy ports;
2. opens a listening socket for each new TCP/UDP service port on a port from
   the ``PortAllocator`` (kernel-chosen by default), bound on the listen IP
   (all addresses of the node by default), and holds each NodePort open with
   a bound socket so no other program can take it (upstream ``claimNodePort``);
3. gives the balancer each port's affinity and usable endpoints (ready ones,
   serving-terminating as fallback; ``internalTrafficPolicy: Local`` keeps
   local ones only) and drops expired affinity records;
4. applies the portal rules with one ``iptables-restore --noflush`` through
   the iptables adapter (``svclab.proxy.adapters.iptables``, shared with the
   iptables and ipvs modes).

Steps 1-3 visit only the service ports that changed since the last sync (and
those whose socket failed to open), and step 4 sends only their rules: ``-D``
for the rules a portal no longer has, ``-A`` for its new ones
(``rules.render_changes``); an idle sync sends nothing. A full sync (the
first, after a failure, after our chain vanished or the node's labels
changed) visits every port and rewrites every chain (``rules.render_restore``).

The jumps from the built-in chains are ensured on the first sync, after a
failure and whenever our chain vanished (someone flushed the nat table).
SCTP service ports are skipped: the historic mode never proxied SCTP. The
backend must be driven from a running event loop (``Proxier.sync`` is), since
its sockets are served by that loop.
"""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.iptables import IptablesExecutor
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.full_sync import FullSyncBookkeeping
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import Protocol, ServicePort, ServicePortName
from svclab.proxy.topology import categorize_endpoints
from svclab.proxy.userspace.loadbalancer import EndpointAddress, RoundRobinBalancer
from svclab.proxy.userspace.relay import CopyMode, PipePool
from svclab.proxy.userspace.rules import (
    ALL_CHAINS,
    JUMP_RULES,
    KUBE_PORTALS_CONTAINER,
    Portal,
    PortalRule,
    RuleOptions,
    portal_rules,
    render_changes,
    render_restore,
)
from svclab.proxy.userspace.tcp import TcpProxySocket
from svclab.proxy.userspace.udp import DEFAULT_UDP_IDLE_TIMEOUT, UdpProxySocket

__all__ = [
    "PortAllocator",
    "PortRangeExhausted",
    "UserspaceOptions",
    "UserspaceProxier",
    "choose_host_ip",
    "portal_for",
    "usable_endpoints",
]

_log = logging.getLogger(__name__)


class PortRangeExhausted(RuntimeError):
    """Every port of the proxy port range is in use."""


class PortAllocator:
    """Proxy ports (upstream ``PortAllocator``): random free ports of a range, or 0 (kernel picks)."""

    def __init__(self, port_range: tuple[int, int] | None = None, rng: random.Random | None = None) -> None:
        self.port_range = port_range
        self._rng = rng or random.Random()
        self._used: set[int] = set()

    def allocate_next(self) -> int:
        if self.port_range is None:
            return 0
        low, high = self.port_range
        free = high - low + 1 - len(self._used)
        if free <= 0:
            raise PortRangeExhausted(f"proxy port range {low}-{high} is exhausted")
        start = self._rng.randrange(low, high + 1)
        for offset in range(high - low + 1):
            port = low + (start - low + offset) % (high - low + 1)
            if port not in self._used:
                self._used.add(port)
                return port
        raise PortRangeExhausted(f"proxy port range {low}-{high} is exhausted")

    def release(self, port: int) -> None:
        self._used.discard(port)


def _host_port(ip: str, port: int) -> str:
    """``ip:port``, ``[ip]:port`` for IPv6 (as the other modes' dumps print an endpoint)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True, slots=True)
class UserspaceOptions:
    """Node-wide settings (upstream NewProxier arguments and kube-proxy flags): the shared ``node`` ones,
    then this mode's.

    ``node.node_ip`` is where the node's own traffic is DNAT-ed (upstream's
    host IP); empty means the source address of the node's default route
    (``choose_host_ip``). The mode masquerades nothing, so the rest of
    ``node`` goes unused.
    """

    node: NodeOptions = field(default_factory=NodeOptions)
    listen_ip: str = "0.0.0.0"
    port_range: tuple[int, int] | None = None
    udp_idle_timeout: float = DEFAULT_UDP_IDLE_TIMEOUT
    copy: CopyMode = CopyMode.SPLICE
    physdev: bool = True
    claim_node_ports: bool = True

    def rule_options(self, host_ip: str) -> RuleOptions:
        return RuleOptions(listen_ip=self.listen_ip, host_ip=host_ip, physdev=self.physdev)


def choose_host_ip(probe: str = "198.51.100.1") -> str:
    """The source address the node would use towards ``probe`` (upstream ``ChooseHostInterface``).

    Connecting a UDP socket only looks up the route; nothing is sent.
    Raises ``OSError`` when the node has no route there.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((probe, 9))
        return str(sock.getsockname()[0])


def usable_endpoints(
    port: ServicePort, endpoints: Sequence[Endpoint], node_labels: Mapping[str, str]
) -> tuple[EndpointAddress, ...]:
    """The (ip, port) pairs the balancer may pick for ``port``. Side-effect-free.

    One socket serves internal and external traffic alike, so the internal
    traffic policy decides (an ``externalTrafficPolicy: Local`` NodePort is
    balanced like its ClusterIP: the historic mode predates that field).
    """
    categorized = categorize_endpoints(endpoints, port, node_labels)
    chosen = categorized.local if port.internal_policy_local else categorized.cluster
    return tuple(sorted((ep.ip, ep.port) for ep in chosen))


def portal_for(port: ServicePort, proxy_port: int, *, has_endpoints: bool) -> Portal:
    """The ``Portal`` of a service port served on ``proxy_port``. Side-effect-free."""
    return Portal(
        name=port.name,
        protocol=port.protocol,
        cluster_ip=port.cluster_ip,
        port=port.port,
        proxy_port=proxy_port,
        node_port=port.node_port,
        external_ips=port.external_ips,
        load_balancer_ips=port.load_balancer_vips,
        has_endpoints=has_endpoints,
    )


def _addressing(port: ServicePort) -> tuple[object, ...]:
    """The fields whose change needs a new proxy socket (upstream ``sameConfig``)."""
    return (port.protocol, port.port, port.node_port, port.cluster_ip, port.external_ips, port.load_balancer_vips)


@dataclass
class _Served:
    port: ServicePort
    proxy_socket: TcpProxySocket | UdpProxySocket
    proxy_port: int
    allocated_port: int
    node_port_claim: socket.socket | None = None


def _bind(protocol: Protocol, ip: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    kind = socket.SOCK_STREAM if protocol is Protocol.TCP else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # the IPv6 proxier's sockets on "::" must leave IPv4 to the IPv4 proxier (dual-stack
            # nodes run both; without this, both claiming a NodePort would collide)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(4096)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class UserspaceProxier(FullSyncBookkeeping):
    """The userspace ``ModeBackend``; see the module docstring."""

    executor: IptablesExecutor
    options: UserspaceOptions = field(default_factory=UserspaceOptions)
    balancer: RoundRobinBalancer = field(default_factory=RoundRobinBalancer)
    ports: PortAllocator = field(default_factory=PortAllocator)
    last_restore: str = ""
    host_ip: str = ""
    service_port_factory = None
    endpoint_factory = None
    served: dict[ServicePortName, _Served] = field(default_factory=dict)
    pipes: PipePool = field(default_factory=PipePool)
    #: each portal and its rules as the kernel holds them since the last successful sync
    installed: dict[ServicePortName, tuple[Portal, tuple[PortalRule, ...]]] = field(default_factory=dict)
    _unserved: set[ServicePortName] = field(default_factory=set)  # socket failed to open: retried each sync
    _labels: Mapping[str, str] | None = None

    def _open(self, port: ServicePort) -> _Served:
        allocated = self.ports.allocate_next()
        try:
            sock = _bind(port.protocol, self.options.listen_ip, allocated)
        except OSError:
            self.ports.release(allocated)
            raise
        proxy_socket: TcpProxySocket | UdpProxySocket
        if port.protocol is Protocol.TCP:
            proxy_socket = TcpProxySocket(port.name, sock, self.balancer, copy=self.options.copy, pipes=self.pipes)
        else:
            proxy_socket = UdpProxySocket(port.name, sock, self.balancer, idle_timeout=self.options.udp_idle_timeout)
        served = _Served(port, proxy_socket, proxy_socket.port, allocated)
        if port.node_port and self.options.claim_node_ports:
            try:
                # every address of this proxier's family ("0.0.0.0" / "::"): the other family's
                # proxier claims the same NodePort on its own
                served.node_port_claim = _bind(port.protocol, self.options.node.facts.any_address, port.node_port)
            except OSError as exc:  # upstream failed the portal; we still proxy, but say so
                _log.warning("event=node_port_claim_failed service=%s port=%d error=%s", port.name, port.node_port, exc)
        _log.info(
            "event=proxying service=%s protocol=%s proxy_port=%d", port.name, port.protocol.value, served.proxy_port
        )
        return served

    def _close(self, name: ServicePortName) -> None:
        served = self.served.pop(name)
        served.proxy_socket.close()
        if served.node_port_claim is not None:
            served.node_port_claim.close()
        self.ports.release(served.allocated_port)

    def _reconcile_sockets(
        self, service_ports: Mapping[ServicePortName, ServicePort], names: Collection[ServicePortName]
    ) -> None:
        """Close, reopen and open the sockets of ``names`` (the ports that may have changed)."""
        for name in sorted(n for n in names if n in self.served):
            port = service_ports.get(name)
            if port is None or _addressing(port) != _addressing(self.served[name].port):
                self._close(name)
                if port is None:
                    self.balancer.delete_service(name)
        for name in sorted(names):
            port = service_ports.get(name)
            self._unserved.discard(name)
            if port is None or port.protocol not in (Protocol.TCP, Protocol.UDP):
                continue
            if name not in self.served:
                try:
                    self.served[name] = self._open(port)
                except (OSError, RuntimeError) as exc:
                    _log.error("event=proxy_open_failed service=%s error=%s", name, exc)
                    self._unserved.add(name)
                    continue
            self.served[name].port = port
            self.balancer.set_service(name, port.session_affinity_seconds)

    def _portals(self, state: ProxyStateLike, names: Collection[ServicePortName]) -> dict[ServicePortName, Portal]:
        """The portals of ``names`` now served, the balancer told their endpoints."""
        portals = {}
        for name in sorted(n for n in names if n in self.served):
            served = self.served[name]
            addresses = usable_endpoints(served.port, state.endpoints.get(name, ()), state.node_labels)
            self.balancer.set_endpoints(name, addresses)
            portals[name] = portal_for(served.port, served.proxy_port, has_endpoints=bool(addresses))
        return portals

    def _rule_changes(
        self, names: Collection[ServicePortName], portals: Mapping[ServicePortName, Portal], options: RuleOptions
    ) -> tuple[str, dict[ServicePortName, tuple[Portal, tuple[PortalRule, ...]]]]:
        """Partial sync: restore text for the portals of ``names`` only, and what the kernel then holds."""
        installed = dict(self.installed)
        removed: list[PortalRule] = []
        added: list[PortalRule] = []
        for name in sorted(names):
            old = installed.pop(name, None)
            portal = portals.get(name)
            if old is not None and old[0] == portal:
                installed[name] = old
                continue
            new = portal_rules(portal, options) if portal is not None else ()
            kept = set(new) & set(old[1] if old else ())
            removed += [rule for rule in (old[1] if old else ()) if rule not in kept]
            added += [rule for rule in new if rule not in kept]
            if portal is not None:
                installed[name] = (portal, new)
        return render_changes(removed, added), installed

    def _bootstrap(self) -> None:
        for table, chain, rule, prepend in JUMP_RULES:
            self.executor.ensure_rule(table, chain, rule, prepend=prepend)

    def rules_missing(self) -> bool:
        """Someone flushed our rules: the first portal chain is gone."""
        return not self.executor.chain_exists("nat", KUBE_PORTALS_CONTAINER)

    def sync_rules(self, state: ProxyStateLike) -> dict[str, int]:
        """Reconcile sockets, balancer and portal rules (see the module docstring); raises when the restore fails."""
        # New node labels: topology may differ for every service.
        full = self.begin_sync(force=state.node_labels is not self._labels)
        names = {*state.service_ports, *self.served} if full else {*state.changed_ports, *self._unserved}
        self._reconcile_sockets(state.service_ports, names)
        portals = self._portals(state, names)
        self.balancer.cleanup_stale_sessions()
        if not self.host_ip:
            self.host_ip = self.options.node.node_ip or choose_host_ip()
        options = self.options.rule_options(self.host_ip)
        if full:
            installed = {name: (portal, portal_rules(portal, options)) for name, portal in portals.items()}
            text = render_restore(list(portals.values()), options)
        else:
            text, installed = self._rule_changes(names, portals, options)
        self.last_restore = text
        with self.applying():
            # Chains first (the restore creates them), then the jumps into them.
            if text:
                self.executor.restore(text, noflush=True)
            if full:
                self._bootstrap()
        self.installed, self._labels = installed, state.node_labels
        counts = {"nat": 0, "filter": 0}
        for _, rules in installed.values():
            for table, _, _ in rules:
                counts[table] += 1
        return counts

    def debug_state(self) -> list[dict[str, object]]:
        """What this proxy serves, for ``svclab explain``: per service port its socket and round robin."""
        out: list[dict[str, object]] = []
        for name, served in sorted(self.served.items(), key=lambda item: str(item[0])):
            endpoints, next_index, affinity = self.balancer.round_robin(name)
            port = served.port
            out.append(
                {
                    "service": str(name),
                    "protocol": port.protocol.l4,
                    "clusterIP": port.cluster_ip,
                    "port": port.port,
                    "nodePort": port.node_port,
                    "proxyPort": served.proxy_port,
                    "listen": self.options.listen_ip or "0.0.0.0",
                    "endpoints": [_host_port(ip, p) for ip, p in endpoints],
                    "next": next_index,
                    "affinitySeconds": affinity,
                    "sessions": {ip: _host_port(a, p) for ip, (a, p) in self.balancer.live_sessions(name).items()},
                }
            )
        return out

    def close_sockets(self) -> None:
        """Stop proxying every service port (tests and shutdown)."""
        for name in list(self.served):
            self._close(name)
        self.installed.clear()
        self.need_full_sync = True  # the portals point at closed sockets now
        self.pipes.close()

    def cleanup(self) -> None:
        """Remove the jump rules and our chains (``--cleanup``), and close our sockets."""
        self.close_sockets()
        for table, chain, rule, _ in JUMP_RULES:
            self.executor.delete_rule(table, chain, rule)
        for table in dict.fromkeys(table for table, _ in ALL_CHAINS):
            self.executor.delete_chains(table, [chain for t, chain in ALL_CHAINS if t == table])
        self.need_full_sync = True
