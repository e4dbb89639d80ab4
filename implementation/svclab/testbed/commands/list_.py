"""`svclab list`: the local testbeds on this host."""

from __future__ import annotations

import argparse

from svclab.testbed.local.cluster import list_clusters, process_alive

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="names only")


def run(args: argparse.Namespace) -> int:
    from svclab.testbed.kind.cluster import kubeconfig_path, list_testbeds

    clusters = list_clusters()
    kind_names = list_testbeds()
    if args.quiet:
        for name in [info.name for info in clusters] + kind_names:
            print(name)
        return 0
    rows = [("NAME", "NODES", "PROXY", "SUPERVISOR", "KUBECONFIG")]
    for info in clusters:
        pid = info.supervisor_pid
        state = f"running ({pid})" if pid and process_alive(pid) else "gone"
        rows.append((info.name, str(len(info.nodes)), info.proxy_mode, state,
                     str(info.kubeconfig)))
    for name in kind_names:
        rows.append((name, "-", "-", "kind", str(kubeconfig_path(name))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
