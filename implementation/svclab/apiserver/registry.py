"""Object semantics on top of the store: create, update, patch and status.

What kube-apiserver's generic registry and the per-kind strategies do before a
write: names (generateName), uid, creationTimestamp, generation, defaulting,
validation, Service IP/port allocation, optimistic concurrency, status
subresources, and "no change, no write". Deletion lives in deletion.py, which
sees the registry only through its ``Writer`` protocol.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import errors, validation
from . import patch as patching
from .decoding import DecodeError, decode_in_place
from .defaults import apply_defaults
from .deletion import GarbageCollector, WriteHook, remove_now
from .encoding import check_encoding
from .resources import ResourceType, by_kind
from .services import ServiceAllocationError, ServiceAllocations, carry_over_allocated_values, default_service
from .storage import ADDED, MODIFIED, Obj, Store, clone
from .workloads import WORKLOAD_KINDS, generate_job_selector

__all__ = ["Registry", "now_rfc3339"]

# Kinds that PUT may create (upstream AllowCreateOnUpdate; EndpointSlice is not
# one: a controller updating a slice someone deleted must get 404, not resurrect it).
_CREATE_ON_UPDATE = {"Endpoints", "Event", "Lease"}
# Kinds whose metadata.generation tracks spec changes.
_GENERATION_TRACKED = {"Service", "Pod", "EndpointSlice", *WORKLOAD_KINDS}
# The status a new object starts with (upstream PrepareForCreate resets it; fields
# without omitempty in the Go types print as zeros).
_INITIAL_STATUS: dict[str, Obj] = {
    "Pod": {"phase": "Pending", "qosClass": "BestEffort"},
    "Service": {"loadBalancer": {}},
    "Namespace": {"phase": "Active"},
    "Deployment": {},
    "Job": {},
    "ReplicaSet": {"replicas": 0},
    "ReplicationController": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0},
}
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's generateName alphabet
# metadata a client cannot set or change through the main resource
_SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
# Kinds whose /status writes keep metadata changes (upstream serviceStatusStrategy
# copies only the old spec; the others call ResetObjectMetaForStatus).
_STATUS_WRITES_METADATA = {"Service"}


def now_rfc3339(clock: Callable[[], datetime] | None = None) -> str:
    now = clock() if clock else datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(r: ResourceType, obj: Obj) -> Any:
    """What metadata.generation counts changes of (custom objects: all but metadata, and
    but status when it is a subresource, as upstream's custom resource strategy)."""
    kind = r.kind
    if r.custom:
        skipped = ("metadata", "status") if "status" in r.subresources else ("metadata",)
        return {key: value for key, value in obj.items() if key not in skipped}
    if kind == "EndpointSlice":
        return (obj.get("endpoints"), obj.get("ports"), obj.get("addressType"))
    if kind == "Deployment":  # annotations too: the legacy rollback annotation is a request
        return (obj.get("spec"), obj["metadata"].get("annotations") or {})
    return obj.get("spec")


class Registry:
    """The write path of every served kind. Raises errors.ApiError on refusal."""

    def __init__(
        self, store: Store, allocations: ServiceAllocations, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.allocations = allocations
        self.clock = clock
        self.after_write: list[WriteHook] = []
        self.gc = GarbageCollector(self)

    # -- helpers -------------------------------------------------------------

    def now(self) -> str:
        return now_rfc3339(self.clock)

    def put(self, r: ResourceType, obj: Obj, event: str, old: Obj | None) -> Obj:
        """Store ``obj`` as it is (no checks) and tell the after-write hooks."""
        stored = self.store.put(r.kind, obj, event)
        for hook in self.after_write:
            hook(r.kind, old, stored)
        return stored

    def _invalid(self, r: ResourceType, name: str, errs: list[validation.FieldError]) -> errors.ApiError:
        return errors.invalid(validation.invalid_status(r.kind, r.group, name, errs))

    def _check_namespace(self, r: ResourceType, namespace: str, name: str) -> None:
        if not r.namespaced:
            return
        ns = self.store.get("Namespace", "", namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f'{r.plural} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                {
                    "kind": r.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    @staticmethod
    def _check_body(r: ResourceType, obj: Obj, namespace: str, name: str | None) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        try:
            decode_in_place(obj, r.group, r.version, r.kind)
        except DecodeError as exc:
            raise errors.bad_request(str(exc)) from None
        kind = obj.get("kind")
        if kind not in (None, "", r.kind):
            raise errors.bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                f"expected API version ({r.api_version}) or kind {kind} is not {r.kind}"
            )
        meta = obj.setdefault("metadata", {})
        if r.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if name is not None:
            meta["name"] = name
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind

    # -- create --------------------------------------------------------------

    def create(self, r: ResourceType, namespace: str, obj: Obj, *, validate: bool = True, dry_run: bool = False) -> Obj:
        """Create an object. `validate=False` is for the server's own system objects
        only (the kubernetes Endpoints may point at a loopback advertise address).
        `dry_run`: every check, nothing stored; the answer carries no resourceVersion."""
        self._check_body(r, obj, namespace, None)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))
        name = meta.get("name", "")
        self._check_namespace(r, namespace, name)
        for key in _SYSTEM_METADATA + ("resourceVersion", "selfLink", "managedFields"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        if r.kind in _GENERATION_TRACKED or r.custom:
            meta["generation"] = 1
        obj = self._prepare_for_create(r.kind, obj)
        if r.custom and "status" in r.subresources:
            obj.pop("status", None)  # written through /status only
        if r.kind == "Service":
            self._init_ip_families(r, obj, None)
        errs = validation.validate_create(r.kind, obj) if validate else []
        if errs:
            raise self._invalid(r, name, errs)
        if self.store.get(r.kind, namespace if r.namespaced else "", name) is not None:
            raise errors.already_exists(r.group, r.plural, name)
        if r.kind == "Service":
            obj = self._allocate(r, obj, None, dry_run)
        if dry_run:
            return obj
        try:
            return self.put(r, obj, ADDED, None)
        except BaseException:
            if r.kind == "Service":
                self.allocations.release(obj)
            raise

    def _prepare_for_create(self, kind: str, obj: Obj) -> Obj:
        check_encoding(kind, obj)  # what upstream's decoder refuses, before any defaulting
        obj = default_service(obj) if kind == "Service" else apply_defaults(kind, obj)
        if kind in _INITIAL_STATUS:
            obj["status"] = clone(_INITIAL_STATUS[kind])
        if kind == "Job":
            generate_job_selector(obj)
        return obj

    def _init_ip_families(self, r: ResourceType, new: Obj, old: Obj | None) -> None:
        """Service IP families for this cluster, before validation (upstream initialises
        them in the allocator, which runs before the strategy validates)."""
        errs = self.allocations.init_ip_family_fields(new, old)
        if errs:
            raise self._invalid(r, new["metadata"].get("name", ""), errs)

    def _allocate(self, r: ResourceType, new: Obj, old: Obj | None, dry_run: bool = False) -> Obj:
        try:
            if old is None:
                return self.allocations.prepare_create(new, dry_run=dry_run)
            return self.allocations.prepare_update(new, old, dry_run=dry_run)
        except ServiceAllocationError as exc:
            if exc.internal:
                raise errors.internal(exc.message) from exc
            name = new["metadata"]["name"]
            raise errors.ApiError(
                422,
                "Invalid",
                f'Service "{name}" is invalid: {exc.field_path}: {exc.message}',
                {
                    "name": name,
                    "kind": "Service",
                    "causes": [{"reason": "FieldValueInvalid", "message": exc.message, "field": exc.field_path}],
                },
            ) from exc

    # -- update --------------------------------------------------------------

    def update(
        self,
        r: ResourceType,
        namespace: str,
        name: str,
        obj: Obj,
        subresource: str | None = None,
        *,
        validate: bool = True,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Replace an object (or its status). Returns (object, created)."""
        self._check_body(r, obj, namespace, name)
        ns_key = namespace if r.namespaced else ""
        old = self.store.get(r.kind, ns_key, name)
        if old is None:
            if subresource is None and r.kind in _CREATE_ON_UPDATE:
                obj["metadata"].pop("resourceVersion", None)
                return self.create(r, namespace, obj, validate=validate, dry_run=dry_run), True
            raise errors.not_found(r.group, r.plural, name)
        wanted_rv = obj["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(r.group, r.plural, name, errors.STALE_OBJECT)
        new = self._merge_system_fields(r, obj, old, subresource)
        return self._write_update(r, new, old, subresource, validate, dry_run), False

    def _merge_system_fields(self, r: ResourceType, obj: Obj, old: Obj, subresource: str | None) -> Obj:
        meta, old_meta = obj["metadata"], old["metadata"]
        for key in _SYSTEM_METADATA:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if subresource == "status" and r.kind in _STATUS_WRITES_METADATA:
            if "spec" in old:
                obj["spec"] = clone(old["spec"])
            return obj
        if subresource == "status":
            # Status writes change only status (upstream ResetObjectMetaForStatus).
            status = obj.get("status")
            obj = clone(old)
            if status is not None:
                obj["status"] = status
            else:
                obj.pop("status", None)
            return obj
        if "status" in r.subresources and r.kind != "Namespace":
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        if r.kind == "Namespace":
            obj["status"] = old.get("status", {})
            obj.setdefault("spec", old.get("spec", {}))
        return obj

    def _write_update(
        self, r: ResourceType, new: Obj, old: Obj, subresource: str | None, validate: bool, dry_run: bool
    ) -> Obj:
        if subresource is None and r.kind == "Service":
            new = carry_over_allocated_values(default_service(new), old)
            self._init_ip_families(r, new, old)
        elif subresource is None:
            check_encoding(r.kind, new)
            new = apply_defaults(r.kind, new)
        validate_fn = validation.validate_status_update if subresource == "status" else validation.validate_update
        errs = validate_fn(r.kind, new, old) if validate else []
        if errs:
            raise self._invalid(r, old["metadata"]["name"], errs)
        if r.kind == "Service" and subresource is None:
            new = self._allocate(r, new, old, dry_run)
        if (r.kind in _GENERATION_TRACKED or r.custom) and _spec_part(r, new) != _spec_part(r, old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        if new == old:
            return old  # no change, no write: resourceVersion stays
        if dry_run:
            return new
        if self._finalized(r, new):
            return remove_now(self, r, new)
        return self.put(r, new, MODIFIED, old)

    @staticmethod
    def _finalized(r: ResourceType, obj: Obj) -> bool:
        """A deleted object whose last finalizer just went, and whose grace is over."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return False
        if r.kind == "Namespace":
            return False  # the namespace controller finishes namespaces
        return r.kind != "Pod" or meta.get("deletionGracePeriodSeconds", 0) == 0

    # -- patch ---------------------------------------------------------------

    def patch(
        self,
        r: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        subresource: str | None = None,
        *,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        ns_key = namespace if r.namespaced else ""
        old = self.store.get(r.kind, ns_key, name)
        is_apply = content_type.startswith("application/apply-patch")
        if r.custom and content_type == patching.STRATEGIC_MERGE_PATCH:
            # no Go struct, no patch strategies: upstream refuses it for custom resources
            raise errors.unsupported_media_type(content_type, strategic=False)
        if old is None:
            if is_apply and subresource is None:
                base: Obj = {"apiVersion": r.api_version, "kind": r.kind, "metadata": {"name": name}}
                created = self._apply_patch(content_type, base, body, r.kind)
                created.setdefault("metadata", {})["name"] = name
                return self.create(r, namespace, created, dry_run=dry_run), True
            raise errors.not_found(r.group, r.plural, name)
        patched = self._apply_patch(content_type, clone(old), body, r.kind)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(r.group, r.plural, name, errors.STALE_OBJECT)
        patched.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.update(r, namespace, name, patched, subresource, dry_run=dry_run)

    @staticmethod
    def _apply_patch(content_type: str, doc: Obj, body: bytes, kind: str) -> Obj:
        try:
            return patching.apply_patch(content_type, doc, body, kind)
        except patching.UnsupportedMediaType as exc:
            raise errors.unsupported_media_type(content_type) from exc
        except patching.PatchError as exc:
            reason = "Invalid" if exc.code == 422 else "BadRequest"
            raise errors.ApiError(exc.code, reason, str(exc)) from exc

    # -- pods/binding ----------------------------------------------------------

    def bind(self, namespace: str, name: str, binding: Obj) -> Obj:
        r = by_kind("Pod")
        pod = self.store.get("Pod", namespace, name)
        if pod is None:
            raise errors.not_found("", "pods", name)
        target = (binding.get("target") or {}).get("name", "")
        if not target:
            raise errors.ApiError(422, "Invalid", f'Binding "{name}" is invalid: target.name: Required value')
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("", "pods", name, "pod is being deleted, cannot be assigned to a host")
        if pod["spec"].get("nodeName"):
            raise errors.conflict(
                "", "pods", name, f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"'
            )
        new = clone(pod)
        new["spec"]["nodeName"] = target
        conditions = new.setdefault("status", {}).setdefault("conditions", [])
        conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": self.now()}
        )
        self.put(r, new, MODIFIED, pod)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
