"""What differs between the IPv4 and the IPv6 proxier, in one table (upstream ``pkg/proxy``).

Upstream runs one proxier per IP family behind a ``metaproxier``; each
proxier's code is the same, and the few places where the families differ
read a per-family value: the tool (``iptables`` / ``ip6tables``), the nft
table family and address type (``ip`` / ``ip6``, ``ipv4_addr`` /
``ipv6_addr``), the loopback range a NodePort jump must not match
(``127.0.0.0/8`` / ``::1/128``), whether NodePorts can answer on loopback at
all (IPv4 only, through ``route_localnet``; the kernel has no IPv6
equivalent), ``conntrack -f`` and the ipset family. Mode code reads these
facts instead of branching on the family (STYLE.md, "Interfaces between
modes"). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

from svclab.proxy.service_port import IPFamily

__all__ = ["FamilyFacts", "facts"]


@dataclass(frozen=True, slots=True)
class FamilyFacts:
    """The per-family vocabulary of one proxier."""

    family: IPFamily
    #: loopback range; the NodePort jump excludes it where localhost NodePorts are off
    loopback: str
    #: iptables binary base name (``-restore`` / ``-save`` appended)
    iptables: str
    #: nft table family, also the address keyword (``ip daddr`` / ``ip6 daddr``)
    nft_family: str
    #: nft set element type of an address
    nft_addr_type: str
    #: ``conntrack -f`` value
    conntrack_family: str
    #: ipset ``family`` value
    ipset_family: str
    #: what a plain ``-j REJECT`` sends (iptables' default per family; ip6tables-save prints it)
    reject_with: str
    #: the wildcard address to listen on
    any_address: str
    #: whether NodePorts may answer on loopback (route_localnet exists for IPv4 only)
    localhost_node_ports: bool


_FACTS = {
    IPFamily.IPV4: FamilyFacts(
        family=IPFamily.IPV4,
        loopback="127.0.0.0/8",
        iptables="iptables",
        nft_family="ip",
        nft_addr_type="ipv4_addr",
        conntrack_family="ipv4",
        ipset_family="inet",
        reject_with="icmp-port-unreachable",
        any_address="0.0.0.0",
        localhost_node_ports=True,
    ),
    IPFamily.IPV6: FamilyFacts(
        family=IPFamily.IPV6,
        loopback="::1/128",
        iptables="ip6tables",
        nft_family="ip6",
        nft_addr_type="ipv6_addr",
        conntrack_family="ipv6",
        ipset_family="inet6",
        reject_with="icmp6-port-unreachable",
        any_address="::",
        localhost_node_ports=False,
    ),
}


def facts(family: IPFamily) -> FamilyFacts:
    """The facts of ``family``."""
    return _FACTS[family]
