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
becoming the command), and ``preexec_entering`` in a child before exec (the
supervisor's components, the node agent's pod holders, containers and exec
probes). Python 3.11 has no ``os.setns``/``os.unshare``, hence ctypes.
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
    "create_netns",
    "delete_netns",
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


_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2


def _mount(source: str, target: str, flags: int) -> None:
    if _libc.mount(source.encode(), target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount({source}, {target}): {os.strerror(err)}")


def _shared_run_dir() -> None:
    """Make /run/netns a shared mount, as `ip netns add` does, so the namespaces'
    bind mounts are seen from other mount namespaces too."""
    NETNS_RUN_DIR.mkdir(parents=True, exist_ok=True)
    try:
        _mount("none", str(NETNS_RUN_DIR), _MS_SHARED | _MS_REC)
    except OSError:  # not a mount point yet: bind it onto itself first
        _mount(str(NETNS_RUN_DIR), str(NETNS_RUN_DIR), _MS_BIND | _MS_REC)
        _mount("none", str(NETNS_RUN_DIR), _MS_SHARED | _MS_REC)


def create_netns(name: str) -> None:
    """Create ``/run/netns/NAME`` in-process, as `ip netns add` does.

    A short-lived thread unshares its network namespace and bind-mounts it to
    the file; the thread ends, the mount keeps the namespace. No fork: a
    forking helper (pyroute2's netns.create) costs 1-1.5 s per namespace inside
    User-Mode Linux, where a pod start is mostly this.
    """
    path = NETNS_RUN_DIR / name
    _shared_run_dir()
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    failure: list[OSError] = []

    def make() -> None:
        try:
            _unshare(CLONE_NEWNET)
            _mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(path), _MS_BIND)
        except OSError as exc:
            failure.append(exc)

    worker = threading.Thread(target=make, name=f"netns-{name}")
    worker.start()
    worker.join()
    if failure:
        path.unlink(missing_ok=True)
        raise failure[0]


def delete_netns(name: str) -> None:
    """Remove ``/run/netns/NAME`` (unmount, unlink); a missing one is fine."""
    path = NETNS_RUN_DIR / name
    if _libc.umount2(str(path).encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not mounted; ENOENT: gone
            raise OSError(err, f"umount({path}): {os.strerror(err)}")
    path.unlink(missing_ok=True)


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


def preexec_entering(
    netns: str,
    *,
    uts: str | None = None,
    hostname: str | None = None,
    new_session: bool = False,
    workdir: str | None = None,
) -> Callable[[], None]:
    """A ``preexec_fn`` that enters the namespaces in the child before exec
    (``enter_namespaces``), then optionally leads a session of its own and
    changes to ``workdir``. The node agent joins a pod this way: its holder's
    UTS namespace (``/proc/PID/ns/uts``) and the pod's network namespace."""

    def enter() -> None:
        enter_namespaces(netns, uts=uts, hostname=hostname)
        if new_session:
            os.setsid()
        if workdir:
            os.chdir(workdir)

    return enter


def popen_in_netns(
    argv: Sequence[str], netns: str, *, uts: str | None = None, hostname: str | None = None, **popen_kwargs: Any
) -> subprocess.Popen[Any]:
    """Start ``argv`` inside ``netns`` (see ``enter_namespaces`` for uts/hostname)."""
    return subprocess.Popen(list(argv), preexec_fn=preexec_entering(netns, uts=uts, hostname=hostname), **popen_kwargs)


def run_in_netns(
    argv: Sequence[str], netns: str, *, check: bool = False, **run_kwargs: Any
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` inside ``netns``."""
    return subprocess.run(list(argv), preexec_fn=preexec_entering(netns), check=check, **run_kwargs)


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


def socket_in_netns(
    netns: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """Create a socket that lives in ``netns``; the caller's thread comes back home."""
    with in_netns(netns):
        return socket.socket(family, type, proto)
