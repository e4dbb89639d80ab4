"""Stale UDP conntrack cleanup (upstream ``pkg/proxy/conntrack``).

UDP has no connection close, so after a UDP backend goes away (or a UDP
Service gets its first backend while clients were being rejected) the kernel
keeps steering packets by the old conntrack entry. ``cleanup_commands`` turns a
``SyncReport`` into ``conntrack -D`` invocations (pure; the IPv6 proxier's
carry ``-f ipv6``, as upstream's, since conntrack looks at IPv4 entries
unless told otherwise); ``run_cleanup`` runs them through an injectable executor. ``conntrack`` exits 1 when nothing
matched, which is not an error.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence

from svclab.proxy.family import facts
from svclab.proxy.provider import SyncReport
from svclab.proxy.service_port import IPFamily, ServicePort, ServicePortName

__all__ = ["Runner", "cleanup_commands", "run_cleanup", "subprocess_runner"]

Runner = Callable[[Sequence[str]], int]


def cleanup_commands(
    report: SyncReport,
    service_ports: Mapping[ServicePortName, ServicePort],
    family: IPFamily = IPFamily.IPV4,
) -> list[list[str]]:
    """The ``conntrack`` argument lists for one sync of ``family``'s proxier. Side-effect-free."""
    commands = _commands(report, service_ports)
    if family is IPFamily.IPV4:
        return commands
    return [[*cmd, "-f", facts(family).conntrack_family] for cmd in commands]


def _commands(report: SyncReport, service_ports: Mapping[ServicePortName, ServicePort]) -> list[list[str]]:
    commands = [["conntrack", "-D", "--orig-dst", ip, "-p", "udp"] for ip in sorted(report.stale_udp_cluster_ips)]
    for name, endpoint in report.stale_udp_endpoints:
        port = service_ports.get(name)
        if port is None:
            continue  # the whole Service went; its ClusterIP is in stale_udp_cluster_ips
        for vip in (port.cluster_ip, *port.external_ips, *port.load_balancer_vips):
            commands.append(["conntrack", "-D", "--orig-dst", vip, "--dst-nat", endpoint.ip, "-p", "udp"])
        if port.node_port:
            commands.append(
                ["conntrack", "-D", "-p", "udp", "--orig-port-dst", str(port.node_port), "--dst-nat", endpoint.ip]
            )
    return commands


def subprocess_runner(prefix: Sequence[str] = ()) -> Runner:
    """A runner executing the real ``conntrack`` (optionally via a prefix such as ``ip netns exec``)."""

    def run(args: Sequence[str]) -> int:
        return subprocess.run([*prefix, *args], capture_output=True, check=False).returncode

    return run


def run_cleanup(
    report: SyncReport,
    service_ports: Mapping[ServicePortName, ServicePort],
    runner: Runner,
    family: IPFamily = IPFamily.IPV4,
) -> list[list[str]]:
    """Run the cleanup; returns the commands that failed (exit code other than 0 or 1)."""
    return [cmd for cmd in cleanup_commands(report, service_ports, family) if runner(cmd) not in (0, 1)]
