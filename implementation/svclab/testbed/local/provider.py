"""The local provider: a cluster of network namespaces on this host (or in a UML guest).

``LOCAL`` implements ``svclab.testbed.provider.Provider`` over the life cycle
(``svclab.testbed.local.lifecycle``); its handle, ``LocalClusterHandle``,
reads the cluster's ``cluster.json``. Exec with captured output runs the
command as a child that enters the namespaces itself, or through a UML
guest's exec agent (``svclab.testbed.local.captured``: no svclab process per
command); without capture the calling process itself becomes the command
(``svclab exec``).

Its ``fault`` hook (``svclab.testbed.local.faults``) rests on ``signal_child``:
find a component by its supervisor's PID file and signal it, in the cluster's
kernel (for a cluster inside a User-Mode Linux guest one shell command through
the exec agent). ``component_pid`` and ``signal_component`` are the two halves,
for tests.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.cluster import ClusterRecord
from svclab.testbed.faults import FaultRequest
from svclab.testbed.local import enter
from svclab.testbed.local.captured import capture_in_pod, capture_on_node
from svclab.testbed.local.lifecycle import bring_up, tear_down
from svclab.testbed.local.record import ClusterInfo, read_cluster
from svclab.testbed.provider import ExecResult, Progress, ProviderError
from svclab.testbed.spec import Testbed

__all__ = ["LOCAL", "LocalClusterHandle", "LocalProvider"]

DEFAULT_UP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class LocalClusterHandle:
    """A local cluster that is up; ``timings`` are bring-up phases (empty when attached)."""

    info: ClusterInfo
    timings: tuple[tuple[str, float], ...] = ()
    node_access: bool = True  # through `svclab node-exec`

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kubeconfig(self) -> Path:
        return self.info.kubeconfig

    def describe(self) -> ClusterRecord:
        info = self.info
        return ClusterRecord(
            name=info.name,
            provider="local",
            kubeconfig=info.kubeconfig,
            proxy_mode=info.proxy_mode,
            has_proxy=info.proxy_mode != "none",
            has_controllers=bool(info.controllers) or info.external_controllers is not None,
            service_subnet=info.service_subnet,
            apiserver_address=info.advertise_address,
            nodes=info.nodes,
            kernel="host" if info.uml is None else f"uml {info.uml.kernel_version}",
            proxy_rules=info.proxy_rules,
        )

    def exec_in_pod(
        self, namespace: str, pod: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        if not capture:
            return ExecResult(enter.exec_in_pod(self.info, namespace, pod, list(argv)), "", "")
        return capture_in_pod(self.info, namespace, pod, argv, timeout)

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        if not capture:
            return ExecResult(enter.exec_on_node(self.info, node, list(argv)), "", "")
        return capture_on_node(self.info, node, argv, timeout)

    def component_pid(self, child: str, *, stopped: bool = False) -> int | None:
        """PID of a running component by its supervisor name (``controller-manager``,
        ``proxy-<node>``, ``node-agent-<node>``, ...) in the cluster's kernel; None while
        there is none (e.g. restarting). ``stopped``: the one frozen with SIGSTOP."""
        return self.signal_child(child, 0, stopped=stopped)

    def signal_component(self, pid: int, signum: int) -> None:
        """Send ``signum`` to a component found with ``component_pid``."""
        if self.info.uml is None:
            os.kill(pid, signum)
            return
        self.exec_on_node(self.info.nodes[0].name, ["kill", f"-{signum}", str(pid)]).check()

    def signal_child(self, child: str, signum: int, *, stopped: bool = False) -> int | None:
        """Send ``signum`` to the component ``child`` that runs now (``stopped``: that is
        frozen now) and return its PID; None when there is none (0 only looks)."""
        from svclab.testbed.local.supervisor import NO_SUCH_CHILD, child_signal_script, running_child_pid

        if self.info.uml is None:
            pid = running_child_pid(self.info.state_dir, child, stopped=stopped)
            if pid is not None and signum:
                os.kill(pid, signum)
            return pid
        supervisor = self.info.supervisor_pid or 0
        script = child_signal_script(self.info.state_dir, child, supervisor, signum, stopped=stopped)
        done = self.exec_on_node(self.info.nodes[0].name, ["/bin/sh", "-c", script])
        if done.rc == NO_SUCH_CHILD:
            return None
        return int(done.check().stdout)

    def fault(self, request: FaultRequest) -> str:
        """See ``ClusterHandle.fault`` (``svclab.testbed.local.faults``)."""
        from svclab.testbed.local.faults import inject

        return inject(self, request)


@dataclass(frozen=True, slots=True)
class LocalProvider:
    kind: str = "local"
    creates_clusters: bool = True

    def preflight(self, spec: Testbed) -> str | None:
        if os.geteuid() != 0:
            return "the local provider needs root (network namespaces)"
        from svclab.testbed.local.uml import can_run_uml, resolve_kernel

        if resolve_kernel(spec.kernel.value, spec.proxy.mode.value) == "uml":
            return can_run_uml()
        return None

    def kernel(self, spec: Testbed) -> str:
        from svclab.testbed.local.uml import kernel_version, resolve_kernel

        if resolve_kernel(spec.kernel.value, spec.proxy.mode.value) == "uml":
            return f"uml {kernel_version()}"
        return f"host {platform.release()}"

    def up(
        self, spec: Testbed, *, progress: Progress, timeout: float | None = None, keep_on_failure: bool = False
    ) -> LocalClusterHandle:
        """``svclab up``'s bring-up; raises UpError (a ProviderError)."""
        up = bring_up(spec, progress=progress, timeout=timeout or DEFAULT_UP_TIMEOUT, keep_on_failure=keep_on_failure)
        return LocalClusterHandle(up.info, up.timings)

    def down(self, name: str) -> bool:
        if os.geteuid() != 0:
            raise ProviderError("must run as root (it removes network namespaces)")
        return tear_down(name)

    def attach(self, name: str) -> LocalClusterHandle | None:
        try:
            return LocalClusterHandle(read_cluster(name))
        except FileNotFoundError:
            return None


LOCAL = LocalProvider()
