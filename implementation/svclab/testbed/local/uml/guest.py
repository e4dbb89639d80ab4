"""A long-running User-Mode Linux guest, reachable from 127.0.0.1 on the host.

``start_guest`` (root) creates the network namespace ``svclab-<name>-uml`` and
a fresh tap device in it (never in the root namespace; never reused: leftover
offload settings broke TCP checksums, see DESIGN.md), boots the guest inside
that namespace with the tap as its ``vec0`` device, waits until the guest has
started its command (the ``ready`` file) and starts one forwarder process per
forwarded port (``forwarder.py``). What it started is recorded in
``<state_dir>/uml-guest.json`` so that ``stop_guest`` works from another
process (``svclab down``).

``stop_guest`` asks the guest to stop (the ``stop`` file: the init sends
SIGTERM to the command, then powers off), kills it after a timeout, stops the
forwarders and deletes the namespace, which takes the tap with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from svclab.testbed.local.nsexec import preexec_entering
from svclab.testbed.local.uml.boot import (
    READY_FILE,
    STOP_FILE,
    GuestNetwork,
    UmlBootConfig,
    guest_writable_paths,
)
from svclab.testbed.local.uml.runtime import (
    UmlError,
    UmlResult,
    can_run_uml,
    default_env,
    kernel_version,
    launch,
    prepare_shared_dir,
    wait_for_exit,
)

__all__ = ["GUEST_RECORD", "UmlGuest", "guest_netns", "load_guest", "start_guest", "stop_guest"]

GUEST_RECORD = "uml-guest.json"
TAP = "svclab-tap0"  # lives only in the guest's own namespace


def guest_netns(name: str) -> str:
    """The namespace holding the guest's tap: ``svclab-<name>-uml``."""
    return f"svclab-{name}-uml"


@dataclass(frozen=True, slots=True)
class UmlGuest:
    """A running guest and what was started for it."""

    name: str
    pid: int
    netns: str
    shared_dir: str
    state_dir: str
    guest_address: str
    forwards: Mapping[int, int] = field(default_factory=dict)  # host port -> guest port
    forwarder_pids: tuple[int, ...] = ()
    boot_seconds: float = 0.0


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise UmlError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def _create_network(netns: str, net: GuestNetwork) -> None:
    if Path("/run/netns", netns).exists():
        raise UmlError(f"network namespace {netns} exists: is the guest running? (svclab down first)")
    _ip("netns", "add", netns)
    try:
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "tuntap", "add", "dev", net.tap, "mode", "tap")
        _ip("-n", netns, "addr", "add", f"{net.host_address}/{net.prefixlen}", "dev", net.tap)
        _ip("-n", netns, "link", "set", net.tap, "up")
    except UmlError:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        raise


def _start_forwarder(netns: str, host_port: int, target: tuple[str, int], shared: Path) -> int:
    ready = shared / f"forwarder-{host_port}.ready"
    ready.unlink(missing_ok=True)
    log = open(shared / f"forwarder-{host_port}.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "svclab.testbed.local.uml.forwarder",
                "--netns",
                netns,
                "--listen",
                f"127.0.0.1:{host_port}",
                "--target",
                f"{target[0]}:{target[1]}",
                "--ready-file",
                str(ready),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise UmlError(f"forwarder for 127.0.0.1:{host_port} did not start; see {log.name}")
        time.sleep(0.02)
    return proc.pid


def _wait_ready(process: subprocess.Popen[bytes], shared: Path, timeout: float) -> float:
    started = time.monotonic()
    while not (shared / READY_FILE).exists():
        if process.poll() is not None:
            raise UmlError(f"guest exited during boot (status {process.returncode}); see {shared}/console.log")
        if time.monotonic() - started > timeout:
            process.kill()
            raise UmlError(f"guest not ready after {timeout:.0f}s; see {shared}/console.log")
        time.sleep(0.05)
    return time.monotonic() - started


def start_guest(
    name: str,
    argv: Sequence[str],
    *,
    workdir: str | Path,
    state_dir: str | Path,
    env: Mapping[str, str] | None = None,
    memory: str = "1G",
    modules: Sequence[str] = (),
    writable_paths: Sequence[str | Path] = (),
    forwards: Mapping[int, int] | None = None,
    network: GuestNetwork | None = None,
    boot_timeout: float = 60.0,
    stop_grace: float = 10.0,
) -> UmlGuest:
    """Boot a guest that runs ``argv`` until ``stop_guest``; forward host ports to it.

    ``forwards`` maps a host port on 127.0.0.1 to a guest port; ``stop_grace``
    is how long the guest's init waits between SIGTERM and SIGKILL of the
    command once asked to stop. Needs root.
    Raises ``UmlError`` (and leaves nothing behind) when it cannot start.
    """
    if (reason := can_run_uml()) is not None:
        raise UmlError(f"cannot boot a UML guest: {reason}")
    state = Path(state_dir).resolve()
    shared = state / "uml"
    net = network or GuestNetwork(tap=TAP)
    netns = guest_netns(name)
    work = Path(workdir).resolve()
    config = UmlBootConfig(
        shared_dir=shared,
        umid=f"svclab-{name}",
        kernel_version=kernel_version() or "",
        memory=memory,
        workdir=work,
        writable_paths=tuple(dict.fromkeys([work, state, *guest_writable_paths(writable_paths)])),
        modules=tuple(modules),
        network=net,
        hostname=name,
        stop_grace_seconds=stop_grace,
    )
    prepare_shared_dir(config, argv, default_env() if env is None else env)
    (shared / STOP_FILE).unlink(missing_ok=True)
    _create_network(netns, net)
    return _boot(config, name, netns, net, dict(forwards or {}), boot_timeout)


def _boot(
    config: UmlBootConfig, name: str, netns: str, net: GuestNetwork, forwards: dict[int, int], boot_timeout: float
) -> UmlGuest:
    """Launch the prepared guest in ``netns``, wait for it, start the forwarders; on
    failure stop whatever started (the namespace goes too)."""
    shared = config.shared_dir
    guest = None
    try:
        process = launch(config, preexec_fn=preexec_entering(netns))
        boot = _wait_ready(process, shared, boot_timeout)
        state = str(shared.parent)  # shared is STATE/uml
        guest = UmlGuest(name, process.pid, netns, str(shared), state, net.guest_address, forwards, (), boot)
        _record(guest)
        pids = tuple(
            _start_forwarder(netns, host, (net.guest_address, port), shared) for host, port in forwards.items()
        )
        guest = UmlGuest(**{**asdict(guest), "forwarder_pids": pids})
        _record(guest)
        return guest
    except BaseException:
        if guest is not None:
            stop_guest(guest, timeout=5)
        else:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        raise


def _record(guest: UmlGuest) -> None:
    Path(guest.state_dir, GUEST_RECORD).write_text(json.dumps(asdict(guest), indent=2))


def load_guest(state_dir: str | Path) -> UmlGuest | None:
    """The guest recorded in ``state_dir``, or None."""
    path = Path(state_dir, GUEST_RECORD)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["forwards"] = {int(k): v for k, v in data.get("forwards", {}).items()}
    data["forwarder_pids"] = tuple(data.get("forwarder_pids", ()))
    return UmlGuest(**data)


def _is_ours(pid: int, marker: str) -> bool:
    """The pid still runs the program we started (pids get reused)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _still_exiting(pid: int) -> bool:
    """Not a zombie yet: an exiting process has lost its cmdline but still holds
    its resources (UML's helper processes go down with it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return state not in ("Z", "X") and not Path(f"/proc/{pid}/cmdline").read_bytes()


class _Detached:
    """``Popen``-like view of a guest started by another process."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)  # our child after all?
            return 0 if done else None
        except ChildProcessError:
            running = _is_ours(self.pid, "linux.uml") or _still_exiting(self.pid)
            return None if running else 0

    def kill(self) -> None:
        if _is_ours(self.pid, "linux.uml"):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.05)
        return 0


def _reap(pid: int, timeout: float = 5.0) -> None:
    """Collect a child we started (no-op for another process's child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.02)


def stop_guest(guest: UmlGuest | str | Path, *, timeout: float = 30.0) -> UmlResult:
    """Stop the guest (clean power-off, SIGKILL after ``timeout``) and remove its namespace."""
    if not isinstance(guest, UmlGuest):
        loaded = load_guest(guest)
        if loaded is None:
            raise UmlError(f"no UML guest recorded in {guest}")
        guest = loaded
    shared = Path(guest.shared_dir)
    try:
        (shared / STOP_FILE).touch()
    except FileNotFoundError:  # the shared directory is gone: no clean stop possible
        _Detached(guest.pid).kill()
    started = time.monotonic()
    result = wait_for_exit(
        _Detached(guest.pid),
        shared,
        started=started,
        timeout=timeout,
        grace=5.0,
    )
    for pid in guest.forwarder_pids:
        if _is_ours(pid, "uml.forwarder"):
            os.kill(pid, signal.SIGTERM)
            _reap(pid)
    subprocess.run(["ip", "netns", "del", guest.netns], capture_output=True)
    Path(guest.state_dir, GUEST_RECORD).unlink(missing_ok=True)
    return result
