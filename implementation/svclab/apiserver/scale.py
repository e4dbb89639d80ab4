"""The ``scale`` subresource: an autoscaling/v1 ``Scale`` view of a workload's replicas.

GET answers the workload's name, namespace, uid, resourceVersion and creation
time with ``spec.replicas`` (desired) and ``status.replicas`` / ``status.selector``
(observed; the selector as a label-selector string). PUT and PATCH change
``spec.replicas`` only, through the workload's own update (so generation,
validation and watch events follow); a ``metadata.resourceVersion`` in the Scale
is a precondition. This is what ``kubectl scale`` and autoscalers use.
"""

from __future__ import annotations

from typing import Any

import orjson

from svclab.apimachinery.labels import label_selector_from_api
from svclab.apimachinery.selection import SelectorError

from . import errors, validation
from . import patch as patching
from .registry import Registry
from .resources import ResourceType
from .storage import Obj

__all__ = ["get_scale", "patch_scale", "to_scale", "update_scale"]

_META_FIELDS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def _selector(kind: str, spec: dict[str, Any]) -> str:
    if kind == "ReplicationController":  # a plain map, as labels.SelectorFromSet prints it
        selector = spec.get("selector") or {}
        return ",".join(f"{key}={selector[key]}" for key in sorted(selector))
    try:
        return str(label_selector_from_api(spec.get("selector")))
    except SelectorError:
        return ""


def to_scale(r: ResourceType, obj: Obj) -> Obj:
    """The Scale of a workload (side-effect-free)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = {key: obj["metadata"][key] for key in _META_FIELDS if key in obj["metadata"]}
    replicas = spec.get("replicas") or 0
    scale_status: dict[str, Any] = {"replicas": status.get("replicas") or 0}
    if selector := _selector(r.kind, spec):
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": replicas} if replicas else {},  # omitempty, as upstream
        "status": scale_status,
    }


def _current(registry: Registry, r: ResourceType, namespace: str, name: str) -> Obj:
    obj = registry.store.get(r.kind, namespace, name)
    if obj is None:
        raise errors.not_found(r.group, r.plural, name)
    return obj


def get_scale(registry: Registry, r: ResourceType, namespace: str, name: str) -> Obj:
    return to_scale(r, _current(registry, r, namespace, name))


def _validate_scale(scale: Obj, name: str) -> None:
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        err = validation.FieldError(
            validation.ErrorType.INVALID, "spec.replicas", replicas, "must be greater than or equal to 0"
        )
        raise errors.invalid(validation.invalid_status("Scale", "autoscaling", name, [err]))


def update_scale(
    registry: Registry, r: ResourceType, namespace: str, name: str, scale: Obj, *, dry_run: bool = False
) -> Obj:
    """Set the workload's replicas from a Scale; returns the new Scale."""
    if not isinstance(scale, dict):
        raise errors.bad_request("the body of the request is not a JSON object")
    meta = scale.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
    _validate_scale(scale, name)
    obj = _current(registry, r, namespace, name)
    wanted_rv = meta.get("resourceVersion")
    if wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]:
        raise errors.conflict(r.group, r.plural, name, errors.STALE_OBJECT)
    new = orjson.loads(orjson.dumps(obj))
    new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    updated, _ = registry.update(r, namespace, name, new, dry_run=dry_run)
    return to_scale(r, updated)


def patch_scale(
    registry: Registry, r: ResourceType, namespace: str, name: str, content_type: str, body: bytes, *, dry_run: bool
) -> Obj:
    """Apply a JSON, merge or strategic merge patch to the Scale, then update it."""
    current = get_scale(registry, r, namespace, name)
    try:
        patched = patching.apply_patch(content_type, current, body, "Scale")
    except patching.UnsupportedMediaType as exc:
        raise errors.unsupported_media_type(content_type) from exc
    except patching.PatchError as exc:
        raise errors.ApiError(exc.code, "Invalid" if exc.code == 422 else "BadRequest", str(exc)) from exc
    return update_scale(registry, r, namespace, name, patched, dry_run=dry_run)
