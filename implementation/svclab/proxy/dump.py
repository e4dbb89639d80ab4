"""What a mode's rules look like when dumped on a node, for checks from outside the proxy.

The conformance suite reads each node's rules with the mode's own dump tool
(``iptables-save``, ``nft list table``, ``ipvsadm-save``) and compares them
with what every Service port should get. How to read a dump depends on the
mode, so each mode that has one describes it with a ``RulesDump`` in its
registry entry (``svclab.proxy.modes``):

* the shell ``command`` that prints the rules on a node (``command_for`` a
  family: an IPv6 proxier's rules are in ``ip6tables-save`` / ``nft list
  table ip6 kube-proxy``);
* ``parse``: the dump as *chains* and each chain's jump targets
  (``DumpedRules``); for ipvs a "chain" is a virtual server and its
  "targets" are its real servers taking new connections;
* the chain a service port dispatches to and the chains of its endpoints,
  named as the mode names them (upstream's hashes);
* ``is_endpoint_target``: which targets of a chain are endpoints;
* ``dispatch_lines``: the dump lines that send a port's ClusterIP:port somewhere;
* ``reject_marker``: what a dispatch line of a port without endpoints
  contains, or None when such a port keeps its chain with no endpoints.

Everything here is side-effect-free; the dumps are upstream's formats, so
the same readers judge any kube-proxy, not only ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from svclab.proxy.service_port import IPFamily, ServicePortName

__all__ = ["DumpedRules", "RulesDump"]


@dataclass(frozen=True, slots=True)
class DumpedRules:
    """One node's dump: chain names, each chain's jump targets, and the text itself."""

    chains: frozenset[str]
    targets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    text: str = ""


class RulesDump(Protocol):
    """How to read one mode's rules dump (see the module docstring)."""

    @property
    def command(self) -> str:
        """The shell command printing the rules on a node."""
        ...

    def command_for(self, family: IPFamily) -> str:
        """The shell command printing one IP family's rules (``command`` is IPv4's)."""
        ...

    @property
    def reject_marker(self) -> str | None:
        """Text of a port's dispatch line when it has no endpoints; None: its chain stays, empty."""
        ...

    def parse(self, text: str) -> DumpedRules:
        """The dump's chains and their targets."""
        ...

    def service_chain(self, name: ServicePortName, cluster_ip: str, port: int) -> str:
        """The chain the port's ClusterIP dispatches to."""
        ...

    def endpoint_chains(self, name: ServicePortName, endpoints: Iterable[tuple[str, int]]) -> frozenset[str]:
        """The chains (targets) of these (ip, port) endpoints of the port."""
        ...

    def is_endpoint_target(self, target: str) -> bool:
        """Whether a chain's target is an endpoint (not a helper chain)."""
        ...

    def dispatch_lines(self, text: str, name: ServicePortName, cluster_ip: str, port: int) -> list[str]:
        """Lines of the dump that send the port's ClusterIP:port somewhere."""
        ...
