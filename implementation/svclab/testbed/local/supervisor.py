"""The per-cluster supervisor: one OS process per component, restarted on crash.

``plan_children(info)`` (pure) says what runs and where:

* ``apiserver`` in the root namespace, listening on 127.0.0.1 (on the port
  recorded at ``svclab up``, the same after every restart) and, through
  ``--listen-netns``, on the control-plane node's address (and, for a cluster
  inside a User-Mode Linux guest, on the guest's ``vec0`` address, which the
  host's forwarder reaches);
* ``scheduler`` in the root namespace (loopback kubeconfig);
* ``controller-manager`` in the control-plane node's namespace, like a static
  pod with hostNetwork (only when the spec names controllers);
* per node: ``node-agent`` and ``proxy`` (unless the mode is ``none``) in the
  node's namespace, hostname = node name.

With ``mode: external`` (issue 19) the user's command, its placeholders
replaced with the node's values (``svclab.testbed.external``), runs in
``svclab proxy``'s place under the same name (``proxy-<node>``), hence with
its log beside the others and found by ``running_child_pid``; likewise the
user's controllers as ``controller-manager`` (ours, when some still run
beside them, as ``controller-manager-reference``). External children get
their extra environment on top of the supervisor's (and the directory of
``svclab``'s interpreter last on PATH, so a command may name ``svclab``).

Every child's PID is written to ``pids/<child>`` while it runs (removed when
it is reaped): a fault finds the component by that file, not by scanning
/proc for its argv (an external child's argv need not stay what was started,
and inside a User-Mode Linux guest the scan needed a Python process there:
25 s under make test's load, issue 15). The host reads the file through the
shared state directory; ``child_signal_script`` checks and signals the PID in
one shell command.

Everything but the API server waits until the API server has written its
kubeconfigs. ``Supervisor.run`` starts the children, restarts one that exits
after an exponential backoff (0.5 s doubling to 30 s, reset after 10 s of
uptime), appends each child's output to ``logs/<child>.log``, and on SIGTERM
or SIGINT stops them all (SIGTERM, wait, SIGKILL) and returns.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from svclab.testbed.cluster import NodeInfo
from svclab.testbed.external import ExternalCommand
from svclab.testbed.local.agent.server import SOCKET_NAME
from svclab.testbed.local.nsexec import preexec_entering
from svclab.testbed.local.record import ClusterInfo

__all__ = [
    "Backoff",
    "ChildSpec",
    "Supervisor",
    "child_signal_script",
    "placeholder_values",
    "plan_children",
    "running_child_pid",
    "svclab_argv",
]

log = logging.getLogger("svclab.supervisor")

INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 10.0  # a child that ran this long starts over at INITIAL_BACKOFF
STOP_GRACE = 10.0
POLL_INTERVAL = 0.1
PIDS_DIR = "pids"  # STATE/pids/<child>: the PID of each running child
NO_SUCH_CHILD = 3  # child_signal_script's exit status when the child is not in the state asked for


def svclab_argv() -> list[str]:
    """How to start ``svclab`` with this interpreter, independent of $PATH."""
    return [sys.executable, "-m", "svclab.cli"]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str  # also the log file's stem
    argv: tuple[str, ...]
    netns: str | None = None  # None: the supervisor's (root) namespace
    hostname: str | None = None
    needs_apiserver: bool = True
    env: tuple[tuple[str, str], ...] = ()  # set on top of the supervisor's environment
    external: bool = False  # the user's command (mode external), not ``svclab ...``


def _node_children(info: ClusterInfo, base: list[str], with_proxy: bool) -> list[ChildSpec]:
    state = Path(info.state_dir)
    children = []
    for node in info.nodes:
        agent = [
            *base,
            "node-agent",
            "--kubeconfig",
            str(info.kubeconfig_internal),
            "--node-name",
            node.name,
            "--cluster",
            info.name,
            "--netns",
            node.netns,
            "--node-ip",
            ",".join(node.ips),
            "--pod-cidr",
            ",".join(node.pod_cidrs),
            "--state-dir",
            str(state / "nodes" / node.name),
        ]
        if node.labels:
            agent += ["--labels", ",".join(f"{k}={v}" for k, v in node.labels)]
        if node.taints:
            agent += ["--register-with-taints", ",".join(t.flag() for t in node.taints)]
        static = _static_pods(info, node, with_proxy)
        if static:
            agent += ["--static-pods", static]
        children.append(ChildSpec(f"node-agent-{node.name}", tuple(agent), node.netns, node.name))
        if info.external_proxy is not None:
            children.append(_external_child(f"proxy-{node.name}", info.external_proxy, info, node))
        elif with_proxy:
            proxy = [
                *base,
                "proxy",
                "--kubeconfig",
                str(info.kubeconfig_internal),
                "--mode",
                info.proxy_mode,
                "--hostname-override",
                node.name,
                "--min-sync-period",
                info.min_sync_period,
                "--sync-period",
                info.sync_period,
            ]
            if info.ipvs_scheduler:
                proxy += ["--ipvs-scheduler", info.ipvs_scheduler]
            if info.proxy_fallback is None:  # refuse rather than silently run another mode
                proxy.append("--no-mode-fallback")
            children.append(ChildSpec(f"proxy-{node.name}", tuple(proxy), node.netns, node.name))
    return children


def _static_pods(info: ClusterInfo, node: NodeInfo, with_proxy: bool) -> str:
    """The node agent's ``--static-pods``: the components shown as mirror pods on ``node``
    (the control plane on the first node, as kubeadm places it; a proxy on every node).
    External commands are the user's, not ours to publish."""
    pods = []
    if node is info.nodes[0]:
        pods += ["kube-apiserver=apiserver", "kube-scheduler=scheduler"]
        if info.controllers and info.external_controllers is None:
            pods.append("kube-controller-manager=controller-manager")
    if with_proxy and info.external_proxy is None:
        pods.append(f"kube-proxy=proxy-{node.name}")
    return ",".join(pods)


def placeholder_values(info: ClusterInfo, node: NodeInfo) -> dict[str, str]:
    """What an external command's placeholders stand for on ``node``. Side-effect-free."""
    return {
        "kubeconfig": str(info.kubeconfig_internal),  # the reference components' own
        "nodeName": node.name,
        "nodeIP": node.ip,
        "podCIDR": node.pod_cidr,
        "clusterCIDR": info.pod_subnet,
        "serviceCIDR": info.service_subnet,
    }


def _external_child(name: str, command: ExternalCommand, info: ClusterInfo, node: NodeInfo) -> ChildSpec:
    argv, env = command.expanded(placeholder_values(info, node))
    return ChildSpec(name, argv, node.netns, node.name, env=env, external=True)


def _controller_children(info: ClusterInfo, base: list[str]) -> list[ChildSpec]:
    control_plane = info.nodes[0]
    children = []
    if info.external_controllers is not None:
        children.append(_external_child("controller-manager", info.external_controllers, info, control_plane))
    if info.controllers:
        reference = [
            *base,
            "controller-manager",
            "--kubeconfig",
            str(info.kubeconfig_internal),
            "--controllers",
            ",".join(info.controllers),
        ]
        name = "controller-manager" if info.external_controllers is None else "controller-manager-reference"
        children.append(ChildSpec(name, tuple(reference), control_plane.netns, control_plane.name))
    return children


def plan_children(info: ClusterInfo, *, base: list[str] | None = None) -> list[ChildSpec]:
    """The processes of a cluster, in start order. Side-effect-free."""
    base = svclab_argv() if base is None else base
    state = Path(info.state_dir)
    control_plane = info.nodes[0]
    # The first --listen is the one STATE/apiserver/kubeconfig names: loopback.
    guest_listen = ("--listen", f"{info.uml.guest_address}:{info.uml.api_port}") if info.uml else ()
    children = [
        ChildSpec(
            "apiserver",
            (
                *base,
                "apiserver",
                "--state-dir",
                str(state / "apiserver"),
                "--listen",
                f"127.0.0.1:{info.loopback_port}",
                *guest_listen,
                "--listen-netns",
                f"{control_plane.netns}={info.advertise_address}:6443",
                "--service-cidr",
                info.service_subnet,
                "--advertise-address",
                info.advertise_address,
                "--cluster-name",
                info.name,
                "--node-agent-socket",
                str(state / "nodes" / "{node}" / SOCKET_NAME),
            ),
            needs_apiserver=False,
        ),
    ]
    children.append(ChildSpec("scheduler", (*base, "scheduler", "--kubeconfig", str(info.kubeconfig_loopback))))
    children += _controller_children(info, base)
    with_proxy = info.proxy_mode != "none"
    return children + _node_children(info, base, with_proxy)


def running_child_pid(state_dir: str | Path, child: str, *, stopped: bool = False) -> int | None:
    """PID of the supervisor's child ``child`` (``controller-manager``, ``proxy-<node>``,
    ...) of the cluster in ``state_dir`` that runs now (not stopped, not a zombie), or
    with ``stopped`` the one that is frozen (SIGSTOP) now.

    Reads ``pids/<child>`` and checks in this kernel's /proc that the PID is still the
    supervisor's child in that state, so tests can crash or freeze one component. For
    a cluster inside a UML guest the check must run there: ``child_signal_script``.
    """
    from svclab.testbed.local.record import read_cluster

    info = read_cluster(Path(state_dir))
    if not info.supervisor_pid:
        return None
    try:
        pid = int((Path(state_dir) / PIDS_DIR / child).read_text())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    frozen = fields[0] in "Tt"
    alive = fields[0] not in "ZX" and int(fields[1]) == info.supervisor_pid
    return pid if alive and frozen is stopped else None


def child_signal_script(state_dir: str | Path, child: str, supervisor_pid: int, signum: int, *, stopped: bool) -> str:
    """A shell script that sends ``signum`` to ``child`` as ``running_child_pid`` finds it
    (its PID file, parent, state) and prints the PID; exits ``NO_SUCH_CHILD`` when there is no such child.
    One process for a fault inside a UML guest. Side-effect-free."""
    # /proc/PID/stat after the command name: state, parent PID, ...
    none = f"exit {NO_SUCH_CHILD}"
    state_check = f"T|t) ;; *) {none} ;;" if stopped else f"T|t|Z|X) {none} ;;"
    return (
        f"pid=$(cat {shlex.quote(str(Path(state_dir) / PIDS_DIR / child))} 2>/dev/null) || {none}; "
        f'stat=$(cat "/proc/$pid/stat" 2>/dev/null) || {none}; '
        "set -- ${stat##*) }; "
        f'[ "$2" = {supervisor_pid} ] || {none}; '
        f'case "$1" in {state_check} esac; '
        f'kill -{signum} "$pid" && echo "$pid"'
    )


def _external_env(extra: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The supervisor's environment with the spec's on top, and this interpreter's bin directory
    last on PATH: ``svclab`` (the venv's) is found by an external command that names it."""
    env = {**os.environ, **dict(extra)}
    env["PATH"] = os.pathsep.join(part for part in (env.get("PATH", ""), str(Path(sys.executable).parent)) if part)
    return env


@dataclass(slots=True)
class Backoff:
    """Exponential restart delay; pure arithmetic, the caller supplies times."""

    delay: float = INITIAL_BACKOFF

    def next_delay(self, uptime: float) -> float:
        """The wait before restarting a child that ran ``uptime`` seconds."""
        if uptime >= STABLE_AFTER:
            self.delay = INITIAL_BACKOFF
        current = self.delay
        self.delay = min(self.delay * 2, MAX_BACKOFF)
        return current


@dataclass(slots=True)
class _Running:
    spec: ChildSpec
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[Any] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0


class Supervisor:
    """Runs ``children`` until ``stop()`` (or SIGTERM/SIGINT via ``install_signals``)."""

    def __init__(
        self, info: ClusterInfo, children: list[ChildSpec], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.info = info
        self.state = Path(info.state_dir)
        self.children = [_Running(spec) for spec in children]
        self.clock = clock
        self.stopping = False
        self._logs: dict[str, TextIO] = {}

    def install_signals(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())

    def stop(self) -> None:
        self.stopping = True

    def apiserver_ready(self) -> bool:
        api = self.state / "apiserver"
        return (api / "kubeconfig").exists() and (api / "kubeconfig.internal").exists()

    def link_kubeconfigs(self) -> None:
        """DIR/kubeconfig{,.internal} point at the API server's (rewritten on restart).

        Inside a UML guest DIR/kubeconfig is the host's (127.0.0.1 forwarder),
        written by the host; components there use apiserver/kubeconfig.
        """
        names = ("kubeconfig.internal",) if self.info.uml else ("kubeconfig", "kubeconfig.internal")
        for name in names:
            link = self.state / name
            if not link.is_symlink():
                link.symlink_to(Path("apiserver") / name)

    def _log_file(self, name: str) -> TextIO:
        if name not in self._logs:
            (self.state / "logs").mkdir(parents=True, exist_ok=True)
            # Held open for the supervisor's lifetime and closed when it ends.
            self._logs[name] = open(self.state / "logs" / f"{name}.log", "a", buffering=1)  # noqa: SIM115
        return self._logs[name]

    def _start(self, child: _Running) -> None:
        spec = child.spec
        out = self._log_file(spec.name)
        out.write(
            f"--- svclab supervisor: starting {spec.name} (start {child.restarts + 1}) "
            f"at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
        )
        preexec = preexec_entering(spec.netns, hostname=spec.hostname) if spec.netns else None
        try:
            child.process = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
                close_fds=True,
                env=_external_env(spec.env) if spec.external else None,
            )
        except OSError as exc:
            out.write(f"--- svclab supervisor: cannot start {spec.name}: {exc}\n")
            child.process = None
            child.restart_at = self.clock() + child.backoff.next_delay(0.0)
            return
        (self.state / PIDS_DIR).mkdir(exist_ok=True)
        (self.state / PIDS_DIR / spec.name).write_text(f"{child.process.pid}\n")
        child.started_at = self.clock()
        log.info("started child=%s pid=%d", spec.name, child.process.pid)

    def _reap(self, child: _Running, now: float) -> None:
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            return
        delay = child.backoff.next_delay(now - child.started_at)
        self._log_file(child.spec.name).write(
            f"--- svclab supervisor: {child.spec.name} exited with {code}; restarting in {delay:.1f}s\n"
        )
        log.warning("exited child=%s code=%s restart_in=%.1f", child.spec.name, code, delay)
        (self.state / PIDS_DIR / child.spec.name).unlink(missing_ok=True)
        child.process = None
        child.restarts += 1
        child.restart_at = now + delay

    def step(self) -> None:
        """One pass: reap exited children, start those that are due."""
        now = self.clock()
        api_ready = self.apiserver_ready()
        if api_ready:
            self.link_kubeconfigs()
        for child in self.children:
            if child.process is not None:
                self._reap(child, now)
            elif now >= child.restart_at and (api_ready or not child.spec.needs_apiserver):
                self._start(child)

    def run(self) -> None:
        while not self.stopping:
            self.step()
            time.sleep(POLL_INTERVAL)
        self.stop_children()

    def stop_children(self, grace: float = STOP_GRACE) -> None:
        """Stop the API server's clients first, then the API server.

        Clients going first means the API server closes no live watches and
        no component logs errors about a vanished API server on the way down.
        """
        for wave in (True, False):
            self._stop(
                [c.process for c in self.children if c.process is not None and c.spec.needs_apiserver is wave], grace
            )
        for out in self._logs.values():
            out.close()

    @staticmethod
    def _stop(running: list[subprocess.Popen[Any]], grace: float) -> None:
        """SIGTERM all, wait up to ``grace`` seconds, SIGKILL what is left."""
        for process in running:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait()


def _signal(process: subprocess.Popen[Any], signum: int) -> None:
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:
        pass
