"""What a ReplicaSet or ReplicationController sync wants: the pure core.

Upstream ``pkg/controller/replicaset`` (``manageReplicas``,
``getPodsToDelete``, ``slowStartBatch``, ``calculateStatus``), shared by
both kinds as upstream's ReplicationManager wraps the ReplicaSet controller:

* ``plan_replicas(desired, pods, related)``: how many pods to create, which
  to delete (at most ``burst`` either way, 500 by default as upstream's
  ``BurstReplicas``); deletions follow ``deletion_order`` ranked by how many
  active pods of the owner family share each pod's node;
* ``slow_start_batches(count)``: creation batch sizes 1, 2, 4, ...;
* ``replica_status(...)``: ``replicas``, ``fullyLabeledReplicas``,
  ``readyReplicas``, ``availableReplicas`` and the ``ReplicaFailure``
  condition, as the JSON the status subresource takes.

Everything here is side-effect-free.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube.resources.core_v1 import Pod

from svclab.apimachinery.labels import ValidatedSetSelector
from svclab.kube.models import meta

from ..pods_and_services import is_pod_ready, pod_spec
from .pods import deletion_order, is_pod_active, is_pod_available

__all__ = [
    "BURST_REPLICAS",
    "REPLICA_FAILURE",
    "ReplicaPlan",
    "plan_replicas",
    "replica_status",
    "slow_start_batches",
    "status_differs",
]

# Upstream BurstReplicas: at most this many creates or deletes per sync.
BURST_REPLICAS = 500
# Upstream SlowStartInitialBatchSize.
SLOW_START_INITIAL_BATCH = 1
# The condition type a failed create or delete sets (apps.ReplicaSetReplicaFailure).
REPLICA_FAILURE = "ReplicaFailure"


@dataclass(frozen=True, slots=True)
class ReplicaPlan:
    """Pods to create (a count: they come from the template) and pods to delete, in order."""

    create: int
    delete: tuple[Pod, ...]


def plan_replicas(
    desired: int,
    pods: Sequence[Pod],
    related: Sequence[Pod] = (),
    *,
    burst: int = BURST_REPLICAS,
    now: datetime.datetime | None = None,
) -> ReplicaPlan:
    """Create or delete pods so that ``len(pods)`` reaches ``desired``.

    ``pods`` are the owner's active pods; ``related`` the active pods of every
    owner under the same parent (a Deployment's ReplicaSets), used to rank
    pods on crowded nodes first (upstream ``getPodsRankedByRelatedPodsOnSameNode``).
    """
    diff = len(pods) - desired
    if diff < 0:
        return ReplicaPlan(create=min(-diff, burst), delete=())
    if diff == 0:
        return ReplicaPlan(create=0, delete=())
    diff = min(diff, burst)
    if diff >= len(pods):
        return ReplicaPlan(create=0, delete=tuple(pods))
    on_node = Counter(pod_spec(p).nodeName or "" for p in (related or pods) if is_pod_active(p))
    ranks = [on_node[pod_spec(p).nodeName or ""] for p in pods]
    return ReplicaPlan(create=0, delete=tuple(deletion_order(pods, ranks, now=now)[:diff]))


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes for ``count`` creations: ``initial``, then doubling, capped by what remains.

    Upstream ``slowStartBatch``: a batch with a failure stops the rest, so a
    quota problem costs one failed call instead of ``count``.
    """
    sizes: list[int] = []
    remaining, size = count, min(count, initial)
    while size > 0:
        sizes.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return sizes


def replica_status(
    *,
    template_labels: Mapping[str, str] | None,
    min_ready_seconds: int,
    pods: Sequence[Pod],
    current: Mapping[str, Any] | None,
    desired: int,
    manage_error: str | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The status JSON (without ``observedGeneration``; zero counts left out) upstream's ``calculateStatus`` computes.

    ``pods`` are the owner's active pods.  A ``manage_error`` sets the
    ``ReplicaFailure`` condition (reason ``FailedCreate`` or ``FailedDelete``)
    unless one is already there; no error removes it.
    """
    template = ValidatedSetSelector(dict(template_labels or {}))
    conditions = [dict(c) for c in (current or {}).get("conditions") or []]
    has_failure = any(c.get("type") == REPLICA_FAILURE for c in conditions)
    if manage_error is not None and not has_failure:
        reason = "FailedCreate" if len(pods) < desired else "FailedDelete" if len(pods) > desired else ""
        conditions.append(
            {
                "type": REPLICA_FAILURE,
                "status": "True",
                "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reason": reason,
                "message": manage_error,
            }
        )
    elif manage_error is None and has_failure:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if template.matches(meta(p).labels)),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready_seconds, now)),
    }
    # The counts other than replicas are omitempty in the API types: zero is left out.
    status = {k: v for k, v in status.items() if v or k == "replicas"}
    if conditions:
        status["conditions"] = conditions
    return status


_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def status_differs(current: Mapping[str, Any] | None, wanted: Mapping[str, Any], *, generation: int) -> bool:
    """Whether a status write is due (upstream ``updateReplicaSetStatus``'s early return, negated)."""
    current = current or {}
    if any((current.get(k) or 0) != (wanted.get(k) or 0) for k in _COUNTS):
        return True
    if (current.get("observedGeneration") or 0) != generation:
        return True
    return (current.get("conditions") or []) != (wanted.get("conditions") or [])
