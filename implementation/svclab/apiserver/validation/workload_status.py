"""Status validation of the workload kinds, as upstream checks what controllers write.

Every count is non-negative; ready, available and similar counts may not exceed
``status.replicas`` (available not ``readyReplicas`` either); ``collisionCount``
may not go down. Job status is not checked beyond what the server stores.
All functions are side-effect-free.
"""

from __future__ import annotations

from typing import Any

from .access import mapping, number
from .errors import FieldError, invalid
from .template import validate_nonnegative

__all__ = ["STATUS_VALIDATORS"]

_REPLICAS = "cannot be greater than status.replicas"
# kind -> (non-negative counts, counts bounded by status.replicas, available-vs-ready message or "")
_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "Deployment": (
        (
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
            "collisionCount",
        ),
        ("updatedReplicas", "readyReplicas", "availableReplicas"),
        "cannot be greater than readyReplicas",
    ),
    "ReplicaSet": (
        ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"),
        ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"),
        "cannot be greater than readyReplicas",
    ),
    "StatefulSet": (
        (
            "replicas",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
            "observedGeneration",
            "collisionCount",
        ),
        ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"),
        "cannot be greater than status.readyReplicas",
    ),
    "DaemonSet": (
        (
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
            "collisionCount",
        ),
        (),
        "",
    ),
}
_RULES["ReplicationController"] = _RULES["ReplicaSet"]


def _validate_status(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    counts, bounded, available_message = _RULES[kind]
    status = mapping(new, "status")
    errs: list[FieldError] = []
    for name in counts:
        errs += validate_nonnegative(status, name, "status")
    replicas = number(status, "replicas") or 0
    for name in bounded:
        value = number(status, name) or 0
        if value > replicas:
            errs.append(invalid(f"status.{name}", value, _REPLICAS))
    available, ready = number(status, "availableReplicas") or 0, number(status, "readyReplicas") or 0
    if available_message and available > ready:
        errs.append(invalid("status.availableReplicas", available, available_message))
    new_collisions = number(status, "collisionCount")
    old_collisions = number(mapping(old, "status"), "collisionCount")
    if old_collisions is not None and (new_collisions is None or new_collisions < old_collisions):
        errs.append(invalid("status.collisionCount", new_collisions or 0, "cannot be decremented"))
    return errs


def _for(kind: str) -> Any:
    return lambda new, old: _validate_status(kind, new, old)


STATUS_VALIDATORS: dict[str, Any] = {kind: _for(kind) for kind in _RULES}
