"""A whole local cluster inside a long-running User-Mode Linux guest.

Where the host kernel lacks what a testbed needs (IPVS here), ``svclab up``
runs the ordinary local bring-up *inside* a guest and makes the result usable
from the host like any local cluster:

* the host makes the state directory ``/run/svclab/NAME`` and its
  ``cluster.json`` (with a ``uml`` section: guest address, ports, kernel
  version), copies the spec there and boots the guest (``start_guest``) with
  that directory shared read-write through hostfs, so logs, ``cluster.json``
  and kubeconfigs stay readable on the host;
* the guest runs ``svclab up SPEC --name NAME --inside-guest``
  (``serve_inside_guest``): the usual ``bring_up`` (namespaces, supervisor,
  components, proxies in the guest's kernel), then the exec agent
  (``exec_agent.py``) on the guest's ``vec0`` address; it writes
  ``uml/cluster-ready`` and keeps running until the init's SIGTERM (the
  ``stop`` file), when it stops the supervisor;
* the API server also listens on the guest's ``vec0`` address; a forwarder on
  ``127.0.0.1:PORT`` reaches it and the host's ``STATE/kubeconfig`` names
  that address (the serving certificate has 127.0.0.1 among its SANs);
* ``svclab exec`` / ``node-exec`` send their command to the exec agent
  (``exec_in_guest``) through a socket made in the guest's namespace;
* ``svclab down`` (``stop_uml_cluster``) asks the guest to stop through the
  ``stop`` file, then removes its namespace, tap and forwarder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from svclab.testbed.local import naming
from svclab.testbed.local.lifecycle import (
    LocalCluster,
    UpError,
    bring_up,
    check_host,
    process_alive,
    ready_nodes,
    tear_down,
)
from svclab.testbed.local.nsexec import socket_in_netns
from svclab.testbed.local.record import (
    ClusterInfo,
    UmlAccess,
    choose_loopback_port,
    describe_cluster,
    read_cluster,
    write_cluster,
)
from svclab.testbed.local.uml.boot import EXIT_CODE_FILE, OUTPUT_FILE, GuestNetwork
from svclab.testbed.local.uml.exec_agent import AGENT_PORT, ExecAgent, ExecTarget, TargetError, run_remote
from svclab.testbed.local.uml.guest import guest_netns, load_guest, start_guest, stop_guest
from svclab.testbed.local.uml.runtime import IPVS_MODULES, UmlError, kernel_version
from svclab.testbed.spec import Testbed

__all__ = [
    "API_GUEST_PORT",
    "CLUSTER_READY_FILE",
    "GUEST_MEMORY",
    "bring_up_in_uml",
    "exec_in_guest",
    "serve_inside_guest",
    "stop_leftover_forwarders",
    "stop_uml_cluster",
    "write_host_kubeconfig",
]

API_GUEST_PORT = 6443  # the API server on the guest's vec0 address
GUEST_MEMORY = "3G"  # mapped from /dev/shm; only touched pages cost host memory
CLUSTER_READY_FILE = "cluster-ready"  # in the shared dir: every node Ready, agent listening
# The init's grace between SIGTERM and SIGKILL of the in-guest `up`: enough for the
# supervisor's own 10 s stop grace; `svclab down` waits a little longer than that.
STOP_GRACE = 25.0
STOP_TIMEOUT = STOP_GRACE + 10.0
BOOT_ALLOWANCE = 60.0  # added to the caller's timeout (boot and a one-CPU kernel)
_FORWARDER_MODULE = "svclab.testbed.local.uml.forwarder"


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_host_kubeconfig(info: ClusterInfo) -> Path:
    """``STATE/kubeconfig`` for the host: the guest's, with the forwarder as server."""
    assert info.uml is not None
    config: dict[str, Any] = yaml.safe_load(info.kubeconfig_loopback.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{info.uml.host_api_port}"
    temporary = info.kubeconfig.with_name("kubeconfig.host.tmp")
    temporary.write_text(yaml.safe_dump(config, sort_keys=False))
    temporary.chmod(0o600)  # it holds the token
    os.replace(temporary, info.kubeconfig)
    return info.kubeconfig


class _Relay:
    """Repeats the in-guest bring-up's new output lines as host progress."""

    def __init__(self, path: Path, progress: Callable[[str], None]) -> None:
        self.path, self.progress, self.offset = path, progress, 0

    def __call__(self) -> None:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            self.progress(f"uml: {line}")


def _wait_for_guest_cluster(
    shared: Path, guest_pid: int, *, deadline: float, progress: Callable[[str], None]
) -> dict[str, float]:
    """Wait for ``cluster-ready``; return the in-guest timings it carries."""
    relay = _Relay(shared / OUTPUT_FILE, progress)
    ready = shared / CLUSTER_READY_FILE
    while not ready.exists():
        relay()
        if (shared / EXIT_CODE_FILE).exists() or not process_alive(guest_pid):
            raise UpError(
                f"the cluster inside the UML guest did not come up; see "
                f"{shared / OUTPUT_FILE} and {shared.parent / 'logs'}"
            )
        if time.monotonic() > deadline:
            raise UpError(f"the cluster inside the UML guest was not Ready in time; see {shared / OUTPUT_FILE}")
        time.sleep(0.1)
    relay()
    return {str(k): float(v) for k, v in json.loads(ready.read_text()).items()}


def _wait_host_api(info: ClusterInfo, deadline: float) -> None:
    """Every node Ready, as seen from the host through the forwarder."""
    wanted = {node.name for node in info.nodes}
    last_error = ""
    while time.monotonic() < deadline:
        try:
            if ready_nodes(info.kubeconfig) >= wanted:
                return
        except Exception as exc:  # forwarder or TLS not through yet: retry until the deadline
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise UpError(
        f"{info.name}: the API server is not reachable from the host through "
        f"127.0.0.1:{info.uml.host_api_port if info.uml else '?'} {last_error}"
    )


def _guest_command(testbed: Testbed, state: Path, timeout: float) -> list[str]:
    """``svclab up`` for the guest, on a copy of the spec in the shared state directory
    (the spec's own path may be hidden in the guest, e.g. under /tmp)."""
    from svclab.testbed.local.supervisor import svclab_argv

    spec_copy = state / "spec.yaml"
    shutil.copyfile(testbed.source, spec_copy)
    return [*svclab_argv(), "up", str(spec_copy), "--name", testbed.name, "--inside-guest", "--timeout", str(timeout)]


def bring_up_in_uml(
    testbed: Testbed, *, progress: Callable[[str], None], timeout: float, keep_on_failure: bool = False
) -> LocalCluster:
    """Boot a guest running the cluster; return once the host sees every node Ready.

    ``timeout`` is the in-guest bring-up's; the host allows ``BOOT_ALLOWANCE``
    more. Raises UpError (and removes everything unless ``keep_on_failure``).
    """
    check_host(testbed)
    started = time.monotonic()
    state = naming.state_dir(testbed.name)
    version = kernel_version() or "unknown"
    access = UmlAccess(
        guest_address=GuestNetwork(tap="").guest_address,
        api_port=API_GUEST_PORT,
        host_api_port=_free_loopback_port(),
        agent_port=AGENT_PORT,
        kernel_version=version,
    )
    # The guest's own loopback: empty at boot, so any port below its ephemeral range is free.
    info = replace(describe_cluster(testbed, state, loopback_port=choose_loopback_port()), uml=access)
    timings: list[tuple[str, float]] = []
    try:
        (state / "logs").mkdir(parents=True)
        write_cluster(info)
        guest = start_guest(
            testbed.name,
            _guest_command(testbed, state, timeout),
            workdir=state,
            state_dir=state,
            memory=GUEST_MEMORY,
            modules=IPVS_MODULES,
            forwards={access.host_api_port: API_GUEST_PORT},
            stop_grace=STOP_GRACE,
        )
        timings.append(("uml boot", time.monotonic() - started))
        progress(f"uml: guest booted (kernel {version}, {GUEST_MEMORY}, {guest.boot_seconds:.1f}s to its command)")
        inside = _wait_for_guest_cluster(
            Path(guest.shared_dir), guest.pid, progress=progress, deadline=started + timeout + BOOT_ALLOWANCE
        )
        timings += [(f"guest {phase}", seconds) for phase, seconds in inside.items()]
        write_host_kubeconfig(info)
        _wait_host_api(info, deadline=time.monotonic() + 30)
        timings.append(("host api", time.monotonic() - started))
    except (UmlError, OSError) as exc:
        if not keep_on_failure:
            tear_down(testbed.name)
        raise UpError(f"cannot start the UML guest: {exc}") from exc
    except BaseException:
        if not keep_on_failure:
            tear_down(testbed.name)
        raise
    return LocalCluster(read_cluster(state), tuple(timings))


# --------------------------------------------------------------------------- inside the guest


class _Stopped(BaseException):
    """SIGTERM arrived while the cluster was still coming up (a BaseException, so
    no ``except Exception`` on the way turns it into an ordinary failure)."""


def _stop_handler(main_pid: int) -> Callable[[int, Any], None]:
    def handle(signum: int, frame: Any) -> None:
        if os.getpid() != main_pid:
            # A forked helper (pyroute2 forks to create namespaces and stops its child
            # with SIGTERM) must just die, not unwind through our frames.
            os._exit(128 + signum)
        raise _Stopped

    return handle


def _resolver(info: ClusterInfo) -> Callable[[dict[str, Any]], ExecTarget]:
    from svclab.testbed.local.enter import find_sandbox

    def resolve(target: dict[str, Any]) -> ExecTarget:
        if "node" in target:
            try:
                node = info.node(str(target["node"]))
            except KeyError as exc:
                raise TargetError(str(exc.args[0])) from exc
            return ExecTarget(node.netns, None, node.name)
        if isinstance(target.get("pod"), dict):
            namespace, pod = str(target["pod"].get("namespace")), str(target["pod"].get("name"))
            sandbox = find_sandbox(info, namespace, pod)
            if sandbox is None:
                raise TargetError(f"pod {namespace}/{pod} not found or has no sandbox yet")
            return ExecTarget(sandbox.netns, sandbox.uts, pod)
        raise TargetError("exec agent: the target names neither a pod nor a node")

    return resolve


async def _serve_agent(info: ClusterInfo, ready_file: Path, timings: dict[str, float]) -> None:
    """Run the exec agent until SIGTERM/SIGINT; ``ready_file`` once it listens."""
    import asyncio

    assert info.uml is not None
    token = (Path(info.state_dir) / "apiserver" / "token").read_text().strip()
    agent = ExecAgent(token, _resolver(info))
    await agent.start(info.uml.guest_address, info.uml.agent_port)
    temporary = ready_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(timings))
    os.replace(temporary, ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await agent.close()


def _stop_supervisor(pid: int | None, grace: float = STOP_GRACE - 3) -> None:
    if not pid or not process_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def serve_inside_guest(
    spec_file: str, name: str | None, *, timeout: float, progress: Callable[[str], None] = print
) -> int:
    """``svclab up ... --inside-guest``: bring the cluster up here, serve exec until SIGTERM."""
    import asyncio

    signal.signal(signal.SIGTERM, _stop_handler(os.getpid()))
    supervisor: int | None = None
    try:
        handle = bring_up(spec_file, name, progress=progress, timeout=timeout, inside_guest=True)
        supervisor = handle.info.supervisor_pid
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # from here the event loop handles it
        ready_file = Path(handle.info.state_dir) / "uml" / CLUSTER_READY_FILE
        asyncio.run(_serve_agent(handle.info, ready_file, dict(handle.timings)))
        return 0
    except _Stopped:
        return 143
    except UpError as exc:
        print(f"svclab up (in the UML guest): {exc}", file=sys.stderr)
        return exc.status
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is None and name is not None:
            supervisor = _recorded_supervisor(name)
        _stop_supervisor(supervisor)


def _recorded_supervisor(name: str) -> int | None:
    try:
        return read_cluster(name).supervisor_pid
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- from the host


def exec_in_guest(info: ClusterInfo, target: dict[str, Any], argv: Sequence[str]) -> int:
    """Run ``argv`` on a pod or node of a UML cluster through its exec agent; the exit status.

    ``target`` is ``{"pod": {"namespace", "name"}}`` or ``{"node": NAME}``.
    Output goes to this process's stdout and stderr. Needs root (``setns``).
    """
    if info.uml is None:
        raise ValueError(f"cluster {info.name} does not run in a UML guest")
    token = (Path(info.state_dir) / "apiserver" / "token").read_text().strip()
    with socket_in_netns(guest_netns(info.name)) as sock:
        sock.connect((info.uml.guest_address, info.uml.agent_port))
        return run_remote(sock, token, argv, target, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)


def stop_uml_cluster(name: str, state: Path) -> bool:
    """Stop the cluster's guest, if one is recorded in ``state``: clean power-off
    through the ``stop`` file (SIGKILL after ``STOP_TIMEOUT``), then its forwarders,
    namespace and tap go. True if there was a guest."""
    guest = load_guest(state)
    if guest is None:
        return False
    try:
        stop_guest(guest, timeout=STOP_TIMEOUT)
    except (UmlError, OSError) as exc:
        print(f"svclab down: stopping the UML guest of {name}: {exc}", file=sys.stderr)
    return True


def _forwarder_netns(pid: int) -> str | None:
    """The ``--netns`` of an svclab forwarder process, else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if _FORWARDER_MODULE not in argv or "--netns" not in argv[:-1]:
        return None
    return argv[argv.index("--netns") + 1]


def stop_leftover_forwarders(namespaces: Sequence[str]) -> list[int]:
    """SIGTERM the forwarders of left-over guest namespaces (crashed runs); their PIDs."""
    wanted = {ns for ns in namespaces if ns.endswith("-uml")}
    stopped = []
    for entry in os.listdir("/proc") if wanted else []:
        if entry.isdigit() and _forwarder_netns(int(entry)) in wanted:
            try:
                os.kill(int(entry), signal.SIGTERM)
                stopped.append(int(entry))
            except ProcessLookupError:
                pass
    return stopped
