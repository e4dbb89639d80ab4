"""Become a command inside a node's or a pod's namespaces (shared by exec and node-exec).

The CLI process enters the namespaces and then ``execvp``s the command, so the
command's exit status is ours and its stdin/stdout/stderr are the caller's.
For a cluster inside a User-Mode Linux guest ``in_guest`` asks the guest's
exec agent instead and passes its exit status on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from svclab.testbed.local.nsexec import enter_namespaces

if TYPE_CHECKING:
    from svclab.testbed.local.cluster import ClusterInfo

__all__ = ["become", "command_after_dashes", "in_guest"]


def command_after_dashes(rest: Sequence[str]) -> list[str]:
    """argparse.REMAINDER keeps a leading ``--``; drop it."""
    command = list(rest)
    return command[1:] if command[:1] == ["--"] else command


def become(prog: str, command: list[str], netns: str, *, uts: str | None = None, hostname: str | None = None) -> int:
    """Enter the namespaces and exec ``command``; returns only on failure."""
    if not command:
        print(f"{prog}: no command given (after --)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{prog}: must run as root (it enters network namespaces)", file=sys.stderr)
        return 1
    try:
        enter_namespaces(netns, uts=uts, hostname=hostname)
    except OSError as exc:
        print(f"{prog}: cannot enter {netns}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        print(f"{prog}: {command[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"{prog}: {command[0]}: permission denied", file=sys.stderr)
        return 126
    return 1  # not reached: execvp either replaces us or raises


def in_guest(prog: str, cluster: ClusterInfo, target: dict[str, Any], rest: Sequence[str]) -> int:
    """Run the command after ``--`` through the UML guest's exec agent; its exit status."""
    from svclab.testbed.local.uml.cluster import exec_in_guest

    command = command_after_dashes(rest)
    if not command:
        print(f"{prog}: no command given (after --)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{prog}: must run as root (it enters the guest's network namespace)", file=sys.stderr)
        return 1
    try:
        return exec_in_guest(cluster, target, command)
    except OSError as exc:
        print(f"{prog}: cannot reach the exec agent of {cluster.name} in its UML guest: {exc}", file=sys.stderr)
        return 1
