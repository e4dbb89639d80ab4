"""`svclab node-exec NAME NODE -- CMD...`: run a command on a node.

Runs in the node's network namespace with the node name as hostname, e.g.
``svclab node-exec iptables iptables-worker -- iptables-save``. The exit
status is the command's. For a cluster inside a User-Mode Linux guest the
command goes to the guest's exec agent.
"""

from __future__ import annotations

import argparse
import sys

from svclab.testbed.commands._enter import become, command_after_dashes, in_guest
from svclab.testbed.local.cluster import read_cluster

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("node", help="node name, e.g. NAME-worker")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def run(args: argparse.Namespace) -> int:
    try:
        cluster = read_cluster(args.name)
        node = cluster.node(args.node)
    except FileNotFoundError:
        print(f"svclab node-exec: cluster {args.name} is not up", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"svclab node-exec: {exc.args[0]}", file=sys.stderr)
        return 1
    if cluster.uml is not None:
        return in_guest("svclab node-exec", cluster, {"node": node.name}, args.command)
    return become("svclab node-exec", command_after_dashes(args.command), node.netns, hostname=node.name)
