"""The base of the controllers that own pods: pod event routing, claims and pod writes.

Upstream's ReplicaSet, DaemonSet and Job controllers share this shape:

* a pod event goes to the owner named by the pod's controller reference
  (``resolve_owner``), or, for an orphan, to every owner whose selector
  matches it (they may adopt it); a changed reference or changed labels wake
  the old owner too; the ADD or deletion of a pod satisfies the owner's
  expectations;
* ``claim_pods`` adopts and releases (``ownership.plan_claims``);
* ``create_pods`` / ``delete_pods`` write with upstream's events
  (``SuccessfulCreate`` "Created pod: <name>", ``FailedCreate`` "Error
  creating: <error>", ``SuccessfulDelete`` "Deleted pod: <name>",
  ``FailedDelete`` "Error deleting: <error>"), in slow-start batches for
  creates, and keep the expectations in step.

``write_status`` PUTs a status to the owner's status subresource.
Subclasses set ``owner_resource``, ``status_resource``, ``owner_kind`` and
``owner_api_version`` and implement ``selects(owner, pod)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from svclab.apimachinery.labels import label_selector_from_api
from svclab.apimachinery.selection import SelectorError
from svclab.kube.clock import Clock, LoopClock
from svclab.kube.events import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING
from svclab.kube.informer import FuncHandler, Informer
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName
from svclab.kube.reflector import error_status_code
from svclab.kube.store import NAMESPACE_INDEX

from ..errors import WriteError, write
from ..informers import SharedInformers
from ..queue_controller import QueueController
from .expectations import Expectations
from .ownership import adoption_patch, controller_of, new_controller_ref, plan_claims, release_patch
from .replicas import slow_start_batches

__all__ = ["PodOwnerController", "pod_key"]

log = logging.getLogger(__name__)


def pod_key(pod: Pod) -> str:
    """``namespace/name`` of a pod, the key expectations track deletions by."""
    return str(NamespacedName.of(pod))


class PodOwnerController(QueueController):
    """A controller whose objects own pods; see the module docstring."""

    owner_resource: type[Any]
    status_resource: type[Any]
    owner_kind: str
    owner_api_version: str

    def __init__(
        self, informers: SharedInformers, client: Any, recorder: Any, *, clock: Clock | None = None, **kwargs: Any
    ) -> None:
        super().__init__(informers, client, recorder, **kwargs)
        self.clock: Clock = clock or LoopClock()
        self.expectations: Expectations[NamespacedName] = Expectations(self.clock)
        self.owners: Informer[Any] = informers.of(self.owner_resource)
        self.watch_own_keys(self.owners)
        informers.pods.add_handler(
            FuncHandler(on_add=self._on_pod_add, on_update=self._on_pod_update, on_delete=self._on_pod_delete)
        )

    def selects(self, owner: Any, pod: Pod) -> bool:
        """Whether the owner's ``spec.selector`` (a LabelSelector) selects the pod; an invalid one selects nothing."""
        raw = owner.spec.selector.to_dict() if owner.spec and owner.spec.selector else None
        try:
            return bool(label_selector_from_api(raw).matches(meta(pod).labels))
        except SelectorError:
            return False

    # -- pod events -------------------------------------------------------------

    def resolve_owner(self, namespace: str, ref: Any) -> Any | None:
        """The cached owner a controller reference names, if it is of our kind and UID."""
        if ref is None or ref.kind != self.owner_kind:
            return None
        owner = self.owners.store.get(NamespacedName(namespace, ref.name))
        return owner if owner is not None and meta(owner).uid == ref.uid else None

    def owners_selecting(self, pod: Pod) -> list[Any]:
        namespace = meta(pod).namespace or ""
        return [o for o in self.owners.store.by_index(NAMESPACE_INDEX, namespace) if self.selects(o, pod)]

    def _on_pod_add(self, pod: Pod) -> None:
        if meta(pod).deletionTimestamp is not None:
            self._on_pod_delete(pod)
            return
        owner = self.resolve_owner(meta(pod).namespace or "", controller_of(pod))
        if owner is not None:
            key = NamespacedName.of(owner)
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif controller_of(pod) is None:
            for candidate in self.owners_selecting(pod):
                self.enqueue_object(candidate)

    def _on_pod_update(self, old: Pod, new: Pod) -> None:
        namespace = meta(new).namespace or ""
        if meta(new).deletionTimestamp is not None and meta(old).deletionTimestamp is None:
            self._on_pod_delete(new)  # a graceful deletion started: the pod no longer counts
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref is not None and (new_ref is None or old_ref.uid != new_ref.uid):
            previous = self.resolve_owner(namespace, old_ref)
            if previous is not None:
                self.enqueue_object(previous)
        owner = self.resolve_owner(namespace, new_ref)
        if owner is not None:
            self.enqueue_object(owner)
        elif new_ref is None and (meta(old).labels != meta(new).labels or old_ref is not None):
            for candidate in self.owners_selecting(new):
                self.enqueue_object(candidate)

    def _on_pod_delete(self, pod: Pod) -> None:
        owner = self.resolve_owner(meta(pod).namespace or "", controller_of(pod))
        if owner is not None:
            key = NamespacedName.of(owner)
            self.expectations.deletion_observed(key, pod_key(pod))
            self.enqueue(key)

    # -- claims and writes ------------------------------------------------------

    def namespace_pods(self, namespace: str) -> list[Pod]:
        return self.informers.pods.store.by_index(NAMESPACE_INDEX, namespace)

    def controller_ref(self, owner: Any) -> Any:
        return new_controller_ref(owner, api_version=self.owner_api_version, kind=self.owner_kind)

    async def claim_pods(self, owner: Any, pods: Sequence[Pod]) -> list[Pod]:
        """Adopt matching orphans, release pods no longer matching; return the owner's pods."""
        deleting = meta(owner).deletionTimestamp is not None
        claims = plan_claims(owner, pods, lambda p: self.selects(owner, p), owner_deleting=deleting)
        owned = list(claims.owned)
        if claims.adopt and not await self._still_adoptable(owner):
            return owned
        ref = self.controller_ref(owner)
        for pod in claims.adopt:
            adopted = await self._patch_pod(pod, adoption_patch(pod, ref), "adopt")
            if adopted is not None:
                owned.append(adopted)
        for pod in claims.release:
            await self._patch_pod(pod, release_patch(pod, meta(owner).uid or ""), "release")
        return owned

    async def _still_adoptable(self, owner: Any) -> bool:
        # Upstream RecheckDeletionTimestamp: an uncached read before adopting anything.
        read = self.client.get(self.owner_resource, meta(owner).name, namespace=meta(owner).namespace)
        fresh = await write("get", owner, read, missing_ok=True)
        return fresh is not None and meta(fresh).uid == meta(owner).uid and meta(fresh).deletionTimestamp is None

    async def _patch_pod(self, pod: Pod, patch: dict[str, Any], verb: str) -> Pod | None:
        try:
            result: Pod = await self.client.patch(
                Pod, meta(pod).name, patch, namespace=meta(pod).namespace, patch_type=PatchType.MERGE
            )
        except Exception as error:
            if error_status_code(error) in (404, 409):
                return None  # gone or changed meanwhile: the next sync looks again
            raise WriteError(verb, "Pod", pod_key(pod), error) from error
        return result

    async def create_pods(self, owner: Any, pods: Sequence[Pod]) -> str | None:
        """Create ``pods`` in slow-start batches; the first error, if any (the rest is then skipped)."""
        key = NamespacedName.of(owner)
        self.expectations.expect_creations(key, len(pods))
        done = 0
        for size in slow_start_batches(len(pods)):
            batch = pods[done : done + size]
            done += size
            results = await asyncio.gather(*(self._create_one(owner, pod) for pod in batch))
            errors = [r for r in results if r is not None]
            if errors:
                for _ in range(len(pods) - done + len(errors)):
                    self.expectations.creation_observed(key)  # never coming
                return errors[0]
        return None

    async def _create_one(self, owner: Any, pod: Pod) -> str | None:
        try:
            created = await self.client.create(pod)
        except Exception as error:
            self.recorder.eventf(owner, EVENT_TYPE_WARNING, "FailedCreate", "Error creating: %s", error)
            return str(error)
        self.recorder.eventf(owner, EVENT_TYPE_NORMAL, "SuccessfulCreate", "Created pod: %s", meta(created).name)
        return None

    async def delete_pods(self, owner: Any, pods: Sequence[Pod]) -> str | None:
        """Delete ``pods`` concurrently; the first error other than 404, if any."""
        key = NamespacedName.of(owner)
        self.expectations.expect_deletions(key, {pod_key(p) for p in pods})
        results = await asyncio.gather(*(self._delete_one(owner, key, pod) for pod in pods))
        errors = [r for r in results if r is not None]
        return errors[0] if errors else None

    async def _delete_one(self, owner: Any, key: NamespacedName, pod: Pod) -> str | None:
        try:
            await self.client.delete(Pod, meta(pod).name, namespace=meta(pod).namespace)
        except Exception as error:
            self.expectations.deletion_observed(key, pod_key(pod))
            if error_status_code(error) == 404:
                return None
            self.recorder.eventf(owner, EVENT_TYPE_WARNING, "FailedDelete", "Error deleting: %s", error)
            return str(error)
        self.recorder.eventf(owner, EVENT_TYPE_NORMAL, "SuccessfulDelete", "Deleted pod: %s", meta(pod).name)
        return None

    async def write_status(self, owner: Any, status: dict[str, Any]) -> None:
        """PUT ``status`` to the status subresource; one retry on a fresh read after a conflict."""
        body = owner.to_dict()
        for attempt in range(2):
            body["status"] = status
            try:
                await self.client.replace(self.status_resource.from_dict(body))
                return
            except Exception as error:
                if attempt or error_status_code(error) != 409:
                    raise WriteError(
                        "update status of", self.owner_kind, str(NamespacedName.of(owner)), error
                    ) from error
            fresh = await self.client.get(self.owner_resource, meta(owner).name, namespace=meta(owner).namespace)
            body = fresh.to_dict()
            status = {**status, "observedGeneration": meta(fresh).generation or 0}
