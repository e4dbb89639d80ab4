"""The IPVS system adapter: virtual and real servers, the dummy device and its addresses, over netlink.

Like upstream's ``pkg/util/ipvs``, it holds IPVS's own values
(``VirtualServer``, ``RealServer``, the connection counts of
``RealServerStatus``) and one operation type (``IpvsOp``) for the six
netlink commands the ipvs mode sends. ``IpvsExecutor`` is the protocol;
``NetlinkIpvs`` is the real one and works in the network namespace of the
calling process:

* IPVS through pyroute2's generic-netlink ``IPVS`` socket, in-process (one
  ``ipvsadm`` per rule costs 0.1-0.45 s inside User-Mode Linux, see DESIGN.md);
* the dummy device and its /32 addresses through pyroute2's ``IPRoute``;
* the IPVS sysctls under ``/proc/sys`` (per network namespace).

``adapters.testing.ipvs_netlink.FakeIpvs`` is the fake. The mode's ipsets
and iptables rules go through the ipset and iptables adapters.
"""

from __future__ import annotations

import enum
import functools
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from svclab.proxy.service_port import Protocol as L4

__all__ = [
    "FLAG_HASHED",
    "FLAG_PERSISTENT",
    "FLAG_SOURCE_HASH",
    "ForwardMethod",
    "IpvsExecutor",
    "IpvsOp",
    "NetlinkIpvs",
    "OpKind",
    "RealServer",
    "RealServerStatus",
    "VirtualServer",
]

FLAG_PERSISTENT = 0x1  # IP_VS_SVC_F_PERSISTENT: ClientIP affinity
FLAG_HASHED = 0x2  # IP_VS_SVC_F_HASHED: set by the kernel, ignored in comparisons
FLAG_SOURCE_HASH = 0x10  # IP_VS_SVC_F_SCHED1: what the "mh" scheduler needs
_IPPROTO = {L4.TCP: socket.IPPROTO_TCP, L4.UDP: socket.IPPROTO_UDP, L4.SCTP: 132}
_L4 = {number: proto for proto, number in _IPPROTO.items()}


class ForwardMethod(enum.IntEnum):
    """IPVS packet forwarding methods (IP_VS_CONN_F_*); kube-proxy uses masquerade."""

    MASQUERADE = 0
    LOCALNODE = 1
    TUNNEL = 2
    DIRECT_ROUTE = 3


@dataclass(frozen=True, slots=True, order=True)
class VirtualServer:
    """One IPVS service. ``str()`` is upstream's ``ip:port/proto`` key; ``rr`` is kube-proxy's default."""

    address: str
    port: int
    protocol: L4
    scheduler: str = "rr"
    flags: int = 0
    timeout: int = 0

    @property
    def key(self) -> tuple[str, int, L4]:
        """What identifies a virtual server in the kernel."""
        return (self.address, self.port, self.protocol)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}/{self.protocol.value}"


@dataclass(frozen=True, slots=True, order=True)
class RealServer:
    """One IPVS destination of a virtual server; ``str()`` is ``ip:port``."""

    address: str
    port: int
    weight: int = 1
    forward: ForwardMethod = ForwardMethod.MASQUERADE

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RealServerStatus:
    """A real server as the kernel reports it, with its connection counts."""

    server: RealServer
    active_connections: int = 0
    inactive_connections: int = 0

    @property
    def idle(self) -> bool:
        """No connection uses it any more."""
        return self.active_connections + self.inactive_connections == 0


class OpKind(str, enum.Enum):
    """One IPVS netlink command."""

    ADD_VIRTUAL_SERVER = "add-virtual-server"
    UPDATE_VIRTUAL_SERVER = "update-virtual-server"
    DELETE_VIRTUAL_SERVER = "delete-virtual-server"
    ADD_REAL_SERVER = "add-real-server"
    UPDATE_REAL_SERVER = "update-real-server"
    DELETE_REAL_SERVER = "delete-real-server"


@dataclass(frozen=True, slots=True)
class IpvsOp:
    """An operation on ``virtual_server`` (and ``real_server`` for the real-server kinds)."""

    kind: OpKind
    virtual_server: VirtualServer
    real_server: RealServer | None = None

    def __str__(self) -> str:
        target = f" -> {self.real_server} weight {self.real_server.weight}" if self.real_server else ""
        return f"{self.kind.value} {self.virtual_server}{target}"


class IpvsExecutor(Protocol):
    """What the ipvs mode needs from IPVS, links and addresses."""

    def list_virtual_servers(self) -> list[VirtualServer]: ...
    def list_real_servers(self, vs: VirtualServer) -> list[RealServerStatus]: ...
    def execute(self, op: IpvsOp) -> None: ...
    def ensure_dummy_device(self, name: str) -> None: ...
    def delete_device(self, name: str) -> None: ...
    def device_addresses(self, name: str) -> set[str]: ...
    def local_addresses(self, *, exclude_device: str) -> set[str]: ...
    def bind_address(self, device: str, address: str) -> None: ...
    def unbind_address(self, device: str, address: str) -> None: ...
    def set_sysctl(self, name: str, value: str) -> None: ...


#: ``IPVS_SVC_ATTR_NETMASK`` of an IPv6 virtual server: the kernel reads it as a prefix length
#: (1..128, else EINVAL) in host byte order, as ipvsadm sends it; pyroute2 fills it for IPv4 only,
#: and its attribute type is an IPv4 address, hence the four bytes written as one.
IPV6_SERVICE_NETMASK = socket.inet_ntoa(struct.pack("=I", 128))


def _service_request(vs: VirtualServer, *, with_settings: bool) -> Any:
    from pyroute2 import IPVSService

    fields: dict[str, Any] = {"addr": vs.address, "port": vs.port, "protocol": _IPPROTO[vs.protocol]}
    if with_settings:
        fields.update(sched_name=vs.scheduler, timeout=vs.timeout, flags={"flags": vs.flags, "mask": 0xFFFFFFFF})
        if ":" in vs.address:
            fields["netmask"] = IPV6_SERVICE_NETMASK
    return IPVSService(**fields)


def _dest_request(rs: RealServer) -> Any:
    from pyroute2 import IPVSDest

    return IPVSDest(addr=rs.address, port=rs.port, weight=rs.weight, fwd_method=int(rs.forward))


def _attr(msg: Any, nla: str, name: str, default: Any = None) -> Any:
    inner = msg.get_attr(nla)
    return inner.get_attr(name) if inner is not None else default


class _ThreadBound:
    """Runs every method call of ``obj`` on one dedicated thread.

    pyroute2 0.9's synchronous sockets drive an asyncio loop of their own and
    refuse to work on a thread whose loop is already running ("This event loop
    is already running"), which is every call made from the proxy's sync loop.
    Iterators are drained on that thread too.
    """

    def __init__(self, pool: ThreadPoolExecutor, factory: Any) -> None:
        self._pool = pool
        self._obj = pool.submit(factory).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._obj, name)
        if not callable(attr):
            return attr

        def run(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            return list(result) if hasattr(result, "__next__") else result

        return lambda *args, **kwargs: self._pool.submit(run, *args, **kwargs).result()


class NetlinkIpvs:
    """The real adapter, in the calling process's network namespace. ``close()`` releases the sockets."""

    def __init__(self) -> None:
        from pyroute2 import IPVS, IPRoute

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs-netlink")
        self._ipvs = _ThreadBound(self._pool, IPVS)
        self._ipr = _ThreadBound(self._pool, IPRoute)

    def close(self) -> None:
        self._ipvs.close()
        self._ipr.close()
        self._pool.shutdown()

    # -- IPVS --------------------------------------------------------------
    def list_virtual_servers(self) -> list[VirtualServer]:
        out = []
        for msg in self._ipvs.service("dump"):
            get = functools.partial(_attr, msg, "IPVS_CMD_ATTR_SERVICE")
            proto = _L4.get(get("IPVS_SVC_ATTR_PROTOCOL"))
            if proto is None or get("IPVS_SVC_ATTR_FWMARK"):
                continue  # firewall-mark services are not ours
            flags = get("IPVS_SVC_ATTR_FLAGS", {}) or {}
            out.append(
                VirtualServer(
                    str(get("IPVS_SVC_ATTR_ADDR")),
                    int(get("IPVS_SVC_ATTR_PORT")),
                    proto,
                    str(get("IPVS_SVC_ATTR_SCHED_NAME")),
                    int(flags.get("flags", 0)) if isinstance(flags, dict) else 0,
                    int(get("IPVS_SVC_ATTR_TIMEOUT", 0) or 0),
                )
            )
        return out

    def list_real_servers(self, vs: VirtualServer) -> list[RealServerStatus]:
        out = []
        for msg in self._ipvs.dest("dump", service=_service_request(vs, with_settings=False)):
            get = functools.partial(_attr, msg, "IPVS_CMD_ATTR_DEST")
            forward = int(get("IPVS_DEST_ATTR_FWD_METHOD", 0) or 0) & 0x7
            server = RealServer(
                str(get("IPVS_DEST_ATTR_ADDR")),
                int(get("IPVS_DEST_ATTR_PORT")),
                int(get("IPVS_DEST_ATTR_WEIGHT", 0) or 0),
                ForwardMethod(forward),
            )
            out.append(
                RealServerStatus(
                    server,
                    int(get("IPVS_DEST_ATTR_ACTIVE_CONNS", 0) or 0),
                    int(get("IPVS_DEST_ATTR_INACT_CONNS", 0) or 0),
                )
            )
        return out

    def execute(self, op: IpvsOp) -> None:
        service = _service_request(op.virtual_server, with_settings=op.real_server is None)
        if op.kind is OpKind.ADD_VIRTUAL_SERVER:
            self._ipvs.service("add", service=service)
        elif op.kind is OpKind.UPDATE_VIRTUAL_SERVER:
            self._ipvs.service("set", service=service)
        elif op.kind is OpKind.DELETE_VIRTUAL_SERVER:
            self._ipvs.service("del", service=_service_request(op.virtual_server, with_settings=False))
        else:
            assert op.real_server is not None
            command = {
                OpKind.ADD_REAL_SERVER: "add",
                OpKind.UPDATE_REAL_SERVER: "set",
                OpKind.DELETE_REAL_SERVER: "del",
            }[op.kind]
            self._ipvs.dest(
                command,
                service=_service_request(op.virtual_server, with_settings=False),
                dest=_dest_request(op.real_server),
            )

    # -- links and addresses -----------------------------------------------
    def _index(self, name: str) -> int | None:
        found = self._ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def ensure_dummy_device(self, name: str) -> None:
        if self._index(name) is None:
            self._ipr.link("add", ifname=name, kind="dummy")
        # upstream leaves the dummy down: its addresses are local either way

    def delete_device(self, name: str) -> None:
        if (index := self._index(name)) is not None:
            self._ipr.link("del", index=index)

    def device_addresses(self, name: str) -> set[str]:
        index = self._index(name)
        if index is None:
            return set()
        return {a.get_attr("IFA_ADDRESS") for a in self._ipr.get_addr(index=index)}

    def local_addresses(self, *, exclude_device: str) -> set[str]:
        skip = self._index(exclude_device)
        return {
            a.get_attr("IFA_ADDRESS") for a in self._ipr.get_addr() if a["index"] != skip and a.get_attr("IFA_ADDRESS")
        }

    def bind_address(self, device: str, address: str) -> None:
        index = self._index(device)
        prefix = 128 if ":" in address else 32
        try:
            self._ipr.addr("add", index=index, address=address, prefixlen=prefix)
        except Exception as exc:  # already bound is fine (EEXIST)
            if getattr(exc, "code", None) != 17:
                raise

    def unbind_address(self, device: str, address: str) -> None:
        index = self._index(device)
        if index is not None:
            prefix = 128 if ":" in address else 32
            self._ipr.addr("del", index=index, address=address, prefixlen=prefix)

    def set_sysctl(self, name: str, value: str) -> None:
        path = Path("/proc/sys") / name  # e.g. net/ipv4/vs/conntrack, in this process's netns
        if path.exists() and path.read_text().strip() != value:
            path.write_text(value)
