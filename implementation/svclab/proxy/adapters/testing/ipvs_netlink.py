"""The fake of the IPVS adapter: virtual and real servers, devices and sysctls in memory.

``FakeIpvs`` checks what the kernel would check (adding an existing virtual
or real server, touching a missing one) and records every operation.
Connection counts of real servers can be set to exercise graceful
termination. Its devices start with ``eth0`` (192.168.0.2, the test node)
and ``lo``; every address on any device is local to the node, which is what
the packet tracer asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svclab.proxy.adapters.ipvs_netlink import IpvsOp, OpKind, RealServer, RealServerStatus, VirtualServer
from svclab.proxy.service_port import Protocol as L4

__all__ = ["FakeIpvs"]

_Key = tuple[str, int, L4]


@dataclass
class FakeIpvs:
    """In-memory IPVS tables, devices with their addresses, and sysctls; ``ops`` records every IPVS command."""

    services: dict[_Key, VirtualServer] = field(default_factory=dict)
    destinations: dict[_Key, dict[tuple[str, int], RealServerStatus]] = field(default_factory=dict)
    devices: dict[str, set[str]] = field(default_factory=lambda: {"eth0": {"192.168.0.2"}, "lo": {"127.0.0.1"}})
    sysctls: dict[str, str] = field(default_factory=dict)
    ops: list[IpvsOp] = field(default_factory=list)

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

    def virtual_server(self, address: str, port: int, protocol: L4) -> VirtualServer | None:
        """The virtual server at (address, port, protocol), as IPVS looks one up for a packet."""
        return self.services.get((address, port, protocol))

    def addresses(self) -> set[str]:
        """Every address on every device (the node's local addresses)."""
        return {a for addrs in self.devices.values() for a in addrs}
