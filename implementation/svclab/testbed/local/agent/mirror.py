"""Mirror pods: the cluster's own components shown as pods in ``kube-system``.

On a kubeadm (or kind) cluster the control plane runs as static pods, which
kubelet reads from files and publishes to the API as *mirror pods*; ``kubectl
get pods -n kube-system`` lists them, and clients (kr8s's cluster tests among
them) count on ``kube-system`` holding pods. Here the components are processes
the cluster's supervisor runs, so the node agent plays kubelet's part for
them: for each component its node hosts (``--static-pods``, from the
supervisor's plan) it keeps a pod ``<component>-<node>`` in ``kube-system``
with upstream's mirror-pod markings (annotations ``kubernetes.io/config.mirror``,
``config.source: file``, ``config.hash``; an owner reference to the Node;
kubeadm's ``component`` and ``tier`` labels; ``hostNetwork``; priority class
``system-node-critical``), and a status that says whether the process runs:
Ready with the process's start time while the supervisor's child is alive,
waiting in ``CrashLoopBackOff`` while it restarts it. The container's
``command`` is the process's real argv.

As kubelet does, the agent never runs a mirror pod (the process is the
supervisor's), recreates one that was deleted, and lets a deleted one go at
once (``gracePeriodSeconds: 0``). :func:`mirror_pod` is side-effect-free;
:class:`MirrorPods` is the loop that writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkube import ApiError
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

__all__ = [
    "MIRROR_ANNOTATION",
    "MIRROR_NAMESPACE",
    "MirrorPods",
    "StaticPod",
    "is_mirror_pod",
    "mirror_pod",
    "parse_static_pods",
    "process_started_at",
]

log = logging.getLogger(__name__)

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MIRROR_NAMESPACE = "kube-system"
MIRROR_IMAGE = "svclab"  # what the kind provider's image is called; here the process runs on the host
RESYNC_SECONDS = 5.0
CONTROL_PLANE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True, slots=True)
class StaticPod:
    """A component shown as a mirror pod: its upstream name and the supervisor child that runs it."""

    component: str  # kube-apiserver, kube-scheduler, kube-controller-manager, kube-proxy
    child: str  # the supervisor's name: apiserver, scheduler, controller-manager, proxy-<node>


def parse_static_pods(text: str) -> tuple[StaticPod, ...]:
    """``component=child,...`` (the agent's ``--static-pods``). Side-effect-free."""
    pods = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        component, sep, child = item.partition("=")
        if not sep or not component or not child:
            raise ValueError(f"--static-pods: {item!r} is not component=child")
        pods.append(StaticPod(component, child))
    return tuple(pods)


def is_mirror_pod(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is a mirror pod (kubelet's ``IsMirrorPod``): never run by an agent."""
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def _container_status(static: StaticPod, started_at: str | None) -> dict[str, Any]:
    running = started_at is not None
    state = {"running": {"startedAt": started_at}} if running else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "name": static.component,
        "image": MIRROR_IMAGE,
        "imageID": "",
        "ready": running,
        "started": running,
        "restartCount": 0,
        "state": state,
    }


def mirror_pod(
    static: StaticPod,
    *,
    node: Mapping[str, Any],
    node_ips: Sequence[str],
    argv: Sequence[str],
    started_at: str | None,
) -> dict[str, Any]:
    """The mirror pod of ``static`` on ``node`` (a Node object): spec and status, ready when
    ``started_at`` (the process's start, RFC 3339) is given. Side-effect-free."""
    node_name = str(node["metadata"]["name"])
    spec = {
        "nodeName": node_name,
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "restartPolicy": "Always",
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "containers": [{"name": static.component, "image": MIRROR_IMAGE, "command": list(argv)}],
    }
    config_hash = hashlib.sha256(repr((static, list(argv))).encode()).hexdigest()[:32]
    tier = {"tier": "control-plane"} if static.component in CONTROL_PLANE_COMPONENTS else {}
    ready = "True" if started_at is not None else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{static.component}-{node_name}",
            "namespace": MIRROR_NAMESPACE,
            "labels": {"component": static.component, **tier},
            "annotations": {
                MIRROR_ANNOTATION: config_hash,
                "kubernetes.io/config.hash": config_hash,
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": node_name,
                    "uid": node["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "hostIP": node_ips[0],
            "hostIPs": [{"ip": ip} for ip in node_ips],
            "podIP": node_ips[0],
            "podIPs": [{"ip": ip} for ip in node_ips],
            "qosClass": "BestEffort",
            "conditions": [
                {"type": kind, "status": "True" if kind in ("PodScheduled", "Initialized") else ready}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [_container_status(static, started_at)],
        },
    }


def process_started_at(pid: int) -> str | None:
    """When process ``pid`` started (RFC 3339, from /proc), None when it is gone."""
    from .containers import rfc3339
    from .sandbox import process_start_ticks

    ticks = process_start_ticks(pid)
    if not ticks:
        return None
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return rfc3339(int(line.split()[1]) + ticks / os.sysconf("SC_CLK_TCK"))
    return None


class MirrorPods:
    """Keeps the mirror pods of one node's static pods in the API, every RESYNC_SECONDS.

    ``find`` answers a static pod's running process as ``(pid, argv)``, or None.
    """

    def __init__(
        self,
        client: Any,
        *,
        node_name: str,
        node_ips: Sequence[str],
        static_pods: Sequence[StaticPod],
        find: Callable[[StaticPod], tuple[int, Sequence[str]] | None],
    ) -> None:
        self._client = client
        self._node_name = node_name
        self._node_ips = tuple(node_ips)
        self._static = tuple(static_pods)
        self._find = find
        self._argv: dict[str, list[str]] = {}  # last argv seen per component, kept while it restarts

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:
                log.exception("mirror pods of node %s", self._node_name)
            await asyncio.sleep(RESYNC_SECONDS)

    async def sync(self) -> None:
        """One round: create missing mirror pods, release deleted ones, update status."""
        if not self._static:
            return
        node = (await self._client.get(Node, self._node_name)).to_dict()
        for static in self._static:
            found = await asyncio.to_thread(self._find, static)
            started = await asyncio.to_thread(process_started_at, found[0]) if found else None
            if found:
                self._argv[static.component] = list(found[1])
            wanted = mirror_pod(
                static,
                node=node,
                node_ips=self._node_ips,
                argv=self._argv.get(static.component, []),
                started_at=started,
            )
            await self._write(wanted)

    async def _write(self, wanted: dict[str, Any]) -> None:
        name = wanted["metadata"]["name"]
        try:
            current = (await self._client.get(Pod, name, namespace=MIRROR_NAMESPACE)).to_dict()
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            status = wanted.pop("status")
            await self._client.create(Pod.from_dict(wanted), namespace=MIRROR_NAMESPACE)
            await self._patch_status(name, status)
            return
        if current["metadata"].get("deletionTimestamp"):
            # Deleted by someone: let it go now; the next round publishes it again.
            await self._client.delete(Pod, name, namespace=MIRROR_NAMESPACE, grace_period=0)
            return
        if _status_core(current.get("status") or {}) != _status_core(wanted["status"]):
            await self._patch_status(name, wanted["status"])

    async def _patch_status(self, name: str, status: dict[str, Any]) -> None:
        await self._client.patch(
            Pod.Status, name, {"status": status}, namespace=MIRROR_NAMESPACE, patch_type=PatchType.MERGE
        )


def _status_core(status: Mapping[str, Any]) -> tuple[object, ...]:
    """What a status write would change: readiness and the containers' states."""
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    states = [(c.get("ready"), sorted((c.get("state") or {}).items())) for c in status.get("containerStatuses") or []]
    return (status.get("phase"), conditions.get("Ready"), repr(states))
