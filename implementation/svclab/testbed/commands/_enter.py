"""Become a command inside a node's or a pod's namespaces (shared by exec and node-exec).

The CLI process enters the namespaces and then ``execvp``s the command, so the
command's exit status is ours and its stdin/stdout/stderr are the caller's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from svclab.testbed.local.nsexec import enter_namespaces

__all__ = ["become", "command_after_dashes"]


def command_after_dashes(rest: Sequence[str]) -> list[str]:
    """argparse.REMAINDER keeps a leading ``--``; drop it."""
    command = list(rest)
    return command[1:] if command[:1] == ["--"] else command


def become(prog: str, command: list[str], netns: str, *, uts: str | None = None,
           hostname: str | None = None) -> int:
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
