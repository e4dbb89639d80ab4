"""Validation of API objects on create, update and status update, as upstream does it.

Objects are plain JSON dicts, already defaulted (and, for Services, allocated)
by the server. Each served kind has a row in a table of validators; every
validator is side-effect-free and returns a list of :class:`FieldError` whose
paths and messages match upstream's, so the server can answer with
:func:`invalid_status` (422, reason Invalid) exactly like kube-apiserver.

Modules: ``errors`` (field errors, Status), ``formats`` (names, labels, ports,
IPs), ``meta`` (ObjectMeta), ``service``, ``endpoints`` (Endpoints and
EndpointSlice), ``pod``, ``cluster`` (Node, Namespace, Event, Lease), ``config``
(ConfigMap, Secret, ServiceAccount), ``template`` (selectors, pod templates) and
``workloads`` (Deployment, ReplicaSet, DaemonSet, StatefulSet, ReplicationController, Job)
with ``workload_status`` (what their controllers write)
``rbac`` (Roles, ClusterRoles and their bindings) and ``inert`` (kinds stored and
served that nothing acts on: Ingress, NetworkPolicy, CertificateSigningRequest,
CSIStorageCapacity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..resources import by_kind
from .access import mapping
from .cluster import (
    validate_event,
    validate_lease,
    validate_namespace,
    validate_namespace_status_update,
    validate_node,
    validate_node_update,
)
from .config import CONFIG_VALIDATORS
from .endpoints import validate_endpoint_slice, validate_endpoint_slice_update, validate_endpoints
from .errors import ErrorType, FieldError, dedupe, go_slice, invalid_status
from .inert import INERT_VALIDATORS
from .meta import validate_object_meta_update
from .pod import validate_pod, validate_pod_status_update, validate_pod_update
from .rbac import RBAC_VALIDATORS
from .service import validate_service, validate_service_status_update, validate_service_update
from .service_cidr import validate_service_cidr, validate_service_cidr_update
from .workload_status import STATUS_VALIDATORS
from .workloads import WORKLOAD_VALIDATORS

__all__ = [
    "ErrorType",
    "FieldError",
    "KindValidators",
    "go_slice",
    "invalid_status",
    "register_validators",
    "validate_create",
    "validate_status_update",
    "validate_update",
]

Create = Callable[[dict[str, Any]], list[FieldError]]
Update = Callable[[dict[str, Any], dict[str, Any]], list[FieldError]]


@dataclass(frozen=True, slots=True)
class KindValidators:
    """How one kind is validated; ``update``/``status`` omit the ObjectMeta update rules."""

    create: Create
    update: Update
    status: Update
    kube_finalizers: bool = True  # core-group finalizer naming rule


def _revalidate(create: Create) -> Update:
    """An update rule that only re-validates the new object."""
    return lambda new, old: create(new)


def _no_status_rules(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return []


_VALIDATORS: dict[str, KindValidators] = {
    "Namespace": KindValidators(validate_namespace, _revalidate(validate_namespace), validate_namespace_status_update),
    "Node": KindValidators(validate_node, validate_node_update, validate_node_update),
    "Pod": KindValidators(validate_pod, validate_pod_update, validate_pod_status_update),
    "Service": KindValidators(validate_service, validate_service_update, validate_service_status_update),
    "Endpoints": KindValidators(validate_endpoints, _revalidate(validate_endpoints), _no_status_rules),
    "Event": KindValidators(validate_event, _revalidate(validate_event), _no_status_rules, kube_finalizers=False),
    "EndpointSlice": KindValidators(validate_endpoint_slice, validate_endpoint_slice_update, _no_status_rules),
    "Lease": KindValidators(validate_lease, _revalidate(validate_lease), _no_status_rules, kube_finalizers=False),
    "ServiceCIDR": KindValidators(
        validate_service_cidr, validate_service_cidr_update, _no_status_rules, kube_finalizers=False
    ),
}
_CORE_KINDS = {"ConfigMap", "Secret", "ServiceAccount", "ReplicationController"}  # core finalizer naming
for _kind, (_create, _update) in {
    **CONFIG_VALIDATORS,
    **WORKLOAD_VALIDATORS,
    **RBAC_VALIDATORS,
    **INERT_VALIDATORS,
}.items():
    _status = STATUS_VALIDATORS.get(_kind, _no_status_rules)
    _VALIDATORS[_kind] = KindValidators(_create, _update, _status, kube_finalizers=_kind in _CORE_KINDS)


def register_validators(kind: str, validators: KindValidators | None) -> None:
    """Validate ``kind`` with ``validators`` from now on (None: forget the kind). For
    kinds served at run time: CustomResourceDefinitions and their custom resources."""
    if validators is None:
        _VALIDATORS.pop(kind, None)
    else:
        _VALIDATORS[kind] = validators


def _validators(kind: str) -> KindValidators:
    by_kind(kind)  # KeyError for a kind the server does not serve
    return _VALIDATORS[kind]


def _meta_update(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return validate_object_meta_update(
        mapping(new, "metadata"), mapping(old, "metadata"), kube_finalizers=_validators(kind).kube_finalizers
    )


def validate_create(kind: str, obj: dict[str, Any]) -> list[FieldError]:
    """Errors of ``obj`` (a defaulted object of ``kind``) on create; empty when valid.

    Side-effect-free. Raises KeyError for a kind the server does not serve.
    """
    return dedupe(_validators(kind).create(obj))


def validate_update(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Errors of replacing ``old`` by ``new``: ObjectMeta immutability, then the kind's rules."""
    return dedupe(_meta_update(kind, new, old) + _validators(kind).update(new, old))


def validate_status_update(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Errors of a write to the ``status`` subresource (ObjectMeta rules plus the kind's status rules)."""
    return dedupe(_meta_update(kind, new, old) + _validators(kind).status(new, old))
