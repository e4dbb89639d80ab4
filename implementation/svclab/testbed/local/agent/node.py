"""Node registration and heartbeats, as kubelet does them.

:func:`node_manifest` builds the Node the agent registers (side-effect-free):
labels ``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch``
plus ``--labels``; taints from ``--register-with-taints``; ``spec.podCIDR(s)``.
:func:`node_status` is its status: InternalIP and Hostname addresses, the Ready
condition (``KubeletReady``, "kubelet is posting ready status") and the three
pressure conditions False, nodeInfo, capacity and allocatable.

:class:`Heartbeat` renews the node's Lease in ``kube-node-lease`` every 10 s
(duration 40 s) and refreshes the conditions' ``lastHeartbeatTime`` every
:data:`STATUS_REPORT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lightkube import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Node
from lightkube.types import PatchType

__all__ = [
    "Heartbeat",
    "KUBELET_VERSION",
    "NodeOptions",
    "node_manifest",
    "node_status",
    "now_rfc3339",
    "parse_labels",
    "parse_taints",
    "post_node_status",
    "register_node",
]

KUBELET_VERSION = "v1.33.0-svclab"
RUNTIME_VERSION = "svclab://0.1.0"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_SECONDS = 10.0
STATUS_REPORT_SECONDS = 40.0
MAX_PODS = 110

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What the node agent was told. ``node_ip`` and ``pod_cidr`` are kubelet-style
    lists: one value, or on a dual-stack node (issue 18) two comma-separated, one
    per family, primary first."""

    name: str
    node_ip: str
    pod_cidr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    netns: str = ""  # the node's network namespace: where hostNetwork pods run ("" unknown)
    taints: tuple[Mapping[str, str], ...] = ()

    @property
    def node_ips(self) -> tuple[str, ...]:
        return _split(self.node_ip)

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        return _split(self.pod_cidr)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (kubelet's ``--node-labels``); a bare key gets the value ""."""
    labels = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def parse_taints(text: str) -> tuple[dict[str, str], ...]:
    """``key=value:Effect`` or ``key:Effect`` items, comma separated."""
    taints = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        spec, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"invalid taint {item!r}: want key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = spec.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return tuple(taints)


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def node_manifest(options: NodeOptions) -> dict[str, Any]:
    """The Node object to create (side-effect-free)."""
    labels = {
        "kubernetes.io/hostname": options.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": _arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": _arch(),
        **options.labels,
    }
    cidrs = options.pod_cidrs
    spec: dict[str, Any] = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)}
    if options.taints:
        spec["taints"] = [dict(t) for t in options.taints]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": options.name, "labels": labels}, "spec": spec}


def node_status(
    options: NodeOptions,
    now: str,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Node status kubelet posts; transition times survive from ``previous``."""
    old = {c.get("type"): c for c in (previous or {}).get("conditions") or []}

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        before = old.get(kind)
        since = before.get("lastTransitionTime") if before and before.get("status") == status else None
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since or now,
        }

    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_kib()}Ki",
        "pods": str(MAX_PODS),
        "ephemeral-storage": "100Gi",
    }
    uname = os.uname()
    return {
        "addresses": [
            *({"type": "InternalIP", "address": ip} for ip in options.node_ips),
            {"type": "Hostname", "address": options.name},
        ],
        "conditions": [
            condition(
                "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "capacity": capacity,
        "allocatable": dict(capacity),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": uname.release,
            "osImage": _os_image(),
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _arch(),
        },
    }


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            return int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _os_image() -> str:
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def register_node(client: Any, options: NodeOptions) -> None:
    """Create the Node, or bring an existing one's labels, taints and CIDR up to date."""
    manifest = node_manifest(options)
    try:
        await client.create(Node.from_dict(manifest))
    except ApiError as exc:
        if exc.status.code != 409:
            raise
        await client.patch(
            Node,
            options.name,
            {"metadata": {"labels": manifest["metadata"]["labels"]}, "spec": manifest["spec"]},
            patch_type=PatchType.MERGE,
        )
    await post_node_status(client, options)


async def post_node_status(client: Any, options: NodeOptions) -> None:
    current = await client.get(Node, options.name)
    previous = current.status.to_dict() if current.status is not None else None
    await client.patch(
        Node.Status, options.name, {"status": node_status(options, now_rfc3339(), previous)}, patch_type=PatchType.MERGE
    )


class Heartbeat:
    """Lease renewals and periodic status reports until cancelled; errors are logged."""

    def __init__(self, client: Any, options: NodeOptions) -> None:
        self._client = client
        self._options = options

    async def run(self) -> None:
        await asyncio.gather(self._lease_loop(), self._status_loop())

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self._renew()
            except (ApiError, OSError, Exception) as exc:  # keep beating through API outages
                log.warning("lease renewal failed node=%s error=%s", self._options.name, exc)
            await asyncio.sleep(LEASE_RENEW_SECONDS)

    async def _renew(self) -> None:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        name = self._options.name
        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now}
        try:
            await self._client.patch(Lease, name, {"spec": spec}, namespace=LEASE_NAMESPACE, patch_type=PatchType.MERGE)
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": LEASE_NAMESPACE},
                "spec": {**spec, "acquireTime": now},
            }
            await self._client.create(Lease.from_dict(lease), namespace=LEASE_NAMESPACE)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_REPORT_SECONDS)
            try:
                await post_node_status(self._client, self._options)
            except Exception as exc:  # the next report may succeed
                log.warning("node status report failed node=%s error=%s", self._options.name, exc)
