"""`svclab exec NAME -n NS POD -- CMD...`: run a command in a pod.

``NAME`` is any running cluster ``svclab up`` brought up (local or kind). The
exit status is the command's and its stdio is the caller's. On a local
cluster the command joins the pod's namespaces and ``hostname`` prints the
pod name (``svclab.testbed.local.enter``; for a cluster inside a User-Mode
Linux guest it goes to the guest's exec agent and stdin is /dev/null); on
kind it is ``kubectl exec -i``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from svclab.testbed.provider import ClusterHandle, ProviderError
from svclab.testbed.providers import attach

__all__ = ["add_arguments", "attach_or_say", "command_after_dashes", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("-n", "--namespace", default="default", help="the pod's namespace")
    parser.add_argument("pod", help="pod name")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")


def command_after_dashes(rest: Sequence[str]) -> list[str]:
    """argparse.REMAINDER keeps a leading ``--``; drop it."""
    command = list(rest)
    return command[1:] if command[:1] == ["--"] else command


def attach_or_say(prog: str, name: str) -> ClusterHandle | None:
    """The running cluster ``name``, or None after saying why not (one line)."""
    try:
        handle = attach(name)
    except ProviderError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    if handle is None:
        print(f"{prog}: cluster {name} is not up", file=sys.stderr)
    return handle


def run(args: argparse.Namespace) -> int:
    handle = attach_or_say("svclab exec", args.name)
    if handle is None:
        return 1
    command = command_after_dashes(args.command)
    if not command:
        print("svclab exec: no command given (after --)", file=sys.stderr)
        return 2
    return handle.exec_in_pod(args.namespace, args.pod, command, timeout=None, capture=False).rc
