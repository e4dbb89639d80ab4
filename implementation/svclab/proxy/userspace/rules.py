"""userspace mode, pure part: portals -> ``iptables-restore`` text (upstream ``userspace/proxier.go``).

In userspace mode the kernel does no load balancing. Each service port has a
listening socket in the proxy (its *proxy port*); iptables only steers
traffic addressed to the Service there:

* ``KUBE-PORTALS-CONTAINER`` (nat, from PREROUTING): traffic arriving from
  pods for a ClusterIP, external IP or LoadBalancer IP is ``REDIRECT``-ed to
  the proxy port (``DNAT`` to the listen IP when the proxy is bound to one);
* ``KUBE-PORTALS-HOST`` (nat, from OUTPUT): the node's own traffic is
  ``DNAT``-ed to ``host IP:proxy port`` (REDIRECT of local traffic answers
  from the wrong address, upstream found);
* ``KUBE-NODEPORT-CONTAINER`` / ``KUBE-NODEPORT-HOST``: the same for
  NodePorts, reached only for local destinations (``--dst-type LOCAL`` on the
  jump) and after the portal chains;
* ``KUBE-NODEPORT-NON-LOCAL`` (filter, from INPUT): accepts new connections
  to the proxy ports of NodePort Services despite default-deny firewalls.

Rules keep upstream's match order and comments (the comment is the service
port name). Upstream never rejected anything: a connection to a Service
without endpoints was accepted by the proxy and closed, so clients saw a
reset or EOF instead of "connection refused". The conformance suite (and
every later kube-proxy) expects a refusal, so this module adds one chain of
its own, ``KUBE-PORTALS-REJECT`` (filter, from INPUT for new connections):
after the nat redirect a packet for an endpoint-less Service is addressed to
its proxy port, so a ``REJECT`` on that port (ICMP port-unreachable, which
the client's kernel reports as ECONNREFUSED for TCP and connected UDP)
gives the answer iptables mode gives. Everything here is side-effect-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from svclab.proxy.service_port import Protocol, ServicePortName

__all__ = [
    "ALL_CHAINS",
    "JUMP_RULES",
    "KUBE_NODEPORT_CONTAINER",
    "KUBE_NODEPORT_HOST",
    "KUBE_NODEPORT_NON_LOCAL",
    "KUBE_PORTALS_CONTAINER",
    "KUBE_PORTALS_HOST",
    "KUBE_PORTALS_REJECT",
    "Portal",
    "PortalRule",
    "RuleOptions",
    "portal_rules",
    "render_changes",
    "render_restore",
    "rule_counts",
]

# Chains (upstream names, except the REJECT chain, which is ours: see the module docstring).
KUBE_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"  # nat: service IPs, from pods
KUBE_PORTALS_HOST = "KUBE-PORTALS-HOST"  # nat: service IPs, from the node
KUBE_NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER"  # nat: NodePorts, from pods / outside
KUBE_NODEPORT_HOST = "KUBE-NODEPORT-HOST"  # nat: NodePorts, from the node
KUBE_NODEPORT_NON_LOCAL = "KUBE-NODEPORT-NON-LOCAL"  # filter: accept NodePort traffic
KUBE_PORTALS_REJECT = "KUBE-PORTALS-REJECT"  # filter: Services without endpoints

#: (table, chain) for every chain this mode owns, in restore order.
ALL_CHAINS: tuple[tuple[str, str], ...] = (
    ("nat", KUBE_PORTALS_CONTAINER),
    ("nat", KUBE_PORTALS_HOST),
    ("nat", KUBE_NODEPORT_CONTAINER),
    ("nat", KUBE_NODEPORT_HOST),
    ("filter", KUBE_NODEPORT_NON_LOCAL),
    ("filter", KUBE_PORTALS_REJECT),
)

_CLUSTER_IPS_COMMENT = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
_NODEPORTS_COMMENT = "handle service NodePorts; NOTE: this must be the last rule in the chain"
_NON_LOCAL_COMMENT = "Ensure that non-local NodePort traffic can flow"
_REJECT_COMMENT = "reject new connections to services without endpoints"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


#: Jumps from the built-in chains: (table, chain, rule, prepend). Upstream
#: prepends the portal jumps and appends the NodePort jumps, which must stay
#: last. The REJECT jump is inserted after the NON-LOCAL one, so it ends up
#: first in INPUT: an endpoint-less NodePort must be refused, not accepted.
JUMP_RULES: tuple[tuple[str, str, str, bool], ...] = (
    ("nat", "PREROUTING", f"{_comment(_CLUSTER_IPS_COMMENT)} -j {KUBE_PORTALS_CONTAINER}", True),
    ("nat", "OUTPUT", f"{_comment(_CLUSTER_IPS_COMMENT)} -j {KUBE_PORTALS_HOST}", True),
    (
        "nat",
        "PREROUTING",
        f"-m addrtype --dst-type LOCAL {_comment(_NODEPORTS_COMMENT)} -j {KUBE_NODEPORT_CONTAINER}",
        False,
    ),
    ("nat", "OUTPUT", f"-m addrtype --dst-type LOCAL {_comment(_NODEPORTS_COMMENT)} -j {KUBE_NODEPORT_HOST}", False),
    ("filter", "INPUT", f"{_comment(_NON_LOCAL_COMMENT)} -j {KUBE_NODEPORT_NON_LOCAL}", True),
    ("filter", "INPUT", f"-m conntrack --ctstate NEW {_comment(_REJECT_COMMENT)} -j {KUBE_PORTALS_REJECT}", True),
)


#: (table, chain, rule arguments without ``-A CHAIN``)
PortalRule = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Portal:
    """One service port as the rules see it: where it is addressed and its proxy port."""

    name: ServicePortName
    protocol: Protocol
    cluster_ip: str
    port: int
    proxy_port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    has_endpoints: bool = True


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """Node-wide settings: the proxy's listen IP and the node IP for host DNAT.

    ``physdev`` keeps upstream's ``-m physdev ! --physdev-is-in`` on
    external-IP rules (traffic not bridged from a pod); that match needs the
    kernel's ``xt_physdev``, so it can be switched off where it is missing.
    """

    listen_ip: str = "0.0.0.0"
    host_ip: str = ""
    physdev: bool = True

    @property
    def listens_on_all(self) -> bool:
        return self.listen_ip in ("0.0.0.0", "::", "")


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _cidr(ip: str) -> str:
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


def _common(portal: Portal, dest_ip: str | None, port: int, *, physdev: bool = False, dst_local: bool = False) -> str:
    """Upstream ``iptablesCommonPortalArgs``: comment, protocol, port, then optional matches."""
    l4 = portal.protocol.l4
    parts = [_comment(str(portal.name)), f"-p {l4} -m {l4} --dport {port}"]
    if dest_ip is not None:
        parts.append(f"-d {_cidr(dest_ip)}")
    if physdev:
        parts.append("-m physdev ! --physdev-is-in")
    if dst_local:
        parts.append("-m addrtype --dst-type LOCAL")
    return " ".join(parts)


def _to_container(portal: Portal, options: RuleOptions) -> str:
    if options.listens_on_all:
        return f"-j REDIRECT --to-ports {portal.proxy_port}"
    return f"-j DNAT --to-destination {_host_port(options.listen_ip, portal.proxy_port)}"


def _to_host(portal: Portal, options: RuleOptions) -> str:
    ip = options.host_ip if options.listens_on_all else options.listen_ip
    if not ip:
        raise ValueError(f"service {portal.name}: host portal rules need the node IP (host_ip)")
    return f"-j DNAT --to-destination {_host_port(ip, portal.proxy_port)}"


def _portal_rules(portal: Portal, options: RuleOptions) -> tuple[list[str], list[str]]:
    """Rules of KUBE-PORTALS-CONTAINER and KUBE-PORTALS-HOST for one service port."""
    container: list[str] = []
    host: list[str] = []
    to_c, to_h = _to_container(portal, options), _to_host(portal, options)
    # Upstream order: ClusterIP, external IPs, LoadBalancer ingress IPs.
    for ip, external in (
        (portal.cluster_ip, False),
        *((ip, True) for ip in portal.external_ips),
        *((ip, False) for ip in portal.load_balancer_ips),
    ):
        if external:
            # From outside (not bridged from a pod), and from anywhere when
            # the address is one of this node's own.
            container.append(f"{_common(portal, ip, portal.port, physdev=options.physdev)} {to_c}")
            container.append(f"{_common(portal, ip, portal.port, dst_local=True)} {to_c}")
            host.append(f"{_common(portal, ip, portal.port, dst_local=True)} {to_h}")
        else:
            container.append(f"{_common(portal, ip, portal.port)} {to_c}")
            host.append(f"{_common(portal, ip, portal.port)} {to_h}")
    return container, host


def portal_rules(portal: Portal, options: RuleOptions) -> tuple[PortalRule, ...]:
    """Every rule of one portal, in chain order. Raises ``ValueError`` when host rules are
    needed and ``options.host_ip`` is empty."""
    container, host = _portal_rules(portal, options)
    out = [("nat", KUBE_PORTALS_CONTAINER, r) for r in container] + [("nat", KUBE_PORTALS_HOST, r) for r in host]
    if portal.node_port:
        node_port = _common(portal, None, portal.node_port)
        out.append(("nat", KUBE_NODEPORT_CONTAINER, f"{node_port} {_to_container(portal, options)}"))
        out.append(("nat", KUBE_NODEPORT_HOST, f"{node_port} {_to_host(portal, options)}"))
        if portal.has_endpoints:
            accept = f"{_common(portal, None, portal.proxy_port)} -m state --state NEW -j ACCEPT"
            out.append(("filter", KUBE_NODEPORT_NON_LOCAL, accept))
    if not portal.has_endpoints:
        reject = (
            f'-m comment --comment "{portal.name} has no endpoints" '
            f"-p {portal.protocol.l4} -m {portal.protocol.l4} --dport {portal.proxy_port} -j REJECT"
        )
        out.append(("filter", KUBE_PORTALS_REJECT, reject))
    return tuple(out)


def render_changes(removed: Sequence[PortalRule], added: Sequence[PortalRule]) -> str:
    """``iptables-restore --noflush`` input deleting ``removed`` and appending ``added``, no chain
    declared (so none flushed); "" when both are empty. Portals never overlap (one Service per
    address and port), so where a rule lands in its chain does not matter. Side-effect-free."""
    out: list[str] = []
    for table in ("nat", "filter"):
        lines = [f"-D {chain} {rule}" for t, chain, rule in removed if t == table]
        lines += [f"-A {chain} {rule}" for t, chain, rule in added if t == table]
        if lines:
            out += [f"*{table}", *lines, "COMMIT"]
    return "\n".join(out) + "\n" if out else ""


def render_restore(portals: Sequence[Portal], options: RuleOptions) -> str:
    """The ``iptables-restore --noflush`` input that rewrites all of this mode's chains.

    Declaring a chain flushes it, so the text is the complete desired content
    of every chain in ``ALL_CHAINS``; portals are emitted sorted by name so
    equal states render equal text. Raises ``ValueError`` when host rules are
    needed and ``options.host_ip`` is empty.
    """
    chains: dict[str, list[str]] = {name: [] for _, name in ALL_CHAINS}
    for portal in sorted(portals, key=lambda p: p.name):
        for _, chain, rule in portal_rules(portal, options):
            chains[chain].append(rule)
    out: list[str] = []
    for table in ("nat", "filter"):
        names = [name for t, name in ALL_CHAINS if t == table]
        out.append(f"*{table}")
        out += [f":{name} - [0:0]" for name in names]
        out += [f"-A {name} {rule}" for name in names for rule in chains[name]]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def rule_counts(text: str) -> dict[str, int]:
    """Rules per table in restore text (for ``SyncReport.rules_by_table``). Side-effect-free."""
    counts: dict[str, int] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            counts[table] = 0
        elif line.startswith("-A "):
            counts[table] += 1
    return counts
