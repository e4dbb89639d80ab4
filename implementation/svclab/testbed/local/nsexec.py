"""Run code inside a named network namespace (``/run/netns/NAME``).

A network namespace is a per-thread attribute: ``setns(2)`` moves only the
calling thread, and a socket keeps the namespace it was created in for life.
So there are two ways in:

* a child process: ``popen_in_netns`` forks, enters the namespace (and
  optionally a fresh UTS namespace with its own hostname) before ``exec``;
* a socket for this process: ``socket_in_netns`` enters the namespace in the
  calling thread, creates the socket and comes back (the API server listens on
  the control-plane node's address this way).

``enter_namespaces`` does the same for the current process before an
``os.execvp`` (``svclab exec`` / ``node-exec`` pass the exit status on by
becoming the command). Python 3.11 has no ``os.setns``/``os.unshare``, hence ctypes.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "CLONE_NEWNET",
    "CLONE_NEWUTS",
    "enter_namespaces",
    "in_netns",
    "netns_path",
    "popen_in_netns",
    "preexec_entering",
    "run_in_netns",
    "socket_in_netns",
]

CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()


def netns_path(name_or_path: str) -> str:
    """``/run/netns/NAME`` for a name; a path (``/proc/PID/ns/net``) stays as it is."""
    return name_or_path if "/" in name_or_path else str(NETNS_RUN_DIR / name_or_path)


def _setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, nstype) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def enter_namespaces(netns: str, *, uts: str | None = None, hostname: str | None = None) -> None:
    """Move the calling thread into ``netns`` and a UTS namespace.

    ``uts`` joins an existing UTS namespace (a path like ``/proc/PID/ns/uts``);
    otherwise ``hostname`` unshares a fresh one and sets it. Meant for a
    freshly forked child or a process about to exec.
    """
    _setns(netns_path(netns), CLONE_NEWNET)
    if uts is not None:
        _setns(uts, CLONE_NEWUTS)
    elif hostname is not None:
        _unshare(CLONE_NEWUTS)
        socket.sethostname(hostname)


def preexec_entering(netns: str, *, uts: str | None = None,
                     hostname: str | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` that enters the namespaces in the child before exec."""

    def enter() -> None:
        enter_namespaces(netns, uts=uts, hostname=hostname)

    return enter


def popen_in_netns(argv: Sequence[str], netns: str, *, uts: str | None = None,
                   hostname: str | None = None, **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start ``argv`` inside ``netns`` (see ``enter_namespaces`` for uts/hostname)."""
    return subprocess.Popen(list(argv), preexec_fn=preexec_entering(netns, uts=uts,
                                                                    hostname=hostname),
                            **popen_kwargs)


def run_in_netns(argv: Sequence[str], netns: str, *, check: bool = False,
                 **run_kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` inside ``netns``."""
    return subprocess.run(list(argv), preexec_fn=preexec_entering(netns), check=check,
                          **run_kwargs)


@contextmanager
def in_netns(netns: str) -> Iterator[None]:
    """Run the ``with`` body's calling thread inside ``netns``, then come back.

    Only what is created inside (sockets, netlink handles) stays in ``netns``.
    Serialised by a lock because the original namespace is restored from
    ``/proc/thread-self/ns/net``, which is per thread but cheap to mix up.
    """
    with _lock:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(netns_path(netns), CLONE_NEWNET)
            try:
                yield
            finally:
                if _libc.setns(home, CLONE_NEWNET) != 0:
                    # A thread stuck in the wrong namespace would silently misroute.
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns back: {os.strerror(err)}")
        finally:
            os.close(home)


def socket_in_netns(netns: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM,
                    proto: int = 0) -> socket.socket:
    """Create a socket that lives in ``netns``; the caller's thread comes back home."""
    with in_netns(netns):
        return socket.socket(family, type, proto)
