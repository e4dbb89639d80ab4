"""The ``meta.k8s.io/v1`` Table: one row of cells per object, with the kind's columns.

kubectl does not format objects itself: it asks the server for a Table and
prints it. Like the real API server, every column is computed (the server
prints "wide"); ``to_table`` is side-effect-free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ..resources import by_kind
from .cells import Cells, Obj
from .columns import column_definitions
from .pods import pod_conditions, pod_row
from .rows import (
    default_row,
    endpoint_slice_row,
    endpoints_row,
    event_row,
    lease_row,
    namespace_row,
    node_row,
    service_cidr_row,
    service_row,
)
from .workloads import (
    binding_row,
    config_map_row,
    controller_revision_row,
    daemon_set_row,
    deployment_row,
    job_row,
    replica_set_row,
    replication_controller_row,
    secret_row,
    service_account_row,
    stateful_set_row,
)

__all__ = ["to_table"]

_ROW_PRINTERS: dict[str, Callable[[Obj, dt.datetime], Cells]] = {
    "Service": service_row,
    "Endpoints": endpoints_row,
    "EndpointSlice": endpoint_slice_row,
    "Pod": pod_row,
    "Node": node_row,
    "Namespace": namespace_row,
    "Event": event_row,
    "Lease": lease_row,
    "ServiceCIDR": service_cidr_row,
    "ConfigMap": config_map_row,
    "Secret": secret_row,
    "ServiceAccount": service_account_row,
    "Deployment": deployment_row,
    "ReplicaSet": replica_set_row,
    "ReplicationController": replication_controller_row,
    "DaemonSet": daemon_set_row,
    "StatefulSet": stateful_set_row,
    "Job": job_row,
    "ControllerRevision": controller_revision_row,
    "RoleBinding": binding_row,
    "ClusterRoleBinding": binding_row,
}


def _row_object(kind: str, obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        full = dict(obj)
        if "kind" not in full or "apiVersion" not in full:
            try:
                resource = by_kind(kind)
                full.setdefault("apiVersion", resource.api_version)
                full.setdefault("kind", kind)
            except KeyError:
                pass
        return full
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(
    kind: str,
    objects: list[Obj],
    *,
    resource_version: str,
    continue_token: str | None = None,
    include_object: str = "Metadata",
    now: dt.datetime | None = None,
    no_headers: bool = False,
    custom: tuple[list[dict[str, Any]], Callable[[Obj, dt.datetime], Cells]] | None = None,
) -> dict[str, Any]:
    """Render ``objects`` of ``kind`` as a meta.k8s.io/v1 Table (side-effect-free).

    ``include_object`` is the ``includeObject`` query parameter: ``Metadata`` (the
    default; rows carry PartialObjectMetadata, which ``-A``/``--show-labels`` need),
    ``Object`` (the full object, for ``--sort-by``) or ``None``. ``no_headers`` leaves
    out the column definitions, as upstream does for ``?noHeaders=true``. ``custom``
    gives (column definitions, row printer) for a kind that brings its own, as
    custom resources do (``additionalPrinterColumns``).
    """
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(f"includeObject must be None, Metadata or Object, not {include_object!r}")
    now = now or dt.datetime.now(dt.UTC)
    printer = custom[1] if custom else _ROW_PRINTERS.get(kind, default_row)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if kind == "Pod" and (conditions := pod_conditions(obj)):
            row["conditions"] = conditions
        embedded = _row_object(kind, obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [] if no_headers else (custom[0] if custom else column_definitions(kind)),
        "rows": rows,
    }
