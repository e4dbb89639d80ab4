"""The conntrack TCP timeouts kube-proxy sets on its node (its ``conntrack`` config).

Upstream kube-proxy, whatever its mode, sets two sysctls at start:
``nf_conntrack_tcp_timeout_established`` to 24 h (the kernel's default is 5
days) and ``nf_conntrack_tcp_timeout_close_wait`` to 1 h (the kernel's is
60 s), so that a connection whose peer has sent its FIN keeps its NAT mapping
while the other side still writes (upstream's e2e "should set TCP CLOSE_WAIT
timeout" reads the entry's timeout back). A value of 0 leaves the sysctl as
it is; a sysctl already at the wanted value is not written. These sysctls
belong to the network namespace, so a proxy in a node's namespace sets them
for that node only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConntrackTimeouts", "NETFILTER_SYSCTLS", "apply_timeouts"]

log = logging.getLogger(__name__)
NETFILTER_SYSCTLS = Path("/proc/sys/net/netfilter")
ESTABLISHED = "nf_conntrack_tcp_timeout_established"
CLOSE_WAIT = "nf_conntrack_tcp_timeout_close_wait"


@dataclass(frozen=True, slots=True)
class ConntrackTimeouts:
    """Seconds; 0 leaves the kernel's value (upstream ``KubeProxyConntrackConfiguration`` defaults)."""

    tcp_established: float = 24 * 3600.0
    tcp_close_wait: float = 3600.0

    def wanted(self) -> Mapping[str, int]:
        """Sysctl name -> whole seconds, for the timeouts that are set."""
        values = {ESTABLISHED: self.tcp_established, CLOSE_WAIT: self.tcp_close_wait}
        return {name: int(seconds) for name, seconds in values.items() if seconds > 0}


def apply_timeouts(timeouts: ConntrackTimeouts, directory: Path = NETFILTER_SYSCTLS) -> dict[str, int]:
    """Write the wanted timeouts that differ from the current ones; return what was written.

    A sysctl that cannot be read or written (no conntrack module, no permission)
    is logged and skipped: the proxy still runs, as upstream's does."""
    written = {}
    for name, seconds in timeouts.wanted().items():
        path = directory / name
        try:
            if int(path.read_text().strip() or 0) == seconds:
                continue
            path.write_text(f"{seconds}\n")
            written[name] = seconds
        except (OSError, ValueError) as exc:
            log.warning("event=conntrack_sysctl_unavailable path=%s error=%s", path, exc)
    if written:
        log.info("event=conntrack_timeouts_set %s", " ".join(f"{k}={v}" for k, v in sorted(written.items())))
    return written
