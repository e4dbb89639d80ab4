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

from collections.abc import Sequence

from svclab.proxy.adapters.ipvs_netlink import (
    FLAG_HASHED,
    IpvsOp,
    OpKind,
    RealServer,
    RealServerStatus,
    VirtualServer,
)
from svclab.proxy.service_port import Protocol

__all__ = ["reconcile_virtual_server", "same_settings"]


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
