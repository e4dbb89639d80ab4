"""Where a measured Service stands in its proxy's dispatch, read back from the node.

The sweep's question (issue 17) is how a packet's first lookup grows with the
number of Services, and that depends on the mode:

* iptables: ``KUBE-SERVICES`` is walked rule by rule until ``-d VIP --dport
  PORT`` matches, so the rule's position is the number of rules tested
  (``svclab.proxy.iptables.dump.dispatch_position``).
* userspace: ``KUBE-PORTALS-CONTAINER`` is walked the same way, then the
  redirect lands on the proxy's listening socket for that Service port; its
  rules are appended as Services arrive, so the position follows creation
  order, not names.
* nftables: one lookup of ``VIP . proto . port`` in the ``service-ips``
  verdict map; no position exists.
* ipvs: one hash lookup of the virtual server; no position exists.

Every statement is made only after checking the node's own dump for the
Service (``placement_from_dumps``); a missing entry says so instead.  The
commands to run on the node per mode are ``PLACEMENT_COMMANDS``.
Side-effect-free.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from svclab.proxy.iptables.dump import dispatch_position

from .model import Figure, TargetKind

__all__ = [
    "IPVS_NOTE",
    "NFTABLES_NOTE",
    "PLACEMENT_COMMANDS",
    "Placement",
    "SweepFacts",
    "describe_placement",
    "has_ipvs_virtual_server",
    "in_service_ips_map",
    "placement_from_dumps",
    "walked_share",
]

KUBE_SERVICES = "KUBE-SERVICES"  # iptables: the ClusterIP dispatch chain
KUBE_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"  # userspace: portals for traffic from pods
NFTABLES_NOTE = "n/a: one lookup in the service-ips verdict map"
IPVS_NOTE = "n/a: IPVS hash lookup"

# what to run on the client's node, per mode (one dump each; keys name them)
PLACEMENT_COMMANDS: dict[str, dict[str, tuple[str, ...]]] = {
    "iptables": {"nat": ("iptables-save", "-t", "nat")},
    "userspace": {"nat": ("iptables-save", "-t", "nat"), "listening": ("ss", "-ltnH")},
    "nftables": {"map": ("nft", "list", "map", "ip", "kube-proxy", "service-ips")},
    "ipvs": {"ipvs": ("ipvsadm-save", "-n")},
}


@dataclass(frozen=True, slots=True)
class Placement:
    """Rule ``position`` of ``total`` in ``chain``; or, without a walked chain, a checked ``note``."""

    position: int | None = None
    total: int | None = None
    chain: str | None = None
    note: str | None = None


def in_service_ips_map(listing: str, ip: str, port: int, protocol: str = "tcp") -> bool:
    """Whether ``nft list map ... service-ips`` holds ``ip . protocol . port`` with a verdict."""
    key = rf"(?<![\w.:]){re.escape(ip)} \. {protocol} \. {port} : (?:goto|jump) "
    return re.search(key, listing) is not None


def has_ipvs_virtual_server(save: str, ip: str, port: int, protocol: str = "tcp") -> bool:
    """Whether ``ipvsadm-save -n`` declares the virtual server ``ip:port``."""
    flag = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}[protocol]
    host = f"[{ip}]" if ":" in ip else ip
    return re.search(rf"^-A {flag} {re.escape(host)}:{port}( |$)", save, re.MULTILINE) is not None


def _proxy_port(nat: str, ip: str, port: int) -> int | None:
    """The userspace portal's proxy port: ``--to-ports P`` or ``--to-destination IP:P`` of its rule."""
    wanted = re.compile(rf"^-A {KUBE_PORTALS_CONTAINER} -d {re.escape(ip)}(/32)? .*--dport {port} ", re.MULTILINE)
    for line in nat.splitlines():
        if wanted.match(line):
            found = re.search(r"--to-ports (\d+)|--to-destination \S*:(\d+)", line)
            if found:
                return int(found.group(1) or found.group(2))
    return None


def _listens(ss_output: str, port: int) -> bool:
    """Whether ``ss -ltnH`` lists a listening TCP socket on ``port`` (any address)."""
    rows = (line.split() for line in ss_output.splitlines())
    return any(len(cols) >= 4 and cols[3].rsplit(":", 1)[-1] == str(port) for cols in rows)


def _userspace(dumps: Mapping[str, str], ip: str, port: int) -> Placement:
    found = dispatch_position(dumps.get("nat", ""), ip, port, chain=KUBE_PORTALS_CONTAINER)
    if found is None:
        return Placement(note=f"not found: no portal rule for {ip}:{port} in {KUBE_PORTALS_CONTAINER}")
    proxy_port = _proxy_port(dumps.get("nat", ""), ip, port)
    if proxy_port is not None and _listens(dumps.get("listening", ""), proxy_port):
        note = f"then the proxy's listening socket for this Service port (:{proxy_port})"
    else:
        note = "then a proxy socket, but none was seen listening on the portal's port"
    return Placement(position=found[0], total=found[1], chain=KUBE_PORTALS_CONTAINER, note=note)


def placement_from_dumps(mode: str, dumps: Mapping[str, str], ip: str, port: int) -> Placement | None:
    """What the node's dumps (``PLACEMENT_COMMANDS[mode]``, by key) say of ``ip:port``.

    None for a mode this module does not know (e.g. an external proxy).
    """
    if mode == "iptables":
        found = dispatch_position(dumps.get("nat", ""), ip, port, chain=KUBE_SERVICES)
        if found is None:
            return Placement(note=f"not found: no rule for {ip}:{port} in {KUBE_SERVICES}")
        return Placement(position=found[0], total=found[1], chain=KUBE_SERVICES)
    if mode == "userspace":
        return _userspace(dumps, ip, port)
    if mode == "nftables":
        if in_service_ips_map(dumps.get("map", ""), ip, port):
            return Placement(note=NFTABLES_NOTE)
        return Placement(note=f"not found: {ip} . tcp . {port} is not in the service-ips map")
    if mode == "ipvs":
        if has_ipvs_virtual_server(dumps.get("ipvs", ""), ip, port):
            return Placement(note=IPVS_NOTE)
        return Placement(note=f"not found: no IPVS virtual server {ip}:{port}")
    return None


def walked_share(placement: Placement) -> float | None:
    """The share of the chain a packet tests before its rule matches (1.0: matched last)."""
    if placement.position is None or not placement.total:
        return None
    return placement.position / placement.total


def describe_placement(placement: Placement) -> str:
    """One line for the report: ``rule 5,002 of 5,003 in KUBE-SERVICES (100 %)``, or the note."""
    parts = []
    share = walked_share(placement)
    if share is not None:
        parts.append(f"rule {placement.position:,} of {placement.total:,} in {placement.chain} ({share:.0%} walked)")
    if placement.note:
        parts.append(placement.note)
    return "; ".join(parts)


@dataclass(slots=True)
class SweepFacts:
    """What a sweep learnt beside its measurements: placements per (target, count), step seconds.

    Filled in while the sweep runs (not thread-safe: one sweep, one writer at a time).
    """

    placements: dict[tuple[TargetKind, int], Placement] = field(default_factory=dict)
    create_s: dict[int, float] = field(default_factory=dict)
    program_s: dict[int, float] = field(default_factory=dict)

    def annotate(self, figure: Figure) -> Figure:
        """``figure`` with its target's placement and, for the worst-case ClusterIP, the step's
        seconds at its Service count (side-effect-free; other figures come back unchanged)."""
        changes: dict[str, object] = {}
        placement = self.placements.get((figure.target, figure.services))
        if placement is not None:
            changes.update(
                rule_position=placement.position,
                rules_in_chain=placement.total,
                rule_chain=placement.chain,
                position_note=placement.note,
            )
        if figure.target is TargetKind.CLUSTER_IP:
            changes.update(create_s=self.create_s.get(figure.services), program_s=self.program_s.get(figure.services))
        return dataclasses.replace(figure, **changes) if changes else figure  # type: ignore[arg-type]
