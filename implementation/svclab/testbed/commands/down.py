"""`svclab down NAME` / `svclab down --all`: stop and remove testbeds.

``NAME`` is a kind testbed ``svclab up`` brought up (no root needed) or a local
cluster (root). ``--all`` removes every local cluster and also clears what
crashed runs left behind: state directories whose supervisor is gone and every
``svclab-*`` network namespace. A failure exits 1 with one line.
"""

from __future__ import annotations

import argparse
import os
import sys

from svclab.testbed.provider import ProviderError
from svclab.testbed.providers import down

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="cluster name")
    parser.add_argument("--all", action="store_true", help="every local cluster and leftover")


def _down_all() -> int:
    from svclab.testbed.local.lifecycle import tear_down_all

    if os.geteuid() != 0:
        print("svclab down: must run as root (it removes network namespaces)", file=sys.stderr)
        return 1
    removed = tear_down_all()
    print("removed: " + (", ".join(removed) if removed else "nothing"))
    return 0


def run(args: argparse.Namespace) -> int:
    if bool(args.name) == bool(args.all):
        print("svclab down: give a cluster NAME or --all", file=sys.stderr)
        return 2
    if args.all:
        return _down_all()
    try:
        removed = down(args.name)
    except ProviderError as exc:
        print(f"svclab down: {exc}", file=sys.stderr)
        return exc.status
    print(f"cluster {args.name} {'removed' if removed else 'is not up'}")
    return 0
