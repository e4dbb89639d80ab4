"""`svclab kubeconfig NAME`: print the path of a testbed's kubeconfig (127.0.0.1)."""

from __future__ import annotations

import argparse
import sys

from svclab.testbed.local import naming

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument(
        "--internal", action="store_true", help="the components' kubeconfig (control-plane node address)"
    )


def run(args: argparse.Namespace) -> int:
    path = naming.state_dir(args.name) / ("kubeconfig.internal" if args.internal else "kubeconfig")
    if not path.exists():
        from svclab.testbed.kind.cluster import kubeconfig_path

        path = kubeconfig_path(args.name) or path
    if not path.exists():
        print(f"svclab kubeconfig: cluster {args.name} is not up", file=sys.stderr)
        return 1
    print(path)
    return 0
