"""Patch metadata: the ``patchStrategy`` / ``patchMergeKey`` struct tags of ``k8s.io/api``.

A strategic merge patch merges a list item by item only where the Go field says
so: maps by their merge key (containers by ``name``, Service ports by ``port``
...), scalars as a set (finalizers). :func:`patch_meta_for_kind` gives those
tags for each served kind; anything not named is merged as a plain map or
replaced as a plain list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["PatchMeta", "patch_meta_for_kind"]


@dataclass(frozen=True, slots=True)
class PatchMeta:
    """How SMP treats one field: ``strategy`` "merge" or "" (replace lists), the
    ``merge_key`` of a list of maps, and ``fields``: the metadata of the struct's
    fields (for a list: of each item's fields). Unknown fields get defaults:
    maps merge recursively, lists are replaced."""

    strategy: str = ""
    merge_key: str = ""
    fields: Mapping[str, PatchMeta] = field(default_factory=dict)

    def child(self, name: str) -> PatchMeta:
        return self.fields.get(name, _PLAIN)


_PLAIN = PatchMeta()


def _struct(**fields: PatchMeta) -> PatchMeta:
    return PatchMeta(fields=fields)


def _merge_by(key: str, **item_fields: PatchMeta) -> PatchMeta:
    return PatchMeta("merge", key, item_fields)


_MERGE_SCALARS = PatchMeta("merge")
_CONDITIONS = _merge_by("type")

_OBJECT_META = _struct(finalizers=_MERGE_SCALARS, ownerReferences=_merge_by("uid"))

_CONTAINER_FIELDS = {
    "ports": _merge_by("containerPort"),
    "env": _merge_by("name"),
    "volumeMounts": _merge_by("mountPath"),
    "volumeDevices": _merge_by("devicePath"),
}
_POD_SPEC = _struct(
    volumes=_merge_by("name"),  # also retainKeys; $retainKeys needs no tag to apply
    initContainers=_merge_by("name", **_CONTAINER_FIELDS),
    containers=_merge_by("name", **_CONTAINER_FIELDS),
    ephemeralContainers=_merge_by("name", **_CONTAINER_FIELDS),
    imagePullSecrets=_merge_by("name"),
    hostAliases=_merge_by("ip"),
    topologySpreadConstraints=_merge_by("topologyKey"),
    resourceClaims=_merge_by("name"),
    schedulingGates=_merge_by("name"),
)
_POD_STATUS = _struct(
    conditions=_CONDITIONS, podIPs=_merge_by("ip"), hostIPs=_merge_by("ip"), resourceClaimStatuses=_merge_by("name")
)

# Lists not named here (tolerations, Node taints, Service clusterIPs/ipFamilies,
# Endpoints subsets, EndpointSlice endpoints and ports...) carry no patchStrategy
# upstream and are replaced whole.
_KIND_META: Mapping[str, PatchMeta] = {
    "Pod": _struct(metadata=_OBJECT_META, spec=_POD_SPEC, status=_POD_STATUS),
    "Service": _struct(
        metadata=_OBJECT_META, spec=_struct(ports=_merge_by("port")), status=_struct(conditions=_CONDITIONS)
    ),
    "Node": _struct(
        metadata=_OBJECT_META,
        spec=_struct(podCIDRs=_MERGE_SCALARS),
        status=_struct(conditions=_CONDITIONS, addresses=_merge_by("type")),
    ),
    "Namespace": _struct(metadata=_OBJECT_META, status=_struct(conditions=_CONDITIONS)),
}
# Workloads: the pod template merges like a Pod; status conditions by type.
_WORKLOAD_META = _struct(
    metadata=_OBJECT_META,
    spec=_struct(template=_struct(metadata=_OBJECT_META, spec=_POD_SPEC)),
    status=_struct(conditions=_CONDITIONS),
)
_KIND_META = {
    **_KIND_META,
    **dict.fromkeys(
        ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "ReplicationController", "Job"), _WORKLOAD_META
    ),
}
_GENERIC_META = _struct(metadata=_OBJECT_META)


def patch_meta_for_kind(kind: str) -> PatchMeta:
    """SMP metadata of a served kind; kinds without special lists get metadata only."""
    return _KIND_META.get(kind, _GENERIC_META)
