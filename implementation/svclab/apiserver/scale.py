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

from . import apiextensions, errors, validation
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


def _path_value(obj: Obj, path: str) -> Any:
    value: Any = obj
    for part in path.strip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set_path(obj: Obj, path: str, value: Any) -> None:
    *parents, last = path.strip(".").split(".")
    for part in parents:
        obj = obj.setdefault(part, {})
    obj[last] = value


def _replica_paths(r: ResourceType) -> apiextensions.ScalePaths:
    served = apiextensions.custom_kind_of(r.kind) if r.custom else None
    if served is not None and served.scale is not None:
        return served.scale
    return apiextensions.ScalePaths(".spec.replicas", ".status.replicas")


def to_scale(r: ResourceType, obj: Obj) -> Obj:
    """The Scale of a workload or custom object (side-effect-free); a custom object's
    replicas and selector are where its CRD's scale subresource says."""
    paths = _replica_paths(r)
    meta = {key: obj["metadata"][key] for key in _META_FIELDS if key in obj["metadata"]}
    replicas = _path_value(obj, paths.spec_replicas) or 0
    scale_status: dict[str, Any] = {"replicas": _path_value(obj, paths.status_replicas) or 0}
    if r.custom:
        selector = _path_value(obj, paths.label_selector) if paths.label_selector else None
    else:
        selector = _selector(r.kind, obj.get("spec") or {})
    if selector:
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
    _set_path(new, _replica_paths(r).spec_replicas, (scale.get("spec") or {}).get("replicas", 0))
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
