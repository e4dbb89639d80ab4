"""The local provider's record of a cluster: ``cluster.json`` in its state directory.

``svclab up`` turns a validated ``Testbed`` into a ``ClusterInfo`` (pure:
``describe_cluster``), writes it to ``/run/svclab/NAME/cluster.json`` and
starts the supervisor, which reads it back to know what to run. ``down``,
``list``, ``exec`` and the local provider's handle read it too (the handle
derives the neutral ``svclab.testbed.cluster.ClusterRecord`` from it). The
file is JSON with camelCase keys::

    {"name", "stateDir", "specFile", "podSubnet", "serviceSubnet",
     "proxy": {"mode", "minSyncPeriod", "syncPeriod", "scheduler", "fallback",
               "external": null | {"command": [...], "env": {...}}, "rules"},
     "controllers": [...], "externalControllers": null | {"command", "env"},
     "clusterNetns", "apiserver": {"advertiseAddress", "port", "loopbackPort"},
     "supervisorPid",
     "nodes": [{"name", "role", "index", "netns", "ip", "podCIDR",
                "secondaryIP", "secondaryPodCIDR" (dual stack only),
                "labels": {...}, "taints": [{"key", "value", "effect"}]}],
     "kernel": "host" | "uml",
     "uml": {"guestAddress", "apiPort", "hostApiPort", "agentPort", "kernelVersion"}}
"""

from __future__ import annotations

import json
import os
import random
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from svclab.testbed.cluster import CONTROL_PLANE_LABEL, CONTROL_PLANE_TAINT, NodeInfo
from svclab.testbed.external import ExternalCommand
from svclab.testbed.local import naming
from svclab.testbed.spec import NodeRole, Testbed

__all__ = [
    "ClusterInfo",
    "UmlAccess",
    "choose_loopback_port",
    "describe_cluster",
    "list_clusters",
    "read_cluster",
    "write_cluster",
]


@dataclass(frozen=True, slots=True)
class UmlAccess:
    """How the host reaches a cluster that runs inside a User-Mode Linux guest.

    The API server listens on ``guest_address:api_port`` (the guest's ``vec0``)
    besides its usual addresses; a forwarder on ``127.0.0.1:host_api_port``
    reaches it from the host. The exec agent listens on
    ``guest_address:agent_port``.
    """

    guest_address: str
    api_port: int
    host_api_port: int
    agent_port: int
    kernel_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "guestAddress": self.guest_address,
            "apiPort": self.api_port,
            "hostApiPort": self.host_api_port,
            "agentPort": self.agent_port,
            "kernelVersion": self.kernel_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UmlAccess:
        return cls(
            guest_address=data["guestAddress"],
            api_port=int(data["apiPort"]),
            host_api_port=int(data["hostApiPort"]),
            agent_port=int(data["agentPort"]),
            kernel_version=data["kernelVersion"],
        )


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    state_dir: str
    spec_file: str
    pod_subnet: str
    service_subnet: str
    proxy_mode: str
    min_sync_period: str
    sync_period: str
    ipvs_scheduler: str | None
    controllers: tuple[str, ...]
    cluster_netns: str
    advertise_address: str
    nodes: tuple[NodeInfo, ...]
    supervisor_pid: int | None = None
    uml: UmlAccess | None = None
    proxy_fallback: str | None = None  # spec.proxy.ipvsFallback
    # The API server's port on 127.0.0.1, chosen once at `svclab up` and reused by every
    # restart, so the scheduler and the user's kubeconfig keep reaching it (issue 15).
    # 0 (a record from before this field): a free port afresh on each start.
    loopback_port: int = 0
    # mode external (issue 19): the user's commands, placeholders not yet replaced
    external_proxy: ExternalCommand | None = None
    proxy_rules: str | None = None  # spec.proxy.rules: the dump the suite may read
    external_controllers: ExternalCommand | None = None

    @property
    def kernel(self) -> str:
        """``host`` or ``uml``: which kernel the cluster's namespaces live in."""
        return "host" if self.uml is None else "uml"

    @property
    def kubeconfig(self) -> Path:
        """For the user on the host: the API server on 127.0.0.1 (a forwarder for ``uml``)."""
        return Path(self.state_dir) / "kubeconfig"

    @property
    def kubeconfig_loopback(self) -> Path:
        """The API server on 127.0.0.1 *of the cluster's kernel* (for components
        in its root namespace); the user's kubeconfig unless the cluster runs in UML."""
        return self.kubeconfig if self.uml is None else Path(self.state_dir) / "apiserver" / "kubeconfig"

    @property
    def kubeconfig_internal(self) -> Path:
        """For components inside the cluster: the control-plane node's address."""
        return Path(self.state_dir) / "kubeconfig.internal"

    def node(self, name: str) -> NodeInfo:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"cluster {self.name} has no node {name} (nodes: {', '.join(n.name for n in self.nodes)})")

    def with_supervisor(self, pid: int | None) -> ClusterInfo:
        return replace(self, supervisor_pid=pid)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stateDir": self.state_dir,
            "specFile": self.spec_file,
            "podSubnet": self.pod_subnet,
            "serviceSubnet": self.service_subnet,
            "proxy": {
                "mode": self.proxy_mode,
                "minSyncPeriod": self.min_sync_period,
                "syncPeriod": self.sync_period,
                "scheduler": self.ipvs_scheduler,
                "fallback": self.proxy_fallback,
                "external": _command_json(self.external_proxy),
                "rules": self.proxy_rules,
            },
            "controllers": list(self.controllers),
            "externalControllers": _command_json(self.external_controllers),
            "clusterNetns": self.cluster_netns,
            "apiserver": {
                "advertiseAddress": self.advertise_address,
                "port": naming.APISERVER_PORT,
                "loopbackPort": self.loopback_port,
            },
            "supervisorPid": self.supervisor_pid,
            "nodes": [node.to_json() for node in self.nodes],
            "kernel": self.kernel,
            **({"uml": self.uml.to_json()} if self.uml is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterInfo:
        proxy = data["proxy"]
        return cls(
            name=data["name"],
            state_dir=data["stateDir"],
            spec_file=data["specFile"],
            pod_subnet=data["podSubnet"],
            service_subnet=data["serviceSubnet"],
            proxy_mode=proxy["mode"],
            min_sync_period=proxy["minSyncPeriod"],
            sync_period=proxy["syncPeriod"],
            ipvs_scheduler=proxy.get("scheduler"),
            controllers=tuple(data["controllers"]),
            cluster_netns=data["clusterNetns"],
            advertise_address=data["apiserver"]["advertiseAddress"],
            nodes=tuple(NodeInfo.from_json(n) for n in data["nodes"]),
            supervisor_pid=data.get("supervisorPid"),
            uml=UmlAccess.from_json(data["uml"]) if data.get("uml") else None,
            proxy_fallback=proxy.get("fallback"),
            loopback_port=int(data["apiserver"].get("loopbackPort", 0)),
            external_proxy=_command_from_json(proxy.get("external")),
            proxy_rules=proxy.get("rules"),
            external_controllers=_command_from_json(data.get("externalControllers")),
        )


def _command_json(command: ExternalCommand | None) -> dict[str, Any] | None:
    return None if command is None else {"command": list(command.command), "env": dict(command.env)}


def _command_from_json(data: dict[str, Any] | None) -> ExternalCommand | None:
    return None if not data else ExternalCommand(tuple(data["command"]), tuple(data.get("env", {}).items()))


def describe_cluster(testbed: Testbed, state_dir: Path, *, loopback_port: int = 0) -> ClusterInfo:
    """The cluster a testbed asks for, with names and addresses. Side-effect-free.

    ``loopback_port`` is the API server's port on 127.0.0.1 (``choose_loopback_port``
    picks one at ``svclab up``; 0 lets each start pick a free one).

    The control-plane node is put first (index 0) whatever its place in the
    file, so it always has 172.18.0.2 and the first pod CIDR, as in kind.
    """
    ordered = sorted(testbed.nodes, key=lambda n: n.role is not NodeRole.CONTROL_PLANE)
    names = naming.node_names(testbed.name, [n.role.value for n in ordered])
    nodes = []
    for index, (spec, name) in enumerate(zip(ordered, names, strict=True)):
        control_plane = spec.role is NodeRole.CONTROL_PLANE
        labels = dict(spec.labels)
        if control_plane:
            labels.setdefault(CONTROL_PLANE_LABEL, "")
        # One address and pod CIDR per family of the pod subnet, primary first (issue 18).
        ips = naming.node_ips(testbed.pod_subnet, index)
        pod_cidrs = naming.pod_cidrs(testbed.pod_subnet, index)
        nodes.append(
            NodeInfo(
                name=name,
                role=spec.role.value,
                index=index,
                netns=naming.node_netns(testbed.name, index),
                ip=ips[0],
                pod_cidr=pod_cidrs[0],
                labels=tuple(labels.items()),
                taints=(CONTROL_PLANE_TAINT,) if control_plane and len(ordered) > 1 else (),
                secondary_ip=ips[1] if len(ips) > 1 else "",
                secondary_pod_cidr=pod_cidrs[1] if len(pod_cidrs) > 1 else "",
            )
        )
    return ClusterInfo(
        name=testbed.name,
        state_dir=str(state_dir),
        spec_file=testbed.source,
        pod_subnet=testbed.pod_subnet,
        service_subnet=testbed.service_subnet,
        proxy_mode=testbed.proxy.mode.value,
        min_sync_period=testbed.proxy.min_sync_period.text,
        sync_period=testbed.proxy.sync_period.text,
        ipvs_scheduler=testbed.proxy.scheduler,
        proxy_fallback=testbed.proxy.ipvs_fallback,
        external_proxy=testbed.proxy.external,
        proxy_rules=testbed.proxy.rules,
        external_controllers=testbed.external_controllers,
        controllers=tuple(c.value for c in testbed.controllers),
        cluster_netns=naming.cluster_netns(testbed.name),
        advertise_address=nodes[0].ip,
        nodes=tuple(nodes),
        loopback_port=loopback_port,
    )


def choose_loopback_port(*, attempts: int = 50) -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range.

    Below that range no outgoing connection takes it as its local port while the
    API server is down between a crash and its restart; a bind test says it is
    free now. Falls back to a port the kernel picks when none of the tries is free.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = range(10000, max(low, 10001))
    for _ in range(attempts):
        port = random.choice(candidates)
        if _bindable(port):
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write_cluster(info: ClusterInfo) -> Path:
    """Write cluster.json atomically (readers never see half a file)."""
    path = Path(info.state_dir) / "cluster.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(info.to_json(), indent=2) + "\n")
    os.replace(temporary, path)
    return path


def read_cluster(name_or_state_dir: str | Path) -> ClusterInfo:
    """Read a cluster by name or state directory; FileNotFoundError if it is not up."""
    candidate = Path(name_or_state_dir)
    state = candidate if candidate.is_absolute() else naming.state_dir(str(name_or_state_dir))
    return ClusterInfo.from_json(json.loads((state / "cluster.json").read_text()))


def list_clusters() -> list[ClusterInfo]:
    """Clusters with a readable cluster.json, by name."""
    root = naming.run_root()
    infos = []
    for state in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            infos.append(read_cluster(state))
        except (OSError, ValueError, KeyError):
            continue
    return infos
