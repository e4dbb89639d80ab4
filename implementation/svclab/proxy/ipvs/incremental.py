"""ipvs mode: the desired state kept per service port, so a partial sync costs what changed.

``plan`` merges the ``PortFragment`` of every service port; at 10,000
Services that is over a second of Python per sync inside the one-CPU
User-Mode Linux guest, for a sync that changed one Service. ``FragmentIndex``
keeps each port's fragment between syncs, with a reference count for every
item fragments can share: an ipset entry (two ports' entries may coincide),
a bound address (the ports of one Service share their ClusterIP), a blocked
LoadBalancer IP, and a virtual server produced by several ports. Replacing
one port's fragment touches only that port's items; between ``begin`` and
``finish`` the index notes the state of each item before its first touch,
so ``finish`` can say what the round changed (``IndexChanges``): set entries
and addresses whose count crossed zero, and virtual server keys whose
desired state moved. The iptables text depends only on which sets are
non-empty and on the blocked LoadBalancer IPs, so it is rendered again only
when one of those changes.

Merge rules are ``plan``'s (``assemble``): of several ports producing one
virtual server, the port whose name sorts last wins. ``resolve`` adds the
proxier's rule for one kernel key (address, port, protocol): the greatest
virtual server with that key is the one wanted. ``ruleset()`` materialises
the ``IpvsRuleset`` that ``plan`` returns for the same state (the property
test in ``tests/proxy/ipvs/test_incremental.py`` checks it). No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from svclab.proxy.adapters.ipvs_netlink import RealServer, VirtualServer
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.ipvs.ipsets import IPSET_SPECS, KUBE_IPVS_IPS, IpSet
from svclab.proxy.ipvs.plan import (
    IpvsOptions,
    IpvsRuleset,
    PortFragment,
    assemble,
    plan_fragments,
    port_fragment,
    render_rules,
)
from svclab.proxy.ipvs.rules import LbNoNodeAccess
from svclab.proxy.service_port import Protocol, ServicePort, ServicePortName

__all__ = ["DesiredServer", "FragmentIndex", "IndexChanges", "ServerKey"]

_Item = TypeVar("_Item")
ServerKey = tuple[str, int, Protocol]
#: a virtual server as the kernel should hold it, with its real servers
DesiredServer = tuple[VirtualServer, tuple[RealServer, ...]]


@dataclass(frozen=True, slots=True)
class IndexChanges:
    """What one round of ``FragmentIndex.update`` calls changed: what a partial apply sends.

    ``ipsets`` maps a set name to its (removed, added) entries, ``KUBE-IPVS-IPS``
    included; ``bind``/``unbind`` are sorted addresses; ``servers`` maps each
    kernel key whose desired state moved to (before, after), None meaning
    absent; ``iptables`` is the new rules text, or None when it is unchanged.
    """

    ipsets: Mapping[str, tuple[frozenset[str], frozenset[str]]]
    bind: tuple[str, ...]
    unbind: tuple[str, ...]
    servers: Mapping[ServerKey, tuple[DesiredServer | None, DesiredServer | None]]
    iptables: str | None


@dataclass
class _Journal:
    """Each item's state before its first touch in this round."""

    entries: dict[str, dict[str, bool]] = field(default_factory=dict)  # set -> entry -> was present
    bound: dict[str, bool] = field(default_factory=dict)
    servers: dict[ServerKey, DesiredServer | None] = field(default_factory=dict)
    iptables: str = ""


def _bump(counts: dict[_Item, int], item: _Item, sign: int) -> None:
    """Add ``sign`` to ``item``'s count; a count of 0 leaves the dict (so ``len`` and truth hold)."""
    left = counts.get(item, 0) + sign
    if left:
        counts[item] = left
    else:
        del counts[item]


class FragmentIndex:
    """Every port's fragment plus reference counts of shared items (see module docstring).

    One round: ``begin()``, ``update()`` for each changed port, ``finish()``.
    ``opts`` and ``node_labels`` are what the fragments were planned with;
    when either changes, ``rebase`` and update every port. Not thread-safe.
    """

    def __init__(self, opts: IpvsOptions, node_labels: Mapping[str, str]) -> None:
        self.opts = opts
        self.node_labels = node_labels
        self._fragments: dict[ServicePortName, PortFragment] = {}
        self._entries: dict[str, dict[str, int]] = {s.name: {} for s in IPSET_SPECS if s.name != KUBE_IPVS_IPS}
        self._bound: dict[str, int] = {}
        self._blocked: dict[LbNoNodeAccess, int] = {}
        self._servers: dict[VirtualServer, dict[ServicePortName, tuple[RealServer, ...]]] = {}
        self._by_key: dict[ServerKey, set[VirtualServer]] = {}
        self._real_servers = 0
        self._journal: _Journal | None = None
        self._rules_dirty = True
        self._iptables = ""
        self._ruleset: IpvsRuleset | None = None

    @classmethod
    def build(
        cls,
        service_ports: Mapping[ServicePortName, ServicePort],
        endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
        opts: IpvsOptions,
        node_labels: Mapping[str, str],
    ) -> tuple[FragmentIndex, IpvsRuleset]:
        """The index of a whole state and ``plan``'s ruleset for it (what a full sync applies)."""
        fragments = plan_fragments(service_ports, endpoints, opts, node_labels)
        ruleset = assemble(fragments, opts)
        index = cls(opts, node_labels)
        for name, fragment in fragments.items():
            index._replace(name, fragment)
        index._iptables, index._rules_dirty, index._ruleset = ruleset.iptables, False, ruleset
        return index, ruleset

    # -- one round ------------------------------------------------------------
    def begin(self) -> None:
        """Start noting changes (before any ``rebase`` of the round)."""
        self._journal = _Journal(iptables=self._iptables)  # the text last handed out, i.e. applied

    def update(self, name: ServicePortName, port: ServicePort | None, endpoints: Sequence[Endpoint]) -> None:
        """Re-plan one port (None: it is gone)."""
        fragment = port_fragment(port, endpoints, self.opts, self.node_labels) if port is not None else None
        self._replace(name, fragment)

    def rebase(self, opts: IpvsOptions, node_labels: Mapping[str, str]) -> None:
        """Plan with new options or labels from now on; the caller must then update every port."""
        self.opts, self.node_labels = opts, node_labels
        self._rules_dirty = True  # the rule options may have changed too

    def finish(self) -> IndexChanges:
        """What changed since ``begin()``; stops noting."""
        journal, self._journal = self._journal, None
        assert journal is not None, "finish() without begin()"
        ipsets: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for set_name, seen in journal.entries.items():
            held = self._entries[set_name]
            gone = frozenset(e for e, was in seen.items() if was and e not in held)
            new = frozenset(e for e, was in seen.items() if not was and e in held)
            if gone or new:
                ipsets[set_name] = (gone, new)
        unbind = tuple(sorted(a for a, was in journal.bound.items() if was and a not in self._bound))
        bind = tuple(sorted(a for a, was in journal.bound.items() if not was and a in self._bound))
        if bind or unbind:
            ipsets[KUBE_IPVS_IPS] = (frozenset(unbind), frozenset(bind))
        servers = {
            key: (before, after) for key, before in journal.servers.items() if (after := self.resolve(key)) != before
        }
        text = self.iptables
        return IndexChanges(ipsets, bind, unbind, servers, text if text != journal.iptables else None)

    # -- reading ----------------------------------------------------------------
    @property
    def iptables(self) -> str:
        """The rules text for the current state."""
        if self._rules_dirty:
            nonempty = {name for name, held in self._entries.items() if held}
            if self._bound:
                nonempty.add(KUBE_IPVS_IPS)
            blocked = [item for item, count in self._blocked.items() for _ in range(count)]
            self._iptables, self._rules_dirty = render_rules(nonempty, blocked, self.opts), False
        return self._iptables

    def names(self) -> Iterable[ServicePortName]:
        """The ports planned."""
        return self._fragments.keys()

    def resolve(self, key: ServerKey) -> DesiredServer | None:
        """What the kernel should hold under ``key``, or None."""
        candidates = self._by_key.get(key)
        if not candidates:
            return None
        vs = max(candidates)
        return vs, self._winner(vs)

    def counts(self) -> dict[str, int]:
        """Virtual servers, real servers and ipset entries wanted (the sync's rule counts)."""
        entries = sum(len(held) for held in self._entries.values()) + len(self._bound)
        return {"ipvs": len(self._servers), "ipvs_real_servers": self._real_servers, "ipset": entries}

    def ruleset(self) -> IpvsRuleset:
        """The whole desired state, as ``plan`` returns it (cached until the next change)."""
        if self._ruleset is None:
            ordered = sorted(self._servers)
            owners = {vs: max(self._servers[vs]) for vs in ordered}
            servers = {vs: self._servers[vs][owner] for vs, owner in owners.items()}
            ipsets = tuple(
                IpSet(spec, frozenset(self._bound if spec.name == KUBE_IPVS_IPS else self._entries[spec.name]))
                for spec in IPSET_SPECS
            )
            self._ruleset = IpvsRuleset(servers, frozenset(self._bound), ipsets, self.iptables, owners)
        return self._ruleset

    # -- reference counting -------------------------------------------------------
    def _winner(self, vs: VirtualServer) -> tuple[RealServer, ...]:
        by_port = self._servers[vs]
        return by_port[max(by_port)]

    def _replace(self, name: ServicePortName, fragment: PortFragment | None) -> None:
        old = self._fragments.get(name)
        if old == fragment:
            return
        self._ruleset = None
        if old is not None:
            del self._fragments[name]
            self._count(name, old, -1)
        if fragment is not None:
            self._fragments[name] = fragment
            self._count(name, fragment, 1)

    def _count(self, name: ServicePortName, fragment: PortFragment, sign: int) -> None:
        journal = self._journal
        for set_name, entries in fragment.entries.items():
            held = self._entries[set_name]
            was_empty = not held
            seen = journal.entries.setdefault(set_name, {}) if journal is not None else {}
            for entry in entries:
                seen.setdefault(entry, entry in held)
                _bump(held, entry, sign)
            self._rules_dirty |= was_empty != (not held)
        was_empty = not self._bound
        for address in fragment.bound:
            if journal is not None:
                journal.bound.setdefault(address, address in self._bound)
            _bump(self._bound, address, sign)
        self._rules_dirty |= was_empty != (not self._bound) or bool(fragment.no_node_access)
        for item in fragment.no_node_access:
            _bump(self._blocked, item, sign)
        for vs, real_servers in fragment.servers.items():
            if journal is not None and vs.key not in journal.servers:
                journal.servers[vs.key] = self.resolve(vs.key)
            self._count_server(name, vs, real_servers, sign)

    def _count_server(
        self, name: ServicePortName, vs: VirtualServer, real_servers: tuple[RealServer, ...], sign: int
    ) -> None:
        by_port = self._servers.get(vs)
        if by_port is not None:
            self._real_servers -= len(self._winner(vs))
        else:
            by_port = self._servers[vs] = {}
            self._by_key.setdefault(vs.key, set()).add(vs)
        if sign > 0:
            by_port[name] = real_servers
        else:
            del by_port[name]
        if by_port:
            self._real_servers += len(self._winner(vs))
            return
        del self._servers[vs]
        same_key = self._by_key[vs.key]
        same_key.discard(vs)
        if not same_key:
            del self._by_key[vs.key]
