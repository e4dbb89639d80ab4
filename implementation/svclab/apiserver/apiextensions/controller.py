"""Serving custom resources as CustomResourceDefinitions come and go.

Plays apiextensions-apiserver's naming, establishing and finalizing controllers
in one after-write hook: a valid CRD starts serving its kind at once (so a
client may create objects right after creating the CRD), its status gets
``NamesAccepted`` and ``Established`` just after the write that created it, and
a deleted CRD (deletionTimestamp set, or gone) takes every object of its kind
with it and stops serving the kind.

Because the store keys objects by kind, a CRD whose kind is already served (a
built-in kind, or another CRD's) is refused with ``NamesAccepted=False``; upstream
only refuses names taken inside the same group.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import errors, validation
from ..defaults import register_defaulter
from ..deletion import remove_now
from ..registry import Registry
from ..resources import by_kind, serve_custom, stop_serving_custom
from ..storage import MODIFIED, Obj, clone
from ..validation.formats import name_is_dns_subdomain
from ..validation.meta import validate_object_meta
from . import schema
from .definitions import CustomKind, crd_default, custom_kind, established_status, validate_crd

__all__ = ["CRD_KIND", "custom_kind_of", "install"]

log = logging.getLogger(__name__)
CRD_KIND = "CustomResourceDefinition"
_SERVED: dict[str, tuple[str, CustomKind]] = {}  # kind -> (CRD name, what it serves)


def custom_kind_of(kind: str) -> CustomKind | None:
    """The CustomKind serving ``kind``, or None for a kind no CRD serves."""
    served = _SERVED.get(kind)
    return served[1] if served else None


def _crd_create(crd: Obj) -> list[validation.FieldError]:
    meta = validate_object_meta(
        crd.get("metadata") or {}, namespaced=False, name_fn=name_is_dns_subdomain, kube_finalizers=False
    )
    return meta + validate_crd(crd)


def _crd_update(new: Obj, old: Obj) -> list[validation.FieldError]:
    errs = validate_crd(new)
    if (new.get("spec") or {}).get("scope") != (old.get("spec") or {}).get("scope"):
        errs.append(
            validation.FieldError(
                validation.ErrorType.INVALID, "spec.scope", new["spec"].get("scope"), "field is immutable"
            )
        )
    return errs


def _no_status_rules(new: Obj, old: Obj) -> list[validation.FieldError]:
    return []


def _custom_validators(served: CustomKind) -> validation.KindValidators:
    def create(obj: Obj) -> list[validation.FieldError]:
        meta = validate_object_meta(
            obj.get("metadata") or {},
            namespaced=served.resource.namespaced,
            name_fn=name_is_dns_subdomain,
            kube_finalizers=False,
        )
        return meta + schema.validate(obj, served.schema)

    def update(new: Obj, old: Obj) -> list[validation.FieldError]:
        return schema.validate(new, served.schema)

    return validation.KindValidators(create, update, update, kube_finalizers=False)


def _custom_defaulter(served: CustomKind) -> Any:
    def prune_and_default(obj: Obj) -> None:
        result = schema.default(schema.prune(obj, served.schema), served.schema)
        obj.clear()
        obj.update(result)

    return prune_and_default


def _conflict(crd: Obj, served: CustomKind) -> str:
    """Why the CRD's names cannot be served, or ""."""
    kind, name = served.resource.kind, crd["metadata"]["name"]
    try:
        taken = by_kind(kind)
    except KeyError:
        return ""
    owner = _SERVED.get(kind)
    if owner is not None and owner[0] == name:
        return ""
    return f'"{kind}" is already in use' + ("" if taken.custom else " by a built-in kind")


def _serve(crd: Obj) -> str:
    """Start (or keep) serving a CRD's kind; returns the name conflict, if any."""
    served = custom_kind(crd)
    if not served.versions:
        return "no served version"
    conflict = _conflict(crd, served)
    if conflict:
        return conflict
    kind = served.resource.kind
    _stop(crd["metadata"]["name"])  # the kind itself may have been renamed
    serve_custom(list(served.versions))
    _SERVED[kind] = (crd["metadata"]["name"], served)
    validation.register_validators(kind, _custom_validators(served))
    register_defaulter(kind, _custom_defaulter(served))
    return ""


def _stop(crd_name: str) -> str | None:
    """Stop serving what the CRD named ``crd_name`` served; returns the kind, if any."""
    for kind, (name, _) in list(_SERVED.items()):
        if name == crd_name:
            del _SERVED[kind]
            stop_serving_custom(kind)
            validation.register_validators(kind, None)
            register_defaulter(kind, None)
            return kind
    return None


def _retire(registry: Registry, crd_name: str) -> None:
    """A deleted CRD: remove every object of its kind (upstream's CRD finalizer does it,
    ignoring the objects' own finalizers too), then stop serving the kind."""
    for kind, (name, served) in list(_SERVED.items()):
        if name != crd_name:
            continue
        for obj in list(registry.store.list(kind)):
            try:
                remove_now(registry, served.resource, obj)
            except errors.ApiError as exc:  # never fail the CRD's own write
                log.warning("removing %s %s: %s", kind, obj["metadata"]["name"], exc.message)
    _stop(crd_name)


def _set_status(registry: Registry, name: str, conflict: str) -> None:
    crd = registry.store.get(CRD_KIND, "", name)
    if crd is None or crd["metadata"].get("deletionTimestamp"):
        return
    status = established_status(crd, registry.now(), conflict=conflict)
    if status != crd.get("status"):
        new = clone(crd)
        new["status"] = status
        registry.put(by_kind(CRD_KIND), new, MODIFIED, crd)


def _later(action: Any) -> None:
    """Run ``action`` after the current write has reached every hook (now, without a loop)."""
    try:
        asyncio.get_running_loop().call_soon(action)
    except RuntimeError:
        action()


def install(registry: Registry) -> None:
    """Serve every stored CRD, and follow CRD writes from now on."""
    validation.register_validators(
        CRD_KIND, validation.KindValidators(_crd_create, _crd_update, _no_status_rules, kube_finalizers=False)
    )
    register_defaulter(CRD_KIND, crd_default)
    for crd in registry.store.list(CRD_KIND):
        if not crd["metadata"].get("deletionTimestamp"):
            conflict = _serve(crd)
            if conflict:
                log.warning("CRD %s not served: %s", crd["metadata"]["name"], conflict)

    def observe(kind: str, old: Obj | None, new: Obj | None) -> None:
        if kind != CRD_KIND:
            return
        current = new if new is not None else old
        assert current is not None
        name = current["metadata"]["name"]
        if new is None or new["metadata"].get("deletionTimestamp"):
            _retire(registry, name)
            return
        if old is not None and old.get("spec") == new.get("spec") and not _needs_status(new):
            return
        conflict = _serve(new)
        _later(lambda: _set_status(registry, name, conflict))

    registry.after_write.append(observe)


def _needs_status(crd: Obj) -> bool:
    return not (crd.get("status") or {}).get("conditions")
