"""`svclab fault NAME ACTION [TARGET] [--for SECONDS]`: break a part of a cluster on purpose.

For showing (or testing) what happens when a component dies or a node is cut
off, e.g. ``svclab fault iptables kill proxy-iptables-worker``. ACTION is one
of ``kill``, ``stop``, ``continue`` (TARGET a component: ``apiserver``,
``scheduler``, ``controller-manager``, ``proxy-NODE``, ``node-agent-NODE``),
``flush-rules``, ``flush-conntrack``, ``cut-off``, ``heal`` (TARGET a node);
see ``svclab.testbed.faults``. ``--for`` after ``stop`` or ``cut-off`` waits
that long and undoes it. Each step prints one line saying what was done. Exit
status 2 for a bad request, 1 when the provider cannot or the injection failed.
"""

from __future__ import annotations

import argparse
import sys

from svclab.testbed.commands.exec_ import attach_or_say
from svclab.testbed.faults import FaultAction, parse_fault, run_fault
from svclab.testbed.provider import ProviderError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("action", choices=[a.value for a in FaultAction], help="what to do")
    parser.add_argument("target", nargs="?", help="a component (kill/stop/continue) or a node (the others)")
    parser.add_argument(
        "--for", dest="seconds", type=float, default=None, metavar="SECONDS", help="undo a stop or cut-off after this"
    )


def run(args: argparse.Namespace) -> int:
    try:
        request = parse_fault(args.action, args.target, args.seconds)
    except ProviderError as exc:
        print(f"svclab fault: {exc}", file=sys.stderr)
        return exc.status
    handle = attach_or_say("svclab fault", args.name)
    if handle is None:
        return 1
    try:
        run_fault(handle, request, report=lambda line: print(line, flush=True))
    except ProviderError as exc:
        print(f"svclab fault: {exc}", file=sys.stderr)
        return exc.status
    return 0
