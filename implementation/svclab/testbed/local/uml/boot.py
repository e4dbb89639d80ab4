"""What a User-Mode Linux guest is booted with: kernel command line and init script.

The guest runs Debian's ``linux.uml`` on the host's own root filesystem
(``rootfstype=hostfs``), mounted read-only so the guest cannot change the
host by accident. The generated init script (PID 1 in the guest) then

1. mounts ``/proc``, ``/sys``, tmpfs on ``/tmp``, ``/run``, ``/var/tmp``, ``/dev/shm``;
2. mounts the host's *shared directory* (init script, command, environment,
   results) and any extra *writable paths* back read-write through hostfs at
   their own paths, so results land on the host;
3. makes the UML modules appear at ``/lib/modules/<version>``: ``/lib`` is
   ``/usr/lib`` here, which has no ``modules`` directory, so it ``insmod``s
   overlayfs by path, overlays ``/usr/lib`` with a tmpfs upper layer and
   bind-mounts ``/usr/lib/uml/modules/<version>`` there; after that plain
   ``modprobe`` works, also for the kernel's own module autoloading;
4. loads the requested modules, brings up ``lo`` and, in the long-running
   mode, the ``vec0`` network device;
5. starts the command in the background with its output in ``output.log`` and
   waits for it to end or for a ``stop`` file to appear in the shared
   directory (then it sends SIGTERM, later SIGKILL);
6. writes ``exit_code`` and powers off with ``echo o > /proc/sysrq-trigger``
   (if PID 1 just exited, the kernel would panic).

The file names in the shared directory are the protocol between host and
guest: ``init.sh``, ``command.sh``, ``env.sh`` in; ``booted``, ``ready``,
``output.log``, ``exit_code``, ``guest.log`` out; ``stop`` in, any time.
Everything here is side-effect-free.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BOOTED_FILE",
    "COMMAND_FILE",
    "ENV_FILE",
    "EXIT_CODE_FILE",
    "GUEST_LOG_FILE",
    "GuestNetwork",
    "INIT_FILE",
    "OUTPUT_FILE",
    "READY_FILE",
    "STOP_FILE",
    "UML_MODULES_ROOT",
    "UmlBootConfig",
    "command_script",
    "env_script",
    "init_script",
    "kernel_command_line",
]

UML_MODULES_ROOT = Path("/usr/lib/uml/modules")  # Debian's user-mode-linux package
# Files in the shared directory (host <-> guest protocol).
INIT_FILE = "init.sh"  # in: PID 1 of the guest
COMMAND_FILE = "command.sh"  # in: the command, one shell-quoted line
ENV_FILE = "env.sh"  # in: exports for the command
BOOTED_FILE = "booted"  # out: mounts and modules done
READY_FILE = "ready"  # out: the command was started
OUTPUT_FILE = "output.log"  # out: the command's stdout and stderr
GUEST_LOG_FILE = "guest.log"  # out: the init script's own trace
EXIT_CODE_FILE = "exit_code"  # out: the command's exit status, written last
STOP_FILE = "stop"  # in: ask the guest to stop the command and power off
# Paths the guest gets as fresh tmpfs (the root itself is read-only hostfs).
TMPFS_PATHS = ("/tmp", "/run", "/var/tmp", "/dev/shm")
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def hidden_in_guest(paths: Sequence[Path]) -> tuple[Path, ...]:
    """Those of ``paths`` that a guest's fresh tmpfs would hide (e.g. a checkout under /tmp)."""
    return tuple(p for p in paths if any(p.is_relative_to(tmpfs) for tmpfs in TMPFS_PATHS))


def guest_writable_paths(paths: Sequence[str | Path]) -> tuple[Path, ...]:
    """``paths`` resolved, plus this svclab's own paths where a guest's tmpfs would hide them."""
    return (*(Path(p).resolve() for p in paths), *hidden_in_guest(python_paths()))


def python_paths() -> tuple[Path, ...]:
    """What the guest needs to run this svclab: the Python environment and the package's source root."""
    source_root = Path(__file__).resolve().parents[4]  # .../svclab/testbed/local/uml/boot.py
    return tuple(dict.fromkeys([Path(sys.prefix).resolve(), source_root]))


@dataclass(frozen=True, slots=True)
class GuestNetwork:
    """The guest's one network link: a host tap device seen as ``vec0`` in the guest.

    ``tap`` lives in a network namespace of ours (never the root namespace);
    ``host_address`` is on the tap, ``guest_address`` on ``vec0``; both in
    ``prefixlen``. The guest's default route points at the host side.
    """

    tap: str
    host_address: str = "10.250.0.1"
    guest_address: str = "10.250.0.2"
    prefixlen: int = 30


@dataclass(frozen=True, slots=True)
class UmlBootConfig:
    """Everything one boot needs. ``shared_dir`` must be an absolute host path."""

    shared_dir: Path
    umid: str
    kernel_version: str
    memory: str = "1G"
    workdir: Path = Path("/")
    writable_paths: tuple[Path, ...] = ()
    modules: tuple[str, ...] = ()
    network: GuestNetwork | None = None
    stop_grace_seconds: float = 10.0
    hostname: str = "svclab-uml"


def kernel_command_line(config: UmlBootConfig) -> list[str]:
    """Arguments for ``linux.uml``. Side-effect-free.

    ``con=null ssl=null con0=null,fd:1`` keeps UML from opening xterms and
    sends the console to its stdout; ``ro`` protects the host's root.
    """
    args = [
        f"mem={config.memory}",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        "quiet",
        f"init={config.shared_dir / INIT_FILE}",
        "con=null",
        "ssl=null",
        "con0=null,fd:1",
        f"umid={config.umid}",
        f"uml_dir={config.shared_dir}",
    ]
    if config.network is not None:
        args.append(f"vec0:transport=tap,ifname={config.network.tap}")
    return args


def env_script(env: Mapping[str, str]) -> str:
    """``env.sh``: one ``export`` per variable, shell-quoted. Side-effect-free."""
    lines = [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items()) if name.isidentifier()]
    return "\n".join(lines) + "\n"


def _mount_lines(config: UmlBootConfig) -> list[str]:
    shared = shlex.quote(str(config.shared_dir))
    lines = [
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev",
        "mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts",
    ]
    lines += [f"mount -t tmpfs -o mode=1777 tmpfs {p}" for p in TMPFS_PATHS]
    for path in (config.shared_dir, *config.writable_paths):
        quoted = shlex.quote(str(path))
        # The host path may be hidden by a tmpfs above; recreate the mount point there.
        lines.append(f"mkdir -p {quoted} 2>/dev/null; mount -t hostfs -o {quoted} hostfs {quoted}")
    lines.append(f"exec 2>>{shared}/{GUEST_LOG_FILE}")
    return lines


def _module_lines(config: UmlBootConfig) -> list[str]:
    version = config.kernel_version
    modules = shlex.quote(str(UML_MODULES_ROOT / version))
    lines = [
        f"insmod {modules}/kernel/fs/overlayfs/overlay.ko",
        "mkdir -p /run/svclab-uml/lib-upper /run/svclab-uml/lib-work",
        "mount -t overlay overlay -o lowerdir=/usr/lib,upperdir=/run/svclab-uml/lib-upper,"
        "workdir=/run/svclab-uml/lib-work /usr/lib",
        f"mkdir -p /usr/lib/modules/{version} && mount --bind {modules} /usr/lib/modules/{version}",
    ]
    lines += [f"modprobe {shlex.quote(m)} || echo 'modprobe {m} failed' >&2" for m in config.modules]
    return lines


def _network_lines(config: UmlBootConfig) -> list[str]:
    lines = [f"hostname {shlex.quote(config.hostname)}", "ip link set lo up"]
    net = config.network
    if net is not None:
        lines += [
            f"ip addr add {net.guest_address}/{net.prefixlen} dev vec0",
            "ip link set vec0 up",
            f"ip route add default via {net.host_address}",
            # The host's nameserver is unreachable from here: a lookup (even
            # http.server's getfqdn) would hang for the resolver's timeouts, so
            # point the resolver at the guest's loopback, where it fails at once.
            "mkdir -p /run/svclab-uml && echo 'nameserver 127.0.0.1' > /run/svclab-uml/resolv.conf",
            "mount --bind /run/svclab-uml/resolv.conf /etc/resolv.conf",
        ]
    return lines


def _supervise_lines(config: UmlBootConfig) -> list[str]:
    shared = shlex.quote(str(config.shared_dir))
    # Poll every 0.2 s: the guest has one CPU and sleep is a cheap process.
    grace_ticks = max(1, int(config.stop_grace_seconds * 5))
    return [
        f"touch {shared}/{BOOTED_FILE}",
        f"cd {shlex.quote(str(config.workdir))} || exit_now 126",
        f"setsid sh -c '. {shared}/{ENV_FILE}; exec sh {shared}/{COMMAND_FILE}' "
        f"</dev/null >{shared}/{OUTPUT_FILE} 2>&1 &",
        "child=$!",
        f"touch {shared}/{READY_FILE}",
        f"while kill -0 $child 2>/dev/null && [ ! -e {shared}/{STOP_FILE} ]; do sleep 0.2; done",
        "if kill -0 $child 2>/dev/null; then",
        "  kill -TERM -$child 2>/dev/null",
        f"  n=0; while kill -0 $child 2>/dev/null && [ $n -lt {grace_ticks} ]; do sleep 0.2; n=$((n+1)); done",
        "  kill -KILL -$child 2>/dev/null",
        "fi",
        "wait $child; exit_now $?",
    ]


def init_script(config: UmlBootConfig) -> str:
    """The guest's ``/sbin/init`` replacement (POSIX sh). Side-effect-free."""
    shared = shlex.quote(str(config.shared_dir))
    head = [
        "#!/bin/sh",
        "# svclab User-Mode Linux init: generated by svclab.testbed.local.uml.boot",
        f"export PATH={GUEST_PATH} HOME=/tmp LANG=C.UTF-8",
        "exit_now() {",
        f'  echo "$1" > {shared}/{EXIT_CODE_FILE}.tmp && mv {shared}/{EXIT_CODE_FILE}.tmp {shared}/{EXIT_CODE_FILE}',
        "  sync; echo o > /proc/sysrq-trigger",
        "  sleep 60",  # PID 1 must not exit before the power-off lands (else: panic)
        "}",
    ]
    body = (
        _mount_lines(config)
        + ["set -x"]
        + _module_lines(config)
        + _network_lines(config)
        + ["set +x"]
        + _supervise_lines(config)
    )
    return "\n".join(head + body) + "\n"


def command_script(argv: Sequence[str]) -> str:
    """``command.sh``: the argv as one exec line. Side-effect-free."""
    return "exec " + shlex.join(argv) + "\n"
