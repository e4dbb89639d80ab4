"""ipvs mode, imperative part: the ``ModeBackend`` that applies the desired ipvs state.

It composes three system adapters (``svclab.proxy.adapters``): ``ipset``,
``iptables`` (shared with the iptables and userspace modes) and ``ipvs``
(IPVS, the dummy device and sysctls over netlink). A full sync (the first,
and the one after a failure) plans the whole state (``plan``'s fragments and
merge, kept in a ``FragmentIndex``) and then

1. ``ipset restore`` once: every set is created, flushed and refilled;
2. ``iptables-restore --noflush`` once, then the missing jump rules in one batch;
3. the dummy device's addresses: bind service IPs, unbind the rest;
4. IPVS over netlink: every virtual server in the kernel is compared with
   the plan.

A partial sync re-plans only the ports the trackers report changed
(``ProxyState.changed_ports``, deleted ports included) in the index, whose
``IndexChanges`` say what to send: the ipset entries added or removed, the
rules text only if it changed, the addresses bound or unbound, and the
virtual servers whose desired state moved, plus those still draining real
servers of removed endpoints (graceful termination, see ``reconcile.py``).
New node labels or NodePort addresses re-plan every port but still apply
only the difference. What the kernel held before is what the last sync
applied: a mismatch makes that sync fail, and any failure makes the next one
full. ``cleanup()`` removes everything the mode installs (upstream
``CleanupLeftovers``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.ipset import IpsetExecutor
from svclab.proxy.adapters.iptables import IptablesExecutor
from svclab.proxy.adapters.ipvs_netlink import IpvsExecutor, IpvsOp, OpKind, RealServer, RealServerStatus, VirtualServer
from svclab.proxy.full_sync import FullSyncBookkeeping
from svclab.proxy.ipvs.incremental import DesiredServer, FragmentIndex, IndexChanges, ServerKey
from svclab.proxy.ipvs.ipsets import IPSET_SPECS, changes_text, family_set_name, restore_text
from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset
from svclab.proxy.ipvs.reconcile import reconcile_virtual_server
from svclab.proxy.ipvs.rules import CHAINS, JUMP_RULES, KUBE_SERVICES
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import IPFamily, ServicePortName

__all__ = ["IPVS_SYSCTLS", "IpvsProxier"]

_log = logging.getLogger(__name__)

#: sysctls upstream sets for the ipvs mode (conn_reuse_mode is left alone on kernels >= 5.9).
IPVS_SYSCTLS = (
    ("net/ipv4/vs/conntrack", "1"),
    ("net/ipv4/vs/expire_nodest_conn", "1"),
    ("net/ipv4/vs/expire_quiescent_template", "1"),
    ("net/ipv4/ip_forward", "1"),
)


def _is_node_port_address(address: str, family: IPFamily) -> bool:
    """An address of this proxier's family that NodePorts listen on: not loopback, and not an IPv6
    link-local one (upstream ``netlinkHandle.isValidForSet``)."""
    if not family.owns(address):
        return False
    ip = ipaddress.ip_address(address)
    return not ip.is_loopback and not (ip.version == 6 and ip.is_link_local)


@dataclass
class IpvsProxier(FullSyncBookkeeping):
    """The ipvs ``ModeBackend`` (see module docstring); build it with keywords."""

    ipvs: IpvsExecutor
    iptables: IptablesExecutor
    ipset: IpsetExecutor
    options: IpvsOptions = field(default_factory=IpvsOptions)
    service_port_factory = None
    endpoint_factory = None
    draining: dict[ServerKey, VirtualServer] = field(default_factory=dict)
    last_ops: list[IpvsOp] = field(default_factory=list)
    last_ipset_restore: str = ""
    last_iptables_restore: str = ""
    _index: FragmentIndex | None = None
    _node_port_names: set[ServicePortName] = field(default_factory=set)

    @property
    def applied(self) -> IpvsRuleset | None:
        """The desired state of the last successful sync (None: unknown, the next sync is full)."""
        return self._index.ruleset() if self._index is not None else None

    def _node_port_ips(self) -> tuple[str, ...]:
        if self.options.node_port_ips or not self._node_port_names:
            return self.options.node_port_ips
        found = self.ipvs.local_addresses(exclude_device=self.options.dummy_device)
        return tuple(sorted(a for a in found if _is_node_port_address(a, self.family)))

    @property
    def family(self) -> IPFamily:
        """The one IP family this proxier programs (the IPv4 and IPv6 proxiers share IPVS and the dummy)."""
        return self.options.node.family

    def rules_missing(self) -> bool:
        """Someone flushed the iptables side (a firewall reload): the nat ``KUBE-SERVICES`` chain is gone.

        The IPVS table itself is not checked: listing it costs a dump of every virtual server.
        """
        return not self.iptables.chain_exists("nat", KUBE_SERVICES)

    def sync_rules(self, state: ProxyStateLike) -> dict[str, int]:
        """Plan and apply; see the module docstring. Raises on failure (next sync is full)."""
        full = self.begin_sync(force=self._index is None)
        # Unknown until this sync succeeds: after any failure, planning included (the
        # changes it consumed are gone), the next sync is full.
        index, self._index = self._index, None
        if full or index is None:
            index = self._sync_full(state)
        else:
            self._sync_partial(state, index)
        self._index = index
        lines = index.iptables.splitlines()
        nat_end = lines.index("COMMIT")
        return {
            **index.counts(),
            "nat": sum(1 for ln in lines[:nat_end] if ln.startswith("-A")),
            "filter": sum(1 for ln in lines[nat_end:] if ln.startswith("-A")),
        }

    def _sync_full(self, state: ProxyStateLike) -> FragmentIndex:
        for name, value in IPVS_SYSCTLS:
            self.ipvs.set_sysctl(name, value)
        self.ipvs.ensure_dummy_device(self.options.dummy_device)
        self._node_port_names = {name for name, port in state.service_ports.items() if port.node_port}
        opts = dataclasses.replace(self.options, node_port_ips=self._node_port_ips())
        index, ruleset = FragmentIndex.build(state.service_ports, state.endpoints, opts, state.node_labels)
        with self.applying():
            self._apply_sets_and_rules(ruleset)
            self._sync_addresses(ruleset)
            desired = {vs.key: (vs, rss) for vs, rss in ruleset.virtual_servers.items()}
            # the other family's proxier owns its virtual servers (upstream cleanLegacyService)
            current = {vs.key: vs for vs in self.ipvs.list_virtual_servers() if self.family.owns(vs.address)}
            self._sync_ipvs(set(current) | set(desired), desired, current)
        return index

    def _sync_partial(self, state: ProxyStateLike, index: FragmentIndex) -> None:
        names = set(state.changed_ports)
        for name in names:
            port = state.service_ports.get(name)
            if port is not None and port.node_port:
                self._node_port_names.add(name)
            else:
                self._node_port_names.discard(name)
        opts = dataclasses.replace(self.options, node_port_ips=self._node_port_ips())
        index.begin()
        if opts != index.opts or state.node_labels != index.node_labels:
            index.rebase(opts, state.node_labels)  # every port may plan differently now
            names |= {*state.service_ports, *index.names()}
        for name in sorted(names):
            index.update(name, state.service_ports.get(name), state.endpoints.get(name, ()))
        changes = index.finish()
        with self.applying():
            self._apply_changes(changes)
            keys = set(changes.servers) | set(self.draining)
            desired = {k: want for k in keys if (want := index.resolve(k)) is not None}
            # What the last sync applied is what the kernel holds (a mismatch makes the next sync full).
            before = {k: changes.servers[k][0] if k in changes.servers else desired.get(k) for k in keys}
            self._sync_ipvs(keys, desired, {k: held[0] for k, held in before.items() if held is not None})

    def _apply_sets_and_rules(self, ruleset: IpvsRuleset) -> None:
        # Sets first: iptables-restore refuses rules that name a missing set.
        self.last_ipset_restore = restore_text(ruleset.ipsets, None, self.family)
        self.ipset.restore(self.last_ipset_restore)
        self.last_iptables_restore = ruleset.iptables
        self.iptables.restore(ruleset.iptables, noflush=True)
        self.iptables.ensure_rules(JUMP_RULES)

    def _sync_addresses(self, ruleset: IpvsRuleset) -> None:
        device = self.options.dummy_device
        # the dummy holds both families' service IPs: each proxier binds and unbinds its own only
        bound = {a for a in self.ipvs.device_addresses(device) if self.family.owns(a)}
        for address in sorted(ruleset.bound_addresses - bound):
            self.ipvs.bind_address(device, address)
        for address in sorted(bound - ruleset.bound_addresses):
            self.ipvs.unbind_address(device, address)

    def _apply_changes(self, changes: IndexChanges) -> None:
        """A partial sync's sets, rules and addresses, in the full sync's order."""
        self.last_ipset_restore = changes_text(changes.ipsets, self.family)
        self.ipset.restore(self.last_ipset_restore)
        self.last_iptables_restore = changes.iptables or ""
        if changes.iptables is not None:
            self.iptables.restore(changes.iptables, noflush=True)
        for address in changes.bind:
            self.ipvs.bind_address(self.options.dummy_device, address)
        for address in changes.unbind:
            self.ipvs.unbind_address(self.options.dummy_device, address)

    def _sync_ipvs(
        self,
        keys: set[ServerKey],
        desired: Mapping[ServerKey, DesiredServer],
        current: Mapping[ServerKey, VirtualServer],
    ) -> None:
        """Reconcile the virtual servers under ``keys``; ``current`` is what the kernel holds."""
        ops: list[IpvsOp] = []
        for key in sorted(keys, key=str):
            want, servers = desired.get(key, (None, ()))
            have = current.get(key)
            statuses = self.ipvs.list_real_servers(have) if have is not None and want is not None else []
            vs_ops = reconcile_virtual_server(want, servers, have, statuses)
            self._track_draining(key, want, servers, statuses, vs_ops)
            ops += vs_ops
        self.last_ops = ops
        errors = []
        for op in ops:
            try:
                self.ipvs.execute(op)
            except Exception as exc:
                errors.append(RuntimeError(f"ipvs {op}: {exc}"))
        if errors:
            raise ExceptionGroup(f"ipvs: {len(errors)} of {len(ops)} operations failed", errors)

    def _track_draining(
        self,
        key: ServerKey,
        want: VirtualServer | None,
        servers: Sequence[RealServer],
        statuses: Sequence[RealServerStatus],
        ops: Sequence[IpvsOp],
    ) -> None:
        wanted = {(rs.address, rs.port) for rs in servers}
        deleted = {
            (op.real_server.address, op.real_server.port)
            for op in ops
            if op.kind is OpKind.DELETE_REAL_SERVER and op.real_server is not None
        }
        left = [s for s in statuses if (s.server.address, s.server.port) not in wanted | deleted]
        if want is not None and left:
            self.draining[key] = want
        else:
            self.draining.pop(key, None)

    def cleanup(self) -> None:
        """Remove virtual servers, the dummy device, our chains, jumps and ipsets (this family's
        rules and sets; every virtual server and the dummy, as upstream's CleanupLeftovers)."""
        for vs in self.ipvs.list_virtual_servers():
            self.ipvs.execute(IpvsOp(OpKind.DELETE_VIRTUAL_SERVER, vs))
        self.ipvs.delete_device(self.options.dummy_device)
        for table, chain, rule in JUMP_RULES:
            self.iptables.delete_rule(table, chain, rule)
        for table, chains in CHAINS.items():
            self.iptables.delete_chains(table, chains)
        # sets last: the kernel refuses to destroy a set an iptables rule still uses
        self.ipset.destroy([family_set_name(spec.name, self.family) for spec in IPSET_SPECS])
        self.need_full_sync, self._index = True, None
        self.draining.clear()
