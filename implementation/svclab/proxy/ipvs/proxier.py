"""ipvs mode, imperative part: the ``ModeBackend`` that applies an ``IpvsRuleset``.

One sync: plan the whole desired state (cheap, pure), then

1. ``ipset restore`` once: on a full sync every set is created, flushed and
   refilled; otherwise only changed entries are added or deleted;
2. ``iptables-restore --noflush`` once, only when the (set-driven, constant
   size) rules text changed or on a full sync, then the jump rules;
3. the dummy device's addresses: bind new service IPs, unbind old ones;
4. IPVS over netlink: on a full sync every virtual server in the kernel is
   compared with the plan; on a partial sync only those whose desired state
   changed since the last sync, plus those still draining real servers of
   removed endpoints (graceful termination, see ``reconcile.py``).

A failure marks the next sync full. ``cleanup()`` removes everything the
mode installs (upstream ``CleanupLeftovers``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.full_sync import FullSyncBookkeeping
from svclab.proxy.ipvs.executor import IpvsExecutor
from svclab.proxy.ipvs.ipsets import IPSET_SPECS, restore_text
from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset, RealServer, VirtualServer, plan
from svclab.proxy.ipvs.reconcile import IpvsOp, OpKind, RealServerStatus, reconcile_virtual_server
from svclab.proxy.ipvs.rules import CHAINS, JUMP_RULES
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import Protocol as L4

__all__ = ["IPVS_SYSCTLS", "IpvsProxier"]

_log = logging.getLogger(__name__)

#: sysctls upstream sets for the ipvs mode (conn_reuse_mode is left alone on kernels >= 5.9).
IPVS_SYSCTLS = (("net/ipv4/vs/conntrack", "1"), ("net/ipv4/vs/expire_nodest_conn", "1"),
                ("net/ipv4/vs/expire_quiescent_template", "1"), ("net/ipv4/ip_forward", "1"))
_Key = tuple[str, int, L4]


def _is_node_port_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.version == 4 and not ip.is_loopback


@dataclass
class IpvsProxier(FullSyncBookkeeping):
    """The ipvs ``ModeBackend`` (see module docstring)."""

    executor: IpvsExecutor
    options: IpvsOptions = field(default_factory=IpvsOptions)
    service_port_factory = None
    endpoint_factory = None
    applied: IpvsRuleset | None = None
    draining: dict[_Key, VirtualServer] = field(default_factory=dict)
    last_ops: list[IpvsOp] = field(default_factory=list)
    last_ipset_restore: str = ""
    last_iptables_restore: str = ""

    def _node_port_ips(self, state: ProxyStateLike) -> tuple[str, ...]:
        if self.options.node_port_ips or not any(p.node_port for p in state.service_ports.values()):
            return self.options.node_port_ips
        found = self.executor.local_addresses(exclude_device=self.options.dummy_device)
        return tuple(sorted(a for a in found if _is_node_port_address(a)))

    def sync_rules(self, state: ProxyStateLike) -> dict[str, int]:
        """Plan and apply; see the module docstring. Raises on failure (next sync is full)."""
        full = self.begin_sync(force=self.applied is None)
        if full:
            for name, value in IPVS_SYSCTLS:
                self.executor.set_sysctl(name, value)
            self.executor.ensure_dummy_device(self.options.dummy_device)
        opts = dataclasses.replace(self.options, node_port_ips=self._node_port_ips(state))
        ruleset = plan(state.service_ports, state.endpoints, opts, state.node_labels)
        previous = None if full else self.applied
        try:
            with self.applying():
                self._apply_sets_and_rules(ruleset, previous)
                self._sync_addresses(ruleset, full)
                self._sync_ipvs(ruleset, previous)
        except Exception:
            self.applied = None  # the kernel may hold part of it
            raise
        self.applied = ruleset
        lines = ruleset.iptables.splitlines()
        nat_end = lines.index("COMMIT")
        return {"ipvs": len(ruleset.virtual_servers),
                "ipvs_real_servers": sum(len(r) for r in ruleset.virtual_servers.values()),
                "ipset": sum(len(s.entries) for s in ruleset.ipsets),
                "nat": sum(1 for ln in lines[:nat_end] if ln.startswith("-A")),
                "filter": sum(1 for ln in lines[nat_end:] if ln.startswith("-A"))}

    def _apply_sets_and_rules(self, ruleset: IpvsRuleset, previous: IpvsRuleset | None) -> None:
        # Sets first: iptables-restore refuses rules that name a missing set.
        self.last_ipset_restore = restore_text(ruleset.ipsets, previous.ipsets if previous else None)
        self.executor.ipset_restore(self.last_ipset_restore)
        self.last_iptables_restore = ""
        if previous is None or previous.iptables != ruleset.iptables:
            self.last_iptables_restore = ruleset.iptables
            self.executor.iptables_restore(ruleset.iptables)
        if previous is None:
            self.executor.ensure_jumps(JUMP_RULES)

    def _sync_addresses(self, ruleset: IpvsRuleset, full: bool) -> None:
        device = self.options.dummy_device
        if full or self.applied is None:
            bound = self.executor.device_addresses(device)
        else:
            bound = set(self.applied.bound_addresses)
        for address in sorted(ruleset.bound_addresses - bound):
            self.executor.bind_address(device, address)
        for address in sorted(bound - ruleset.bound_addresses):
            self.executor.unbind_address(device, address)

    def _current_servers(self, previous: IpvsRuleset | None,
                         desired: Mapping[_Key, tuple[VirtualServer, tuple[RealServer, ...]]]
                         ) -> tuple[dict[_Key, VirtualServer], set[_Key]]:
        """Kernel virtual servers to compare, and the keys worth comparing."""
        if previous is None:
            current = {vs.key: vs for vs in self.executor.list_virtual_servers() if ":" not in vs.address}
            return current, set(current) | set(desired)
        before = {vs.key: (vs, rss) for vs, rss in previous.virtual_servers.items()}
        keys = {k for k in set(before) | set(desired) if before.get(k) != desired.get(k)}
        keys |= set(self.draining)
        # What we applied last time is what the kernel holds (a mismatch makes the next sync full).
        return {k: before[k][0] for k in keys if k in before}, keys

    def _sync_ipvs(self, ruleset: IpvsRuleset, previous: IpvsRuleset | None) -> None:
        desired = {vs.key: (vs, rss) for vs, rss in ruleset.virtual_servers.items()}
        current, keys = self._current_servers(previous, desired)
        ops: list[IpvsOp] = []
        for key in sorted(keys, key=str):
            want, servers = desired[key] if key in desired else (None, ())
            have = current.get(key)
            statuses = self.executor.list_real_servers(have) if have is not None and want is not None else []
            vs_ops = reconcile_virtual_server(want, servers, have, statuses)
            self._track_draining(key, want, servers, statuses, vs_ops)
            ops += vs_ops
        self.last_ops = ops
        errors = []
        for op in ops:
            try:
                self.executor.execute(op)
            except Exception as exc:  # noqa: BLE001 - keep applying the rest, report all
                errors.append(RuntimeError(f"ipvs {op}: {exc}"))
        if errors:
            raise ExceptionGroup(f"ipvs: {len(errors)} of {len(ops)} operations failed", errors)

    def _track_draining(self, key: _Key, want: VirtualServer | None, servers: Sequence[RealServer],
                        statuses: Sequence[RealServerStatus], ops: Sequence[IpvsOp]) -> None:
        wanted = {(rs.address, rs.port) for rs in servers}
        deleted = {(op.real_server.address, op.real_server.port) for op in ops
                   if op.kind is OpKind.DELETE_REAL_SERVER and op.real_server is not None}
        left = [s for s in statuses if (s.server.address, s.server.port) not in wanted | deleted]
        if want is not None and left:
            self.draining[key] = want
        else:
            self.draining.pop(key, None)

    def cleanup(self) -> None:
        """Remove virtual servers, the dummy device, our chains, jumps and ipsets."""
        for vs in self.executor.list_virtual_servers():
            self.executor.execute(IpvsOp(OpKind.DELETE_VIRTUAL_SERVER, vs))
        self.executor.delete_device(self.options.dummy_device)
        for table, chain, target, comment in JUMP_RULES:
            self.executor.delete_jump(table, chain, target, comment)
        for table, chains in CHAINS.items():
            self.executor.delete_chains(table, chains)
        # sets last: the kernel refuses to destroy a set an iptables rule still uses
        self.executor.ipset_destroy([spec.name for spec in IPSET_SPECS])
        self.need_full_sync, self.applied = True, None
        self.draining.clear()
