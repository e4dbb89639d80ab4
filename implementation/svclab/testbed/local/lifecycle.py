"""The local provider's cluster life cycle on this host.

``bring_up(spec, name)`` validates, checks the host, builds the network,
spawns the supervisor and waits until every node is Ready; ``tear_down(name)``
stops the supervisor (and anything of the cluster still running), removes the
namespaces and the state directory; ``tear_down_all`` also clears what crashed
runs left behind.

A cluster on ``kernel: uml`` (``spec.kernel: uml``, or ``auto`` with a mode the
host kernel cannot serve) runs whole inside a User-Mode Linux guest; this
module only dispatches to ``svclab.testbed.local.uml.cluster`` for it, and the
guest runs the very same ``bring_up`` with ``inside_guest=True``.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.local import naming
from svclab.testbed.local.record import (
    ClusterInfo,
    choose_loopback_port,
    describe_cluster,
    read_cluster,
    write_cluster,
)
from svclab.testbed.provider import ProviderError
from svclab.testbed.spec import Testbed

__all__ = [
    "LocalCluster",
    "UpError",
    "bring_up",
    "check_host",
    "check_mode",
    "cluster_exists",
    "is_stale",
    "process_alive",
    "ready_nodes",
    "resolve_testbed_kernel",
    "tear_down",
    "tear_down_all",
]


STALE_AFTER_SECONDS = 120.0  # a state directory younger than this may be a bring-up under way


class UpError(ProviderError):
    """``svclab up`` cannot go on; the message is one line. ``status`` is the exit status."""


@dataclass(frozen=True, slots=True)
class LocalCluster:
    """A local cluster that ``bring_up`` brought up, with how long each phase took
    (for ``svclab bench``); ``svclab.testbed.local.provider`` makes it a ClusterHandle."""

    info: ClusterInfo
    timings: tuple[tuple[str, float], ...]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kubeconfig(self) -> Path:
        return self.info.kubeconfig


def check_host(testbed: Testbed, *, existing_ok: bool = False) -> None:
    """Root, namespaces, provider, name and subnets; ``existing_ok`` inside a UML
    guest, whose state directory the host has already made."""
    if os.geteuid() != 0:
        raise UpError("must run as root (it creates network namespaces)")
    if not Path("/proc/self/ns/net").exists():
        raise UpError("this kernel has no network namespaces")
    if testbed.provider.value != "local":
        raise UpError(
            f"{testbed.source}: spec.provider: {testbed.provider.value} is not handled by `svclab up` (only local)",
            status=2,
        )
    if not existing_ok and cluster_exists(testbed.name):
        raise UpError(f"cluster {testbed.name} is already up (or left over); run `svclab down {testbed.name}` first")
    for field_name, subnets in (("podSubnet", testbed.pod_subnet), ("serviceSubnet", testbed.service_subnet)):
        for member in subnets.split(","):  # one per family on a dual-stack testbed
            subnet = ipaddress.ip_network(member)
            cluster_net = naming.CLUSTER_NETWORK if subnet.version == 4 else naming.CLUSTER_NETWORK6
            if subnet.overlaps(cluster_net):
                raise UpError(
                    f"{testbed.source}: spec.cluster.networking.{field_name}: overlaps the node network {cluster_net}",
                    status=2,
                )


def resolve_testbed_kernel(testbed: Testbed) -> str:
    """``host`` or ``uml`` for this testbed (``spec.kernel``, ``auto`` by proxy mode).

    Raises UpError (one line) when ``uml`` is needed but this host cannot run it,
    or when an IPv6-only testbed would run in the guest (dual-stack runs there:
    the guest loads ``ipv6`` and its pods, nodes, IPVS, ip6tables and ipsets
    work over IPv6; the guest's own link to the host, ``vec0``, stays IPv4,
    which is all the forwarders need while IPv4 is a cluster family).
    """
    from svclab.testbed.local.uml.runtime import UmlError, resolve_kernel

    try:
        kernel = resolve_kernel(testbed.kernel.value, testbed.proxy.mode.value)
    except UmlError as exc:
        raise UpError(f"{testbed.source}: {exc}") from exc
    if kernel == "uml" and testbed.ip_family == "ipv6":
        # TODO(issue 18): an IPv6-only cluster in the guest needs its API server reachable over vec0's
        # IPv4 too; not tried yet.
        raise UpError(
            f"{testbed.source}: spec.cluster.networking.ipFamily: {testbed.ip_family} is not yet supported "
            "inside the UML guest (use spec.kernel: host)",
            status=2,
        )
    return kernel


def check_mode(testbed: Testbed) -> None:
    """A mode we cannot provide in this kernel is an error now, never a silent fallback
    (a fallback the spec asks for, ``proxy.ipvsFallback``, is no surprise)."""
    from svclab.proxy import modes

    mode = testbed.proxy.mode.value
    if mode == "none" or testbed.proxy.external is not None:
        return  # no proxy runs, or the user's own: whether this kernel suits it is theirs to say
    spec = modes.get(mode)  # the spec's validation only lets registered modes through
    reason = spec.supported()
    fallback = modes.find(testbed.proxy.ipvs_fallback) if testbed.proxy.ipvs_fallback else None
    if reason is not None and fallback is not None and fallback.supported() is None:
        return  # asked for: the proxies run the fallback mode and say so on /proxyMode
    if reason is not None:
        hint = " (use spec.kernel: uml or auto)" if spec.uml_fallback else ""
        raise UpError(f"spec.proxy.mode: {mode} {reason}{hint}")


def cluster_exists(name: str) -> bool:
    """Anything of this cluster on the host: state directory or namespaces."""
    from svclab.testbed.local import network

    return naming.state_dir(name).exists() or bool(network.cluster_namespaces(name))


def is_stale(name: str, *, settle: float = STALE_AFTER_SECONDS) -> bool:
    """Something of cluster ``name`` is left but none of it runs: no process names its
    state directory, none lives in its namespaces (a killed run, a restored machine).

    A state directory younger than ``settle`` seconds may be a bring-up under way.
    """
    from svclab.testbed.local import network

    if not cluster_exists(name):
        return False
    state = naming.state_dir(name)
    try:
        if time.time() - state.stat().st_mtime < settle:
            return False
    except FileNotFoundError:
        pass  # only namespaces are left
    return not _processes_of(state, svclab_only=False) and not network.pids_in_netns(network.cluster_namespaces(name))


def _spawn_supervisor(info: ClusterInfo) -> int:
    """Start ``svclab supervisor`` in its own session; stdout/stderr to its log."""
    from svclab.testbed.local.supervisor import svclab_argv

    log_path = Path(info.state_dir) / "logs" / "supervisor.log"
    argv = [*svclab_argv(), "supervisor", "--state-dir", info.state_dir]
    return os.posix_spawn(
        argv[0],
        argv,
        os.environ,
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
    )


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it first if it is our own exited child."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def bring_up(
    spec: Testbed | str | Path,
    name: str | None = None,
    *,
    progress: Callable[[str], None] = print,
    timeout: float = 60.0,
    keep_on_failure: bool = False,
    inside_guest: bool = False,
) -> LocalCluster:
    """Validate, build the network, start the supervisor, wait for every node Ready.

    A testbed whose kernel resolves to ``uml`` is brought up inside a
    User-Mode Linux guest instead (``uml.cluster.bring_up_in_uml``), which runs
    this function again there with ``inside_guest=True``: then the state
    directory and ``cluster.json`` already exist (the host made them) and a
    failure leaves the clean-up to the host.

    ``spec`` is a Testbed, or the path of its file (then ``name`` overrides
    the spec's). Raises SpecError (bad file; nothing created) or UpError (then
    everything created so far is torn down again unless ``keep_on_failure``).
    """
    from svclab.testbed.spec import load_spec

    started = time.monotonic()
    testbed = spec if isinstance(spec, Testbed) else load_spec(spec, name)
    if not inside_guest and os.geteuid() == 0 and is_stale(testbed.name):
        progress(f"{testbed.name}: removing what an earlier run left (none of it runs any more)")
        tear_down(testbed.name)
    if not inside_guest and resolve_testbed_kernel(testbed) == "uml":
        from svclab.testbed.local.uml.cluster import bring_up_in_uml

        return bring_up_in_uml(testbed, progress=progress, timeout=timeout, keep_on_failure=keep_on_failure)
    check_host(testbed, existing_ok=inside_guest)
    check_mode(testbed)
    state = naming.state_dir(testbed.name)
    info = (
        read_cluster(state) if inside_guest else describe_cluster(testbed, state, loopback_port=choose_loopback_port())
    )
    timings: list[tuple[str, float]] = []
    try:
        (state / "logs").mkdir(parents=True, exist_ok=inside_guest)
        write_cluster(info)
        info = _start_cluster(info, progress=progress, timings=timings, started=started, timeout=timeout)
    except BaseException as failure:
        if not keep_on_failure and not inside_guest:
            if isinstance(failure, UpError):
                _report_logs(state, progress)
            tear_down(testbed.name)
        raise
    return LocalCluster(info, tuple(timings))


def _start_cluster(
    info: ClusterInfo,
    *,
    progress: Callable[[str], None],
    timings: list[tuple[str, float]],
    started: float,
    timeout: float,
) -> ClusterInfo:
    """Network, supervisor, wait until Ready; returns the info with the supervisor's PID."""
    from svclab.testbed.local import network

    net = network.plan_network(info.name, [n.name for n in info.nodes], info.pod_subnet)
    try:
        network.create_network(net)
    except Exception as exc:
        raise UpError(f"cannot build the cluster network: {exc}") from exc
    timings.append(("network", time.monotonic() - started))
    progress(f"network: {len(info.nodes)} nodes on {naming.CLUSTER_BRIDGE} in {net.netns}")
    info = info.with_supervisor(_spawn_supervisor(info))
    write_cluster(info)
    supervisor = info.supervisor_pid or 0
    _wait_until_ready(
        info,
        deadline=started + timeout,
        progress=progress,
        alive=lambda: process_alive(supervisor),
        timings=timings,
        started=started,
    )
    return info


def ready_nodes(kubeconfig: Path) -> set[str]:
    """Names of the Nodes whose Ready condition is True (one API call)."""
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import Node

    client = Client(KubeConfig.from_file(str(kubeconfig)))
    try:
        return {
            str(node.metadata.name)
            for node in client.list(Node)
            if node.metadata
            and node.status
            and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        }
    finally:
        client.close()


def _wait_until_ready(
    info: ClusterInfo,
    *,
    deadline: float,
    progress: Callable[[str], None],
    alive: Callable[[], bool],
    timings: list[tuple[str, float]],
    started: float,
) -> None:
    """Poll until the API server's kubeconfig exists and every node is Ready."""
    wanted = {node.name for node in info.nodes}
    ready: set[str] = set()
    api_up = False
    last_error = ""
    while True:
        if not alive():
            raise UpError(f"the supervisor of {info.name} exited; see {info.state_dir}/logs/supervisor.log")
        if not api_up and info.kubeconfig_loopback.exists():
            api_up = True
            timings.append(("apiserver", time.monotonic() - started))
            progress(f"apiserver: ready ({info.kubeconfig_loopback})")
        if api_up:
            try:
                now_ready = ready_nodes(info.kubeconfig_loopback) & wanted
            except Exception as exc:  # not serving yet, restarting, ...: retry until the deadline
                last_error = f"{type(exc).__name__}: {exc}"
                now_ready = ready
            for name in sorted(now_ready - ready):
                progress(f"node {name}: Ready")
            ready = now_ready
            if ready == wanted:
                timings.append(("nodes", time.monotonic() - started))
                return
        if time.monotonic() >= deadline:
            missing = ", ".join(sorted(wanted - ready))
            what = f"nodes not Ready: {missing}" if api_up else "the API server never got ready"
            raise UpError(f"{info.name}: {what} (timeout){'; ' + last_error if last_error else ''}")
        time.sleep(0.1)


def _report_logs(state: Path, progress: Callable[[str], None], lines: int = 3) -> None:
    """Show the tail of each component log before a failed cluster is removed."""
    for log_file in sorted((state / "logs").glob("*.log")):
        tail = log_file.read_text(errors="replace").splitlines()[-lines:]
        for line in tail:
            progress(f"  {log_file.stem}: {line}")


def _svclab_processes_of(state: Path) -> list[int]:
    """PIDs of svclab processes whose arguments name ``state`` (or a path below it)."""
    return _processes_of(state, svclab_only=True)


def _processes_of(state: Path, *, svclab_only: bool) -> list[int]:
    """PIDs whose arguments name ``state`` or a path below it (``uml_dir=...`` too)."""
    prefix = str(state) + "/"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        is_svclab = any(arg == "svclab.cli" or arg.endswith("/svclab") for arg in argv)
        if (is_svclab or not svclab_only) and any(arg == str(state) or prefix in arg for arg in argv):
            found.append(int(entry))
    return found


def _terminate(pids: list[int], grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL the rest."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:  # reap our own children so no zombie lingers
        while process_alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.02)


def tear_down(name: str, *, grace: float = 15.0) -> bool:
    """Stop and remove cluster ``name``; True if there was anything. Idempotent.

    The supervisor gets SIGTERM (it stops its children); then any svclab
    process still naming the state directory (e.g. orphans of a SIGKILLed
    supervisor) is stopped, every process in the cluster's namespaces is
    killed, the namespaces and the state directory are removed.
    """
    from svclab.testbed.local import network

    state = naming.state_dir(name)
    existed = cluster_exists(name)
    from svclab.testbed.local.uml.cluster import stop_uml_cluster

    stop_uml_cluster(name, state)  # a clean power-off first; no-op for host clusters
    supervisors = _svclab_processes_of(state)
    _terminate([pid for pid in supervisors if _is_supervisor(pid)], grace)
    _terminate(_svclab_processes_of(state), grace)
    network.teardown(name)
    shutil.rmtree(state, ignore_errors=True)
    try:
        naming.run_root().rmdir()  # only if empty: other clusters may be up
    except OSError:
        pass
    return existed


def _is_supervisor(pid: int) -> bool:
    try:
        return b"\0supervisor\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def tear_down_all() -> list[str]:
    """Tear down every cluster, including what crashed runs left: state
    directories without a live supervisor and any ``svclab-*`` namespace."""
    from svclab.testbed.local import network

    root = naming.run_root()
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for name in names:
        tear_down(name)
    leftovers = network.list_netns(naming.NETNS_PREFIX)
    from svclab.testbed.local.uml.cluster import stop_leftover_forwarders

    stop_leftover_forwarders(leftovers)
    for pid in network.pids_in_netns(leftovers):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for namespace in leftovers:
        network.remove_netns(namespace)
    return names + leftovers
