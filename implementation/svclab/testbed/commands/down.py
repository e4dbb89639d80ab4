"""`svclab down NAME` / `svclab down --all`: stop and remove local testbeds.

``--all`` also clears what crashed runs left behind: state directories whose
supervisor is gone and every ``svclab-*`` network namespace.
"""

from __future__ import annotations

import argparse
import os
import sys

from svclab.testbed.local.cluster import tear_down, tear_down_all

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="cluster name")
    parser.add_argument("--all", action="store_true", help="every cluster and leftover")


def _kind_down(name: str) -> bool:
    """Tear down a kind testbed of that name, if there is one (no root needed)."""
    from svclab.testbed.kind.cluster import kubeconfig_path
    from svclab.testbed.kind.cluster import tear_down as kind_tear_down
    from svclab.testbed.kind.tools import KindError

    if kubeconfig_path(name) is None:
        return False
    try:
        kind_tear_down(name)
    except KindError as exc:
        print(f"svclab down: {exc}", file=sys.stderr)
        return True
    print(f"kind cluster {name} removed")
    return True


def run(args: argparse.Namespace) -> int:
    if bool(args.name) == bool(args.all):
        print("svclab down: give a cluster NAME or --all", file=sys.stderr)
        return 2
    if args.name and _kind_down(args.name):
        return 0
    if os.geteuid() != 0:
        print("svclab down: must run as root (it removes network namespaces)", file=sys.stderr)
        return 1
    if args.all:
        removed = tear_down_all()
        print("removed: " + (", ".join(removed) if removed else "nothing"))
        return 0
    if tear_down(args.name):
        print(f"cluster {args.name} removed")
    else:
        print(f"cluster {args.name} is not up")
    return 0
