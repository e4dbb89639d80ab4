"""Deletion: graceful pods, finalizers, propagation, namespaces and the garbage collector.

* A pod bound to a node is deleted gracefully: it gets deletionTimestamp
  (now + grace) and deletionGracePeriodSeconds, and the node agent removes it
  for good with a grace of 0 once its processes stopped. Unbound pods go at once.
* An object with finalizers only gets a deletionTimestamp; it goes when an
  update removes the last finalizer.
* Background propagation (the default): the owner goes now and the collector
  deletes its dependents (objects whose ownerReferences all point at objects
  that no longer exist) soon after. Orphan: dependents lose the ownerReference.
  Foreground: dependents go first, then the owner.
* A deleted namespace turns Terminating; the namespace controller empties it,
  then removes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from . import errors
from .resources import ResourceType, all_resources, by_kind
from .services import ServiceAllocations
from .storage import MODIFIED, Obj, Store, clone

__all__ = ["GarbageCollector", "WriteHook", "Writer", "delete", "delete_collection", "remove_now"]

log = logging.getLogger(__name__)
NAMESPACE_RECHECK_SECONDS = 1.0
ObjRef = tuple[str, str, str]  # (kind, namespace, name)
# Called after every stored change with (kind, old, new); None for "absent".
WriteHook = Callable[[str, Obj | None, Obj | None], None]


class Writer(Protocol):
    """What deletion needs of the write path; ``registry.Registry`` is the one there is.

    A protocol rather than an import: the registry creates the garbage collector
    and finishes deletions through this module, so importing it back would make
    an import cycle.
    """

    @property
    def store(self) -> Store: ...

    @property
    def allocations(self) -> ServiceAllocations: ...

    @property
    def after_write(self) -> list[WriteHook]: ...

    @property
    def gc(self) -> GarbageCollector: ...

    def now(self) -> str: ...

    def put(self, r: ResourceType, obj: Obj, event: str, old: Obj | None) -> Obj:
        """Store ``obj`` unchecked and run the after-write hooks."""
        ...

    def update(self, r: ResourceType, namespace: str, name: str, obj: Obj) -> tuple[Obj, bool]:
        """Replace an object through every check a client's update gets."""
        ...


# Kinds whose DELETE answers the deleted object rather than a Status (upstream's
# ReturnDeletedObject; the official clients' models expect it).
_RETURNS_DELETED_OBJECT = {"Pod", "Service"}


def _success(r: ResourceType, obj: Obj) -> Obj:
    if r.kind in _RETURNS_DELETED_OBJECT:
        return obj
    meta = obj["metadata"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": meta["name"], "group": r.group, "kind": r.plural, "uid": meta.get("uid")},
    }


def remove_now(registry: Writer, r: ResourceType, obj: Obj) -> Obj:
    meta = obj["metadata"]
    final = registry.store.remove(r.kind, meta.get("namespace", ""), meta["name"])
    if r.kind == "Service":
        registry.allocations.release(final)
    for hook in registry.after_write:
        hook(r.kind, final, None)
    return final


def _check_preconditions(r: ResourceType, obj: Obj, options: dict[str, Any]) -> None:
    pre = options.get("preconditions") or {}
    meta = obj["metadata"]
    if pre.get("uid") and pre["uid"] != meta.get("uid"):
        raise errors.conflict(
            r.group,
            r.plural,
            meta["name"],
            f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
        )
    if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
        raise errors.conflict(
            r.group,
            r.plural,
            meta["name"],
            f"Precondition failed: ResourceVersion in precondition: "
            f"{pre['resourceVersion']}, ResourceVersion in object meta: "
            f"{meta.get('resourceVersion')}",
        )


def _pod_grace(pod: Obj, options: dict[str, Any]) -> int:
    """Grace period for deleting a pod; 0 means "remove now" (upstream CheckGracefulDelete)."""
    if not pod["spec"].get("nodeName"):
        return 0
    if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
        return 0
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    current = pod["metadata"].get("deletionGracePeriodSeconds")
    if current is not None:
        grace = min(grace, current)  # a second delete may only shorten the grace
    return max(int(grace), 0)


def _propagation(options: dict[str, Any]) -> str:
    if options.get("orphanDependents") is True:
        return "Orphan"
    return options.get("propagationPolicy") or "Background"


def delete(registry: Writer, r: ResourceType, namespace: str, name: str, options: dict[str, Any]) -> Obj:
    """Delete one object; returns the object (still there) or a success Status."""
    obj = registry.store.get(r.kind, namespace if r.namespaced else "", name)
    if obj is None:
        raise errors.not_found(r.group, r.plural, name)
    _check_preconditions(r, obj, options)
    dry_run = bool(options.get("dryRun"))  # answered as if done; nothing written
    if r.kind == "Namespace":
        return _mark_namespace_terminating(registry, r, obj, dry_run)
    policy = _propagation(options)
    if policy == "Orphan" and not dry_run:
        registry.gc.orphan_dependents(obj["metadata"]["uid"])
    grace = _pod_grace(obj, options) if r.kind == "Pod" else 0
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if policy == "Foreground" and registry.gc.has_dependents(obj["metadata"]["uid"]):
        finalizers = sorted(set(finalizers) | {"foregroundDeletion"})
    if grace == 0 and not finalizers:
        return _success(r, obj if dry_run else remove_now(registry, r, obj))
    new = clone(obj)
    meta = new["metadata"]
    when = datetime.now(UTC) + timedelta(seconds=grace)
    if not meta.get("deletionTimestamp") or grace < meta.get("deletionGracePeriodSeconds", grace + 1):
        meta["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    meta["deletionGracePeriodSeconds"] = grace
    meta["finalizers"] = finalizers
    if not finalizers:
        meta.pop("finalizers")
    if grace == 0 and r.kind == "Pod" and not finalizers:
        return _success(r, remove_now(registry, r, new))
    if new == obj or dry_run:
        return new
    return registry.put(r, new, MODIFIED, obj)


def _mark_namespace_terminating(registry: Writer, r: ResourceType, ns: Obj, dry_run: bool) -> Obj:
    if ns["metadata"].get("deletionTimestamp"):
        return ns
    new = clone(ns)
    new["metadata"]["deletionTimestamp"] = registry.now()
    new["metadata"]["deletionGracePeriodSeconds"] = 0
    new.setdefault("status", {})["phase"] = "Terminating"
    if dry_run:
        return new
    stored = registry.put(r, new, MODIFIED, ns)
    registry.gc.kick()
    return stored


def delete_collection(
    registry: Writer, r: ResourceType, namespace: str | None, matches: Any, options: dict[str, Any]
) -> Obj:
    items = []
    for obj in registry.store.list(r.kind, namespace):
        if matches(obj):
            try:
                result = delete(registry, r, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], options)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
                continue
            items.append(obj if result.get("kind") == "Status" else result)
    return {
        "kind": r.list_kind,
        "apiVersion": r.api_version,
        "metadata": {"resourceVersion": str(registry.store.rv)},
        "items": items,
    }


class GarbageCollector:
    """Owner-reference garbage collection and namespace finalization, in the background."""

    def __init__(self, registry: Writer) -> None:
        self.registry = registry
        self.by_uid: dict[str, ObjRef] = {}
        self.dependents: dict[str, set[ObjRef]] = defaultdict(set)
        self._dirty_owners: set[str] = set()
        self._terminating: set[str] = set()  # namespaces being finalized
        self._recheck: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        registry.after_write.append(self._observe)
        for kind, obj in registry.store.iter_all():
            self._observe(kind, None, obj)
        # Dependents whose owners vanished while the server was down.
        self._dirty_owners.update(uid for uid in self.dependents if uid not in self.by_uid)

    @staticmethod
    def _ref(kind: str, obj: Obj) -> ObjRef:
        meta = obj["metadata"]
        return kind, meta.get("namespace", ""), meta["name"]

    def _observe(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        self._observe_namespaces(kind, old, new)
        if old is not None:
            for owner in old["metadata"].get("ownerReferences") or []:
                self.dependents[owner["uid"]].discard(self._ref(kind, old))
        if new is not None:
            self.by_uid[new["metadata"]["uid"]] = self._ref(kind, new)
            for owner in new["metadata"].get("ownerReferences") or []:
                self.dependents[owner["uid"]].add(self._ref(kind, new))
            if new["metadata"].get("deletionTimestamp") and (
                "foregroundDeletion" in (new["metadata"].get("finalizers") or [])
            ):
                self._dirty_owners.add(new["metadata"]["uid"])
                self.kick()
        elif old is not None:
            uid = old["metadata"]["uid"]
            self.by_uid.pop(uid, None)
            if self.dependents.get(uid):
                self._dirty_owners.add(uid)
                self.kick()
            else:
                self.dependents.pop(uid, None)

    def _observe_namespaces(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        """A namespace being deleted is finalized again whenever something in it changes
        (a pod finishing its grace period), not on a timer."""
        if kind == "Namespace":
            if new is not None and new["metadata"].get("deletionTimestamp"):
                self._terminating.add(new["metadata"]["name"])
                self.kick()
            elif new is None and old is not None:
                self._terminating.discard(old["metadata"]["name"])
            return
        namespace = (new or old or {}).get("metadata", {}).get("namespace")
        if namespace in self._terminating:
            self.kick()

    def kick(self) -> None:
        self._wake.set()

    def _schedule_recheck(self) -> None:
        """One slow retry for a namespace that still holds objects: the next write in it
        kicks us anyway; this only catches deletes that failed."""
        if self._recheck is None:

            def fire() -> None:
                self._recheck = None
                self.kick()

            self._recheck = asyncio.get_running_loop().call_later(NAMESPACE_RECHECK_SECONDS, fire)

    def has_dependents(self, uid: str) -> bool:
        return bool(self.dependents.get(uid))

    def orphan_dependents(self, uid: str) -> None:
        for kind, ns, name in list(self.dependents.get(uid, ())):
            obj = self.registry.store.get(kind, ns, name)
            if obj is None:
                continue
            new = clone(obj)
            new["metadata"]["ownerReferences"] = [
                o for o in obj["metadata"].get("ownerReferences", []) if o["uid"] != uid
            ]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            self.registry.put(by_kind(kind), new, MODIFIED, obj)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.collect_once()
            except Exception:  # keep collecting; one bad object must not stop GC
                log.exception("garbage collection pass failed")
            await asyncio.sleep(0.05)  # batch bursts of deletions

    def collect_once(self) -> None:
        owners, self._dirty_owners = self._dirty_owners, set()
        for uid in owners:
            self._collect_dependents_of(uid)
        self._finalize_namespaces()

    def _collect_dependents_of(self, uid: str) -> None:
        owner_ref = self.by_uid.get(uid)
        owner = self.registry.store.get(*owner_ref) if owner_ref else None
        for kind, ns, name in list(self.dependents.get(uid, ())):
            obj = self.registry.store.get(kind, ns, name)
            if obj is None:
                continue
            alive = [
                o
                for o in obj["metadata"].get("ownerReferences", [])
                if o["uid"] in self.by_uid and not (owner is not None and o["uid"] == uid)
            ]
            if owner is None and alive:
                continue  # another owner still holds it
            try:
                delete(self.registry, by_kind(kind), ns, name, {"propagationPolicy": "Background"})
            except errors.ApiError as exc:
                log.warning("gc: deleting %s %s/%s: %s", kind, ns, name, exc.message)
        if owner is not None and not self.has_dependents(uid):
            self._drop_finalizer(owner_ref, owner, "foregroundDeletion")  # type: ignore[arg-type]
        elif owner is not None:
            self._dirty_owners.add(uid)
            self.kick()
        if not self.dependents.get(uid):
            self.dependents.pop(uid, None)

    def _drop_finalizer(self, ref: ObjRef, obj: Obj, finalizer: str) -> None:
        new = clone(obj)
        new["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers", []) if f != finalizer]
        r = by_kind(ref[0])
        self.registry.update(r, ref[1], ref[2], new)

    def _finalize_namespaces(self) -> None:
        for name in sorted(self._terminating):
            ns = self.registry.store.get("Namespace", "", name)
            if ns is None or not ns["metadata"].get("deletionTimestamp"):
                self._terminating.discard(name)
                continue
            remaining = 0
            for r in all_resources():
                if not r.namespaced or by_kind(r.kind) is not r:  # a custom kind: once, by its storage version
                    continue
                for obj in self.registry.store.list(r.kind, name):
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        try:
                            delete(self.registry, r, name, obj["metadata"]["name"], {})
                        except errors.ApiError as exc:
                            log.warning("namespace %s: deleting %s: %s", name, r.kind, exc.message)
            if remaining == 0:
                remove_now(self.registry, by_kind("Namespace"), ns)
            else:
                self._schedule_recheck()
