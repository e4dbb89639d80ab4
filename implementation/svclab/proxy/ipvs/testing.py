"""A fake ``IpvsExecutor`` for tests: IPVS tables, devices, ipsets and iptables in memory.

It checks what the kernel would check (adding an existing virtual or real
server, touching a missing one, ipset lines for unknown sets, iptables rules
naming a set that does not exist) and records every operation. Connection
counts of real servers can be set to exercise graceful termination.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from svclab.proxy.ipvs.executor import RestoreError
from svclab.proxy.ipvs.ipsets import restore_text
from svclab.proxy.ipvs.plan import IpvsRuleset, RealServer, VirtualServer
from svclab.proxy.ipvs.reconcile import IpvsOp, OpKind, RealServerStatus
from svclab.proxy.service_port import Protocol as L4

__all__ = ["FakeIpvsExecutor", "render_ruleset"]

_Key = tuple[str, int, L4]


@dataclass
class FakeIpvsExecutor:
    """In-memory kernel state; ``ops`` and ``restores`` record what was asked."""

    services: dict[_Key, VirtualServer] = field(default_factory=dict)
    destinations: dict[_Key, dict[tuple[str, int], RealServerStatus]] = field(default_factory=dict)
    devices: dict[str, set[str]] = field(default_factory=lambda: {"eth0": {"192.168.0.2"}, "lo": {"127.0.0.1"}})
    ipsets: dict[str, set[str]] = field(default_factory=dict)
    chains: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    jumps: set[tuple[str, str, str, str]] = field(default_factory=set)
    sysctls: dict[str, str] = field(default_factory=dict)
    ops: list[IpvsOp] = field(default_factory=list)
    ipset_restores: list[str] = field(default_factory=list)
    iptables_restores: list[str] = field(default_factory=list)
    fail_next_iptables_restore: bool = False

    # -- IPVS ----------------------------------------------------------------
    def list_virtual_servers(self) -> list[VirtualServer]:
        return sorted(self.services.values())

    def list_real_servers(self, vs: VirtualServer) -> list[RealServerStatus]:
        if vs.key not in self.services:
            raise LookupError(f"no such virtual server {vs}")
        return [self.destinations[vs.key][k] for k in sorted(self.destinations[vs.key])]

    def execute(self, op: IpvsOp) -> None:
        self.ops.append(op)
        key = op.virtual_server.key
        exists = key in self.services
        if op.kind is OpKind.ADD_VIRTUAL_SERVER:
            if exists:
                raise FileExistsError(f"virtual server {op.virtual_server} exists")
            self.services[key], self.destinations[key] = op.virtual_server, {}
            return
        if not exists:
            raise LookupError(f"no such virtual server {op.virtual_server}")
        if op.kind is OpKind.UPDATE_VIRTUAL_SERVER:
            self.services[key] = op.virtual_server
        elif op.kind is OpKind.DELETE_VIRTUAL_SERVER:
            del self.services[key], self.destinations[key]
        else:
            self._execute_real_server(op)

    def _execute_real_server(self, op: IpvsOp) -> None:
        assert op.real_server is not None
        table = self.destinations[op.virtual_server.key]
        rs_key = (op.real_server.address, op.real_server.port)
        if op.kind is OpKind.ADD_REAL_SERVER:
            if rs_key in table:
                raise FileExistsError(f"real server {op.real_server} exists")
            table[rs_key] = RealServerStatus(op.real_server)
        elif rs_key not in table:
            raise LookupError(f"no such real server {op.real_server}")
        elif op.kind is OpKind.UPDATE_REAL_SERVER:
            old = table[rs_key]
            table[rs_key] = RealServerStatus(op.real_server, old.active_connections, old.inactive_connections)
        else:
            del table[rs_key]

    def set_connections(self, vs: VirtualServer, rs: RealServer, active: int, inactive: int = 0) -> None:
        """Pretend clients use ``rs`` (for graceful termination tests)."""
        table = self.destinations[vs.key]
        table[(rs.address, rs.port)] = RealServerStatus(table[(rs.address, rs.port)].server, active, inactive)

    def real_servers(self, vs: VirtualServer) -> dict[str, int]:
        """``{"ip:port": weight}`` of one virtual server."""
        return {str(s.server): s.server.weight for s in self.destinations.get(vs.key, {}).values()}

    # -- devices -------------------------------------------------------------
    def ensure_dummy_device(self, name: str) -> None:
        self.devices.setdefault(name, set())

    def delete_device(self, name: str) -> None:
        self.devices.pop(name, None)

    def device_addresses(self, name: str) -> set[str]:
        return set(self.devices.get(name, ()))

    def local_addresses(self, *, exclude_device: str) -> set[str]:
        return {a for dev, addrs in self.devices.items() if dev != exclude_device for a in addrs}

    def bind_address(self, device: str, address: str) -> None:
        self.devices[device].add(address)

    def unbind_address(self, device: str, address: str) -> None:
        self.devices[device].discard(address)

    def set_sysctl(self, name: str, value: str) -> None:
        self.sysctls[name] = value

    # -- ipset ---------------------------------------------------------------
    def ipset_restore(self, text: str) -> None:
        self.ipset_restores.append(text)
        staged = {name: set(entries) for name, entries in self.ipsets.items()}
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split()
            if not words:
                continue
            verb, name = words[0], words[1]
            if verb == "create":
                staged.setdefault(name, set())
            elif name not in staged:
                raise RestoreError("ipset restore", f"Error in line {number}: set {name} does not exist", text)
            elif verb == "flush":
                staged[name].clear()
            elif verb == "add":
                staged[name].add(words[2])
            elif verb == "del":
                staged[name].discard(words[2])
        self.ipsets = staged

    def ipset_destroy(self, names: Iterable[str]) -> None:
        for name in names:
            self.ipsets.pop(name, None)

    # -- iptables ------------------------------------------------------------
    def iptables_restore(self, text: str) -> None:
        self.iptables_restores.append(text)
        if self.fail_next_iptables_restore:
            self.fail_next_iptables_restore = False
            raise RestoreError("iptables-restore", "iptables-restore: line 1 failed (injected)", text)
        staged = {k: list(v) for k, v in self.chains.items()}
        table = ""
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                staged[(table, line[1:].split()[0])] = []  # declaring flushes (--noflush semantics)
            elif line.startswith("-A "):
                self._append_rule(staged, table, line, number, text)
        self.chains = staged

    def _append_rule(
        self, staged: dict[tuple[str, str], list[str]], table: str, line: str, number: int, text: str
    ) -> None:
        words = shlex.split(line)
        chain = words[1]
        if (table, chain) not in staged:
            raise RestoreError("iptables-restore", f"line {number}: no chain {chain}", text)
        if "--match-set" in words and words[words.index("--match-set") + 1] not in self.ipsets:
            raise RestoreError("iptables-restore", f"line {number}: Set doesn't exist", text)
        staged[(table, chain)].append(line.split(" ", 2)[2])

    def ensure_jumps(self, jumps: Sequence[tuple[str, str, str, str]]) -> None:
        for table, chain, target, comment in jumps:
            if (table, target) not in self.chains:
                raise LookupError(f"jump to missing chain {table}/{target}")
            self.jumps.add((table, chain, target, comment))

    def delete_jump(self, table: str, chain: str, target: str, comment: str) -> None:
        self.jumps.discard((table, chain, target, comment))

    def delete_chains(self, table: str, chains: Sequence[str]) -> None:
        for chain in chains:
            self.chains.pop((table, chain), None)


def render_ruleset(ruleset: IpvsRuleset) -> str:
    """A readable, stable dump of a plan (``ipvsadm -Ln``-like), for golden files."""
    out = ["# IPVS virtual servers (ipvsadm -Ln style)"]
    for vs, servers in ruleset.virtual_servers.items():
        persistent = f" persistent {vs.timeout}" if vs.flags & 0x1 else ""
        address = str(vs).rsplit("/", 1)[0]
        out.append(f"{vs.protocol.value} {address} {vs.scheduler}{persistent}  # {ruleset.owners.get(vs, '')}")
        out += [f"  -> {rs} Masq {rs.weight}" for rs in servers]
    out.append("# addresses on the dummy device")
    out += sorted(ruleset.bound_addresses, key=lambda a: tuple(int(x) for x in a.split(".")))
    out.append("# ipset restore")
    out += restore_text(ruleset.ipsets, None).splitlines()
    out.append("# iptables-restore --noflush")
    out += ruleset.iptables.splitlines()
    return "\n".join(out) + "\n"
