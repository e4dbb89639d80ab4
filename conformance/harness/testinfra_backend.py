"""A pytest-testinfra backend that runs commands on a local cluster's node.

``node_host(cluster, node)`` returns a testinfra ``Host``; its commands run
through ``svclab node-exec CLUSTER NODE -- /bin/sh -c CMD``, so testinfra's
modules (``host.interface``, ``host.iptables``, ``host.sysctl``, ...) inspect
the node's network namespace::

    host = cluster.node_host("iptables-worker")
    assert "172.18.0.3" in host.interface("eth0").addresses

Also usable by spec, once registered: ``svclab-node://CLUSTER/NODE``.
"""

from __future__ import annotations

import sys
from typing import Any

import testinfra.backend
import testinfra.host
from testinfra.backend import base

__all__ = ["SvclabNodeBackend", "node_host"]


class SvclabNodeBackend(base.BaseBackend):
    """``hostname`` is ``CLUSTER/NODE``."""

    NAME = "svclab-node"

    def __init__(self, hostname: str, *args: Any, **kwargs: Any) -> None:
        self.cluster, _, self.node = hostname.partition("/")
        if not self.node:
            raise ValueError(f"svclab-node backend wants CLUSTER/NODE, got {hostname!r}")
        super().__init__(hostname, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        shell_command = self.get_command(command, *args)
        result = self.run_local(
            "%s -m svclab.cli node-exec %s %s -- /bin/sh -c %s", sys.executable, self.cluster, self.node, shell_command
        )
        result.command = self.encode(shell_command)
        return result

    def get_hostname(self) -> str:
        return self.node


testinfra.backend.BACKENDS.setdefault(SvclabNodeBackend.NAME, f"{__name__}.{SvclabNodeBackend.__name__}")


def node_host(cluster: str, node: str) -> testinfra.host.Host:
    """A testinfra Host for ``node`` of local cluster ``cluster``."""
    backend = SvclabNodeBackend(f"{cluster}/{node}")
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
