"""Deployment arithmetic (upstream ``pkg/controller/deployment/util`` and ``controller.ComputeHash``).

Everything a Deployment rollout computes without I/O: the fenceposts
(``maxSurge`` rounds up, ``maxUnavailable`` rounds down, both zero means one
unavailable), the pod-template hash, which ReplicaSet is the new one,
revisions and their annotations, how far the new ReplicaSet may grow, when
a rollout is complete or progressing, and the Deployment status with its
``Available`` condition.  Fields the API server defaults (``replicas`` 1,
strategy ``RollingUpdate`` 25%/25%, ``revisionHistoryLimit`` 10,
``progressDeadlineSeconds`` 600) are read with those defaults when absent.

The pod-template hash follows upstream's shape (FNV-32a, the collision count
appended as 8 little-endian bytes, the decimal sum mapped onto
``SAFE_ALPHABET``) but hashes the template's canonical JSON, not the Go
struct dump upstream feeds it, so the values differ from a real cluster's.

Everything here is side-effect-free.
"""

from __future__ import annotations

import datetime
import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from lightkube.resources.apps_v1 import Deployment, ReplicaSet

from svclab.kube.models import meta

__all__ = [
    "ANNOTATION_DESIRED_REPLICAS",
    "ANNOTATION_MAX_REPLICAS",
    "ANNOTATION_REVISION",
    "ANNOTATION_REVISION_HISTORY",
    "LABEL_POD_TEMPLATE_HASH",
    "SAFE_ALPHABET",
    "calculate_status",
    "deployment_complete",
    "deployment_progressing",
    "deployment_replicas",
    "equal_ignore_hash",
    "find_new_replica_set",
    "fnv32a",
    "is_rolling_update",
    "is_saturated",
    "max_revision",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "pod_template_hash",
    "resolve_fenceposts",
    "revision_of",
    "rs_replicas",
    "rs_status_count",
    "safe_encode",
    "scaled_value",
    "set_condition",
    "sorted_by_creation",
]

LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
ANNOTATION_REVISION = "deployment.kubernetes.io/revision"
ANNOTATION_REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
ANNOTATION_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
ANNOTATION_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# k8s.io/apimachinery/pkg/util/rand's alphabet: no vowels, no 0/1/3, so no words.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_SURGE_AND_UNAVAILABLE = "25%"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


# -- fenceposts -----------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """Upstream ``intstr.GetScaledValueFromIntOrPercent`` (None counts as 0).

    Raises ``ValueError`` for a string that is not ``<integer>%``.
    """
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%") or not value[:-1].lstrip("-").isdigit():
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}: must be an integer or percentage")
    scaled = int(value[:-1]) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for ``desired`` replicas: surge rounds up, unavailable down.

    Both zero becomes (0, 1): rounding may zero both, and surge may be blocked by quota.
    """
    max_surge_ = scaled_value(surge, desired, round_up=True)
    max_unavailable_ = scaled_value(unavailable, desired, round_up=False)
    if max_surge_ == 0 and max_unavailable_ == 0:
        max_unavailable_ = 1
    return max_surge_, max_unavailable_


def deployment_replicas(deployment: Deployment) -> int:
    replicas = deployment.spec.replicas if deployment.spec else None
    return 1 if replicas is None else replicas


def is_rolling_update(deployment: Deployment) -> bool:
    strategy = deployment.spec.strategy if deployment.spec else None
    return strategy is None or strategy.type in (None, "RollingUpdate")


def _rolling_params(deployment: Deployment) -> tuple[int | str | None, int | str | None]:
    strategy = deployment.spec.strategy if deployment.spec else None
    rolling = strategy.rollingUpdate if strategy else None
    if rolling is None:
        return DEFAULT_SURGE_AND_UNAVAILABLE, DEFAULT_SURGE_AND_UNAVAILABLE
    return rolling.maxSurge, rolling.maxUnavailable


def max_surge(deployment: Deployment) -> int:
    """Upstream ``MaxSurge``: 0 unless rolling."""
    if not is_rolling_update(deployment):
        return 0
    return resolve_fenceposts(*_rolling_params(deployment), deployment_replicas(deployment))[0]


def max_unavailable(deployment: Deployment) -> int:
    """Upstream ``MaxUnavailable``: 0 unless rolling or with no replicas; at most ``replicas``."""
    replicas = deployment_replicas(deployment)
    if not is_rolling_update(deployment) or replicas == 0:
        return 0
    return min(resolve_fenceposts(*_rolling_params(deployment), replicas)[1], replicas)


# -- the pod-template hash --------------------------------------------------------


def fnv32a(data: bytes, start: int = _FNV32_OFFSET) -> int:
    """The 32-bit FNV-1a hash of ``data`` (Go's ``hash/fnv.New32a``)."""
    value = start
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Upstream ``rand.SafeEncodeString``: each character mapped onto ``SAFE_ALPHABET``."""
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in text)


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` label value of a template (JSON form); see the module docstring."""
    value = fnv32a(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        value = fnv32a(struct.pack("<II", collision_count & 0xFFFFFFFF, 0), value)
    return safe_encode(str(value))


def _without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(template))
    labels = (copy.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(LABEL_POD_TEMPLATE_HASH, None)
        if not labels:
            del copy["metadata"]["labels"]
    if copy.get("metadata") == {}:
        del copy["metadata"]
    return copy


def equal_ignore_hash(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Upstream ``EqualIgnoreHash``: equal templates once the hash label is dropped."""
    return _without_hash(first) == _without_hash(second)


# -- replica sets -----------------------------------------------------------------


def rs_replicas(rs: ReplicaSet | None) -> int:
    """``spec.replicas`` of a ReplicaSet (None counts as 0 here: an absent ReplicaSet)."""
    if rs is None or rs.spec is None:
        return 0
    return 1 if rs.spec.replicas is None else rs.spec.replicas


def rs_status_count(rs: ReplicaSet | None, field: str) -> int:
    if rs is None or rs.status is None:
        return 0
    return int(getattr(rs.status, field) or 0)


def sorted_by_creation(replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    """Oldest first, ties by name (upstream ``ReplicaSetsByCreationTimestamp``)."""
    never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(replica_sets, key=lambda rs: (meta(rs).creationTimestamp or never, meta(rs).name or ""))


def find_new_replica_set(deployment: Deployment, replica_sets: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template equals the Deployment's (upstream ``FindNewReplicaSet``)."""
    wanted = deployment.spec.template.to_dict()
    for rs in sorted_by_creation(replica_sets):
        if equal_ignore_hash(rs.spec.template.to_dict() if rs.spec and rs.spec.template else {}, wanted):
            return rs
    return None


def revision_of(obj: Any) -> int:
    """The revision annotation as an integer (0 when absent or unreadable)."""
    text = (meta(obj).annotations or {}).get(ANNOTATION_REVISION, "")
    try:
        return int(text)
    except ValueError:
        return 0


def max_revision(replica_sets: Sequence[ReplicaSet]) -> int:
    return max((revision_of(rs) for rs in replica_sets), default=0)


def new_rs_new_replicas(deployment: Deployment, all_replica_sets: Sequence[ReplicaSet], new_rs: ReplicaSet) -> int:
    """Upstream ``NewRSNewReplicas``: how far the new ReplicaSet may grow this step."""
    replicas = deployment_replicas(deployment)
    if not is_rolling_update(deployment):
        return replicas
    current = sum(rs_replicas(rs) for rs in all_replica_sets)
    max_total = replicas + max_surge(deployment)
    if current >= max_total:
        return rs_replicas(new_rs)
    return rs_replicas(new_rs) + min(max_total - current, replicas - rs_replicas(new_rs))


def is_saturated(deployment: Deployment, rs: ReplicaSet | None) -> bool:
    """Upstream ``IsSaturated``: the new ReplicaSet holds, and has available, all replicas."""
    if rs is None:
        return False
    try:
        desired = int((meta(rs).annotations or {}).get(ANNOTATION_DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    replicas = deployment_replicas(deployment)
    return rs_replicas(rs) == replicas and desired == replicas and rs_status_count(rs, "availableReplicas") == replicas


# -- status ---------------------------------------------------------------------


def deployment_complete(deployment: Deployment, status: Mapping[str, Any]) -> bool:
    """Upstream ``DeploymentComplete``: all replicas updated and available, no old ones, generation seen."""
    replicas = deployment_replicas(deployment)
    return (
        (status.get("updatedReplicas") or 0) == replicas
        and (status.get("replicas") or 0) == replicas
        and (status.get("availableReplicas") or 0) == replicas
        and (status.get("observedGeneration") or 0) >= (meta(deployment).generation or 0)
    )


def deployment_progressing(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Upstream ``DeploymentProgressing``: more updated, ready or available pods, or fewer old ones."""

    def count(status: Mapping[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(new, "replicas") - count(new, "updatedReplicas")
    return (
        count(new, "updatedReplicas") > count(old, "updatedReplicas")
        or new_old < old_old
        or count(new, "readyReplicas") > count(old, "readyReplicas")
        or count(new, "availableReplicas") > count(old, "availableReplicas")
    )


def set_condition(conditions: list[dict[str, Any]], condition: dict[str, Any]) -> list[dict[str, Any]]:
    """Upstream ``SetDeploymentCondition``: same status and reason is no change; same status keeps
    the transition time; the condition moves to the end."""
    current = next((c for c in conditions if c.get("type") == condition["type"]), None)
    if current is not None and current.get("status") == condition["status"]:
        if current.get("reason") == condition.get("reason"):
            return conditions
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    return [c for c in conditions if c.get("type") != condition["type"]] + [condition]


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def calculate_status(
    deployment: Deployment,
    all_replica_sets: Sequence[ReplicaSet],
    new_rs: ReplicaSet | None,
    current: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    """Upstream ``calculateStatus``: counts from the ReplicaSets and the ``Available`` condition (zeros left out).

    ``current`` is the Deployment's status so far (its conditions are kept); ``now`` an RFC 3339 time.
    """
    available = sum(rs_status_count(rs, "availableReplicas") for rs in all_replica_sets)
    total = sum(rs_replicas(rs) for rs in all_replica_sets)
    status: dict[str, Any] = {
        "observedGeneration": meta(deployment).generation or 0,
        "replicas": sum(rs_status_count(rs, "replicas") for rs in all_replica_sets),
        "updatedReplicas": rs_status_count(new_rs, "replicas"),
        "readyReplicas": sum(rs_status_count(rs, "readyReplicas") for rs in all_replica_sets),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    conditions = [dict(c) for c in current.get("conditions") or []]
    if available >= deployment_replicas(deployment) - max_unavailable(deployment):
        wanted = _condition(
            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
        )
    else:
        wanted = _condition(
            "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now
        )
    status["conditions"] = set_condition(conditions, wanted)
    # Every field of DeploymentStatus is omitempty: zero counts are left out, as upstream writes them.
    return {k: v for k, v in status.items() if v}
