"""Running commands inside a User-Mode Linux guest: checks, batch runs, boot plumbing.

``can_run_uml()`` says in one line why this host cannot run a guest (or None).
``run_in_uml(argv, ...)`` boots a guest (see ``boot.py`` for what the guest
does), runs ``argv`` there in ``workdir`` and returns a ``UmlResult`` once the
guest has powered off: the exit status, the command's output file and the
console log, all in the hostfs-shared directory, plus boot and total times.
The long-running mode (``guest.py``) reuses ``prepare_shared_dir`` and
``launch``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from svclab.testbed.local.uml.boot import (
    BOOTED_FILE,
    COMMAND_FILE,
    ENV_FILE,
    EXIT_CODE_FILE,
    GUEST_LOG_FILE,
    INIT_FILE,
    OUTPUT_FILE,
    STOP_FILE,
    UML_MODULES_ROOT,
    UmlBootConfig,
    command_script,
    env_script,
    guest_writable_paths,
    init_script,
    kernel_command_line,
)

__all__ = [
    "CONSOLE_FILE",
    "GuestProcess",
    "IPVS_MODULES",
    "UmlError",
    "UmlResult",
    "can_run_uml",
    "default_env",
    "kernel_version",
    "launch",
    "prepare_shared_dir",
    "resolve_kernel",
    "run_in_uml",
    "uml_binary",
    "wait_for_exit",
]

CONSOLE_FILE = "console.log"  # the guest kernel's console (UML's stdout)
#: What an ipvs testbed needs; the UML kernel autoloads the rest (ipset types, xt_*, ip6table_*).
#: ``ipv6`` is a module in Debian's linux.uml: without it no IPv6 address, route or socket (dual-stack).
IPVS_MODULES = (
    "ipv6",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_sh",
    "nf_conntrack",
    "ip_set",
    "ip_set_hash_ip",
    "ip_set_hash_ipport",
    "ip_set_hash_ipportip",
    "ip_set_hash_ipportnet",
    "ip_set_hash_net",
    "ip_set_bitmap_port",
    "xt_set",
    "xt_ipvs",
    "dummy",
    "veth",
    "bridge",
    "br_netfilter",
)
_POLL_SECONDS = 0.05


class UmlError(RuntimeError):
    """The guest could not be booted or did not report a result."""


@dataclass(frozen=True, slots=True)
class UmlResult:
    """What one guest run left behind.

    ``exit_code`` is the command's status; -1 when the guest never wrote one
    (crash, kill after timeout: see ``console_path``). ``boot_seconds`` is the
    time until the guest had its mounts and modules ready.
    """

    exit_code: int
    output_path: Path
    console_path: Path
    shared_dir: Path
    boot_seconds: float
    total_seconds: float
    timed_out: bool = False

    @property
    def output(self) -> str:
        """The command's stdout and stderr."""
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""


def uml_binary() -> str | None:
    """Path of ``linux.uml`` or None."""
    return shutil.which("linux.uml") or ("/usr/bin/linux.uml" if Path("/usr/bin/linux.uml").exists() else None)


def kernel_version(modules_root: Path = UML_MODULES_ROOT) -> str | None:
    """The UML kernel's version, from its module directory (newest if several)."""
    if not modules_root.is_dir():
        return None
    versions = sorted(p.name for p in modules_root.iterdir() if (p / "kernel").is_dir())
    return versions[-1] if versions else None


def can_run_uml() -> str | None:
    """None when a guest can be booted here, else a one-line reason."""
    if uml_binary() is None:
        return "linux.uml not found: apt-get install user-mode-linux"
    version = kernel_version()
    if version is None:
        return f"no UML modules under {UML_MODULES_ROOT}: apt-get install user-mode-linux"
    if not (UML_MODULES_ROOT / version / "kernel/fs/overlayfs/overlay.ko").exists():
        return f"overlay.ko missing under {UML_MODULES_ROOT / version}"
    if shutil.which("insmod") is None or shutil.which("modprobe") is None:
        return "insmod/modprobe not found: apt-get install kmod"
    shm = Path(os.environ.get("TMPDIR") or "/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return f"{shm} is missing or not writable (UML maps guest memory there)"
    if os.statvfs(shm).f_flag & os.ST_NOEXEC:
        return f"{shm} is mounted noexec (UML needs PROT_EXEC mappings there)"
    return None


def resolve_kernel(requested: str, proxy_mode: str, *, host_supports: bool | None = None) -> str:
    """``spec.kernel`` (``host``/``uml``/``auto``) -> ``host`` or ``uml``.

    ``auto`` picks ``uml`` only when the mode needs what the host kernel lacks
    and a guest provides it (the mode registry says both: today ipvs without
    IPVS); ``host_supports`` overrides the registry's host check (tests).
    Raises ``UmlError`` for ``uml`` on a host that cannot run it, naming the reason.
    """
    if requested not in ("host", "uml", "auto"):
        raise ValueError(f"kernel must be host, uml or auto, not {requested!r}")
    if requested == "auto":
        requested = "uml" if _mode_needs_uml(proxy_mode, host_supports) else "host"
    if requested == "uml" and (reason := can_run_uml()) is not None:
        raise UmlError(f"kernel: uml requested but this host cannot run it: {reason}")
    return requested


def _mode_needs_uml(proxy_mode: str, host_supports: bool | None) -> bool:
    from svclab.proxy import modes

    spec = modes.find(proxy_mode)  # None for "none"
    if spec is None or not spec.uml_fallback:
        return False
    return not (spec.supported() is None if host_supports is None else host_supports)


def default_env() -> dict[str, str]:
    """The host variables worth passing into the guest."""
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TERM", "SVCLAB_RUN_DIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def prepare_shared_dir(config: UmlBootConfig, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Write init, command and environment into ``config.shared_dir`` (created if missing)."""
    shared = config.shared_dir
    shared.mkdir(parents=True, exist_ok=True)
    for stale in (BOOTED_FILE, EXIT_CODE_FILE, STOP_FILE, OUTPUT_FILE, GUEST_LOG_FILE):
        (shared / stale).unlink(missing_ok=True)
    (shared / INIT_FILE).write_text(init_script(config))
    (shared / INIT_FILE).chmod(0o755)
    (shared / COMMAND_FILE).write_text(command_script(argv))
    (shared / ENV_FILE).write_text(env_script(env))


def launch(
    config: UmlBootConfig, *, popen: Callable[..., subprocess.Popen[Any]] = subprocess.Popen, **popen_kwargs: Any
) -> subprocess.Popen[Any]:
    """Start ``linux.uml`` for ``config``; its console goes to ``console.log``."""
    binary = uml_binary()
    if binary is None:
        raise UmlError("cannot boot a UML guest: " + (can_run_uml() or "linux.uml missing"))
    console = open(config.shared_dir / CONSOLE_FILE, "wb")  # noqa: SIM115 - handed to the child
    try:
        return popen(
            [binary, *kernel_command_line(config)],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=config.shared_dir,
            start_new_session=True,
            **popen_kwargs,
        )
    finally:
        console.close()


@dataclass
class _Watch:
    started: float
    booted_at: float | None = None
    timed_out: bool = False
    stop_sent_at: float | None = None


class GuestProcess(Protocol):
    """What ``wait_for_exit`` needs of the guest's process: ``Popen`` or a view of another's child."""

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def wait(self) -> int: ...


def wait_for_exit(
    process: GuestProcess, shared_dir: Path, *, started: float, timeout: float | None, grace: float = 15.0
) -> UmlResult:
    """Wait for the guest to power off; on ``timeout`` ask it to stop, then kill it."""
    watch = _Watch(started)
    while process.poll() is None:
        now = time.monotonic()
        if watch.booted_at is None and (shared_dir / BOOTED_FILE).exists():
            watch.booted_at = now
        if timeout is not None and now - started > timeout and watch.stop_sent_at is None:
            watch.timed_out, watch.stop_sent_at = True, now
            (shared_dir / STOP_FILE).touch()
        if watch.stop_sent_at is not None and now - watch.stop_sent_at > grace:
            process.kill()  # SIGKILL of the UML main process takes its helpers down too
            process.wait()
            break
        time.sleep(_POLL_SECONDS)
    finished = time.monotonic()
    code_file = shared_dir / EXIT_CODE_FILE
    exit_code = int(code_file.read_text().strip() or -1) if code_file.exists() else -1
    return UmlResult(
        exit_code=exit_code,
        output_path=shared_dir / OUTPUT_FILE,
        console_path=shared_dir / CONSOLE_FILE,
        shared_dir=shared_dir,
        boot_seconds=(watch.booted_at or finished) - started,
        total_seconds=finished - started,
        timed_out=watch.timed_out,
    )


def run_in_uml(
    argv: Sequence[str],
    *,
    workdir: str | Path,
    env: Mapping[str, str] | None = None,
    memory: str = "1G",
    timeout: float | None = 600.0,
    modules: Sequence[str] = (),
    writable_paths: Sequence[str | Path] = (),
    shared_dir: str | Path | None = None,
    umid: str | None = None,
) -> UmlResult:
    """Boot a guest, run ``argv`` in ``workdir`` inside it, return once it powered off.

    ``workdir`` and ``writable_paths`` are mounted read-write (the rest of the
    host's root is read-only and ``/tmp``, ``/run`` are fresh tmpfs in the
    guest). ``env`` defaults to ``default_env()``. ``shared_dir`` defaults to a
    new ``/tmp/svclab-uml-*`` directory, kept for the caller to read results.
    Raises ``UmlError`` when the host cannot run UML.
    """
    reason = can_run_uml()
    if reason is not None:
        raise UmlError(f"cannot boot a UML guest: {reason}")
    shared = Path(shared_dir) if shared_dir else Path(tempfile.mkdtemp(prefix="svclab-uml-"))
    work = Path(workdir).resolve()
    config = UmlBootConfig(
        shared_dir=shared.resolve(),
        umid=umid or f"svclab-{os.getpid()}-{shared.name[-8:]}",
        kernel_version=kernel_version() or "",
        memory=memory,
        workdir=work,
        writable_paths=tuple(dict.fromkeys([work, *guest_writable_paths(writable_paths)])),
        modules=tuple(modules),
    )
    prepare_shared_dir(config, argv, default_env() if env is None else env)
    started = time.monotonic()
    process = launch(config)
    return wait_for_exit(process, config.shared_dir, started=started, timeout=timeout)
