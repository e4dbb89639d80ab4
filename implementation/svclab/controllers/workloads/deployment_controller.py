"""The Deployment controller (imperative shell of ``rollout.plan_deployment_sync``).

Upstream ``pkg/controller/deployment``: a Deployment key is queued when the
Deployment changes, when one of its ReplicaSets is added, updated or deleted
(an orphan ReplicaSet wakes every Deployment selecting it), and when one of
its pods is deleted (a ``Recreate`` rollout waits for the old pods to go).
A sync claims the namespace's ReplicaSets (adopt / release), plans, then
writes: the new ReplicaSet, the ReplicaSet updates, the deletions past the
history limit, the Deployment's revision annotation (a metadata patch) and
its status (the status subresource), and records the plan's events.

A ReplicaSet name already taken by a ReplicaSet that is not this
Deployment's (a hash collision) bumps ``status.collisionCount`` so the next
sync hashes differently, as upstream.
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube.resources.apps_v1 import Deployment, DeploymentStatus, ReplicaSet
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from svclab.apimachinery.labels import label_selector_from_api
from svclab.apimachinery.selection import SelectorError
from svclab.kube.clock import Clock, LoopClock
from svclab.kube.events import EVENT_TYPE_WARNING
from svclab.kube.informer import FuncHandler
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName
from svclab.kube.reflector import error_status_code
from svclab.kube.store import NAMESPACE_INDEX

from ..errors import ControllerError, WriteError, write
from ..informers import SharedInformers
from ..queue_controller import QueueController
from .deployments import ANNOTATION_REVISION, equal_ignore_hash
from .ownership import adoption_patch, controller_of, new_controller_ref, plan_claims, release_patch
from .rollout import RolloutPlan, plan_deployment_sync

__all__ = ["DeploymentController"]

log = logging.getLogger(__name__)


def _selector(deployment: Deployment) -> Any:
    raw = deployment.spec.selector.to_dict() if deployment.spec and deployment.spec.selector else None
    try:
        return label_selector_from_api(raw)
    except SelectorError:
        return label_selector_from_api(None)


class DeploymentController(QueueController):
    """Rolls Deployments out through ReplicaSets; see the module docstring."""

    name = "deployment"

    def __init__(
        self, informers: SharedInformers, client: Any, recorder: Any, *, clock: Clock | None = None, **kwargs: Any
    ) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.clock: Clock = clock or LoopClock()
        self.deployments = informers.of(Deployment)
        self.replica_sets = informers.of(ReplicaSet)
        self.watch_own_keys(self.deployments)
        self.replica_sets.add_handler(
            FuncHandler(
                on_add=self._on_replica_set,
                on_update=self._on_replica_set_update,
                on_delete=self._on_replica_set,
            )
        )
        informers.pods.add_handler(FuncHandler(on_delete=self._on_pod_delete))

    # -- events -----------------------------------------------------------------

    def _owner(self, namespace: str, ref: Any) -> Deployment | None:
        if ref is None or ref.kind != "Deployment":
            return None
        found = self.deployments.store.get(NamespacedName(namespace, ref.name))
        return found if found is not None and meta(found).uid == ref.uid else None

    def _on_replica_set(self, rs: ReplicaSet) -> None:
        namespace = meta(rs).namespace or ""
        ref = controller_of(rs)
        if ref is not None:
            owner = self._owner(namespace, ref)
            if owner is not None:
                self.enqueue_object(owner)
            return
        for deployment in self.deployments.store.by_index(NAMESPACE_INDEX, namespace):
            if _selector(deployment).matches(meta(rs).labels):
                self.enqueue_object(deployment)

    def _on_replica_set_update(self, old: ReplicaSet, new: ReplicaSet) -> None:
        old_ref = controller_of(old)
        if old_ref is not None and (controller_of(new) is None or controller_of(new).uid != old_ref.uid):  # type: ignore[union-attr]
            previous = self._owner(meta(old).namespace or "", old_ref)
            if previous is not None:
                self.enqueue_object(previous)
        self._on_replica_set(new)

    def _on_pod_delete(self, pod: Pod) -> None:
        namespace = meta(pod).namespace or ""
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.replica_sets.store.get(NamespacedName(namespace, ref.name))
        if rs is not None and meta(rs).uid == ref.uid:
            owner = self._owner(namespace, controller_of(rs))
            if owner is not None and owner.spec.strategy is not None and owner.spec.strategy.type == "Recreate":
                self.enqueue_object(owner)

    # -- sync -------------------------------------------------------------------

    async def sync(self, key: NamespacedName) -> None:
        deployment = self.deployments.store.get(key)
        if deployment is None:
            return
        selector = _selector(deployment)
        if selector.empty or selector.selects_everything:
            self.recorder.eventf(
                deployment,
                EVENT_TYPE_WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            return
        owned = await self._claim_replica_sets(deployment, selector)
        uids = {meta(rs).uid for rs in owned}
        pods = [
            p
            for p in self.informers.pods.store.by_index(NAMESPACE_INDEX, key.namespace)
            if (ref := controller_of(p)) is not None and ref.uid in uids
        ]
        plan = plan_deployment_sync(deployment, owned, pods, self.clock.utcnow())
        try:
            await self._apply(deployment, plan)
        except WriteError as error:
            if error.__cause__ is not None and error_status_code(error.__cause__) == 409:
                # Our cache is behind the object (often our own last write): routine, retried
                # as soon as the informer shows the newer version.
                raise self.stale_cache(key, str(error)) from error
            raise
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)

    async def _claim_replica_sets(self, deployment: Deployment, selector: Any) -> list[ReplicaSet]:
        namespace = meta(deployment).namespace or ""
        candidates = self.replica_sets.store.by_index(NAMESPACE_INDEX, namespace)
        deleting = meta(deployment).deletionTimestamp is not None
        claims = plan_claims(
            deployment, candidates, lambda rs: selector.matches(meta(rs).labels), owner_deleting=deleting
        )
        owned = list(claims.owned)
        ref = new_controller_ref(deployment, api_version="apps/v1", kind="Deployment")
        for rs in claims.adopt:
            adopted = await self._patch_replica_set(rs, adoption_patch(rs, ref), "adopt")
            if adopted is not None:
                owned.append(adopted)
        for rs in claims.release:
            await self._patch_replica_set(rs, release_patch(rs, meta(deployment).uid or ""), "release")
        return owned

    async def _patch_replica_set(self, rs: ReplicaSet, patch: dict[str, Any], verb: str) -> ReplicaSet | None:
        try:
            result: ReplicaSet = await self.client.patch(
                ReplicaSet, meta(rs).name, patch, namespace=meta(rs).namespace, patch_type=PatchType.MERGE
            )
        except Exception as error:
            if error_status_code(error) in (404, 409):
                return None
            raise WriteError(verb, "ReplicaSet", str(NamespacedName.of(rs)), error) from error
        return result

    async def _apply(self, deployment: Deployment, plan: RolloutPlan) -> None:
        """Make the plan's writes in upstream's order: new ReplicaSet, updates, deletions, revision, status."""
        if plan.create is not None and not await self._create_replica_set(deployment, plan.create):
            return
        for rs in plan.updates:
            await write("update", rs, self.client.replace(rs))
        for rs in plan.delete:
            log.info("deleting old replica set key=%s replicaset=%s", NamespacedName.of(deployment), meta(rs).name)
            await write(
                "delete",
                rs,
                self.client.delete(ReplicaSet, meta(rs).name, namespace=meta(rs).namespace),
                missing_ok=True,
            )
        for type_, reason, message in plan.events:
            self.recorder.eventf(deployment, type_, reason, message)
        latest = deployment
        if plan.revision is not None:
            patch = {"metadata": {"annotations": {ANNOTATION_REVISION: plan.revision}}}
            call = self.client.patch(
                Deployment,
                meta(deployment).name,
                patch,
                namespace=meta(deployment).namespace,
                patch_type=PatchType.MERGE,
            )
            latest = await write("update", deployment, call) or deployment
        if plan.status is not None:
            await self._write_status(latest, plan.status)

    async def _write_status(self, deployment: Deployment, status: dict[str, Any]) -> None:
        body = deployment.to_dict()
        body["status"] = status
        await write("update status of", deployment, self.client.replace(DeploymentStatus.from_dict(body)))

    async def _create_replica_set(self, deployment: Deployment, rs: ReplicaSet) -> bool:
        """Create the new ReplicaSet; False (after bumping collisionCount) on a hash collision."""
        try:
            await self.client.create(rs)
            log.info("created replica set key=%s replicaset=%s", NamespacedName.of(deployment), meta(rs).name)
            return True
        except Exception as error:
            if error_status_code(error) != 409:
                message = f'Failed to create new replica set "{meta(rs).name}": {error}'
                self.recorder.eventf(deployment, EVENT_TYPE_WARNING, "ReplicaSetCreateError", message)
                raise WriteError("create", "ReplicaSet", str(NamespacedName.of(rs)), error) from error
        existing = self.replica_sets.store.get(NamespacedName.of(rs))
        if existing is None:
            raise self.stale_cache(
                NamespacedName.of(deployment), f"replica set {meta(rs).name} exists but is not cached"
            )
        ref = controller_of(existing)
        if (
            ref is not None
            and ref.uid == meta(deployment).uid
            and existing.spec.template is not None
            and equal_ignore_hash(existing.spec.template.to_dict(), deployment.spec.template.to_dict())
        ):
            return True  # ours already: a slow cache
        status = deployment.status.to_dict() if deployment.status else {}
        status["collisionCount"] = (status.get("collisionCount") or 0) + 1
        await self._write_status(deployment, status)
        raise ControllerError(f"hash collision for deployment {NamespacedName.of(deployment)}: {meta(rs).name} taken")
