"""`svclab node-exec NAME NODE -- CMD...`: run a command on a node.

On a local cluster it runs in the node's network namespace with the node name
as hostname, e.g. ``svclab node-exec iptables iptables-worker --
iptables-save`` (for a cluster inside a User-Mode Linux guest through the
guest's exec agent); on kind in the node's container (``docker exec -i``).
The exit status is the command's.
"""

from __future__ import annotations

import argparse
import sys

from svclab.testbed.commands.exec_ import attach_or_say, command_after_dashes
from svclab.testbed.provider import NodeAccessUnavailable

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("node", help="node name, e.g. NAME-worker")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def run(args: argparse.Namespace) -> int:
    handle = attach_or_say("svclab node-exec", args.name)
    if handle is None:
        return 1
    command = command_after_dashes(args.command)
    if not command:
        print("svclab node-exec: no command given (after --)", file=sys.stderr)
        return 2
    try:
        return handle.exec_on_node(args.node, command, timeout=None, capture=False).rc
    except (KeyError, NodeAccessUnavailable) as exc:
        print(f"svclab node-exec: {exc.args[0]}", file=sys.stderr)
        return 1
