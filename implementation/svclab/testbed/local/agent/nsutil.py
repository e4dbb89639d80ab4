"""Entering Linux namespaces from a child process before it execs.

Python 3.11 has neither ``os.setns`` nor ``os.unshare``, so these call libc
through ctypes. They are meant for ``preexec_fn`` (they change the calling
process), never for the agent's own process. A pod's namespaces are those of
its *holder*: a ``sleep infinity`` process living in the pod's network
namespace and in a UTS namespace of its own whose hostname is the pod's (the
pause container's role). Containers, exec probes and ``svclab exec`` join the
holder's namespaces through ``/proc/<pid>/ns/``.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

__all__ = ["CLONE_NEWNET", "CLONE_NEWUTS", "enter_pod", "netns_path", "start_in_new_uts"]

CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def netns_path(name: str) -> str:
    """Where ``ip netns`` (and pyroute2) keep a named network namespace."""
    return f"/run/netns/{name}"


def start_in_new_uts(netns: str, hostname: str) -> Callable[[], None]:
    """A preexec function: join ``netns``, then a new UTS namespace named ``hostname``."""
    encoded = hostname.encode()

    def preexec() -> None:
        _setns(netns_path(netns), CLONE_NEWNET)
        _check(_libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
        _check(_libc.sethostname(encoded, len(encoded)), "sethostname")
        os.setsid()

    return preexec


def enter_pod(holder_pid: int, netns: str, workdir: str | None = None, new_session: bool = True) -> Callable[[], None]:
    """A preexec function joining a pod: the holder's UTS namespace and the pod's netns.

    Without a holder (``holder_pid`` 0) only the network namespace is joined.
    """

    def preexec() -> None:
        if holder_pid:
            _setns(f"/proc/{holder_pid}/ns/uts", CLONE_NEWUTS)
        _setns(netns_path(netns), CLONE_NEWNET)
        if new_session:
            os.setsid()
        if workdir:
            os.chdir(workdir)

    return preexec
