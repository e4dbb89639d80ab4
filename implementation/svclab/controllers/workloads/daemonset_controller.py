"""The DaemonSet controller (imperative shell of ``daemons.plan_daemon_set``).

Upstream ``pkg/controller/daemon``: a DaemonSet key is queued when the
DaemonSet or one of its pods changes, and every DaemonSet when a node is
added, changes labels, taints or schedulability, or goes.  A sync claims the
namespace's pods (adopt / release), skips terminating ones, and, unless
earlier writes are still unobserved, creates the missing pods (bound to
their node, with the daemon tolerations and the ``controller-revision-hash``
and ``pod-template-generation`` labels) and deletes the surplus; then it
writes the status.  Failed daemon pods are deleted and recreated, with a
``FailedDaemonPod`` warning, as upstream (without upstream's backoff).
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.models.core_v1 import Toleration
from lightkube.resources.apps_v1 import DaemonSet, DaemonSetStatus
from lightkube.resources.core_v1 import Node, Pod

from svclab.kube.events import EVENT_TYPE_WARNING
from svclab.kube.informer import FuncHandler
from svclab.kube.models import from_dict, meta
from svclab.kube.names import NamespacedName

from ..errors import ControllerError
from ..pods_and_services import pod_spec, pod_status
from .daemons import (
    LABEL_CONTROLLER_REVISION_HASH,
    LABEL_POD_TEMPLATE_GENERATION,
    daemon_template_hash,
    daemon_tolerations,
    plan_daemon_set,
)
from .owner_controller import PodOwnerController
from .pods import pod_from_template

__all__ = ["DaemonSetController"]

log = logging.getLogger(__name__)


class DaemonSetController(PodOwnerController):
    """Runs one pod of each DaemonSet on every eligible node; see the module docstring."""

    name = "daemonset"
    owner_resource = DaemonSet
    status_resource = DaemonSetStatus
    owner_kind = "DaemonSet"
    owner_api_version = "apps/v1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.informers.nodes.add_handler(
            FuncHandler(on_add=self._on_node, on_update=self._on_node_update, on_delete=self._on_node)
        )

    def _on_node(self, node: Node) -> None:
        for owner in self.owners.store.list():
            self.enqueue_object(owner)

    def _on_node_update(self, old: Node, new: Node) -> None:
        # Upstream shouldIgnoreNodeUpdate: only what decides placement wakes the DaemonSets.
        if (meta(old).labels, old.spec) != (meta(new).labels, new.spec):
            self._on_node(new)

    async def sync(self, key: NamespacedName) -> None:
        ds = self.owners.store.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        candidates = [p for p in self.namespace_pods(key.namespace) if meta(p).deletionTimestamp is None]
        pods = await self.claim_pods(ds, candidates)
        plan = plan_daemon_set(ds, self.informers.nodes.store.list(), pods, now=self.clock.utcnow())
        error = None
        if self.expectations.satisfied(key) and meta(ds).deletionTimestamp is None:
            for pod in plan.delete:
                if pod_status(pod).phase == "Failed":
                    message = "Found failed daemon pod %s/%s on node %s, will try to kill it"
                    self.recorder.eventf(
                        ds,
                        EVENT_TYPE_WARNING,
                        "FailedDaemonPod",
                        message,
                        key.namespace,
                        meta(pod).name,
                        pod_spec(pod).nodeName,
                    )
            if plan.delete:
                error = await self.delete_pods(ds, plan.delete)
            if plan.create_on and error is None:
                error = await self.create_pods(ds, [self._daemon_pod(ds, node) for node in plan.create_on])
        generation = meta(ds).generation or 0
        current = ds.status.to_dict() if ds.status else {}
        wanted = {**plan.status, "observedGeneration": generation}
        if current.get("collisionCount") is not None:
            wanted["collisionCount"] = current["collisionCount"]
        counts = set(wanted) | {k for k in current if k.startswith(("number", "current", "desired", "updated"))}
        if any((current.get(k) or 0) != (wanted.get(k) or 0) for k in counts):
            await self.write_status(ds, wanted)
        if error is not None:
            raise ControllerError(f"failed to manage daemon pods of DaemonSet {key}: {error}")

    def _daemon_pod(self, ds: DaemonSet, node: str) -> Pod:
        key = NamespacedName.of(ds)
        pod = pod_from_template(
            ds.spec.template, self.controller_ref(ds), namespace=key.namespace, generate_name=f"{key.name}-"
        )
        meta(pod).labels = {
            **(meta(pod).labels or {}),
            LABEL_CONTROLLER_REVISION_HASH: daemon_template_hash(ds),
            LABEL_POD_TEMPLATE_GENERATION: str(meta(ds).generation or 0),
        }
        spec = pod_spec(pod)
        spec.nodeName = node
        existing = [t.to_dict() for t in spec.tolerations or []]
        extra = [t for t in daemon_tolerations(bool(spec.hostNetwork)) if t not in existing]
        spec.tolerations = [from_dict(Toleration, t) for t in existing + extra]
        pod.spec = spec
        return pod
