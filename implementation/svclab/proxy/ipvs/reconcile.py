"""From kernel IPVS state to desired IPVS state: the operations, with graceful termination.

Upstream (``syncService``/``syncEndpoint``/``graceful_termination.go``) adds
missing virtual and real servers, updates changed ones, and deletes real
servers of removed endpoints *gracefully*: a TCP real server that still has
active or inactive connections gets weight 0 (no new connections) and stays
until both counts reach 0; UDP and SCTP real servers are deleted at once.
A real server that comes back while draining gets its weight back.
Virtual servers no longer wanted are deleted outright.

``reconcile_virtual_server`` decides that for one virtual server; it is
side-effect-free, so the proxier only lists kernel state and executes ops.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from svclab.proxy.ipvs.plan import FLAG_HASHED, RealServer, VirtualServer
from svclab.proxy.service_port import Protocol

__all__ = ["IpvsOp", "OpKind", "RealServerStatus", "reconcile_virtual_server", "same_settings"]


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


def same_settings(a: VirtualServer, b: VirtualServer) -> bool:
    """Whether two virtual servers with the same key need no update."""
    return (a.scheduler, a.flags & ~FLAG_HASHED, a.timeout) == (b.scheduler, b.flags & ~FLAG_HASHED, b.timeout)


def _retire(vs: VirtualServer, status: RealServerStatus) -> IpvsOp | None:
    """What to do with a real server whose endpoint is gone (graceful termination)."""
    if vs.protocol is not Protocol.TCP or status.idle:
        # UDP/SCTP have no connection end to wait for: delete at once (upstream)
        return IpvsOp(OpKind.DELETE_REAL_SERVER, vs, status.server)
    if status.server.weight != 0:
        quiesced = RealServer(status.server.address, status.server.port, 0, status.server.forward)
        return IpvsOp(OpKind.UPDATE_REAL_SERVER, vs, quiesced)
    return None  # still draining


def reconcile_virtual_server(
    desired: VirtualServer | None,
    desired_servers: Sequence[RealServer],
    current: VirtualServer | None,
    current_servers: Sequence[RealServerStatus],
) -> list[IpvsOp]:
    """Operations turning ``current`` (None: absent) into ``desired`` (None: unwanted).

    Side-effect-free. Deleting a virtual server deletes its real servers with it.
    """
    if desired is None:
        return [IpvsOp(OpKind.DELETE_VIRTUAL_SERVER, current)] if current is not None else []
    ops: list[IpvsOp] = []
    if current is None:
        ops.append(IpvsOp(OpKind.ADD_VIRTUAL_SERVER, desired))
        current_servers = ()
    elif not same_settings(desired, current):
        ops.append(IpvsOp(OpKind.UPDATE_VIRTUAL_SERVER, desired))
    present = {(s.server.address, s.server.port): s for s in current_servers}
    wanted = {(rs.address, rs.port) for rs in desired_servers}
    for rs in desired_servers:
        status = present.get((rs.address, rs.port))
        if status is None:
            ops.append(IpvsOp(OpKind.ADD_REAL_SERVER, desired, rs))
        elif status.server.weight != rs.weight:
            ops.append(IpvsOp(OpKind.UPDATE_REAL_SERVER, desired, rs))  # e.g. back from draining
    for key, status in sorted(present.items()):
        if key not in wanted and (op := _retire(desired, status)) is not None:
            ops.append(op)
    return ops
