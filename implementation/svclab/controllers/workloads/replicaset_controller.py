"""The ReplicaSet and ReplicationController controllers (shells of ``replicas.plan_replicas``).

Upstream ``pkg/controller/replicaset`` and ``pkg/controller/replication``
(the latter is the former with RC's map selector): a sync reads the owner
and its namespace's active pods from the caches, claims pods (adopt /
release), then, unless earlier creates or deletes are still unobserved
(expectations) or the owner is being deleted, creates or deletes pods to
reach ``spec.replicas``.  It always writes the status when it changed, and
requeues after ``minReadySeconds`` when pods are ready but not yet available.
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.models.core_v1 import PodTemplateSpec
from lightkube.resources.apps_v1 import ReplicaSet, ReplicaSetStatus
from lightkube.resources.core_v1 import Pod, ReplicationController, ReplicationControllerStatus

from svclab.apimachinery.labels import ValidatedSetSelector, label_selector_from_api
from svclab.apimachinery.selection import SelectorError
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName
from svclab.kube.store import NAMESPACE_INDEX

from ..errors import ControllerError
from .owner_controller import PodOwnerController
from .ownership import controller_of
from .pods import is_pod_active, pod_from_template
from .replicas import plan_replicas, replica_status, status_differs

__all__ = ["ReplicaSetController", "ReplicationControllerController"]

log = logging.getLogger(__name__)


class ReplicaSetController(PodOwnerController):
    """Keeps ``spec.replicas`` pods of each ReplicaSet; see the module docstring."""

    name = "replicaset"
    owner_resource: type[Any] = ReplicaSet
    status_resource: type[Any] = ReplicaSetStatus
    owner_kind = "ReplicaSet"
    owner_api_version = "apps/v1"

    def selector(self, owner: Any) -> Any:
        """The owner's pod selector (a nil or invalid one selects nothing)."""
        raw = owner.spec.selector.to_dict() if owner.spec and owner.spec.selector else None
        try:
            return label_selector_from_api(raw)
        except SelectorError:
            return label_selector_from_api(None)

    def selects(self, owner: Any, pod: Pod) -> bool:
        return bool(self.selector(owner).matches(meta(pod).labels))

    def template(self, owner: Any) -> PodTemplateSpec:
        return owner.spec.template or PodTemplateSpec()

    async def sync(self, key: NamespacedName) -> None:
        owner = self.owners.store.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        active = [p for p in self.namespace_pods(key.namespace) if is_pod_active(p)]
        pods = await self.claim_pods(owner, active)
        manage_error = None
        if needs_sync and meta(owner).deletionTimestamp is None:
            manage_error = await self._manage_replicas(owner, pods)
        await self._update_status(owner, pods, manage_error)
        if manage_error is not None:
            raise ControllerError(f"failed to manage replicas of {self.owner_kind} {key}: {manage_error}")

    async def _manage_replicas(self, owner: Any, pods: list[Pod]) -> str | None:
        desired = owner.spec.replicas if owner.spec.replicas is not None else 1
        plan = plan_replicas(desired, pods, self._related_pods(owner), now=self.clock.utcnow())
        key = NamespacedName.of(owner)
        if plan.create:
            log.info("too few replicas kind=%s key=%s need=%d creating=%d", self.owner_kind, key, desired, plan.create)
            template, ref = self.template(owner), self.controller_ref(owner)
            pods = [
                pod_from_template(template, ref, namespace=key.namespace, generate_name=f"{key.name}-")
                for _ in range(plan.create)
            ]
            return await self.create_pods(owner, pods)
        if plan.delete:
            log.info(
                "too many replicas kind=%s key=%s need=%d deleting=%d", self.owner_kind, key, desired, len(plan.delete)
            )
            return await self.delete_pods(owner, plan.delete)
        return None

    def _related_pods(self, owner: Any) -> list[Pod]:
        """Active pods of every owner sharing ``owner``'s controller (a Deployment's ReplicaSets)."""
        parent = controller_of(owner)
        namespace = meta(owner).namespace or ""
        if parent is None:
            siblings = {meta(owner).uid}
        else:
            siblings = {
                meta(o).uid
                for o in self.owners.store.by_index(NAMESPACE_INDEX, namespace)
                if (ref := controller_of(o)) is not None and ref.uid == parent.uid
            }
        return [
            p
            for p in self.namespace_pods(namespace)
            if is_pod_active(p) and (ref := controller_of(p)) is not None and ref.uid in siblings
        ]

    async def _update_status(self, owner: Any, pods: list[Pod], manage_error: str | None) -> None:
        current = owner.status.to_dict() if owner.status else {}
        now = self.clock.utcnow()
        template_meta = self.template(owner).metadata
        wanted = replica_status(
            template_labels=template_meta.labels if template_meta else None,
            min_ready_seconds=owner.spec.minReadySeconds or 0,
            pods=pods,
            current=current,
            desired=owner.spec.replicas if owner.spec.replicas is not None else 1,
            manage_error=manage_error,
            now=now,
        )
        generation = meta(owner).generation or 0
        if status_differs(current, wanted, generation=generation):
            await self.write_status(owner, {**wanted, "observedGeneration": generation})
        min_ready = owner.spec.minReadySeconds or 0
        ready, available = wanted.get("readyReplicas", 0), wanted.get("availableReplicas", 0)
        if manage_error is None and min_ready and ready == owner.spec.replicas != available:
            # Resync once minReadySeconds passed, as upstream, against clock skew and lost events.
            self.queue.add_after(NamespacedName.of(owner), float(min_ready))


class ReplicationControllerController(ReplicaSetController):
    """The same controller for ReplicationControllers (map selector, optional template)."""

    name = "replicationcontroller"
    owner_resource = ReplicationController
    status_resource = ReplicationControllerStatus
    owner_kind = "ReplicationController"
    owner_api_version = "v1"

    def selector(self, owner: Any) -> Any:
        return ValidatedSetSelector(dict(owner.spec.selector or {}) if owner.spec else {})
