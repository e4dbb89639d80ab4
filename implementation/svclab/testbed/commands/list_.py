"""`svclab list`: the local testbeds on this host, with the kernel each runs on
(``host``, or ``uml`` for a cluster inside a User-Mode Linux guest)."""

from __future__ import annotations

import argparse

from svclab.testbed.local.lifecycle import process_alive
from svclab.testbed.local.record import ClusterInfo, list_clusters

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="names only")


def _state(info: ClusterInfo) -> str:
    """The supervisor's PID on the host, or the UML guest's for a cluster inside one."""
    if info.uml is not None:
        from svclab.testbed.local.uml import load_guest

        guest = load_guest(info.state_dir)
        alive = guest is not None and process_alive(guest.pid)
        return f"uml guest ({guest.pid})" if guest is not None and alive else "gone"
    pid = info.supervisor_pid
    return f"running ({pid})" if pid and process_alive(pid) else "gone"


def run(args: argparse.Namespace) -> int:
    from svclab.testbed.kind.cluster import kubeconfig_path, list_testbeds

    clusters = list_clusters()
    kind_names = list_testbeds()
    if args.quiet:
        for name in [info.name for info in clusters] + kind_names:
            print(name)
        return 0
    rows = [("NAME", "NODES", "PROXY", "KERNEL", "STATE", "KUBECONFIG")]
    for info in clusters:
        rows.append((info.name, str(len(info.nodes)), info.proxy_mode, info.kernel, _state(info), str(info.kubeconfig)))
    for name in kind_names:
        rows.append((name, "-", "-", "-", "kind", str(kubeconfig_path(name))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
