"""The ipvs mode's system adapter: IPVS and addresses over netlink, ipsets and iptables by restore.

``IpvsExecutor`` is the protocol the proxier uses; ``testing.FakeIpvsExecutor``
models it in memory. ``NetlinkExecutor`` is the real one and works in the
network namespace of the calling process:

* IPVS through pyroute2's generic-netlink ``IPVS`` socket, in-process (one
  ``ipvsadm`` per rule costs 0.1-0.45 s inside User-Mode Linux, see DESIGN.md);
* the dummy device and its /32 addresses through pyroute2's ``IPRoute``;
* ipsets through one ``ipset restore`` per sync;
* iptables through one ``iptables-restore --noflush`` per sync; the binary is
  ``iptables-legacy`` where the kernel has no nf_tables (User-Mode Linux).
"""

from __future__ import annotations

import functools
import socket
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from svclab.proxy.adapters.errors import failing_line_number, quote_failing_line
from svclab.proxy.ipvs.kernel import iptables_binary
from svclab.proxy.ipvs.plan import ForwardMethod, RealServer, VirtualServer
from svclab.proxy.ipvs.reconcile import IpvsOp, OpKind, RealServerStatus
from svclab.proxy.service_port import Protocol as L4

__all__ = ["IpvsExecutor", "NetlinkExecutor", "RestoreError", "missing_jumps_restore"]

_IPPROTO = {L4.TCP: socket.IPPROTO_TCP, L4.UDP: socket.IPPROTO_UDP, L4.SCTP: 132}
_L4 = {number: proto for proto, number in _IPPROTO.items()}


class RestoreError(RuntimeError):
    """``ipset restore`` or ``iptables-restore`` rejected its input; quotes the failing line."""

    def __init__(self, tool: str, stderr: str, data: str) -> None:
        line = failing_line_number(stderr)
        context = f"\n{quote_failing_line(data, line)}" if 0 < line <= len(data.splitlines()) else ""
        super().__init__(f"{tool} failed: {stderr.strip()}{context}")


class IpvsExecutor(Protocol):
    """What the ipvs proxier needs from the system."""

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
    def ipset_restore(self, text: str) -> None: ...
    def ipset_destroy(self, names: Iterable[str]) -> None: ...
    def iptables_restore(self, text: str) -> None: ...
    def ensure_jumps(self, jumps: Sequence[tuple[str, str, str, str]]) -> None: ...
    def delete_jump(self, table: str, chain: str, target: str, comment: str) -> None: ...
    def delete_chains(self, table: str, chains: Sequence[str]) -> None: ...


def _service_request(vs: VirtualServer, *, with_settings: bool) -> Any:
    from pyroute2 import IPVSService

    fields: dict[str, Any] = {"addr": vs.address, "port": vs.port, "protocol": _IPPROTO[vs.protocol]}
    if with_settings:
        fields.update(sched_name=vs.scheduler, timeout=vs.timeout, flags={"flags": vs.flags, "mask": 0xFFFFFFFF})
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


class NetlinkExecutor:
    """Real system adapter (see module docstring). ``close()`` releases the sockets."""

    def __init__(self, *, iptables: str | None = None) -> None:
        from pyroute2 import IPVS, IPRoute

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs-netlink")
        self._ipvs = _ThreadBound(self._pool, IPVS)
        self._ipr = _ThreadBound(self._pool, IPRoute)
        self.iptables = iptables or iptables_binary()

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

    # -- ipset and iptables --------------------------------------------------
    def _restore(self, argv: list[str], text: str) -> None:
        result = subprocess.run(argv, input=text, text=True, capture_output=True, check=False)
        if result.returncode != 0:
            raise RestoreError(" ".join(argv), result.stderr, text)

    def ipset_restore(self, text: str) -> None:
        if text:
            self._restore(["ipset", "restore"], text)

    def ipset_destroy(self, names: Iterable[str]) -> None:
        for name in names:
            subprocess.run(["ipset", "destroy", name], capture_output=True, check=False)

    def iptables_restore(self, text: str) -> None:
        self._restore([f"{self.iptables}-restore", "-w", "--noflush"], text)

    def _jump_args(self, target: str, comment: str) -> list[str]:
        return ["-m", "comment", "--comment", comment, "-j", target]

    def ensure_jumps(self, jumps: Sequence[tuple[str, str, str, str]]) -> None:
        """Prepend missing (table, chain, target, comment) jumps: one save, one restore."""
        saved = subprocess.run([f"{self.iptables}-save"], capture_output=True, text=True, check=True).stdout
        text = missing_jumps_restore(saved, jumps)
        if text:
            self._restore([f"{self.iptables}-restore", "-w", "--noflush"], text)

    def delete_jump(self, table: str, chain: str, target: str, comment: str) -> None:
        subprocess.run(
            [self.iptables, "-w", "-t", table, "-D", chain, *self._jump_args(target, comment)],
            capture_output=True,
            check=False,
        )

    def delete_chains(self, table: str, chains: Sequence[str]) -> None:
        for verb in ("-F", "-X"):
            for chain in chains:
                subprocess.run([self.iptables, "-w", "-t", table, verb, chain], capture_output=True, check=False)


def missing_jumps_restore(saved: str, jumps: Sequence[tuple[str, str, str, str]]) -> str:
    """``iptables-restore --noflush`` text inserting the jumps missing from ``iptables-save``
    output ``saved``, each at the top of its chain. Side-effect-free."""
    present: set[tuple[str, str]] = set()
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            present.add((table, line))
    lines: list[str] = []
    for wanted_table in dict.fromkeys(t for t, *_ in jumps):
        # each prepended in list order, so the last one ends up first (as upstream's EnsureRule(Prepend))
        todo = [
            f'-I {chain} 1 -m comment --comment "{comment}" -j {target}'
            for t, chain, target, comment in jumps
            if t == wanted_table and (t, f'-A {chain} -m comment --comment "{comment}" -j {target}') not in present
        ]
        if todo:
            lines += [f"*{wanted_table}", *todo, "COMMIT"]
    return "\n".join(lines) + "\n" if lines else ""
